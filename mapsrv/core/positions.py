"""Positions as agents and pages give them: a ``[lat, lon]`` pair and a box of two, checked
exactly (a file's reader clamps float noise itself, ``mapsrv.core.model.NOISE``). Below both
``model`` and ``geometry``, which check every point through these."""

from __future__ import annotations

from typing import Any, TypeAlias

from mapsrv.core.values import number as _number
from mapsrv.core.values import shown
from mapsrv.errors import InvalidInput

__all__ = ["Bounds", "LatLon", "check_bounds", "check_latlon"]

LatLon: TypeAlias = tuple[float, float]
Bounds: TypeAlias = tuple[LatLon, LatLon]


def check_latlon(name: str, value: Any) -> LatLon:
    """A ``[lat, lon]`` pair, in range (exactly: a file's reader clamps ``NOISE`` itself). An
    error shows the value with all its digits: 180.0000001 must not read as 180."""
    if (type(value) is tuple or type(value) is list) and len(value) == 2:
        lat, lon = value
        if type(lat) is float and type(lon) is float and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0:
            return (lat, lon)  # what the checks below return for it, without their names
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise InvalidInput(
            f"{name} must be a [lat, lon] pair, got {value!r:.60}; give two numbers, e.g. [48.85, 2.35]"
        )
    lat = _number(f"{name} latitude", value[0])
    lon = _number(f"{name} longitude", value[1])
    if not -90.0 <= lat <= 90.0:
        if -90.0 <= lon <= 90.0 and -180.0 <= lat <= 180.0:
            hint = f"this looks like [lon, lat]: swap them to [{shown(lon)}, {shown(lat)}]"
        else:
            hint = "latitude is degrees north (+) or south (-) of the equator"
        raise InvalidInput(f"{name} latitude must be between -90 and 90, got {shown(lat)}; {hint}")
    if not -180.0 <= lon <= 180.0:
        fix = "subtract 360 east of 180" if lon > 180 else "add 360 west of -180"
        raise InvalidInput(f"{name} longitude must be between -180 and 180, got {shown(lon)}; {fix}")
    return (lat, lon)


def check_bounds(name: str, value: Any) -> Bounds:
    """``[[south, west], [north, east]]`` with south <= north and west <= east."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise InvalidInput(
            f"{name} must be [[south, west], [north, east]], got {value!r:.60};"
            " e.g. [[48.8, 2.2], [48.9, 2.5]]"
        )
    sw = check_latlon(f"{name} south-west", value[0])
    ne = check_latlon(f"{name} north-east", value[1])
    if sw[0] > ne[0]:
        # the box as meant: both corners swapped (north-east first) is the commonest slip
        west, east = sorted((sw[1], ne[1])) if sw[1] > ne[1] else (sw[1], ne[1])
        also = " (and west with east)" if sw[1] > ne[1] else ""
        box = f"[[{shown(ne[0])}, {shown(west)}], [{shown(sw[0])}, {shown(east)}]]"
        raise InvalidInput(
            f"{name} south must be at most north, got south {shown(sw[0])} and north {shown(ne[0])};"
            f" swap them{also}: {box}"
            f" (south {shown(sw[0])} is north of north)"
        )
    if sw[1] > ne[1]:
        raise InvalidInput(
            f"{name} west must be at most east, got west {shown(sw[1])} and east {shown(ne[1])}"
            f" (bounds west {shown(sw[1])} is east of east {shown(ne[1])}); swap them,"
            " or split a box across the 180th meridian in two (wrapping boxes are not supported)"
        )
    return (sw, ne)
