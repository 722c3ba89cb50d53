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

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Geod, Transformer
from shapely.geometry.base import BaseGeometry

from mapsrv.core.model import Feature, LatLon

__all__ = [
    "GEOD",
    "SEGMENT_DEGREES",
    "LocalFrame",
    "centre_of",
    "circle_ring",
    "feature_geometry",
    "geometries",
]

GEOD = Geod(ellps="WGS84")
SEGMENT_DEGREES = 0.1  # edges are followed in degrees, as drawn: a point at least this often
CIRCLE_VERTICES = 64  # a circle feature as a polygon: its area is 0.16 % short of the circle's


def circle_ring(
    lat: float, lon: float, radius_m: float, vertices: int = CIRCLE_VERTICES
) -> NDArray[np.float64]:
    """``vertices`` points ``(lon, lat)`` at ``radius_m`` from the centre, geodesically."""
    azimuths = np.linspace(0.0, 360.0, vertices, endpoint=False)
    lons, lats, _ = GEOD.fwd(
        np.full(vertices, lon), np.full(vertices, lat), azimuths, np.full(vertices, radius_m)
    )
    return np.column_stack([lons, np.clip(lats, -90.0, 90.0)])


def feature_geometry(feature: Feature) -> BaseGeometry:
    """One feature in degrees (``x = lon``); a circle is its geodesic polygon."""
    if feature.type == "marker":
        lat, lon = feature.coords
        return shapely.Point(lon, lat)
    if feature.type == "circle":
        lat, lon = feature.coords
        return shapely.Polygon(circle_ring(lat, lon, float(feature.radius or 0.0)))
    if feature.type == "rectangle":
        (s, w), (n, e) = feature.coords
        return shapely.Polygon([(w, s), (e, s), (e, n), (w, n)])
    xy = [(lon, lat) for lat, lon in feature.coords]
    if feature.type == "polyline":
        return shapely.LineString(xy)
    return shapely.Polygon(xy)


def geometries(features: Sequence[Feature]) -> NDArray[np.object_]:
    """Every feature's geometry, built a kind at a time (a 100,000-marker map: one call)."""
    out = np.empty(len(features), dtype=object)
    points = [i for i, f in enumerate(features) if f.type == "marker"]
    if points:
        xy = np.array([features[i].coords for i in points], dtype=float)[:, ::-1]
        out[points] = shapely.points(xy)
    for kind, build in (("polyline", shapely.linestrings), ("polygon", _polygons)):
        chosen = [i for i, f in enumerate(features) if f.type == kind]
        if not chosen:
            continue
        coords = [features[i].coords for i in chosen]
        xy = np.array([p for ring in coords for p in ring], dtype=float)[:, ::-1]
        which = np.repeat(np.arange(len(chosen)), [len(ring) for ring in coords])
        out[chosen] = build(xy, indices=which)
    for i, feature in enumerate(features):
        if feature.type in ("circle", "rectangle"):
            out[i] = feature_geometry(feature)
    return out


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
