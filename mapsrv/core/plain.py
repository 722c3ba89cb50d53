"""The plain path for a file's long rings: a list of positions read in one loop when every one is
a pair of plain numbers in range, so that no message is built per point; ``None`` when any is not
(then the caller checks each on its own and names the bad one). Below ``geometry`` and
``geojson``, which take this path first; tests/core/test_geometry.py holds both paths to the same
answer."""

from __future__ import annotations

from typing import Any

__all__ = ["plain_latlons", "plain_swapped"]

_PLAIN = (float, int)  # not bools, strings or subclasses: those take the per-point check


def plain_latlons(value: list[Any]) -> tuple[tuple[float, float], ...] | None:
    """``[lat, lon]`` pairs as ``check_latlon`` gives them, each in range (NaN and integers too
    big for a float are not)."""
    out: list[tuple[float, float]] = []
    append = out.append
    for p in value:
        if (type(p) is not list and type(p) is not tuple) or len(p) != 2:
            return None
        lat, lon = p
        if type(lat) not in _PLAIN or type(lon) not in _PLAIN:
            return None
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            return None
        append((float(lat), float(lon)))
    return tuple(out)


def plain_swapped(positions: list[Any], noise: float) -> list[tuple[Any, Any]] | None:
    """GeoJSON ``[lon, lat, ...]`` positions as ``(lat, lon)``, when every latitude is within
    ``noise`` of its range (so none looks swapped: that is the per-point reader's to say). Pairs
    as tuples and the bounds worked out once: a list per point made this 2.7 times slower."""
    out: list[tuple[Any, Any]] = []
    append = out.append
    south, north = -90 - noise, 90 + noise
    for p in positions:
        if type(p) is not list or len(p) < 2:
            return None
        lon, lat = p[0], p[1]
        if type(lon) not in _PLAIN or type(lat) not in _PLAIN or not south <= lat <= north:
            return None
        append((lat, lon))
    return out
