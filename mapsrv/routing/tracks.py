"""A GPS track put on the roads (``import`` with ``snap``): where along the road's line each
recorded point was matched, and the track's times carried onto that line.

The router answers the road's line and, for each recorded point, the edge of the line it was
matched to and the matched place. ``positions`` turns those into metres along the line (never
backwards: a track goes one way). ``retime`` gives each point of the road's line a time: linear
in distance between the two matched recorded points around it (constant speed between fixes),
the first fix's time before it and the last one's after it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence

from mapsrv.core.model import LatLon

__all__ = ["along_m", "positions", "retime", "seconds"]

_EARTH_M = 6_371_008.8


def _xy(point: LatLon, lat0: float) -> tuple[float, float]:
    """Metres east and north (equirectangular about ``lat0``: exact enough along one edge)."""
    return (
        math.radians(point[1]) * _EARTH_M * math.cos(math.radians(lat0)),
        math.radians(point[0]) * _EARTH_M,
    )


def along_m(shape: Sequence[LatLon]) -> list[float]:
    """Metres from the start of ``shape`` to each of its points."""
    out = [0.0]
    for a, b in itertools.pairwise(shape):
        (ax, ay), (bx, by) = _xy(a, a[0]), _xy(b, a[0])
        out.append(out[-1] + math.hypot(bx - ax, by - ay))
    return out


def positions(
    shape: Sequence[LatLon],
    edges: Sequence[tuple[int, int]],
    matched: Sequence[tuple[int, LatLon] | None],
) -> tuple[float | None, ...]:
    """Metres along ``shape`` of each matched point ``(edge index, place)``: its projection on
    the edge's part of the shape, never before the previous point's."""
    cumulative = along_m(shape)
    last = len(shape) - 1
    out: list[float | None] = []
    floor = 0.0
    for item in matched:
        if item is None or not 0 <= item[0] < len(edges):
            out.append(None)
            continue
        begin, end = edges[item[0]]
        begin, end = max(0, min(begin, last)), max(0, min(end, last))
        best = (math.inf, cumulative[begin])
        for i in range(begin, max(end, begin + 1)):
            if i + 1 > last:
                break
            gap, at = _project(item[1], shape[i], shape[i + 1])
            best = min(best, (gap, cumulative[i] + at * (cumulative[i + 1] - cumulative[i])))
        floor = max(floor, best[1])
        out.append(floor)
    return tuple(out)


def _project(p: LatLon, a: LatLon, b: LatLon) -> tuple[float, float]:
    """How far ``p`` is from segment ab (m), and where along it (0 to 1) it is nearest."""
    (px, py), (ax, ay), (bx, by) = _xy(p, a[0]), _xy(a, a[0]), _xy(b, a[0])
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - ax - t * dx, py - ay - t * dy), t


def seconds(text: str | None) -> float | None:
    """An ISO 8601 time as seconds since 1970 (UTC when it names no zone); None if it is none."""
    if not isinstance(text, str):
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _text(seconds: float) -> str:
    when = dt.datetime.fromtimestamp(round(seconds), dt.UTC)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def retime(
    times: Sequence[str | None], at_m: Sequence[float | None], shape: Sequence[LatLon]
) -> list[str] | None:
    """A time (ISO 8601, UTC, whole seconds) for each point of ``shape`` from the recorded
    ``times`` of the track's points, matched ``at_m`` metres along it; None when fewer than one
    matched point has a time."""
    fixes = sorted(
        (m, s)
        for m, s in ((m, seconds(t)) for m, t in zip(at_m, times, strict=False))
        if m is not None and s is not None
    )
    if not fixes:
        return None
    out: list[str] = []
    k = 0
    for metres in along_m(shape):
        while k + 1 < len(fixes) and fixes[k + 1][0] <= metres:
            k += 1
        (m0, s0) = fixes[k]
        if metres <= m0 or k + 1 == len(fixes):
            out.append(_text(s0))
            continue
        m1, s1 = fixes[k + 1]
        out.append(_text(s0 + (s1 - s0) * (metres - m0) / (m1 - m0)))
    return out
