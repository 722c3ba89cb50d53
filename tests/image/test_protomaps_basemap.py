"""Any Protomaps-schema basemap archive given with ``--basemap FILE.pmtiles`` (issue 79) is drawn as
an imported region's street map is: an archive the test writes itself (``pmtiles``' writer, tiles
encoded by ``mapbox_vector_tile`` in support/street_tiles.py: a city block grid at zoom 14 over
Paris, nothing of mapsrv's builder), served by mapsrv and drawn by ``map_image`` over the SDK's
client, its street names said."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import httpx
import pytest
import trio
from mcp import Client
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer
from support import start_server
from support.street_tiles import city_tile

ZOOM = 14
CENTRE = (48.8566, 2.3522)


def _tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("protomaps") / "paris.pmtiles"
    cx, cy = _tile_of(*CENTRE, ZOOM)
    tiles = {
        (x, y): city_tile(seed=(x - cx) * 7 + (y - cy))
        for x in range(cx - 2, cx + 3)
        for y in range(cy - 2, cy + 3)
    }
    with open(path, "wb") as out:
        writer = Writer(out)
        for (x, y), data in sorted(tiles.items(), key=lambda t: zxy_to_tileid(ZOOM, *t[0])):
            writer.write_tile(zxy_to_tileid(ZOOM, x, y), gzip.compress(data))
        writer.finalize(
            {
                "tile_type": TileType.MVT, "tile_compression": Compression.GZIP,
                "min_zoom": ZOOM, "max_zoom": ZOOM,
                "min_lon_e7": int(2.30 * 1e7), "min_lat_e7": int(48.83 * 1e7),
                "max_lon_e7": int(2.40 * 1e7), "max_lat_e7": int(48.88 * 1e7),
                "center_zoom": ZOOM,
                "center_lon_e7": int(CENTRE[1] * 1e7), "center_lat_e7": int(CENTRE[0] * 1e7),
            },
            {"name": "paris", "type": "baselayer"},
        )  # fmt: skip
    return path


async def test_a_protomaps_archive_is_drawn_and_served_as_the_street_map(
    nursery: trio.Nursery, tmp_path: Path, archive: Path
) -> None:
    server = await start_server(nursery, places_dir=str(tmp_path), basemap=str(archive))
    async with Client(server.url + "mcp") as agent:
        drawn = await agent.call_tool("draw", {"items": [{"at": list(CENTRE), "label": "here"}]})
        map_id = drawn.structured_content["map_id"]
        for zoom in (ZOOM, ZOOM + 2):  # at its zoom, and past it (its tiles drawn larger)
            await agent.call_tool("set_view", {"map_id": map_id, "at": list(CENTRE), "zoom": zoom})
            result = await agent.call_tool("map_image", {"map_id": map_id, "width": 640, "height": 480})
            assert not result.is_error, result.content
            caption = result.content[1].text
            assert "basemap: streets (paris)" in caption, caption
            named = caption.split("names on the street map: ", 1)[1].split(", ")
            assert "A1" in named and "Montmartre" in named, caption  # a road's name and a place's
        await agent.call_tool("set_view", {"map_id": map_id, "at": list(CENTRE), "zoom": ZOOM - 2})
        below = await agent.call_tool("map_image", {"map_id": map_id, "width": 640, "height": 480})
        assert "basemap: natural earth" in below.content[1].text, "below its zooms, the world map"
    x, y = _tile_of(*CENTRE, ZOOM)
    async with httpx.AsyncClient(base_url=server.url) as client:
        got = await client.get(f"/basemap/paris/{ZOOM}/{x}/{y}.mvt")
        assert got.status_code == 200 and got.content == city_tile(seed=0)
        assert (await client.get(f"/basemap/paris/{ZOOM + 1}/{2 * x}/{2 * y}.mvt")).status_code == 204
