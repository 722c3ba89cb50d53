"""The offline world basemap: the countries of Natural Earth (public domain) at two scales, as
shipped in ``mapsrv/places/world`` (TopoJSON from world-atlas; ``scripts/natural-earth.sh``
fetches and checks them, ``NOTICE`` says where they come from).

``countries(scale)`` decodes one scale once per process (1:110m: 177 countries, ~30 ms; 1:50m:
241, ~0.2 s) into polygons of (lon, lat) rings with their bounding boxes, for the map image; a
ring across the 180th meridian comes as its pieces on either side (``across_date_line``).
The page decodes the same files itself (``/static/world/...``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

from mapsrv.core.json_pieces import load_path
from mapsrv.core.pace import paced

__all__ = [
    "BORDERS_FILE",
    "DIRECTORY",
    "FILES",
    "REACHES_FILE",
    "REGIONS_FILE",
    "Country",
    "Ring",
    "Scale",
    "across_date_line",
    "countries",
    "decode_arcs",
    "ring",
    "scale_for_zoom",
]

DIRECTORY = Path(__file__).resolve().parent / "world"  # package data (setup.cfg)
REGIONS_FILE = "admin1.json"  # the 1:10m first-level regions simplified to ~2 km (``boundaries``)
BORDERS_FILE = "admin1-borders.npz"  # the 1:10m first-level regions (``borders``; scripts/admin1.py)
REACHES_FILE = "admin1-reaches.npz"  # what each of them reaches out to sea (``borders``; scripts/reaches.py)
Scale = Literal["110m", "50m"]
FILES: dict[Scale, str] = {"110m": "countries-110m.json", "50m": "countries-50m.json"}
DETAILED_FROM_ZOOM = 4  # the 1:50m outlines from this zoom on; 1:110m looks coarse closer in

Ring = tuple[tuple[float, float], ...]  # (lon, lat) points, closed


@dataclass(frozen=True)
class Country:
    name: str
    polygons: tuple[tuple[Ring, ...], ...]  # each: its outer ring, then its holes
    bbox: tuple[float, float, float, float]  # west, south, east, north
    code: str = ""  # ISO 3166-1 numeric as world-atlas gives it ("250"); "" for Kosovo, Somaliland...


def scale_for_zoom(zoom: float) -> Scale:
    return "50m" if zoom >= DETAILED_FROM_ZOOM else "110m"


@functools.cache
def countries(scale: Scale = "110m") -> tuple[Country, ...]:
    """Every country of that scale's file, decoded (cached for the process)."""
    topology = load_path(DIRECTORY / FILES[scale], depth=2)  # in pieces: see json_pieces
    arcs = decode_arcs(topology)
    out = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        kind = geometry.get("type")
        if kind == "Polygon":
            shapes = [geometry["arcs"]]
        elif kind == "MultiPolygon":
            shapes = geometry["arcs"]
        else:
            continue  # a country without a shape in this cut
        polygons: list[tuple[Ring, ...]] = []
        for shape in shapes:
            outer, *holes = (ring(arcs, indexes) for indexes in shape)
            for index, piece in enumerate(across_date_line(outer)):  # its holes with the first
                polygons.append((piece, *holes) if index == 0 else (piece,))
        points = [p for polygon in polygons for p in polygon[0]]
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        name = str((geometry.get("properties") or {}).get("name", ""))
        code = str(geometry.get("id", ""))
        out.append(Country(name, tuple(polygons), (min(lons), min(lats), max(lons), max(lats)), code))
    return tuple(out)


def decode_arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """TopoJSON arcs: quantized, each position a delta from the one before (TopoJSON spec 2.1.3)."""
    transform = topology.get("transform")
    if transform is None:
        return [[(float(x), float(y)) for x, y, *_ in arc] for arc in topology["arcs"]]
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    decoded = []
    for arc in paced(topology["arcs"]):  # steps: a worker decoding them gives the loop way
        x = y = 0
        points = []
        for dx, dy, *_ in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        decoded.append(points)
    return decoded


def ring(arcs: list[list[tuple[float, float]]], indexes: list[int]) -> Ring:
    """One ring from its arcs: a negative index ``~i`` is arc ``i`` reversed; each arc after the
    first starts where the last one ended, so its first point is dropped."""
    points: list[tuple[float, float]] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    return tuple(points)


def _clip_at_180(points: list[tuple[float, float]], east: bool) -> Ring:
    """Sutherland-Hodgman against the meridian 180 (unwrapped longitudes): the part east of it,
    moved back by 360, or the part west of it."""
    out: list[tuple[float, float]] = []
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
        in0, in1 = (x0 >= 180) == east or x0 == 180, (x1 >= 180) == east or x1 == 180
        if in0:
            out.append((x0 - 360 if east else x0, y0))
        if in0 != in1:
            y = y0 + (180 - x0) * (y1 - y0) / (x1 - x0)
            out.append((-180.0 if east else 180.0, y))
    return tuple(out)


def across_date_line(points: Ring) -> list[Ring]:
    """A ring that crosses the antimeridian (Russia's Chukotka, Fiji) as two, one on each side,
    so a flat map (Leaflet, the map image) draws no band across the world. A ring around a pole
    (Antarctica's: it crosses once) stays as it is."""
    jumps = sum(abs(b[0] - a[0]) > 180 for a, b in pairwise(points))
    if jumps == 0 or jumps % 2:
        return [points]
    unwrapped, shift = [points[0]], 0.0
    for (x0, _), (x1, y1) in pairwise(points):
        if x1 - x0 > 180:
            shift -= 360
        elif x0 - x1 > 180:
            shift += 360
        unwrapped.append((x1 + shift, y1))
    if min(x for x, _ in unwrapped) < -180:  # went west of -180: the same, seen from the other side
        unwrapped = [(x + 360, y) for x, y in unwrapped]
    return [
        part for part in (_clip_at_180(unwrapped, False), _clip_at_180(unwrapped, True)) if len(part) >= 3
    ]
