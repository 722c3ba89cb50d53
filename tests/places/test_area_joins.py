"""An imported area joined by a long table (issues 76 and 80): an archipelago, written with
pyosmium as a boundary relation whose islets lie west of its main island (osmium gives the outline
it assembles west to east: the islets first, as stored), imported with ``mapsrv places import``
and joined over MCP by the SDK's own client on a real mapsrv. The table's repeats thin every
outline: parts smaller than the tolerance are left out but never the biggest, so the area must
give its parts biggest first for the islets to go and the main island alone to stay, and the note
names the place that lost parts."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest
import shapely
import trio
from mcp import Client
from support import start_server
from support.agents import followed
from support.area_extract import box_ring
from support.place_extract import _Objects

from mapsrv.cli import main
from mapsrv.places.offline_files import SUFFIX

MAIN_ISLAND = (60.20, 22.90)  # its centre (lat, lon): an ellipse ~22 km across, of 2,000 vertices
ROWS = 400  # each row the whole outline: 400 x 2,016 points pass 3/4 of max_total_points
ISLETS = 3  # of ~2 km, under the 5 km the outlines are thinned to


def main_island() -> tuple[tuple[float, float], ...]:
    lat, lon = MAIN_ISLAND
    turns = (i * 2 * math.pi / 2000 for i in range(2000))
    return tuple((lat + 0.2 * math.sin(t), lon + 0.4 * math.cos(t)) for t in turns)


@pytest.fixture(scope="module")
def places_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archipelago "Saaristo": ISLETS islets of ~2 km, then east of them the main island."""
    directory = tmp_path_factory.mktemp("archipelago")
    objects = _Objects()
    small = [box_ring(59.80, 21.00 + i * 0.3, 59.82, 21.04 + i * 0.3) for i in range(ISLETS)]
    members = [(objects.way(ring, {}, closed=True), "outer") for ring in (*small, main_island())]
    tags = {"type": "boundary", "boundary": "administrative", "admin_level": "8", "name": "Saaristo"}
    objects.relation(members, tags)
    objects.write(directory / "saaristo.osm.pbf")
    places = directory / "places"
    assert main(["places", "import", str(directory / "saaristo.osm.pbf"), "--places-dir", str(places)]) == 0
    db = sqlite3.connect(places / f"saaristo{SUFFIX}")
    ((wkb,),) = db.execute("SELECT outline FROM areas")
    db.close()
    areas = [part.area for part in shapely.from_wkb(wkb).geoms]
    assert areas.index(max(areas)) == ISLETS, "as stored, the main island comes after the others"
    return places


async def test_a_thinned_join_keeps_an_areas_biggest_part_and_names_what_it_left_out(
    nursery: trio.Nursery, places_dir: Path
) -> None:
    server = await start_server(nursery, places_dir=str(places_dir))
    # no time column: each row its own outline (with one, the rows would be one place's series)
    table = "area,visitors\n" + "".join(f"Saaristo,{n}\n" for n in range(ROWS))
    async with Client(server.url + "mcp") as agent:
        with trio.fail_after(30):
            result = await agent.call_tool("import", {"content": table, "join": "regions", "key": "area"})
        assert not result.is_error and result.structured_content is not None, result.content
        answer = result.structured_content
        assert answer["added"] == ROWS, answer
        thinned = next(note for note in answer["notes"] if "thinned" in note)
        assert thinned.startswith("outlines thinned to 5 km") and thinned.endswith(
            f"parts smaller than that left out of Saaristo ({ISLETS})"
        ), thinned
        read = await agent.call_tool("read", {"map_id": answer["map_id"], "format": "geojson"})
        assert read.structured_content is not None, read.content
        geojson = await followed(dict(read.structured_content))
    centre = shapely.Point(MAIN_ISLAND[1], MAIN_ISLAND[0])
    shapes = [shapely.geometry.shape(f["geometry"]) for f in geojson["features"]]
    assert len(shapes) == ROWS
    assert all(shape.contains(centre) for shape in shapes), "the main island was thinned away"
    assert {shape.geom_type for shape in shapes} == {"Polygon"}, "the islets under 5 km are left out"
