"""``map_image`` over an imported extract's street basemap (issue 79), through a real server and the
SDK's client: support/street_extract.py's Helsinki, its basemap built by ``mapsrv places import``'s
builder; the image at zoom 16 holds the road and building colours of the one style and says the
street names it drew; outside the extract the world map, as today; in ``auto`` the street map
stands in for a tile server that does not answer."""

from __future__ import annotations

import base64
import io
import json
from collections import Counter
from pathlib import Path

import pytest
import trio
from mcp import Client
from PIL import Image
from support import start_server
from support.street_extract import StreetFacts, write_street_extract

from mapsrv.image.street_style import street_style
from mapsrv.places.street_tiles import build_basemap

STYLE = street_style()


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> tuple[StreetFacts, Path]:
    folder = tmp_path_factory.mktemp("streets")
    facts = write_street_extract(folder / "helsinki.osm.pbf")
    build_basemap(folder / "helsinki.osm.pbf", folder / "places" / "helsinki.basemap.pmtiles")
    return facts, folder / "places"


def _colours(data: str) -> Counter[tuple[int, int, int]]:
    image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    return Counter(image.getdata())


def _near(colours: Counter[tuple[int, int, int]], want: tuple[int, int, int], tolerance: int = 6) -> int:
    return sum(
        n for c, n in colours.items() if all(abs(a - b) <= tolerance for a, b in zip(c, want, strict=True))
    )


async def _image(url: str, at: tuple[float, float], zoom: int) -> tuple[Counter[tuple[int, int, int]], str]:
    async with Client(url + "mcp") as agent:
        items = [{"at": list(at), "label": "here"}]
        drawn = await agent.call_tool("draw", {"items": items, "title": "Streets"})
        map_id = drawn.structured_content["map_id"]
        moved = await agent.call_tool("set_view", {"map_id": map_id, "at": list(at), "zoom": zoom})
        assert not moved.is_error, moved.content
        result = await agent.call_tool("map_image", {"map_id": map_id, "width": 640, "height": 480})
        assert not result.is_error, result.content
        picture, caption = result.content
        return _colours(picture.data), caption.text


async def test_an_image_at_street_level_draws_the_extracts_streets(
    nursery: trio.Nursery, places: tuple[StreetFacts, Path]
) -> None:
    facts, folder = places
    server = await start_server(nursery, places_dir=str(folder), basemap="extract")
    at = (facts.cross["Bulevardi"] + 0.0004, facts.main_lon + 0.0015)
    colours, caption = await _image(server.url, at, 16)
    assert "basemap: streets (helsinki)" in caption, caption
    assert "© OpenStreetMap contributors" in caption
    buildings = _near(colours, _rgb(STYLE["buildings"]["fill"]))
    casing = _near(colours, _rgb(STYLE["roads"]["minor_road"]["casing"]))
    assert buildings > 2_000, "the blocks' buildings fill part of the view"
    assert casing > 300, "the streets are cased as the style says"
    named = caption.split("names on the street map: ", 1)[1]
    assert "Bulevardi" in named and facts.main in named, caption


async def test_outside_the_extract_the_world_map_as_before(
    nursery: trio.Nursery, places: tuple[StreetFacts, Path]
) -> None:
    _, folder = places
    server = await start_server(nursery, places_dir=str(folder), basemap="extract")
    _, caption = await _image(server.url, (38.72, -9.14), 16)
    assert "basemap: natural earth" in caption and "street map" not in caption


async def test_auto_draws_the_streets_where_the_tile_server_does_not_answer(
    nursery: trio.Nursery, places: tuple[StreetFacts, Path]
) -> None:
    facts, folder = places
    server = await start_server(nursery, places_dir=str(folder))  # the tests' tile server: unreachable
    colours, caption = await _image(server.url, (facts.cross["Eerikinkatu"], facts.main_lon + 0.002), 16)
    assert "basemap: streets (helsinki)" in caption and "skipped" in caption, caption
    assert _near(colours, _rgb(STYLE["buildings"]["fill"])) > 2_000
    assert json.dumps(caption)  # a caption the agent reads as text
