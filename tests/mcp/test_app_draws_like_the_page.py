"""The MCP App draws a map exactly as the map's own page does: both use the one renderer
(static/render.js). The same small map (a symbol marker, a coloured circle marker, a labelled
route with its numbered stops, an area), at the same explicit view, is opened in a tab of the
view page (``/v/<view key>``) and in the app inside a host's sandboxed iframe of the same size
(the AppBridge host of support.apps_host, with a fixed height the app fills); a pond with an
island (a GeoJSON Polygon with a hole) and three kiosks (a MultiPoint) are one feature each; every drawn
feature's element sits in the same box, has the same path and style, every symbol badge the
same size, colour and font, and every label the same text in the same box and font. The app
once drew its own way (24 px badges, circle markers of radius 7 filled at 0.8, labels placed
differently): this names those facts too. Screenshots of both are kept as
app-like-page-page.png and app-like-page-app.png in $TEST_ARTIFACTS_DIR."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import trio
from mcp import Client
from support import require, start_server
from support.apps_host import app_draw, host_bundle, host_page, serve_page
from support.chromium import HAVE_CHROMIUM, TILES, Chromium, artifact, in_chromium, new_context

from mapsrv.server import Server

pytestmark = pytest.mark.browser

SIZE = {"width": 1200, "height": 560}  # the view page's tab, and the host's iframe
# The explicit view: the same area in both, whatever the panels; every feature and label left of
# the page's panel (a label never goes under a panel, so one there would move in the page only).
CENTER, ZOOM = [38.7135, -9.1395], 14
CALL = {
    "items": [
        {"at": [38.7169, -9.1399], "symbol": "H", "color": "#0f766e", "label": "Hotel", "id": "hotel"},
        {"at": [38.7080, -9.1290], "color": "#7c3aed", "label": "Cafe", "id": "cafe"},
        {
            "type": "route",
            "points": [[38.7223, -9.1393], [38.7139, -9.1334], [38.7060, -9.1560]],
            "color": "crimson",
            "label": "Walk",
            "id": "walk",
        },
        {
            "type": "polygon",
            "points": [[38.7150, -9.1680], [38.7210, -9.1560], [38.7120, -9.1540]],
            "color": "#ea580c",
            "label": "Park",
            "id": "park",
        },
        {
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [-9.1500, 38.7190],
                        [-9.1440, 38.7190],
                        [-9.1440, 38.7230],
                        [-9.1500, 38.7230],
                        [-9.1500, 38.7190],
                    ],
                    [[-9.1492, 38.7194], [-9.1472, 38.7194], [-9.1472, 38.7204], [-9.1492, 38.7194]],
                ],
            },
            "fill_color": "#0284c7",
            "label": "Pond",
            "id": "pond",
        },
        {
            "geometry": {
                "type": "MultiPoint",
                "coordinates": [[-9.1420, 38.7100], [-9.1380, 38.7110], [-9.1350, 38.7090]],
            },
            "color": "#be185d",
            "label": "Kiosks",
            "id": "kiosks",
        },
    ],
    "title": "Lisbon",
    "fit": False,
}
DRAWN = {
    "hotel": "marker",
    "cafe": "marker",
    "walk": "polyline",
    "walk.1": "marker",
    "walk.2": "marker",
    "walk.3": "marker",
    "park": "polygon",
    "pond": "polygon",
    "kiosks": "multipoint",
    "kiosks#2": "multipoint",
    "kiosks#3": "multipoint",
}
LABELS = {"Hotel", "Cafe", "Walk", "Park", "Pond", "Kiosks"}
SYMBOL_PX = 26  # render.js SYMBOL_SIZE and .mapsrv-symbol in render.css (the old app: 24)
CIRCLE_RADIUS = 8  # a coloured marker without a symbol (the old app: 7)
CIRCLE_FILL_OPACITY = "0.7"  # (the old app: 0.8)
PATH_ATTRIBUTES = ["d", "fill", "fill-opacity", "stroke", "stroke-width", "stroke-opacity"]
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")

# Everything drawn for a feature, relative to the map's container (#map), in the page or the app.
COLLECT = """(attributes) => {
  const map = document.getElementById('map').getBoundingClientRect();
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return [r.left - map.left, r.top - map.top, r.width, r.height];
  };
  const features = {};
  const seen = {}; // a feature of several parts: its first element, then id#2, id#3...
  for (const el of document.querySelectorAll('[data-feature-id]')) {
    const id = el.dataset.featureId;
    seen[id] = (seen[id] || 0) + 1;
    const drawn = { type: el.dataset.featureType, tag: el.tagName.toLowerCase(), box: box(el) };
    if (drawn.tag === 'path') for (const name of attributes) drawn[name] = el.getAttribute(name);
    const badge = el.querySelector('.mapsrv-symbol');
    if (badge) {
      const style = getComputedStyle(badge);
      drawn.symbol = { text: badge.textContent, box: box(badge), background: style.backgroundColor,
                       font: style.font };
    }
    features[seen[id] > 1 ? id + '#' + seen[id] : id] = drawn;
  }
  const labels = Array.from(document.querySelectorAll('.mapsrv-placed:not(.mapsrv-label-hover)'),
    (el) => ({ text: el.textContent, box: box(el), font: getComputedStyle(el).font }));
  return { size: [map.width, map.height], features: features, labels: labels };
}"""
DRAWN_AT = "(v) => Number(document.body.dataset.drawnVersion) >= v"


def close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= 1 for x, y in zip(a, b, strict=True))


def same_path(a: str, b: str) -> bool:
    """Two SVG path data alike: the same commands, every number within 1 px."""
    numbers = [float(n) for n in NUMBER.findall(a)], [float(n) for n in NUMBER.findall(b)]
    return NUMBER.sub("#", a) == NUMBER.sub("#", b) and close(*numbers)


def circle_radius(d: str) -> float:
    """The radius of Leaflet's circle path: ``M x,y a r,r 0 1,0 2r,0 a r,r 0 1,0 -2r,0``."""
    found = re.search(r"a(\d+(?:\.\d+)?),(\d+(?:\.\d+)?) ", d)
    assert found and found[1] == found[2], d
    return float(found[1])


