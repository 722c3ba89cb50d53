"""A country's or a state's area for ``select``'s ``within``: its Natural Earth outline (1:50m
countries, 1:10m regions, the outlines ``import``'s join draws), reaching about 10 km out to sea
so that a port or a coastal capital a coarse coastline leaves in the water still counts, but never
into a neighbour (Badajoz stays in Spain, Reno in Nevada)."""

from __future__ import annotations

import functools
from typing import Any

import shapely

from mapsrv.places.boundaries import Boundary, country_outlines, find_country, find_region, region_outlines
from mapsrv.places.model import Place

__all__ = ["COAST_DEGREES", "outline_of", "warm_outlines"]

COAST_DEGREES = 0.1  # how far out to sea the area reaches (about 11 km of latitude)


def outline_of(place: Place) -> Any:
    """The area of a country or state ``place``, or None when it has no outline here."""
    if place.kind == "country" and place.country_code:
        return _area("country", place.country_code, "")
    if place.kind == "state":
        return _area("state", place.name, place.country_code.upper())
    return None


def warm_outlines() -> None:
    """Load and repair every country's outline now (blocking: call it in a worker), so that the
    first ``within`` a country finds them made (0.8-2.3 s of GEOS the first time)."""
    for boundary in country_outlines():
        _shape(boundary)


_shapes: dict[int, tuple[Boundary, Any]] = {}  # by id(boundary): the boundaries live as long as the process


def _shape(boundary: Boundary) -> Any:
    """The boundary's repaired shape, made once (each ``within`` looks at every neighbour's)."""
    held = _shapes.get(id(boundary))
    if held is None or held[0] is not boundary:
        polygons = [shapely.Polygon(outer, holes) for outer, *holes in boundary.polygons]
        held = _shapes[id(boundary)] = (boundary, shapely.make_valid(shapely.MultiPolygon(polygons)))
    return held[1]


@functools.lru_cache(maxsize=32)
def _area(kind: str, name: str, country: str) -> Any:
    """The ``kind`` (country or state) ``name`` grown by ``COAST_DEGREES`` less every neighbour:
    the other countries, and for a state the other regions of its ``country`` too. Cached by name:
    a boundary's rings are thousands of points, too many to hash on every question."""
    boundary = find_country(name) if kind == "country" else find_region(name, country)
    if not isinstance(boundary, Boundary):
        return None
    own = _shape(boundary)
    reach = own.buffer(COAST_DEGREES)
    west, south, east, north = reach.bounds
    others = [b for b in country_outlines() if b.code != (country or boundary.code)]
    if country:
        others += [b for b in region_outlines(country) if b is not boundary]
    near = []
    for other in others:
        shape = _shape(other)
        w, s, e, n = shape.bounds
        if w <= east and e >= west and s <= north and n >= south:
            near.append(shape)
    if near:
        reach = reach.difference(shapely.union_all(near))
    return shapely.union(reach, own)
