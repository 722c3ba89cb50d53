"""A routed line in the page, in Chromium: its popup and the activity list say how long it is and
how long it takes, in the words the agent was given; the line is drawn along the streets."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from support import start_server
from support.agents import agent, call
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context
from support.street_grid import intersection
from support.valhalla import open_valhalla


@pytest.mark.browser
async def test_the_page_shows_a_routes_distance_and_time(
    nursery: trio.Nursery, valhalla_config: Path, tmp_path: Path
) -> None:
    async with open_valhalla(valhalla_config) as engine:
        server = await start_server(nursery, tile_url=TILES, router=f"valhalla+{engine.url}")
        async with agent(server.url + "mcp", "planner") as client:
            drawn = await call(
                client,
                "draw",
                items=[
                    {
                        "type": "route",
                        "points": [list(intersection(0, 0)), list(intersection(5, 5))],
                        "label": "To the park",
                        "popup": "<b>bring water</b>",
                    }
                ],
            )
        [route] = drawn["routes"]
        map_id, version = drawn["map_id"], drawn["version"]

        def body(chromium: Chromium) -> None:
            context = new_context(chromium, server, viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(f"/m/{map_id}")  # the agent's link, opened by the person it was given to
            page.get_by_role("button", name="Open this map here").click()
            tab = Tab(page)
            tab.wait_badge("live")
            page.wait_for_function("(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version)
            text = page.evaluate(
                "async (id) => { const { page } = await import('/static/map.js');"
                " const l = page.features.get(id).layer; l.openPopup();"
                " return l.getLatLngs().length; }",
                route["id"],
            )
            assert text > 2, "drawn along the streets, not as a straight line"
            shown = page.locator(".leaflet-popup .mapsrv-route")
            shown.wait_for()
            assert shown.inner_text() == route["summary"]
            popup = page.locator(".leaflet-popup .mapsrv-popup").inner_text()
            assert "<b>bring water</b>" in popup and page.locator(".leaflet-popup b").count() == 0
            assert page.locator(".leaflet-popup .mapsrv-attributes").count() == 0, "no raw distance_m rows"
            page.locator(".activity-what", has_text=route["summary"]).first.wait_for()
            page.screenshot(path=str(artifact("route-popup.png", tmp_path)))
            tab.check_clean()

        await in_chromium(body)
