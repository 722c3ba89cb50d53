"""Rate limits as a pure algorithm: GCRA (the generic cell rate algorithm, a token bucket kept as
one number per client: the theoretical arrival time of its next request).

A limit of ``per_second`` with ``burst`` lets a client make ``burst`` requests at once and then one
every ``1 / per_second`` seconds. Only the time at which the client's bucket is full again is
stored, so a check is one read and one write of one number: in process memory here
(``LocalLimiter``), or in Redis by one Lua script (``mapsrv.store.limiter``) running this same
rule, so that every process shares each client's budget.

Nothing here does I/O or reads a clock: the caller passes ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

__all__ = ["Decision", "LocalLimiter", "Rate", "gcra"]


@dataclass(frozen=True)
class Rate:
    per_second: float  # sustained requests per second; 0 turns the limit off
    burst: int  # requests allowed at once from a full bucket

    def __post_init__(self) -> None:
        if self.per_second < 0:
            raise ValueError(f"per_second must be >= 0, got {self.per_second}")
        if self.burst < 1:
            raise ValueError(f"burst must be >= 1, got {self.burst}")

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    @cached_property  # read on every request; a rate never changes
    def interval(self) -> float:
        """Seconds between requests at the sustained rate."""
        return 1 / self.per_second

    @cached_property
    def window(self) -> float:
        """Seconds a full bucket's worth of requests stays on the books."""
        return self.interval * self.burst


# Worked in differences from ``now`` (clock values are large and their sums round); a microsecond
# of slack keeps a burst at exactly ``burst`` requests whatever the rounding. The slack must stay
# well under one interval, or a request that early would pass too: hence the most a rate can be
# configured to, ``config.MAX_RATE`` (an interval of 100 us, a hundred slacks; Redis keeps times to
# the microsecond).
_SLACK = 1e-6


class Decision(NamedTuple):  # made on every request: a tuple is made in a third of a frozen dataclass's time
    allowed: bool
    tat: float  # the theoretical arrival time to store (unchanged when refused)
    retry_after: float  # seconds until this request would be allowed (0 when it was)


def gcra(tat: float | None, now: float, rate: Rate, cost: int = 1) -> Decision:
    """Whether a request costing ``cost`` is allowed at ``now`` for a client whose stored
    theoretical arrival time is ``tat`` (None: never seen, or forgotten once it was past)."""
    if not rate.enabled:
        return Decision(True, now, 0.0)
    backlog = 0.0 if tat is None or tat < now else tat - now  # seconds of budget already spent
    wait = backlog + cost * rate.interval - rate.window
    if wait > _SLACK:
        return Decision(False, now + backlog, wait)
    return Decision(True, now + backlog + cost * rate.interval, 0.0)


class LocalLimiter:
    """GCRA for one process: a dict of theoretical arrival times, pruned as they pass."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._tats: dict[str, float] = {}
        self._max_entries = max_entries

    def acquire(self, key: str, rate: Rate, now: float, cost: int = 1) -> Decision:
        decision = gcra(self._tats.get(key), now, rate, cost)
        if decision.allowed and rate.enabled:
            self._tats[key] = decision.tat
            if len(self._tats) > self._max_entries:
                self.prune(now)
        return decision

    def prune(self, now: float) -> None:
        """Forget every client whose bucket is full again (its entry says nothing any more)."""
        self._tats = {k: t for k, t in self._tats.items() if t > now}

    def __len__(self) -> int:
        return len(self._tats)
