"""``mapsrv.workers`` when a call's client leaves: a pass over a big map stops soon after, and a
call that left while it waited in the queue gives its place back."""

from __future__ import annotations

import threading

import trio
import trio.testing
from support import wait_until
from support.leaving import leaving

from mapsrv.core import Feature, MapState
from mapsrv.errors import Unavailable
from mapsrv.workers import BIG_MAP, CHECK_EVERY, Workers, over_map

FEATURES = 20_000


async def test_a_pass_over_a_big_map_stops_soon_after_its_caller_is_cancelled() -> None:
    """``over_map`` hands the pass the map's features checked: once its caller is cancelled (the
    client left), the pass stops within ``CHECK_EVERY`` features, not after the whole map."""
    features = {str(i): Feature(id=str(i), type="marker", coords=(0, i / 1000)) for i in range(FEATURES)}
    state = MapState(id="m", features=features)
    assert FEATURES >= BIG_MAP, "a map this big is gone through in a worker"
    seen = [0]
    began, release = threading.Event(), threading.Event()

    def count(state: MapState) -> int:  # a pass that needs no check of its own, as a box search
        for _ in state.features.values():
            seen[0] += 1
            if seen[0] == 1:
                began.set()
                release.wait(10)  # its caller is cancelled meanwhile
        return seen[0]

    caller, call = leaving(over_map, count, state)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call)
            assert await trio.to_thread.run_sync(began.wait, 10), "the pass never began"
            caller.cancel()
            await trio.testing.wait_all_tasks_blocked()  # the call waits for its thread, told to stop
            release.set()
    assert caller.cancelled_caught
    assert seen[0] <= CHECK_EVERY, (
        f"the pass went through {seen[0]:,} of {FEATURES:,} features after its caller left"
    )


async def test_a_call_cancelled_while_queued_gives_its_place_back() -> None:
    """A call whose client left while it waited for a worker leaves the queue: the queue admits as
    many calls after as before, not one fewer for good."""
    workers = Workers(cores=1, queue_per_worker=2)  # one running and two waiting: three places
    stats = workers.pools["image"].stats
    release = threading.Event()
    refused: list[Unavailable] = []

    async def hold() -> None:
        try:
            await workers.run("image", release.wait)
        except Unavailable as exc:
            refused.append(exc)

    async def admitted(nursery: trio.Nursery, calls: int) -> int:
        """How many of ``calls`` more calls the queue lets in (each held, once in, until the end)."""
        before = len(refused)
        for _ in range(calls):
            nursery.start_soon(hold)
        await trio.testing.wait_all_tasks_blocked()  # each refused at once, or waiting in the queue
        return calls - (len(refused) - before)

    client, leaves = leaving(workers.run, "image", release.wait)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            try:
                nursery.start_soon(hold)
                await wait_until(lambda: stats.running == 1)
                nursery.start_soon(leaves)
                await wait_until(lambda: stats.waiting == 1)
                before = await admitted(nursery, 2)  # one waits beside the leaving call, one refused
                client.cancel()  # the client left while its call waited
                await wait_until(lambda: stats.cancelled == 1)
                after = await admitted(nursery, 2)
            finally:
                release.set()
    assert before == 1 and client.cancelled_caught
    assert after == before, f"the queue let in {after} call(s) after a queued call left, {before} before"
