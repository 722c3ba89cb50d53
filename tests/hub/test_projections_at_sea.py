"""A UTM zone one off (issue 75), with real data: Georgia's 159 counties (the US Census's lines)
in UTM zone 16N metres, as a Shapefile without its .prj, imported as 17N land in the Atlantic off
the Carolinas. Each zone reads the numbers into its own band, so the area of use cannot tell; the
import, read through the sandboxed reader as any upload, says that in 16N they lie on land. Read
as 16N, or as a file of places at sea in any system, nothing is said."""

from __future__ import annotations

import pyarrow as pa
import pytest
import shapely
from support.census_states import census_counties
from support.gis_files import project, shapefile_zip

from mapsrv.core.model import Limits
from mapsrv.errors import CrsNeeded
from mapsrv.hub.imports import read_upload
from mapsrv.hub.projections import utm_candidates

LIMITS = Limits(max_total_points=2_000_000)


def georgia_in_16n() -> bytes:
    counties = census_counties("US-GA")
    assert 150 <= len(counties) <= 160, len(counties)
    table = pa.table(
        {
            "n": list(range(len(counties))),
            "geometry": shapely.to_wkb(project(shapely.simplify(list(counties), 0.002), "EPSG:26916")),
        }
    )
    return shapefile_zip({"counties": (table, None, "MultiPolygon")})


async def test_a_utm_zone_one_off_is_said_with_the_right_one() -> None:
    data = georgia_in_16n()
    wrong = await read_upload(data, "shp", LIMITS, crs="EPSG:26917")
    said = [n for n in wrong.notes if "lie at sea" in n]
    assert len(said) == 1, wrong.notes
    assert said[0].startswith("shapefile counties: read as EPSG:26917 (NAD83 / UTM zone 17N), ")
    assert said[0].endswith(
        "of its points lie at sea; in EPSG:26916 (NAD83 / UTM zone 16N) they would lie on land: if they"
        " belong on land, give that as crs"
    )
    right = await read_upload(data, "shp", LIMITS, crs="EPSG:26916")
    assert not [n for n in right.notes if "lie at sea" in n], right.notes
    assert len(right.features) == len(census_counties("US-GA"))


async def test_data_at_sea_for_a_reason_is_left_alone() -> None:
    """A shipping lane in mid-Atlantic, in its UTM zone (22N): at sea, and no neighbouring zone
    puts it on land."""
    lane = shapely.linestrings([(-50.0 + i / 10, 35.0 + i / 20) for i in range(10)])
    table = pa.table({"n": [1], "geometry": shapely.to_wkb(project(shapely.get_parts(lane), "EPSG:32622"))})
    data = shapefile_zip({"lane": (table, None, "LineString")})
    read = await read_upload(data, "shp", LIMITS, crs="EPSG:32622")
    assert not [n for n in read.notes if "lie at sea" in n], read.notes


async def test_a_file_in_utm_metres_without_a_prj_is_offered_the_zones_where_it_lies_on_land() -> None:
    """Without its .prj the numbers fit every zone; the zones that put the counties on land are
    offered, each with where (so the person picks 16N, in Georgia), before the national grids."""
    with pytest.raises(CrsNeeded) as refused:
        await read_upload(georgia_in_16n(), "shp", LIMITS)
    offered = {c["crs"]: c["name"] for c in refused.value.candidates}
    assert offered["EPSG:26916"] == "NAD83 / UTM zone 16N, in Georgia (US)"
    assert offered["EPSG:26915"] == "NAD83 / UTM zone 15N, in Mississippi (US)"  # on land too, further west
    assert "EPSG:26917" not in offered  # its east in the Atlantic
    assert "EPSG:26916 in Georgia (US), " in refused.value.message
    assert not any(c.startswith("EPSG:327") for c in offered)  # read as south, at sea
    utm = [c for c in offered if c.startswith(("EPSG:269", "EPSG:326"))]
    assert list(offered)[: len(utm)] == utm  # the zones first
    right = await read_upload(georgia_in_16n(), "shp", LIMITS, crs="EPSG:26916")
    assert len(right.features) == len(census_counties("US-GA"))


def test_numbers_that_are_not_utm_metres_get_no_zones() -> None:
    assert utm_candidates([(530_000.0, 180_000.0)]) != []  # a British grid's numbers look like UTM too
    assert utm_candidates([(-1e6, 5e6)]) == []  # no UTM easting
    assert utm_candidates([(5e5, 2e7)]) == []  # past any northing
