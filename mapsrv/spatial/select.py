"""Which features: within an area, touching a feature, within a distance of a place, nearest.

Areas are asked about as the page draws them, in degrees (a box is a box of parallels and
meridians; a polygon's edges are straight between its corners), except a circle, which is every
point within its radius, geodesically. Distances are geodesic metres to a feature's nearest point
(0 inside an area), computed in a :class:`~mapsrv.spatial.shapes.LocalFrame` centred on the
place asked about, with edges followed in degrees as drawn (a point every 0.1 degree): exact
to each vertex, and along an edge to well under 0.1 % within 1,000 km.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from mapsrv.core.model import Feature, LatLon
from mapsrv.spatial.area_points import covered_points
from mapsrv.spatial.index import FeatureIndex
from mapsrv.spatial.shapes import GEOD, SEGMENT_DEGREES, LocalFrame

__all__ = [
    "HALF_EARTH_M",
    "Found",
    "Selection",
    "degree_box",
    "select_near",
    "select_touching",
    "select_within",
]

HALF_EARTH_M = 20_003_931.5  # the longest geodesic: pole to pole
_M_PER_DEGREE = 110_000.0  # fewer than any degree of latitude holds: boxes err on the large side
_FIRST_REACH_M = 10_000.0  # nearest N: the first radius looked in, widened 4 times a step


@dataclass(frozen=True)
class Found:
    feature: Feature
    metres: float | None = None


@dataclass(frozen=True)
class Selection:
    """The features chosen (positions in ``index``), in answer order, with their distances."""

    index: FeatureIndex
    rows: NDArray[np.intp]
    metres: NDArray[np.float64] | None = None

    @property
    def count(self) -> int:
        return len(self.rows)

    def top(self, n: int, start: int = 0) -> list[Found]:
        """The ``n`` from ``start`` on, in answer order."""
        rows = self.rows[start : start + n].tolist()
        if self.metres is None:
            return [Found(self.index.features[row]) for row in rows]
        metres = self.metres[start : start + n].tolist()
        return [Found(self.index.features[row], float(m)) for row, m in zip(rows, metres, strict=True)]


def _kept(
    index: FeatureIndex, rows: NDArray[np.intp], layer: str | None, skip: str | None
) -> NDArray[np.intp]:
    if layer is not None:
        rows = rows[index.layers[rows] == layer]
    if skip is not None and skip in index.rows:
        rows = rows[rows != index.rows[skip]]
    return rows


def select_within(
    index: FeatureIndex,
    area: BaseGeometry | tuple[LatLon, float],
    layer: str | None = None,
    skip: str | None = None,
) -> Selection:
    """The features wholly inside ``area``: a polygon in degrees (``x = lon``), or a circle
    ``(centre, radius_m)``; ``skip`` is the id of the area's own feature. In map order."""
    if isinstance(area, BaseGeometry):
        return Selection(index, _kept(index, _covered(index, area), layer, skip))
    (lat, lon), radius = area
    south, west, north, east = degree_box((lat, lon), radius)
    rows = _kept(index, index.in_box(south, west, north, east), layer, skip)
    if not len(rows):
        return Selection(index, rows)
    xy, which = shapely.get_coordinates(index.geoms[rows], return_index=True)
    _, _, metres = GEOD.inv(np.full(len(xy), lon), np.full(len(xy), lat), xy[:, 0], xy[:, 1])
    farthest = np.full(len(rows), -1.0)
    np.maximum.at(farthest, which, metres)
    return Selection(index, rows[(farthest >= 0) & (farthest <= radius)])


def _covered(index: FeatureIndex, area: BaseGeometry) -> NDArray[np.intp]:
    """The features ``area`` covers, in map order: the points as arrays (``area_points``), the
    other shapes whose box is in the area's by GEOS's ``covers``, the area prepared."""
    rows = np.flatnonzero(covered_points(area, index.x, index.y))
    if not len(index.shapes):
        return rows
    west, south, east, north = area.bounds
    b = index.shape_bounds
    shapes = index.shapes[(b[:, 0] >= west) & (b[:, 1] >= south) & (b[:, 2] <= east) & (b[:, 3] <= north)]
    shapes = shapes[shapely.covers(area, index.geoms[shapes])]
    return np.sort(np.concatenate([rows, shapes])) if len(shapes) else rows


def select_touching(
    index: FeatureIndex, shape: BaseGeometry, skip: str | None, layer: str | None = None
) -> Selection:
    """The features that meet ``shape`` (degrees): inside it, crossing it or touching its edge."""
    rows = np.sort(np.asarray(index.tree.query(shape, predicate="intersects"), dtype=np.intp))
    return Selection(index, _kept(index, rows, layer, skip))


def select_near(
    index: FeatureIndex,
    origin: LatLon | BaseGeometry,
    within_m: float | None = None,
    nearest: int | None = None,
    layer: str | None = None,
    skip: str | None = None,
) -> Selection:
    """The features within ``within_m`` of ``origin`` (a point, or a shape in degrees), or its
    ``nearest`` (or both: the nearest within), nearest first."""
    if isinstance(origin, BaseGeometry):
        frame = LocalFrame.at(_middle(origin))
        shape = frame.project(shapely.segmentize(origin, SEGMENT_DEGREES))
        reach = float(shapely.hausdorff_distance(shape, shapely.Point(0, 0)))  # its farthest point
    else:
        frame = LocalFrame.at(origin)
        shape, reach = shapely.Point(0.0, 0.0), 0.0
    radius = within_m if within_m is not None else _FIRST_REACH_M
    while True:
        south, west, north, east = degree_box(frame.centre, radius + reach)
        rows = _kept(index, index.in_box(south, west, north, east), layer, skip)
        metres = _distances(frame, index.geoms[rows], shape)
        close = metres <= radius
        if (
            within_m is not None
            or radius + reach >= HALF_EARTH_M
            or np.count_nonzero(close) >= (nearest or 0)
        ):
            break
        radius *= 4
    rows, metres = rows[close], metres[close]
    order = np.lexsort((rows, metres))[:nearest] if nearest is not None else np.lexsort((rows, metres))
    return Selection(index, rows[order], metres[order])


def _middle(shape: BaseGeometry) -> LatLon:
    x, y = shapely.get_coordinates(shape).mean(axis=0)
    return (float(y), float(x))


def _distances(frame: LocalFrame, geoms: NDArray[np.object_], shape: BaseGeometry) -> NDArray[np.float64]:
    if not len(geoms):
        return np.empty(0)
    drawn = shapely.segmentize(geoms, SEGMENT_DEGREES)  # edges as drawn, not straight in the frame
    metres: NDArray[np.float64] = np.asarray(shapely.distance(frame.project_all(drawn), shape), dtype=float)
    # the antipode of the frame's centre has no place in it: it is half the Earth away
    metres[~np.isfinite(metres)] = HALF_EARTH_M
    return metres


def degree_box(centre: LatLon, metres: float) -> tuple[float, float, float, float]:
    """``(south, west, north, east)`` around every point within ``metres`` of ``centre``;
    ``west > east`` when it crosses the 180th meridian."""
    lat, lon = centre
    spread = metres / _M_PER_DEGREE
    south, north = lat - spread, lat + spread
    if south <= -90.0 or north >= 90.0:
        return max(south, -90.0), -180.0, min(north, 90.0), 180.0
    wide = spread / math.cos(math.radians(max(abs(south), abs(north))))
    if wide >= 180.0:
        return south, -180.0, north, 180.0
    west, east = lon - wide, lon + wide
    return south, west + 360.0 if west < -180.0 else west, north, east - 360.0 if east > 180.0 else east
