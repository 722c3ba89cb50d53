"""A feature's geometry: its ``type`` and ``coords``, the one value for every RFC 7946 geometry
(parts and holes kept), and the only module that knows its shapes. Points are ``(lat, lon)``;
rings are unclosed (a repeated closing point is dropped); the wire form is the same nesting as
JSON lists, the value in memory as tuples.

=============  =====================================================================
type           coords
=============  =====================================================================
marker         ``[lat, lon]``
circle         ``[lat, lon]`` (its ``radius`` is the feature's)
rectangle      ``[[south, west], [north, east]]``
polyline       ``[[lat, lon], ...]`` (at least 2)
polygon        ``[[lat, lon], ...]`` without holes; ``[[outer...], [hole...], ...]`` with
multipoint     ``[[lat, lon], ...]`` (at least 1)
multipolyline  ``[[[lat, lon], ...], ...]`` (each at least 2)
multipolygon   ``[[[[lat, lon], ...], holes...], ...]`` (each member a list of rings)
collection     ``[{"type": T, "coords": C}, ...]``, T a marker, polyline, polygon or multi-
=============  =====================================================================

A ring has at least 3 points. Validation goes level by level to a depth fixed by the type (a
collection in a collection is refused: flatten it), so untrusted input never drives recursion,
and counts points as it goes, so a geometry past its cap is refused before it is read whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import pairwise
from typing import Any, Literal, TypeAlias, get_args

from mapsrv.core.plain import plain_latlons
from mapsrv.core.positions import check_bounds, check_latlon
from mapsrv.errors import InvalidInput, PayloadTooLarge

__all__ = [
    "GEOMETRY_TYPES",
    "MEMBER_TYPES",
    "GeometryType",
    "Part",
    "check",
    "count",
    "decode",
    "encode",
    "is_area",
    "kind_name",
    "largest_part",
    "parts",
    "points",
    "polygon_rings",
    "rectangle_corners",
]

GeometryType: TypeAlias = Literal[
    "marker",
    "polyline",
    "polygon",
    "circle",
    "rectangle",
    "multipoint",
    "multipolyline",
    "multipolygon",
    "collection",
]
GEOMETRY_TYPES: tuple[GeometryType, ...] = get_args(GeometryType)
# What a collection may hold: circles and rectangles are mapsrv's drawing types, not GeoJSON's.
MEMBER_TYPES: tuple[GeometryType, ...] = (
    "marker",
    "polyline",
    "polygon",
    "multipoint",
    "multipolyline",
    "multipolygon",
)
_KINDS: dict[str, str] = {
    "marker": "marker",
    "polyline": "line",
    "polygon": "polygon",
    "circle": "circle",
    "rectangle": "rectangle",
    "multipoint": "multipoint",
    "multipolyline": "multiline",
    "multipolygon": "multipolygon",
    "collection": "collection",
}
_AREAS = frozenset({"polygon", "multipolygon", "rectangle", "circle"})

LatLon: TypeAlias = tuple[float, float]
Ring: TypeAlias = tuple[LatLon, ...]
# ("point", (lat, lon)), ("line", points) or ("polygon", rings: the outer ring, then its holes)
Part: TypeAlias = tuple[Literal["point", "line", "polygon"], Any]


# -- checking untrusted coords ---------------------------------------------------------------


class _Budget:
    """The points a geometry may still hold; taken level by level before the points are read."""

    def __init__(self, root: str, most: int) -> None:
        self.root, self.most, self.used = root, most, 0

    def take(self, name: str, n: int) -> None:
        self.used += n
        if self.used > self.most:
            where = "" if name == self.root else f" (at {name})"
            got = f"{n}" if name == self.root else f"at least {self.used}"
            raise PayloadTooLarge(
                f"{self.root} must have at most {self.most} points, got {got}{where}; simplify the shape"
            )


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _list(name: str, value: Any, what: str, example: str) -> Sequence[Any]:
    if not isinstance(value, (list, tuple)):
        raise InvalidInput(
            f"{name} must be a list of {what}, got {type(value).__name__} {value!r:.40}; e.g. {example}"
        )
    return value


_POINTS_EXAMPLE = "[[48.85, 2.35], [51.51, -0.13]]"
_RING_EXAMPLE = "[[[48.8, 2.3], [48.9, 2.3], [48.9, 2.4]]]"


def _points(name: str, value: Any, minimum: int, budget: _Budget, point: Callable[..., LatLon]) -> Ring:
    value = _list(name, value, "[lat, lon] points", _POINTS_EXAMPLE)
    budget.take(name, len(value))
    if value and _is_list(value[0]) and value[0] and _is_list(value[0][0]):
        raise InvalidInput(
            f"{name}[0] must be a [lat, lon] pair, got {value[0]!r:.40}: nested one level too deep here;"
            " check the type: a polygon with holes is [outer, hole...], a multipolygon [[outer, ...], ...]"
        )
    if len(value) < minimum:
        raise InvalidInput(
            f"{name} needs at least {minimum} point{'s' * (minimum > 1)}, got {len(value)}; add points"
            + (" or draw a marker" if minimum == 2 else " or draw a line" if minimum == 3 else "")
        )
    if point is check_latlon and (fast := plain_latlons(value)) is not None:
        return fast
    return tuple(point(f"{name}[{i}]", p) for i, p in enumerate(value))


def _ring(name: str, value: Any, budget: _Budget, point: Callable[..., LatLon]) -> Ring:
    ring = _points(name, value, 3, budget, point)
    if len(ring) > 3 and ring[0] == ring[-1]:  # closed as GeoJSON closes it: kept unclosed
        ring = ring[:-1]
        budget.used -= 1
    return ring


def _rings(name: str, value: Any, budget: _Budget, point: Callable[..., LatLon]) -> tuple[Ring, ...]:
    value = _list(name, value, "rings (the outline, then its holes)", _RING_EXAMPLE)
    if not value:
        raise InvalidInput(f"{name} needs at least 1 ring, got none; give its outline")
    if not _is_ring_form(value):
        raise InvalidInput(
            f"{name} must be a list of rings (the outline, then its holes), got {value!r:.40};"
            " a polygon here is a list of rings: wrap its one ring in one more []"
        )
    return tuple(_ring(f"{name}[{i}]", ring, budget, point) for i, ring in enumerate(value))


def _is_ring_form(value: Any) -> bool:
    """Whether polygon coords are rings (``[[[lat, lon], ...], ...]``) rather than one ring."""
    return _is_list(value) and bool(value) and _is_list(value[0]) and bool(value[0]) and _is_list(value[0][0])


def _polygon(name: str, value: Any, budget: _Budget, point: Callable[..., LatLon]) -> Any:
    if not _is_ring_form(value):
        return _ring(name, value, budget, point)
    rings = _rings(name, value, budget, point)
    return rings[0] if len(rings) == 1 else rings  # without holes: the one ring, as always


def _parts(name: str, value: Any, what: str, example: str) -> Sequence[Any]:
    found = _list(name, value, what, example)
    if not found:
        raise InvalidInput(f"{name} needs at least 1 part, got none; e.g. {example}")
    return found


def _member(name: str, raw: Any) -> tuple[str, Any]:
    if isinstance(raw, Mapping):
        mtype, coords = raw.get("type"), raw.get("coords")
    elif isinstance(raw, tuple) and len(raw) == 2 and isinstance(raw[0], str):  # as held in memory
        mtype, coords = raw
    else:
        raise InvalidInput(
            f'{name} must be an object {{"type": ..., "coords": ...}}, got {raw!r:.40};'
            ' e.g. {"type": "marker", "coords": [48.85, 2.35]}'
        )
    if mtype == "collection":
        raise InvalidInput(
            f"{name} type must be one of {', '.join(MEMBER_TYPES)}, got 'collection' (a collection"
            " inside a collection); flatten it: give its members here"
        )
    if mtype not in MEMBER_TYPES:
        raise InvalidInput(
            f"{name} type must be one of {', '.join(MEMBER_TYPES)}, got {mtype!r:.40};"
            " circles and rectangles are drawn on their own"
        )
    return mtype, coords


def check(type_: str, coords: Any, max_points: int, name: str = "coords") -> Any:
    """``coords`` (untrusted JSON, or a value from here) checked for ``type_`` and normalised:
    tuples, rings unclosed, a polygon of one ring in its flat form. Raises ``InvalidInput`` naming
    the path of the bad value, or ``PayloadTooLarge`` past ``max_points`` points in all."""
    budget = _Budget(name, max_points)
    if type_ in ("marker", "circle"):
        return check_latlon(name, coords)
    if type_ == "rectangle":
        return check_bounds(name, coords)
    if type_ == "collection":
        members = _parts(name, coords, "members", '[{"type": "marker", "coords": [48.85, 2.35]}]')
        checked = []
        for i, raw in enumerate(members):
            mtype, mcoords = _member(f"{name}[{i}]", raw)
            checked.append(
                (mtype, _check_simple(mtype, mcoords, f"{name}[{i}].coords", budget, check_latlon))
            )
        return tuple(checked)
    if type_ not in GEOMETRY_TYPES:
        raise InvalidInput(
            f"geometry type must be one of {', '.join(GEOMETRY_TYPES)}, got {type_!r:.40}; pick one of those"
        )
    return _check_simple(type_, coords, name, budget, check_latlon)


def _check_simple(type_: str, coords: Any, name: str, budget: _Budget, point: Callable[..., LatLon]) -> Any:
    if type_ == "marker":
        budget.take(name, 1)
        return point(name, coords)
    if type_ == "polyline":
        return _points(name, coords, 2, budget, point)
    if type_ == "polygon":
        return _polygon(name, coords, budget, point)
    if type_ == "multipoint":
        return _points(name, coords, 1, budget, point)
    if type_ == "multipolyline":
        lines = _parts(name, coords, "lines", "[[[48.85, 2.35], [51.51, -0.13]]]")
        return tuple(_points(f"{name}[{i}]", line, 2, budget, point) for i, line in enumerate(lines))
    polygons = _parts(name, coords, "polygons (each a list of rings)", f"[{_RING_EXAMPLE}]")
    return tuple(_rings(f"{name}[{i}]", polygon, budget, point) for i, polygon in enumerate(polygons))


# -- the wire form (trusted: written by mapsrv) -------------------------------------------------


def _pt(raw: Any) -> LatLon:
    return (float(raw[0]), float(raw[1]))


def _pts(raw: Any) -> Ring:
    return tuple((float(p[0]), float(p[1])) for p in raw)


def decode(type_: str, raw: Any) -> Any:
    """``coords`` as mapsrv wrote them (JSON lists) into the value held in memory; trusted, so
    unchecked. Every type's form is its form from before multi-part geometry, and more."""
    if type_ in ("marker", "circle"):
        return _pt(raw)
    if type_ in ("polyline", "multipoint", "rectangle"):
        return _pts(raw)
    if type_ == "polygon":
        return tuple(_pts(r) for r in raw) if _is_ring_form(raw) else _pts(raw)
    if type_ == "multipolyline":
        return tuple(_pts(line) for line in raw)
    if type_ == "multipolygon":
        return tuple(tuple(_pts(r) for r in polygon) for polygon in raw)
    if type_ == "collection":
        return tuple((m["type"], decode(m["type"], m["coords"])) for m in raw)
    raise ValueError(f"stored geometry type must be one of {', '.join(GEOMETRY_TYPES)}, got {type_!r:.40}")


