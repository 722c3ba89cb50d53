"""Work off the event loop: the one home of the worker threads and processes (issue 60).

Every watcher of every map waits while one step of the loop runs, so CPU work (encoding a big
answer, an image, a repair or an overlay, an import, an index build) is handed here as a plain
function and runs in a worker, never on the loop. Each kind of work has a pool of its own, sized
to the cores, and a bounded queue in front of it: ten ``map_image`` calls at once wait in the
image queue and leave the geometry and encoding workers to the other tools; past the queue's
bound a call is refused at once with ``Unavailable`` and a retry hint (as the rate limits do),
rather than wait behind work it cannot see.

Threads or processes, by measurement (2 cores, tests/bench/loop_stalls.py):

- A thread stalls the loop only while it holds the interpreter in one long C call; pure Python
  in a thread gives the interpreter back every switch interval, so the loop still beats. But
  the loop gives it up at every system call (a send to each of 1,000 watchers) and waits up to
  that interval each time to have it back: at Python's 5 ms a busy worker slowed the fan-out
  into stalls of 131-195 ms. ``hand_over_often`` sets 1 ms for the server (101-178 ms, the
  watchers' last p99 350-500 ms against 550-650; the calls' own times unchanged).
  GEOS (shapely), PROJ (pyproj) and Pillow's drawing release it; so thread kinds: ``geometry``
  (outlines, repairs, overlays, indexes), ``image``, ``encode`` (GeoJSON, files, imports: pure
  Python in small steps), ``index`` (the gazetteer, the places' first loads) and ``snapshot`` (a
  big map's snapshot for a viewer, its ``/state`` body: a pool of their own, so that a viewer
  joining never waits behind an import).
- A process costs the pickling of what goes in and out, itself one C call on the caller's
  thread: a 100,000-feature state pickles in hundreds of ms, longer than the stall it would
  save, and starting one and pickling a layer's properties made natural breaks on 3,000
  features 1.8 s against 0.6 s in a thread. So the process kind is for work whose input is
  bytes or small and whose Python runs long: ``classify``, which no tool needs at today's sizes
  (``style_layer``'s classes are computed by the write path, in a thread for a big layer).
  Cancelling one kills the worker process (trio-parallel's ``kill_on_cancel``). Files from
  strangers are read by processes of their own, with hard limits (``mapsrv.hub.reader``): its
  features come back pickled in pieces that a thread unpickles a millisecond at a time.

The loop comes first (``_LoopFirst``): while a thread worker runs, the loop says when it is busy
(from its wake-up to its next wait for I/O, a trio instrument), and a worker waits until the loop
waits again, ``GIVE_WAY`` at most, at two places: its next step (``stop_if_cancelled``, every 16
features of an import), and the start of a collector pass its allocations set off (a gc callback:
a pass holds the interpreter for its whole length, and an import's passes came one after another).
So the loop's burst of sends (a write to 1,000 watchers) has the interpreter to itself. A loop busy
for longer than ``GIVE_WAY`` lets the worker run for as long, so neither starves, and a worker
holding something the loop waits for is never waited on for ever. Measured (tests/bench/
loop_stalls.py, 1,000 watchers, 23,000-feature import): loop stalls over 50 ms while the tools ran,
none in 6 of 9 runs against 2 of 6 before (those left as long as before: 59-104 ms); the median
watcher's delivery p99 65-143 ms against 213-364; the calls' own times the same.

A thread cannot be stopped from outside, so a long function stops itself: it calls
``stop_if_cancelled()`` between its steps (an image between tiles, layers and features), which
raises ``WorkCancelled`` once the call running it was cancelled (the client left). The cancelled
call waits, shielded, for its thread to end, so the pool's slot is held until the worker is really
free and the pool stays bounded; a function that never checks is waited out as before.
"""

from __future__ import annotations

import contextvars
import gc
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import trio
import trio_parallel

from mapsrv.core import MapState, pace
from mapsrv.core.checked import CHECK_EVERY, checked
from mapsrv.errors import Unavailable

