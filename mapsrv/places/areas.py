"""Which country or first-level region a name means when an area is asked for (``select``'s
``within``): by ISO 3166-2 code (``US-NY``), ISO 3166-1 alpha-2 or alpha-3 code (``FR``,
``USA``), a region's postal code in the map's country (``TX`` on a map of the US), a name
(``Texas``, ``New York State``, ``State of Washington``, ``Texas, US``), or a country name.

A name that is both a city and a region means the region (``New York``, ``Washington``,
``Wyoming``): a city has no area to test points against. The exception is a big city whose name
is only another name of a much smaller region (``London`` is the City of London's English name):
that name is left to the place resolver, as a city. Regions of the map's own country come
before countries (``Georgia`` on a map of the US is the state, elsewhere the country).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from mapsrv.places.boundaries import Boundary, find_country, find_region, is_own_name, regions_named
from mapsrv.places.model import PlaceNotFound
from mapsrv.places.search import find_places
from mapsrv.places.text import fold, region_words

__all__ = ["NamedArea", "read_area", "region_in"]

_BIG_CITY = 1_000_000  # a city at least this big keeps its name from a region that only borrows it
_KNOWN_CITY = 300_000  # a city this big abroad keeps its name from a region with no context (Portland)


@dataclass(frozen=True)
class NamedArea:
    """A country (``code`` ISO 3166-1 alpha-2) or a region (``code`` ISO 3166-2), its name."""

    kind: Literal["country", "region"]
    code: str
    name: str
    country: str  # ISO 3166-1 alpha-2: the country itself, or the region's

    @property
    def label(self) -> str:
        return self.name if self.kind == "country" else f"{self.name}, {self.code}"


@functools.lru_cache(maxsize=1024)
def read_area(text: str, country: str = "") -> NamedArea | None:
    """The country or region ``text`` names, ``country`` (ISO alpha-2: the map's) deciding a
    region's code or a name two countries share; None when it names neither (a city, a street:
    the place resolver's)."""
    text = " ".join(text.split())
    if not text:
        return None
    head, _, tail = text.rpartition(",")
    if head and tail.strip():
        named = find_country(tail)
        if isinstance(named, Boundary) and named.code:
            return _region(head, named.code, any_name=True)
        return None  # "Paris, TX": a city in a region
    words = region_words(text)
    if words:  # the map's country's region first, else the one anywhere
        return (
            _region(words, country, any_name=True) or (country and _region(words, "", any_name=True)) or None
        )
    code = find_region(text) if re.fullmatch(r"[A-Za-z]{2}-[A-Za-z0-9]{1,3}", text) else None
    if isinstance(code, Boundary):
        return _as_region(code)
    if country:
        found = _region(text, country, any_name=False)
        if found is not None:
            return found
    named = find_country(text)
    if isinstance(named, Boundary) and named.code:
        return NamedArea("country", named.code, named.name, named.code)
    found = _region(text, "", any_name=False)
    if found is None or _city_elsewhere(text, found.country):
        return None  # Portland: Oregon's city, not Jamaica's parish
    return found


def region_in(text: str, country: str) -> NamedArea | None:
    """The region of ``country`` whose own name or code ``text`` is: the state a city's name
    (New York, Washington) also names."""
    return _region(text, country, any_name=False)


def _region(text: str, country: str, *, any_name: bool) -> NamedArea | None:
    """The region ``text`` names (in ``country`` when given): by any of its names when the
    caller said it means a region, else by its own name or code only, and not a big city's.
    Of namesakes in one country (Washington: the state, and D.C.'s English name), the one whose
    name it is."""
    found = find_region(text, country)
    if isinstance(found, str):
        own = [r for r in regions_named(text) if fold(r.name) == fold(text)]
        if len(own) != 1 or country not in ("", own[0].code.partition("-")[0]):
            return None
        found = own[0]
    if not any_name and (not is_own_name(found, text) or _big_city_named(text, found)):
        return None
    return _as_region(found)


def _city_elsewhere(text: str, country: str) -> bool:
    """Whether a city of ``_KNOWN_CITY`` people outside ``country`` has exactly this name."""
    try:
        cities = find_places(text, limit=5)
    except PlaceNotFound:
        return False
    return any(
        c.kind == "city"
        and c.country_code != country
        and c.population >= _KNOWN_CITY
        and c.match in ("name", "alternate name")
        for c in cities
    )


def _big_city_named(text: str, region: Boundary) -> bool:
    """Whether a big city in the region's country has this name while the region's own name
    differs (London: the City of London's English name)."""
    if fold(region.name) == fold(text):
        return False
    try:
        cities = find_places(text, country=region.code.partition("-")[0], limit=3)
    except PlaceNotFound:
        return False
    return any(c.kind == "city" and c.population >= _BIG_CITY and c.match == "name" for c in cities)


def _as_region(region: Boundary) -> NamedArea:
    return NamedArea("region", region.code, region.name, region.code.partition("-")[0])
