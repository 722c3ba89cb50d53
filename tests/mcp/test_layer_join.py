"""A table joined to a layer on the map (issue 75), through the SDK's client on a real socket: an
election's districts (a GeoJSON GDAL wrote) are imported as a layer, then its results table (CSV)
is joined to them by ``import`` with ``join: "layer"``: each district gets its row's columns,
typed; rows that match nothing come back with the layer's nearest key, a repeated key is
reported, and one undo takes the whole join back."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import shapely
import trio
from mcp import Client
from mcp.types import CallToolResult
from support import start_server
from support.gis_files import write_gdal

DISTRICTS = {  # id -> name, and a square's south-west corner over Montreal
    "101": ("Saint-Michel", (45.56, -73.62)),
    "102": ("Villeray", (45.54, -73.63)),
    "103": ("Rosemont", (45.55, -73.58)),
    "104": ("Plateau", (45.52, -73.58)),
    "105": ("Verdun", (45.45, -73.57)),
}
RESULTS = (
    "district_id,winner,turnout,votes\n"
    "101,Coderre,0.41,10234\n"
    "102,Bergeron,0.47,11876\n"
    "103,Joly,0.52,13002\n"
    "1O4,Joly,0.55,12001\n"  # a letter O for a zero: matches nothing, nearest 104
    "103,Joly,0.53,13050\n"  # 103 again: reported, the first row kept
)


def districts_geojson() -> str:
    """The districts as GDAL writes a GeoJSON (pyogrio), ``district_id`` a text column."""
    squares = [shapely.box(lon, lat, lon + 0.02, lat + 0.015) for _, (lat, lon) in DISTRICTS.values()]
    table = pa.table(
        {
            "district_id": list(DISTRICTS),
            "name": [name for name, _ in DISTRICTS.values()],
            "geometry": shapely.to_wkb(squares),
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = write_gdal(
            table, Path(tmp) / "districts.geojson", "GeoJSON", crs="EPSG:4326", geometry_type="Polygon"
        )
        return path.read_text()


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def error_of(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    return " ".join(getattr(c, "text", "") for c in result.content)


async def test_a_results_table_joins_the_districts_layer_and_undo_takes_it_back(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        made = structured(
            await agent.call_tool("import", {"content": districts_geojson(), "layer": "districts"})
        )
        map_id = made["map_id"]
        before = {f.id: f for f in (await server.hub.get(map_id)).state.features.values()}
        assert len(before) == 5

        joined = structured(
            await agent.call_tool(
                "import", {"content": RESULTS, "join": "layer", "layer": "districts", "map_id": map_id}
            )
        )
        report = joined["joined"]
        assert report["to"] == "layer" and report["key"] == "district_id" and report["by"] == "district_id"
        assert (report["rows"], report["matched"], report["features"]) == (5, 3, 3)
        assert report["features_without_row"] == 2  # Plateau (its row misspelt) and Verdun
        assert report["unmatched"] == [{"line": 5, "value": "1O4", "nearest": "104"}]
        assert report["duplicates"] == [{"value": "103", "lines": [6]}]
        assert joined["version"] == made["version"] + 1, "one write"

        after = {f.id: f for f in (await server.hub.get(map_id)).state.features.values()}
        by_district = {dict(f.properties)["district_id"]: f for f in after.values()}
        rosemont = dict(by_district["103"].properties)
        assert rosemont == {
            "district_id": "103", "name": "Rosemont", "winner": "Joly", "turnout": 0.52, "votes": 13002,
        }  # fmt: skip
        assert [k for k, _ in by_district["103"].properties] == [
            "district_id",
            "name",
            "winner",
            "turnout",
            "votes",
        ]
        assert dict(by_district["105"].properties) == {"district_id": "105", "name": "Verdun"}
        for fid, feature in after.items():  # nothing but the properties changed
            assert (feature.coords, feature.layer, feature.label) == (
                before[fid].coords,
                before[fid].layer,
                before[fid].label,
            )

        # the joined columns style the layer like any others
        styled = await agent.call_tool(
            "style_layer", {"map_id": map_id, "layer": "districts", "by": "turnout"}
        )
        assert not styled.is_error, styled.content

        undone = structured(await agent.call_tool("undo", {"map_id": map_id}))
        assert undone["version"] > joined["version"]
        state = (await server.hub.get(map_id)).state
        assert {f.id: f.properties for f in state.features.values()} != {}
        # the style's undo first, then the join's: one step each
        undone = structured(await agent.call_tool("undo", {"map_id": map_id}))
        state = (await server.hub.get(map_id)).state
        assert {fid: f.properties for fid, f in state.features.items()} == {
            fid: f.properties for fid, f in before.items()
        }, "one undo took the whole join back"


async def test_a_join_to_a_layer_refuses_what_it_cannot_do(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        made = structured(
            await agent.call_tool("import", {"content": districts_geojson(), "layer": "districts"})
        )
        map_id = made["map_id"]
        asked = {"join": "layer", "layer": "districts", "map_id": map_id}
        wrong_layer = error_of(
            await agent.call_tool("import", {**asked, "content": RESULTS, "layer": "wards"})
        )
        assert "layer must be a layer of this map, got 'wards'; it has 'default', 'districts'" in wrong_layer
        no_key = error_of(await agent.call_tool("import", {**asked, "content": RESULTS, "key": "ward"}))
        assert "key must name a column of the table, got 'ward'" in no_key
        nothing = error_of(await agent.call_tool("import", {**asked, "content": "code,n\nx1,1\nx2,2\n"}))
        assert "no column's values match the layer's features" in nothing
        not_csv = error_of(await agent.call_tool("import", {**asked, "content": districts_geojson()}))
        assert "join: layer takes a CSV table, got a geojson file" in not_csv
        version = (await server.hub.get(map_id)).state.version
        assert version == made["version"], "a refused join wrote nothing"
