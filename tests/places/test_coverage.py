"""What an imported extract covers, said in answers (issue 77): the extract's box kept at import
(its header's, as osmium extract writes one; else its rows'), and ``find_places`` and
``nearest_place`` over the SDK's client saying when their question reaches past it."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from mcp import Client
from support import start_server
from support.place_extract import write_place_extract
from support.street_extract import BOX, write_street_extract

from mapsrv.places.coverage import coverage_note, region_boxes
from mapsrv.places.offline_import import import_extract


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("coverage")
    write_street_extract(folder / "helsinki.osm.pbf")
    import_extract(folder / "helsinki.osm.pbf", folder / "places", "helsinki")
    return folder / "places"


def test_the_box_is_the_extracts_header_else_its_rows(places: Path, tmp_path: Path) -> None:
    assert region_boxes(places) == [("helsinki", pytest.approx(BOX))]
    facts = write_place_extract(tmp_path / "lisbon.osm.pbf")  # written without a header box
    import_extract(tmp_path / "lisbon.osm.pbf", tmp_path / "other", "lisbon")
    [(region, (west, south, east, north))] = region_boxes(tmp_path / "other")
    lats = [p.lat for p in (*facts.pharmacies, *facts.cafes, facts.city)]
    lons = [p.lon for p in (*facts.pharmacies, *facts.cafes, facts.city)]
    assert region == "lisbon" and south <= min(lats) and north >= max(lats)
    assert west <= min(lons) and east >= max(lons)


def test_the_note_says_outside_and_past_the_edge_and_nothing_inside() -> None:
    boxes = [("helsinki", BOX)]  # ~1.7 km north-south, ~1.7 km east-west
    middle = ((BOX[1] + BOX[3]) / 2, (BOX[0] + BOX[2]) / 2)
    assert coverage_note(*middle, 0.3, boxes) is None
    said = coverage_note(*middle, 2.0, boxes)
    assert said is not None and "from the edge of the imported region helsinki" in said
    outside = coverage_note(60.30, 24.90, 0.5, boxes)
    assert outside is not None and "outside the imported regions (helsinki)" in outside
    assert coverage_note(60.30, 24.90, 0.5, []) is None, "no region imported: nothing to say"


async def test_find_places_and_nearest_place_say_when_they_reach_past_the_extract(
    nursery: trio.Nursery, places: Path
) -> None:
    server = await start_server(nursery, places_dir=str(places))
    middle = [(BOX[1] + BOX[3]) / 2, (BOX[0] + BOX[2]) / 2]
    async with Client(server.url + "mcp") as agent:
        asked = {"query": "Bulevardi 7", "near": middle, "within_km": 0.3}  # a house near the middle
        inside = await agent.call_tool("find_places", asked)
        assert not inside.is_error, inside.content
        assert inside.structured_content["places"] and "coverage" not in inside.structured_content
        wide = await agent.call_tool("find_places", {**asked, "within_km": 5})
        assert "edge of the imported region helsinki" in wide.structured_content["coverage"]
        far = await agent.call_tool("find_places", {"query": "Bulevardi", "near": [60.25, 25.05]})
        said = far.structured_content["coverage"]  # its answers reach back into the extract, 10 km off
        assert "km outside the imported region helsinki: of the" in said, said
        here = await agent.call_tool("nearest_place", {"lat": middle[0], "lon": middle[1]})
        assert "coverage" not in here.structured_content, here.structured_content
        away = await agent.call_tool("nearest_place", {"lat": 60.25, "lon": 25.05})
        assert "outside the imported regions" in away.structured_content["coverage"]


def test_the_note_says_how_much_of_a_named_area_the_regions_hold_and_a_circle_reaching_in() -> None:
    west, south, east, north = BOX
    tall = (north - south) * 4  # an area four times the box's height, its southern quarter inside
    area = ("Kallio", (west, south, east, south + tall))
    middle = ((BOX[1] + BOX[3]) / 2, (BOX[0] + BOX[2]) / 2)
    said = coverage_note(*middle, 0.1, [("helsinki", BOX)], "near", area)
    assert said is not None and "covers only 25 % of Kallio (its southern part)" in said, said
    whole = ("Kallio", (west + 0.001, south + 0.001, east - 0.001, north - 0.001))
    assert coverage_note(*middle, 0.1, [("helsinki", BOX)], "near", whole) is None
    above = north + 0.5 / 111.195  # 0.5 km north of the box
    reaching = coverage_note(above, middle[1], 2.0, [("helsinki", BOX)], "the point")
    assert reaching is not None and reaching.startswith("the point is 0.5 km outside the imported region")
    assert "only what lies in the region is in the index" in reaching
