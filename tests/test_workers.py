"""``mapsrv.workers``: work off the loop in bounded pools, one per kind. A full queue is refused
at once with when to retry; one kind's queue full leaves the others working; a worker process
killed mid-task fails its call cleanly and the pool goes on; a cancelled call kills its worker
process, or tells its worker thread to stop at its next check and holds the slot until it has
(a client that left frees it)."""

from __future__ import annotations

import gc
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from functools import partial

import httpx
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families
from support import start_server, wait_until
from support.leaving import leaving
from support.steps import counted_steps

from mapsrv import workers as workers_module
from mapsrv.core import Feature, MapState, pace
from mapsrv.core.apply import apply_all
from mapsrv.core.checked import CHECK_EVERY
from mapsrv.core.ops import ImportFeatures
from mapsrv.errors import Unavailable
from mapsrv.workers import (
    SWITCH_INTERVAL,
    Kind,
    WorkCancelled,
    Workers,
    _in_thread,
    checked,
    hand_over_often,
    stop_if_cancelled,
)


async def refused_at_once(run: Callable[..., Awaitable[object]], kind: Kind) -> Unavailable:
    """A call past a full queue's bound, refused at once. One let in instead would wait behind the
    held calls until the suite's backstop: the test's own deadline says what did not happen."""
    try:
        with trio.fail_after(5):
            with pytest.raises(Unavailable) as refused:
                await run(kind, time.sleep, 0)
    except trio.TooSlowError:
        raise AssertionError(
            f"a call past the full {kind} queue's bound was let in to wait, not refused"
        ) from None
    return refused.value


async def test_a_full_queue_is_refused_with_when_to_retry_and_other_kinds_still_run() -> None:
    workers = Workers(cores=1, queue_per_worker=2)
    release = threading.Event()
    image = workers.pools["image"].stats
    async with trio.open_nursery() as nursery:
        try:
            for _ in range(3):  # one running, two waiting: the queue is full
                nursery.start_soon(workers.run, "image", release.wait)
            await wait_until(lambda: image.running == 1 and image.waiting == 2)
            refused = await refused_at_once(workers.run, "image")
            assert refused.retry_after >= 1 and "busy with image work" in refused.message
            assert "1 running, 2 waiting" in refused.message and image.refused == 1
            assert await workers.run("geometry", sum, [1, 2]) == 3  # its own pool: not behind the images
        finally:
            release.set()  # a failure too lets the held calls end, or the nursery waits for them for ever
    assert image.done == 3 and image.running == image.waiting == 0


async def test_work_that_must_not_be_refused_waits_its_turn_past_a_full_queue() -> None:
    workers = Workers(cores=1, queue_per_worker=1)
    release = threading.Event()
    pool = workers.pools["snapshot"].stats
    answers: list[int] = []

    async def snapshot() -> None:  # a viewer's snapshot: one a map at a time, never refused
        answers.append(await workers.run("snapshot", sum, [1, 2], refuse=False))

    async with trio.open_nursery() as nursery:
        try:
            for _ in range(2):  # one running, one waiting: the queue is full
                nursery.start_soon(workers.run, "snapshot", release.wait)
            await wait_until(lambda: pool.running == 1 and pool.waiting == 1)
            nursery.start_soon(snapshot)
            await wait_until(lambda: pool.waiting == 2)  # in the queue, past its bound
            await refused_at_once(workers.run, "snapshot")  # a /state body is refused
        finally:
            release.set()
    assert answers == [3] and pool.done == 3 and pool.refused == 1


async def test_threads_run_off_the_loop_thread() -> None:
    workers = Workers(cores=2)
    assert await workers.run("encode", threading.get_ident) != threading.get_ident()


async def test_a_worker_process_killed_mid_task_fails_its_call_cleanly_and_the_pool_recovers() -> None:
    workers = Workers(cores=1)
    with pytest.raises(Unavailable) as failed:
        await workers.run("classify", signal.raise_signal, signal.SIGKILL)
    assert "stopped before it finished" in failed.value.message
    assert workers.pools["classify"].stats.broken == 1
    assert await workers.run("classify", sorted, [3, 1, 2]) == [1, 2, 3]
    assert await workers.run("classify", os.getpid) != os.getpid()  # a process of its own


