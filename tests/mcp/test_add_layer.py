"""Layers from elsewhere through the real server: the SDK's client over Streamable HTTP calls
``add_layer`` for XYZ tiles served locally (PNGs made with Pillow) and a real WMS (Debian's
MapServer behind a tiny CGI runner, ``support.mapserver``), both allowed with
``--allowed-sources 127.0.0.1``: ``map_image`` draws their pixels, ``read`` reports the source and
``undo`` takes it away. A GeoJSON and a CSV by URL are fetched once and imported. Hostile sources
are refused with a clear error and draw nothing: a host the operator did not allow, a private
address, an HTML page instead of GeoJSON, ftp:, file: and javascript: URLs."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import trio
from mcp import Client
from PIL import Image
from support import start_server
from support.chromium import TILES
from support.mapserver import GREEN, MAPSERV, wms_answer
from support.sources import http_answer, png_tile, serve_source
from support.waiting import require

MAGENTA = (230, 0, 200)
GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [2.35, 48.85]},
            "properties": {"n": 1},
        },
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [-0.12, 51.5]},
            "properties": {"n": 2},
        },
    ],
}
CSV = b"name,lat,lon\nLisbon,38.72,-9.14\nPorto,41.15,-8.61\n"


async def tiles_and_files(target: str, stream: trio.SocketStream) -> None:
    if target.startswith("/tiles/"):
        await stream.send_all(http_answer("200 OK", png_tile(MAGENTA), "image/png"))
    elif target == "/data.geojson":
        await stream.send_all(http_answer("200 OK", json.dumps(GEOJSON).encode(), "application/geo+json"))
    elif target == "/data.csv":
        await stream.send_all(http_answer("200 OK", CSV, "text/csv"))
    else:
        page = b"<!DOCTYPE html><html><body>not found</body></html>"
        await stream.send_all(http_answer("200 OK", page, "text/html; charset=utf-8"))


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def refused(client: Client, arguments: dict[str, Any]) -> str:
    result = await client.call_tool("add_layer", arguments)
    assert result.is_error, result.content
    return str(result.content[0].text)  # type: ignore[union-attr]


async def picture(client: Client, map_id: str, bbox: list[list[float]]) -> Image.Image:
    result = await client.call_tool(
        "map_image", {"map_id": map_id, "bbox": bbox, "width": 400, "height": 300}
    )
    assert not result.is_error, result.content
    return Image.open(io.BytesIO(base64.b64decode(result.content[0].data))).convert("RGB")  # type: ignore[union-attr]


def share(image: Image.Image, color: tuple[int, int, int], tolerance: int = 12) -> float:
    seen = image.getcolors(1 << 20) or []
    hits = sum(n for n, c in seen if all(abs(a - b) <= tolerance for a, b in zip(c, color, strict=True)))
    return hits / (image.width * image.height)


async def test_xyz_tiles_are_drawn_read_and_undone(nursery: trio.Nursery) -> None:
    port = await serve_source(nursery, tiles_and_files)
    server = await start_server(nursery, tile_url=TILES, allowed_sources=("127.0.0.1",))
    url = f"http://127.0.0.1:{port}/tiles/{{z}}/{{x}}/{{y}}.png"
    async with Client(server.url + "mcp") as agent:
        map_id = (await call(agent, "create_map", {}))["map_id"]
        added = await call(
            agent,
            "add_layer",
            {"map_id": map_id, "layer": "ortho", "type": "xyz", "url": url, "attribution": "Test tiles"},
        )
        source = {"type": "xyz", "url": url, "attribution": "Test tiles", "opacity": 1.0}
        assert added["layer"] == {"id": "ortho", "source": source}
        assert (await call(agent, "read", {"map_id": map_id}))["layers"]["ortho"]["source"] == source
        image = await picture(agent, map_id, [[-30, -40], [30, 40]])
        assert share(image, MAGENTA) > 0.8, "the layer's tiles cover the picture"

        await call(agent, "undo", {"map_id": map_id})
        layers = (await call(agent, "read", {"map_id": map_id}))["layers"]
        assert "ortho" not in layers, "undo takes the added layer away"
        assert share(await picture(agent, map_id, [[-30, -40], [30, 40]]), MAGENTA) < 0.01


async def test_a_real_wms_is_drawn(nursery: trio.Nursery, tmp_path: Path) -> None:
    require(MAPSERV.exists(), "Debian's cgi-mapserver (scripts/test.sh installs it)")
    answer = wms_answer(tmp_path)
    port = await serve_source(nursery, answer)
    # MapServer starts afresh for each tile: on a loaded machine a few may take longer than 2 s
    server = await start_server(nursery, tile_url=TILES, allowed_sources=("127.0.0.1",), tile_deadline=30)
    async with Client(server.url + "mcp") as agent:
        map_id = (await call(agent, "create_map", {}))["map_id"]
        await call(
            agent,
            "add_layer",
            {
                "map_id": map_id,
                "layer": "zones",
                "type": "wms",
                "url": f"http://127.0.0.1:{port}/wms",
                "layers": "zones",
                "opacity": 1,
            },
        )
        image = await picture(agent, map_id, [[-20, -30], [20, 30]])  # inside the green box
        assert share(image, GREEN, 20) > 0.8, "MapServer's GetMap is drawn"
        assert any("REQUEST=GetMap" in q and "LAYERS=zones" in q for q in answer.asked)
        outside = await picture(agent, map_id, [[55, 100], [70, 140]])
        assert share(outside, GREEN, 20) < 0.01, "its transparent parts let the basemap through"


async def test_geojson_and_csv_by_url_are_imported_once(nursery: trio.Nursery) -> None:
    port = await serve_source(nursery, tiles_and_files)
    server = await start_server(nursery, tile_url=TILES, allowed_sources=("127.0.0.1",))
    base = f"http://127.0.0.1:{port}"
    async with Client(server.url + "mcp") as agent:
        map_id = (await call(agent, "create_map", {}))["map_id"]
        got = await call(
            agent,
            "add_layer",
            {"map_id": map_id, "layer": "cities", "type": "geojson", "url": base + "/data.geojson"},
        )
        assert got["added"] == 2 and got["layer"]["source"] == {
            "type": "geojson",
            "url": base + "/data.geojson",
        }
        got = await call(
            agent, "add_layer", {"map_id": map_id, "layer": "pt", "type": "csv", "url": base + "/data.csv"}
        )
        assert got["added"] == 2
        layers = (await call(agent, "read", {"map_id": map_id}))["layers"]
        assert layers["cities"]["marker"] == 2 and layers["pt"]["marker"] == 2


async def test_hostile_sources_are_refused_and_nothing_is_drawn(nursery: trio.Nursery) -> None:
    port = await serve_source(nursery, tiles_and_files)
    server = await start_server(nursery, tile_url=TILES)  # nothing allowed
    async with Client(server.url + "mcp") as agent:
        map_id = (await call(agent, "create_map", {}))["map_id"]
        xyz = {"map_id": map_id, "layer": "x", "type": "xyz"}
        local = f"http://127.0.0.1:{port}/tiles/{{z}}/{{x}}/{{y}}.png"
        assert "not among the allowed sources" in await refused(agent, {**xyz, "url": local})
        elsewhere = "https://tiles.example.org/{z}/{x}/{y}.png"
        assert "--allowed-sources" in await refused(agent, {**xyz, "url": elsewhere})
        geojson = {"map_id": map_id, "layer": "g", "type": "geojson"}
        message = await refused(agent, {**geojson, "url": f"http://127.0.0.1:{port}/data.geojson"})
        assert "loopback, private or reserved" in message and "--allowed-sources" in message
        assert "private" in await refused(agent, {**geojson, "url": "http://192.168.0.10/a.geojson"})
        for url in ("ftp://example.org/a.geojson", "file:///etc/passwd", "javascript:alert(1)"):
            assert "url must be http or https" in await refused(agent, {**geojson, "url": url})
        after = await call(agent, "read", {"map_id": map_id})
        assert after["count"] == 0 and set(after["layers"]) == {"default"}

    allowed = await start_server(nursery, tile_url=TILES, allowed_sources=("127.0.0.1",))
    async with Client(allowed.url + "mcp") as agent:
        map_id = (await call(agent, "create_map", {}))["map_id"]
        html = f"http://127.0.0.1:{port}/page.html"
        message = await refused(agent, {"map_id": map_id, "layer": "g", "type": "geojson", "url": html})
        assert "answered 'text/html; charset=utf-8', not geojson" in message
        assert (await call(agent, "read", {"map_id": map_id}))["count"] == 0
