"""The live map as MCP hosts show it, in real Chromium, inside a host built on the official
``AppBridge`` of ``@modelcontextprotocol/ext-apps`` (tests/support/apps_host.py), three ways: a
host that sizes the iframe only from ``ui/notifications/size-changed`` starting at an iframe's
default 150 px (the spec's hosts), one with a fixed height given in ``containerDimensions``, and
one that loads the page as a same-origin blob and reads the document element's height
(Claude.ai). In each the map is drawn at least 300 px tall with its labels, follows the agent's
next draw live, opens its link through ``ui/open-link``, goes full screen and back through
``ui/request-display-mode``, takes the host's dark theme, and raises no console error and no CSP
violation. The app once reported no size at all and stayed a 150-pixel strip.

Screenshots: app-host-<kind>.png, app-host-<kind>-fullscreen.png, app-host-<kind>-dark.png in
$TEST_ARTIFACTS_DIR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from mcp import Client
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from support import start_server
from support.apps_host import host_bundle, host_page, serve_page
from support.chromium import TILES, Chromium, artifact, in_chromium, new_context

from mapsrv.server import Server

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1000, "height": 800}  # the host's tab
HEIGHT = 420  # the height the app asks for (app.js HEIGHT)
FIXED = 500  # the fixed host's iframe
CALL = {
    "items": [
        {"at": [38.7169, -9.1399], "symbol": "H", "color": "#0f766e", "label": "Hotel", "id": "hotel"},
        {"at": [38.6916, -9.2160], "color": "#7c3aed", "label": "Belem", "id": "belem"},
        {
            "type": "route",
            "points": [[38.7223, -9.1393], [38.7139, -9.1334], [38.7000, -9.1800]],
            "color": "crimson",
            "label": "Walk",
            "id": "walk",
        },
    ],
    "title": "Lisbon",
}
LABELS = {"Hotel", "Belem", "Walk"}
DRAWN_AT = "(v) => Number(document.body.dataset.drawnVersion) >= v"
SHOWN_LABELS = "() => Array.from(document.querySelectorAll('.mapsrv-label'), (el) => el.textContent)"
MAP_HEIGHT = "() => document.getElementById('map').getBoundingClientRect().height"
# Leaflet has redrawn the shapes for the map's new size (its SVG covers the map, with padding)
SHAPES_COVER_MAP = """() => {
  const svg = document.querySelector('.leaflet-overlay-pane svg');
  const map = document.getElementById('map').getBoundingClientRect();
  return svg && svg.getBoundingClientRect().height >= map.height;
}"""
FRAME_IS = "(h) => Math.round(host.frameHeight()) === h"
MODE = "() => document.documentElement.dataset.displayMode"
MODE_IS = "(m) => document.documentElement.dataset.displayMode === m"
ROUND_MAP_HEIGHT = "() => Math.round(document.getElementById('map').getBoundingClientRect().height)"
MAP_IS = "(h) => Math.round(document.getElementById('map').getBoundingClientRect().height) === h"
TILE_SERVER = TILES.split("{", 1)[0]  # nothing answers there: its failures are expected


def console_problem(message: Any) -> str | None:
    """A console error, but for the tiles that fail on purpose (the app then lies on the
    offline world map)."""
    if message.type != "error" or str(message.location.get("url", "")).startswith(TILE_SERVER):
        return None
    return f"console {message.type}: {message.text}"


async def draw(client: Client, call: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    drawn = await client.call_tool("draw", call)
    assert not drawn.is_error, drawn.content
    return drawn.structured_content["map_id"], drawn.model_dump(mode="json", by_alias=True, exclude_none=True)


SETTLE_MS = 5_000  # how long a step may take before what it shows is asserted


def settled(where: Any, done: str, shown: str, arg: Any = None) -> Any:
    """What ``shown`` evaluates to once ``done`` holds, or after ``SETTLE_MS`` if it never does:
    the caller asserts the value, so a broken step fails by naming what it left, not by a wait
    running out."""
    try:
        where.wait_for_function(done, arg=arg, timeout=SETTLE_MS)
    except PlaywrightTimeout:
        pass
    return where.evaluate(shown)


def luminance(css_rgb: str) -> float:
    r, g, b = (float(x) for x in css_rgb[css_rgb.index("(") + 1 : css_rgb.index(")")].split(",")[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("kind", ["grow", "fixed", "dom"])
async def test_the_app_in_a_host(kind: str, nursery: trio.Nursery, tmp_path: Path) -> None:
    host_bundle()  # the bundle first: a missing Node install fails here, plainly
    server: Server = await start_server(nursery, tile_url=TILES)
    async with Client(server.url + "mcp") as client:
        (content,) = (await client.read_resource("ui://mapsrv/map")).contents
        ui = (content.meta or {})["ui"]
        map_id, result = await draw(client, CALL)
        view_url = result["_meta"]["mapsrv/view"]
        assert result["structuredContent"]["view_url"] == view_url
        version = result["structuredContent"]["version"]
        page = [host_page(kind, content.text, ui, call=CALL, result=result, height=FIXED)]
        host = await nursery.start(serve_page, page)

        async def agent_draws_again() -> int:
            _, more = await draw(
                client,
                {"map_id": map_id, "items": [{"at": [38.7253, -9.15], "label": "Garden", "id": "garden"}]},
            )
            return int(more["structuredContent"]["version"])

        def body(chromium: Chromium) -> dict[str, Any]:
            context = new_context(chromium, server, viewport=VIEWPORT)
            tab = context.new_page()
            problems: list[str] = []
            tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            tab.on("console", lambda m: problems.append(p) if (p := console_problem(m)) else None)
            tab.goto(host)
            tab.wait_for_function("() => window.host && window.host.initialized")
            (frame,) = tab.main_frame.child_frames
            frame.wait_for_function(DRAWN_AT, arg=version)
            seen: dict[str, Any] = {}
            # the iframe is as high as the app chose: at least 300 px, never the 150 px default
            expected = FIXED if kind == "fixed" else HEIGHT
            seen["frame"] = settled(tab, FRAME_IS, "() => Math.round(host.frameHeight())", expected)
            seen["map"] = frame.evaluate(MAP_HEIGHT)
            seen["root"] = frame.evaluate("() => document.documentElement.getBoundingClientRect().height")
            seen["sizes"] = tab.evaluate("host.sizes")
            frame.wait_for_function(
                "(n) => document.querySelectorAll('.mapsrv-label').length >= n", arg=len(LABELS)
            )
            seen["labels"] = set(frame.evaluate(SHOWN_LABELS))
            tab.screenshot(path=str(artifact(f"app-host-{kind}.png", tmp_path)), animations="disabled")

            # the agent's next draw, live
            again = trio.from_thread.run(agent_draws_again)
            frame.wait_for_function(DRAWN_AT, arg=again)
            frame.locator("[data-feature-id='garden']").wait_for()

            # the link opens through the host
            frame.locator("#open").click()
            seen["links"] = settled(tab, "() => host.links.length >= 1", "() => host.links")

            # full screen, and back
            frame.locator("#fullscreen").click()
            seen["fullscreen_mode"] = settled(frame, MODE_IS, MODE, "fullscreen")
            seen["fullscreen_map"] = settled(frame, MAP_IS, ROUND_MAP_HEIGHT, VIEWPORT["height"])
            seen["fullscreen_shapes"] = settled(frame, SHAPES_COVER_MAP, SHAPES_COVER_MAP)
            seen["fullscreen_button"] = frame.locator("#fullscreen").inner_text()
            tab.screenshot(
                path=str(artifact(f"app-host-{kind}-fullscreen.png", tmp_path)), animations="disabled"
            )
            frame.locator("#fullscreen").click()
            seen["inline_mode"] = settled(frame, MODE_IS, MODE, "inline")
            seen["inline_frame"] = settled(tab, FRAME_IS, "() => Math.round(host.frameHeight())", expected)
            seen["inline_map"] = frame.evaluate(MAP_HEIGHT)
            seen["modes"] = tab.evaluate("host.modes")

            # the host's dark theme
            tab.evaluate("host.setTheme('dark')")
            seen["theme"] = settled(
                frame,
                "() => document.documentElement.dataset.theme === 'dark'",
                "() => document.documentElement.dataset.theme",
            )
            seen["bar"] = frame.evaluate(
                "() => getComputedStyle(document.getElementById('bar')).backgroundColor"
            )
            seen["label"] = frame.evaluate(
                "() => getComputedStyle(document.querySelector('.mapsrv-label')).backgroundColor"
            )
            seen["title"] = frame.evaluate("() => getComputedStyle(document.getElementById('title')).color")
            tab.screenshot(path=str(artifact(f"app-host-{kind}-dark.png", tmp_path)), animations="disabled")

            # the host tears the app down: the app answers and its stream ends
            tab.evaluate("host.teardown()")
            tab.wait_for_function("() => host.teardowns === 1")
            seen["status"] = frame.locator("#status").inner_text()
            seen["csp"] = frame.evaluate("window.__csp") + tab.evaluate("window.__csp")
            seen["problems"] = problems
            return seen

        seen = await in_chromium(body)
    expected = FIXED if kind == "fixed" else HEIGHT
    assert seen["frame"] == expected >= 300, f"the iframe is {seen['frame']} px: the app's size report"
    assert seen["links"] == [view_url], f"the app's link did not open through the host: {seen['links']}"
    assert seen["fullscreen_mode"] == "fullscreen", "the app did not go full screen through the host"
    assert seen["fullscreen_map"] == VIEWPORT["height"], "full screen, the map does not fill the host"
    assert seen["fullscreen_shapes"], "full screen, the shapes were not redrawn for the map's new size"
    assert seen["inline_mode"] == "inline", "the app did not come back inline"
    assert seen["inline_frame"] == expected, (
        f"back inline, the iframe is {seen['inline_frame']} px: the app did not report its height again"
    )
    assert seen["theme"] == "dark", "the app did not take the host's theme"
    assert seen["map"] == expected, "the map fills the app"
    assert seen["root"] == expected, "the document element says the height the app chose"
    # the app reported the height it chose, never the viewport's, once (a host applying each
    # report cannot loop); the fixed host's height is the one it gave
    assert seen["sizes"] and {s["height"] for s in seen["sizes"]} == {expected}, seen["sizes"]
    assert seen["labels"] == LABELS
    assert seen["links"] == [view_url]
    assert seen["modes"] == ["fullscreen", "inline"]
    assert seen["fullscreen_map"] == VIEWPORT["height"] and seen["fullscreen_button"] == "Exit full screen"
    assert seen["inline_map"] == expected
    assert luminance(seen["bar"]) < 60 and luminance(seen["label"]) < 60, (seen["bar"], seen["label"])
    assert luminance(seen["title"]) > 200, seen["title"]
    assert seen["status"] == "closed"
    assert seen["csp"] == [] and seen["problems"] == []


async def test_the_app_finds_the_map_without_meta_and_says_when_there_is_none(
    nursery: trio.Nursery,
) -> None:
    """A host that forwards a tool result without ``_meta`` still shows the map (the view link
    is in the structured content too); a failed call, a result that names no map, and a
    cancelled call each say so in the app rather than leaving an empty map."""
    host_bundle()
    server: Server = await start_server(nursery, tile_url=TILES)
    async with Client(server.url + "mcp") as client:
        (content,) = (await client.read_resource("ui://mapsrv/map")).contents
        ui = (content.meta or {})["ui"]
        _, result = await draw(client, CALL)
        version = result["structuredContent"]["version"]
        bare = {k: v for k, v in result.items() if k != "_meta"}
        failed = await client.call_tool("draw", {"items": [{"at": [91, 0]}]})
        assert failed.is_error
        failure = failed.model_dump(mode="json", by_alias=True, exclude_none=True)
    pages = {
        "bare": [host_page("grow", content.text, ui, call=CALL, result=bare)],
        "failed": [host_page("grow", content.text, ui, call=CALL, result=failure)],
        "none": [host_page("grow", content.text, ui, result={"content": [{"type": "text", "text": "ok"}]})],
        "cancelled": [host_page("grow", content.text, ui, call=CALL)],
    }
    hosts = {name: await nursery.start(serve_page, page) for name, page in pages.items()}

    def body(chromium: Chromium) -> dict[str, Any]:
        context = new_context(chromium, server, viewport=VIEWPORT)
        told: dict[str, Any] = {}
        for name, url in hosts.items():
            tab = context.new_page()
            tab.goto(url)
            tab.wait_for_function("() => window.host && window.host.initialized")
            (frame,) = tab.main_frame.child_frames
            if name == "bare":
                frame.wait_for_function(DRAWN_AT, arg=version)
                told[name] = frame.evaluate(
                    "() => [document.getElementById('notice').hidden, document.body.dataset.features]"
                )
                continue
            if name == "cancelled":
                tab.evaluate("host.cancel('user action')")
            frame.locator("#notice").wait_for(state="visible")
            told[name] = frame.locator("#notice").inner_text()
            tab.close()
        return told

    told = await in_chromium(body)
    assert told["bare"] == [True, "6"]  # hotel, belem, the walk and its 3 stops
    assert told["failed"].startswith("The tool call failed") and "91" in told["failed"], told["failed"]
    assert "names no map" in told["none"], told["none"]
    assert told["cancelled"] == "The tool call was cancelled (user action): no map to show.", told[
        "cancelled"
    ]


async def test_the_app_keeps_within_the_hosts_max_height(nursery: trio.Nursery) -> None:
    """A host whose container may be at most 360 px high (``containerDimensions.maxHeight``) gets
    an app of 360 px, not the 420 it would choose."""
    capped = 360
    server: Server = await start_server(nursery, tile_url=TILES)
    async with Client(server.url + "mcp") as client:
        (content,) = (await client.read_resource("ui://mapsrv/map")).contents
        _, result = await draw(client, CALL)
        version = result["structuredContent"]["version"]
        page = [
            host_page(
                "grow", content.text, (content.meta or {})["ui"], call=CALL, result=result, max_height=capped
            )
        ]
        host = await nursery.start(serve_page, page)

        def body(chromium: Chromium) -> dict[str, Any]:
            tab = new_context(chromium, server, viewport=VIEWPORT).new_page()
            tab.goto(host)
            tab.wait_for_function("() => window.host && window.host.initialized")
            (frame,) = tab.main_frame.child_frames
            frame.wait_for_function(DRAWN_AT, arg=version)
            height = settled(tab, FRAME_IS, "() => Math.round(host.frameHeight())", capped)
            return {"frame": height, "sizes": tab.evaluate("host.sizes")}

        seen = await in_chromium(body)
    assert seen["frame"] == capped, f"the app is {seen['frame']} px in a host that allows {capped}"
    assert {s["height"] for s in seen["sizes"]} == {capped}, seen["sizes"]
