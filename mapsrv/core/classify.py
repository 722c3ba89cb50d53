"""Classes of numbers for styles by value, computed as mapclassify (PySAL's classifiers, the
reference) computes them, so that a layer's breaks and counts are the reference's on the same
values: quantiles (``Quantiles``), equal intervals (``EqualInterval``), natural breaks
(``FisherJenks``), standard deviations about the mean (``StdMean``) and breaks one gives
(``UserDefined``).

Breaks are ascending edges, one more than the classes: the first is the lowest value, each next one
a class's upper bound (mapclassify's ``bins``). Class ``i`` holds the values in
``(edges[i], edges[i + 1]]``, the first class its lower edge too: a value equal to a break is in
the class below it, as mapclassify counts. The arithmetic is the reference's step by step (its
percentiles, its ``numpy.arange``), so a value that lands on a break lands on the same side.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from mapsrv.core.colorbrewer import MAX_CLASSES, MIN_CLASSES
from mapsrv.errors import InvalidInput

__all__ = [
    "COMPUTED",
    "JENKS_SAMPLE",
    "METHODS",
    "STD_MULTIPLES",
    "breaks",
    "class_of",
    "jenks",
    "manual_breaks",
]

METHODS = ("quantiles", "equal", "jenks", "std_mean", "manual")
COMPUTED = METHODS[:4]  # computed from the values; "manual" takes the breaks one gives
# Natural breaks use every value up to this many (90 ms for 10,000 on one core); past it, the
# groups are found among this many values evenly spaced through the sorted ones (the smallest and
# the largest among them), as mapclassify's FisherJenksSampled samples (it takes 10 % at random).
JENKS_SAMPLE = 10_000
STD_MULTIPLES = (-2, -1, 1, 2)  # mapclassify's StdMean default: classes at -2, -1, +1, +2 sd

Floats = NDArray[np.float64]


def class_of(value: float, edges: Sequence[float]) -> int | None:
    """The class of ``value`` (None when it is not a finite number): the first class whose upper
    edge it does not pass. A value below the first edge is in the first class, one above the last
    edge in the last (a feature added after the breaks were computed is still coloured)."""
    if not math.isfinite(value) or len(edges) < 2:
        return None
    return min(max(bisect.bisect_left(edges, value) - 1, 0), len(edges) - 2)


def breaks(values: Iterable[float], method: str, classes: int) -> list[float]:
    """The edges of ``classes`` classes of ``values`` (finite numbers, at least one) by ``method``
    (one of ``COMPUTED``). Fewer distinct values than classes make fewer classes: quantiles that
    repeat are merged (as mapclassify), natural breaks give each distinct value its own class, and
    values all the same are one class (mapclassify refuses those two)."""
    given = np.fromiter(values, dtype=np.float64)
    ordered = np.sort(given)
    if not ordered.size:
        raise InvalidInput("values must have at least one number, got none; give numbers")
    if method not in METHODS:
        raise InvalidInput(
            f"method must be one of {', '.join(METHODS)}, got {method!r:.40}; pick one of those"
        )
    if method == "manual":
        raise InvalidInput("method manual takes the breaks you give, got no breaks; e.g. [0, 10, 100]")
    if not MIN_CLASSES <= classes <= MAX_CLASSES:
        raise InvalidInput(
            f"classes must be from {MIN_CLASSES} to {MAX_CLASSES}, got {classes}; pick a number in that range"
        )
    low, high = float(ordered[0]), float(ordered[-1])
    if low == high:
        return [low, high]
    if method == "quantiles":
        bins = _quantiles(ordered, classes)
    elif method == "equal":
        bins = _equal(low, high, classes)
    elif method == "jenks":
        bins = _natural(ordered, classes)
    else:
        bins = _std_mean(given)  # summed in the order given, as the reference sums them
    return [min(low, bins[0]), *bins]


def manual_breaks(values: Iterable[float], given: Sequence[float]) -> list[float]:
    """The edges of breaks one gave (ascending: the lowest edge, then each class's upper bound)
    for ``values``: as mapclassify's ``UserDefined(values, given[1:])``, a class up to the largest
    value is added when the breaks end below it; the first edge goes down to the smallest value,
    so that the legend says what the first class holds."""
    edges = [float(g) for g in given]
    found = list(values)
    if found:
        edges[0] = min(edges[0], min(found))
        top = max(found)
        if top > edges[-1]:
            edges.append(top)
    return edges


# --- the methods, as mapclassify computes them ------------------------------------------------------


def _arange(start: float, stop: float, step: float) -> list[float]:
    """``numpy.arange(start, stop, step)`` for floats: its length, and each value as start plus
    its index times the second value's distance from the first."""
    length = math.ceil((stop - start) / step)
    if length <= 1:
        return [start][:length]
    delta = (start + step) - start
    return [start, start + step, *(start + i * delta for i in range(2, length))]


def _percentile(ordered: Floats, per: float) -> float:
    """``scipy.stats.scoreatpercentile`` (linear between the nearest ranks, its weights summed)."""
    index = per / 100.0 * (len(ordered) - 1)
    i = int(index)
    if i == index:
        return float(ordered[i])
    after, before = (i + 1) - index, index - i
    return float((ordered[i] * after + ordered[i + 1] * before) / (after + before))


def _quantiles(ordered: Floats, k: int) -> list[float]:
    """``mapclassify.Quantiles``: the values at 100/k, 200/k ... 100 percent, repeats merged."""
    width = 100.0 / k
    percents = [min(p, 100.0) for p in _arange(width, 100.0 + width, width)]
    return sorted({_percentile(ordered, p) for p in percents})


def _equal(low: float, high: float, k: int) -> list[float]:
    """``mapclassify.EqualInterval``: k classes as wide as each other, the last ending at the
    largest value."""
    width = (high - low) * 1.0 / k
    cuts = _arange(low + width, high + width, width)[:k]
    cuts[-1] = high
    return cuts


def _std_mean(values: Floats) -> list[float]:
    """``mapclassify.StdMean``: breaks at the mean plus -2, -1, 1 and 2 sample standard deviations,
    and a last class up to the largest value when it is above the last of those."""
    sd, mean = float(values.std(ddof=1)), float(values.mean())
    cuts = [mean + sd * m for m in STD_MULTIPLES]
    top = float(values.max())
    return [*cuts, top] if cuts[-1] < top else cuts


def _natural(ordered: Floats, k: int) -> list[float]:
    """``mapclassify.FisherJenks``: each class's largest value. Past ``JENKS_SAMPLE`` values, the
    groups of the sample; between one group's last sampled value and the next one's first, the
    break goes before the widest gap among all the values there (else a cluster's values below its
    first sampled one fell in the class below)."""
    n = ordered.size
    distinct = _distinct(ordered)
    if distinct <= k:  # each distinct value its own class: exact, whatever the sums would round to
        return [float(v) for v in np.unique(ordered)]
    if n <= JENKS_SAMPLE:
        ends = jenks(ordered, k)
        return [float(ordered[end - 1]) for end in ends]
    picks = np.round(np.arange(JENKS_SAMPLE) * ((n - 1) / (JENKS_SAMPLE - 1))).astype(np.int64)
    sample = ordered[picks]
    ends = jenks(sample, min(k, _distinct(sample)))
    out = []
    for end in ends[:-1]:
        last = int(np.searchsorted(ordered, sample[end - 1], side="right")) - 1
        first = int(np.searchsorted(ordered, sample[end], side="left"))
        if first <= last:  # the same value on both sides
            out.append(float(sample[end - 1]))
            continue
        gaps = np.diff(ordered[last : first + 1])
        out.append(float(ordered[last + int(np.argmax(gaps))]))
    return [*out, float(ordered[-1])]


def _distinct(ordered: Floats) -> int:
    return 1 + int(np.count_nonzero(np.diff(ordered)))


def jenks(ordered: Floats, k: int) -> list[int]:
    """Fisher's optimal grouping of sorted ``ordered`` into ``k`` runs (the least sum of squared
        deviations from each run's mean: natural breaks), as the end (exclusive) of each run. Dynamic
        programming over prefix sums (of the values less their median: the sums stay small where most
    values are, and a few huge ones, a skewed table's, do not drown the small ones' squares); the
        best start of a row's last run only moves right as the run's end does (the cost is Monge), so
        each row is solved by divide and conquer, every split of one level of it at once with numpy.
        Of equal groupings the one with the longest last run is taken, as mapclassify takes it."""
    n = int(ordered.size)
    k = max(1, min(k, n))
    centred = ordered - ordered[n // 2]
    s1 = np.concatenate(([0.0], np.cumsum(centred)))
    s2 = np.concatenate(([0.0], np.cumsum(centred * centred)))
    count = np.arange(n + 1, dtype=np.float64)
    count[0] = 1.0
    previous = np.maximum(0.0, s2 - s1 * s1 / count)  # one run: values 0..j-1
    splits = []
    for runs in range(2, k + 1):
        current = np.full(n + 1, np.inf)
        split = np.zeros(n + 1, dtype=np.int64)
        _row(runs, n, previous, current, split, s1, s2)
        previous = current
        splits.append(split)
    ends = [n]
    for split in reversed(splits):
        ends.append(int(split[ends[-1]]))
    return ends[::-1]


def _row(
    runs: int,
    n: int,
    previous: Floats,
    current: Floats,
    split: NDArray[np.int64],
    s1: Floats,
    s2: Floats,
) -> None:
    """Fill ``current[j]`` (j from ``runs`` to n): the least cost of ``runs`` runs over values
    0..j-1, and ``split[j]`` the start of the last of them. Each segment (lo, hi, opt_lo, opt_hi)
    solves its middle j over starts opt_lo..min(j - 1, opt_hi), then splits in two."""
    lo = np.array([runs])
    hi = np.array([n])
    opt_lo = np.array([runs - 1])
    opt_hi = np.array([n - 1])
    while lo.size:
        mid = (lo + hi) // 2
        lengths = np.minimum(mid - 1, opt_hi) - opt_lo + 1
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        segment = np.repeat(np.arange(lo.size), lengths)
        i = np.arange(int(lengths.sum())) - starts[segment] + opt_lo[segment]
        j = mid[segment]
        total = s1[j] - s1[i]
        cost = previous[i] + np.maximum(0.0, s2[j] - s2[i] - total * total / (j - i))
        best = np.minimum.reduceat(cost, starts)
        first = np.minimum.reduceat(np.where(cost == best[segment], i, n), starts)  # the earliest
        current[mid] = best
        split[mid] = first
        left, right = lo < mid, mid < hi
        lo, hi, opt_lo, opt_hi = (
            np.concatenate((lo[left], mid[right] + 1)),
            np.concatenate((mid[left] - 1, hi[right])),
            np.concatenate((opt_lo[left], first[right])),
            np.concatenate((first[left], opt_hi[right])),
        )
