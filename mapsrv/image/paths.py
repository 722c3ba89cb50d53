"""A line's or polygon's points as drawn: projected to world pixels at a zoom (at the drawing's
super-sampled size) and thinned to one point per pixel, and its extent; kept per feature, since
features are immutable values. A choropleth of every country at 1:50m (95,000 points) spent
two-thirds of each image projecting and thinning the same rings again (204 ms an image; 66 ms
with this, tests/bench/choropleth_image.py). A view only translates the kept path (by whole
pixels: the thinning stays the same)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from mapsrv.core import Feature
from mapsrv.core.geometry import parts
from mapsrv.image.projection import world_pixel

__all__ = ["extent", "feature_bounds", "world_path"]

MAX_KEPT = 50_000  # paths kept (a map's features at two zooms); all forgotten past it
_lock = threading.Lock()  # images are drawn in worker threads
_paths: dict[tuple[int, float, int], tuple[Any, list[tuple[float, float]]]] = {}
_extents: dict[int, tuple[Any, tuple[float, float, float, float]]] = {}


def world_path(coords: Any, zoom: float, scale: int) -> list[tuple[float, float]]:
    """``coords`` ((lat, lon) points) in world pixels at ``zoom`` times ``scale``, a point kept
    where it is at least ``scale`` from the last kept one (and the last when only one was)."""
    key = (id(coords), zoom, scale)
    with _lock:
        hit = _paths.get(key)
    if hit is not None and hit[0] is coords:
        return hit[1]
    out: list[tuple[float, float]] = []
    last = (0.0, 0.0)
    for lat, lon in coords:
        x, y = world_pixel(lat, lon, zoom)
        p = (x * scale, y * scale)
        if not out or abs(p[0] - last[0]) + abs(p[1] - last[1]) >= scale:
            out.append(p)
            last = p
    if len(coords) >= 2 and len(out) == 1:
        x, y = world_pixel(coords[-1][0], coords[-1][1], zoom)
        out.append((x * scale, y * scale))
    with _lock:
        if len(_paths) >= MAX_KEPT:
            _paths.clear()
        _paths[key] = (coords, out)  # the coords kept with it: their id is not reused meanwhile
    return out


def extent(coords: Any) -> tuple[float, float, float, float]:
    """south, west, north, east of ``coords`` ((lat, lon) points, at least one)."""
    key = id(coords)
    with _lock:
        hit = _extents.get(key)
    if hit is not None and hit[0] is coords:
        return hit[1]
    lats = [p[0] for p in coords]
    lons = [p[1] for p in coords]
    box = (min(lats), min(lons), max(lats), max(lons))
    with _lock:
        if len(_extents) >= MAX_KEPT:
            _extents.clear()
        _extents[key] = (coords, box)
    return box


def feature_bounds(features: Iterable[Feature]) -> tuple[float, float, float, float] | None:
    """South, west, north, east around ``features`` (every part; a circle's radius included),
    or None."""
    s = w = math.inf
    n = e = -math.inf
    for f in features:
        for s0, w0, n0, e0 in _boxes(f):
            s, n, w, e = min(s, s0), max(n, n0), min(w, w0), max(e, e0)
    return None if s == math.inf else (s, w, n, e)


def _boxes(f: Feature) -> Iterator[tuple[float, float, float, float]]:
    """The boxes a feature's parts fill: a line's, an area's outline's (its holes are inside it,
    kept per ring: ``extent``), a point's."""
    if f.type == "circle":
        lat, lon = f.coords
        dlat = (f.radius or 0) / 111_320
        dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
        yield (lat - dlat, lon - dlon, lat + dlat, lon + dlon)
        return
    if f.type == "rectangle":
        (south, west), (north, east) = f.coords
        yield (south, west, north, east)
        return
    for kind, value in parts(f.type, f.coords):
        if kind == "point":
            yield (value[0], value[1], value[0], value[1])
        else:
            yield extent(value if kind == "line" else value[0])
