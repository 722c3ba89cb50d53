"""Long C calls over big arrays, made in slices (issue 60).

A numpy or shapely call that makes Python objects (geometries, an array from a list) holds the
interpreter from its start to its end, even in a worker thread: the event loop beside it, and so
every stream of the process, waits that long. Between two slices the loop has it back; all the
slices take as long as the one call.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["ROWS", "by_parts", "running_sum"]

ROWS = 65_536  # rows given to one call: ~2-4 ms of shapely's making rings or lines from points


def by_parts(
    build: Callable[..., Any], rows: NDArray[Any], indices: NDArray[np.integer[Any]], per_call: int = ROWS
) -> NDArray[np.object_]:
    """``build(rows, indices=indices)`` (shapely's ``linestrings``, ``linearrings``, ``polygons``,
    ``multipolygons``: each row's part, numbered 0, 1, 2... in order, none left out), made
    ``per_call`` rows at a time and cut between parts: the same array. Shapely's ``linearrings``
    of Natural Earth's 8,646 state rings (1.3 million points) held the interpreter 34-50 ms."""
    indices = np.asarray(indices)
    steps = np.diff(indices)
    if len(indices) <= per_call or indices[0] != 0 or steps.min() < 0 or steps.max() > 1:
        return np.asarray(build(rows, indices=indices))  # small, or parts not 0, 1, 2...: as shapely does
    starts = np.flatnonzero(steps) + 1  # where each part but the first begins
    at = np.searchsorted(starts, np.arange(per_call, len(indices), per_call))  # the next part's start
    bounds = [0, *np.unique(starts[at[at < len(starts)]]).tolist(), len(indices)]
    made = [np.asarray(build(rows[a:b], indices=indices[a:b] - indices[a])) for a, b in pairwise(bounds)]
    return np.concatenate(made)


def running_sum(steps: NDArray[np.int64], per_call: int = ROWS) -> NDArray[np.int64]:
    """``np.cumsum(steps, axis=0)`` (in ``steps``' own type, where numpy's widens a small
    integer), ``per_call`` rows at a time: on the 1.3 million steps of the state borders one
    call held the interpreter 8-35 ms (the first time, its pages new)."""
    out = np.empty_like(steps)
    carry = np.zeros(steps.shape[1:], dtype=steps.dtype)
    for at in range(0, len(steps), per_call):
        part = out[at : at + per_call]
        np.cumsum(steps[at : at + per_call], axis=0, out=part)
        part += carry
        carry = part[-1].copy()
    return out
