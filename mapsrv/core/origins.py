"""Sources from elsewhere that are down: a memory of origins (scheme, host, port) that failed, so
that a tile server or a layer's host that refuses, fails or hangs costs one wait, not one per call
(issue 60: never wait on what is down).

The state of each origin, sans-IO (the caller passes nothing but the origin; the clocks are
given): an origin is up until a call to it fails (no connection, no answer in time, a 5xx), then
down for a backoff that starts at ``first`` seconds and doubles with each failed probe up to
``most``, each spread by a random tenth so that many servers' probes do not meet. When the
backoff is over, one call is let through (the probe, half-open): the others are still answered
"down" until it reports; a success forgets the origin, a failure doubles the backoff. A probe that
never reports (its caller was cancelled) is given up after ``lease`` seconds and another let
through. Failures of calls that started before the origin was marked (a burst of tiles) do not
double the backoff. Only down origins are held, at most ``size`` of them (the least recently
marked forgotten first), so an agent naming random hosts cannot grow the memory.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["FIRST_BACKOFF", "MAX_ORIGINS", "MOST_BACKOFF", "Down", "OriginStatistics", "Origins", "origin_of"]

FIRST_BACKOFF = 5.0  # seconds an origin is not tried after its first failure
MOST_BACKOFF = 300.0  # the backoff doubles up to this
PROBE_LEASE = 30.0  # seconds a probe that never reported holds the others back
MAX_ORIGINS = 1024  # down origins remembered
SPREAD = 0.1  # each backoff is spread by up to this share either way


def origin_of(url: str) -> tuple[str, str]:
    """The origin of ``url`` as a key (``https://tiles.example.org:443``) and its host as the
    agent or the operator wrote it (``tiles.example.org``), for messages: never an address it
    resolved to. A tile template's ``{s}`` stays as written."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    try:
        port = parts.port
    except ValueError:  # not a number: the URL is refused where it is used
        port = None
    name = f"[{host}]" if ":" in host else host
    return f"{scheme}://{name}:{port or (443 if scheme == 'https' else 80)}", name


@dataclass(frozen=True)
class Down:
    """What a caller is told of an origin that is down: its host as given, why, since when and
    when it is tried again (seconds since 1970, UTC)."""

    name: str
    reason: str
    since: float
    retry: float
    probing: bool = False  # a probe is out now

    @property
    def retry_after(self) -> int:
        """Whole seconds until the retry, at least 1 (for ``Retry-After``)."""
        return max(1, int(self.retry - time.time() + 0.999))

    def retry_at(self) -> str:
        """``12:03:10 UTC``."""
        return _clock(self.retry)

    def describe(self) -> str:
        """``unreachable since 12:01:07 UTC (ConnectError), retrying after 12:03:10 UTC``."""
        then = "being retried now" if self.probing else f"retrying after {self.retry_at()}"
        return f"unreachable since {_clock(self.since)} ({self.reason}), {then}"


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(at))


@dataclass
class OriginStatistics:
    down: int = 0  # origins held as down now
    marked: int = 0  # times an origin was marked down
    skipped: int = 0  # calls answered "down" at once, with no connection tried
    probes: int = 0  # calls let through to an origin that was down
    forgotten: int = 0  # down origins dropped for room (past ``size``)


@dataclass
class _Entry:
    name: str
    reason: str
    since: float  # wall clock
    failures: int = 0
    until: float = 0.0  # monotonic: the backoff's end
    retry: float = 0.0  # wall clock: the same moment
    probe_until: float = float("-inf")  # monotonic: a probe is out until then


class Origins:
    """The down origins of one process (``SourcePolicy.origins``), shared by the guarded fetcher
    and the map images' basemap."""

    def __init__(
        self,
        first: float = FIRST_BACKOFF,
        most: float = MOST_BACKOFF,
        size: int = MAX_ORIGINS,
        *,
        lease: float = PROBE_LEASE,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < first <= most:
            raise ValueError(f"backoff must be 0 < first <= most, got {first} and {most}")
        self.first, self.most, self.size, self.lease = first, most, size, lease
        self._clock, self._wall = clock, wall
        self._down: OrderedDict[str, _Entry] = OrderedDict()
        self._stats = OriginStatistics()

    def __len__(self) -> int:
        return len(self._down)

    def __contains__(self, origin: str) -> bool:
        return origin in self._down

    def statistics(self) -> OriginStatistics:
        self._stats.down = len(self._down)
        return self._stats

    def peek(self, origin: str) -> Down | None:
        """The origin's ``Down`` if a call to it now would be answered "down", without taking
        the probe."""
        entry = self._down.get(origin)
        if entry is None or self._due(entry):
            return None
        return self._told(entry)

    def check(self, origin: str) -> Down | None:
        """None if the origin may be called now: it is up, or its backoff is over and this call
        is the probe (``origin in self`` tells). Otherwise its ``Down``, counted as skipped."""
        entry = self._down.get(origin)
        if entry is None:
            return None
        if self._due(entry):
            entry.probe_until = self._clock() + self.lease
            self._stats.probes += 1
            return None
        self._stats.skipped += 1
        return self._told(entry)

    def failed(self, origin: str, name: str, reason: str) -> Down:
        """A call to the origin found it unreachable (``reason``: what happened, in words that
        name no address): marked down, or its backoff doubled if this was the probe."""
        now = self._clock()
        entry = self._down.get(origin)
        if entry is None:
            entry = self._down[origin] = _Entry(name, reason, self._wall())
            self._stats.marked += 1
            while len(self._down) > self.size:
                self._down.popitem(last=False)
                self._stats.forgotten += 1
        elif entry.probe_until == float("-inf") and now < entry.until:
            return self._told(entry)  # a call from before it was marked: the backoff stands
        entry.failures += 1
        entry.reason = reason
        backoff = min(self.most, self.first * 2 ** min(entry.failures - 1, 32))
        backoff = min(self.most, backoff * random.uniform(1 - SPREAD, 1 + SPREAD))
        entry.until, entry.retry = now + backoff, self._wall() + backoff
        entry.probe_until = float("-inf")
        self._down.move_to_end(origin)
        return self._told(entry)

    def succeeded(self, origin: str) -> None:
        """The origin answered: up again."""
        self._down.pop(origin, None)

    def _due(self, entry: _Entry) -> bool:
        now = self._clock()
        return now >= entry.until and now >= entry.probe_until

    def _told(self, entry: _Entry) -> Down:
        probing = entry.probe_until > self._clock()
        return Down(entry.name, entry.reason, entry.since, entry.retry, probing)
