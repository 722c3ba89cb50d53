"""How far a point is from a street's line (a way's points as float64 lat, lon pairs, as the
offline index's ``lines`` table holds them): in a flat frame around the point, which within the
few hundred metres reverse looks is within a fraction of a metre of the geodesic."""

from __future__ import annotations

import math
from collections.abc import Sequence

from mapsrv.core.model import LatLon

__all__ = ["line_metres"]

_METRES_PER_DEGREE = 111_195.0


def line_metres(at: LatLon, flat: Sequence[float]) -> float:
    """The distance from ``at`` to the nearest point of the line ``flat`` (lat, lon, lat, lon...)."""
    scale = math.cos(math.radians(at[0]))
    xs = [(flat[i + 1] - at[1]) * scale * _METRES_PER_DEGREE for i in range(0, len(flat), 2)]
    ys = [(flat[i] - at[0]) * _METRES_PER_DEGREE for i in range(0, len(flat), 2)]
    if len(xs) == 1:
        return math.hypot(xs[0], ys[0])
    best = math.inf
    for x1, y1, x2, y2 in zip(xs, ys, xs[1:], ys[1:], strict=False):
        dx, dy = x2 - x1, y2 - y1
        length = dx * dx + dy * dy
        t = 0.0 if length == 0 else max(0.0, min(1.0, -(x1 * dx + y1 * dy) / length))
        best = min(best, math.hypot(x1 + t * dx, y1 + t * dy))
    return best
