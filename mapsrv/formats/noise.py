"""Float noise past a coordinate's limit, as GIS files carry it (GDAL writes Russia's eastern edge
as 180.00000000000006): set to the limit when it is less than ``NOISE`` past, so that a refused
shape is read again clamped (``mapsrv.formats.collect``) rather than refused for a rounding."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mapsrv.core.model import NOISE

__all__ = ["clamp_noise"]


def _near_limit(value: Any, limit: float) -> Any:
    """``±limit`` for a float less than ``NOISE`` past it, else ``value`` itself."""
    if isinstance(value, float) and limit < abs(value) <= limit + NOISE:
        return math.copysign(limit, value)
    return value


def clamp_noise(coords: Any, *, single: bool = False) -> tuple[Any, int]:
    """``coords`` (any geometry's, nested as deep as it is: rings, parts, a collection's members)
    with each coordinate within ``NOISE`` past its limit set to the limit, and how many were;
    what is no point is left for core to judge."""
    if isinstance(coords, Mapping) and "coords" in coords:  # a collection's member
        inner, n = clamp_noise(coords["coords"])
        return {**coords, "coords": inner}, n
    if not isinstance(coords, (list, tuple)):
        return coords, 0
    if len(coords) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in coords):
        lat, lon = _near_limit(coords[0], 90.0), _near_limit(coords[1], 180.0)
        changed = (lat is not coords[0]) + (lon is not coords[1])
        return ((lat, lon), changed) if changed else (coords, 0)
    if _in_range(coords):  # a ring or line of 100,000 points with nothing to clamp: as it is
        return coords, 0
    out: list[Any] = []
    n = 0
    for item in coords:
        kept, k = clamp_noise(item)
        out.append(kept)
        n += k
    return out, n


def _in_range(positions: Sequence[Any]) -> bool:
    """Whether ``positions`` is a list of ``[lat, lon]`` pairs all within their limits (nothing
    for ``clamp_noise`` to do), found without a call per point."""
    try:
        return bool(positions) and all(
            len(p) == 2 and -90.0 <= p[0] <= 90.0 and -180.0 <= p[1] <= 180.0 for p in positions
        )
    except (TypeError, LookupError):  # not pairs of numbers: each is looked at on its own
        return False
