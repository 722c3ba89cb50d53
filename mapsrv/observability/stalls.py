"""The event loop watched for stalls: how often, how long, and what the process was doing.

Every stream, write and heartbeat of a process waits while one step of its loop runs; a step that
takes 200 ms is a 200 ms hiccup for every viewer at once. The collector's pauses are measured in
``collector``; this measures every stall, whatever its cause. A task on the loop beats every
``BEAT`` seconds, leaving the time and the loop thread's CPU time; a thread beside it looks every
``LOOK`` seconds, and while no beat has come for longer than the threshold it samples the loop
thread's stack (``sys._current_frames``). When the beats come back, the stall is counted and, when
it lasted ``REPORT`` or more, logged with the stack seen most often, the CPU the loop thread used
meanwhile (about the stall's length: the process was busy; far less: it was not given the CPU, or
it waited in a call that blocks) and the time the collector took in it.

``longest_busy`` counts a stall only as long as the process had the CPU meanwhile (the least of
its length and the process's CPU time in it): a stall this process made (its loop busy, or a
worker thread holding the interpreter in one long call) counts whole, a machine too loaded to
run it does not. The stall test in CI keeps a budget on it (tests/system/test_loop_stalls.py).

Its cost: a hundred wake-ups a second on the loop and fifty short looks from the thread
(each takes the interpreter lock for a few microseconds).
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import NamedTuple

import trio

__all__ = ["BEAT", "LOOK", "REPORT", "STALL", "LoopWatch", "Stall", "StallStatistics"]

log = logging.getLogger("mapsrv.stalls")

BEAT = 0.01  # the loop's heartbeat, seconds
LOOK = 0.02  # how often the watching thread looks (and samples the stack during a stall)
STALL = 0.05  # a beat this late (beyond BEAT) is a stall: counted, its stack sampled
REPORT = 0.1  # a stall this long is logged too
FRAMES = 12  # the innermost frames kept of each sample


@dataclass(frozen=True)
class StallStatistics:
    stalls: int  # beats later than the threshold since start
    seconds: float  # their total length
    longest: float  # the longest, seconds
    longest_busy: float = 0.0  # the longest, counting only the process's CPU time in it


@dataclass(frozen=True)
class Stall:
    """One stall, as the watching thread saw it end."""

    seconds: float  # from the beat before to the beat after, less one beat interval
    cpu: float  # CPU time the loop thread used meanwhile
    collector: float  # of which in the garbage collector
    process: float  # CPU time every thread of the process used meanwhile
    samples: int  # stacks sampled while it lasted
    stack: tuple[str, ...]  # the stack seen most often, innermost frame first; () when none
    # a worker thread busy meanwhile, innermost frame first: when the watching thread itself was
    # held up (another thread kept the interpreter in one long call), where that thread was as
    # soon as it let go; else the busy stack seen most often beside the loop's samples
    holder: tuple[str, ...] = ()


class _Beat(NamedTuple):
    at: float  # time.monotonic()
    cpu: float  # the loop thread's CPU time (time.thread_time)
    process: float  # the process's CPU time (time.process_time)
    collector: float  # seconds the process has spent in the collector so far


class LoopWatch:
    """``serve`` runs the beat (and starts the watching thread, which ends with it);
    ``statistics`` is read by the metrics; ``last`` is the last stall reported (for tests).

    The beat counts the stalls itself (a late beat is one, whether or not the thread saw it
    under way: a process paused whole, say by SIGSTOP, stops the thread too), and hands each to
    the thread, which adds the stacks it sampled meanwhile and logs it."""

    def __init__(self, collector_seconds: Callable[[], float], threshold: float = STALL) -> None:
        self._collector_seconds = collector_seconds
        self._threshold = threshold
        self._beat = _Beat(time.monotonic(), 0.0, 0.0, 0.0)
        self._loop_thread = 0
        self._stop = threading.Event()
        self._ended: queue.SimpleQueue[tuple[_Beat, _Beat]] = queue.SimpleQueue()
        self._stalls = 0
        self._seconds = 0.0
        self._longest = 0.0
        self._longest_busy = 0.0
        self._holder: tuple[float, tuple[str, ...]] = (0.0, ())  # (when seen, its stack)
        self.last: Stall | None = None

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._loop_thread = threading.get_ident()
        self._stop.clear()
        self._beat = self._read_beat()
        thread = threading.Thread(target=self._watch, name="mapsrv-loop-watch", daemon=True)
        thread.start()
        task_status.started()
        try:
            while True:
                await trio.sleep(BEAT)
                before, self._beat = self._beat, self._read_beat()  # the thread never sees half a beat
                late = self._beat.at - before.at - BEAT
                if late >= self._threshold:
                    self._stalls += 1
                    self._seconds += late
                    self._longest = max(self._longest, late)
                    busy = min(late, self._beat.process - before.process)
                    self._longest_busy = max(self._longest_busy, busy)
                    self._ended.put((before, self._beat))
        finally:
            self._stop.set()

    def statistics(self) -> StallStatistics:
        return StallStatistics(
            stalls=self._stalls, seconds=self._seconds, longest=self._longest, longest_busy=self._longest_busy
        )

    def _read_beat(self) -> _Beat:
        return _Beat(time.monotonic(), time.thread_time(), time.process_time(), self._collector_seconds())

    def _watch(self) -> None:
        late = BEAT + self._threshold
        sampled: _Beat | None = None  # the beat after which the stacks below were sampled
        stacks: Counter[tuple[str, ...]] = Counter()
        others: Counter[tuple[str, ...]] = Counter()  # the other threads' busy stacks meanwhile
        while True:
            asleep = time.monotonic()
            if self._stop.wait(LOOK):
                break
            if time.monotonic() - asleep >= LOOK + self._threshold:
                self._note_holder()
            while not self._ended.empty():
                before, after = self._ended.get()
                ours = sampled is before
                self._report(before, after, stacks if ours else Counter(), others if ours else Counter())
            beat = self._beat
            if time.monotonic() - beat.at < late:
                continue
            if sampled is not beat:
                sampled, stacks, others = beat, Counter(), Counter()
            frames = sys._current_frames()
            frame = frames.get(self._loop_thread)
            if frame is not None:
                stacks[_stack(frame)] += 1
            for stack in self._busy(frames):
                others[stack] += 1

    def _note_holder(self) -> None:
        """This thread woke late: the interpreter was held (or the process stood still). The
        other threads' stacks now show where the one that held it let go: the one not waiting."""
        for stack in self._busy(sys._current_frames()):
            self._holder = (time.monotonic(), stack)
            return

    def _busy(self, frames: dict[int, FrameType]) -> Iterator[tuple[str, ...]]:
        """The stacks of the threads other than the loop's and this one that are not waiting."""
        mine = threading.get_ident()
        for ident, frame in frames.items():
            if ident in (mine, self._loop_thread):
                continue
            stack = _stack(frame)
            if stack and not stack[0].startswith(_WAITING):
                yield stack

    def _report(
        self, before: _Beat, after: _Beat, stacks: Counter[tuple[str, ...]], others: Counter[tuple[str, ...]]
    ) -> None:
        common = stacks.most_common(1)
        seen, holder = self._holder
        if not before.at <= seen <= after.at + 2 * LOOK:  # the busy worker, if this thread was not held
            holder = others.most_common(1)[0][0] if others else ()
        stall = Stall(
            seconds=max(0.0, after.at - before.at - BEAT),
            cpu=after.cpu - before.cpu,
            collector=after.collector - before.collector,
            process=after.process - before.process,
            samples=sum(stacks.values()),
            stack=common[0][0] if common else (),
            holder=holder,
        )
        if stall.seconds >= REPORT:
            where = " < ".join(stall.stack) or "no sample (the process stood still, or held the interpreter)"
            log.warning(
                "event loop stalled %.0f ms (loop thread CPU %.0f ms, process %.0f ms, collector %.0f ms;"
                " %d samples): %s",
                1000 * stall.seconds,
                1000 * stall.cpu,
                1000 * stall.process,
                1000 * stall.collector,
                stall.samples,
                where + (f"; a worker thread was at {' < '.join(stall.holder)}" if stall.holder else ""),
            )
        self.last = stall


_WAITING = (
    "threading:wait",
    "threading:_wait_for_tstate_lock",
    "queue:get",
    "selectors:select",
    "trio._core._thread_cache:_work",  # an idle worker thread, waiting for a call
)


def _stack(frame: FrameType | None) -> tuple[str, ...]:
    """The innermost ``FRAMES`` frames as ``module:function:line``, innermost first."""
    out: list[str] = []
    while frame is not None and len(out) < FRAMES:
        code = frame.f_code
        module = frame.f_globals.get("__name__", "?")
        out.append(f"{module}:{code.co_name}:{frame.f_lineno}")
        frame = frame.f_back
    return tuple(out)
