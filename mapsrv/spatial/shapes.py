"""Features as Shapely geometries, and the local projection shapes are made in.

On the map, a feature is drawn in longitude and latitude degrees (``x = lon, y = lat``), as it is
stored: a box is a box in degrees, and that is what ``select`` asks about areas. Distances and new
shapes are computed in a :class:`LocalFrame`, an azimuthal equidistant projection centred on the
question: distances from its centre are exact geodesic distances, and near it (hundreds of km)
shapes keep their size to a fraction of a percent, at any latitude and across the 180th meridian.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Geod, Transformer
from shapely.geometry.base import BaseGeometry

from mapsrv.core.geometry import polygon_rings
from mapsrv.core.model import Feature, LatLon
from mapsrv.core.pace import step
from mapsrv.core.slices import by_parts

__all__ = [
    "GEOD",
    "SEGMENT_DEGREES",
    "LocalFrame",
    "centre_of",
    "circle_ring",
    "Fix",
    "Rings",
    "ring_area_m2",
    "rings_area_m2",
    "feature_geometry",
    "geometries",
    "shape_of",
]

GEOD = Geod(ellps="WGS84")
_SLICE = 8_192  # points converted to an array at once (``_lon_lat``)
SEGMENT_DEGREES = 0.1  # edges are followed in degrees, as drawn: a point at least this often
CIRCLE_VERTICES = 64  # a circle feature as a polygon: its area is 0.16 % short of the circle's


Rings: TypeAlias = tuple[tuple[LatLon, ...], ...]  # a polygon's outline, then its holes


def ring_area_m2(ring: Sequence[LatLon]) -> float:
    """A ring's geodesic area, either winding (PROJ's C of Karney's algorithm: 1 ms for 7,000
    corners, where geographiclib's Python takes a second)."""
    xy = np.asarray(ring, dtype=float).reshape(-1, 2)
    return abs(float(GEOD.polygon_area_perimeter(xy[:, 1], xy[:, 0])[0]))


def rings_area_m2(rings: Sequence[Sequence[LatLon]]) -> float:
    """A polygon's geodesic area: its outline's less its holes'."""
    outline, *holes = (ring_area_m2(ring) for ring in rings)
    return max(0.0, outline - sum(holes))


class Fix(Protocol):
    """A ring's or a line's ``(lon, lat)`` rows, rewritten (``steps``: its points are joined
    the short way, as drawn; a rectangle's edges are not)."""

    def __call__(self, xy: NDArray[np.float64], steps: bool = True, /) -> NDArray[np.float64]: ...


def circle_ring(
    lat: float, lon: float, radius_m: float, vertices: int = CIRCLE_VERTICES
) -> NDArray[np.float64]:
    """``vertices`` points ``(lon, lat)`` at ``radius_m`` from the centre, geodesically."""
    azimuths = np.linspace(0.0, 360.0, vertices, endpoint=False)
    lons, lats, _ = GEOD.fwd(
        np.full(vertices, lon), np.full(vertices, lat), azimuths, np.full(vertices, radius_m)
    )
    return np.column_stack([lons, np.clip(lats, -90.0, 90.0)])


def feature_geometry(feature: Feature, fix: Fix | None = None) -> BaseGeometry:
    """One feature in degrees (``x = lon``), parts and holes kept: a polygon with its interiors,
    a multipolygon, multipolyline or multipoint as one Multi geometry, a collection as a
    GeometryCollection of its members; a circle is its geodesic polygon. ``fix`` rewrites each
    ring or line (``(lon, lat)`` rows) on its own: ``derive`` unwraps them across 180 with it."""
    return shape_of(feature.type, feature.coords, feature.radius, fix or _same)


