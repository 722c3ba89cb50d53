"""PMTiles archives as layers through the real server: the SDK's client over Streamable HTTP calls
``add_layer`` with archives the ``pmtiles`` package wrote (``support.pmtiles_archives``), served
on 127.0.0.1 by a host that answers HTTP range requests and allowed with ``--allowed-sources``.
The server reads the header with one range request and keeps what the page needs; ``map_image``
draws a raster archive's tiles, and a vector archive's square over them where it is (both past
their max zooms), and leaves out the tiles of an archive whose host fails. Hostile or broken
sources are refused with a clear error and change nothing: a host not allowed, not http(s), a
host that ignores range requests, an HTML page, a file that is not an archive, a version 2
archive, a tile type the page cannot show."""

from __future__ import annotations

import base64
import io
from typing import Any

import trio
from mcp import Client
from PIL import Image
from pmtiles.tile import Compression, TileType, serialize_header
from support import start_server
from support.chromium import TILES
from support.pmtiles_archives import raster_archive, serve_archives, vector_archive
from support.sources import http_answer, serve_source

from mapsrv.image.vector_tiles import layer_color

ORANGE = (250, 140, 0)
WORLD = [-180.0, -85.0, 180.0, 85.0]


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def refused(client: Client, arguments: dict[str, Any]) -> str:
    result = await client.call_tool("add_layer", arguments)
    assert result.is_error, result.content
    return str(result.content[0].text)  # type: ignore[union-attr]


async def share(
    client: Client, map_id: str, color: tuple[int, ...], bbox: Any = ((-30, -40), (30, 40))
) -> float:
    """How much of ``map_id``'s picture of ``bbox`` ([[south, west], [north, east]]) is ``color``."""
    arguments = {"map_id": map_id, "bbox": bbox, "width": 400, "height": 300}
    result = await client.call_tool("map_image", arguments)
    assert not result.is_error, result.content
    data = base64.b64decode(result.content[0].data)  # type: ignore[union-attr]
    seen = Image.open(io.BytesIO(data)).convert("RGB").getcolors(1 << 20) or []
    hits = sum(n for n, c in seen if all(abs(a - b) <= 12 for a, b in zip(c, color, strict=True)))
    return hits / (400 * 300)


def avif_header() -> bytes:
    header: Any = {"root_offset": 127, "root_length": 0, "metadata_offset": 127, "metadata_length": 0}
    header |= {"tile_data_offset": 127, "tile_data_length": 0, "clustered": True}
    header |= {"internal_compression": Compression.GZIP, "tile_compression": Compression.NONE}
    header |= {"tile_type": TileType.AVIF, "min_zoom": 0, "max_zoom": 2}
    return bytes(serialize_header(header))


async def broken(target: str, stream: trio.SocketStream) -> None:
    """Sources that are not PMTiles archives, or hosts that do not serve them right."""
    partial = {"Content_Range": "bytes 0-99/100"}
    if target == "/whole.pmtiles":  # a host that ignores Range
        await stream.send_all(http_answer("200 OK", raster_archive(ORANGE, 1), "application/octet-stream"))
    elif target == "/page.pmtiles":
        page = b"<!DOCTYPE html><html><body>not found</body></html>"
        await stream.send_all(http_answer("206 Partial Content", page, "text/html", **partial))
    elif target == "/notes.pmtiles":
        await stream.send_all(http_answer("206 Partial Content", b"x" * 100, "text/plain", **partial))
    elif target == "/old.pmtiles":  # a version 2 archive begins "PM", then version 2
        old = b"PM\x02\x00" + b"\x00" * 200
        await stream.send_all(http_answer("206 Partial Content", old, "application/octet-stream", **partial))
    elif target == "/avif.pmtiles":
        await stream.send_all(
            http_answer("206 Partial Content", avif_header(), "application/octet-stream", **partial)
        )


