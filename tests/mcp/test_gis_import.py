"""GIS files through the front doors (issue 61), with real parts: the MCP SDK's client on a real
socket imports a zipped Shapefile in British National Grid (base64), mapsrv's stored features are
the file as pyogrio reads it and pyproj reprojects it (1e-7 degrees) with every attribute; a file
without a CRS is refused with the hint and read with ``crs``; ``read`` gives the map or a layer
back as a GeoPackage, a Shapefile, a FlatGeobuf or a GeoParquet that GDAL and pyarrow read; a
hostile file changes nothing, and a GeoPackage whose triggers, under names the specification
uses, write data is refused naming them; the page's JSON API takes a GeoPackage's one layer and
serves a layer's export."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import shapely
import trio
from mcp import Client
from mcp.types import BlobResourceContents, CallToolResult, EmbeddedResource, ResourceLink
from support import Browser, start_server
from support.gis_files import (
    countries,
    edited_geopackage,
    geopackage,
    project,
    reference,
    shapefile_zip,
    shapely_of,
)
from support.raw_http import RawConnection

EUROPE = ("United Kingdom", "Ireland", "France", "Belgium")


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def carried(result: CallToolResult) -> bytes:
    """The file an export answered: inline, or past 64 KB (a GeoPackage's own tables alone are
    ~100 KB) at its download link, which the answer also gives as a resource_link."""
    said = structured(result)
    if said.get("inline", True):
        return base64.b64decode(blob(result).blob)
    (link,) = [c for c in result.content if isinstance(c, ResourceLink)]
    assert str(link.uri) == said["download"] and link.size == said["bytes"]
    async with httpx.AsyncClient() as http:
        fetched = await http.get(said["download"])
    assert fetched.status_code == 200 and len(fetched.content) == said["bytes"]
    return fetched.content


def blob(result: CallToolResult) -> BlobResourceContents:
    assert not result.is_error, result.content
    (embedded,) = [c for c in result.content if isinstance(c, EmbeddedResource)]
    assert isinstance(embedded.resource, BlobResourceContents)
    return embedded.resource


def britain(crs: str | None = "EPSG:27700") -> bytes:
    names, outlines = countries("50m", EUROPE)
    table = pa.table(
        {
            "NAME": names,
            "pop_est": pa.array([67_000_000, 5_000_000, 68_000_000, 11_600_000], pa.int64()),
            "geometry": shapely.to_wkb(project(outlines, "EPSG:27700")),
        }
    )
    return shapefile_zip({"countries": (table, crs, "MultiPolygon")}, folder="ne/", encoding="ISO-8859-1")


async def test_an_agent_imports_a_shapefile_in_british_national_grid(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    data = britain()
    async with Client(server.url + "mcp") as agent:
        answer = structured(
            await agent.call_tool("import", {"content": base64.b64encode(data).decode(), "fit": True})
        )
    assert answer["format"] == "shp" and answer["added"] == 4
    assert (
        "shapefile countries reprojected from EPSG:27700 (OSGB36 / British National Grid) to WGS84"
        in (answer["notes"])
    )
    state = (await server.hub.get(answer["map_id"])).state
    rows, expected = reference(data, member="ne/countries.shp")
    features = list(state.features.values())
    assert [f.label for f in features] == [row["NAME"] for row in rows]
    for feature, row, want in zip(features, rows, expected, strict=True):
        assert shapely_of(feature).normalize().equals_exact(want.normalize(), 1e-7), feature.label
        assert dict(feature.properties) == row
    uk = next(f for f in features if f.label == "United Kingdom")
    lats, lons = [p[0] for p in uk.points()], [p[1] for p in uk.points()]
    assert 49.8 < min(lats) < 50.2 and 58.5 < max(lats) < 61, "Britain, not the sea off Africa"
    assert -8.7 < min(lons) < -7.9 and 1.6 < max(lons) < 1.8


async def test_a_file_without_a_crs_is_refused_with_the_hint_then_read_with_it(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    content = base64.b64encode(britain(crs=None)).decode()
    async with Client(server.url + "mcp") as agent:
        made = structured(await agent.call_tool("create_map", {"title": "Isles"}))
        map_id = made["map_id"]
        version = (await server.hub.get(map_id)).state.version
        refused = await agent.call_tool("import", {"content": content, "map_id": map_id})
        assert refused.is_error
        text = refused.content[0].text  # type: ignore[union-attr]
        assert "names no coordinate reference system and its coordinates are not degrees" in text
        assert 'crs: "EPSG:27700"' in text
        assert (await server.hub.get(map_id)).state.version == version, "a refused file changed the map"
        told = structured(
            await agent.call_tool("import", {"content": content, "map_id": map_id, "crs": "EPSG:27700"})
        )
    assert told["added"] == 4
    labels = {f.label for f in (await server.hub.get(map_id)).state.features.values()}
    assert labels == set(EUROPE)


async def test_the_map_and_a_layer_go_out_as_gis_files_gdal_reads(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    town = geopackage(
        {
            "roads": (
                pa.table(
                    {
                        "ref": ["A1", "B2"],
                        "lanes": pa.array([4, 2], pa.int64()),
                        "geometry": shapely.to_wkb(
                            shapely.linestrings(
                                [[(530000, 180000), (531000, 181000)], [(530500, 180000), (530500, 182000)]]
                            )
                        ),
                    }
                ),
                "EPSG:27700",
                "LineString",
            ),
            "trees": (
                pa.table({"kind": ["oak"], "geometry": shapely.to_wkb([shapely.Point(530200, 180300)])}),
                "EPSG:27700",
                "Point",
            ),
        }
    )
    async with Client(server.url + "mcp") as agent:
        answer = structured(await agent.call_tool("import", {"content": base64.b64encode(town).decode()}))
        assert answer["layers"] == ["roads", "trees"]
        map_id = answer["map_id"]
        state = (await server.hub.get(map_id)).state
        files = {}
        for fmt in ("gpkg", "shp", "fgb", "parquet"):
            result = await agent.call_tool("read", {"map_id": map_id, "format": fmt})
            files[fmt] = await carried(result)
            assert structured(result)["format"] == fmt
        roads = await agent.call_tool("read", {"map_id": map_id, "format": "gpkg", "layer": "roads"})
        said = structured(roads)
        assert said["features"] == 2 and said["download"].endswith("/export.gpkg?layer=roads")
        only_roads = await carried(roads)
    assert [tuple(row) for row in pyogrio.list_layers(files["gpkg"])] == [
        ("roads", "LineString"),
        ("trees", "Point"),
    ]
    assert [tuple(row) for row in pyogrio.list_layers(only_roads)] == [("roads", "LineString")]

    def key(row: dict[str, Any]) -> Any:
        return row.get("ref") or row.get("kind")

    given = {key(dict(f.properties)): f for f in state.features.values()}
    for fmt in ("gpkg", "fgb"):
        layers = [str(row[0]) for row in pyogrio.list_layers(files[fmt])]
        for layer in layers:
            meta, table = pyogrio.read_arrow(files[fmt], layer=layer)
            for row, wkb in zip(
                table.to_pylist(),
                table.column(meta["geometry_name"] or "wkb_geometry").to_pylist(),
                strict=True,
            ):
                feature = given[key(row)]
                assert shapely.from_wkb(wkb).equals_exact(shapely_of(feature), 0), (fmt, row)
                assert row.get("lanes") == dict(feature.properties).get("lanes")
    table = pq.read_table(io.BytesIO(files["parquet"]))
    assert sorted(table.column("layer").to_pylist()) == ["roads", "roads", "trees"]
    shapefiles = sorted(str(row[0]) for row in pyogrio.list_layers(files["shp"]))
    assert shapefiles == ["roads", "trees"]


async def test_a_hostile_file_changes_nothing(nursery: trio.Nursery) -> None:
    """A GeoPackage whose second layer lies outside its projection: the first layer was read,
    and nothing of it is stored."""
    server = await start_server(nursery)
    good = pa.table({"geometry": shapely.to_wkb([shapely.Point(530000, 180000)])})
    bad = pa.table({"geometry": shapely.to_wkb([shapely.Point(530000, 180000), shapely.Point(1e12, 5)])})
    data = geopackage({"good": (good, "EPSG:27700", "Point"), "bad": (bad, "EPSG:27700", "Point")})
    async with Client(server.url + "mcp") as agent:
        map_id = structured(await agent.call_tool("create_map", {"title": "t"}))["map_id"]
        refused = await agent.call_tool(
            "import", {"content": base64.b64encode(data).decode(), "map_id": map_id}
        )
        assert refused.is_error
        assert "gpkg layer bad feature 1 cannot be turned into degrees" in refused.content[0].text  # type: ignore[union-attr]
        after = structured(await agent.call_tool("read", {"map_id": map_id}))
    assert after["count"] == 0 and after["version"] == (await server.hub.get(map_id)).state.version
    assert list((await server.hub.get(map_id)).state.layers) == ["default"], "no layer made half"


# Two of the triggers GDAL wrote, replaced under their own names by ones that write data: the
# feature count's deletes the layer's rows, and the tile matrix's check still stops a bad zoom but
# then empties gpkg_contents. A name the specification uses lets neither through.
DISGUISED = (
    'DROP TRIGGER "trigger_insert_feature_count_stops";'
    ' CREATE TRIGGER "trigger_insert_feature_count_stops" AFTER INSERT ON "stops" BEGIN'
    " DELETE FROM stops WHERE fid != NEW.fid; END;"
    " DROP TRIGGER gpkg_tile_matrix_zoom_level_insert;"
    " CREATE TRIGGER gpkg_tile_matrix_zoom_level_insert BEFORE INSERT ON gpkg_tile_matrix FOR EACH ROW"
    " BEGIN SELECT RAISE(ABORT, 'zoom_level cannot be less than 0') WHERE (NEW.zoom_level < 0);"
    " DELETE FROM gpkg_contents; END;"
)


async def test_a_trigger_named_as_the_specifications_that_writes_data_is_refused(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery)
    stops = pa.table(
        {"name": ["a", "b"], "geometry": shapely.to_wkb(shapely.points([(14.4, 50.1), (14.5, 50.1)]))}
    )
    data = edited_geopackage(geopackage({"stops": (stops, "EPSG:4326", "Point")}), DISGUISED)
    async with Client(server.url + "mcp") as agent:
        map_id = structured(await agent.call_tool("create_map", {"title": "t"}))["map_id"]
        refused = await agent.call_tool(
            "import", {"content": base64.b64encode(data).decode(), "map_id": map_id}
        )
        assert refused.is_error, refused.structured_content
        said = refused.content[0].text  # type: ignore[union-attr]
        assert "gpkg has 2 triggers that GeoPackages do not need" in said, said
        assert 'DROP TRIGGER "trigger_insert_feature_count_stops";' in said, said
        assert 'DROP TRIGGER "gpkg_tile_matrix_zoom_level_insert";' in said, said
    assert (await server.hub.get(map_id)).state.features == {}


async def test_the_pages_import_takes_one_layer_and_exports_one(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    names, outlines = countries("110m", ("France", "Spain"))
    table = pa.table({"name": names, "geometry": shapely.to_wkb(project(outlines, "EPSG:2154"))})
    points = pa.table(
        {"city": ["Lyon"], "geometry": shapely.to_wkb(project(shapely.points([(4.83, 45.76)]), "EPSG:2154"))}
    )
    data = geopackage(
        {"countries": (table, "EPSG:2154", "Unknown"), "cities": (points, "EPSG:2154", "Point")}
    )
    owner = Browser(server.url)
    try:
        map_id = await owner.new_map()
        preview = await owner.client.post(
            f"/m/{map_id}/import?filename=fr.gpkg&file_layer=cities&preview=1", content=data
        )
        assert preview.status_code == 200, preview.text
        assert preview.json()["kinds"] == {"marker": 1} and preview.json()["format"] == "gpkg"
        added = await owner.client.post(f"/m/{map_id}/import?filename=fr.gpkg&layer=places", content=data)
        assert added.status_code == 200, added.text
        assert added.json()["added"] == 3 and added.json()["kinds"]["marker"] == 1
        state = (await server.hub.get(map_id)).state
        assert {f.layer for f in state.features.values()} == {"places"}
        lyon = next(f for f in state.features.values() if f.label == "Lyon")
        assert abs(lyon.coords[0] - 45.76) < 1e-9 and abs(lyon.coords[1] - 4.83) < 1e-9
        exported = await owner.client.get(f"/m/{map_id}/export.shp.zip?layer=places")
        assert exported.status_code == 200
        assert exported.headers["content-type"] == "application/zip"
        assert exported.headers["content-disposition"].endswith('.shp.zip"')
        layers = sorted(str(row[0]) for row in pyogrio.list_layers(exported.content))
        assert layers == ["places_points", "places_polygons"]
        unknown = await owner.client.get(f"/m/{map_id}/export.gpkg?layer=nope")
        assert unknown.status_code == 400 and "layer 'nope' is not a layer of this map" in unknown.text
        # a body that declares 10 GB: refused on its headers, before a byte of it is read
        host = server.url.removeprefix("http://").rstrip("/")
        cookie = "; ".join(f"{name}={value}" for name, value in owner.client.cookies.items())
        raw = await RawConnection.open("127.0.0.1", int(host.rsplit(":", 1)[1]))
        await raw.send(
            f"POST /m/{map_id}/import?filename=x.gpkg HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\n"
            f"Cookie: {cookie}\r\nContent-Length: {10 * 2**30}\r\n\r\n".encode()
        )
        huge = await raw.read_response()
        assert huge.status == 413 and b"MAPSRV_MAX_FILE_SIZE" in huge.body
        await raw.stream.aclose()
    finally:
        await owner.aclose()


async def test_a_layers_file_holds_every_feature_of_the_layer(nursery: trio.Nursery) -> None:
    """A page of a layer is 50 features (``limit``); its file is the whole layer."""
    server = await start_server(nursery)
    many = pa.table(
        {
            "n": list(range(120)),
            "geometry": shapely.to_wkb(shapely.points([(i / 100, 45.0) for i in range(120)])),
        }
    )
    few = pa.table({"n": [0], "geometry": shapely.to_wkb([shapely.Point(1, 1)])})
    data = geopackage({"many": (many, "EPSG:4326", "Point"), "few": (few, "EPSG:4326", "Point")})
    async with Client(server.url + "mcp") as agent:
        map_id = structured(await agent.call_tool("import", {"content": base64.b64encode(data).decode()}))[
            "map_id"
        ]
        page = structured(await agent.call_tool("read", {"map_id": map_id, "layer": "many"}))
        assert len(page["features"]) == 50 and page["count"] == 120
        result = await agent.call_tool("read", {"map_id": map_id, "layer": "many", "format": "fgb"})
        assert structured(result)["features"] == 120
        body = base64.b64decode(blob(result).blob)
    assert sorted(pyogrio.read_arrow(body)[1].column("n").to_pylist()) == list(range(120))
