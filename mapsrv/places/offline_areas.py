"""An extract's areas in the offline index: its administrative boundaries and named areas, kept
whole as outlines by ``mapsrv places import`` and read by ``select``'s ``within``, ``set_view``
and the search box.

What is an area (``AREA_TAGS``; osmium assembles multipolygon and boundary relations and closed
ways, holes kept, several outer rings one MultiPolygon): ``boundary=administrative`` at any
``admin_level`` (kind "administrative", with its level), ``place=city``, ``town``, ``village``,
``suburb``, ``borough``, ``quarter``, ``neighbourhood``, ``island`` (kind the place's), named
``leisure=park``, ``garden`` or ``nature_reserve`` and ``amenity=university``, ``college``,
``school`` or ``hospital`` (a campus; kind the value), ``railway=station`` and
``public_transport=station`` (kind "station"), and buildings (most ``building`` values; kind
"building", a ``train_station`` one "station"): what a point stands in (``areas_at``, for
``nearest_place``). Only named ones: an area is asked for by name. Land use is left out: its
named areas are mostly farmland and residential estates, many, large and rarely asked for.

An outline of more than ``MAX_VERTICES`` vertices is thinned under it (every k-th vertex of its
long rings, repaired if that made it invalid; ``simplified`` says so); one past
``MAX_RAW_VERTICES``, or of so many small parts that thinning leaves it above, is left out and
named by the import, as is one whose rings osmium could not close: a hostile or broken extract
cannot make a row that costs seconds to read at every ``within``.

Layout (``offline_files``): ``areas(id, kind, name, alt, admin_level, simplified, outline, lat,
lon)`` with the outline as WKB (lon, lat) and a point inside it (``lat``, ``lon``),
``area_names(name, id)`` every folded name (``name``, ``name:*``, ``alt_name`` ...), and
``area_boxes`` an R*Tree of their boxes. A file written before areas has none of these tables,
and is read as before: no name is an area.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from mapsrv.core.model import LatLon
from mapsrv.places.borders import country_at
from mapsrv.places.boundaries import Boundary
from mapsrv.places.model import Place
from mapsrv.places.search import haversine
from mapsrv.places.sources import Query
from mapsrv.places.text import fold, to_ascii

__all__ = [
    "AREA_TAGS",
    "MAX_RAW_VERTICES",
    "MAX_VERTICES",
    "KEPT_OUTLINE_BYTES",
    "MOST_INSIDE",
    "IndexArea",
    "TooComplex",
    "area_kind",
    "area_places",
    "area_rank",
    "areas_at",
    "as_boundary",
    "area_row",
    "areas_named",
    "has_areas",
    "kept_outline_bytes",
    "read_outline",
]

KEPT_OUTLINE_BYTES = 4_000_000  # outlines kept, by WKB: ~7 times that in all once tested (GEOS indexes)
AREA_TAGS: dict[str, tuple[str, ...]] = {
    "boundary": ("administrative",),
    "place": ("city", "town", "village", "suburb", "borough", "quarter", "neighbourhood", "island"),
    "leisure": ("park", "garden", "nature_reserve"),
    "amenity": ("university", "college", "school", "hospital"),
    "railway": ("station",),
    "public_transport": ("station",),
    "building": (  # a named building: what a point stands in (``areas_at``); its kind "building"
        "yes", "train_station", "transportation", "public", "civic", "government", "commercial", "office",
        "retail", "hotel", "church", "cathedral", "chapel", "mosque", "synagogue", "temple", "hospital",
        "school", "university", "college", "stadium", "sports_hall", "museum", "theatre", "library",
        "apartments", "industrial", "warehouse", "fire_station", "kindergarten", "castle", "parking",
    ),
}  # fmt: skip
_BUILDING_KINDS = {"train_station": "station", "transportation": "station"}  # else "building"
MOST_INSIDE = 3  # areas named as holding a point: its building, its park or district, its city
MAX_VERTICES = 200_000  # an outline's; a country's coast in OSM has ~10^5-10^6
MAX_RAW_VERTICES = 20_000_000  # an outline's as osmium assembled it: past this, left out unread
_NAME_KEYS = ("int_name", "alt_name", "official_name", "short_name", "old_name", "loc_name")
_AREA_ORDER = {"administrative": 0}  # then the places, then parks and campuses (``area_rank``)
_PLACE_KINDS = AREA_TAGS["place"]
_LAST = "\U0010ffff"  # after every folded name that starts with a prefix
AREA_BASE = 4.0  # a search answer's score: a city's place node is 5 (``offline_import``)


class TooComplex(ValueError):
    """An outline past ``MAX_RAW_VERTICES``, or that thinning leaves above ``MAX_VERTICES``."""


@dataclass(frozen=True)
class IndexArea:
    """An area of an imported extract: its outline (lon, lat degrees) and what it is."""

    name: str
    kind: str  # "administrative", a place's kind ("suburb"), "park", "university" ...
    admin_level: int | None
    region: str  # the imported region holding it
    box: tuple[float, float, float, float]  # south, west, north, east
    area_id: int
    simplified: bool = False

    @property
    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        s, w, n, e = self.box
        return ((s, w), (n, e))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, "source": "index", "region": self.region}
        if self.admin_level is not None:
            out["admin_level"] = self.admin_level
        if self.simplified:
            out["simplified"] = True  # past MAX_VERTICES when imported
        return out


def area_kind(tags: Any) -> tuple[str, int | None] | None:
    """What an osmium area's ``tags`` make it (kind, admin_level), or None when it is not kept."""
    if not tags.get("name"):
        return None
    if tags.get("boundary") == "administrative":
        level = tags.get("admin_level", "")
        return "administrative", int(level) if level.isdigit() and len(level) <= 2 else None
    for key, values in AREA_TAGS.items():
        value = tags.get(key)
        if value in values:
            return (_BUILDING_KINDS.get(value, "building") if key == "building" else value), None
    return None


