"""Finding places by name, near a point, or within a country; and the nearest place to a point."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from typing import Any

from mapsrv.core.model import LatLon, check_latlon, check_number
from mapsrv.errors import InvalidInput
from mapsrv.places.index import Gazetteer, Record, gazetteer, spots
from mapsrv.places.model import Match, Place, PlaceNotFound
from mapsrv.places.text import fold, to_ascii

__all__ = [
    "MAX_LIMIT",
    "MAX_OFFSET",
    "MAX_PLACES",
    "find_places",
    "haversine",
    "nearby_cities",
    "nearest_place",
    "point_of",
    "resolve_country",
    "resolve_place",
    "resolve_places",
]

MAX_LIMIT = 50  # places per find_places call
MAX_OFFSET = 400  # places a search pages on to, at most (the offline index ranks 400 a region)
MAX_PLACES = 100  # names per resolve_places call
MAX_QUERY = 200  # characters
_OWN_NAME_BONUS = 1.0  # a place's own name counts as ten times the population of an alternate
_PREFIX_PENALTY = 3.0
_PREFIX_SCAN = 400  # folded names read per prefix query, at most
_STATE_POPULATION = 100_000  # US states have none in the data; rank them below big namesake cities
_EARTH_RADIUS_M = 6_371_008.8
_KIND_ORDER = {"city": 0, "country": 1, "state": 2}
_SAME_SPOT = 2_000.0  # metres within which the nearest city yields to a bigger one


def resolve_country(country: Any) -> str:
    """The ISO 3166 alpha-2 code of a country given by code (``FR``, ``FRA``), English name
    (``France``) or a common alias (``UK``, ``Deutschland``)."""
    if not isinstance(country, str) or not country.strip():
        raise InvalidInput(
            f"country must be an ISO code (FR, FRA) or a name (France), got {country!r:.40}; or leave it out"
        )
    index = gazetteer()
    iso = index.countries.get(fold(country))
    if iso is None:
        close = difflib.get_close_matches(fold(country), list(index.countries), n=3, cutoff=0.75)
        names = sorted({index.country_names[index.countries[c]] for c in close})
        hint = f"; did you mean {' or '.join(names)}?" if names else ""
        raise InvalidInput(
            f"country {country!r:.40} is not known:"
            f" give an ISO code (FR, FRA) or an English name (France){hint}"
        )
    return iso


def find_places(query: Any, *, country: Any = None, near: Any = None, limit: Any = 5) -> list[Place]:
    """Places whose name, alternate name (``München``, ``Wien``, ``東京``) or name prefix matches
    ``query``, best first. Case, accents and punctuation do not matter. ``"Paris, TX"`` or
    ``"Paris, France"`` narrows to a US state or a country; ``country`` (code or name) does too;
    ``near`` (a ``[lat, lon]``) favours closer places. Raises :class:`PlaceNotFound`, with the
    closest names, when nothing matches."""
    if not isinstance(query, str) or not fold(query[: MAX_QUERY + 1]):
        raise InvalidInput(f"query must be a place name, got {query!r:.40}; e.g. 'Lisbon' or 'Paris, TX'")
    if len(query) > MAX_QUERY:
        raise InvalidInput(
            f"query must be at most {MAX_QUERY} characters, got {len(query)}; give just the name"
        )
    count = check_number("limit", limit, 1, MAX_LIMIT)
    if count != int(count):
        raise InvalidInput(f"limit must be a whole number, got {count:g}; e.g. 5")
    point = check_latlon("near", near) if near is not None else None
    index = gazetteer()
    iso = resolve_country(country) if country is not None else None
    key, iso, state = _qualifier(index, query, iso)
    best: dict[int, tuple[float, Match, str]] = {}
    for ref in index.lookup(key):
        _offer(best, ref >> 1, "alternate name" if ref & 1 else "name", key, _OWN_NAME_BONUS * (not ref & 1))
    if len(key) >= 2:
        for other, ref in index.prefixed(key, _PREFIX_SCAN):
            match: Match = "alternate prefix" if ref & 1 else "name prefix"
            _offer(best, ref >> 1, match, other, -_PREFIX_PENALTY + _OWN_NAME_BONUS * (not ref & 1))
    ranked: list[tuple[float, int, Match, str, float | None]] = []
    for i, (bonus, match, matched) in best.items():
        record = index.records[i]
        if (iso and record.country_code != iso) or (state and record.admin1 != state):
            continue
        score = bonus + math.log10(_population(record) + 1)
        metres = None
        if point is not None:
            metres = haversine(point, (record.lat, record.lon))
            score -= 2 * math.log10(1 + metres / 100_000)
        ranked.append((score, i, match, matched, metres))
    if not ranked:
        where = f" in {state}, US" if state else f" in {iso}" if iso else ""
        # near a point, the names to try are of its country: not a namesake's half a world away
        around = iso or (_country_at(index, point) if point is not None else None)
        raise PlaceNotFound(query, _suggest(index, key, around, state), where)
    # ties (a city-state and its city: Hong Kong, Singapore) go to the city, then to data order
    ranked.sort(key=lambda item: (-item[0], _KIND_ORDER[index.records[item[1]].kind], item[1]))
    return [
        _place(index, i, match, matched, score, metres)
        for score, i, match, matched, metres in ranked[: int(count)]
    ]


def resolve_place(name: Any, *, country: Any = None, near: Any = None) -> Place:
    """The one place a name most likely means: what a tool needs to draw "at Paris"."""
    return find_places(name, country=country, near=near, limit=1)[0]


def point_of(name: str) -> LatLon | None:
    """Where a name most likely is, or None when no place matches it (a spreadsheet's place
    column: its rows that do not resolve are reported, not an error)."""
    try:
        return find_places(name, limit=1)[0].latlon
    except (PlaceNotFound, InvalidInput):  # no such place, or a name that is no name (empty, too long)
        return None


def resolve_places(
    names: Any, *, country: Any = None, near: Any = None, field: str = "places"
) -> list[Place]:
    """The place each name most likely means, in order: the stops of a route in one call. An
    error names the item (``places[2]: no place matches 'Pariss'; closest names: Paris (FR)``)."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise InvalidInput(
            f"{field} must be a list of place names, got {type(names).__name__}; e.g. ['Lisbon', 'Porto']"
        )
    if not 1 <= len(names) <= MAX_PLACES:
        raise InvalidInput(f"{field} must hold 1 to {MAX_PLACES} names, got {len(names)}; split the list")
    if country is not None:
        resolve_country(country)
    if near is not None:
        check_latlon("near", near)
    places = []
    for i, name in enumerate(names):
        if not isinstance(name, str) or not fold(name):
            raise InvalidInput(f"{field}[{i}] must be a place name, got {name!r:.40}; e.g. 'Lisbon'")
        try:
            places.append(resolve_place(name, country=country, near=near))
        except PlaceNotFound as missing:
            raise PlaceNotFound(name, missing.suggestions, missing.where, f"{field}[{i}]") from None
    return places


