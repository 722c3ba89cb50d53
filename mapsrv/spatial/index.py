"""The spatial index behind ``select``: an STRtree over a map's features in degrees.

Built on the first question about a map at a version and kept for the next ones, per
``(map id, version)``: a map changes by new versions, never in place, so an index is valid for
exactly the state it was built from. The cache holds few indexes (``CACHED``) and each holds its
state only weakly: a state the hub has let go of takes its index with it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import shapely
from numpy.typing import NDArray

from mapsrv.core.kept import Kept
from mapsrv.core.model import Feature, MapState
from mapsrv.core.pace import paced, step
from mapsrv.spatial.shapes import geometries

__all__ = ["CACHED", "MARK_LAYER", "FeatureIndex", "cached", "index_of"]

CACHED = 8  # indexes kept: a 100,000-feature map's is ~30 MB (1.7 MB of it its points' arrays)
_POINT = 0  # shapely's type id of a Point
MARK_LAYER = "selection"  # where select's marks are drawn: outlines of features, never selected


class FeatureIndex:
    """``features`` (in map order), their geometries in degrees and an STRtree over them."""

    def __init__(self, features: Iterable[Feature]) -> None:
        self.features: list[Feature] = list(paced(features))
        self.geoms: NDArray[np.object_] = geometries(self.features)
        step()
        self.layers: NDArray[np.str_] = np.array([f.layer for f in self.features], dtype=str)
        step()
        self.rows = {f.id: row for row, f in enumerate(self.features)}
        step()
        self.tree = shapely.STRtree(self.geoms)
        # the points' coordinates as arrays, for tests of many points at once (``area_points``)
        self.is_point: NDArray[np.bool_] = shapely.get_type_id(self.geoms) == _POINT
        self.x: NDArray[np.float64] = np.where(self.is_point, shapely.get_x(self.geoms), np.nan)
        self.y: NDArray[np.float64] = np.where(self.is_point, shapely.get_y(self.geoms), np.nan)
        self.shapes: NDArray[np.intp] = np.flatnonzero(~self.is_point)  # the features not points
        self.shape_bounds: NDArray[np.float64] = shapely.bounds(self.geoms[self.shapes]).reshape(-1, 4)

    def __len__(self) -> int:
        return len(self.features)

    def in_box(self, south: float, west: float, north: float, east: float) -> NDArray[np.intp]:
        """The features whose box meets ``[[south, west], [north, east]]``; ``west > east``
        crosses the 180th meridian (two boxes)."""
        if west <= east:
            boxes = [shapely.box(west, south, east, north)]
        else:
            boxes = [shapely.box(west, south, 180.0, north), shapely.box(-180.0, south, east, north)]
        found = [np.asarray(self.tree.query(box), dtype=np.intp) for box in boxes]
        return np.unique(np.concatenate(found)) if len(found) > 1 else np.sort(found[0])

    def meeting(self, geometry: shapely.Geometry) -> NDArray[np.intp]:
        """The features whose box meets ``geometry``'s (degrees)."""
        return np.sort(np.asarray(self.tree.query(geometry), dtype=np.intp))


_cache: Kept[tuple[str, int], MapState, FeatureIndex] = Kept(CACHED)  # built in workers too


def index_of(state: MapState) -> FeatureIndex:
    """The index of ``state``'s features (but its marks), built once per map version."""
    return _cache.made(
        (state.id, state.version),
        state,
        lambda: FeatureIndex(f for f in state.features.values() if f.layer != MARK_LAYER),
    )


def cached(state: MapState) -> bool:
    """Whether ``state``'s index is built (a caller moves a big build off its event loop)."""
    return _cache.holds((state.id, state.version), state)