def area_row(tags: Any, wkb: bytes) -> tuple[tuple[Any, ...], list[str]] | None:
    """The ``areas`` row (without its id) of an area and its folded names; None when it is not
    one to keep. Raises TooComplex for an outline that cannot be made small enough."""
    kind = area_kind(tags)
    if kind is None:
        return None
    name = tags["name"].strip()
    alternates = []
    for tag in tags:
        if tag.k in _NAME_KEYS or tag.k.startswith("name:"):
            alternates += [v.strip() for v in tag.v.split(";") if v.strip() and v.strip() != name]
    alternates = list(dict.fromkeys(alternates))
    outline, simplified = _bounded(shapely.from_wkb(wkb))
    w, s, e, n = outline.bounds
    names = list(dict.fromkeys(fold(each) for each in (name, *alternates) if fold(each)))
    wkb = shapely.to_wkb(outline)
    inside = shapely.point_on_surface(outline)  # a search answer's point: in it, not its box's centre
    row: tuple[Any, ...] = (kind[0], name, "\n".join(alternates), kind[1], int(simplified), wkb)
    row += (inside.y, inside.x, s, n, w, e)
    return row, names


def _bounded(outline: BaseGeometry) -> tuple[BaseGeometry, bool]:
    """``outline``, or thinned to at most ``MAX_VERTICES``: every k-th vertex of each ring longer
    than 3k kept (linear time, where Douglas-Peucker takes ~30 s on a hostile 1M-vertex zigzag),
    repaired when that made it invalid."""
    vertices = shapely.get_num_coordinates(outline)
    if vertices <= MAX_VERTICES:
        return outline, False
    if vertices > MAX_RAW_VERTICES:
        raise TooComplex(f"an outline of {vertices:,} vertices is past {MAX_RAW_VERTICES:,}")
    step = math.ceil(vertices / MAX_VERTICES)
    polygons = []
    for part in getattr(outline, "geoms", [outline]):
        rings = [
            coords[::step] if len(coords) > 3 * step else coords
            for coords in (shapely.get_coordinates(ring)[:-1] for ring in (part.exterior, *part.interiors))
        ]
        if len(rings[0]) >= 3:
            polygons.append(shapely.Polygon(rings[0], [r for r in rings[1:] if len(r) >= 3]))
    thinned: BaseGeometry = shapely.MultiPolygon(polygons)
    if not shapely.is_valid(thinned):
        thinned = _polygons(shapely.make_valid(thinned))
    if shapely.get_num_coordinates(thinned) > MAX_VERTICES:  # many small parts, each kept whole
        raise TooComplex(
            f"an outline of {vertices:,} vertices in {len(polygons):,} parts stays above"
            f" {MAX_VERTICES:,} thinned"
        )
    return thinned, True


