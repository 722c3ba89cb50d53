"""``mapsrv.http.pacing``: in a storm of connection ends, a few dozen go on per loop turn and
whatever else is ready runs between the batches; outside a storm nothing waits."""

from __future__ import annotations

import socket
from collections import Counter

import trio
import trio.testing
from support import wait_until

from mapsrv.http.hypercorn import ACCEPT_PER_TURN, accept_in_batches
from mapsrv.http.pacing import PER_TURN, READY_PER_TURN, Pacer, cap_ready_sockets, connections


async def test_a_few_ends_go_straight_on() -> None:
    pacer = Pacer(per_turn=8)
    done: list[int] = []

    async def end(n: int) -> None:
        await pacer.turn()
        done.append(n)

    async with trio.open_nursery() as nursery:
        for n in range(8):
            nursery.start_soon(end, n)
    assert sorted(done) == list(range(8))
    assert pacer.parked == 0


async def test_a_storm_goes_on_a_batch_per_turn_with_other_work_between() -> None:
    pacer = Pacer(per_turn=10)
    order: list[str] = []

    async def end(n: int) -> None:
        await pacer.turn()
        order.append("end")

    async def other_work() -> None:
        # something else that is ready every turn: a write, a heartbeat
        for _ in range(30):
            order.append("other")
            await trio.lowlevel.cancel_shielded_checkpoint()

    async with trio.open_nursery() as nursery:
        for n in range(100):
            nursery.start_soon(end, n)
        nursery.start_soon(other_work)
    assert order.count("end") == 100
    assert pacer.parked == 90, "the first batch went straight on, the other 90 waited their turn"
    runs: list[int] = []  # lengths of the runs of ends with no other work between them
    current = 0
    for item in order:
        if item == "end":
            current += 1
        elif current:
            runs.append(current)
            current = 0
    runs += [current] if current else []
    # trio runs a turn's tasks in random order, so two batches may fall between two turns of the
    # other work, never more
    assert max(runs) <= 20, f"at most a batch of ends per turn of other work: {runs}"
    assert len(runs) >= 5, runs


async def test_after_a_storm_ends_go_straight_on_again() -> None:
    pacer = Pacer(per_turn=4)

    async def end() -> None:
        await pacer.turn()

    async with trio.open_nursery() as nursery:
        for _ in range(20):
            nursery.start_soon(end)
    parked = pacer.parked
    assert parked == 16
    await trio.testing.wait_all_tasks_blocked()
    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(end)
    assert pacer.parked == parked, "a quiet spell: the next few went straight on"


async def test_an_end_cancelled_while_it_waits_leaves_the_others_to_go_on() -> None:
    pacer = Pacer(per_turn=2)
    done = 0

    async def end() -> None:
        nonlocal done
        await pacer.turn()
        done += 1

    async with trio.open_nursery() as nursery:
        with trio.CancelScope() as cancelled:
            async with trio.open_nursery() as doomed:
                for _ in range(5):
                    doomed.start_soon(end)
                cancelled.cancel()
        for _ in range(6):
            nursery.start_soon(end)
    assert done >= 6


class Turns:
    """Counts the loop's turns: a task that checkpoints and counts, forever."""

    def __init__(self) -> None:
        self.now = 0

    async def count(self) -> None:
        while True:
            await trio.lowlevel.checkpoint()
            self.now += 1


async def test_sockets_ready_at_once_wake_their_tasks_a_capped_number_a_turn() -> None:
    """600 peers closing at once: with the cap, their readers wake at most 100 a turn across
    several turns, and every one wakes; trio's epoll manager (private) takes the cap."""
    assert cap_ready_sockets(100), "trio's I/O manager is no longer the EpollIOManager mapsrv caps"
    try:
        pairs = [socket.socketpair() for _ in range(600)]
        woke: list[int] = []
        turns = Turns()

        async def read(sock: socket.socket) -> None:
            await trio.lowlevel.wait_readable(sock)
            woke.append(turns.now)

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(turns.count)
                for mine, _ in pairs:
                    nursery.start_soon(read, mine)
                await wait_until(lambda: turns.now > 10)  # every reader is waiting
                for _, peer in pairs:
                    peer.shutdown(socket.SHUT_RDWR)
                    peer.close()
                await wait_until(lambda: len(woke) == len(pairs))
                nursery.cancel_scope.cancel()
        per_turn = Counter(woke)
        assert len(per_turn) >= 3 and max(per_turn.values()) <= 2 * 100, per_turn
    finally:
        assert cap_ready_sockets(READY_PER_TURN)
        for mine, _ in pairs:
            mine.close()


async def test_a_burst_of_connections_is_accepted_in_batches(nursery: trio.Nursery) -> None:
    """300 connections already waiting in the kernel's queue: hypercorn's serve loop (wrapped
    by ``accept_in_batches``) starts their handlers 64 a turn, not one a turn."""
    accept_in_batches()
    [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(300)]  # queued, not accepted
    started: list[int] = []
    turns = Turns()

    async def handle(stream: trio.SocketStream) -> None:
        started.append(turns.now)
        await stream.aclose()

    try:
        nursery.start_soon(turns.count)
        nursery.start_soon(trio.serve_listeners, handle, [listener])
        await wait_until(lambda: len(started) == len(clients))
        turns = max(started) - min(started) + 1
        assert turns <= 2 * len(clients) // ACCEPT_PER_TURN, f"{len(clients)} accepted over {turns} turns"
    finally:
        for client in clients:
            client.close()


async def test_the_default_pacer_lets_per_turn_go_on_a_turn() -> None:
    """``connections()``, what hypercorn's connections use: PER_TURN starts or ends a turn in a
    storm (measured in tests/bench/storm.py: docs/benchmarks.md), the first batch at once."""
    assert PER_TURN == 8
    pacer = connections()
    assert pacer is connections() and pacer.per_turn == PER_TURN
    order: list[str] = []

    async def ticker() -> None:
        for _ in range(20):
            order.append("tick")
            await trio.lowlevel.cancel_shielded_checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        await trio.lowlevel.checkpoint()
        for _ in range(5 * PER_TURN + 3):
            pacer.soon(lambda: order.append("end"))
    assert order.count("end") == 5 * PER_TURN + 3
    assert pacer.parked == 4 * PER_TURN + 3, "one batch at once, the rest waited their turn"
    runs = [len(run) for run in "".join("e" if i == "end" else " " for i in order).split()]
    # each turn's calls run together in the pacer's task: a run is one turn's batch, or two when
    # trio ran the ticker first in one turn and last in the next
    assert all(run % PER_TURN == 0 for run in runs[:-1]) and max(runs) <= 2 * PER_TURN, runs
    assert runs[-1] % PER_TURN in (0, 3), runs


async def test_calls_made_in_a_storm_go_on_in_later_turns() -> None:
    """``soon`` calls at once while the turn has room, the rest in the next turns, never lost."""
    pacer = Pacer(per_turn=4)
    went: list[str] = []
    for _ in range(6):
        pacer.soon(lambda: went.append("call"))
    assert len(went) == 4 and pacer.parked == 2
    await trio.testing.wait_all_tasks_blocked()
    assert len(went) == 6
    pacer.soon(lambda: went.append("call"))
    assert len(went) == 7, "after the storm, a call goes straight on"