def encode(type_: str, coords: Any) -> Any:
    """The held value as JSON lists (the stores' and the stream's form)."""
    if type_ in ("marker", "circle"):
        return list(coords)
    if type_ in ("polyline", "multipoint", "rectangle"):
        return [list(p) for p in coords]
    if type_ == "polygon":
        return [[list(p) for p in r] for r in coords] if _is_ring_form(coords) else [list(p) for p in coords]
    if type_ == "multipolyline":
        return [[list(p) for p in line] for line in coords]
    if type_ == "multipolygon":
        return [[[list(p) for p in r] for r in polygon] for polygon in coords]
    return [{"type": t, "coords": encode(t, c)} for t, c in coords]


# -- reading a geometry -----------------------------------------------------------------------


def polygon_rings(coords: Any) -> tuple[Ring, ...]:
    """A polygon's rings, its outline first, whichever form it is held in."""
    return tuple(coords) if _is_ring_form(coords) else (tuple(coords),)


def rectangle_corners(coords: Any) -> list[list[float]] | None:
    """A polygon's coords as a rectangle's corners, when it is one ring of 4 points (a written
    closing point aside, not 4 rings), else None: a file's rectangle that mapsrv wrote."""
    try:
        (ring,) = polygon_rings(coords)
    except (TypeError, IndexError, ValueError):  # not a polygon, or one of several rings
        return None
    ring = ring[:-1] if len(ring) == 5 and ring[0] == ring[-1] else ring
    if len(ring) != 4:
        return None
    lats, lons = [p[0] for p in ring], [p[1] for p in ring]
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def count(type_: str, coords: Any) -> int:
    """How many positions the geometry holds (a rectangle: its 2 corners), for the caps; the
    geometry held, or unchecked as ``check`` takes it."""
    if type_ in ("marker", "circle"):
        return 1
    if type_ in ("polyline", "multipoint", "rectangle"):
        return len(coords)
    if type_ == "polygon":
        return sum(len(r) for r in coords) if _is_ring_form(coords) else len(coords)
    if type_ == "multipolyline":
        return sum(len(line) for line in coords)
    if type_ == "multipolygon":
        return sum(len(r) for polygon in coords for r in polygon)
    # a collection's members held as pairs, or as the wire's objects (what ``check`` takes)
    return sum(count(*((m["type"], m["coords"]) if isinstance(m, Mapping) else m)) for m in coords)


