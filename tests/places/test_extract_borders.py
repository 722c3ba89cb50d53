"""``within`` a state tests points against an imported extract's boundary of that state when it
has one (mcp/tools/extract_borders.py): an OpenStreetMap extract, written with pyosmium, whose
"Rhode Island" boundary is Natural Earth's with its western 1.7 km cut off. A point in that strip
is in Rhode Island by Natural Earth's border and not by the extract's: the extract's decides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import shapely
import trio
from mcp import Client
from support import start_server
from support.place_extract import _Objects

from mapsrv.cli import main
from mapsrv.places.borders import borders, region_area
from mapsrv.server import Server

STRIP = -71.77  # the extract's Rhode Island ends here on the west; Natural Earth's goes to ~-71.80
POINTS = [("strip", 41.60, -71.785), ("providence", 41.82, -71.41), ("hartford", 41.76, -72.68)]


def rhode_island_cut() -> shapely.Polygon:
    """Natural Earth's mainland Rhode Island (its largest part, simplified to ~100 m), less what
    lies west of STRIP."""
    found = borders()
    parts = shapely.get_parts(found.shapes[found.regions("US-RI")[0]])
    mainland = max(parts, key=lambda p: p.area)
    cut = shapely.simplify(mainland, 0.001).intersection(shapely.box(STRIP, 40.0, -71.0, 43.0))
    assert cut.geom_type == "Polygon", cut.geom_type
    return cut


@pytest.fixture(scope="module")
def places_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    objects = _Objects()
    ring = tuple((lat, lon) for lon, lat in rhode_island_cut().exterior.coords[:-1])
    way = objects.way(ring, {}, closed=True)
    tags = {"type": "boundary", "boundary": "administrative", "admin_level": "4", "name": "Rhode Island"}
    objects.relation([(way, "outer")], tags)
    objects.node((41.82, -71.41), {"place": "city", "name": "Providence", "population": "190934"})
    path = tmp_path_factory.mktemp("extract") / "rhode-island.osm.pbf"
    objects.write(path)
    directory = tmp_path_factory.mktemp("places")
    assert main(["places", "import", str(path), "--places-dir", str(directory)]) == 0
    return directory


async def within(server: Server, text: str) -> dict[str, Any]:
    async with Client(server.url + "mcp") as agent:
        items = [{"at": [lat, lon], "label": label} for label, lat, lon in POINTS]
        drawn = await agent.call_tool("draw", {"items": items})
        assert drawn.structured_content is not None, drawn.content
        map_id = drawn.structured_content["map_id"]
        found = await agent.call_tool("select", {"map_id": map_id, "within": text})
        assert not found.is_error and found.structured_content is not None, found.content
        return dict(found.structured_content)


def test_the_strip_is_rhode_islands_by_natural_earth_and_not_by_the_extract() -> None:
    natural_earth = region_area("US-RI")
    assert natural_earth is not None
    strip = shapely.Point(-71.785, 41.60)
    assert natural_earth.covers(strip) and not rhode_island_cut().covers(strip)


async def test_an_extracts_boundary_of_the_state_decides(nursery: trio.Nursery, places_dir: Path) -> None:
    plain = await start_server(nursery)
    without = await within(plain, "Rhode Island")
    assert {f["label"] for f in without["features"]} == {"strip", "providence"}, without
    assert "border" not in without["area"]
    indexed = await start_server(nursery, places_dir=str(places_dir))
    found = await within(indexed, "Rhode Island")
    assert {f["label"] for f in found["features"]} == {"providence"}, found
    assert found["area"] == {"kind": "region", "name": "Rhode Island", "code": "US-RI", "border": "extract"}
