"""A layer from elsewhere in a real Chromium: an agent adds XYZ tiles served on 127.0.0.1 (allowed
with ``--allowed-sources``); the page loads them straight from that server (its CSP lets it,
nothing is blocked), shows them (their magenta counted in the page's pixels), lists the layer in
its layer control with the attribution as text, and hides them when a viewer unticks it."""

from __future__ import annotations

import io

import pytest
import trio
from mcp import Client
from PIL import Image
from support import start_server
from support.chromium import TILES, Chromium, Tab, in_chromium, new_context
from support.sources import http_answer, png_tile, serve_source

pytestmark = pytest.mark.browser
MAGENTA = (230, 0, 200)


def magenta_share(png: bytes) -> float:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    seen = image.getcolors(1 << 22) or []
    hits = sum(n for n, c in seen if all(abs(a - b) <= 12 for a, b in zip(c, MAGENTA, strict=True)))
    return hits / (image.width * image.height)


async def test_the_page_loads_a_layers_tiles_from_their_server(nursery: trio.Nursery) -> None:
    asked: list[str] = []

    async def tiles(target: str, stream: trio.SocketStream) -> None:
        asked.append(target)
        await stream.send_all(http_answer("200 OK", png_tile(MAGENTA), "image/png"))

    port = await serve_source(nursery, tiles)
    server = await start_server(nursery, tile_url=TILES, allowed_sources=("127.0.0.1",))
    url = f"http://127.0.0.1:{port}/t/{{z}}/{{x}}/{{y}}.png"

    async def add(map_id: str) -> None:
        async with Client(server.url + "mcp") as agent:
            arguments = {"map_id": map_id, "layer": "ortho", "type": "xyz", "url": url}
            result = await agent.call_tool("add_layer", {**arguments, "attribution": "<b>Test</b> tiles"})
            assert not result.is_error, result.content

    def body(chromium: Chromium) -> tuple[float, float, str, str]:
        context = new_context(chromium, server, viewport={"width": 800, "height": 600})
        tab = Tab.open(context)
        help_card = tab.page.locator("#help")
        help_card.wait_for(state="visible")  # "This map is empty"
        trio.from_thread.run(add, tab.map_id)
        help_card.wait_for(state="hidden")  # a map of tile layers alone is not empty
        tab.page.wait_for_function(
            "() => document.querySelectorAll('.mapsrv-source-tiles img.leaflet-tile-loaded').length >= 4"
            " && !document.querySelector('.mapsrv-source-tiles img:not(.leaflet-tile-loaded)')"
        )
        tab.page.wait_for_timeout(300)  # the tiles' fade-in
        shown = magenta_share(tab.page.locator("#map").screenshot())
        control = tab.page.locator(".leaflet-control-layers-overlays label", has_text="ortho")
        attribution = tab.page.locator(".leaflet-control-attribution").inner_text()
        label = control.inner_text()
        control.locator("input").uncheck()
        tab.page.wait_for_function("() => !document.querySelector('.mapsrv-source-tiles')")
        hidden = magenta_share(tab.page.locator("#map").screenshot())
        tab.check_clean()
        context.close()
        return shown, hidden, attribution, label

    shown, hidden, attribution, label = await in_chromium(body)
    # the panel and the notice cover much of an 800 x 600 page
    assert shown > 0.25, f"the tiles show ({shown:.0%} of the map is theirs)"
    assert hidden < 0.01, "unticked in the layer control, they are gone"
    assert "<b>Test</b> tiles" in attribution, "the attribution is shown as text"
    assert "ortho" in label
    assert asked and all(t.startswith("/t/") for t in asked), "the browser asked the source itself"
