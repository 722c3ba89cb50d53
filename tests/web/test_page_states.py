"""The page explains itself, in a real Chromium: an empty map says how to get an assistant drawing
on it, tiles that cannot be reached are named in a banner, and a map that no longer exists says
so in the tab and on reload (HTML for a browser, JSON for a program).

Screenshots are kept (page-empty.png, page-tiles-down.png, page-gone-tab.png, page-gone-reload.png)
in $TEST_ARTIFACTS_DIR when set, else in the test's temporary directory."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio
from support import start_server, wait_until
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context

from mapsrv.server import Server

try:
    from playwright.sync_api import Route
except ImportError:  # pragma: no cover - reported by require() in each test
    pass

pytestmark = pytest.mark.browser
VIEWPORT = {"width": 1100, "height": 720}


@pytest.fixture
async def live(nursery: trio.Nursery) -> Server:
    return await start_server(nursery, tile_url=TILES, sse_retry=0.2)


async def test_an_empty_map_says_what_to_do_next(live: Server, tmp_path: Path) -> None:
    out = artifact("page-empty.png", tmp_path)

    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, live, viewport=VIEWPORT))
        page = tab.page
        help_card = page.locator("#help")
        help_card.wait_for()
        text = help_card.inner_text()
        assert "This map is empty" in text
        mcp_url = live.url.rstrip("/") + "/mcp"
        assert f'"url": "{mcp_url}"' in text, "the MCP config names this server's Streamable HTTP URL"
        assert "mapsrv stdio" in text
        assert f"Draw on my map {tab.map_id}:" in text, "the prompt carries the map code"
        copy = page.get_by_role("button", name="Copy the prompt")
        copy.click()
        page.wait_for_function(
            "() => ['Copied', 'Selected'].includes("
            "document.querySelector('[aria-label=\"Copy the prompt\"]').textContent)"
        )
        page.screenshot(path=str(out), animations="disabled")
        tab.ops({"op": "add_feature", "id": "first", "type": "marker", "coords": [38.7, -9.1]})
        tab.feature("first", "marker")
        help_card.wait_for(state="hidden")
        tab.check_clean()

    await in_chromium(body)


async def test_tiles_that_cannot_be_reached_get_a_banner_and_features_still_show(
    live: Server, tmp_path: Path
) -> None:
    out = artifact("page-tiles-down.png", tmp_path)

    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, live, viewport=VIEWPORT))
        page = tab.page
        tab.ops(
            {"op": "set_title", "title": "Lisbon, tiles down"},
            {"op": "add_feature", "id": "walk", "type": "polyline",
             "coords": [[38.73, -9.17], [38.71, -9.15], [38.70, -9.12]], "label": "Walk",
             "style": {"color": "#7c3aed", "weight": 5}},
            {"op": "add_feature", "id": "hotel", "type": "marker", "coords": [38.716, -9.14],
             "label": "Hotel"},
            {"op": "set_view", "center": [38.715, -9.145], "zoom": 13, "animate": False},
        )  # fmt: skip
        banner = page.locator("#tiles-banner")
        banner.wait_for()
        assert "127.0.0.1:9" in banner.inner_text() and "cannot be reached" in banner.inner_text()
        assert tab.feature("walk", "polyline").is_visible() and tab.label("Hotel").is_visible()
        page.screenshot(path=str(out), animations="disabled")
        tab.check_clean()

    await in_chromium(body)


async def test_a_map_that_is_gone_says_so_in_the_tab_and_on_reload(live: Server, tmp_path: Path) -> None:
    """The map expires while its page is reconnecting: the page stops "reconnecting" and says the
    map is gone, with a button that starts a new one; a reload gets the same as an HTML page."""
    tab_png, reload_png = artifact("page-gone-tab.png", tmp_path), artifact("page-gone-reload.png", tmp_path)
    opened = trio.Event()
    ids: dict[str, str] = {}
    expired = trio.Event()

    def body(chromium: Chromium, token: trio.lowlevel.TrioToken) -> None:
        tab = Tab.open(new_context(chromium, live, viewport=VIEWPORT))
        page = tab.page
        ids["map"] = tab.map_id
        held: list[Route] = []

        def on_events(route: Route) -> None:
            if expired.is_set():
                route.continue_()
            else:
                held.append(route)

        page.route("**/events", on_events)
        trio.from_thread.run_sync(opened.set, trio_token=token)
        trio.from_thread.run(expired.wait, trio_token=token)
        page.wait_for_function("() => document.getElementById('conn').textContent !== 'live'")
        for route in held:
            route.continue_()
        tab.wait_badge("gone")
        overlay = page.locator("#gone")
        overlay.wait_for()
        assert "This map no longer exists" in overlay.inner_text()
        page.screenshot(path=str(tab_png), animations="disabled")

        response = page.reload()
        assert response is not None and response.status == 404
        # its id's page: the same words for a map gone and another browser's (nothing leaks)
        assert page.get_by_role("heading", name="This map does not open in this browser").is_visible()
        page.screenshot(path=str(reload_png), animations="disabled")
        page.get_by_role("button", name="Start a new map").click()
        page.wait_for_url("**/m/*")
        fresh = Tab(page)
        fresh.wait_badge("live")
        assert fresh.map_id != ids["map"]
        fresh.check_clean()

    async def expire() -> None:
        await opened.wait()
        entry = live.hub.find(ids["map"])
        assert entry is not None
        live.hub.close_all_subscribers()  # the page reconnects into the held route
        await wait_until(lambda: not entry.subscribers)
        assert live.hub.registry.expire_idle(trio.current_time() + 10 * live.hub.idle_timeout) >= 1
        expired.set()

    token = trio.lowlevel.current_trio_token()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(expire)
        await in_chromium(lambda chromium: body(chromium, token))


async def test_a_gone_map_is_html_for_browsers_and_json_for_programs(live: Server) -> None:
    unknown = "A" * 22
    async with httpx.AsyncClient(base_url=live.url) as client:
        said = {"m": "This map does not open in this browser", "v": "This link does not open a map"}
        for path in (f"/m/{unknown}", f"/v/{unknown}"):
            page = await client.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
            assert page.status_code == 404, path
            assert page.headers["content-type"].startswith("text/html")
            assert said[path[1]] in page.text and 'action="/new"' in page.text
            assert "default-src 'self'" in page.headers["content-security-policy"]
            for accept in ("application/json", "*/*"):
                program = await client.get(path, headers={"Accept": accept})
                assert program.status_code == 404, (path, accept)
                assert program.json() == {"error": {"code": "not_found", "message": "map not found"}}
