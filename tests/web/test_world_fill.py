"""A world map fills the page (issue 76): features from the Aleutians to New Zealand and
Svalbard, fitted in a 1,280 px wide tab, are drawn with the world at least 60 % of its width, not
at zoom 1 (512 px, 40 %), every feature inside the window."""

from __future__ import annotations

import pytest
import trio
from mcp import Client
from support import start_server
from support.chromium import TILES, Chromium, Tab, in_chromium, new_context

pytestmark = pytest.mark.browser
VIEWPORT = {"width": 1280, "height": 800}


async def test_a_fitted_world_fills_the_width_of_the_page(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, tile_url=TILES)
    places = [[52.0, -175.0], [-45.0, 170.0], [78.0, 15.0], [-34.0, -58.0], [35.0, 139.0]]
    async with Client(server.url + "mcp") as agent:
        drawn = await agent.call_tool("draw", {"items": [{"at": p} for p in places]})
        assert not drawn.is_error, drawn.content
        assert drawn.structured_content is not None
        map_id, version = drawn.structured_content["map_id"], drawn.structured_content["version"]
    entry = await server.hub.get(map_id)

    def body(chromium: Chromium) -> None:
        tab = Tab.open(
            new_context(chromium, server, viewport=VIEWPORT), f"/v/{entry.view_key}", badge="view-only"
        )
        tab.page.wait_for_function(
            "(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version, polling=30
        )
        zoom = tab.page.evaluate("window.mapsrv.map.getZoom()")
        world = 256 * 2**zoom
        assert 0.6 * VIEWPORT["width"] <= world, (zoom, world)  # zoom 1 drew it 512 px wide (40 %)
        shown = tab.page.evaluate("window.mapsrv.featureIds().map((id) => window.mapsrv.featurePoint(id))")
        assert all(0 <= x <= VIEWPORT["width"] and 0 <= y <= VIEWPORT["height"] for x, y in shown), shown
        tab.check_clean()

    await in_chromium(body)
