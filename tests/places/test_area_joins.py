"""An imported area joined by a long table (issue 80): an archipelago, written with pyosmium as
a boundary relation whose small islands lie west of its main island (osmium gives the outline it
assembles west to east: the small islands first, as stored), imported with ``mapsrv places
import`` and joined over MCP by the SDK's own client on a real mapsrv. The table's repeats thin
every outline to its biggest parts, so the area must give its parts biggest first for the main
island to be kept."""

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
from mapsrv.formats.join import COARSE_PARTS
from mapsrv.places.offline_files import SUFFIX

MAIN_ISLAND = (60.20, 22.90)  # its centre (lat, lon): an ellipse ~22 km across, of 2,000 vertices
ROWS = 400  # each row the whole outline: 400 x 2,016 points pass 3/4 of max_total_points


def main_island() -> tuple[tuple[float, float], ...]:
    lat, lon = MAIN_ISLAND
    turns = (i * 2 * math.pi / 2000 for i in range(2000))
    return tuple((lat + 0.2 * math.sin(t), lon + 0.4 * math.cos(t)) for t in turns)


@pytest.fixture(scope="module")
def places_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archipelago "Saaristo": COARSE_PARTS islands of ~7 km, then east of them the main island."""
    directory = tmp_path_factory.mktemp("archipelago")
    objects = _Objects()
    small = [box_ring(59.80, 21.00 + i * 0.3, 59.86, 21.12 + i * 0.3) for i in range(COARSE_PARTS)]
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
    assert areas.index(max(areas)) == COARSE_PARTS, "as stored, the main island comes after the others"
    return places


async def test_a_thinned_join_keeps_an_areas_biggest_parts(nursery: trio.Nursery, places_dir: Path) -> None:
    server = await start_server(nursery, places_dir=str(places_dir))
    table = "area,year,visitors\n" + "".join(f"Saaristo,{1600 + n},{n}\n" for n in range(ROWS))
    async with Client(server.url + "mcp") as agent:
        with trio.fail_after(30):
            result = await agent.call_tool("import", {"content": table, "join": "regions", "key": "area"})
        assert not result.is_error and result.structured_content is not None, result.content
        answer = result.structured_content
        assert answer["added"] == ROWS, answer
        assert any("thinned" in note for note in answer["notes"]), answer["notes"]
        read = await agent.call_tool("read", {"map_id": answer["map_id"], "format": "geojson"})
        assert read.structured_content is not None, read.content
        geojson = await followed(dict(read.structured_content))
    centre = shapely.Point(MAIN_ISLAND[1], MAIN_ISLAND[0])
    shapes = [shapely.geometry.shape(f["geometry"]) for f in geojson["features"]]
    assert len(shapes) == ROWS
    assert all(shape.contains(centre) for shape in shapes), "the main island was thinned away"
