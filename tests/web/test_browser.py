"""The page in a real headless Chromium against a real server.

Playwright's async API needs asyncio, so each test runs one sync-API body in one worker thread
(``in_chromium``) while the server runs in the test's trio nursery. Ops are posted from the page's
own browser context (``page.request`` shares its cookie), so they are the page owner's writes.
Every wait is on a condition; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import trio
from support import start_server
from support.chromium import TILES, Chromium, in_chromium, new_context
from support.chromium import Tab as BaseTab
from support.png import Image, read_png

from mapsrv.server import Server

try:
    from playwright.sync_api import Route
except ImportError:  # pragma: no cover - reported by require() in each test
    pass

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=alert(1)>"


def add(fid: str, ftype: str, coords: Any, **fields: Any) -> dict[str, Any]:
    return {"op": "add_feature", "id": fid, "type": ftype, "coords": coords, **fields}


VIEW = {"op": "set_view", "center": [38.72, -9.14], "zoom": 13, "animate": False}
# fmt: off
ALL_TYPES = [
    add("pin", "marker", [38.7223, -9.1393], label="Home", popup="Where we sleep"),
    add("dot", "marker", [38.7115, -9.1325], label="Café", style={"color": "#e11d48"}),
    add("route", "polyline", [[38.730, -9.175], [38.716, -9.150], [38.705, -9.120]], label="Walk",
        style={"color": "#7c3aed", "weight": 5, "dash": "8 6"}),
    add("park", "polygon", [[38.738, -9.118], [38.744, -9.098], [38.728, -9.094]], label="Park",
        style={"color": "green", "fill_color": "#22c55e", "fill_opacity": 0.3}),
    add("zone", "circle", [38.708, -9.165], radius=700, label="Zone",
        style={"color": "#f59e0b", "weight": 3}),
    add("box", "rectangle", [[38.700, -9.110], [38.712, -9.090]], label="Box",
        style={"color": "#0ea5e9", "fill_opacity": 0.1}),
]
# fmt: on
TYPES = {op["id"]: op["type"] for op in ALL_TYPES}


class Tab(BaseTab):
    known_types = TYPES


@pytest.fixture
async def live(nursery: trio.Nursery) -> Server:
    return await start_server(nursery, tile_url=TILES, sse_retry=0.2)


async def test_every_feature_type_and_change_is_drawn_into_the_dom(live: Server) -> None:
    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, live))
        page = tab.page
        tab.ops(VIEW, {"op": "set_title", "title": "Lisbon walk"}, *ALL_TYPES)
        for fid in TYPES:
            tab.feature(fid)
        assert page.locator('[data-feature-id="pin"]').evaluate("e => e.tagName") == "IMG"
        assert "marker-icon" in (tab.feature("pin").get_attribute("src") or "")
        strokes = {fid: tab.feature(fid).get_attribute("stroke") for fid in TYPES if fid != "pin"}
        assert strokes == {op["id"]: op["style"]["color"] for op in ALL_TYPES if "style" in op}
        assert tab.feature("route").get_attribute("stroke-dasharray") == "8 6"
        assert tab.feature("park").get_attribute("fill") == "#22c55e"
        page.wait_for_function("() => document.title === 'Lisbon walk'")
        assert page.locator("#map-title").inner_text() == "Lisbon walk"
        for text in ("Home", "Café", "Walk", "Park", "Zone", "Box"):
            assert tab.label(text).is_visible(), text

        tab.ops(
            {"op": "update_feature", "id": "dot", "label": "Bar", "style": {"color": "#111111"}},
            {"op": "remove_features", "ids": ["box"]},
        )
        tab.gone("box")
        tab.label("Bar").wait_for()
        tab.label("Café").wait_for(state="detached")  # Leaflet fades a removed tooltip out first
        assert tab.feature("dot").get_attribute("stroke") == "#111111"

        tab.ops(
            {"op": "add_layer", "id": "night", "name": "Night"},
            add("bar2", "marker", [38.71, -9.14], layer="night", style={"color": "navy"}),
        )
        tab.feature("bar2", "marker")
        tab.ops({"op": "hide_layer", "id": "night"})
        tab.gone("bar2")
        tab.feature("pin")  # other layers stay
        tab.ops({"op": "show_layer", "id": "night"})
        tab.feature("bar2", "marker")  # re-tagged when Leaflet re-creates the element

        tab.ops({"op": "clear"})
        page.wait_for_function("() => !document.querySelector('[data-feature-id], .mapsrv-label')")
        assert page.evaluate("window.mapsrv.featureIds()") == []
        tab.check_clean()

    await in_chromium(body)


async def test_remove_layer_removes_its_features(live: Server) -> None:
    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, live))
        tab.ops({"op": "add_layer", "id": "night"}, add("late", "marker", [1, 2], layer="night"))
        tab.feature("late", "marker")
        tab.ops({"op": "remove_layer", "id": "night"})
        tab.ops(add("next", "marker", [3, 4]))
        tab.feature("next", "marker")  # changes apply in order: remove_layer is done too
        assert tab.page.evaluate("window.mapsrv.layerIds()") == ["default"]
        assert tab.page.locator('[data-feature-id="late"]').count() == 0

    await in_chromium(body)


async def test_popup_is_as_wide_as_its_text(live: Server) -> None:
    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, live))
        tab.ops(VIEW, add("p", "marker", [38.72, -9.14], popup="A note about this place, longer than a word"))
        tab.feature("p", "marker").click()
        width = tab.page.locator(".mapsrv-popup").evaluate("(e) => e.offsetWidth")
        assert width >= 200, f"the popup is {width}px wide: a word per line"

    await in_chromium(body)


async def test_agent_text_is_shown_as_text_never_run(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, tile_url=TILES, tile_attribution=XSS)

    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, server))
        page = tab.page
        tab.ops(
            VIEW, {"op": "set_title", "title": XSS}, add("x", "marker", [38.72, -9.14], label=XSS, popup=XSS)
        )
        for attempt in ("live", "reloaded"):  # a live change, then the served page and its snapshot
            tab.feature("x", "marker").click()
            page.locator(".mapsrv-popup").wait_for()
            assert page.locator(".leaflet-popup-content").text_content() == XSS, attempt
            assert tab.label(XSS).text_content() == XSS, attempt
            assert page.locator("#map-title").text_content() == XSS, attempt
            assert page.title() == XSS, attempt
            assert XSS in (page.locator(".leaflet-control-attribution").text_content() or ""), attempt
            assert page.locator('img[src="x"]').count() == 0, attempt
            tab.check_clean()
            page.reload()
            tab.wait_badge("live")

    await in_chromium(body)


async def test_every_tab_sees_changes_made_after_it_loaded(live: Server) -> None:
    def body(chromium: Chromium) -> None:
        context = new_context(chromium, live)
        first, second = Tab.open(context), Tab.open(context)
        assert first.map_id == second.map_id, "one cookie, one map"
        first.ops(add("late", "polyline", [[1, 1], [2, 2]]), {"op": "set_title", "title": "Shared"})
        for tab in (first, second):
            tab.feature("late", "polyline")
            tab.page.wait_for_function("() => document.getElementById('map-title').textContent === 'Shared'")
        second.ops({"op": "remove_features", "ids": ["late"]})
        first.gone("late")
        second.gone("late")

    await in_chromium(body)


async def test_page_resumes_after_the_server_ends_its_stream(live: Server) -> None:
    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, live))
        tab.ops(add("before", "marker", [1, 2]))
        tab.mark("before")
        # Hold the reconnection until the op below is in, so that op can only come by resume.
        held: list[Route] = []
        applied = False

        def on_events(route: Route) -> None:
            if applied:
                route.continue_()
            else:
                held.append(route)

        tab.page.route("**/events", on_events)
        trio.from_thread.run_sync(live.hub.close_all_subscribers)  # as a shutdown or a slow-viewer drop does
        tab.wait_badge("reconnecting")
        version = tab.ops(add("during", "circle", [1, 3], radius=50))
        applied = True
        for route in held:
            route.continue_()
        tab.wait_badge("live")
        tab.feature("during", "circle")
        assert tab.page.evaluate("window.mapsrv.version") == version
        assert tab.marked("before"), "resumed by Last-Event-ID: no snapshot redrew the map"
        tab.ops(add("after", "polygon", [[1, 1], [2, 2], [1, 2]]))
        tab.feature("after", "polygon")
        assert sorted(tab.page.evaluate("window.mapsrv.featureIds()")) == ["after", "before", "during"]
        tab.check_clean()
        # Chromium asks for gzip: the page's streams were gzipped, and a gzip stream that
        # ended without a trailer (as every event stream ends) was resumed like any other
        metrics = tab.page.evaluate("fetch('/metrics').then((r) => r.text())")
        gzipped = re.findall(r"^mapsrv_sse_streams_gzip_total (\S+)$", metrics, re.M)
        assert gzipped and float(gzipped[0]) >= 2, gzipped

    await in_chromium(body)


async def test_page_reopens_a_failed_stream_and_takes_a_snapshot(live: Server) -> None:
    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, live))
        tab.ops(add("stays", "marker", [1, 2]), add("goes", "marker", [1, 3]))
        tab.mark("stays")
        attempts: list[str] = []

        def on_events(route: Route) -> None:  # the first reconnection fails: EventSource gives up
            attempts.append(route.request.url)
            if len(attempts) == 1:
                tab.ops({"op": "remove_features", "ids": ["goes"]}, add("fresh", "marker", [3, 4]))
                route.fulfill(status=503, body="busy")
            else:
                route.continue_()

        tab.page.route("**/events", on_events)
        trio.from_thread.run_sync(live.hub.close_all_subscribers)
        tab.wait_badge("reconnecting")
        tab.wait_badge("live")  # the page's own retry, after its backoff
        tab.feature("fresh", "marker")
        tab.gone("goes")
        assert len(attempts) == 2
        assert not tab.marked("stays"), "a fresh EventSource is answered by a snapshot that redraws all"
        assert sorted(tab.page.evaluate("window.mapsrv.featureIds()")) == ["fresh", "stays"]
        tab.check_clean()

    await in_chromium(body)


async def test_view_link_watches_live_and_cannot_write(live: Server) -> None:
    def body(chromium: Chromium) -> None:
        owner = Tab.open(new_context(chromium, live))
        view_url = owner.page.locator("#view-link").get_attribute("href") or ""
        assert "/v/" in view_url and owner.map_id not in view_url
        viewer = Tab.open(new_context(chromium, live), view_url, badge="view-only")
        assert viewer.page.locator("#map-code").count() == 0
        assert viewer.page.locator("#panel button").all_inner_texts() == ["History"], "replay only: no undo"
        assert not viewer.page.locator("#toolbar").is_visible(), "no drawing tools on the view link"
        viewer.page.keyboard.press("m")
        assert viewer.page.evaluate("window.mapsrv.tool") is None
        owner.ops(add("seen", "rectangle", [[1, 1], [2, 2]]), {"op": "set_title", "title": "Watched"})
        viewer.feature("seen", "rectangle")
        viewer.page.wait_for_function("() => document.title === 'Watched'")
        status = viewer.page.evaluate(
            """async (id) => (await fetch('/m/' + id + '/ops', {method: 'POST',
                headers: {'content-type': 'application/json'},
                body: JSON.stringify({ops: [{op: 'clear'}]})})).status""",
            owner.map_id,
        )
        assert status == 404, "the viewer's browser has no cookie for this map"
        direct = viewer.page.request.post(f"/m/{owner.map_id}/ops", data={"ops": [{"op": "clear"}]})
        assert direct.status == 404
        for path in ("undo", "redo"):
            assert viewer.page.request.post(f"/m/{owner.map_id}/{path}", data={}).status == 404, path
            assert viewer.page.request.post(f"{view_url}/{path}", data={}).status in (404, 405), path
        owner.feature("seen", "rectangle")  # still there
        viewer.check_clean()

    await in_chromium(body)


def near(colour: tuple[int, int, int], hex_colour: str, tolerance: int = 24) -> bool:
    target = bytes.fromhex(hex_colour.lstrip("#"))
    return all(abs(c - t) <= tolerance for c, t in zip(colour, target, strict=True))


async def test_screenshot_shows_each_feature_where_the_page_placed_it(live: Server, tmp_path: Path) -> None:
    """The screenshot, decoded, has each coloured outline's colour inside the box the DOM gives
    for that feature and (nearly) nowhere else. Kept as an artifact in $TEST_ARTIFACTS_DIR
    when set (tox passes it), else in the test's temporary directory."""
    out = Path(os.environ.get("TEST_ARTIFACTS_DIR") or tmp_path) / "browser-map.png"
    outlined = {"route": "#7c3aed", "zone": "#f59e0b", "box": "#0ea5e9"}

    def body(chromium: Chromium) -> tuple[bytes, dict[str, dict[str, float]]]:
        tab = Tab.open(new_context(chromium, live, viewport={"width": 1280, "height": 800}))
        tab.ops({"op": "set_title", "title": "Lisbon walk"}, *ALL_TYPES, VIEW)
        for fid in TYPES:
            tab.feature(fid)
        tab.feature("pin").click()
        tab.page.locator(".mapsrv-popup").wait_for()
        tab.page.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim')")
        boxes = {fid: tab.feature(fid).bounding_box() for fid in outlined}
        png = tab.page.screenshot(animations="disabled")
        tab.check_clean()
        return png, boxes

    png, boxes = await in_chromium(body)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png)
    image = await trio.to_thread.run_sync(read_png, png)
    assert (image.width, image.height) == (1280, 800)
    counts = await trio.to_thread.run_sync(colour_counts, image, outlined, boxes)
    for fid, colour in outlined.items():
        inside, outside = counts[fid]
        assert inside >= 30, f"{fid}: {inside} pixels of {colour} where the page drew it ({boxes[fid]})"
        assert outside <= inside // 10, f"{fid}: {outside} pixels of {colour} outside its box, {inside} in"


