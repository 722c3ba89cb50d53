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
"""

from __future__ import annotations

import trio

__all__ = ["PER_TURN", "Pacer", "connections"]

# Connections that start or end per loop turn in a storm. A write takes several turns (its
# request, the commit, its answer), so a long turn costs it several times over: with 10,000
# streams leaving, 64 a turn let a write wait 255-318 ms, 16 a turn 128-237 ms; with 10,000
# arriving, 16 a turn 82-158 ms and 8 a turn 83-104 ms (tests/bench/storm.py).
PER_TURN = 8
_CONNECTIONS: trio.lowlevel.RunVar[Pacer] = trio.lowlevel.RunVar("mapsrv_connections")


class Pacer:
    def __init__(self, per_turn: int = PER_TURN) -> None:
        self.per_turn = per_turn
        self._lot = trio.lowlevel.ParkingLot()
        self._this_turn = 0  # tasks let on since the last turn began
        self._pacing = False
        self.parked = 0  # tasks that waited their turn, in all (for tests and metrics)

    async def turn(self) -> None:
        """Go on now or, in a storm, when this task's batch comes."""
        if not self._pacing and self._this_turn < self.per_turn:
            self._this_turn += 1
            if self._this_turn == 1:
                trio.lowlevel.spawn_system_task(self._next_turn, name="mapsrv pacer")
            return
        self.parked += 1
        if not self._pacing:
            self._pacing = True
            trio.lowlevel.spawn_system_task(self._release, name="mapsrv pacer")
        await self._lot.park()

    async def _next_turn(self) -> None:
        await trio.lowlevel.cancel_shielded_checkpoint()
        if not self._pacing:
            self._this_turn = 0

    async def _release(self) -> None:
        while True:
            await trio.lowlevel.cancel_shielded_checkpoint()  # a turn for everything else
            if not self._lot:
                break
            self._lot.unpark(count=self.per_turn)
        # no checkpoint between the last look and this: nobody parks unseen
        self._pacing = False
        self._this_turn = 0


def connections() -> Pacer:
    """This trio run's pacer of connections starting and ending."""
    try:
        return _CONNECTIONS.get()
    except LookupError:
        pacer = Pacer()
        _CONNECTIONS.set(pacer)
        return pacer
