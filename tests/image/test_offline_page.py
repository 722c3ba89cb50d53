"""The page without a reachable tile server shows the world: Natural Earth's countries drawn
under the map's features (land where land is, sea where sea is), said in the attribution, and
chosen from the layer control too. A screenshot is kept as offline-page.png."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from PIL import Image
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context

pytestmark = pytest.mark.browser
ROUTE = [[38.72, -9.14], [40.42, -3.70], [48.86, 2.35], [52.52, 13.40], [41.90, 12.50]]
LAND, SEA = (246, 244, 238), (214, 226, 235)


def near(color: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(color, expected, strict=False))


async def test_the_page_draws_the_world_when_tiles_fail(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, tile_url=TILES)  # nothing answers there
    shot = artifact("offline-page.png", Path("/tmp"))

    def body(chromium: Chromium) -> tuple[list[list[float]], str]:
        tab = Tab.open(new_context(chromium, server, viewport={"width": 1000, "height": 700}))
        route = {"op": "add_feature", "id": "trip", "type": "polyline", "coords": ROUTE, "label": "Trip"}
        tab.ops(route, {"op": "set_view", "center": [46, 3], "zoom": 5, "animate": False})
        tab.page.wait_for_function("() => (document.body.dataset.basemap || '').startsWith('offline')")
        tab.page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        places = tab.page.evaluate(
            "(ps) => ps.map((p) => window.mapsrv.map.latLngToContainerPoint(p)).map((c) => [c.x, c.y])",
            # inland Spain, the Bay of Biscay, Serbia (clear of the side panel and its search box)
            [[39.5, -5.5], [45.5, -4.5], [44.0, 21.0]],
        )
        tab.page.screenshot(path=str(shot))
        attribution = tab.page.locator(".leaflet-control-attribution").inner_text()
        tab.check_clean()
        return places, attribution

    places, attribution = await in_chromium(body)
    image = Image.open(shot).convert("RGB")
    spain, biscay, serbia = (image.getpixel((round(x), round(y))) for x, y in places)
    assert near(spain, LAND) and near(serbia, LAND), (spain, serbia)
    assert near(biscay, SEA), biscay
    assert "Natural Earth" in attribution
