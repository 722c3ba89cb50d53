"""Steps counted: ``mapsrv.core.pace`` bound to a counter, as ``mapsrv.workers`` binds a worker's
own step, for tests of pure code that must take its steps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mapsrv.core import pace

__all__ = ["counted_steps"]


@contextmanager
def counted_steps() -> Iterator[list[int]]:
    """The steps taken in the block, one item each (nothing else happens at them)."""
    steps: list[int] = []
    token = pace.bind(lambda: steps.append(1))
    try:
        yield steps
    finally:
        pace._step.reset(token)
