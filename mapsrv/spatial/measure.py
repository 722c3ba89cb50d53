"""A feature's length and area for every geometry, fast on big ones: core's rules
(:mod:`mapsrv.core.measure`: a circle's cap, a rectangle's ellipsoidal zone, an area is each
outline less its holes), with the rings and lines summed by PROJ's geodesics, Karney's algorithm
as geographiclib's, in C (the same numbers to 1e-15): Canada's 141 parts at 1:50m (11,000 points)
take 14 ms, where core's pure Python takes 0.8 s (3 s on a busy machine)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mapsrv.core import measure
from mapsrv.core.geometry import parts
from mapsrv.core.measure import AREA_UNITS, LENGTH_UNITS, check_area_unit, check_length_unit
from mapsrv.core.model import Feature
from mapsrv.spatial.shapes import GEOD, rings_area_m2

__all__ = ["feature_area", "feature_length"]


def feature_length(feature: Feature, unit: Any = "m") -> float:
    """Every line's length, every ring's (holes' too) for an area, a circle's circumference;
    a point has none (0). In ``unit``."""
    per = LENGTH_UNITS[check_length_unit(unit)]
    if feature.type in ("circle", "marker"):
        return measure.feature_length(feature, unit)
    metres = 0.0
    for kind, value in parts(feature.type, feature.coords):
        paths = (
            [value] if kind == "line" else [(*ring, ring[0]) for ring in value] if kind == "polygon" else []
        )
        for path in paths:
            xy = np.asarray(path, dtype=float)
            metres += float(GEOD.line_length(xy[:, 1], xy[:, 0]))
    return metres / per


def feature_area(feature: Feature, unit: Any = "m2") -> float:
    """Every polygon's area, each its outline's less its holes', a rectangle's or a circle's;
    points and lines have none (0). In ``unit``."""
    per = AREA_UNITS[check_area_unit(unit)]
    if feature.type in ("circle", "rectangle"):
        return measure.feature_area(feature, unit)
    return (
        sum(rings_area_m2(rings) for kind, rings in parts(feature.type, feature.coords) if kind == "polygon")
        / per
    )
