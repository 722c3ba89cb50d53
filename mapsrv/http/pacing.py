"""Storms of arrivals and departures, paced: at most so many connections go on with their first
read, or with their end, per event loop turn.

A rolling deploy, an ingress reload or a network blip ends thousands of streams at once. Each
end costs the loop a little (hypercorn's reading of the EOF and its close, the stream's own end
through every middleware and the hub), and trio runs every task that is ready in one turn:
10,000 ends at once stood the loop still for over half a second, and a write waited a second
behind them. The same holds for arrivals, every viewer of a moved pod at once: each new
connection's first read, its request and its stream's start. A ``Pacer`` parks the tasks of a
storm and lets ``per_turn`` of them go on each turn, so that whatever else is ready (a tool
call, a write, a heartbeat) runs between batches. Outside a storm a task goes straight on.
"""

from __future__ import annotations

import trio

__all__ = ["PER_TURN", "Pacer", "arrivals", "departures"]

PER_TURN = 64  # connections that end per loop turn in a storm (tests/bench/storm.py)
_DEPARTURES: trio.lowlevel.RunVar[Pacer] = trio.lowlevel.RunVar("mapsrv_departures")
_ARRIVALS: trio.lowlevel.RunVar[Pacer] = trio.lowlevel.RunVar("mapsrv_arrivals")


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


def departures() -> Pacer:
    """This trio run's pacer of connection ends."""
    return _pacer(_DEPARTURES)


def arrivals() -> Pacer:
    """This trio run's pacer of new connections."""
    return _pacer(_ARRIVALS)


def _pacer(var: trio.lowlevel.RunVar[Pacer]) -> Pacer:
    try:
        return var.get()
    except LookupError:
        pacer = Pacer()
        var.set(pacer)
        return pacer