def _polygons(shape: BaseGeometry) -> BaseGeometry:
    """The polygons of what ``make_valid`` gave (it may add lines where rings touched)."""
    parts = [g for g in shapely.get_parts(shape) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.MultiPolygon([p for g in parts for p in getattr(g, "geoms", [g])])


def has_areas(db: sqlite3.Connection) -> bool:
    return bool(db.execute("SELECT 1 FROM sqlite_master WHERE name = 'areas'").fetchone())


def areas_named(db: sqlite3.Connection, text: str, region: str) -> list[IndexArea]:
    """The areas of ``db`` one of whose names is ``text`` (folded), administrative ones first,
    the biggest (lowest admin_level) first among those."""
    rows = db.execute(
        "SELECT a.id, a.kind, a.name, a.admin_level, a.simplified, b.min_lat, b.min_lon, b.max_lat, b.max_lon"
        " FROM area_names n JOIN areas a ON a.id = n.id JOIN area_boxes b ON b.id = a.id WHERE n.name = ?",
        (fold(text),),
    ).fetchall()
    found = [
        IndexArea(name, kind, level, region, (s, w, n, e), ident, bool(simplified))
        for ident, kind, name, level, simplified, s, w, n, e in rows
    ]
    return sorted(found, key=area_rank)


def areas_at(db: sqlite3.Connection, at: LatLon, region: str, most: int = MOST_INSIDE) -> list[IndexArea]:
    """The areas of ``db`` that hold the point ``at``, smallest box first (a building or a
    station, then its park, campus or district, then its city), at most ``most``."""
    lat, lon = at
    rows = db.execute(
        "SELECT a.id, a.kind, a.name, a.admin_level, a.simplified, b.min_lat, b.min_lon, b.max_lat, b.max_lon"
        " FROM area_boxes b JOIN areas a ON a.id = b.id"
        " WHERE b.min_lat <= ? AND b.max_lat >= ? AND b.min_lon <= ? AND b.max_lon >= ?"
        " ORDER BY (b.max_lat - b.min_lat) * (b.max_lon - b.min_lon), a.id",
        (lat, lat, lon, lon),
    ).fetchall()
    found: list[IndexArea] = []
    for ident, kind, name, level, simplified, s, w, n, e in rows:
        if shapely.contains_xy(read_outline(db, ident), lon, lat):
            found.append(IndexArea(name, kind, level, region, (s, w, n, e), ident, bool(simplified)))
            if len(found) == most:
                break
    return found


def area_rank(area: IndexArea) -> tuple[int, int, int]:
    order = _AREA_ORDER.get(area.kind, 1 if area.kind in _PLACE_KINDS else 2)
    level = area.admin_level if area.admin_level is not None else 99
    return (order, level, area.area_id)


_outlines: OrderedDict[bytes, BaseGeometry] = OrderedDict()
_outlines_lock = threading.Lock()


def kept_outline_bytes() -> int:
    """The WKB bytes of the areas' outlines kept prepared now (``read_outline``'s bound)."""
    with _outlines_lock:
        return sum(map(len, _outlines))


def read_outline(db: sqlite3.Connection, area_id: int) -> BaseGeometry:
    """An area's outline, valid and prepared for tests of many points. The shapes made are kept
    by their WKB (most recently read, ``KEPT_OUTLINE_BYTES`` of it at most): the same bytes are the
    same shape whichever file or import they came from, and parsing, repairing and preparing a
    city's outline again at every ``within`` took longer than the test; the same object back
    also keeps its grid (``mapsrv.spatial.area_points``)."""
    (wkb,) = db.execute("SELECT outline FROM areas WHERE id = ?", (area_id,)).fetchone()
    with _outlines_lock:
        kept = _outlines.get(wkb)
        if kept is not None:
            _outlines.move_to_end(wkb)
            return kept
    outline: BaseGeometry = shapely.make_valid(shapely.from_wkb(wkb))
    shapely.prepare(outline)
    with _outlines_lock:
        _outlines[wkb] = outline
        while sum(map(len, _outlines)) > KEPT_OUTLINE_BYTES and len(_outlines) > 1:
            _outlines.popitem(last=False)
    return outline


def area_places(db: sqlite3.Connection, q: Query, region: str, limit: int) -> list[Place]:
    """The areas one of whose names starts with ``q.text`` (folded) as search answers (kind
    "area", its OSM tag as category, its box as bounds, the country its point is in), whole
    names first, then shorter, their distance from ``q.near``; of ``q.country`` (ISO 3166-1
    alpha-2) only, when given, and those in no country (out at sea)."""
    key, near, country = fold(q.text), q.near, q.country
    if not key:
        return []
    rows = db.execute(
        "SELECT a.id, n.name, a.kind, a.name, a.admin_level, a.lat, a.lon, b.min_lat, b.min_lon, b.max_lat,"
        " b.max_lon FROM area_names n JOIN areas a ON a.id = n.id JOIN area_boxes b ON b.id = a.id"
        " WHERE n.name >= ? AND n.name < ? ORDER BY n.name = ? DESC, length(n.name), a.id LIMIT ?",
        (key, key + _LAST, key, 4 * limit),  # an area's names may be several of these rows
    ).fetchall()
    firsts = {row[0]: row for row in reversed(rows)}  # each area by its best-ranked name
    found = [(row, country_at(row[6], row[5])) for row in sorted(firsts.values(), key=rows.index)]
    kept = [(row, code) for row, code in found if not country or code in ("", country.upper())]
    return [_place(row[1:], key, near, code, _within(db, row, region)) for row, code in kept[:limit]]


def _within(db: sqlite3.Connection, row: tuple[Any, ...], region: str) -> str:
    """The name of the smallest district, town or city that holds an area (its point), bigger
    than it: what tells it from its namesakes in its label ("Kallio, Helsinki, FI"); "" for none."""
    ident, lat, lon, s, w, n, e = row[0], row[5], row[6], *row[7:11]
    size = (n - s) * (e - w)
    for area in areas_at(db, (lat, lon), region, most=8):
        s2, w2, n2, e2 = area.box
        held = area.kind == "administrative" or area.kind in _PLACE_KINDS
        if held and area.area_id != ident and (n2 - s2) * (e2 - w2) > size:
            return area.name
    return ""


def _place(row: tuple[Any, ...], key: str, near: LatLon | None, country: str, within: str) -> Place:
    matched, kind, name, _level, lat, lon, s, w, n, e = row
    exact = matched == key
    category = {"administrative": "boundary=administrative", "building": "building=yes"}.get(kind)
    category = category or f"{_key_of(kind)}={kind}"
    return Place(
        name=name,
        ascii_name=to_ascii(name),
        kind="area",
        country_code=country,
        country="",
        admin1="",
        state="",
        lat=lat,
        lon=lon,
        population=0,
        geonameid=0,
        match=("name" if fold(name) == matched else "alternate name") if exact else "name prefix",
        matched=matched,
        score=AREA_BASE + (1.0 if exact else 0.0),
        distance_m=haversine(near, (lat, lon)) if near is not None else None,
        bounds=((s, w), (n, e)),
        category=category,
        address=within,  # its label: "Kallio, Helsinki, FI"
        source="index",
    )


def _key_of(kind: str) -> str:
    return "building" if kind == "building" else next((k for k, v in AREA_TAGS.items() if kind in v), "place")


def as_boundary(area: IndexArea, outline: BaseGeometry) -> Boundary:
    """An area as a join's outline (``formats.join``): its polygons biggest first, each its outer
    ring then its holes, (lon, lat); no code."""
    parts = sorted(getattr(outline, "geoms", [outline]), key=lambda p: -p.area)
    polygons = tuple(
        (tuple(p.exterior.coords), *(tuple(ring.coords) for ring in p.interiors))
        for p in parts
        if p.geom_type == "Polygon"
    )
    return Boundary("", area.name, polygons)
