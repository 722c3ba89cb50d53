"""Storms of connections, paced: at most so many connections go on with their first request, or
with their end, per event loop turn.

A rolling deploy, an ingress reload or a network blip starts or ends thousands of streams at
once, and trio runs every task that is ready in one turn. 10,000 ends at once (hypercorn's
reading of the EOF and its close, the stream's end through every middleware and the hub) stood
the loop still for over half a second and a write waited a second behind them. Arrivals bunch
the same way: trio accepts one connection per turn, but a connection accepted before its request
came in waits for it, and a load balancer or a crowd of browsers sends thousands of requests in
one burst; they all woke in one turn (stalls of 100-300 ms). A ``Pacer`` parks the tasks of a
storm and lets ``per_turn`` of them go on each turn, so that whatever else is ready (a tool call,
a write, a heartbeat) runs between batches. Outside a storm a task goes straight on.

What ends a stream from code that cannot wait (the fan-out ending a viewer whose socket failed,
a shutdown or a drain ending thousands) takes the same turns: ``soon`` calls it now, or in a
later turn of the storm. Waking 10,000 streams' tasks in one turn (by cancelling each one's
scope) stood the loop still for 191-241 ms; woken a few per turn, each runs its end (the hub,
presence, hypercorn's close) between everyone else's work.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import trio

__all__ = ["PER_TURN", "READY_PER_TURN", "Pacer", "cap_ready_sockets", "connections"]

# Connections that start or end per loop turn in a storm. A write takes several turns (its
# request, the commit, its answer), so a long turn costs it several times over: with 10,000
# streams leaving, 64 a turn let a write wait 255-318 ms, 16 a turn 128-237 ms; with 10,000
# arriving, 16 a turn 82-158 ms and 8 a turn 83-104 ms (tests/bench/storm.py).
PER_TURN = 8
_CONNECTIONS: trio.lowlevel.RunVar[Pacer] = trio.lowlevel.RunVar("mapsrv_connections")

log = logging.getLogger(__name__)


class Pacer:
    def __init__(self, per_turn: int = PER_TURN) -> None:
        self.per_turn = per_turn
        self._lot = trio.lowlevel.ParkingLot()
        self._this_turn = 0  # tasks let on since the last turn began
        self._pacing = False
        self._calls: deque[Callable[[], object]] = deque()  # ``soon``'s, waiting their turn
        self.parked = 0  # tasks and calls that waited their turn, in all (for tests and metrics)

    async def turn(self) -> None:
        """Go on now or, in a storm, when this task's batch comes."""
        if self._now():
            return
        await self._lot.park()

    def soon(self, call: Callable[[], object]) -> None:
        """Call ``call`` (which must not raise) now or, in a storm, in a later turn, with the
        tasks that wait theirs (calls first); never waits."""
        if self._now():
            call()
        else:
            self._calls.append(call)

    def _now(self) -> bool:
        """Whether this turn has room for one more; else a storm is on and the caller waits."""
        if not self._pacing and self._this_turn < self.per_turn:
            self._this_turn += 1
            if self._this_turn == 1:
                trio.lowlevel.spawn_system_task(self._next_turn, name="mapsrv pacer")
            return True
        self.parked += 1
        if not self._pacing:
            self._pacing = True
            trio.lowlevel.spawn_system_task(self._release, name="mapsrv pacer")
        return False

    async def _next_turn(self) -> None:
        await trio.lowlevel.cancel_shielded_checkpoint()
        if not self._pacing:
            self._this_turn = 0

    async def _release(self) -> None:
        while True:
            await trio.lowlevel.cancel_shielded_checkpoint()  # a turn for everything else
            if not self._lot and not self._calls:
                break
            room = self.per_turn
            while self._calls and room:
                room -= 1
                try:
                    self._calls.popleft()()
                except Exception:  # this system task must go on (an error here ends the process)
                    log.exception("a paced call failed")
            if room:
                self._lot.unpark(count=room)
        # no checkpoint between the last look and this: nobody parks unseen
        self._pacing = False
        self._this_turn = 0


# Sockets trio wakes the tasks of per loop turn. Trio asks epoll for every ready socket at once;
# 10,000 peers closing within a fraction of a second then wake thousands of tasks in one turn,
# each reading its EOF before any Pacer can hold it (stalls of 100-124 ms, writes waiting up to
# 287 ms). Capped, the rest stay ready in the kernel (trio arms each socket EPOLLONESHOT: one
# not handed back is still armed) and come in the next turns, oldest first.
READY_PER_TURN = 256


def cap_ready_sockets(limit: int = READY_PER_TURN) -> bool:
    """Wake at most ``limit`` tasks waiting on sockets per turn of this trio run; False where the
    run's I/O is not epoll (trio's private ``EpollIOManager``, guarded by tests/http/test_pacing.py)."""
    try:
        from trio._core._io_epoll import EpollIOManager
        from trio._core._run import GLOBAL_RUN_CONTEXT
    except ImportError:
        return False
    io = GLOBAL_RUN_CONTEXT.runner.io_manager
    if not (hasattr(io, "_epoll") and hasattr(io, "_registered")):  # what get_events reads
        return False
    if type(io) is EpollIOManager:
        io.__class__ = _capped(EpollIOManager)
    capped: Any = type(io)
    if not isinstance(io, EpollIOManager) or not hasattr(capped, "ready_per_turn"):
        return False
    capped.ready_per_turn = limit
    return True


_CAPPED: dict[type, type] = {}


def _capped(base: type) -> type:
    """``base`` (trio's epoll manager, a slotted class) asking epoll for at most
    ``ready_per_turn`` events; same slots, so a running manager can take it as its class."""
    if base not in _CAPPED:

        def get_events(self: Any, timeout: float) -> Any:
            return self._epoll.poll(timeout, max(1, min(len(self._registered), type(self).ready_per_turn)))

        _CAPPED[base] = type(
            "CappedEpollIOManager",
            (base,),
            {"__slots__": (), "ready_per_turn": READY_PER_TURN, "get_events": get_events},
        )
    return _CAPPED[base]


def connections() -> Pacer:
    """This trio run's pacer of connections starting and ending."""
    try:
        return _CONNECTIONS.get()
    except LookupError:
        pacer = Pacer()
        _CONNECTIONS.set(pacer)
        return pacer