def shape_of(type_: str, coords: Any, radius: float | None, fix: Fix) -> BaseGeometry:
    """``type_`` and ``coords`` (core's geometry value) as Shapely's, each ring through ``fix``."""
    if type_ == "circle":
        lat, lon = coords
        return shapely.Polygon(fix(circle_ring(lat, lon, float(radius or 0.0))))
    if type_ == "rectangle":
        (s, w), (n, e) = coords
        return shapely.Polygon(fix(np.array([(w, s), (e, s), (e, n), (w, n)], dtype=float), False))
    if type_ == "marker":
        return shapely.Point(fix(_xy((coords,)))[0])
    if type_ == "polyline":
        return shapely.LineString(fix(_xy(coords)))
    if type_ == "multipoint":  # points are not joined: each on its own
        xy = _xy(coords)
        return shapely.MultiPoint(xy if fix is _same else np.vstack([fix(row[None, :]) for row in xy]))
    if type_ == "multipolyline":
        return shapely.MultiLineString([fix(_xy(line)) for line in coords])
    if type_ == "polygon":
        return _polygon(polygon_rings(coords), fix)
    if type_ == "multipolygon":
        return shapely.MultiPolygon([_polygon(rings, fix) for rings in coords])
    return shapely.GeometryCollection([shape_of(t, c, None, fix) for t, c in coords])


def _polygon(rings: Sequence[Sequence[LatLon]], fix: Fix) -> shapely.Polygon:
    return shapely.Polygon(fix(_xy(rings[0])), [fix(_xy(hole)) for hole in rings[1:]])


def _xy(points: Sequence[LatLon]) -> NDArray[np.float64]:
    return np.array(points, dtype=float).reshape(-1, 2)[:, ::-1]


def _same(xy: NDArray[np.float64], steps: bool = True) -> NDArray[np.float64]:
    return xy


def geometries(features: Sequence[Feature]) -> NDArray[np.object_]:
    """Every feature's geometry, built a kind at a time (a 100,000-marker map: one call); the
    multi-part kinds but areas one by one (``feature_geometry``). A step (``mapsrv.core.pace``)
    after each pass over them: each is a few ms on a 23,000-feature map, 0.1-0.2 s in all."""
    out = np.empty(len(features), dtype=object)
    points = [i for i, f in enumerate(features) if f.type == "marker"]
    if points:
        out[points] = shapely.points(_lon_lat([features[i].coords for i in points]))
    step()
    flat = [f.type == "polyline" or (f.type == "polygon" and not _holed(f.coords)) for f in features]
    for kind, build in (("polyline", shapely.linestrings), ("polygon", _polygons)):
        step()
        chosen = [i for i, f in enumerate(features) if f.type == kind and flat[i]]
        if not chosen:
            continue
        coords = [features[i].coords for i in chosen]
        xy = _lon_lat([p for ring in coords for p in ring])
        step()
        which = np.repeat(np.arange(len(chosen)), [len(ring) for ring in coords])
        out[chosen] = by_parts(build, xy, which)
    areas = [
        i for i, f in enumerate(features) if f.type == "multipolygon" or (f.type == "polygon" and not flat[i])
    ]
    if areas:
        out[areas] = _areas([features[i] for i in areas])
    step()
    for i, feature in enumerate(features):
        if feature.type in ("circle", "rectangle", "multipoint", "multipolyline", "collection"):
            out[i] = feature_geometry(feature)
    return out


def _lon_lat(points: Sequence[LatLon]) -> NDArray[np.float64]:
    """``points`` (latitude, longitude) as an array of (longitude, latitude) rows, converted
    ``_SLICE`` points at a time: one ``np.array`` of a 23,000-feature map's 123,000 points is one
    C call that held the interpreter, and so the event loop beside the worker thread, 20-26 ms.
    A slice holds it ~1.5 ms; all of them take as long as the one call."""
    if len(points) <= _SLICE:
        return np.array(points, dtype=float).reshape(-1, 2)[:, ::-1]
    parts = []
    for at in range(0, len(points), _SLICE):
        parts.append(np.array(points[at : at + _SLICE], dtype=float))
        step()
    return np.concatenate(parts)[:, ::-1]


