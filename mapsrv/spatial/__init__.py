"""Spatial questions about a map's features, sans-IO: which features lie within an area, touch a
feature, lie near a point, or are nearest (``select``), and new shapes made from features (buffers,
unions, overlaps, hulls, centroids: ``derive``).

Features go in as core's values, ids and ``(lat, lon)`` rings come out; nothing here reads or
writes a map. Shapely 2 (GEOS) does the geometry, pyproj the geodesy: distances are geodesics on
the WGS84 ellipsoid and new shapes are made in an azimuthal equidistant projection centred on
their input, so a 10 km buffer is 10 km at any latitude and across the 180th meridian.
"""

from __future__ import annotations

from mapsrv.spatial.derive import MAX_BUFFER_KM, MAX_VERTICES, OPERATIONS, Derived, derive
from mapsrv.spatial.index import FeatureIndex, index_of
from mapsrv.spatial.select import Found, select_near, select_touching, select_within

__all__ = [
    "MAX_BUFFER_KM",
    "MAX_VERTICES",
    "OPERATIONS",
    "Derived",
    "FeatureIndex",
    "Found",
    "derive",
    "index_of",
    "select_near",
    "select_touching",
    "select_within",
]