async def test_a_cancelled_call_kills_its_worker_process() -> None:
    workers = Workers(cores=1)
    pid = await workers.run("classify", os.getpid)  # the worker, idle now, takes the next call
    stats = workers.pools["classify"].stats
    with trio.move_on_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(workers.run, "classify", time.sleep, 60)
            await wait_until(lambda: stats.running == 1)
            nursery.cancel_scope.cancel()  # the client left
    assert stats.cancelled == 1 and stats.running == 0
    await wait_until(lambda: not _alive(pid), timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie until its parent reaps it: gone all the same
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_a_cancelled_thread_call_stops_at_its_next_check_and_holds_its_slot_until_it_ends() -> None:
    workers = Workers(cores=1)
    stats = workers.pools["image"].stats
    steps, stopping, release = [0], threading.Event(), threading.Event()

    def long() -> None:
        try:
            while True:  # a step, then a check: as an image between tiles and features
                stop_if_cancelled()
                steps[0] += 1
                time.sleep(0.001)
        except WorkCancelled:
            stopping.set()
            release.wait(10)  # the thread's last words: the slot stays held meanwhile
            raise

    client, call = leaving(workers.run, "image", long)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call)
            await wait_until(lambda: stats.running == 1 and steps[0] > 0)
            client.cancel()  # the client left
            await wait_until(stopping.is_set)
            assert stats.running == 1, "the pool's slot is held until the thread ends"
            release.set()
        assert stats.running == 0 and stats.cancelled == 1 and stats.done == 0
        assert await workers.run("image", sum, [1, 2]) == 3, "the next call is served"
    stop_if_cancelled()  # outside a worker: nothing to stop


async def test_an_import_applied_in_a_worker_stops_in_core_once_its_call_is_cancelled() -> None:
    """core's long loops (a batch's new features, features to JSON) step where a worker gives
    way and stops (``mapsrv.core.pace``): a big import applied by a cancelled call ends at its
    first step, without an answer."""
    workers = Workers(cores=1)
    stats = workers.pools["encode"].stats
    features = tuple(Feature(id="", type="marker", coords=(i / 1000, 0.0)) for i in range(5000))
    began, release = threading.Event(), threading.Event()
    applied: list[object] = []

    ended: list[type[BaseException]] = []

    def apply_import() -> None:
        began.set()
        release.wait(10)  # the call is cancelled meanwhile
        try:
            applied.append(apply_all(MapState(id="m"), [ImportFeatures(features)]))
        except BaseException as exc:
            ended.append(type(exc))
            raise

    client, call = leaving(workers.run, "encode", apply_import)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call)
            await trio.to_thread.run_sync(began.wait, 10)
            client.cancel()  # the client left
            await trio.testing.wait_all_tasks_blocked()  # the call waits for its thread, told to stop
            release.set()
    assert applied == [], "the import was applied to its end after its call was cancelled"
    assert ended == [WorkCancelled], "it stopped at a step of core's"
    assert stats.cancelled == 1 and stats.running == 0


def test_paced_items_are_the_items_with_a_step_before_each_run() -> None:
    with counted_steps() as steps:
        assert list(pace.paced(range(200), every=64, seconds=math.inf)) == list(range(200))
        assert len(steps) == 4  # before items 0, 64, 128 and 192
        pace.step()
        assert len(steps) == 5
    assert list(pace.paced(range(3))) == [0, 1, 2]
    pace.step()  # nothing bound: nothing happens
    assert len(steps) == 5


def test_big_items_are_paced_by_time() -> None:
    """An item that takes long (a country's outline) is a step of its own, whatever the count."""

    def slow(n: int) -> Iterator[int]:
        for i in range(n):
            spent = time.perf_counter() + 0.003
            while time.perf_counter() < spent:  # 3 ms of work an item
                pass
            yield i

    with counted_steps() as steps:
        assert list(pace.paced(slow(4), every=64, seconds=0.002)) == [0, 1, 2, 3]
    assert len(steps) == 4


def test_checked_features_are_the_same_features_in_the_same_order() -> None:
    features = {
        f"f{i}": Feature(id=f"f{i}", type="marker", coords=(1.0, i / 100)) for i in range(3 * CHECK_EVERY)
    }
    state = checked(MapState(id="m", features=features))
    assert list(state.features) == list(features)
    assert list(state.features.values()) == list(features.values())
    assert list(state.features.items()) == list(features.items())
    assert len(state.features) == len(features) and state.features["f7"] is features["f7"]
    assert dict(state.features) == features and checked(state) is state
    stop_if_cancelled()  # outside a worker: going through them never stops