def differences(page: dict[str, Any], app: dict[str, Any]) -> list[str]:
    """Where the app's drawing differs from the page's (positions within 1 px)."""
    found = []
    if not close(page["size"], app["size"]):
        found.append(f"map size: page {page['size']}, app {app['size']}")
    for fid in sorted(page["features"].keys() | app["features"].keys()):
        mine, theirs = page["features"].get(fid), app["features"].get(fid)
        if mine is None or theirs is None:
            found.append(f"{fid}: drawn only by the {'app' if mine is None else 'page'}")
            continue
        for key in sorted(mine.keys() | theirs.keys()):
            a, b = mine.get(key), theirs.get(key)
            if key == "box":
                alike = close(a, b)
            elif key == "d":
                alike = a is not None and b is not None and same_path(a, b)
            elif key == "symbol":
                alike = (
                    a is not None
                    and b is not None
                    and close(a["box"], b["box"])
                    and (a["text"], a["background"], a["font"]) == (b["text"], b["background"], b["font"])
                )
            else:
                alike = a == b
            if not alike:
                found.append(f"{fid}.{key}: page {a!r}, app {b!r}")
    labels = {label["text"]: label for label in page["labels"]}
    shown = {label["text"]: label for label in app["labels"]}
    if len(labels) != len(page["labels"]) or len(shown) != len(app["labels"]):
        found.append(f"a label shown twice: page {page['labels']}, app {app['labels']}")
    for text in sorted(labels.keys() | shown.keys()):
        a, b = labels.get(text), shown.get(text)
        if a is None or b is None or not close(a["box"], b["box"]) or a["font"] != b["font"]:
            found.append(f"label {text!r}: page {a}, app {b}")
    return found


async def test_the_app_draws_a_map_exactly_as_its_page_does(nursery: trio.Nursery, tmp_path: Path) -> None:
    require(HAVE_CHROMIUM, "chromium")
    host_bundle()
    server: Server = await start_server(nursery, tile_url=TILES)
    async with Client(server.url + "mcp") as client:
        app = await app_draw(client, CALL)
        content_text, ui, result, map_id = app.html, app.ui, app.result, app.map_id
        view_url = result["_meta"]["mapsrv/view"]
        assert view_url.startswith(server.url.rstrip("/") + "/v/")
        moved = await client.call_tool(
            "set_view", {"map_id": map_id, "at": CENTER, "zoom": ZOOM, "animate": False}
        )
        assert not moved.is_error, moved.content
        version = moved.structured_content["version"]
    page = host_page(
        "fixed", content_text, ui, call=CALL, result=result, width=SIZE["width"], height=SIZE["height"]
    )
    host = await nursery.start(serve_page, [page])

    def body(chromium: Chromium) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        context = new_context(chromium, server, viewport=SIZE)
        problems: list[str] = []
        tab = context.new_page()
        tab.on("pageerror", lambda e: problems.append(f"page: {e}"))
        tab.goto(view_url)
        tab.wait_for_function(DRAWN_AT, arg=version)
        page = tab.evaluate(COLLECT, PATH_ATTRIBUTES)
        tab.screenshot(path=str(artifact("app-like-page-page.png", tmp_path)), animations="disabled")
        problems += [f"page csp: {v}" for v in tab.evaluate("window.__csp")]

        hosting = context.new_page()
        hosting.on("pageerror", lambda e: problems.append(f"app: {e}"))
        hosting.goto(host)
        (frame,) = hosting.main_frame.child_frames  # the app, in the host's iframe
        frame.wait_for_function(DRAWN_AT, arg=version)
        # tiles never come: both lie on the offline world map (Natural Earth, from mapsrv's origin)
        for drawn in (tab.main_frame, frame):
            drawn.wait_for_function("() => (document.body.dataset.basemap || '').startsWith('offline-')")
        app = frame.evaluate(COLLECT, PATH_ATTRIBUTES)
        hosting.screenshot(path=str(artifact("app-like-page-app.png", tmp_path)), animations="disabled")
        blocked = frame.evaluate("window.__csp") + hosting.evaluate("window.__csp")
        problems += [f"app csp: {v}" for v in blocked]
        return page, app, problems

    page, app, problems = await in_chromium(body)
    assert problems == []
    assert page["size"] == [SIZE["width"], SIZE["height"]]
    assert {fid: f["type"] for fid, f in page["features"].items()} == DRAWN
    assert {label["text"] for label in page["labels"]} == LABELS
    # the facts the old app drew otherwise, named: the badge, the circle marker's radius and fill
    for drawing in (page, app):
        badge = drawing["features"]["hotel"]["symbol"]
        assert badge["box"][2:] == [SYMBOL_PX, SYMBOL_PX], badge
        assert badge["background"] == "rgb(15, 118, 110)", badge
        cafe = drawing["features"]["cafe"]
        assert cafe["tag"] == "path"
        assert circle_radius(cafe["d"]) == CIRCLE_RADIUS, cafe["d"]
        assert cafe["fill-opacity"] == CIRCLE_FILL_OPACITY, cafe
    unlike = differences(page, app)
    assert not unlike, "the app drew otherwise than the page:\n" + "\n".join(unlike)
