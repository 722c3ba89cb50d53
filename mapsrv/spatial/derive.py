"""New shapes from features: a buffer, the union, intersection or difference of areas, a convex
hull, a centroid.

Each is made in a :class:`~mapsrv.spatial.shapes.LocalFrame` centred on the input (an azimuthal
equidistant projection: a 10 km buffer is 10 km, and its area right to 0.2 %, at any latitude),
then taken back to degrees, as one geometry: a polygon (with its holes) or a multipolygon (its
parts, each with its holes). What the map cannot hold is made drawable, and the answer says so:

- across the 180th meridian, a shape is cut there, each piece drawn on its own side as a part of
  the one multipolygon (an input line or ring goes the short way from each point to the next:
  179.5 to -179.5 is 1 degree);
- a shape with more than ``MAX_VERTICES`` corners is simplified, to the tolerance given;
- a shape around a pole is refused: the page's map (Web Mercator) stops at 85 degrees.

The union, intersection or difference of areas farther apart than ``DEGREES_BEYOND_KM`` from
their middle (continents, the world's countries) is made in degrees instead, as GIS tools
dissolve: an azimuthal projection tears near the far side of the Earth (the union of 60 of
Natural Earth's countries came out 50 % too big), while areas that share their edges keep them
exactly in degrees. Outlines that cross themselves are repaired first (``shapely.make_valid``)
and counted, for the answer to say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial, reduce
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.affinity import translate
from shapely.geometry.base import BaseGeometry

from mapsrv.core.geometry import is_area
from mapsrv.core.model import Feature, LatLon
from mapsrv.errors import InvalidInput
from mapsrv.spatial.shapes import (
    SEGMENT_DEGREES,
    LocalFrame,
    Rings,
    centre_of,
    feature_geometry,
    rings_area_m2,
)

__all__ = ["AREAS", "BUFFER_TOLERANCE", "MAX_BUFFER_KM", "MAX_VERTICES", "OPERATIONS", "Derived", "derive"]

OPERATIONS = ("buffer", "union", "intersection", "difference", "hull", "centroid")
AREAS = ("polygon", "multipolygon", "rectangle", "circle")
MAX_BUFFER_KM = 2_000.0  # beyond, a local projection bends shapes by more than a percent
MAX_VERTICES = 10_000  # corners of one result, all parts and holes together
# a buffer's input is simplified first, by this share of its distance (1 km: 5 m): a 10,000-point
# GPS track becomes ~2,500 points and its buffer 7,000, in a quarter of the time
BUFFER_TOLERANCE = 0.005
_QUAD_SEGS = 16  # a buffer's round ends: 64 sides, 0.16 % short of a circle's area
_WORLD = shapely.box(-180.0, -90.0, 180.0, 90.0)
DEGREES_BEYOND_KM = 3_000.0  # overlays of areas reaching farther from their middle: in degrees
_OVERLAYS = ("union", "intersection", "difference")
_METRES_PER_DEGREE = 111_320.0  # at the equator: a tolerance in degrees said in metres


@dataclass
class Derived:
    """A result: ``polygons`` (each its outline, then its holes: rings of ``(lat, lon)``,
    unclosed), drawn as one feature, or a centroid ``point``; and what was done to make it
    drawable."""

    polygons: list[Rings] = field(default_factory=list)
    point: LatLon | None = None
    split_at_180: bool = False
    simplified_m: float | None = None
    repaired: int = 0  # input outlines that crossed themselves, made valid first

    @property
    def empty(self) -> bool:
        return not self.polygons and self.point is None

    @property
    def holes(self) -> int:
        return sum(len(rings) - 1 for rings in self.polygons)

    @property
    def geometry(self) -> tuple[str, Any]:
        """The feature to draw: ``(type, coords)`` as core holds them (a marker, a polygon, in its
        flat form when it has no hole, or a multipolygon)."""
        if self.point is not None:
            return "marker", self.point
        if len(self.polygons) == 1:
            rings = self.polygons[0]
            return "polygon", rings[0] if len(rings) == 1 else rings
        return "multipolygon", tuple(self.polygons)

    @property
    def area_m2(self) -> float:
        """The geodesic area: each part's outline less its holes."""
        return sum(rings_area_m2(rings) for rings in self.polygons)


