"""Which columns of a spreadsheet hold what: latitude and longitude by their common names (with
units and brackets ignored: ``Latitude (deg)``, ``lat_dd``, ``GPS Longitude``), or as a pair that
differs only in that word (``centroid_lat`` and ``centroid_lon``, ``pickupLatitude`` and
``pickupLongitude``), a WKT or GeoJSON geometry by name or by content, a place name to look up, a
label, a description, a layer."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from mapsrv.errors import InvalidInput

__all__ = [
    "Columns",
    "NoPosition",
    "coordinate_like",
    "find_columns",
    "no_position",
    "normalise",
    "paired_names",
    "unique_name",
]

_BRACKETS = re.compile(r"[(\[{].*?[)\]}]")
_NON_WORD = re.compile(r"[^0-9a-zà-ÿ]+")
_UNIT_WORDS = frozenset(
    "deg degs degree degrees dd decimal wgs84 wgs 84 epsg4326 4326 gps coord coords coordinate wgs_84".split()
)
_LAT = ("lat", "latitude", "decimallatitude", "latitud", "latitudine", "breitengrad", "breite", "y")
_LON = (
    "lon", "lng", "long", "longitude", "decimallongitude", "longitud", "longitudine", "längengrad", "länge",
    "laenge", "x",
)  # fmt: skip
_LAT_WORDS = frozenset(_LAT[:-1])
_LON_WORDS = frozenset(_LON[:-1])
_CAMEL = re.compile(r"(?<=[a-zà-ÿ0-9])(?=[A-Z])")
_GEOMETRY = ("wkt", "geometry", "geom", "thegeom", "shape", "wktgeom", "geojson", "wktgeometry")
_PLACE = (
    "place", "placename", "location", "city", "town", "village", "locality", "municipality",
    "destination", "stop", "ville", "ort", "stadt", "ciudad", "address", "fulladdress", "adresse",
)  # fmt: skip
_COUNTRY = ("country", "countrycode", "countryname", "land", "pays")
_LABEL = ("label", "name", "title", "nom", "nombre", "station", "site")
_POPUP = ("popup", "description", "desc", "notes", "note", "comment", "comments", "details")
_WKT_START = re.compile(
    r"\s*(?:SRID=[0-9]+;)?(?:POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON|GEOMETRYCOLLECTION)\b",
    re.I,
)


def normalise(header: str) -> str:
    """A header as a key to compare: lower case, brackets and units dropped, words joined:
    ``Latitude (deg)`` is ``latitude``, ``GPS Longitude`` is ``longitude``."""
    words = _NON_WORD.split(_BRACKETS.sub(" ", header.lower()))
    return "".join(w for w in words if w and w not in _UNIT_WORDS)


def _words(header: str) -> tuple[str, ...]:
    """A header's words, camelCase split, brackets and units dropped: ``centroidLat (deg)`` is
    ``("centroid", "lat")``."""
    text = _BRACKETS.sub(" ", _CAMEL.sub(" ", header)).lower()
    return tuple(w for w in _NON_WORD.split(text) if w and w not in _UNIT_WORDS)


def coordinate_like(header: Sequence[str]) -> list[str]:
    """The headers with a latitude or longitude word in them (``pickup_lat``, ``Lon E``)."""
    return [h for h in header if (_LAT_WORDS | _LON_WORDS).intersection(_words(h))]


def _paired(header: Sequence[str]) -> tuple[int | None, int | None]:
    """The first latitude and longitude columns named alike but for that word: ``centroid_lat``
    and ``centroid_lon``, ``start lat`` and ``start lng``."""
    lats: dict[int, tuple[str, ...]] = {}
    lons: dict[int, tuple[str, ...]] = {}
    for i, h in enumerate(header):
        words = _words(h)
        for found, side in ((lats, _LAT_WORDS), (lons, _LON_WORDS)):
            if sum(w in side for w in words) == 1:
                found[i] = tuple(w for w in words if w not in side)
    for i, rest in lats.items():
        for j, other in lons.items():
            if i != j and rest == other:
                return i, j
    return None, None


def paired_names(header: str) -> bool:
    """Whether a latitude column was found by its pair (``_paired``), not by a name of its own:
    worth a note saying which columns the positions came from."""
    return normalise(header) not in _LAT


def _cut(name: str, size: int | None) -> str:
    return name if size is None else name.encode()[:size].decode(errors="ignore")


def unique_name(name: str, taken: set[str], size: int | None = None) -> str:
    """A column's name written out: ``name`` at most ``size`` bytes of UTF-8 (None: any),
    ``_2``, ``_3``... added until it is none of ``taken`` (lower case), which it then joins."""
    out, n = _cut(name, size), 1
    while out.lower() in taken:
        n += 1
        suffix = f"_{n}"
        out = _cut(name, None if size is None else size - len(suffix)) + suffix
    taken.add(out.lower())
    return out


@dataclass(frozen=True)
class Columns:
    """Column indexes (None where there is no such column)."""

    lat: int | None = None
    lon: int | None = None
    geometry: int | None = None
    place: int | None = None
    country: int | None = None
    label: int | None = None
    popup: int | None = None
    layer: int | None = None
    kind: int | None = None  # only in a CSV mapsrv wrote: its ``type`` column (circle, rectangle)
    radius: int | None = None

    def used(self) -> set[int]:
        return {i for i in vars(self).values() if i is not None}

    def positioned(self) -> bool:
        return (
            (self.lat is not None and self.lon is not None)
            or self.geometry is not None
            or self.place is not None
        )


def _first(keys: list[str], names: Sequence[str], taken: Collection[int] = ()) -> int | None:
    """The first column whose key is the first of ``names`` that any column has."""
    for name in names:
        for i, key in enumerate(keys):
            if key == name and i not in taken:
                return i
    return None


def _geometry_by_content(rows: Sequence[Sequence[str]]) -> int | None:
    """A column whose first values are WKT or GeoJSON geometries, whatever its name."""
    for row in rows[:5]:
        for i, cell in enumerate(row):
            if _WKT_START.match(cell) or (cell.lstrip().startswith("{") and '"coordinates"' in cell):
                return i
    return None


def find_columns(header: Sequence[str], sample: Sequence[Sequence[str]]) -> Columns:
    """The columns of a table with ``header``; ``sample`` (its first rows) finds a geometry
    column by its content when no header names one."""
    keys = [normalise(h) for h in header]
    lat, lon = _first(keys, _LAT[:-1]), _first(keys, _LON[:-1])
    if lat is None and lon is None:
        lat, lon = _paired(header)
    if lat is None or lon is None:  # x and y only when no column says latitude or longitude
        lat, lon = (
            lat if lat is not None else _first(keys, _LAT),
            lon if lon is not None else _first(keys, _LON),
        )
    geometry = _first(keys, _GEOMETRY)
    if geometry is None:
        geometry = _geometry_by_content(sample)
    place = _first(keys, _PLACE)
    label = _first(keys, _LABEL)
    if place is None and not (lat is not None and lon is not None) and geometry is None:
        place = label  # a list of names and nothing else: the names are places
    taken = {i for i in (lat, lon, geometry, place) if i is not None}
    if label is None:
        label = place  # a row named by its place: "Lisbon"
    return Columns(
        lat=lat,
        lon=lon,
        geometry=geometry,
        place=place,
        country=_first(keys, _COUNTRY, taken) if place is not None else None,
        label=label,
        popup=_first(keys, _POPUP, taken),
        layer=_first(keys, ("layer", "folder"), taken),
    )


class NoPosition(InvalidInput):
    """A table with no position mapsrv can find. ``coordinates``: its columns that look like a
    latitude or a longitude nonetheless (one without the other, or two unlike pairs): the page
    then advises naming them, not joining the rows to countries."""

    def __init__(self, message: str, coordinates: list[str]) -> None:
        super().__init__(message)
        self.coordinates = [c[:200] for c in coordinates[:20]]

    def to_json(self) -> dict[str, Any]:
        return super().to_json() | {"coordinates": self.coordinates}


def no_position(header: Sequence[str]) -> InvalidInput:
    """The refusal of a table with no position, naming what it has."""
    seen = ", ".join(repr(h[:30]) for h in header[:12]) + (", ..." if len(header) > 12 else "")
    near = coordinate_like(header)
    if near:
        shown = ", ".join(repr(h[:30]) for h in near[:4])
        return NoPosition(
            f"csv has no position mapsrv can pair: {shown} look like coordinates, but no latitude and"
            " longitude columns named alike (lat and lon, or centroid_lat and centroid_lon); rename"
            " them so, or give a WKT or GeoJSON geometry column (wkt, geometry)",
            near,
        )
    return NoPosition(
        f"csv has no position columns: saw {seen or 'no header'}; name them lat and lon (or latitude and"
        " longitude, y and x), or give a WKT or GeoJSON geometry column (wkt, geometry), or a place"
        " column (place, city, address, location) to look up",
        [],
    )
