"""The page draws mapsrv's street basemap (issue 79) from vector tiles in Protomaps' schema: roads
with their casings, buildings, water, a park, the road's name along it (labels that never overlap,
none cut at a tile's edge), and past the tiles' max zoom the max-zoom tile drawn larger. It comes
on by itself when the tile server is down, and is on from the start without one. No tile is asked
for outside the basemap's bounds, below its min zoom or past its max zoom. Screenshots:
streets-page.png (z16), streets-overzoom.png (z18).

Stopgap until the server's /basemap/ routes are in: the tiles and the style are answered by the
browser context (``serve_basemap``) as the server will answer them, and the page's body is given
``data-basemaps`` on its way in."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
import trio
from PIL import Image
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context
from support.street_scene import CENTRE, MAJOR, MAJOR_AT, MAXZOOM, MINZOOM, NAME, describe, tile_bytes

import mapsrv.image

pytestmark = pytest.mark.browser
STYLE = json.loads((Path(mapsrv.image.__file__).parent / "street_style.json").read_text(encoding="utf-8"))
TILE = re.compile(r"/basemap/([\w-]+)/(\d+)/(\d+)/(\d+)\.mvt$")


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def near(colour: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 10) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=False))


def serve_basemap(context: Any, tile_url: str | None = None) -> list[tuple[int, int, int]]:
    """Answer /basemap/ as the server will, and hand the page its data-basemaps (and, given
    ``tile_url``, that tile URL instead of the server's). Answers the tiles asked for, as asked.
    Open the page at its own address (``new_map_tab``): the request a redirect makes is not routed."""
    asked: list[tuple[int, int, int]] = []
    attributes = f'data-basemaps="{html.escape(json.dumps([describe()]))}" '

    def page(route: Any) -> None:
        if route.request.resource_type != "document":
            route.fallback()
            return
        response = route.fetch(max_redirects=0)
        body = response.text().replace("<body ", "<body " + attributes, 1)
        if tile_url is not None:
            body = re.sub(r'data-tile-url="[^"]*"', f'data-tile-url="{tile_url}"', body)
        route.fulfill(response=response, body=body)

    def basemap(route: Any) -> None:
        path = route.request.url.split("?")[0]
        if path.endswith("/basemap/style.json"):
            route.fulfill(status=200, content_type="application/json", body=json.dumps(STYLE))
            return
        found = TILE.search(path)
        assert found and found[1] == NAME, path
        z, x, y = (int(v) for v in found.groups()[1:])
        asked.append((z, x, y))
        data = tile_bytes(z, x, y)
        if data is None:
            route.fulfill(status=204)
        else:
            route.fulfill(status=200, content_type="application/vnd.mapbox-vector-tile", body=data)

    context.route(re.compile(r"/[mev]/[^/?]+$"), page)
    context.route(re.compile(r"/basemap/"), basemap)
    return asked


def new_map_tab(context: Any) -> Tab:
    made = context.request.get("/", max_redirects=0)  # the context's cookie: this browser owns it
    assert made.status == 303, made.status
    return Tab.open(context, made.headers["location"])


SETTLED = """(zoom) => {
  const map = window.mapsrv.map;
  let layers = 0, loading = false;
  map.eachLayer((l) => { if (l.streetName) { layers += 1; loading = loading || l.isLoading(); } });
  const drawn = document.querySelectorAll('.mapsrv-street-tile[data-labels]').length;
  return layers > 0 && !loading && map.getZoom() === zoom && drawn > 0;
}"""

# What the street tiles at the map's zoom drew: pixels near each of the given colours, and their
# labels with their boxes in page pixels.
DRAWN = """(colours) => {
  const out = { counts: colours.map(() => 0), labels: [], boxes: [] };
  for (const canvas of document.querySelectorAll('.mapsrv-street-tile[data-labels]')) {
    const rect = canvas.getBoundingClientRect();
    if (Math.abs(rect.width - 256) > 1) continue; // another zoom's, scaled
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      colours.forEach((c, k) => {
        const d = Math.max(...c.map((v, j) => Math.abs(data[i + j] - v)));
        if (d <= 6) out.counts[k] += 1;
      });
    }
    const boxes = JSON.parse(canvas.dataset.labelBoxes);
    JSON.parse(canvas.dataset.labels).forEach((text, i) => {
      const b = boxes[i];
      out.labels.push(text);
      out.boxes.push([rect.left + b[0], rect.top + b[1], rect.left + b[2], rect.top + b[3]]);
      if (b[0] < 0 || b[1] < 0 || b[2] > 256 || b[3] > 256) out.outside = text;
    });
  }
  return out;
}"""

TILES_ON = "[...document.querySelectorAll('.mapsrv-street-tile')]"
ALL_LABELS = TILES_ON + ".flatMap((c) => JSON.parse(c.dataset.labels || '[]'))"
MAJOR_STYLE = STYLE["roads"]["major_road"]
COLOURS = [rgb(MAJOR_STYLE["fill"]), rgb(MAJOR_STYLE["casing"]), rgb(STYLE["buildings"]["fill"]),
           rgb(STYLE["water"]["fill"]), rgb(STYLE["landuse"]["park"])]  # fmt: skip


def overlapping(boxes: list[list[float]]) -> list[tuple[int, int]]:
    return [
        (i, j)
        for i, a in enumerate(boxes)
        for j, b in enumerate(boxes[i + 1 :], i + 1)
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    ]


def road_pixel(tab: Tab, shot: Path) -> tuple[int, ...]:
    """The screenshot's colour on MAJOR, 150 m east of the scene's centre (clear of its label)."""
    point = tab.page.evaluate("(p) => window.mapsrv.map.latLngToContainerPoint(p)", MAJOR_AT)
    colour: tuple[int, ...] = Image.open(shot).convert("RGB").getpixel((round(point["x"]), round(point["y"])))
    return colour


async def test_the_page_draws_the_streets_when_the_tile_server_is_down(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, tile_url=TILES)  # nothing answers there
    shot = artifact("streets-page.png", Path("/tmp"))
    deep = artifact("streets-overzoom.png", Path("/tmp"))

    def body(chromium: Chromium) -> dict[str, Any]:
        context = new_context(chromium, server, viewport={"width": 1200, "height": 800})
        asked = serve_basemap(context)
        tab = new_map_tab(context)
        out: dict[str, Any] = {"control": tab.page.locator(".leaflet-control-layers").text_content()}
        far = {
            "op": "add_feature",
            "id": "far",
            "type": "marker",
            "coords": [38.7, -9.1],
        }  # the help card goes
        tab.ops(far, {"op": "set_view", "center": CENTRE, "zoom": 16, "animate": False})
        tab.page.locator("#help").wait_for(state="hidden")
        tab.page.wait_for_function(SETTLED, arg=16)
        out["streets"] = tab.page.evaluate("document.body.dataset.streets")
        out["z16"] = tab.page.evaluate(DRAWN, COLOURS)
        out["draw_ms"] = tab.page.evaluate(
            TILES_ON + ".filter((c) => c.dataset.drawMs).map((c) => +c.dataset.drawMs)"
        )
        tab.page.screenshot(path=str(shot))
        out["road16"] = road_pixel(tab, shot)
        tab.page.evaluate("(p) => { window.mapsrv.map.setView(p, 18, { animate: false }); }", MAJOR_AT)
        tab.page.wait_for_function(SETTLED, arg=18)
        out["z18"] = tab.page.evaluate(DRAWN, COLOURS)
        tab.page.screenshot(path=str(deep))
        out["road18"] = road_pixel(tab, deep)
        out["asked"] = list(asked)
        tab.check_clean()
        return out

    out = await in_chromium(body)
    assert "Streets of Kamppi" in out["control"]
    assert out["streets"] == NAME
    fill, casing, building, water, park = out["z16"]["counts"]
    assert fill > 500 and casing > 80, out["z16"]["counts"]
    assert building > 500 and water > 500 and park > 500, out["z16"]["counts"]
    assert MAJOR in out["z16"]["labels"], out["z16"]["labels"]
    assert "outside" not in out["z16"], out["z16"]["outside"]
    assert overlapping(out["z16"]["boxes"]) == [], out["z16"]
    assert near(out["road16"], rgb(MAJOR_STYLE["fill"])), out["road16"]
    # overzoomed: the z16 tiles drawn four times larger, the road (14 px wide there) still on them
    assert out["z18"]["counts"][0] > 2000 and out["z18"]["counts"][1] > 200, out["z18"]["counts"]
    assert near(out["road18"], rgb(MAJOR_STYLE["fill"])), out["road18"]
    assert out["asked"] and all(MINZOOM <= z <= MAXZOOM for z, _, _ in out["asked"]), out["asked"]
    assert all(tile_bytes(*t) is not None for t in out["asked"]), "a tile outside the bounds was asked for"
    print("draw ms (z16 tiles):", out["draw_ms"])


async def test_without_a_tile_server_the_streets_are_on_from_the_start(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, tile_url=TILES)

    def body(chromium: Chromium) -> tuple[str, str, list[str]]:
        context = new_context(chromium, server, viewport={"width": 800, "height": 600})
        serve_basemap(context, tile_url="")  # stopgap: the server cannot be configured without tiles yet
        tab = new_map_tab(context)
        tab.ops({"op": "set_view", "center": CENTRE, "zoom": 15, "animate": False})
        tab.page.wait_for_function(SETTLED, arg=15)
        tab.page.wait_for_function("() => (document.body.dataset.basemap || '').startsWith('offline')")
        streets = tab.page.evaluate("document.body.dataset.streets")
        basemap = tab.page.evaluate("document.body.dataset.basemap")
        labels = tab.page.evaluate(ALL_LABELS)
        tab.check_clean()
        return streets, basemap, labels

    streets, basemap, labels = await in_chromium(body)
    assert streets == NAME
    assert basemap.startswith("offline")
    assert MAJOR in labels