__all__ = [
    "BACKGROUND_WAIT",
    "BIG_MAP",
    "CHECK_EVERY",
    "Background",
    "KINDS",
    "Kind",
    "Pool",
    "PoolStatistics",
    "WorkCancelled",
    "Workers",
    "checked",
    "hand_over_often",
    "over_map",
    "run",
    "stop_if_cancelled",
    "workers",
]

T = TypeVar("T")
Kind = Literal["geometry", "image", "encode", "index", "snapshot", "classify"]
KINDS: tuple[Kind, ...] = ("geometry", "image", "encode", "index", "snapshot", "classify")
PROCESS_KINDS = frozenset({"classify"})
QUEUE_PER_WORKER = 8  # calls that may wait per worker of a kind before more are refused
SWITCH_INTERVAL = 0.001  # s: how long a thread wanting the interpreter waits for it (Python's: 0.005)
GIVE_WAY = 0.01  # s: the longest a worker waits at one step for the busy loop (then runs as long)
BACKGROUND_WAIT = 0.25  # s: the longest background work waits at one step for the busy loop
BIG_MAP = 5_000  # features from which a pass over a map's every feature runs in a worker (over_map)


class WorkCancelled(BaseException):
    """Raised in a worker thread by ``stop_if_cancelled`` when its call was cancelled: a
    BaseException, like ``trio.Cancelled``, so that no ``except Exception`` swallows it."""


def hand_over_often() -> None:
    """The interpreter handed between threads every ``SWITCH_INTERVAL``, and a worker's collector
    passes started when the loop waits (the module's docstring says why): process-wide, set once
    at the server's start."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    if _collect_when_the_loop_waits not in gc.callbacks:
        gc.callbacks.insert(0, _collect_when_the_loop_waits)  # first: its wait is no collector pause


def _collect_when_the_loop_waits(phase: str, info: dict[str, int]) -> None:
    """A collector pass that a worker's allocations start holds the interpreter for its whole
    length (up to 20-50 ms during an import): it waits for the busy loop first, as a step
    does. A pass the loop starts, or any thread outside a worker's call, goes at once."""
    if phase == "start":
        call = _call.get()
        if call is not None:
            call.give_way()


class _LoopFirst(trio.abc.Instrument):
    """The loop's busy spells, told to the worker threads of one trio run: ``waiting`` is set
    while the loop waits for I/O with nothing to run. An instrument of the run only while a
    thread worker runs (``enter``, ``leave``), so an idle pool costs the loop nothing."""

    def __init__(self) -> None:
        self.waiting = threading.Event()
        self.workers = 0

    def before_io_wait(self, timeout: float) -> None:
        if timeout > 0:
            self.waiting.set()

    def after_io_wait(self, timeout: float) -> None:
        if self.waiting.is_set():
            self.waiting.clear()

    def enter(self) -> None:
        self.workers += 1
        if self.workers == 1:
            self.waiting.clear()
            trio.lowlevel.add_instrument(self)

    def leave(self) -> None:
        self.workers -= 1
        if self.workers == 0:
            trio.lowlevel.remove_instrument(self)
            self.waiting.set()  # a thread still finishing its step need not wait for anyone


_loop_first: trio.lowlevel.RunVar[_LoopFirst] = trio.lowlevel.RunVar("mapsrv_loop_first")


class Background:
    """Work the process does for later, not for a caller (warming its caches at start): each of
    its steps waits while the event loop is busy, up to ``BACKGROUND_WAIT``, and then runs just
    that step, where a caller's work waits ``GIVE_WAY`` and then runs as long. A new process's
    loop, busy with the viewers a deploy sends it, goes first (issue 74). Once ``need``ed (a
    caller waits for what it makes: a foreground call of a kind it runs in), it runs as any
    caller's does."""

    def __init__(self, kinds: frozenset[str] = frozenset({"index", "geometry"})) -> None:
        self.kinds = kinds
        self._needed = threading.Event()

    def need(self) -> None:
        self._needed.set()

    @property
    def needed(self) -> bool:
        return self._needed.is_set()


_background: set[Background] = set()  # background work running now: a caller's call needs it