def nearest_place(lat: Any, lon: Any, *, min_population: Any = 0) -> Place | None:
    """The city nearest to a point (of at least ``min_population`` people), with its distance;
    None only when no city qualifies. Cities within 2 km of the nearest count as equally near and
    the most populous wins, so central Paris is Paris and not one of its arrondissements."""
    point = check_latlon("point", [lat, lon])
    floor = check_number("min_population", min_population, 0, 1e10)
    index = gazetteer()
    lat, lon, population = spots()
    radius = 25_000.0
    while True:
        found = [
            (haversine(point, (lat[i], lon[i])), i)
            for i in _within(index, point, radius)
            if population[i] >= floor
        ]
        nearest = min(found, default=None)
        whole_earth = radius > math.pi * _EARTH_RADIUS_M
        if nearest is not None and (nearest[0] + _SAME_SPOT <= radius or whole_earth):
            near = [(m, i) for m, i in found if m <= nearest[0] + _SAME_SPOT]
            metres, i = max(near, key=lambda item: population[item[1]])
            return _place(index, i, "nearest", "", 0.0, metres)
        if whole_earth:
            return None
        radius *= 2


def nearby_cities(index: Gazetteer, point: LatLon, metres: float, min_population: int = 0) -> list[Place]:
    """The cities of at least ``min_population`` people within ``metres`` of ``point``."""
    lat, lon, population = spots()
    out = []
    for i in _within(index, point, metres):  # the cells hold cities only
        if population[i] >= min_population:
            away = haversine(point, (lat[i], lon[i]))
            if away <= metres:
                out.append(_place(index, i, "nearest", "", 0.0, away))
    return out


