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
from support.valhalla import Valhalla, open_valhalla


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


@pytest.mark.browser
async def test_a_routes_elevation_profile_shows_and_hovering_moves_a_marker_along_it(
    nursery: trio.Nursery, valhalla_with_heights: Valhalla, tmp_path: Path
) -> None:
    server = await start_server(nursery, tile_url=TILES, router=f"valhalla+{valhalla_with_heights.url}")
    async with agent(server.url + "mcp", "cyclist") as client:
        drawn = await call(
            client,
            "draw",
            items=[
                {
                    "type": "route",
                    "points": [list(intersection(0, 2)), list(intersection(5, 2))],
                    "by": "bike",
                }
            ],
        )
    [route] = drawn["routes"]
    assert route["ascent_m"] > 0
    map_id, version = drawn["map_id"], drawn["version"]

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, server, viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(f"/m/{map_id}")
        page.get_by_role("button", name="Open this map here").click()
        tab = Tab(page)
        tab.wait_badge("live")
        page.wait_for_function("(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version)
        assert page.locator("#profile").count() == 0, "no profile before a line is chosen"
        page.evaluate(
            "async (id) => { const { page } = await import('/static/map.js');"
            " page.features.get(id).layer.openPopup(); }",
            route["id"],
        )
        profile = page.locator("#profile svg")
        profile.wait_for()
        assert page.locator("#profile").get_attribute("data-feature") == route["id"]
        caption = page.locator("#profile .profile-caption").inner_text()
        assert caption.startswith(f"\u2191 {round(route['ascent_m'])} m \u2193 0 m"), caption
        box = profile.bounding_box()
        assert box is not None
        where = (
            "() => { const m = document.querySelector('.profile-marker');"
            " return m ? m.getBoundingClientRect().top : null; }"
        )
        page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] / 2)
        page.wait_for_function(f"({where})() !== null")
        south = page.evaluate(where)
        assert page.locator("#profile .profile-readout").inner_text().startswith("0.")
        page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
        page.wait_for_function(f"({where})() < {south} - 20")  # further along: north, up the screen
        page.screenshot(path=str(artifact("route-profile.png", tmp_path)))
        page.evaluate(
            "async () => { const { page } = await import('/static/map.js'); page.map.closePopup(); }"
        )
        page.locator("#profile").wait_for(state="detached")
        tab.check_clean()

    await in_chromium(body)
