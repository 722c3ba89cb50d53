"""The page without a reachable tile server shows the world: Natural Earth's countries drawn
under the map's features (land where land is, sea where sea is), said in the attribution, and
chosen from the layer control too; rings across the 180th meridian drawn on either side of it, not
as bands around the world. Screenshots: offline-page.png, offline-world.png."""

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
    world = artifact("offline-world.png", Path("/tmp"))

    def body(chromium: Chromium) -> tuple[list[list[float]], list[list[float]], str]:
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
        # the whole world: the seas at the latitudes of Russia's and Fiji's rings across the 180th
        # meridian stay sea (drawn as they come, those rings filled a band around the world)
        tab.page.evaluate("() => { window.mapsrv.map.setView([20, 0], 2, { animate: false }); }")
        tab.page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        seas = tab.page.evaluate(
            "(ps) => ps.map((p) => window.mapsrv.map.latLngToContainerPoint(p)).map((c) => [c.x, c.y])",
            # Denmark Strait, the Norwegian Sea (64.9-71.5 N), the Atlantic off Brazil (16.3 S)
            [[67.5, -25.0], [68.0, 2.0], [-16.3, -30.0]],
        )
        tab.page.screenshot(path=str(world))
        attribution = tab.page.locator(".leaflet-control-attribution").inner_text()
        tab.check_clean()
        return places, seas, attribution

    places, seas, attribution = await in_chromium(body)
    image = Image.open(shot).convert("RGB")
    spain, biscay, serbia = (image.getpixel((round(x), round(y))) for x, y in places)
    assert near(spain, LAND) and near(serbia, LAND), (spain, serbia)
    assert near(biscay, SEA), biscay
    whole = Image.open(world).convert("RGB")
    for (x, y), where in zip(seas, ("Denmark Strait", "the Norwegian Sea", "off Brazil"), strict=True):
        color = whole.getpixel((round(x), round(y)))
        assert near(color, SEA), f"{where} is drawn as land {color}: a ring across the 180th meridian"
    assert "Natural Earth" in attribution
