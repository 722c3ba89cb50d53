"""Thinning long lines and rings (Douglas-Peucker) to a tolerance in metres.

Every point left out lies within the tolerance of the simplified line, so a 50,000-point
ride thinned at 5 m still follows the road. Douglas-Peucker is O(n log n) on real tracks but
O(n²) on a crafted one (each split peeling off one point), so it runs on a budget of distance
computations; a stretch still open when the budget is spent is thinned by radial distance
(a point within the tolerance of the last kept one is dropped), which is O(n) and keeps the
same promise, only with more points.

Points are projected onto a local plane (metres along the parallel of the first point and the
meridian), which is accurate to well under a percent over the extent of one track.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mapsrv.core.model import LatLon
from mapsrv.core.pace import step

__all__ = ["simplify"]

_METRES_PER_DEGREE = 6_371_008.8 * math.pi / 180
_BUDGET_PER_POINT = 40  # distance computations per point before the radial fallback
_PER_STEP = 4_096  # distance computations between two steps (``mapsrv.core.pace``): ~1 ms


def simplify(points: Sequence[LatLon], tolerance: float, *, closed: bool = False) -> list[int]:
    """The indices of ``points`` to keep, in order; the ends are always kept. ``closed`` treats
    ``points`` as a ring (its last point joins its first) and keeps at least 3."""
    n = len(points)
    if n <= 2 or not tolerance > 0:
        return list(range(n))
    ring = [*points, points[0]] if closed else points
    kept = _douglas_peucker(ring, tolerance)
    if closed:
        kept.pop()  # the repeated first point
        if len(kept) < 3:
            return list(range(n))
    return kept


def _project(points: Sequence[LatLon]) -> tuple[list[float], list[float]]:
    lat0, lon0 = points[0]
    scale = math.cos(math.radians(lat0)) * _METRES_PER_DEGREE
    xs = [(lon - lon0) * scale for _, lon in points]
    ys = [(lat - lat0) * _METRES_PER_DEGREE for lat, _ in points]
    return xs, ys


def _douglas_peucker(points: Sequence[LatLon], tolerance: float) -> list[int]:
    n = len(points)
    xs, ys = _project(points)
    keep = bytearray(n)
    keep[0] = keep[-1] = 1
    limit = tolerance * tolerance
    budget = _BUDGET_PER_POINT * n
    stack = [(0, n - 1)]
    done = 0
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        done += last - first
        if done >= _PER_STEP:  # a worker thinning the 1:10m world went 0.4-0.6 s without a step
            step()
            done = 0
        if budget < last - first:
            _radial(xs, ys, first, last, limit, keep)
            continue
        budget -= last - first - 1
        ax, ay = xs[first], ys[first]
        dx, dy = xs[last] - ax, ys[last] - ay
        length2 = dx * dx + dy * dy
        worst, where = -1.0, first
        for i in range(first + 1, last):
            px, py = xs[i] - ax, ys[i] - ay
            if length2 > 0:
                t = (px * dx + py * dy) / length2
                if t > 1:
                    t = 1.0
                elif t < 0:
                    t = 0.0
                px -= t * dx
                py -= t * dy
            d = px * px + py * py  # squared distance from the segment
            if d > worst:
                worst, where = d, i
        if worst > limit:
            keep[where] = 1
            stack.append((first, where))
            stack.append((where, last))
    return [i for i in range(n) if keep[i]]


def _radial(xs: list[float], ys: list[float], first: int, last: int, limit: float, keep: bytearray) -> None:
    """Keep each point farther than the tolerance from the last one kept."""
    kx, ky = xs[first], ys[first]
    for i in range(first + 1, last):
        dx, dy = xs[i] - kx, ys[i] - ky
        if dx * dx + dy * dy > limit:
            keep[i] = 1
            kx, ky = xs[i], ys[i]