def _qualifier(index: Gazetteer, query: str, iso: str | None) -> tuple[str, str | None, str | None]:
    """``("paris", "US", "TX")`` from ``"Paris, TX"``: a trailing US state or country after a
    comma narrows the search, unless the whole text is itself a name."""
    key = fold(query)
    head, comma, tail = query.rpartition(",")
    head, tail = fold(head), fold(tail)
    if not comma or not head or index.lookup(key):
        return key, iso, None
    if tail in index.states and iso in (None, "US"):
        return head, "US", index.states[tail]
    if tail in index.countries and iso in (None, index.countries[tail]):
        return head, index.countries[tail], None
    return key, iso, None


def _offer(
    best: dict[int, tuple[float, Match, str]], i: int, match: Match, matched: str, bonus: float
) -> None:
    held = best.get(i)
    if held is None or bonus > held[0]:
        best[i] = (bonus, match, matched)


def _population(record: Record) -> int:
    return _STATE_POPULATION if record.kind == "state" else record.population


def _place(index: Gazetteer, i: int, match: Match, matched: str, score: float, metres: float | None) -> Place:
    r = index.records[i]
    return Place(
        name=r.name,
        ascii_name=to_ascii(r.name),
        kind=r.kind,  # type: ignore[arg-type]
        country_code=r.country_code,
        country=index.country_names.get(r.country_code, ""),
        admin1=r.admin1,
        state=index.state_names.get(r.admin1, "") if r.country_code == "US" else "",
        lat=r.lat,
        lon=r.lon,
        population=r.population,
        geonameid=r.geonameid,
        match=match,
        matched=matched,
        score=round(score, 3),
        distance_m=metres,
        bounds=r.bounds,
    )


def _country_at(index: Gazetteer, point: LatLon) -> str | None:
    nearest = nearest_place(point[0], point[1])
    return nearest.country_code if nearest is not None else None


def _suggest(index: Gazetteer, key: str, iso: str | None, state: str | None) -> list[str]:
    """Up to five display names close to ``key``, biggest places first (an error path: ~5 ms)."""
    pool = [k for n in range(max(1, len(key) - 2), len(key) + 3) for k in index.by_start.get((key[0], n), ())]
    close = difflib.get_close_matches(key, pool, n=12, cutoff=0.75)
    found: dict[str, int] = {}
    for other in close:
        for ref in index.lookup(other):
            record = index.records[ref >> 1]
            if not ref & 1 and iso in (None, record.country_code) and state in (None, record.admin1):
                label = record.name if record.kind == "country" else f"{record.name} ({record.country_code})"
                found[label] = max(found.get(label, 0), _population(record))
    return sorted(found, key=lambda label: -found[label])[:5]


def _within(index: Gazetteer, point: LatLon, metres: float) -> Iterator[int]:
    """Every city in the 1-degree cells a circle of ``metres`` around ``point`` touches."""
    angle = metres / _EARTH_RADIUS_M
    degrees = math.degrees(angle)
    south, north = max(-90.0, point[0] - degrees), min(89.999, point[0] + degrees)
    reach = math.sin(min(angle, math.pi / 2)) / max(1e-9, math.cos(math.radians(point[0])))
    rows = range(math.floor(south) + 90, math.floor(north) + 91)
    if point[0] + degrees >= 90.0 or point[0] - degrees <= -90.0 or reach >= 1:
        for row in rows:
            yield from index.rows.get(row, ())
        return
    # the widest longitude a circle of this radius spans is asin(sin r / cos lat)
    span = math.degrees(math.asin(reach))
    cols = [(col + 180) % 360 for col in range(math.floor(point[1] - span), math.floor(point[1] + span) + 1)]
    for row in rows:
        for col in cols:
            yield from index.cells.get(row * 360 + col, ())


def haversine(a: LatLon, b: LatLon) -> float:
    # ranking only: the sphere is within 0.5 % of the ellipsoid and ~50x cheaper than a geodesic
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
