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
        assert "outside the imported regions (helsinki)" in far.structured_content["coverage"]
        here = await agent.call_tool("nearest_place", {"lat": middle[0], "lon": middle[1]})
        assert "coverage" not in here.structured_content, here.structured_content
        away = await agent.call_tool("nearest_place", {"lat": 60.25, "lon": 25.05})
        assert "outside the imported regions" in away.structured_content["coverage"]