async def test_a_writer_going_through_checked_features_stops_once_its_call_is_cancelled() -> None:
    """A writer (an export, a ``read`` as GeoJSON) needs no check of its own: the features it goes
    through stop it within ``CHECK_EVERY`` of its call's cancelling (a client that left)."""
    workers = Workers(cores=1)
    stats = workers.pools["encode"].stats
    count = 40 * CHECK_EVERY
    state = checked(
        MapState(
            id="m", features={str(i): Feature(id=str(i), type="marker", coords=(0, 0)) for i in range(count)}
        )
    )
    seen, at_cancel = [0], [0]

    def write() -> int:
        for _ in state.features.values():
            seen[0] += 1
            time.sleep(0.0005)
        return seen[0]

    client, call = leaving(workers.run, "encode", write)

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call)
            await wait_until(lambda: seen[0] > CHECK_EVERY)
            at_cancel[0] = seen[0]
            client.cancel()
        await wait_until(lambda: stats.running == 0)
    assert stats.cancelled == 1 and stats.done == 0
    assert seen[0] <= at_cancel[0] + 2 * CHECK_EVERY, f"went on to {seen[0]} of {count} features"


async def test_a_call_cancelled_before_its_thread_begins_never_runs_and_does_not_wait() -> None:
    """Cancelled before ``to_thread`` started its thread (a server shut down as a call came in:
    ``to_thread`` checks for cancellation first), the call must not wait for the end of a thread
    that never runs: that hung shutdowns for ever."""
    ran: list[int] = []
    with trio.fail_after(10):
        with trio.CancelScope() as gone:
            gone.cancel()
            await _in_thread(ran.append, (1,))
        assert gone.cancelled_caught and ran == []


async def test_the_server_hands_the_interpreter_over_every_millisecond(nursery: trio.Nursery) -> None:
    """A busy worker thread must leave the loop the interpreter sooner than Python's 5 ms: the
    fan-out gives it up at every send (docs/benchmarks.md, issue 60)."""
    sys.setswitchinterval(0.005)
    try:
        await start_server(nursery)
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL) and SWITCH_INTERVAL <= 0.001
    finally:
        sys.setswitchinterval(SWITCH_INTERVAL)


def _spin(seconds: float) -> tuple[float, float]:
    """The loop kept busy without waiting for I/O (as a write's sends to 1,000 watchers do)."""
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        pass
    return start, time.perf_counter()


async def _steps_while_busy(
    busy: float, background: workers_module.Background | None = None
) -> tuple[list[float], tuple[float, float]]:
    """A worker thread stepping (``stop_if_cancelled`` between tiny steps) while the loop, once
    the worker is under way, spins for ``busy`` seconds: the worker's step times and the spin's."""
    steps: list[float] = []
    done = threading.Event()

    def work() -> None:
        while not done.is_set():
            stop_if_cancelled()
            steps.append(time.perf_counter())

    spin = (0.0, 0.0)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_in_thread, work, (), background)
            await wait_until(lambda: len(steps) > 10)
            spin = _spin(busy)
            await wait_until(lambda: steps[-1] > spin[1])  # the worker goes on once the loop waits
            done.set()
    return steps, spin


async def test_a_worker_thread_gives_way_while_the_loop_is_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    """While the loop runs without waiting for I/O, a worker in pure Python waits at its next
    step: the loop's burst of sends has the interpreter to itself (issue 60). Without the
    waiting, the worker takes the interpreter every switch interval and steps thousands of times."""
    monkeypatch.setattr(workers_module, "GIVE_WAY", 5.0)  # longer than the spin: it waits it out
    steps, (start, end) = await _steps_while_busy(0.1)
    during = [at for at in steps if start < at < end]
    assert len(during) <= 1, f"the worker stepped {len(during)} times while the loop was busy"


async def test_a_loop_busy_for_long_does_not_starve_its_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop busy for longer than ``GIVE_WAY`` lets a waiting worker run (for as long) rather than
    hold it for ever: a loaded server's exports still end."""
    monkeypatch.setattr(workers_module, "GIVE_WAY", 0.005)
    steps, (start, end) = await _steps_while_busy(0.5)
    during = [at for at in steps if start < at < end]
    assert len(during) > 1, "the worker never ran while the loop was busy"


