"""What the resolver asks of a source of places beyond the built-in city list: the offline index
of an OpenStreetMap extract (``mapsrv places import``) and a geocoder service (``--geocoder``).

A source answers a :class:`Query` with candidates, best first, each a :class:`Place` whose
``source`` names it ("index" or "geocoder"), and a point with what is there. It never draws and
never decides between candidates: the resolver ranks every source's candidates together, in the
context of the call (``mapsrv.places.context``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mapsrv.core.model import LatLon
from mapsrv.errors import Unavailable
from mapsrv.places.model import Place

__all__ = ["PlaceSource", "Query", "SourceUnavailable"]


@dataclass(frozen=True)
class Query:
    """One search. ``text`` is what a person wrote ("Rua Augusta 24, Lisbon", "the Prado",
    "pharmacy"), or "" when ``category`` alone asks (the nearest pharmacies to ``near``).

    ``near`` favours candidates close to a point, ``within_m`` keeps only those at most that far
    from it (it needs ``near``), ``category`` keeps points of interest of one OSM key=value
    ("amenity=pharmacy") or of one value ("pharmacy", "viewpoint"), ``country`` (ISO 3166 alpha-2)
    keeps one country's. ``offset``: the answers before it were a page already given.
    """

    text: str = ""
    near: LatLon | None = None
    within_m: float | None = None
    category: str | None = None
    country: str | None = None
    limit: int = 5
    offset: int = 0


class SourceUnavailable(Unavailable):
    """A source did not answer in time, or answered something unreadable: nothing was drawn. The
    source's address is not in the message (agents need not know it; the server's log has it)."""

    def __init__(self, source: str, why: str, retry_after: int = 5) -> None:
        super().__init__(
            f"the {source} is unavailable ({why}); nothing was drawn. Retry shortly, or give [lat, lon]",
            retry_after=retry_after,
        )

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "retry_after": self.retry_after}


class PlaceSource(Protocol):
    name: str  # "index" or "geocoder": what an answer's ``source`` says

    async def search(self, query: Query) -> list[Place]:
        """Candidates for ``query``, best first (at most ``query.limit``); [] when none match.
        Raises SourceUnavailable when the source cannot answer."""
        ...

    async def reverse(self, at: LatLon, *, within_m: float = 200.0) -> Place | None:
        """The address (else the street, poi or place) at ``at``, with ``distance_m`` set; None
        when nothing is within ``within_m``."""
        ...

    async def aclose(self) -> None: ...
