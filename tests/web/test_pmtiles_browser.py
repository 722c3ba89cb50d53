"""PMTiles archives in a real Chromium: an agent adds a raster and a vector archive that the
``pmtiles`` package wrote (``support.pmtiles_archives``), served on 127.0.0.1 by a host that
answers range requests and CORS preflights (the page is on another port), allowed with
``--allowed-sources``. The page reads both archives itself (its own reader, pmtiles.js, and MVT
decoder, mvt.js) with range requests that its CSP lets through (connect-src), draws the raster
archive's colour everywhere and the vector archive's square, in its source layer's colour over
it, where the square is (past the archive's max zoom too), and lists both layers in its layer
control with the attribution as text."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import trio
from mcp import Client
from PIL import Image
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context
from support.pmtiles_archives import SQUARE, raster_archive, serve_archives, vector_archive

from mapsrv.image.vector_tiles import layer_color  # the page's colours, as map_image has them

pytestmark = pytest.mark.browser
ORANGE = (250, 140, 0)
FILL_ALPHA = 0.5  # archives.js


def near(got: tuple[int, ...], want: tuple[int, int, int], tolerance: int = 14) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(got[:3], want, strict=True))


DRAWN = """() => {
  const tiles = document.querySelectorAll('.mapsrv-source-tiles .leaflet-tile');
  return document.querySelectorAll('.mapsrv-source-tiles').length === 2 && tiles.length >= 8
    && Array.from(tiles).every((t) => t.classList.contains('leaflet-tile-loaded')
                                      && getComputedStyle(t).opacity === '1');
}"""


async def test_the_page_draws_raster_and_vector_archives(nursery: trio.Nursery, tmp_path: Path) -> None:
    asked: list[tuple[str, str]] = []
    files = {"/ortho.pmtiles": raster_archive(ORANGE), "/shapes.pmtiles": vector_archive("squares")}
    port = await serve_archives(nursery, files, asked)
    server = await start_server(nursery, tile_url=TILES, allowed_sources=("127.0.0.1",))

    async def add(map_id: str) -> None:
        async with Client(server.url + "mcp") as agent:
            for layer, path in (("ortho", "/ortho.pmtiles"), ("shapes", "/shapes.pmtiles")):
                arguments = {"map_id": map_id, "layer": layer, "type": "pmtiles"}
                arguments |= {"url": f"http://127.0.0.1:{port}{path}", "attribution": "<b>Test</b> archive"}
                result = await agent.call_tool("add_layer", arguments)
                assert not result.is_error, result.content

    def body(chromium: Chromium) -> tuple[Image.Image, list[float], list[float], str, str]:
        context = new_context(chromium, server, viewport={"width": 1200, "height": 900})
        tab = Tab.open(context)
        trio.from_thread.run(add, tab.map_id)
        tab.page.locator("#help").wait_for(state="hidden")  # layers from elsewhere: the map is not empty
        _, south, east, north = SQUARE
        middle = (south + north) / 2
        # zoom 5: past both archives' max zooms (4 and 3); the square's east edge in the middle
        tab.page.evaluate(f"window.mapsrv.map.setView([{middle}, {east}], 5, {{ animate: false }}); null")
        tab.page.wait_for_function(DRAWN)
        inside, outside = (
            tab.page.evaluate(
                f"(p => [p.x, p.y])(window.mapsrv.map.latLngToContainerPoint([{middle}, {lon}]))"
            )
            for lon in (east - 5, east + 5)
        )
        png = tab.page.locator("#map").screenshot()
        artifact("pmtiles-page.png", tmp_path).write_bytes(png)
        attribution = tab.page.locator(".leaflet-control-attribution").inner_text()
        labels = tab.page.locator(".leaflet-control-layers-overlays", has_text="ortho").inner_text()
        tab.check_clean()
        context.close()
        return Image.open(io.BytesIO(png)).convert("RGB"), inside, outside, attribution, labels

    image, inside, outside, attribution, labels = await in_chromium(body)
    square = layer_color("squares")
    blended = tuple(round(FILL_ALPHA * s + (1 - FILL_ALPHA) * o) for s, o in zip(square, ORANGE, strict=True))
    at_inside = image.getpixel((round(inside[0]), round(inside[1])))
    at_outside = image.getpixel((round(outside[0]), round(outside[1])))
    assert near(at_outside, ORANGE), f"the raster archive's colour where the square is not: {at_outside}"
    assert near(at_inside, blended), (
        f"the square's colour over the raster where it is: {at_inside} != {blended}"
    )
    assert "<b>Test</b> archive" in attribution, "the attribution is shown as text"
    assert "ortho" in labels and "shapes" in labels
    ranges = [header for path, header in asked if path.endswith(".pmtiles")]
    assert ranges and all(h.startswith("Range: bytes=") for h in ranges), (
        "the page read both archives by range"
    )
