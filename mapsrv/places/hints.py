"""What a name says about where it is, and the built-in list's candidates for it.

A name may carry a hint after its last comma: a country ("Córdoba, Spain"), a US state ("Cambridge,
MA"), a region ("London, Ontario", "Perth, WA") or another place ("Salamanca, Madrid"; "Rua
Augusta 24, Lisbon"). :func:`read_name` gives every reading of it, best first; the resolver takes
the first whose candidates exist. A city that lies within a much bigger one (GeoNames lists
districts as cities: Salamanca in Madrid, 148,000 people) is marked, so that a city of the name
wins over a district of another city that shares it (:func:`district_of`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from mapsrv.places.index import Gazetteer
from mapsrv.places.model import Place
from mapsrv.places.regions import Region, region_names, regions_named
from mapsrv.places.search import MAX_QUERY, find_places, nearby_cities, nearest_place
from mapsrv.places.text import fold, region_words

__all__ = [
    "DISTRICT_M",
    "DISTRICT_RATIO",
    "Reading",
    "builtin_candidates",
    "district_of",
    "prior",
    "read_name",
    "region_label",
]

DISTRICT_M = 10_000.0  # a city this close to one ...
DISTRICT_RATIO = 10  # ... this many times bigger is a district of it (Salamanca, Madrid: 3 km, 22x)
CANDIDATES = 8  # of one name, at most: more than a name ever has that matter


@dataclass(frozen=True)
class Reading:
    """One way to read a name: the name itself, and where its hint puts it."""

    text: str  # the name without its hint ("Cambridge")
    hint: str = ""  # the hint as written ("MA"), "" for none
    country: str | None = None  # ISO code the hint (or the call) names
    regions: tuple[Region, ...] = ()  # (country, admin1) pairs the hint may name
    near: Place | None = None  # the place the hint names ("Madrid")
    kinds: tuple[str, ...] = ()  # the kinds it may be: ("state",) for "New York State"

    def admits(self, place: Place) -> bool:
        if self.country and place.country_code != self.country:
            return False
        if self.kinds and place.kind not in self.kinds:
            return False
        return not self.regions or (place.country_code, place.admin1) in self.regions

    def takes(self, place: Place) -> bool:
        """``admits`` for the built-in list's places, ``admits_any`` for another source's."""
        return self.admits(place) if place.source == "builtin" else self.admits_any(place)

    def admits_any(self, place: Place) -> bool:
        """For another source's places, whose regions are not GeoNames' codes: the country only.
        A place that names no country (an extract's seldom do, and a continent's are given none)
        is in the country of the built-in list's city nearest to it."""
        countries = {iso for iso in (self.country, *(iso for iso, _ in self.regions)) if iso}
        if self.kinds and place.kind not in self.kinds:
            return False
        if not countries:
            return True
        if place.country_code:
            return place.country_code in countries
        nearest = nearest_place(place.lat, place.lon)
        return nearest is None or nearest.country_code in countries


def read_name(index: Gazetteer, text: str, country: str | None = None) -> list[Reading]:
    """Every reading of ``text``: the whole text as a name always comes last, so "Paris, TX"
    is first Paris in Texas, and a name with a comma of its own ("Washington, D.C.") still is
    found whole. The labels mapsrv answers read back as their places: a name, a hint and a
    country ("Cambridge, Ontario, CA", "Kallio, Helsinki, FI"), and a state said as one ("New
    York State", "State of New York", "New York State, US": the state, where "New York" alone is
    the city)."""
    readings = _readings(index, text, country)
    out = []
    for reading in readings:
        inner = region_words(reading.text)
        out.append(replace(reading, text=inner, kinds=("state",)) if inner else reading)
    return out


def _readings(index: Gazetteer, text: str, country: str | None) -> list[Reading]:
    whole = Reading(text.strip(), country=country)
    head, comma, tail = text.rpartition(",")
    head, tail = head.strip(), tail.strip()
    if not comma or not fold(head) or not fold(tail) or len(text) > MAX_QUERY:
        return [whole]
    key = fold(tail)
    readings: list[Reading] = []
    if key in index.states and country in (None, "US"):
        readings.append(Reading(head, tail, "US", (("US", index.states[key]),)))
    regions = tuple(r for r in regions_named(index, tail) if country in (None, r[0]))
    if regions:
        readings.append(Reading(head, tail, country, regions))
    iso = index.countries.get(key)
    if iso is not None and country in (None, iso):
        if "," in head:  # a label: "Cambridge, Ontario, CA" is Cambridge in Ontario, in Canada
            readings += _readings(index, head, iso)[:-1]
        readings.append(Reading(head, tail, iso))
    if not readings:
        try:
            near = find_places(tail, country=country, limit=1)[0]
        except Exception:  # no such place (PlaceNotFound), or no name at all (InvalidInput)
            near = None
        if near is not None and fold(near.name) != fold(head):
            readings.append(Reading(head, tail, country, near=near))
    return [*readings, whole]


def builtin_candidates(index: Gazetteer, reading: Reading) -> tuple[list[Place], bool]:
    """The built-in list's places for a reading, biggest first, and whether they match its name
    exactly (own or alternate name); a name that matches none exactly gets its prefix matches."""
    try:
        found = find_places(reading.text, limit=CANDIDATES * 4)
    except Exception:  # PlaceNotFound or InvalidInput: the caller reports the name as a whole
        return [], False
    found = [p for p in found if reading.admits(p)]
    exact = [p for p in found if p.match in ("name", "alternate name")]
    return (exact[:CANDIDATES], True) if exact else (found[:CANDIDATES], False)


def district_of(index: Gazetteer, place: Place) -> Place | None:
    """The much bigger city ``place`` lies in, when it is a district of one, else None."""
    if place.kind != "city" or place.source != "builtin":
        return None
    bigger = nearby_cities(index, place.latlon, DISTRICT_M, DISTRICT_RATIO * max(1, place.population))
    return max(bigger, key=lambda p: p.population, default=None)


def region_label(index: Gazetteer, place: Place) -> str:
    """``"Cambridge, Ontario, CA"``, ``"Springfield, MA, US"``, ``"Salamanca, Madrid, ES"``: a
    label that tells namesakes apart and that the resolver reads back; a state whose name a
    city shares, said as one: ``"New York State, US"`` (``"New York, US"`` is the city)."""
    if place.kind == "state" and place.source == "builtin":
        cities = builtin_candidates(index, Reading(place.name, country="US", kinds=("city",)))[0]
        return f"{place.name} State, US" if cities else place.label
    if place.kind != "city" or place.source != "builtin":
        return place.label
    district = district_of(index, place)
    if district is not None:
        return f"{place.name}, {district.name}, {place.country_code}"
    region = region_names(index).get((place.country_code, place.admin1))
    if region is not None and fold(place.name) not in fold(region):  # not "Madrid, Community of Madrid"
        return f"{place.name}, {region}, {place.country_code}"
    return place.label


def prior(place: Place) -> float:
    """How likely a name means this place before anything else is known: the score its source
    gave (log10 of the population, +1 for its own name, for the built-in list)."""
    return place.score if math.isfinite(place.score) else 0.0
