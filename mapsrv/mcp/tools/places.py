"""Places by name: the tools ``find_places`` and ``nearest_place``, and the place names, addresses
and landmarks that ``draw``, ``set_view`` and ``measure`` accept wherever a point goes, all through
the server's one resolver (``mapsrv.places.service``): the offline index of imported regions, a
geocoder, the built-in city list.

The built-in list's index costs ~2 s of CPU and ~100 MB of RSS to build. It is built at the first
place lookup, in a worker thread (never at import, never on the event loop); lookups after that
take ~20 us and run inline.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import trio
from mcp.types import CallToolResult
from pydantic import Field

from mapsrv.core.kept import Kept
from mapsrv.core.model import LatLon, MapState, check_latlon
from mapsrv.errors import InvalidInput, MapsrvError
from mapsrv.mcp.tools.asking import ask_unsure
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.pages import cursor_for, read_cursor
from mapsrv.mcp.tools.results import answer
from mapsrv.mcp.tools.schema import Lat, Lon, PlaceOrPoint
from mapsrv.places import MAX_LIMIT, Place, PlaceNotFound, resolve_country, resolve_place
from mapsrv.places.context import Context
from mapsrv.places.coverage import coverage_note, region_boxes
from mapsrv.places.offline import OfflineIndex
from mapsrv.places.offline_words import describe_categories, match_categories
from mapsrv.places.search import MAX_OFFSET, haversine
from mapsrv.places.service import PlaceService, Resolution
from mapsrv.places.sources import Query

__all__ = ["MAX_WITHIN_KM", "OUTLINED", "Resolver", "find_places", "map_anchors", "nearest_place"]


def _named(missing: PlaceNotFound, field: str, also: str = "") -> PlaceNotFound:
    """``missing`` naming the field it was given in, and saying what to do."""
    found = PlaceNotFound(missing.query, missing.suggestions, missing.where, field)
    found.message += (
        "; use one of those names" if missing.suggestions else "; check the spelling or add a country"
    ) + also
    found.args = (found.message,)
    return found


_ANCHORS = 100  # points of a map a call's names are ranked near, at most (a sample of a big map)
_VIEW_PX = 1_000  # a view at a zoom is taken as this wide in pixels (of 256 a tile)
_EQUATOR_KM = 40_075.0


_KEPT_ANCHORS = 16  # maps whose anchors are kept, most recently asked
_anchors: Kept[tuple[str, int], MapState, Context] = Kept(_KEPT_ANCHORS)


def map_anchors(state: MapState) -> Context:
    """Where a map already is: its view's centre and a sample of its features' points. Kept per
    map version: listing a 100,000-feature map's features to sample them takes ~6 ms, and each
    ``within`` or name on that map asks again."""
    return _anchors.made((state.id, state.version), state, lambda: _sampled(state))


def _sampled(state: MapState) -> Context:
    points: list[LatLon] = []
    span: float | None = None  # the view across, km: a map of Toronto is a local trip's scale
    view = state.view
    if view is not None and view.center is not None:
        points.append(view.center)
        if view.zoom is not None:
            across = _EQUATOR_KM * math.cos(math.radians(view.center[0])) / 2**view.zoom
            span = across * _VIEW_PX / 256
    elif view is not None and view.bounds is not None:
        (south, west), (north, east) = view.bounds
        points.append(((south + north) / 2, (west + east) / 2))
        span = haversine((south, west), (north, east)) / 1000
    features = list(state.features.values())
    step = max(1, len(features) // _ANCHORS)
    cells: set[tuple[int, int]] = set()
    for feature in features[::step]:
        coords = feature.points()
        if coords:
            point = coords[len(coords) // 2]
            # one point per ~10 km cell: a city's many features rank a name as one point does
            cell = (round(point[0] * 10), round(point[1] * 10))
            if cell not in cells:
                cells.add(cell)
                points.append(point)
    return Context(tuple(points), span)


class Resolver:
    """Points given as ``[lat, lon]`` or as a place name. :meth:`open` resolves every name of a
    call at once, in context (the call's other names, the map); ``place`` then answers from that,
    and remembers what each name meant, for the answer."""

    def __init__(self, service: PlaceService | None = None, resolution: Resolution | None = None) -> None:
        self.service = service or PlaceService()
        self.resolution = resolution or Resolution()
        self.places: dict[str, Place] = {}
        self.outlines: dict[str, Any] = {}  # areas drawn by name (``area_items``), found beforehand

    @classmethod
    async def open(
        cls,
        tc: ToolContext,
        values: Any,
        map_id: str | None = None,
        *,
        near: Any = None,
        country: Any = None,
    ) -> Resolver:
        """Every place name in ``values`` (nested lists too) resolved together, ranked near the
        map ``map_id`` when given, ``near`` (a point or a place) and within ``country``."""
        names = list(_names(values))
        if not names and near is None:
            return cls(tc.places)
        await tc.places.ready()
        point = None
        if near is not None:
            point = (await cls.open(tc, near)).point("near", near)
        iso = resolve_country(country) if country is not None else None
        context = Context()
        if map_id is not None and names:
            context = map_anchors((await tc.entry(map_id)).state)
        resolution = await tc.places.resolve(names, context, near=point, country=iso)
        return cls(tc.places, await ask_unsure(tc.asker, tc.places, resolution))

    def place(self, field: str, name: str) -> Place:
        if name not in self.places:
            missing = self.resolution.missing.get(name)
            if isinstance(missing, PlaceNotFound):
                raise _named(missing, field, "; or give [lat, lon]")
            if missing is not None:
                raise InvalidInput(f"{field}: {missing.message}")
            choice = self.resolution.choices.get(name)
            if choice is not None:
                self.places[name] = choice.place
            else:  # a name the call did not give to open(): the built-in list alone
                try:
                    self.places[name] = resolve_place(name)
                except PlaceNotFound as not_found:
                    raise _named(not_found, field, "; or give [lat, lon]") from None
        return self.places[name]

    def point(self, field: str, value: Any) -> LatLon:
        if isinstance(value, str):
            return self.place(field, value).latlon
        return check_latlon(field, value)

    def points(self, field: str, values: Any) -> list[LatLon]:
        if not isinstance(values, list):
            raise InvalidInput(
                f"{field} must be a list of [lat, lon] points or place names, got {values!r:.40};"
                ' e.g. ["Lisbon", [41.15, -8.61]]'
            )
        return [self.point(f"{field}[{i}]", value) for i, value in enumerate(values)]

    def resolved(self) -> dict[str, Any]:
        """What each name meant, for the answer: ``{"places": {"Paris": [48.85341, 2.3488, "Paris,
        FR"]}}``, with the source when not the built-in list (``..., "index"]``), the other
        places that share a name (``alternatives``: label and km from the one taken) and a
        ``note`` when nothing decided between close ones."""
        out: dict[str, Any] = {}
        placed: dict[str, list[Any]] = {}
        alternatives: dict[str, list[list[Any]]] = {}
        unsure: list[str] = []
        for name, place in self.places.items():
            choice = self.resolution.choices.get(name)
            shared = choice is not None and bool(choice.alternatives)
            # a shared name's label tells it from its namesakes: "Cambridge, Ontario, CA"
            label = self.service.label(place) if shared or place.kind == "state" else place.label
            entry: list[Any] = [round(place.lat, 5), round(place.lon, 5), label]
            if place.source != "builtin":
                entry.append(place.source)
            placed[name] = entry
            if choice is None or not shared:
                continue
            alternatives[name] = [[self.service.label(p), round(km)] for p, km in choice.alternatives]
            if choice.close:
                unsure.append(name)
        out["places"] = placed
        if alternatives:
            out["alternatives"] = alternatives
        if unsure:
            out["note"] = (
                f"{', '.join(unsure)}: several places have that name and nothing in the call or on the map"
                " decided; took the likeliest. To change it, draw again with a label from alternatives"
                " (or [lat, lon])"
            )
        return out


def _names(values: Any) -> Iterator[str]:
    if isinstance(values, str):
        yield values
    elif isinstance(values, (list, tuple)):
        for value in values:
            yield from _names(value)


MAX_WITHIN_KM = 500.0  # a search around a point reaches at most this far


OUTLINED = ("area", "country", "state")  # kinds whose outline ``draw`` draws by name (area_items)


async def find_places(
    tc: ToolContext,
    query: Annotated[  # "" with category alone (the tool's schema asks for one of them)
        str, Field(description="name, address or kind: 'Rua Augusta 24', 'cafes'")
    ] = "",
    category: Annotated[str | None, Field(description="only: 'pharmacy', 'amenity=cafe'")] = None,
    near: Annotated[PlaceOrPoint | None, Field(description="closest first")] = None,
    within_km: Annotated[float | None, Field(gt=0, le=MAX_WITHIN_KM, description="only this close")] = None,
    country: Annotated[str | None, Field(description="ISO code or name")] = None,
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 5,
    cursor: str | None = None,  # the answer's cursor when its list was cut: the next page
) -> CallToolResult:
    """Find places, addresses, streets and POIs by name or kind, best first (closest first with
    near)."""
    if not isinstance(query, str) or (not query.strip() and not category):
        raise InvalidInput(
            f"query must be a name, address or kind of place, got {query!r:.40}; e.g. 'Lisbon'"
            " (or give category alone)"
        )
    if (category or within_km is not None) and near is None:
        raise InvalidInput(
            "near is required with category or within_km, got none; give a place or [lat, lon]"
            " (e.g. near: 'Rua Augusta 24, Lisbon')"
        )
    if category and not tc.places.knows_more():
        raise InvalidInput(
            f"category {category!r:.40} needs points of interest and this server has none: its operator"
            " imports a region (mapsrv places import) or sets --geocoder"
        )
    if category:
        await _check_category(tc, category)
    asked_for = [query, category, near, within_km, country]
    offset = read_cursor(cursor, asked_for)
    resolver = await Resolver.open(tc, near) if near is not None else None
    at = resolver.point("near", near) if resolver is not None else None
    named = resolver.places.get(near) if resolver is not None and isinstance(near, str) else None
    iso = resolve_country(country) if country is not None else None
    asked = Query(
        text=query,
        near=at,
        within_m=None if within_km is None else within_km * 1000,
        category=category,
        country=iso,
        limit=limit,
        offset=offset,
    )
    try:
        found = await tc.places.lookup(asked)
    except PlaceNotFound as missing:
        raise _named(missing, "query") from None
    places = found.places
    out: dict[str, Any] = {"places": [_found(tc, p) for p in places]}
    shown = offset + len(places)
    if found.count > shown or offset:
        out["count"] = found.count if found.complete else f"at least {found.count}"
        if found.count > shown and shown < MAX_OFFSET + MAX_LIMIT and places:  # an empty page: the end
            out["cursor"] = cursor_for(shown, asked_for)
            out["note"] = (
                f"places {offset + 1} to {shown} of {out['count']}; give cursor for the next {limit}"
            )
        elif found.count > shown or not found.complete:  # as deep as a search goes: say why no cursor
            out["note"] = (
                f"places {offset + 1} to {shown} of {out['count']}; a search goes no deeper than this:"
                " narrow it (near, within_km, country, category) to see the rest"
            )
    if not places:
        kind = category or query
        where = f" within {within_km:g} km of near" if within_km else ""
        out["note"] = f"no {kind!s:.40} found{where}" + ("; widen within_km" if within_km else "")
    if found.unavailable:
        out["unavailable"] = _unavailable(found.unavailable)
    area = (named.name, _box(named.bounds)) if named is not None and named.bounds is not None else None
    if at is not None and (said := await _coverage(tc, at, within_km, places, "near", area)):
        out["coverage"] = said
    return answer(out)


def _found(tc: ToolContext, place: Place) -> dict[str, Any]:
    """One answer of ``find_places``; an area (an extract's district or park, a country, a state)
    with the ``draw`` item that draws its outline, to pass to ``draw`` as it is."""
    out = {**place.to_json(), "label": tc.places.label(place)}
    if place.kind in OUTLINED:
        out["draw"] = {"type": "polygon", "bounds": place.name, "label": place.name}
    return out


def _box(bounds: tuple[LatLon, LatLon]) -> tuple[float, float, float, float]:
    (south, west), (north, east) = bounds
    return (west, south, east, north)


async def _coverage(
    tc: ToolContext,
    at: LatLon,
    within_km: float | None,
    places: Sequence[Place],
    what: str,
    area: tuple[str, tuple[float, float, float, float]] | None = None,
) -> str | None:
    """What the answer says when its circle (``within_km``, or out to its farthest place) runs past
    an imported region's edge, or lies outside every one, or the regions hold only part of the
    ``area`` named (``mapsrv.places.coverage``)."""
    directories = [s.directory for s in tc.places.sources if isinstance(s, OfflineIndex)]
    if not directories:
        return None
    boxes = [b for d in directories for b in await trio.to_thread.run_sync(region_boxes, d)]
    farthest = max((p.distance_m or 0.0 for p in places), default=0.0) / 1000
    return coverage_note(at[0], at[1], within_km if within_km is not None else farthest, boxes, what, area)


async def _check_category(tc: ToolContext, category: str) -> None:
    """Refuses a category no imported region has, naming those it has (the geocoder's are its own)."""
    if any(not isinstance(s, OfflineIndex) for s in tc.places.sources):
        return
    known: list[tuple[str, int]] = []
    for source in tc.places.sources:
        if isinstance(source, OfflineIndex):
            known += await source.categories()
    if not match_categories(category, [c for c, _ in known]):
        raise InvalidInput(
            f"category {category!r:.40} is not a kind of place the imported regions have; they have"
            f" {describe_categories(known)} (or give key=value, e.g. 'amenity=cafe')"
        )


def _level(level: int | None) -> dict[str, int]:
    return {} if level is None else {"admin_level": level}


def _unavailable(failed: Sequence[MapsrvError]) -> str:
    """What the answer lacks when a source could not answer (its message names no address)."""
    said = failed[0].message.split(";")[0]  # "the geocoder is unavailable (no answer within 10 s)"
    return f"{said}; this answer is from the other sources only, retry shortly for the rest"


async def nearest_place(
    tc: ToolContext, lat: Lat, lon: Lon, min_population: Annotated[int, Field(ge=0)] = 0
) -> CallToolResult:
    """The address or place at a point (the nearest city when nothing closer is known, or with
    min_population), with its distance."""
    point = check_latlon("point", [lat, lon])
    located = await tc.places.locate(point, min_population=min_population)
    place = located.place
    if place is None:
        raise InvalidInput(
            f"min_population must be at most the biggest city's, got {min_population}; lower it"
        )
    out: dict[str, Any] = {"place": {**place.to_json(), "label": tc.places.label(place)}}
    if inside := await tc.places.inside(point):  # the building, station, park or district it is in
        out["inside"] = [{"name": a.name, "kind": a.kind} | _level(a.admin_level) for a in inside]
    if located.unavailable:
        out["unavailable"] = _unavailable(located.unavailable)
    if said := await _coverage(tc, point, None, [place], "the point"):
        out["coverage"] = said
    return answer(out)
