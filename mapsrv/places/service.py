"""The one place resolver the tools, the page and the image share: the built-in city list, plus
the offline index of imported extracts and a geocoder service when there are any.

Order (issue 43): coordinates, then the index and the geocoder, then the built-in city list;
exact before fuzzy. Each answer says which source placed a name (``Place.source``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import trio

from mapsrv.core.model import LatLon
from mapsrv.errors import InvalidInput
from mapsrv.places.index import gazetteer
from mapsrv.places.model import Place, PlaceNotFound
from mapsrv.places.search import find_places, nearest_place
from mapsrv.places.sources import PlaceSource, Query

__all__ = ["PlaceService", "check_limit"]

log = logging.getLogger("mapsrv.places")


class PlaceService:
    """Every source of places a server has; ``sources`` in the order they are asked."""

    def __init__(self, sources: Sequence[PlaceSource] = ()) -> None:
        self.sources = tuple(sources)
        self._built = False

    def describe(self) -> str:
        """For the start-up line: where names are looked up."""
        names = [s.name for s in self.sources] + ["the built-in city list"]
        return "places from " + ", ".join(names)

    async def ready(self) -> None:
        """Build the built-in list's index in a worker thread, once (~2 s of CPU)."""
        if not self._built:
            await trio.to_thread.run_sync(gazetteer)
            self._built = True

    async def search(self, query: Query) -> list[Place]:
        """Every source's candidates for ``query``, best first: the index's and the geocoder's,
        then the built-in list's cities (for a name; a category alone is the sources' only)."""
        await self.ready()
        found: list[Place] = []
        for source in self.sources:
            found += await source.search(query)
        if query.text and query.category is None:
            try:
                found += find_places(query.text, country=query.country, near=query.near, limit=query.limit)
            except PlaceNotFound:
                if not found:
                    raise
        if query.within_m is not None and query.near is not None:
            found = [p for p in found if p.distance_m is None or p.distance_m <= query.within_m]
        return _distinct(found)[: query.limit]

    async def reverse(self, at: LatLon, *, within_m: float = 200.0, min_population: int = 0) -> Place | None:
        """The address or place at ``at`` from the first source that knows one, else the nearest
        city of the built-in list."""
        await self.ready()
        if min_population == 0:
            for source in self.sources:
                place = await source.reverse(at, within_m=within_m)
                if place is not None:
                    return place
        return nearest_place(at[0], at[1], min_population=min_population)

    async def aclose(self) -> None:
        for source in self.sources:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await source.aclose()


def _distinct(places: list[Place]) -> list[Place]:
    """One of each place: two sources naming the same place within 1 km give the first."""
    out: list[Place] = []
    for place in places:
        if not any(_same(place, kept) for kept in out):
            out.append(place)
    return out


def _same(a: Place, b: Place) -> bool:
    from mapsrv.places.search import haversine

    if a.kind in ("address", "poi") or b.kind in ("address", "poi"):
        return a.name == b.name and haversine(a.latlon, b.latlon) < 100
    return a.name.casefold() == b.name.casefold() and haversine(a.latlon, b.latlon) < 1_000


def check_limit(limit: object, most: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= most:
        raise InvalidInput(f"limit must be a whole number from 1 to {most}, got {limit!r:.20}")
    return limit