def colour_counts(image: Image, colours: dict[str, str], boxes: dict[str, Any]) -> dict[str, list[int]]:
    """Per feature: how many pixels of its colour lie inside its DOM box (3 px of slack for
    the stroke's width and anti-aliasing) and how many outside."""
    counts = {fid: [0, 0] for fid in colours}
    for fid, box in boxes.items():
        assert box is not None and box["width"] > 5 and box["height"] > 5, (fid, box)
    for y in range(image.height):
        for x in range(image.width):
            pixel = image.pixel(x, y)
            for fid, colour in colours.items():
                if near(pixel, colour):
                    box = boxes[fid]
                    inside = (box["x"] - 3 <= x <= box["x"] + box["width"] + 3) and (
                        box["y"] - 3 <= y <= box["y"] + box["height"] + 3
                    )
                    counts[fid][0 if inside else 1] += 1
    return counts


async def test_an_agents_drawing_renders_its_style_vocabulary(live: Server, tmp_path: Path) -> None:
    """A route of numbered stops, an emoji, named and hex colours and a dashed line, drawn by the
    draw tool on the map a user opened (the code pasted into the assistant): each rendered as
    asked, labels always shown. The screenshot is kept as agent-map.png beside browser-map.png."""
    out = Path(os.environ.get("TEST_ARTIFACTS_DIR") or tmp_path) / "agent-map.png"
    stops = [[38.7223, -9.1393], [38.7139, -9.1334], [38.7071, -9.1355], [38.6979, -9.2063]]
    items = [
        {"type": "route", "points": stops, "color": "crimson", "dash": True, "id": "walk", "label": "Walk"},
        {"at": [38.7169, -9.1399], "symbol": "🏨", "color": "#0f766e", "label": "Hotel", "id": "hotel"},
        {"at": [38.7253, -9.1500], "radius_m": 400, "color": "darkorange", "label": "Garden", "id": "garden"},
    ]
    opened: trio.Event = trio.Event()
    ready: dict[str, str] = {}
    drawn = trio.Event()

    def body(chromium: Chromium, token: trio.lowlevel.TrioToken) -> tuple[bytes, list[str], list[str]]:
        tab = Tab.open(new_context(chromium, live, viewport={"width": 1000, "height": 700}))
        ready["map_id"] = tab.map_id
        trio.from_thread.run_sync(opened.set, trio_token=token)
        trio.from_thread.run(drawn.wait, trio_token=token)
        for fid in ("walk", "walk.1", "walk.4", "hotel", "garden"):
            tab.feature(fid)
        badges = tab.page.locator(".mapsrv-symbol").all_inner_texts()
        fills = tab.page.locator(".mapsrv-symbol").evaluate_all(
            "(els) => els.map((e) => getComputedStyle(e).backgroundColor)"
        )
        assert tab.feature("walk").get_attribute("stroke") == "crimson"
        assert tab.feature("walk").get_attribute("stroke-dasharray") == "6 6"
        assert tab.feature("garden").get_attribute("stroke") == "darkorange"
        for text in ("Walk", "Hotel", "Garden"):
            assert tab.label(text).is_visible(), text
        tab.page.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim')")
        png = tab.page.screenshot(animations="disabled")
        tab.check_clean()
        return png, badges, fills

    async def agent() -> None:
        from mapsrv.mcp.tools import ToolContext
        from mapsrv.mcp.tools.drawing import draw

        await opened.wait()
        result = await draw(ToolContext(live.hub, live.url), items, map_id=ready["map_id"])
        assert not result.is_error, result.content
        drawn.set()

    token = trio.lowlevel.current_trio_token()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(agent)
        png, badges, fills = await in_chromium(lambda chromium: body(chromium, token))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png)
    assert sorted(badges) == ["1", "2", "3", "4", "🏨"]
    assert fills.count("rgb(220, 20, 60)") == 4 and "rgb(15, 118, 110)" in fills  # crimson, #0f766e


async def test_a_person_claims_an_agents_map_with_the_button(live: Server) -> None:
    """The claim page's form POSTs from a real browser: its Origin must pass our check (under
    `Referrer-Policy: no-referrer` Chromium sends `Origin: null` and the claim was refused)."""
    made = await live.hub.create_map(title="Made by an agent")

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, live)
        page = context.new_page()
        page.goto(f"/m/{made.id}")
        button = page.get_by_role("button", name="Open this map here")
        button.click()
        page.wait_for_url(f"**/m/{made.id}")
        tab = Tab(page)
        tab.wait_badge("live")
        assert tab.map_id == made.id
        assert page.locator("#map-title").inner_text() == "Made by an agent"
        other = new_context(chromium, live).new_page()  # another browser: the map is not its
        assert other.goto(f"/m/{made.id}").status == 404  # type: ignore[union-attr]

    await in_chromium(body)
    assert made.owner is not None
