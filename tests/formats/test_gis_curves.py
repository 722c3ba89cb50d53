"""Curves, Z and M in GIS files (issue 75): a GeoPackage GDAL wrote with circular arcs (a road
that is a line then a half circle, a roundabout that is a whole circle, a multi-surface of both
kinds) is read with its arcs made straight lines, every point on the arc's circle and at most 4°
of it apart (GDAL's own step), its ends exact, with a note; a LineString ZM's heights and
measures are left out with a note, never silently, and its heights kept (test_gis_heights)."""

from __future__ import annotations

import itertools
import math
import struct
import tempfile
from pathlib import Path

import pyarrow as pa
import pytest
import shapely
from support.gis_files import write_gdal

from mapsrv.core.model import Limits
from mapsrv.formats import read_file
from mapsrv.formats.curves import linear_wkb

LIMITS = Limits()
CX, CY, R = 14.42, 50.08, 0.01  # a roundabout in Prague: centre (lon, lat) and radius in degrees


def points(p: list[tuple[float, ...]]) -> bytes:
    return struct.pack("<I", len(p)) + b"".join(struct.pack(f"<{len(q)}d", *q) for q in p)


def wkb(code: int, body: bytes) -> bytes:
    return struct.pack("<BI", 1, code) + body


def parts(code: int, *members: bytes) -> bytes:
    return struct.pack("<BII", 1, code, len(members)) + b"".join(members)


LINE = wkb(2, points([(14.40, 50.07), (CX - R, CY)]))
HALF = wkb(8, points([(CX - R, CY), (CX, CY + R), (CX + R, CY)]))  # a CircularString over the top
CIRCLE = wkb(8, points([(CX - R, CY), (CX + R, CY), (CX - R, CY)]))  # whole, back where it began
ROAD = parts(9, LINE, HALF)  # CompoundCurve
ROUNDABOUT = parts(10, CIRCLE)  # CurvePolygon
SQUARE = wkb(3, struct.pack("<I", 1) + points([(14.5, 50.0), (14.51, 50.0), (14.51, 50.01), (14.5, 50.0)]))
BLOCKS = parts(12, SQUARE, ROUNDABOUT)  # MultiSurface: a polygon and a curve polygon
ROUTES = parts(11, LINE, HALF)  # MultiCurve


def written(rows: dict[str, bytes]) -> bytes:
    """A GeoPackage GDAL (pyogrio) wrote, one layer of these geometries as they are."""
    table = pa.table({"name": list(rows), "geometry": pa.array(list(rows.values()), pa.binary())})
    with tempfile.TemporaryDirectory() as tmp:
        path = write_gdal(table, Path(tmp) / "curves.gpkg", "GPKG", crs="EPSG:4326", geometry_type="Unknown")
        return path.read_bytes()


def on_circle(latlons: list[tuple[float, float]]) -> None:
    """Every point on the circle, and successive points at most 4° of it apart."""
    angles = []
    for lat, lon in latlons:
        assert math.hypot(lon - CX, lat - CY) == pytest.approx(R, rel=1e-9)
        angles.append(math.atan2(lat - CY, lon - CX))
    for a, b in itertools.pairwise(angles):
        assert abs(math.remainder(b - a, 2 * math.pi)) <= math.radians(4) + 1e-9


def test_arcs_in_a_geopackage_gdal_wrote_are_read_as_straight_lines_with_a_note() -> None:
    imported = read_file(
        written({"road": ROAD, "roundabout": ROUNDABOUT, "blocks": BLOCKS, "routes": ROUTES}), None, LIMITS
    )
    by = {f.label: f for f in imported.features}
    road = by["road"]
    assert road.type == "polyline"
    assert road.coords[:2] == ((50.07, 14.40), (CY, CX - R)) and road.coords[-1] == (CY, CX + R)
    on_circle(list(road.coords[1:]))
    assert all(lat >= CY for lat, _ in road.coords[1:]), "over the top, through its middle point"
    assert len(road.coords) == 2 + 45  # 180° in 4° steps

    ring = by["roundabout"].coords
    assert by["roundabout"].type == "polygon" and ring[0] == (CY, CX - R)  # mapsrv's rings are open
    on_circle(list(ring))
    circle = shapely.Polygon([(lon, lat) for lat, lon in ring])
    assert circle.area == pytest.approx(math.pi * R * R, rel=0.003)

    assert by["blocks"].type == "multipolygon" and len(by["blocks"].coords) == 2
    assert by["routes"].type == "multipolyline" and len(by["routes"].coords) == 2
    assert imported.notes == (
        "gpkg layer curves: curves made straight lines (a point every 4° of arc, as GDAL): 4",
    )


def test_heights_are_kept_and_measures_left_out_with_a_note() -> None:
    zm = wkb(3002, points([(14.4, 50.0, 200.0, 0.0), (14.5, 50.1, 250.0, 1.5)]))  # LineString ZM
    z = wkb(1002, points([(14.4, 50.0, 200.0), (14.5, 50.1, 250.0)]))  # LineString Z
    imported = read_file(written({"zm": zm, "z": z}), None, LIMITS)
    assert [f.coords for f in imported.features] == [((50.0, 14.4), (50.1, 14.5))] * 2
    assert [dict(f.properties)["elevations"] for f in imported.features] == [(200.0, 250.0)] * 2
    assert imported.notes == (
        "gpkg layer curves: heights (Z) kept, a point's as its ele, a line's or shape's as its elevations",
        "gpkg layer curves: measures (M) left out, the map holds positions and heights: 1",
    )


@pytest.mark.parametrize(
    "forged",
    [
        wkb(8, points([(0.0, 0.0), (1.0, 1.0)])),  # a circular string of an even number of points
        struct.pack("<BII", 1, 9, 2**31),  # a compound of more parts than bytes
        wkb(8, struct.pack("<I", 10**9)),  # more points than bytes
        b"\x01\x09\x00\x00\x00" * 40,  # nested past any depth
    ],
)
def test_a_forged_curve_is_not_read(forged: bytes) -> None:
    assert linear_wkb(forged) is None
