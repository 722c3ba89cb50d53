"""The one place resolver the tools, the page and the image share: the built-in city list, plus
the offline index of imported extracts and a geocoder service when there are any.

Order (issue 43): coordinates, then the index and the geocoder, then the built-in city list;
exact before fuzzy. Each answer says which source placed a name (``Place.source``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import trio
from shapely.geometry.base import BaseGeometry

from mapsrv.core.model import LatLon
from mapsrv.errors import InvalidInput
from mapsrv.observability.collector import PROCESS
from mapsrv.places.borders import borders
from mapsrv.places.boundaries import Boundary, joins_loaded
from mapsrv.places.context import Candidate, Choice, Context, choose
from mapsrv.places.hints import builtin_candidates, district_of, prior, read_name, region_label
from mapsrv.places.index import Gazetteer, gazetteer
from mapsrv.places.model import Place, PlaceNotFound
from mapsrv.places.nominatim import NominatimGeocoder, identify
from mapsrv.places.offline import OfflineIndex
from mapsrv.places.offline_areas import MOST_INSIDE, IndexArea, area_rank, areas_at, as_boundary
from mapsrv.places.search import MAX_LIMIT, MAX_QUERY, find_places, haversine, nearest_place
from mapsrv.places.shape_file import KEPT_POINTS
from mapsrv.places.sources import PlaceSource, Query, SourceUnavailable
from mapsrv.places.stored import found_file
from mapsrv.places.text import fold
from mapsrv.places.urls import check_geocoder_url
from mapsrv.workers import Background, run

__all__ = ["Found", "Located", "PlaceService", "Resolution", "check_limit", "place_service_for"]

_EXACT = ("name", "alternate name", "address")  # matches that are the name, not a part of it
_ARTICLES = ("the ",)  # "the Prado": a name people write with an article its data has not

log = logging.getLogger("mapsrv.places")


class PlaceService:
    """Every source of places a server has; ``sources`` in the order they are asked."""

    def __init__(self, sources: Sequence[PlaceSource] = ()) -> None:
        self.sources = tuple(sources)
        self._built = False
        self.warmed = False  # warm() has loaded all it loads (/ready says so)

    def describe(self) -> str:
        """For the start-up line: where names are looked up."""
        names = [s.describe() if hasattr(s, "describe") else s.name for s in self.sources]
        return "places from " + ", ".join([*names, "the built-in city list"])

    def knows_more(self) -> bool:
        """Whether a source beyond the built-in list can answer now: a region imported (while
        serving too), or a geocoder."""
        return any(not isinstance(s, OfflineIndex) or s.has_regions() for s in self.sources)

    def holds_extracts(self) -> bool:
        """Whether an extract is imported now (its areas and boundaries: ``area_named``)."""
        return any(isinstance(s, OfflineIndex) and s.has_regions() for s in self.sources)

    async def ready(self, background: Background | None = None) -> None:
        """Open the built-in list's places file in a worker thread, once (~20 ms; on a machine's
        first start, the file is written first: ``mapsrv.places.stored``, ~6 s in a process of
        its own)."""
        if not self._built:
            with PROCESS.keeping():
                await run("index", gazetteer, background=background)
            self._built = True

    async def warm(self, background: Background | None = None) -> None:
        """What a first question would open, opened now in a worker (at start, in the background:
        ``workers.Background``, a caller's question lets it run at full pace): the places file.
        The outlines a join or a name reads (``boundaries.py``) are read from it per question."""
        await self.ready(background)
        self.warmed = True

    def loaded(self) -> dict[str, Any]:
        """What of the built-in places this process holds (``/ready``'s ``memory``): the places
        file read per question, the outlines kept prepared of the bound, the join outlines."""
        found = found_file()
        out: dict[str, Any] = {"places_file_mb": round(found.stat().st_size / 2**20, 1) if found else 0}
        if borders.cache_info().currsize:
            kept, points = borders().shapes.kept()
            out |= {"outlines_kept": kept, "outline_points_kept": points, "outline_points_bound": KEPT_POINTS}
        out["join_outlines_loaded"] = joins_loaded()
        return out

    async def lookup(self, query: Query) -> Found:
        """Every source's candidates for ``query``, best first: the index's and the geocoder's,
        then the built-in list's cities (for a name; a category alone is the sources' only). A
        source that cannot answer is skipped and named in ``unavailable``: a geocoder down does
        not take the offline sources' answers with it. When it leaves nothing, its
        SourceUnavailable is raised: the search could not be answered. A name is read as the
        resolver reads it (``hints.read_name``): "Kallio, Helsinki", the labels answered here
        ("Cambridge, Ontario, CA") and "New York State" find what they name."""
        await self.ready()
        text = query.text.strip() if query.text and query.category is None else ""
        readings = read_name(gazetteer(), text, query.country) if text else []
        if len(readings) > 1 or (readings and readings[0].kinds):
            for reading in readings:  # each reading's places as many as a page, then those it admits
                near = reading.near.latlon if reading.near is not None else query.near
                where = reading.country or query.country
                asked = replace(query, text=reading.text, country=where, near=near, offset=0, limit=MAX_LIMIT)
                try:
                    found = await self._lookup(asked)
                except PlaceNotFound:
                    continue
                kept = [p for p in found.places if reading.takes(p)]
                if query.near is None:  # the hint ranked them; nobody asked how far they are from it
                    kept = [replace(p, distance_m=None) for p in kept]
                if kept:
                    page = kept[query.offset : query.offset + query.limit]
                    return Found(page, found.unavailable, len(kept), found.complete)
        return await self._lookup(query)

    async def _lookup(self, query: Query) -> Found:
        found: list[Place] = []
        unavailable: list[SourceUnavailable] = []
        wanted = query.offset + query.limit
        asked = replace(query, offset=0, limit=wanted)  # a page is cut from every source's best
        count, complete, kind = 0, True, False
        for source in self.sources:
            try:
                if isinstance(source, OfflineIndex):
                    ranked = await source.search_page(asked)
                    answers, complete = ranked.places, complete and ranked.complete
                    kind = kind or ranked.kind  # "pharmacy" is a kind: no city is near it
                    count += ranked.count - len(answers)
                else:
                    answers = await source.search(asked)
                    complete = complete and len(answers) < wanted
            except SourceUnavailable as exc:
                unavailable.append(exc)
                continue
            found += answers
            if isinstance(source, OfflineIndex) and query.text and query.category is None:
                areas = await source.area_places(query, wanted)  # a district, a park
                found, complete = found + areas, complete and len(areas) < wanted  # counted in found
        if query.text and query.category is None and not kind:
            try:
                cities = find_places(
                    query.text, country=query.country, near=query.near, limit=min(wanted, MAX_LIMIT)
                )
                found += cities
                complete = complete and len(cities) < wanted
            except PlaceNotFound:
                if not found and not unavailable:
                    raise
        if query.within_m is not None and query.near is not None:
            found = [p for p in found if p.distance_m is None or p.distance_m <= query.within_m]
        if not found and unavailable:
            raise unavailable[0]
        distinct = _distinct(found)
        return Found(distinct[query.offset : wanted], tuple(unavailable), count + len(distinct), complete)

    async def resolve(
        self,
        names: Sequence[str],
        context: Context = Context(),
        *,
        near: LatLon | None = None,
        country: str | None = None,
    ) -> Resolution:
        """The place each of ``names`` most likely means, chosen together: the other names, the
        map's points (``context``), each name's hint and ``near`` rank its candidates
        (``mapsrv.places.context``). A name nothing matches is in ``missing``, not raised: the
        caller names the field it came from."""
        await self.ready()
        index = gazetteer()
        named: dict[str, list[Candidate]] = {}
        missing: dict[str, InvalidInput | PlaceNotFound] = {}
        for name in dict.fromkeys(names):
            try:
                named[name] = await self._candidates(index, name, near, country)
            except (InvalidInput, PlaceNotFound) as exc:
                missing[name] = exc
        return Resolution(choose(named, context), missing)

    async def _candidates(
        self, index: Gazetteer, name: str, near: LatLon | None, country: str | None
    ) -> list[Candidate]:
        if not fold(name[: MAX_QUERY + 1]):
            raise InvalidInput(f"a place name must have letters, got {name!r:.40}; e.g. 'Lisbon'")
        if len(name) > MAX_QUERY:
            raise InvalidInput(f"a place name must be at most {MAX_QUERY} characters, got {len(name)}")
        text = name.strip()
        landmark = text.casefold().startswith(_ARTICLES)  # "the Prado": a landmark, never a town
        if landmark:
            text = text[4:]
        fuzzy: list[Candidate] = []
        for reading in read_name(index, text, country):
            hint = reading.near.latlon if reading.near is not None else near
            places, exact = builtin_candidates(index, reading) if not landmark else ([], False)
            found = [_candidate(index, p, hint) for p in places]
            if not exact:
                fuzzy += found
                found = []
            asked = Query(reading.text, near=hint, country=reading.country, limit=8)
            areas: list[Place] = []  # an imported extract's districts and parks of that name
            for source in self.sources:
                if source.name == "geocoder" and found:
                    continue  # the network only for what the local sources do not know exactly
                answers = [p for p in await source.search(asked) if reading.admits_any(p)]
                found += [_candidate(index, p, hint) for p in answers if p.match in _EXACT]
                fuzzy += [_candidate(index, p, hint) for p in answers if p.match not in _EXACT]
                if isinstance(source, OfflineIndex) and source.has_regions() and not landmark:
                    named = await source.area_places(asked, 8)
                    areas += [p for p in named if p.match in _EXACT and reading.admits_any(p)]
            found = _located(index, found, areas, hint)
            if found:
                return _best_first(found)
        if fuzzy:
            return _best_first(fuzzy)
        if not landmark:
            find_places(text, country=country)  # raises PlaceNotFound with the closest names
        raise PlaceNotFound(name, [], self._unknown_kinds())

    def _unknown_kinds(self) -> str:
        if self.knows_more():
            return ""
        return (
            " (this server knows cities, countries and US states; addresses, streets and landmarks"
            " need an imported region, `mapsrv places import`, or --geocoder)"
        )

    def label(self, place: Place) -> str:
        """A label that tells namesakes apart and reads back as the same place:
        ``"Cambridge, Ontario, CA"``, ``"Salamanca, Madrid, ES"``."""
        return region_label(gazetteer(), place)

    async def locate(self, at: LatLon, *, within_m: float = 200.0, min_population: int = 0) -> Located:
        """The address or place at ``at`` from the first source that knows one, else the nearest
        city of the built-in list (None: none has ``min_population``), and the sources that could
        not answer: a geocoder down still gives the offline index's address."""
        await self.ready()
        unavailable: list[SourceUnavailable] = []
        if min_population == 0:
            for source in self.sources:
                try:
                    place = await source.reverse(at, within_m=within_m)
                except SourceUnavailable as exc:
                    unavailable.append(exc)
                    continue
                if place is not None:
                    return Located(place, tuple(unavailable))
        return Located(nearest_place(at[0], at[1], min_population=min_population), tuple(unavailable))

    async def area_named(self, text: str, points: Sequence[LatLon] = ()) -> IndexArea | None:
        """The imported extracts' area ``text`` names (a city's boundary, a district, a park);
        None when none has that name. Of several, one whose box holds a point of the map's
        (``points``) first, then administrative ones, the biggest (lowest admin_level) first."""
        found: list[IndexArea] = []
        for source in self.sources:
            if isinstance(source, OfflineIndex) and source.has_regions():
                found += await source.areas_named(text)
        if not found:
            return None
        found.sort(key=area_rank)
        held = [a for a in found if any(_inside(p, a.box) for p in points)]
        return (held or found)[0]

    async def inside(self, at: LatLon) -> list[IndexArea]:
        """The imported areas that hold ``at``, smallest first: the building or station a point
        stands in, then its park or district, then its city (``offline_areas.areas_at``)."""
        found: list[IndexArea] = []
        for source in self.sources:
            if isinstance(source, OfflineIndex) and source.has_regions():
                found += await run("index", source.areas_of, lambda r: areas_at(r.db, at, r.region))
        found.sort(key=lambda a: (a.box[2] - a.box[0]) * (a.box[3] - a.box[1]))
        return found[:MOST_INSIDE]

    async def outline(self, area: IndexArea) -> BaseGeometry:
        """The outline (lon, lat) of an area ``area_named`` gave, valid and prepared."""
        index = next(s for s in self.sources if isinstance(s, OfflineIndex))
        return await index.outline(area)

    def join_area(self, text: str) -> Boundary | None:
        """Blocking (an import's worker): the imported area ``text`` names, as the outline a table
        joined by regions gets when no region has that name; None for none."""
        indexes = [s for s in self.sources if isinstance(s, OfflineIndex) and s.has_regions()]
        found = sorted((a for index in indexes for a in index.areas_named_now(text)), key=area_rank)
        return as_boundary(found[0], indexes[0].outline_now(found[0])) if found else None

    async def aclose(self) -> None:
        for source in self.sources:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await source.aclose()


def place_service_for(
    places_dir: Path, geocoder: str = "", geocoder_timeout: float = 10.0, public_url: str = ""
) -> PlaceService:
    """The resolver a server's settings name: the offline index of the regions imported into
    ``places_dir`` (now or while it serves), then the geocoder at ``geocoder`` ("" or "none": none),
    asked as ``public_url``'s mapsrv."""
    sources: list[PlaceSource] = [OfflineIndex(places_dir)]  # regions imported while serving too
    if geocoder not in ("", "none"):
        url = check_geocoder_url(geocoder)
        sources.append(NominatimGeocoder(url, geocoder_timeout, user_agent=identify(public_url)))
    return PlaceService(sources)


@dataclass(frozen=True)
class Found:
    """What a search found, best first, and the sources that could not answer it."""

    places: list[Place]
    unavailable: tuple[SourceUnavailable, ...] = ()
    count: int = 0  # how many it found in all (``places`` is the page asked for)
    complete: bool = True  # else there are at least ``count``


@dataclass(frozen=True)
class Located:
    """What is at a point (None: nothing with ``min_population`` that big), and the sources that
    could not answer."""

    place: Place | None
    unavailable: tuple[SourceUnavailable, ...] = ()


@dataclass(frozen=True)
class Resolution:
    """What a call's names were taken to mean (``choices``) and the names nothing matches."""

    choices: dict[str, Choice] = field(default_factory=dict)
    missing: dict[str, InvalidInput | PlaceNotFound] = field(default_factory=dict)


def _candidate(index: Gazetteer, place: Place, hint: LatLon | None) -> Candidate:
    return Candidate(place, prior(place), district_of(index, place) is not None, hint)


def _located(
    index: Gazetteer, found: list[Candidate], areas: list[Place], hint: LatLon | None
) -> list[Candidate]:
    """``found`` with an imported extract's ``areas`` of the name: a built-in place one of them is
    (Kallio, the district) at the area's point, as ``find_places`` answers it, with the built-in
    place's likelihood; the others as places of their own. One name, one place in every tool."""
    out = [
        replace(c, place=area) if c.place.source == "builtin" and area is not None else c
        for c in found
        for area in [next((a for a in areas if _same(c.place, a)), None)]
    ]
    return out + [_candidate(index, a, hint) for a in areas if not any(_same(a, c.place) for c in found)]


def _best_first(found: list[Candidate]) -> list[Candidate]:
    """One candidate per place (two sources of one city: the likelier), likeliest first."""
    found.sort(key=lambda c: -c.prior)
    kept: list[Candidate] = []
    for candidate in found:
        if not any(_same(candidate.place, k.place) for k in kept):
            kept.append(candidate)
    return kept[:8]


def _distinct(places: list[Place]) -> list[Place]:
    """One of each place: two sources naming the same place within 1 km give the first."""
    out: list[Place] = []
    for place in places:
        if not any(_same(place, kept) for kept in out):
            out.append(place)
    return out


def _same(a: Place, b: Place) -> bool:
    if a.kind in ("address", "poi") or b.kind in ("address", "poi"):
        # one source's two pois of one name are two (a chain's branches); two sources' one
        return a.source != b.source and a.name == b.name and haversine(a.latlon, b.latlon) < 100
    return a.name.casefold() == b.name.casefold() and haversine(a.latlon, b.latlon) < 1_000


def _inside(point: LatLon, box: tuple[float, float, float, float]) -> bool:
    s, w, n, e = box
    return s <= point[0] <= n and w <= point[1] <= e


def check_limit(limit: object, most: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= most:
        raise InvalidInput(f"limit must be a whole number from 1 to {most}, got {limit!r:.20}")
    return limit
