"""A projection told and checked (issue 75): a file read in a projected system where its features
mostly lie outside that system's area of use is said in a note, with the neighbouring system of
its family that puts them inside theirs (Atlanta's points read in Georgia East State Plane: "did
you mean Georgia West?"); read as the right one, nothing is said."""

from __future__ import annotations

import pyarrow as pa
import pytest
import shapely
from support.gis_files import geopackage, project, shapefile_zip

from mapsrv.core.model import Limits
from mapsrv.formats import read_file

LIMITS = Limits()
ATLANTA = [(-84.39, 33.75), (-84.5, 33.6), (-85.0, 34.2)]  # (lon, lat), in Georgia West's counties
ENGLAND = [(-0.12, 51.5), (-1.25, 51.75), (-2.6, 51.45)]
OUTSIDE = "points lie outside where that system is used"


def table(points: list[tuple[float, float]], crs: str) -> pa.Table:
    geometries = project(shapely.points(points), crs)
    return pa.table({"name": [f"p{i}" for i in range(len(points))], "geometry": shapely.to_wkb(geometries)})


def test_a_neighbouring_state_plane_zone_given_is_said_with_the_right_one() -> None:
    data = shapefile_zip({"seats": (table(ATLANTA, "EPSG:2240"), None, "Point")})  # no .prj
    wrong = read_file(data, None, LIMITS, crs="EPSG:2239")
    said = wrong.notes[-1]
    assert said.startswith(
        f"shapefile seats: read as EPSG:2239 (NAD83 / Georgia East (ftUS)), 3 of 3 {OUTSIDE}"
        " (United States (USA) - Georgia - counties of Appling; Atkinson;"
    )
    assert "…); check its crs: did you mean EPSG:2240 (NAD83 / Georgia West (ftUS))?" in said
    right = read_file(data, None, LIMITS, crs="EPSG:2240")
    assert not [n for n in right.notes if OUTSIDE in n]
    assert right.features[0].coords == pytest.approx((33.75, -84.39), abs=1e-6)


def test_a_system_of_another_country_is_said_without_a_guess() -> None:
    """British National Grid metres labelled Lambert-93 in a GeoPackage (a wrong export
    setting): its own srs is what is checked when no crs is given."""
    data = geopackage({"towns": (table(ENGLAND, "EPSG:27700"), "EPSG:2154", "Point")})
    assert read_file(data, None, LIMITS).notes[-1] == (
        f"gpkg layer towns: read as EPSG:2154 (RGF93 v1 / Lambert-93), 3 of 3 {OUTSIDE} (France -"
        " onshore and offshore, mainland and Corsica (France métropolitaine including Corsica).);"
        " check its crs"
    )
    assert not [n for n in read_file(data, None, LIMITS, crs="EPSG:27700").notes if OUTSIDE in n]