def derive(operation: str, features: Sequence[Feature], km: float | None = None) -> Derived:
    """``operation`` (one of ``OPERATIONS``) over ``features``; ``km`` is a buffer's distance."""
    _check(operation, features, km)
    points = [p for f in features for p in f.points()]
    local = LocalFrame.at(centre_of(points))
    far = operation in _OVERLAYS and _reach_km(local, points) > DEGREES_BEYOND_KM
    frame = None if far else local
    repaired = [0]
    shapes = [_local(frame, f, repaired) for f in features]
    try:
        made = _made(frame, operation, shapes, km)
    except shapely.errors.GEOSException as exc:  # left after make_valid: said, never a crash
        raise InvalidInput(
            f"ids: the {operation} of these {len(features)} features failed in GEOS ({exc});"
            " try fewer of them at once, or buffer them by a small km first"
        ) from None
    made.repaired = repaired[0]
    return made


def _made(frame: LocalFrame | None, operation: str, shapes: list[BaseGeometry], km: float | None) -> Derived:
    result: BaseGeometry
    if operation == "buffer":
        metres = float(km or 0) * 1000.0
        shapes = [
            shapely.simplify(s, metres * BUFFER_TOLERANCE, preserve_topology=s.area > 0) for s in shapes
        ]
        result = shapely.union_all(shapes).buffer(metres, quad_segs=_QUAD_SEGS)
    elif operation == "union":
        result = shapely.union_all(shapes)
    elif operation == "intersection":
        result = reduce(shapely.intersection, shapes)
    elif operation == "difference":
        result = shapely.difference(shapes[0], shapely.union_all(shapes[1:]))
    elif operation == "hull":
        result = shapely.union_all(shapes).convex_hull
    else:
        assert frame is not None  # a centroid is always made in a local frame
        middle = shapely.union_all(shapes).centroid
        lon, lat = shapely.get_coordinates(frame.unproject(middle))[0]
        return Derived(point=(float(lat), (float(lon) + 180.0) % 360.0 - 180.0))
    return _drawable(frame, operation, result)


def _reach_km(frame: LocalFrame, points: Sequence[LatLon]) -> float:
    """How far the farthest of ``points`` lies from the frame's centre."""
    lats, lons = np.asarray(points, dtype=np.float64).T
    x, y = frame.transformer.transform(lons, lats)  # all at once: one PROJ call, not one a point
    return float(np.hypot(x, y).max()) / 1000.0


def _check(operation: str, features: Sequence[Feature], km: float | None) -> None:
    if operation not in OPERATIONS:
        raise InvalidInput(f"op must be one of {', '.join(OPERATIONS)}, got {operation!r:.40}; pick one")
    if not features:
        raise InvalidInput("ids must name at least 1 feature, got none; give the features to derive from")
    if operation == "buffer":
        if km is None or not 0 < km <= MAX_BUFFER_KM:
            raise InvalidInput(
                f"km must be more than 0 and at most {MAX_BUFFER_KM:g} for a buffer, got {km};"
                " give the distance around the features in km"
            )
    elif km is not None:
        raise InvalidInput(f"km is for buffer only, got km={km} with op {operation!r}; leave km out")
    if operation in ("intersection", "difference") and len(features) < 2:
        raise InvalidInput(f"ids needs at least 2 areas for {operation}, got {len(features)}; give another")
    if operation in ("union", "intersection", "difference"):
        for feature in features:
            if not is_area(feature.type):
                raise InvalidInput(
                    f"ids must name areas (polygon, multipolygon, rectangle, circle) for {operation}, got"
                    f" {feature.type} {feature.id!r}; buffer it first to make it an area"
                )


def _local(frame: LocalFrame | None, feature: Feature, repaired: list[int]) -> BaseGeometry:
    """``feature`` in the frame's metres, or in degrees (longitudes around 0) without one."""
    drawn = feature_geometry(feature, partial(_unwrapped, frame.centre[1] if frame else 0.0))
    if feature.type in ("polygon", "multipolygon", "collection") and not shapely.is_valid(drawn):
        drawn = shapely.make_valid(drawn)  # a ring may cross itself; before segmentize adds corners
        repaired[0] += 1
    if frame is None:
        return drawn
    points = feature.type in ("marker", "multipoint")
    return frame.project(drawn if points else shapely.segmentize(drawn, SEGMENT_DEGREES))


