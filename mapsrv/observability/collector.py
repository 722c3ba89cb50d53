"""The cyclic garbage collector, kept from stalling the server, and its pauses measured.

A full pass of the collector visits every object it tracks and stops the whole process while it
does: with 10,000 open streams (about 100 tracked objects each, hypercorn's and trio's) one pass
took 590-620 ms here, and every stream waited for it. Almost all of those objects live as long as
their stream, and a stream's objects are freed by reference counting when it ends (hypercorn's
per-connection cycle is broken in ``mapsrv.http.hypercorn``). So after each full pass the
survivors are frozen (``gc.freeze``): the next passes visit only what was made since, and stay
short however many streams are open. The same after each middle pass (generation 1): otherwise
the objects of thousands of streams opening at once reach the oldest generation together, and
the one full pass that finds them takes as long as if nothing were frozen. Cyclic garbage made
later by frozen objects is not found any more; the connection cycle was the one that mattered
(a test keeps it broken), and the metrics show the frozen count.

The thresholds: the defaults (a young pass every 700 net allocations) made a server with 1,000
open streams spend 3.6 s of CPU in the collector during a 40-event fan-out, with full passes of
up to 200 ms. With 10,000 (and the start-up objects frozen): 0.85 s, the longest pause 60 ms.
50,000 saved a little more CPU but let the soak's RSS grow 6.9 % instead of 3.1 %. A middle pass
every 10 young ones visited up to ~100,000 objects: 108-119 ms in the soak (the event loop watch
showed them as the only stalls over 100 ms while the writes ran); every 5, half as many.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = ["GC_THRESHOLDS", "PROCESS", "Collector", "CollectorStatistics", "for_one_job"]

GC_THRESHOLDS = (10_000, 5, 10)


def for_one_job() -> None:
    """A process that lives for one job (a file's reader, a basemap's build): the server's
    thresholds, what it has loaded frozen, and what every pass leaves frozen too, so that the
    job's own objects (a read's features, an extract's drawn ways) are visited once, not by every
    later pass. Python's defaults made a read 1.3x as long, a basemap's build ~1.2x. A cycle frozen
    while in use is never collected: the job ends within its memory limit."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)


def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop":
        gc.freeze()


@dataclass(frozen=True)
class CollectorStatistics:
    passes: tuple[int, int, int]  # collections of each generation since start
    seconds: tuple[float, float, float]  # time spent in them, per generation
    longest: tuple[float, float, float]  # the longest pause of each generation, seconds
    frozen: int  # objects frozen so far: the collector no longer visits them (some were freed since)


class Collector:
    """One per process: ``install`` sets the thresholds and starts measuring; ``settle`` freezes
    what start-up built; after that, every middle or full pass freezes its survivors."""

    def __init__(self) -> None:
        self._passes = [0, 0, 0]
        self._seconds = [0.0, 0.0, 0.0]
        self._longest = [0.0, 0.0, 0.0]
        self._started = 0.0
        self._settled = False
        # Objects frozen so far (some freed since): gc.get_freeze_count() walks every frozen
        # object, 160 ms with 10,000 streams open, on each /metrics scrape (issue 37).
        self._frozen = 0
        self._keeping = 0  # builds open (``keeping``)

    def install(self) -> None:
        gc.set_threshold(*GC_THRESHOLDS)
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def settle(self) -> None:
        """The server is up: what it built lives as long as the process. Collect once, freeze
        it, and from now on freeze what each full pass leaves."""
        gc.collect()
        gc.freeze()
        self._frozen = gc.get_freeze_count()  # once, at start-up
        self._settled = True

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        pause = time.perf_counter() - self._started
        self._passes[generation] += 1
        self._seconds[generation] += pause
        self._longest[generation] = max(self._longest[generation], pause)
        if self._settled and (generation >= 1 or self._keeping):
            # The survivors of a middle or full pass: they live as long as a stream or a map.
            # Frozen here, they never pile up in the oldest generation, whose next full pass
            # would visit them all at once (770 ms once 10,000 streams had opened, when only
            # full passes froze). The young generations are small (their survivors are frozen
            # each time): counting them is cheap.
            self._frozen += sum(len(gc.get_objects(generation=g)) for g in range(3))
            gc.freeze()

    @contextmanager
    def keeping(self) -> Iterator[None]:
        """While open: every pass, the young ones too, freezes what it leaves. Around building
        what lives as long as the process (the gazetteer, the outlines: hundreds of thousands of
        objects, in a worker thread): otherwise each middle pass visits all that was built since
        the last, 25-70 ms with the event loop waiting (issue 60), where young passes alone take
        5 at most; the builds' passes took 121-130 ms in all instead of 286-298. What is made
        meanwhile elsewhere (a few seconds of serving) is frozen as well: reference counting
        still frees it, as it does what middle passes freeze, but a cycle among it is kept for
        good (hypercorn's per-connection one is broken: the module's docstring). Opened and
        closed on the event loop's thread only (the count is not locked)."""
        self._keeping += 1
        try:
            yield
        finally:
            self._keeping -= 1

    def total_seconds(self) -> float:
        """Time spent in the collector so far, all generations."""
        return sum(self._seconds)

    def statistics(self) -> CollectorStatistics:
        return CollectorStatistics(
            passes=(self._passes[0], self._passes[1], self._passes[2]),
            seconds=(self._seconds[0], self._seconds[1], self._seconds[2]),
            longest=(self._longest[0], self._longest[1], self._longest[2]),
            frozen=self._frozen,
        )


# The collector is the process's: one instance, installed by ``mapsrv serve`` / ``stdio``
# (mapsrv.cli), read by the metrics of whatever server runs in the process.
PROCESS = Collector()
