"""Steps in core's long loops, where a worker thread gives way (issue 60).

core sits below the event loop and its worker threads and knows nothing of them. Its loops over
a big batch (a batch's new features, features to JSON, a list written in pieces) take a ``step()``
now and then, and ``mapsrv.workers`` binds what a step does for the call a worker thread runs
(``stop_if_cancelled``: wait while the event loop is busy, stop once the call was cancelled).
Without those steps a worker went 0.3-0.6 s at a time without giving way while it applied a
23,000-feature import, and the event loop, which hands the interpreter over at every socket
write, sent each frame to 1,000 watchers at a fraction of its pace. Elsewhere a step is the read
of a context variable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar, Token
from typing import TypeVar

__all__ = ["EVERY", "bind", "paced", "step"]

T = TypeVar("T")
EVERY = 64  # items a paced loop goes through between two steps (~0.1-1 ms of work)...
SPAN = 0.002  # ...or seconds, whichever comes first: a time read costs ~50 ns an item

_step: ContextVar[Callable[[], None] | None] = ContextVar("mapsrv_step", default=None)


def bind(step: Callable[[], None]) -> Token[Callable[[], None] | None]:
    """``step`` is what a step does in this context (a worker thread's call: ``mapsrv.workers``)."""
    return _step.set(step)


def step() -> None:
    """Between two pieces of long work: what is bound here (``bind``), or nothing."""
    bound = _step.get()
    if bound is not None:
        bound()


def paced(items: Iterable[T], every: int = EVERY, seconds: float = SPAN) -> Iterable[T]:
    """``items``, with a ``step()`` before each run of ``every`` of them, or sooner once
    ``seconds`` have gone since the last: 64 countries' outlines at 1:10m took 100 ms. Where
    nothing is bound (the event loop's own small batches), ``items`` themselves."""
    bound = _step.get()
    return items if bound is None else _stepped(items, bound, every, seconds)


def _stepped(items: Iterable[T], bound: Callable[[], None], every: int, seconds: float) -> Iterator[T]:
    clock = time.perf_counter
    due = 0.0
    for i, item in enumerate(items):
        if not i % every or clock() >= due:
            bound()
            due = clock() + seconds
        yield item