def points(type_: str, coords: Any) -> tuple[LatLon, ...]:
    """Every position, part by part, ring by ring, member by member (a rectangle: its corners):
    for bounds, anchors and the per-point properties (a track's times across its segments)."""
    if type_ in ("marker", "circle"):
        return (coords,)
    if type_ in ("polyline", "multipoint", "rectangle"):
        return tuple(coords)
    if type_ == "polygon" and not _is_ring_form(coords):
        return tuple(coords)
    return tuple(p for kind, value in parts(type_, coords) for p in _part_points(kind, value))


def _part_points(kind: str, value: Any) -> Iterator[LatLon]:
    if kind == "point":
        yield value
    elif kind == "line":
        yield from value
    else:
        for ring in value:
            yield from ring


def parts(type_: str, coords: Any) -> Iterator[Part]:
    """The simple shapes the geometry is made of, in order: ``("point", p)``, ``("line", points)``
    or ``("polygon", rings)`` (outline first). A rectangle is its ring (south-west first,
    counter-clockwise); a circle is its centre, whose radius its feature holds."""
    if type_ in ("marker", "circle"):
        yield ("point", coords)
    elif type_ == "multipoint":
        for p in coords:
            yield ("point", p)
    elif type_ == "polyline":
        yield ("line", coords)
    elif type_ == "multipolyline":
        for line in coords:
            yield ("line", line)
    elif type_ == "polygon":
        yield ("polygon", polygon_rings(coords))
    elif type_ == "multipolygon":
        for polygon in coords:
            yield ("polygon", polygon)
    elif type_ == "rectangle":
        (s, w), (n, e) = coords
        yield ("polygon", (((s, w), (s, e), (n, e), (n, w)),))
    else:
        for mtype, mcoords in coords:
            yield from parts(mtype, mcoords)