async def test_background_work_takes_a_step_now_and_then_while_the_loop_is_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process's own work for later (warming its places) waits at each step while the loop
    is busy, ``BACKGROUND_WAIT`` at most, and then takes one step, not a run of its own: a new
    process's viewers go first (issue 74). A caller's work, as busy a loop, runs for as long as
    it waited."""
    monkeypatch.setattr(workers_module, "GIVE_WAY", 0.005)
    monkeypatch.setattr(workers_module, "BACKGROUND_WAIT", 0.1)
    steps, (start, end) = await _steps_while_busy(0.5, workers_module.Background())
    during = [at for at in steps if start < at < end]
    assert 1 <= len(during) <= 7, f"background work stepped {len(during)} times in 0.5 s of a busy loop"
    steps, (start, end) = await _steps_while_busy(0.5)
    assert len([at for at in steps if start < at < end]) > 50, "a caller's work runs its share"


async def test_a_caller_needing_what_background_work_makes_lets_it_run() -> None:
    """A caller's call of a kind the background work runs in (a question about places while
    they warm) makes it run at a caller's pace; one of another kind does not."""
    pools = Workers(cores=2)
    background = workers_module.Background(frozenset({"index"}))
    begun, release = threading.Event(), threading.Event()

    def warming() -> None:
        begun.set()
        release.wait(10)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(pools.run, "index", warming, background=background))
        await trio.to_thread.run_sync(begun.wait, 10)
        await pools.run("encode", sum, [1])
        assert not background.needed, "another kind's call does not need it"
        await pools.run("index", sum, [1])
        assert background.needed, "a caller of its kind needs it now"
        release.set()
    assert not workers_module._background, "ended, it is no longer running"


async def test_an_idle_pool_leaves_the_loop_uninstrumented() -> None:
    """The loop tells its busy spells only while a thread worker runs: the instrument is gone after."""
    assert await Workers(cores=1).run("encode", sum, [1, 2]) == 3
    loop = workers_module._loop_first.get()
    assert loop.workers == 0 and loop.waiting.is_set()
    with pytest.raises(KeyError):
        trio.lowlevel.remove_instrument(loop)


async def test_a_collector_pass_of_a_worker_waits_for_the_busy_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A collector pass holds the interpreter for its whole length, so one that a worker's
    allocations start while the loop is busy waits (``hand_over_often`` installs the wait) until
    the loop waits for I/O: without it, an import's young-object passes stood the loop still for
    50-100 ms at a time (docs/benchmarks.md, issue 60)."""
    monkeypatch.setattr(workers_module, "GIVE_WAY", 5.0)
    hand_over_often()
    started: list[float] = []  # when a worker's pass began, after every callback before this one
    worker = threading.Event()  # set in the worker thread's call: it is ready to collect
    go = threading.Event()

    def noted(phase: str, info: dict[str, object]) -> None:
        if phase == "start" and threading.current_thread() is not threading.main_thread():
            started.append(time.perf_counter())

    def collect() -> None:
        worker.set()
        go.wait()
        gc.collect()

    gc.callbacks.append(noted)
    try:
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_in_thread, collect, ())
                await wait_until(worker.is_set)
                go.set()
                _, spun = _spin(0.2)  # the worker asks for its pass meanwhile
    finally:
        gc.callbacks.remove(noted)
    assert started, "the worker's pass never began"
    assert started[0] >= spun, f"the pass began {1000 * (spun - started[0]):.0f} ms before the loop was free"


async def test_the_pools_show_in_the_metrics_as_they_run_and_refuse(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    pool = workers_module.workers().pools["image"]
    release = threading.Event()
    before = pool.stats.refused

    async def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        async with httpx.AsyncClient() as http:
            text = (await http.get(server.url + "metrics")).text
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    async with trio.open_nursery() as calls:
        try:
            for _ in range(pool.size + pool.queue):  # every worker busy, the queue full
                calls.start_soon(workers_module.run, "image", release.wait)
            await wait_until(lambda: pool.stats.running == pool.size and pool.stats.waiting == pool.queue)
            await refused_at_once(workers_module.run, "image")
            busy = await scrape()
        finally:
            release.set()
    image = (("kind", "image"),)
    assert busy[("mapsrv_work_running", image)] == pool.size
    assert busy[("mapsrv_work_waiting", image)] == pool.queue
    assert busy[("mapsrv_work_calls_total", (*image, ("outcome", "refused")))] == before + 1
    after = await scrape()
    assert after[("mapsrv_work_running", image)] == after[("mapsrv_work_waiting", image)] == 0
    assert after[("mapsrv_work_calls_total", (*image, ("outcome", "done")))] >= pool.size + pool.queue
    assert after[("mapsrv_work_seconds_total", image)] > 0