def _unwrapped(lon0: float, xy: NDArray[np.float64], steps: bool = True) -> NDArray[np.float64]:
    """One ring's or line's longitudes taken the short way from each point to the next (a line
    from 179.5 to -179.5 crosses 180; a rectangle is as given: ``steps`` False), the whole
    within 180 of ``lon0``."""
    lons = xy[:, 0].copy()
    if steps and len(lons) > 1:
        step = np.diff(lons)
        turns = np.round((step - ((step + 180.0) % 360.0 - 180.0)) / 360.0)  # whole turns: exact
        lons[1:] -= 360.0 * np.cumsum(turns)
    lons -= 360.0 * np.round((lons.mean() - lon0) / 360.0)
    return np.column_stack([lons, xy[:, 1]])


def _drawable(frame: LocalFrame | None, operation: str, result: BaseGeometry) -> Derived:
    """``result`` (in the frame's metres, or in degrees without one) as polygons to draw."""
    areas = [g for g in _flat(result) if isinstance(g, shapely.Polygon) and not g.is_empty and g.area > 0]
    if not areas:
        if operation == "hull":
            raise InvalidInput(
                "ids must span an area for a hull, got points on one line; add a feature off that line"
            )
        return Derived()
    for pole, name in ((90.0, "north"), (-90.0, "south")):
        at = shapely.Point(frame.forward(0.0, pole)) if frame is not None else None  # degrees: none
        if at is not None and any(area.covers(at) for area in areas):
            raise InvalidInput(
                f"the {operation} must not contain a pole, got one around the {name} pole; the map"
                " stops at 85 degrees: use a smaller km or features farther from the pole"
            )
    areas, simplified = _simplified(areas)
    metres = simplified * _METRES_PER_DEGREE if frame is None and simplified is not None else simplified
    out = Derived(simplified_m=metres)
    for area in areas:
        # rounding may pinch a thin part
        degrees = shapely.make_valid(frame.unproject(area)) if frame is not None else area
        minx, _, maxx, _ = degrees.bounds
        if minx < -180.0 or maxx > 180.0:
            out.split_at_180 = True
        for shift in (-360.0, 0.0, 360.0):
            piece = shapely.intersection(translate(degrees, xoff=shift), _WORLD)
            out.polygons += [rings for g in _flat(piece) if (rings := _rings(g))]
    return out


def _flat(geometry: BaseGeometry) -> list[BaseGeometry]:
    return (
        list(shapely.get_parts(geometry))
        if geometry.geom_type.startswith(("Multi", "Geometry"))
        else [geometry]
    )


def _simplified(areas: list[shapely.Polygon]) -> tuple[list[shapely.Polygon], float | None]:
    if _corners(areas) <= MAX_VERTICES:
        return areas, None
    tolerance = max(max(a.bounds[2] - a.bounds[0], a.bounds[3] - a.bounds[1]) for a in areas) * 1e-5
    while True:
        simple = [shapely.simplify(a, tolerance, preserve_topology=True) for a in areas]
        if _corners(simple) <= MAX_VERTICES:
            return simple, tolerance
        tolerance *= 2


def _corners(areas: list[shapely.Polygon]) -> int:
    """Corners as drawn: every ring's, less its closing one."""
    return int(shapely.get_num_coordinates(areas).sum() - sum(1 + len(a.interiors) for a in areas))


def _rings(polygon: BaseGeometry) -> Rings | None:
    """A polygon's outline and holes in ``(lat, lon)``, to the micro-degree (a few cm); None when
    its outline is too small to draw (a hole that small is left out)."""
    if not isinstance(polygon, shapely.Polygon) or polygon.is_empty:
        return None
    outline = _ring(polygon.exterior)
    if outline is None:
        return None
    return (outline, *(hole for ring in polygon.interiors if (hole := _ring(ring)) is not None))


def _ring(ring: shapely.LinearRing) -> tuple[LatLon, ...] | None:
    xy = np.round(shapely.get_coordinates(ring)[:-1], 6) + 0.0  # + 0.0: no -0.0
    points = tuple(zip(xy[:, 1].tolist(), xy[:, 0].tolist(), strict=True))
    return points if len(set(points)) >= 3 else None
