"""Where an area's label goes, the twin of the page's static/inside.js: the pole of inaccessibility
of its largest part (the point inside it farthest from its outline and holes, by Shapely's
polylabel: never in a hole, out of a bay or on an island), and how much room a label box has
around it. Web Mercator world pixels at zoom 0, as drawn: a point there is inside at every zoom,
and a box w x h px at zoom z is w / 2^z x h / 2^z of them."""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.ops import polylabel

from mapsrv.image.projection import MAX_LAT, TILE

__all__ = ["area", "inner_point", "length", "mercator", "room_at"]

MAX_KEPT = 50_000  # poles kept (a map's features); all forgotten past it
_lock = threading.Lock()  # images are drawn in worker threads
_inner: dict[tuple[int, ...], tuple[Any, tuple[float, float]]] = {}


def inner_point(rings: Any) -> tuple[float, float]:
    """A polygon's (``rings``: its outline, then its holes) point farthest inside it, in world
    pixels at zoom 0, found to 1/1000 of its size by Shapely's polylabel. Kept per polygon: the
    largest parts of the 241 countries at 1:50m take ~90 ms in all, once."""
    key = tuple(map(id, rings))  # the rings are the feature's, the tuple of them may be new
    with _lock:
        hit = _inner.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], rings, strict=True)):
        return hit[1]
    drawn = [mercator(ring) for ring in rings]
    polygon: Any = shapely.Polygon(drawn[0], drawn[1:])
    if not polygon.is_valid:  # a ring that crosses itself: its biggest piece, as drawn
        pieces = [g for g in shapely.get_parts(shapely.make_valid(polygon)) if g.area > 0]
        polygon = max(pieces, key=lambda g: g.area) if pieces else polygon
    west, south, east, north = polygon.bounds
    size = max(east - west, north - south)
    if not isinstance(polygon, shapely.Polygon) or size <= 0:
        point: tuple[float, float] = ((west + east) / 2, (south + north) / 2)
    else:
        found = polylabel(polygon, size / 1000)
        point = (float(found.x), float(found.y))
    with _lock:
        if len(_inner) >= MAX_KEPT:
            _inner.clear()
        _inner[key] = (tuple(rings), point)
    return point


def mercator(ring: Any) -> NDArray[np.float64]:
    """Every (lat, lon) point of ``ring`` as world pixels at zoom 0, at once."""
    lat_lon = np.asarray(ring, dtype=float)
    sin = np.sin(np.radians(np.clip(lat_lon[:, 0], -MAX_LAT, MAX_LAT)))
    x = (lat_lon[:, 1] + 180.0) / 360.0 * TILE
    y = (0.5 - np.log((1 + sin) / (1 - sin)) / (4 * math.pi)) * TILE
    return np.column_stack([x, y])


def area(ring: Any) -> float:
    """A ring's area in world pixels² at zoom 0 (what puts a larger area's label first)."""
    xy = mercator(ring)
    x, y = xy[:, 0], xy[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def length(line: Any) -> float:
    """A line's length in world pixels at zoom 0."""
    xy = mercator(line)
    return float(np.hypot(*np.diff(xy, axis=0).T).sum())


def room_at(rings: Any, x: float, y: float, half_w: float, half_h: float) -> float:
    """How much room a label box has at (x, y) (world pixels at zoom 0) inside ``rings``: the
    largest s for which the box of half-width ``half_w * s`` and half-height ``half_h * s``
    centred there crosses no ring; a box ``2 half_w`` x ``2 half_h`` px at zoom z fits when
    2^-z <= s. The least, over every edge, of the edge's distance from the point in the box's
    own metric, max(|dx| / half_w, |dy| / half_h): found at an end of the edge, where dx or dy
    is 0, or where |dx| = |dy| (the metric is piecewise linear along an edge)."""
    best = math.inf
    for ring in rings:
        xy = mercator(ring)
        a = np.column_stack([(xy[:, 0] - x) / half_w, (xy[:, 1] - y) / half_h])
        b = np.roll(a, -1, axis=0)
        d = b - a
        ts = [np.zeros(len(a)), np.ones(len(a))]
        with np.errstate(divide="ignore", invalid="ignore"):
            ts.append(-a[:, 0] / d[:, 0])
            ts.append(-a[:, 1] / d[:, 1])
            ts.append((a[:, 1] - a[:, 0]) / (d[:, 0] - d[:, 1]))
            ts.append(-(a[:, 0] + a[:, 1]) / (d[:, 0] + d[:, 1]))
        for t in ts:
            ok = np.isfinite(t) & (t >= 0) & (t <= 1)
            if not ok.any():
                continue
            tt = t[ok][:, None]
            p = a[ok] + d[ok] * tt
            best = min(best, float(np.abs(p).max(axis=1).min()))
    return best