async def test_a_raster_archive_is_read_kept_and_drawn(nursery: trio.Nursery) -> None:
    asked: list[tuple[str, str]] = []
    files = {"/ortho.pmtiles": raster_archive(ORANGE), "/roads.pmtiles": vector_archive()}
    port = await serve_archives(nursery, files, asked)
    server = await start_server(nursery, tile_url=TILES, allowed_sources=("127.0.0.1",))
    url = f"http://127.0.0.1:{port}/ortho.pmtiles"
    async with Client(server.url + "mcp") as agent:
        map_id = (await call(agent, "create_map", {}))["map_id"]
        arguments = {"map_id": map_id, "layer": "ortho", "type": "pmtiles", "url": url}
        added = await call(agent, "add_layer", {**arguments, "attribution": "Test archive", "opacity": 1})
        source = {"type": "pmtiles", "url": url, "attribution": "Test archive", "opacity": 1.0}
        source |= {"tiles": "raster", "format": "png", "minzoom": 0, "maxzoom": 4, "bounds": WORLD}
        assert added["layer"] == {"id": "ortho", "source": source}
        assert asked == [("/ortho.pmtiles", "Range: bytes=0-16383")], "one range request for the header"
        assert (await call(agent, "read", {"map_id": map_id}))["layers"]["ortho"]["source"] == source

        assert await share(agent, map_id, ORANGE) > 0.8, "the archive's tiles cover the picture"
        assert all(header.startswith("Range: bytes=") for _, header in asked), "tiles by range too"

        roads = f"http://127.0.0.1:{port}/roads.pmtiles"
        added = await call(agent, "add_layer", {**arguments, "layer": "roads", "url": roads})
        assert added["layer"]["source"] | {"url": ""} == {
            "type": "pmtiles",
            "url": "",
            "attribution": "",
            "opacity": 1.0,
            "tiles": "vector",
            "format": "mvt",
            "minzoom": 0,
            "maxzoom": 3,
            "bounds": WORLD,
        }
        # zoom 6 or so: past both archives' max zooms (4 and 3)
        square = [(8, 8), (12, 12)]  # inside the vector archive's square
        blended = tuple(
            round((c * 128 + o * 127) / 255) for c, o in zip(layer_color("squares"), ORANGE, strict=True)
        )
        assert await share(agent, map_id, blended, square) > 0.9, "the square over the raster"
        edge = [(8, 18), (12, 22)]  # the square's east edge down the middle
        halves = [await share(agent, map_id, color, edge) for color in (blended, ORANGE)]
        assert all(0.4 < half < 0.6 for half in halves), f"the square's edge where it is: {halves}"
        beside = [(-12, -12), (-8, -8)]
        assert await share(agent, map_id, ORANGE, beside) > 0.9, "the raster, past its max zoom, beside it"

        files.clear()  # the host answers 404 from now on
        elsewhere = [(-60, 100), (-40, 140)]
        assert await share(agent, map_id, ORANGE, elsewhere) < 0.01, "a failing source leaves its tiles out"


async def test_hostile_and_broken_archives_are_refused(nursery: trio.Nursery) -> None:
    port = await serve_source(nursery, broken)
    base = f"http://127.0.0.1:{port}"
    closed = await start_server(nursery, tile_url=TILES)  # nothing allowed
    async with Client(closed.url + "mcp") as agent:
        map_id = (await call(agent, "create_map", {}))["map_id"]
        pmtiles = {"map_id": map_id, "layer": "p", "type": "pmtiles"}
        assert "not among the allowed sources" in await refused(
            agent, {**pmtiles, "url": base + "/a.pmtiles"}
        )
        assert "not among the allowed sources" in await refused(
            agent, {**pmtiles, "url": "http://192.168.0.10/a.pmtiles"}
        )
        for url in ("ftp://example.org/a.pmtiles", "file:///etc/passwd"):
            assert "url must be http or https" in await refused(agent, {**pmtiles, "url": url})

    server = await start_server(nursery, tile_url=TILES, allowed_sources=("127.0.0.1",))
    async with Client(server.url + "mcp") as agent:
        map_id = (await call(agent, "create_map", {}))["map_id"]
        pmtiles = {"map_id": map_id, "layer": "p", "type": "pmtiles"}
        expected = {
            "/whole.pmtiles": "the host must answer HTTP range requests (206 Partial Content)",
            "/page.pmtiles": "answered 'text/html', not a PMTiles archive",
            "/notes.pmtiles": "not a PMTiles archive",
            "/old.pmtiles": "PMTiles version 2 archive",
            "/avif.pmtiles": "tile type must be mvt, png, jpeg or webp, got avif",
        }
        for path, message in expected.items():
            got = await refused(agent, {**pmtiles, "url": base + path})
            assert message in got, (path, got)
        after = await call(agent, "read", {"map_id": map_id})
        assert set(after["layers"]) == {"default"}, "nothing was added"
