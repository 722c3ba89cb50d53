"""A country's or a region's area for ``select``'s ``within``: named by code or name
(``mapsrv.places.areas``), its Natural Earth 1:10m borders (``mapsrv.places.borders``: true to
the data, islands included, reaching ~11 km out to sea but never into a neighbour). The map's own
country (where most of its points are) decides a code such as ``TX`` and a name two countries
share. Everything here reads files and builds shapes: call it from a worker thread."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely

from mapsrv.core.model import LatLon
from mapsrv.places.areas import NamedArea, read_area, region_in
from mapsrv.places.borders import borders, country_area, region_area
from mapsrv.places.model import Place

__all__ = ["Area", "area_named", "area_of", "map_country", "warm_outlines"]


@dataclass(frozen=True)
class Area:
    """The shape to test features against (lon, lat degrees, prepared) and what it is."""

    shape: Any
    named: NamedArea

    def to_json(self) -> dict[str, str]:
        return {"kind": self.named.kind, "name": self.named.name, "code": self.named.code}


def map_country(points: Sequence[LatLon]) -> str:
    """The country (ISO alpha-2) most of ``points`` are in, or "" for none."""
    return _country_of(tuple(points)) if points else ""


@functools.lru_cache(maxsize=64)  # a map's anchors, asked again per question (~3 ms of 4,596 regions)
def _country_of(points: tuple[LatLon, ...]) -> str:
    found = borders()
    lonlat = shapely.points([(lon, lat) for lat, lon in points])
    _, regions = found.tree.query(lonlat, predicate="within")
    counted = Counter(found.countries[i] for i in regions.tolist())
    return counted.most_common(1)[0][0] if counted else ""


def area_named(text: str, points: Sequence[LatLon] = ()) -> Area | None:
    """The area ``text`` names as a country or region, on a map of ``points``; None when it
    names neither (a city: the place resolver's)."""
    named = read_area(text, map_country(points))
    return _area(named) if named is not None else None


def area_of(place: Place) -> Area | None:
    """The area of a resolved ``place``: a country, a state, or the region a city's name also
    names in its country (the state of New York, of Washington); None for a place with none."""
    if place.kind == "country" and place.country_code:
        return _area(NamedArea("country", place.country_code, place.name, place.country_code))
    if place.kind in ("state", "city") and place.country_code:
        named = region_in(place.name, place.country_code)
        return _area(named) if named is not None else None
    return None


def _area(named: NamedArea) -> Area | None:
    shape = country_area(named.code) if named.kind == "country" else region_area(named.code)
    return Area(shape, named) if shape is not None else None


def warm_outlines() -> None:
    """Read the borders now (blocking: call it in a worker), so that the first ``within`` finds
    them loaded rather than reading the file then."""
    borders()