class _Call:
    """What a worker thread knows of the call it runs: whether it was cancelled, and the loop."""

    __slots__ = ("background", "giving_way", "loop", "stop", "until")

    def __init__(self, loop: _LoopFirst, background: Background | None = None) -> None:
        self.stop = threading.Event()
        self.loop = loop
        self.until = 0.0  # after a GIVE_WAY spent waiting, the worker runs without waiting until then
        self.background = background
        self.giving_way = False  # in give_way's wait, holding at times its Event's lock

    def step(self) -> None:
        if self.stop.is_set():
            raise WorkCancelled
        self.give_way()
        if self.stop.is_set():
            raise WorkCancelled

    def give_way(self) -> None:
        """Wait while the loop is busy, ``GIVE_WAY`` at most (then run as long without waiting);
        background work ``BACKGROUND_WAIT`` at most, and then only one step. Never from within
        the wait: a collector pass that an allocation in ``Event.wait`` starts, while it holds
        the Event's lock, waited for that lock again (``_collect_when_the_loop_waits``), for ever."""
        if self.giving_way or self.loop.waiting.is_set():
            return
        background = self.background
        self.giving_way = True
        if background is not None and not background.needed:
            self.loop.waiting.wait(BACKGROUND_WAIT)
        elif time.perf_counter() >= self.until and not self.loop.waiting.wait(GIVE_WAY):
            self.until = time.perf_counter() + GIVE_WAY
        self.giving_way = False


# the running call, in the worker thread's own context (trio copies the caller's)
_call: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("mapsrv_call", default=None)


def stop_if_cancelled() -> None:
    """Between a worker's steps: raise ``WorkCancelled`` if the call running this thread was
    cancelled, and wait while the loop is busy (``_LoopFirst``); nothing outside a worker thread.
    Cheap (a context variable and two flags): call it between steps of a millisecond or less.
    The same step as core's loops take (``pace.step``, bound to the call's in ``_in_thread``)."""
    pace.step()


@dataclass
class PoolStatistics:
    running: int = 0
    waiting: int = 0
    done: int = 0  # calls that ran to their end (answered, or raised their own error)
    refused: int = 0
    cancelled: int = 0
    broken: int = 0  # worker processes that died mid-call
    seconds: float = 0.0  # run time of the calls done, summed
    longest: float = 0.0

    def finished(self, took: float) -> None:
        """A call ran to its end, with its answer or its own error, in ``took`` seconds."""
        self.done += 1
        self.seconds += took
        self.longest = max(self.longest, took)


@dataclass
class Pool:
    """One kind of work: ``size`` workers (threads, or processes when ``process``), and at most
    ``queue`` calls waiting for one."""

    kind: str
    size: int
    queue: int
    process: bool = False
    limiter: trio.CapacityLimiter = field(init=False)
    stats: PoolStatistics = field(default_factory=PoolStatistics)

    def __post_init__(self) -> None:
        self.limiter = trio.CapacityLimiter(self.size)

    def retry_after(self) -> int:
        """Seconds until a place in the queue is likely free: the queue's calls at their mean time."""
        mean = self.stats.seconds / self.stats.done if self.stats.done else 1.0
        return max(1, math.ceil(mean * (self.stats.waiting + self.stats.running) / self.size))


