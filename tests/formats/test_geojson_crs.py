"""A GeoJSON in a projected system (issue 75), as real tools write it: GDAL's GeoJSON of
Baltimore's points in Maryland State Plane feet, its 2008 ``crs`` member naming the system, is
read into degrees (compared with PROJ through pyproj); the same numbers without the member need
``crs`` given, which then wins; a member naming WGS84 changes nothing."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pytest
import shapely
from pyproj import Transformer
from support.gis_files import project, write_gdal

from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput
from mapsrv.formats import read_file

LIMITS = Limits()
BALTIMORE = [(-76.6122, 39.2904), (-76.6205, 39.2992), (-76.5897, 39.2847)]  # (lon, lat)
MARYLAND = "EPSG:2248"  # NAD83 / Maryland (ftUS)


def gdal_geojson() -> dict:  # type: ignore[type-arg]
    geometries = project(shapely.points(BALTIMORE), MARYLAND)
    table = pa.table(
        {"name": ["City Hall", "Mount Vernon", "Fells Point"], "geometry": shapely.to_wkb(geometries)}
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = write_gdal(
            table, Path(tmp) / "baltimore.geojson", "GeoJSON", crs=MARYLAND, geometry_type="Point"
        )
        return dict(json.loads(path.read_text()))


def flat(points: list[tuple[float, float]]) -> list[float]:
    return [v for point in points for v in point]


def degrees(raw: dict) -> list[float]:  # type: ignore[type-arg]
    """What PROJ makes of the file's own numbers: lat, lon, lat, lon..."""
    to = Transformer.from_crs(MARYLAND, "EPSG:4326", always_xy=True)
    out = []
    for feature in raw["features"]:
        lon, lat = to.transform(*feature["geometry"]["coordinates"][:2])
        out += [lat, lon]
    return out


def test_the_crs_member_gdal_writes_is_read() -> None:
    raw = gdal_geojson()
    assert raw["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::2248"
    imported = read_file(json.dumps(raw).encode(), None, LIMITS)
    assert flat([f.coords for f in imported.features]) == pytest.approx(degrees(raw), abs=1e-9)
    assert flat([f.coords for f in imported.features]) == pytest.approx(
        flat([(lat, lon) for lon, lat in BALTIMORE]), abs=1e-6
    )
    assert imported.notes == ("geojson reprojected from EPSG:2248 (NAD83 / Maryland (ftUS)) to WGS84",)


def test_projected_numbers_without_a_member_need_crs_and_crs_wins() -> None:
    raw = gdal_geojson()
    without = json.dumps({k: v for k, v in raw.items() if k != "crs"}).encode()
    with pytest.raises(InvalidInput):
        read_file(without, None, LIMITS)  # numbers in feet are no latitude
    given = read_file(without, None, LIMITS, crs=MARYLAND)
    assert flat([f.coords for f in given.features]) == pytest.approx(degrees(raw), abs=1e-9)
    wrong_member = json.dumps(raw | {"crs": {"type": "name", "properties": {"name": "EPSG:3857"}}}).encode()
    assert flat(
        [f.coords for f in read_file(wrong_member, None, LIMITS, crs=MARYLAND).features]
    ) == pytest.approx(degrees(raw), abs=1e-9)


def test_a_member_naming_wgs84_changes_nothing() -> None:
    for name in ("urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326"):
        raw = {
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": name}},
            "features": [
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {"type": "Point", "coordinates": [2.35, 48.85]},
                }
            ],
        }
        imported = read_file(json.dumps(raw).encode(), None, LIMITS)
        assert imported.features[0].coords == (48.85, 2.35) and imported.notes == ()
