"""The page draws mapsrv's street basemap (issue 79) from the server's vector tiles (a region
imported from support/street_extract.py's Helsinki, as ``mapsrv places import`` builds it): roads
with their casings, buildings, water, the park, the main road's name along it (labels that never
overlap, none cut at a tile's edge), and past the tiles' max zoom the max-zoom tile drawn larger,
names still on it. It comes on by itself when the tile server is down, and is on from the start
without one (over the offline world map), at the screen's pixels (2x). No tile is asked for
outside the basemap's bounds, below its min zoom or past its max zoom. Screenshots:
streets-page.png (z16), streets-overzoom.png (z18)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import trio
from PIL import Image
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context
from support.street_extract import DRAWN_STREETS as DRAWN
from support.street_extract import StreetFacts, street_region

from mapsrv.image.street_style import STYLE_FILE

pytestmark = pytest.mark.browser
STYLE = json.loads(STYLE_FILE.read_text(encoding="utf-8"))
TILE = re.compile(r"/basemap/helsinki/(\d+)/(\d+)/(\d+)\.mvt$")


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StreetFacts]:
    """A places directory holding Helsinki's basemap, and what is in it."""
    return street_region(tmp_path_factory.mktemp("streets"))


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def near(colour: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 10) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=False))


def tile_box(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """A tile's (west, south, east, north) in degrees."""
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


SETTLED = """(zoom) => {
  const map = window.mapsrv.map;
  let layers = 0, loading = false;
  map.eachLayer((l) => { if (l.streetName) { layers += 1; loading = loading || l.isLoading(); } });
  const drawn = document.querySelectorAll('.mapsrv-street-tile[data-labels]').length;
  return layers > 0 && !loading && map.getZoom() === zoom && drawn > 0;
}"""


ROADS = STYLE["roads"]
COLOURS = [
    rgb(ROADS["major_road"]["fill"]),
    rgb(ROADS["major_road"]["casing"]),
    rgb(ROADS["minor_road"]["casing"]),
    rgb(STYLE["buildings"]["fill"]),
    rgb(STYLE["water"]["fill"]),
    rgb(STYLE["landuse"]["park"]),
]
VIEW = 1200, 800
ALL_LABELS = (
    "[...document.querySelectorAll('.mapsrv-street-tile')].flatMap((c) => JSON.parse(c.dataset.labels))"
)


def overlapping(boxes: list[list[float]]) -> list[tuple[int, int]]:
    return [
        (i, j)
        for i, a in enumerate(boxes)
        for j, b in enumerate(boxes[i + 1 :], i + 1)
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    ]


def road_pixels(tab: Tab, shot: Path, facts: StreetFacts, boxes: list[list[float]]) -> list[tuple[int, ...]]:
    """The screenshot's colours on the main road, where it is on screen and clear of labels."""
    along = [[60.1625 + i * 0.0004, facts.main_lon] for i in range(30)]
    points = tab.page.evaluate(
        "(ps) => ps.map((p) => window.mapsrv.map.latLngToContainerPoint(p)).map((c) => [c.x, c.y])", along
    )
    image = Image.open(shot).convert("RGB")
    out = []
    for x, y in points:
        clear = not any(b[0] - 2 <= x <= b[2] + 2 and b[1] - 2 <= y <= b[3] + 2 for b in boxes)
        if clear and 300 < x < VIEW[0] - 400 and 100 < y < VIEW[1] - 60:  # clear of the panels
            out.append(image.getpixel((round(x), round(y))))
    return out


async def test_the_page_draws_the_streets_when_the_tile_server_is_down(
    nursery: trio.Nursery, region: tuple[Path, StreetFacts]
) -> None:
    places, facts = region
    server = await start_server(nursery, tile_url=TILES, places_dir=str(places))  # auto: tiles first
    shot = artifact("streets-page.png", Path("/tmp"))
    deep = artifact("streets-overzoom.png", Path("/tmp"))
    middle = [60.1668, facts.main_lon + 0.002]

    def body(chromium: Chromium) -> dict[str, Any]:
        context = new_context(chromium, server, viewport={"width": VIEW[0], "height": VIEW[1]})
        tab = Tab.open(context)
        asked: list[tuple[int, ...]] = []
        tab.page.on(
            "request", lambda r: asked.extend(tuple(map(int, m.groups())) for m in TILE.finditer(r.url))
        )
        out: dict[str, Any] = {"control": tab.page.locator(".leaflet-control-layers").text_content()}
        out["told"] = json.loads(tab.page.evaluate("document.body.dataset.basemaps"))
        far = {
            "op": "add_feature",
            "id": "far",
            "type": "marker",
            "coords": [38.7, -9.1],
        }  # the help card goes
        tab.ops(far, {"op": "set_view", "center": middle, "zoom": 16, "animate": False})
        tab.page.locator("#help").wait_for(state="hidden")
        tab.page.wait_for_function(SETTLED, arg=16)
        out["streets"] = tab.page.evaluate("document.body.dataset.streets")
        out["banner"] = tab.page.locator("#tiles-banner").text_content()
        out["z16"] = tab.page.evaluate(DRAWN, COLOURS)
        tab.page.screenshot(path=str(shot))
        out["road16"] = road_pixels(tab, shot, facts, out["z16"]["boxes"])
        deeper = "(p) => { window.mapsrv.map.setView(p, 18, { animate: false }); }"
        tab.page.evaluate(deeper, [60.1652, facts.main_lon])
        tab.page.wait_for_function(SETTLED, arg=18)
        out["z18"] = tab.page.evaluate(DRAWN, COLOURS)
        tab.page.screenshot(path=str(deep))
        out["road18"] = road_pixels(tab, deep, facts, out["z18"]["boxes"])
        out["asked"] = list(asked)
        tab.check_clean()
        return out

    out = await in_chromium(body)
    [told] = out["told"]
    assert told["title"] in out["control"]
    assert out["streets"] == "helsinki"
    assert "drawn on the street map of helsinki and the offline world map" in out["banner"], out["banner"]
    fill, casing, minor, building, water, park = out["z16"]["counts"]
    assert fill > 500 and casing > 50 and minor > 50, out["z16"]["counts"]
    assert building > 500 and water > 500 and park > 500, out["z16"]["counts"]
    assert facts.main in out["z16"]["labels"], out["z16"]["labels"]
    assert "outside" not in out["z16"], out["z16"]["outside"]
    assert overlapping(out["z16"]["boxes"]) == [], out["z16"]
    white = rgb(ROADS["major_road"]["fill"])
    assert out["road16"] and all(near(p, white) for p in out["road16"]), out["road16"]
    # overzoomed: the z16 tiles drawn four times larger, the road (14 px wide there) on them still
    assert out["z18"]["counts"][0] > 2000 and out["z18"]["counts"][1] > 100, out["z18"]["counts"]
    assert out["road18"] and all(near(p, white) for p in out["road18"]), out["road18"]
    assert facts.main in out["z18"]["labels"], "past the max zoom each tile weighs its own piece of a segment"
    assert overlapping(out["z18"]["boxes"]) == [], out["z18"]
    west, south, east, north = told["bounds"]
    assert out["asked"], "no street tile was asked for"
    for z, x, y in out["asked"]:
        assert told["minzoom"] <= z <= told["maxzoom"], (z, x, y)
        w, s, e, n = tile_box(z, x, y)
        assert w <= east and e >= west and s <= north and n >= south, f"{z}/{x}/{y} is outside the bounds"
    print("draw ms (z16 tiles):", out["z16"]["ms"], "(z18):", out["z18"]["ms"])


async def test_without_a_tile_server_the_streets_are_on_from_the_start(
    nursery: trio.Nursery, region: tuple[Path, StreetFacts]
) -> None:
    places, facts = region
    server = await start_server(nursery, places_dir=str(places), basemap="extract")

    def body(chromium: Chromium) -> tuple[str, str, str, list[str]]:
        retina = new_context(chromium, server, viewport={"width": 800, "height": 600}, device_scale_factor=2)
        tab = Tab.open(retina)
        tab.ops({"op": "set_view", "center": [60.1668, facts.main_lon], "zoom": 15, "animate": False})
        tab.page.wait_for_function(SETTLED, arg=15)
        tab.page.wait_for_function("() => (document.body.dataset.basemap || '').startsWith('offline')")
        tiles = tab.page.evaluate("document.body.dataset.tileUrl")
        streets = tab.page.evaluate("document.body.dataset.streets")
        basemap = tab.page.evaluate("document.body.dataset.basemap")
        labels = tab.page.evaluate(ALL_LABELS)
        sizes = tab.page.evaluate("[...document.querySelectorAll('.mapsrv-street-tile')].map((c) => c.width)")
        assert set(sizes) == {512}, f"drawn at the screen's pixels: {sizes}"
        tab.check_clean()
        return tiles, streets, basemap, labels

    tiles, streets, basemap, labels = await in_chromium(body)
    assert tiles == ""
    assert streets == "helsinki"
    assert basemap.startswith("offline"), "the offline world map stays on under the streets"
    assert facts.main in labels
