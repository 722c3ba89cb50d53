"""Places by name, offline: the tools ``find_places`` and ``nearest_place``, and the place names
that ``draw``, ``set_view`` and ``measure`` accept wherever a point goes.

The gazetteer's index costs ~2 s of CPU and ~100 MB of RSS to build. It is built at the first
place lookup, in a worker thread (never at import, never on the event loop); lookups after that
take ~20 us and run inline.
"""

from __future__ import annotations

from typing import Annotated, Any

import trio
from mcp.types import CallToolResult
from pydantic import Field

from mapsrv.core.model import LatLon, check_latlon
from mapsrv.errors import InvalidInput
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.results import answer
from mapsrv.mcp.tools.schema import Lat, Lon
from mapsrv.places import MAX_LIMIT, Place, PlaceNotFound, gazetteer, resolve_place
from mapsrv.places import find_places as search
from mapsrv.places import nearest_place as nearest

__all__ = ["Resolver", "find_places", "nearest_place", "places_ready"]

_built = False


async def places_ready() -> None:
    """Build the gazetteer's index in a worker thread the first time a place is looked up."""
    global _built
    if not _built:
        await trio.to_thread.run_sync(gazetteer)
        _built = True


def _named(missing: PlaceNotFound, field: str, also: str = "") -> PlaceNotFound:
    """``missing`` naming the field it was given in, and saying what to do."""
    found = PlaceNotFound(missing.query, missing.suggestions, missing.where, field)
    found.message += (
        "; use one of those names" if missing.suggestions else "; check the spelling or add a country"
    ) + also
    found.args = (found.message,)
    return found


class Resolver:
    """Points given as ``[lat, lon]`` or as a place name, resolved once per name per call; it
    remembers what each name meant, for the answer."""

    def __init__(self) -> None:
        self.places: dict[str, Place] = {}

    @staticmethod
    def needed(values: Any) -> bool:
        """Whether any of ``values`` (or their nested lists) is a place name."""
        if isinstance(values, str):
            return True
        if isinstance(values, (list, tuple)):
            return any(Resolver.needed(v) for v in values)
        return False

    def place(self, field: str, name: str) -> Place:
        if name not in self.places:
            try:
                self.places[name] = resolve_place(name)
            except PlaceNotFound as missing:
                raise _named(missing, field, "; or give [lat, lon]") from None
            except InvalidInput as bad:
                raise InvalidInput(f"{field}: {bad.message}") from None
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

    def resolved(self) -> dict[str, list[Any]]:
        """What each name meant: ``{"Paris": [48.85341, 2.3488, "Paris, FR"]}``."""
        return {name: [round(p.lat, 4), round(p.lon, 4), p.label] for name, p in self.places.items()}


async def find_places(
    tc: ToolContext,
    query: Annotated[str, Field(description="a name in any common spelling; 'Paris, TX' narrows")],
    country: Annotated[str | None, Field(description="ISO code or name")] = None,
    near: Annotated[list[float] | None, Field(description="[lat, lon]: prefer places near it")] = None,
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 5,
) -> CallToolResult:
    """Find cities (15,000+ people), countries and US states by name, offline, biggest first."""
    await places_ready()
    try:
        found = search(query, country=country, near=near, limit=limit)
    except PlaceNotFound as missing:
        raise _named(missing, "query") from None
    return answer({"places": [p.to_json() for p in found]})


async def nearest_place(
    tc: ToolContext, lat: Lat, lon: Lon, min_population: Annotated[int, Field(ge=0)] = 0
) -> CallToolResult:
    """The city nearest to a point, with its distance."""
    await places_ready()
    place = nearest(lat, lon, min_population=min_population)
    if place is None:
        raise InvalidInput(
            f"min_population must be at most the biggest city's, got {min_population}; lower it"
        )
    return answer({"place": place.to_json()})