class Workers:
    """The pools of one process, one per kind. ``cores``: how many run at once per kind (the
    machine's cores by default); a kind's queue holds ``QUEUE_PER_WORKER`` calls per worker."""

    def __init__(self, cores: int | None = None, queue_per_worker: int = QUEUE_PER_WORKER) -> None:
        size = max(1, cores or os.cpu_count() or 1)
        self.pools: dict[str, Pool] = {
            kind: Pool(kind, size, size * queue_per_worker, process=kind in PROCESS_KINDS) for kind in KINDS
        }

    def statistics(self) -> dict[str, PoolStatistics]:
        return {kind: pool.stats for kind, pool in self.pools.items()}

    async def run(
        self,
        kind: Kind,
        fn: Callable[..., T],
        *args: object,
        refuse: bool = True,
        background: Background | None = None,
    ) -> T:
        """``fn(*args)`` in a worker of ``kind``, waiting in its queue; refused with
        ``Unavailable`` (and when to retry) when the queue is full, unless not ``refuse``: work
        bounded by its callers that no one should be refused (a viewer's snapshot: one per map
        at a time, its map's lock held) waits its turn past the bound. ``background``: the
        process's own work for later (``Background``); a caller's call of one of its kinds lets
        it run at a caller's pace."""
        if background is None:
            for running in _background:
                if kind in running.kinds:
                    running.need()
        pool = self.pools[kind]
        stats = pool.stats
        if refuse and stats.running + stats.waiting >= pool.size + pool.queue:
            stats.refused += 1
            retry = pool.retry_after()
            raise Unavailable(
                f"the server is busy with {kind} work ({stats.running} running, {stats.waiting}"
                f" waiting); retry in {retry} s",
                retry_after=retry,
            )
        stats.waiting += 1
        waiting = True
        try:
            async with pool.limiter:
                stats.waiting -= 1
                waiting = False
                stats.running += 1
                started = time.perf_counter()
                try:
                    if pool.process:
                        result: T = await trio_parallel.run_sync(fn, *args, kill_on_cancel=True)
                    else:
                        result = await _in_thread(fn, args, background)
                except trio_parallel.BrokenWorkerError:
                    stats.broken += 1
                    raise Unavailable(
                        f"a {kind} worker stopped before it finished (nothing was stored); retry"
                    ) from None
                except Exception:  # the function's own error (a file refused): done all the same
                    stats.finished(time.perf_counter() - started)
                    raise
                finally:
                    stats.running -= 1
                stats.finished(time.perf_counter() - started)
                return result
        except trio.Cancelled:
            stats.cancelled += 1
            raise
        finally:
            if waiting:
                stats.waiting -= 1


async def _in_thread(
    fn: Callable[..., T], args: tuple[object, ...], background: Background | None = None
) -> T:
    """``fn(*args)`` in a thread; cancelled, it tells the thread to stop (``stop_if_cancelled``)
    and, if the thread had begun, waits for it to end before the cancellation goes on. A call
    cancelled before its thread began (``to_thread`` checks first) never runs: waiting for its
    end hung a server's shutdown for ever."""
    try:
        loop = _loop_first.get()
    except LookupError:
        loop = _LoopFirst()
        _loop_first.set(loop)
    work, ended = _Call(loop, background), trio.Event()
    stop = work.stop
    begun = threading.Lock()  # held from the thread's start to the check of ``stop``
    started: list[bool] = []
    token = trio.lowlevel.current_trio_token()

    def call() -> T:
        with begun:
            if stop.is_set():
                raise WorkCancelled
            started.append(True)
        _call.set(work)
        pace.bind(work.step)  # core's long loops step here too (``mapsrv.core.pace``)
        try:
            return fn(*args)
        finally:
            try:
                token.run_sync_soon(ended.set)
            except trio.RunFinishedError:
                pass

    loop.enter()
    if background is not None:
        _background.add(background)
    try:
        return await trio.to_thread.run_sync(call, abandon_on_cancel=True)
    except trio.Cancelled:
        with begun:
            stop.set()
            running = bool(started)
        if running:
            with trio.CancelScope(shield=True):
                await ended.wait()
        raise
    finally:
        loop.leave()
        if background is not None:
            _background.discard(background)


_workers = Workers()


def workers() -> Workers:
    """The process's pools."""
    return _workers


async def run(
    kind: Kind, fn: Callable[..., T], *args: object, refuse: bool = True, background: Background | None = None
) -> T:
    """``fn(*args)`` off the loop, in the process's pool for ``kind`` (``Workers.run``)."""
    return await _workers.run(kind, fn, *args, refuse=refuse, background=background)


async def over_map(fn: Callable[..., T], state: MapState, *args: object) -> T:
    """``fn(state, *args)``, a pass over the map's features: here for a small map, in an
    ``encode`` worker from ``BIG_MAP`` features (on 23,000 polygons a box tested every point in
    37 ms, a text every label in 32), stopping once its call is cancelled (``checked``)."""
    if len(state.features) < BIG_MAP:
        return fn(state, *args)
    return await _workers.run("encode", fn, checked(state), *args)