def is_area(type_: str) -> bool:
    """Whether the type encloses an area (is filled): polygon, multipolygon, rectangle, circle."""
    return type_ in _AREAS


def kind_name(type_: str) -> str:
    """The type as people say it: "marker", "line", "polygon", "multiline", "collection"..."""
    return _KINDS.get(type_, type_)


def _scale(ring: Sequence[LatLon]) -> float:
    return math.cos(math.radians(sum(p[0] for p in ring) / len(ring))) if ring else 1.0


def _area(ring: Sequence[LatLon]) -> float:
    """The ring's shoelace area in square degrees, longitudes scaled by cos(mean latitude)."""
    scale = _scale(ring)
    twice = sum(a[1] * b[0] - b[1] * a[0] for a, b in zip(ring, (*ring[1:], *ring[:1]), strict=True))
    return abs(twice) * scale / 2


def _length(line: Sequence[LatLon]) -> float:
    scale = _scale(line)
    return sum(math.hypot(b[0] - a[0], (b[1] - a[1]) * scale) for a, b in pairwise(line))


def largest_part(type_: str, coords: Any) -> Part:
    """The part that stands for the whole (where a label goes): the polygon whose outline has
    the largest area, else the longest line, else the first point. The page's twin is in JS."""
    found = list(parts(type_, coords))
    polygons = [p for p in found if p[0] == "polygon"]
    if polygons:
        return max(polygons, key=lambda p: _area(p[1][0]))
    lines = [p for p in found if p[0] == "line"]
    if lines:
        return max(lines, key=lambda p: _length(p[1]))
    return found[0]
