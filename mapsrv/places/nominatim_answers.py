"""What a Nominatim answers, read into places: each result's kind (city, street, address, shop),
its short address and its distance from the point asked about; results that are not what was
asked (another category) or that repeat one already kept are left out."""

from __future__ import annotations

from typing import Any

from mapsrv.core.model import LatLon
from mapsrv.places.model import Match, Place, PlaceKind
from mapsrv.places.search import haversine
from mapsrv.places.sources import Query
from mapsrv.places.text import fold, to_ascii

__all__ = ["kept", "place_of"]

# where a house number comes before the street ("24 Main Street"); elsewhere after it
_NUMBER_FIRST = frozenset("AU CA FR GB IE IL LU NZ US ZA".split())
_LOCALITY = ("city", "town", "village", "hamlet", "municipality", "county")


def kept(places: list[Place], query: Query) -> list[Place]:
    """Nominatim's answer without duplicates, outside places and other categories, best first."""
    if query.near is not None and query.within_m is not None:
        places = [p for p in places if p.distance_m is not None and p.distance_m <= query.within_m]
    if query.category:
        want = query.category
        places = [p for p in places if p.category == want or p.category.endswith("=" + want)]
        if query.near is not None:
            places.sort(key=lambda p: p.distance_m or 0.0)
    out: list[Place] = []
    for place in places:
        if not any(_duplicate(place, kept) for kept in out):
            out.append(place)
    return out[: query.limit]


def _duplicate(a: Place, b: Place) -> bool:
    """One street split into several ways, or one place mapped twice; two towns of one name far
    apart are two places (Nominatim's own ``dedupe`` merges them when their addresses read alike)."""
    if (a.name, a.kind, a.category, a.address) != (b.name, b.kind, b.category, b.address):
        return False
    return a.kind == "street" or haversine(a.latlon, b.latlon) < 1_000


def place_of(item: Any, near: LatLon | None, match: Match | None = None) -> Place | None:
    """A Place from one of Nominatim's jsonv2 results; None when it is not one."""
    try:
        lat, lon = float(item["lat"]), float(item["lon"])
        cls, typ = str(item["category"]), str(item["type"])
        address = item.get("address") or {}
        display = str(item.get("display_name") or "")
        importance = float(item.get("importance") or 0.0)
        if not (isinstance(address, dict) and -90 <= lat <= 90 and -180 <= lon <= 180):
            return None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    address = {str(k): str(v) for k, v in address.items()}
    country = address.get("country_code", "").upper()
    name = str(item.get("name") or "")
    number, road = address.get("house_number", ""), address.get("road", "")
    kind = _kind(cls, typ, name, number)
    if kind == "address":
        name = f"{number} {road}" if country in _NUMBER_FIRST else f"{road} {number}"
    name = name.strip() or display.split(",")[0].strip()
    if not name:
        return None
    bounds = None
    if kind == "place" and item.get("osm_type") != "node":
        try:
            south, north, west, east = map(float, item["boundingbox"])
            bounds = ((south, west), (north, east))
        except (KeyError, TypeError, ValueError):
            pass
    return Place(
        name=name,
        ascii_name=to_ascii(name),
        kind=kind,
        country_code=country,
        country=address.get("country", ""),
        admin1="",
        state="",
        lat=lat,
        lon=lon,
        population=0,
        geonameid=0,
        match=match or ("address" if kind == "address" else "name"),
        matched=fold(name),
        # Nominatim's importance is 0..1 (a capital ~0.6-0.9, a street ~0.05, a shop ~0); 2 + 5x
        # puts a capital among the built-in list's big cities (log10 of population) and a shop
        # or an address below any of its towns
        score=2 + 5 * min(1.0, max(0.0, importance)),
        distance_m=None if near is None else haversine(near, (lat, lon)),
        bounds=bounds,
        category=f"{cls}={typ}" if kind == "poi" else "",
        address=_short_address(kind, name, address, display),
        source="geocoder",
    )


def _kind(cls: str, typ: str, name: str, number: str) -> PlaceKind:
    if cls == "highway":
        return "street"
    if number and (not name or (cls, typ) in (("place", "house"), ("building", typ))):
        return "address"
    if cls == "place" or (cls, typ) == ("boundary", "administrative"):
        return "place"
    return "poi"


def _short_address(kind: PlaceKind, name: str, address: dict[str, str], display: str) -> str:
    """Where it is, in a few words: "Rua Augusta 24, 1100-053 Lisboa" for an address, the street
    and town for a poi, the town for a street, the region and country for a place."""
    locality = next((address[k] for k in _LOCALITY if address.get(k)), "")
    postcode = address.get("postcode", "")
    if kind == "address":
        parts = [name, f"{postcode} {locality}".strip()]
    elif kind == "poi":
        street = address.get("road", "")
        if street and address.get("house_number"):
            street = f"{street} {address['house_number']}"
        parts = [street, locality]
    elif kind == "street":
        parts = [address.get("suburb", ""), locality]
    else:
        region = address.get("state") or address.get("county") or address.get("region", "")
        parts = [locality, region, address.get("country", "")]
    kept: list[str] = []
    for part in parts:
        if part and part != name and part not in kept:
            kept.append(part)
    if not kept:  # an answer without address details: what the service wrote, less the name
        kept = [p.strip() for p in display.split(",")[1:4] if p.strip()]
    return ", ".join(kept)[:120]