def _areas(features: Sequence[Feature]) -> NDArray[np.object_]:
    """Polygons with holes and multipolygons, all at once: every ring in one array (the world's
    241 countries at 1:50m, 1,619 polygons: 30 ms, where one by one took 48)."""
    rings: list[Sequence[LatLon]] = []
    polygon_of: list[int] = []  # for each ring
    feature_of: list[int] = []  # for each polygon
    for k, feature in enumerate(features):
        for rings_of in (feature.coords,) if feature.type == "polygon" else feature.coords:
            polygon_of += [len(feature_of)] * len(rings_of)
            feature_of.append(k)
            rings += rings_of
    xy = _lon_lat([p for ring in rings for p in ring])
    made = by_parts(shapely.linearrings, xy, np.repeat(np.arange(len(rings)), [len(r) for r in rings]))
    polygons = np.asarray(shapely.polygons(made, indices=polygon_of))
    out = np.empty(len(features), dtype=object)
    multi = np.array([f.type == "multipolygon" for f in features])
    which = np.array(feature_of)
    out[~multi] = polygons[~multi[which]]
    if multi.any():
        chosen = multi[which]
        out[multi] = shapely.multipolygons(
            polygons[chosen], indices=np.unique(which[chosen], return_inverse=True)[1]
        )
    return out


def _holed(coords: Any) -> bool:
    """Whether polygon coords are in ring form (an outline and its holes), not one flat ring."""
    return isinstance(coords[0][0], (tuple, list))


def _polygons(xy: NDArray[np.float64], indices: NDArray[np.int64]) -> NDArray[np.object_]:
    return np.asarray(shapely.polygons(shapely.linearrings(xy, indices=indices)))


@dataclass(frozen=True)
class LocalFrame:
    """An azimuthal equidistant projection centred on ``centre`` (metres)."""

    centre: LatLon
    transformer: Transformer

    @classmethod
    def at(cls, centre: LatLon) -> LocalFrame:
        lat, lon = centre
        # a PROJ pipeline (degrees in, metres out): made in ~0.05 ms, where from_crs takes 4-7 ms
        pipeline = (
            "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad"
            f" +step +proj=aeqd +lat_0={lat:.9f} +lon_0={lon:.9f} +ellps=WGS84"
        )
        return cls(centre, Transformer.from_pipeline(pipeline))

    def forward(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self.transformer.transform(lon, lat)
        return float(x), float(y)

    def project(self, geometry: BaseGeometry) -> BaseGeometry:
        """``geometry`` (degrees) in this frame's metres."""
        return shapely.transform(geometry, self._forward)

    def project_all(self, geoms: NDArray[np.object_]) -> NDArray[np.object_]:
        return np.asarray(shapely.transform(geoms, self._forward))

    def unproject(self, geometry: BaseGeometry) -> BaseGeometry:
        """``geometry`` (metres) back in degrees; longitudes continue past +-180 where the shape
        crosses it (``x`` within 180 of the centre's), for the caller to split."""
        lon0 = self.centre[1]

        def back(xy: NDArray[np.float64]) -> NDArray[np.float64]:
            lons, lats = self.transformer.transform(xy[:, 0], xy[:, 1], direction="INVERSE")
            lons = (np.asarray(lons) - lon0 + 180.0) % 360.0 - 180.0 + lon0
            return np.column_stack([lons, lats])

        return shapely.transform(geometry, back)

    def _forward(self, xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = self.transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])


def centre_of(points: Sequence[LatLon]) -> LatLon:
    """The middle of ``points``' box, longitudes taken around the first (a set across 180 has
    its middle there, not at 0)."""
    lats = np.array([p[0] for p in points])
    lon0 = points[0][1]
    lons = (np.array([p[1] for p in points]) - lon0 + 180.0) % 360.0 - 180.0 + lon0
    lon = (float(lons.min() + lons.max()) / 2 + 180.0) % 360.0 - 180.0
    return (float(lats.min() + lats.max()) / 2, lon)
