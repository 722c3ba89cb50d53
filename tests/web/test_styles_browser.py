"""Styles by value (issue 45) drawn by the page in a real Chromium: a graduated layer's classes
counted in the page's pixels and named in the legend, a feature added after styling drawn in its
class, a categorical layer restyled with a filter by one `layer_style` event, proportional circles
sized by their values, a heatmap's canvas, the time slider hiding and showing features from the
keyboard, and hostile text in labels and the legend shown as text. The features of a time window,
at its ends however their times are written, are the same on the page (in a browser behind UTC),
in map_image and in style_layer's counts.

The map's stream is the test's (Playwright answers the page's /events with the snapshot and changes
the test queues, one response per connection), so the page is tested against the wire contract
(docs/protocol.md, /tmp/style_spec.md) whatever the server does. Screenshots: styles-*.png in
$TEST_ARTIFACTS_DIR (else the test's tmp dir)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
import trio
from mcp import Client
from PIL import Image
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context

from mapsrv.core.numbers import reference_values
from mapsrv.image.basemap import SEA
from mapsrv.image.projection import fit
from mapsrv.image.styling import FILL_OPACITY
from mapsrv.server import Server

pytestmark = pytest.mark.browser
VIEWPORT = {"width": 1100, "height": 750}
HOSTILE = '<img src=x onerror="window.__pwned=1">Regions & "co"'
HOSTILE_NAME = "<b>bold</b><script>window.__pwned=2</script>"

RED, GREEN, BLUE = "#ff0000", "#00ff00", "#0000ff"


@pytest.fixture
async def live(nursery: trio.Nursery) -> Server:
    return await start_server(nursery, tile_url=TILES, sse_retry=0.2)


class Stream:
    """The page's event stream, as the test writes it: each connection gets the next queued body
    (then the stream ends and the page reconnects 30 ms later, resuming from the last id)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.version = 0

    def snapshot(self, features: list[dict[str, Any]], layers: list[dict[str, Any]]) -> int:
        self.version += 1
        state = {"version": self.version, "title": "Styles", "features": features, "layers": layers,
                 "activity": []}  # fmt: skip
        self.bodies.append(self._event("snapshot", state))
        return self.version

    def change(self, **change: Any) -> int:
        self.version += 1
        self.bodies.append(self._event("change", dict(change, version=self.version)))
        return self.version

    def _event(self, kind: str, payload: dict[str, Any]) -> str:
        return f"retry: 30\nid: {self.version}\nevent: {kind}\ndata: {json.dumps(payload)}\n\n"

    def handle(self, route: Any) -> None:
        body = self.bodies.pop(0) if self.bodies else "retry: 30\n: nothing new\n\n"
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)


def open_map(chromium: Chromium, live: Server, stream: Stream) -> Tab:
    context = new_context(chromium, live, viewport=VIEWPORT)
    map_id = context.request.get("/").url.rstrip("/").rsplit("/", 1)[1]
    context.route("**/events", stream.handle)
    return Tab.open(context, f"/m/{map_id}")


def wait_drawn(tab: Tab, version: int) -> None:
    tab.page.wait_for_function(
        "(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version, polling=30
    )
    # the points' canvas and the heat layer draw on the next frame
    tab.page.evaluate(
        "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())))"
    )


def shot(tab: Tab, name: str, tmp_path: Path) -> Image.Image:
    path = artifact(name, tmp_path)
    tab.page.screenshot(path=str(path), animations="disabled")
    return Image.open(path).convert("RGB")


def dominant(image: Image.Image) -> dict[str, int]:
    """Pixels clearly red, green or blue (a class colour, blended or not with what is under it)."""
    counts = {"red": 0, "green": 0, "blue": 0}
    for r, g, b in image.get_flattened_data():
        if r > 200 and g < 120 and b < 120:
            counts["red"] += 1
        elif g > 200 and r < 120 and b < 130:
            counts["green"] += 1
        elif b > 200 and r < 120 and g < 120:
            counts["blue"] += 1
    return counts


def square(fid: str, lat: float, lng: float, props: dict[str, Any], layer: str = "regions") -> dict[str, Any]:
    d = 1.5
    coords = [[lat - d, lng - d], [lat - d, lng + d], [lat + d, lng + d], [lat + d, lng - d]]
    return {"id": fid, "type": "polygon", "coords": coords, "layer": layer, "properties": props}


def point(fid: str, lat: float, lng: float, props: dict[str, Any], layer: str) -> dict[str, Any]:
    return {"id": fid, "type": "marker", "coords": [lat, lng], "layer": layer, "properties": props}


GRADUATED = {"kind": "graduated", "by": "pop", "method": "equal", "breaks": [0, 1200, 4500, 13000],
             "colors": [RED, GREEN, BLUE], "ramp": "custom", "other": "#999999",
             "label": "{name} ({pop})"}  # fmt: skip


async def test_graduated_classes_legend_new_feature_and_hostile_text(live: Server, tmp_path: Path) -> None:
    def body(chromium: Chromium) -> None:
        stream = Stream()
        features = [
            square("a", 45, 0, {"name": HOSTILE_NAME, "pop": 500}),
            square(
                "b", 45, 3.5, {"name": "Beta", "pop": 3000}
            ),  # near: the long label covers Beta's at any zoom
            square("c", 45, 10, {"name": "Gamma", "pop": 9000}),
            square("d", 40, 0, {"name": "Delta", "pop": 700}),
        ]
        version = stream.snapshot(features, [{"id": "regions", "name": HOSTILE, "visible": True,
                                              "style": GRADUATED}])  # fmt: skip
        tab = open_map(chromium, live, stream)
        page = tab.page
        wait_drawn(tab, version)
        counts = dominant(shot(tab, "styles-graduated.png", tmp_path))
        # two red squares, one green, one blue: each class's colour is on the page, red the most
        assert counts["red"] > 1.5 * counts["green"] > 0, counts
        assert counts["blue"] > 0, counts
        assert abs(counts["green"] - counts["blue"]) < 0.25 * counts["green"], counts

        # The legend: the layer's name and property as text, each class's range and colour.
        legend = page.locator(".mapsrv-legend")
        assert legend.is_visible()
        section = legend.locator(".mapsrv-legend-layer")
        assert section.locator(".mapsrv-legend-name").inner_text() == HOSTILE
        assert section.locator(".mapsrv-legend-by").inner_text() == "pop"
        rows = section.locator(".mapsrv-legend-row .mapsrv-legend-value").all_inner_texts()
        assert rows == ["0 – 1,200", "1,200 – 4,500", "4,500 – 13,000"]
        swatches = page.eval_on_selector_all(
            ".mapsrv-legend-swatch", "(els) => els.map((e) => getComputedStyle(e).backgroundColor)"
        )
        assert swatches == ["rgb(255, 0, 0)", "rgb(0, 255, 0)", "rgb(0, 0, 255)"]
        # bottom right, above the attribution
        box = legend.bounding_box()
        attribution = page.locator(".leaflet-control-attribution").bounding_box()
        assert box and attribution and box["y"] + box["height"] <= attribution["y"] + 1
        assert box["x"] + box["width"] > VIEWPORT["width"] - 20

        # The label template, as text: the hostile name is shown, never parsed (its long label
        # would cover Beta's, which goes first by its larger value: it shows under the pointer).
        assert page.locator(".mapsrv-label-text", has_text="Beta").inner_text() == "Beta (3,000)"
        assert page.locator(".mapsrv-label-text", has_text="(500)").count() == 0
        page.mouse.move(*page.evaluate("() => { const p = window.mapsrv.map.latLngToContainerPoint([45, 0]);"
                                       " return [p.x, p.y + 20]; }"))  # fmt: skip
        hover = page.locator(".mapsrv-label-hover .mapsrv-label-text")
        assert hover.inner_text() == HOSTILE_NAME + " (500)"
        page.mouse.move(5, VIEWPORT["height"] - 5)
        assert page.evaluate("document.querySelectorAll('.leaflet-container b, .leaflet-container script,"
                             " .mapsrv-legend img').length") == 0  # fmt: skip
        assert page.evaluate("window.__pwned") is None

        # A region added after styling is drawn in its class's colour (blue: 4,500 - 13,000).
        version = stream.change(kind="upsert", features=[square("e", 40, 10, {"name": "Eps", "pop": 12000})])
        wait_drawn(tab, version)
        x, y = page.evaluate("() => { const p = window.mapsrv.map.latLngToContainerPoint([40, 10]);"
                             " return [Math.round(p.x), Math.round(p.y)]; }")  # fmt: skip
        image = shot(tab, "styles-graduated-added.png", tmp_path)
        r, g, b = image.getpixel((x, y + 30))  # below its label
        assert b > 200 and r < 120 and g < 120, (r, g, b)
        after = dominant(image)
        assert after["blue"] > 1.6 * counts["blue"], (counts, after)

        # Collapsible from the keyboard.
        toggle = page.locator(".mapsrv-legend-toggle")
        toggle.focus()
        page.keyboard.press("Enter")
        assert toggle.get_attribute("aria-expanded") == "false"
        assert not page.locator(".mapsrv-legend-body").is_visible()
        page.keyboard.press("Enter")
        assert page.locator(".mapsrv-legend-body").is_visible()

        # Removing the style: the layer's own colours again, and no legend.
        version = stream.change(kind="layer_style", layer="regions", style=None)
        wait_drawn(tab, version)
        assert not legend.is_visible()
        assert dominant(shot(tab, "styles-unstyled.png", tmp_path))["red"] == 0
        tab.check_clean()

    await in_chromium(body)


def cafes_and_bars(n: int) -> list[dict[str, Any]]:
    """n points on a grid, cafes and bars alternating, in the layer "places"."""
    side = int(n**0.5) + 1
    return [
        point(
            f"p{i}",
            42 + (i // side) * 0.15,
            2 + (i % side) * 0.2,
            {"type": "cafe" if i % 2 else "bar", "name": f"P{i}"},
            "places",
        )
        for i in range(n)
    ]


CATEGORICAL = {"kind": "categorical", "by": "type", "categories": {"cafe": RED, "bar": BLUE}, "other": GREEN}


async def test_categorical_big_layer_restyled_with_a_filter(live: Server, tmp_path: Path) -> None:
    def body(chromium: Chromium) -> None:
        stream = Stream()
        pub = point("pub", 41.5, 2, {"type": "pub", "name": "Pub"}, "places")  # an "other"
        version = stream.snapshot(
            [*cafes_and_bars(600), pub], [{"id": "places", "name": "Places", "style": CATEGORICAL}]
        )
        tab = open_map(chromium, live, stream)
        page = tab.page
        wait_drawn(tab, version)
        assert page.evaluate("window.mapsrv.big")
        counts = dominant(shot(tab, "styles-categorical.png", tmp_path))
        assert counts["red"] > 1000 and counts["blue"] > 1000, counts
        assert len(page.evaluate("window.mapsrv.drawnPoints()")) == 601
        rows = page.locator(".mapsrv-legend-row .mapsrv-legend-value").all_inner_texts()
        assert rows == ["cafe", "bar", "Other"]
        assert page.locator(".mapsrv-legend-count").all_inner_texts() == ["300", "300", "1"], "per category"

        filtered = dict(CATEGORICAL, filter={"property": "type", "op": "==", "value": "cafe"})
        version = stream.change(kind="layer_style", layer="places", style=filtered)
        wait_drawn(tab, version)
        xs, ys = zip(*((d[0], d[1]) for d in page.evaluate("window.mapsrv.drawnPoints()")), strict=True)
        image = shot(tab, "styles-categorical-filtered.png", tmp_path)
        # where the points are (not the legend's swatches nor the panel's blue links)
        counts = dominant(
            image.crop((int(min(xs)) - 12, int(min(ys)) - 12, int(max(xs)) + 12, int(max(ys)) + 12))
        )
        assert counts["red"] > 1000 and counts["blue"] == 0, counts
        drawn = page.evaluate("window.mapsrv.drawnPoints()")
        assert len(drawn) == 300 and all(int(d[3][1:]) % 2 == 1 for d in drawn)
        assert page.locator(".mapsrv-legend-filter").inner_text() == "Only type == cafe"
        assert page.locator(".mapsrv-legend-count").all_inner_texts() == ["300", "0", "0"], "what shows"
        tab.check_clean()

    await in_chromium(body)


SIZED = [100, 2000, 10000]
# as the server stores it (mapsrv.core.layer_style): the legend's round values from the data
PROPORTIONAL = {"kind": "proportional", "by": "value", "min_size": 4, "max_size": 40, "max_value": 10000,
                "color": RED, "legend_values": reference_values(SIZED)}  # fmt: skip
HEATMAP = {"kind": "heatmap", "radius": 25, "weight": "w"}


async def test_proportional_sizes_and_a_heatmap(live: Server, tmp_path: Path) -> None:
    def body(chromium: Chromium) -> None:
        stream = Stream()
        sized = [
            point(f"s{i}", 48, 2 + 6 * i, {"value": v, "kind": "xyx"[i]}, "sized")
            for i, v in enumerate(SIZED)
        ]
        heat = [
            point(f"h{i}", 40 + (i % 7) * 0.3, 2 + (i // 7) * 0.4, {"w": i % 5}, "heat") for i in range(60)
        ]
        version = stream.snapshot(sized + heat, [
            {"id": "sized", "name": "Sized", "style": PROPORTIONAL},
            {"id": "heat", "name": "Heat", "style": HEATMAP},
        ])  # fmt: skip
        tab = open_map(chromium, live, stream)
        page = tab.page
        wait_drawn(tab, version)
        shot(tab, "styles-proportional-heatmap.png", tmp_path)
        # radius = min + (max - min) * sqrt(value / max_value), drawn with a 1.5 px white stroke
        widths = [page.locator(f'[data-feature-id="s{i}"]').bounding_box()["width"] for i in range(3)]  # type: ignore[index]
        for width, radius in zip(widths, [4 + 36 * 0.1, 4 + 36 * 0.2**0.5, 40], strict=True):
            assert abs(width - (2 * radius + 1.5)) < 2.5, widths
        # the heatmap's points are not drawn one by one: its canvas has colour
        assert page.locator('[data-feature-id^="h"]').count() == 0
        coloured = page.evaluate("""() => { const c = document.querySelector('canvas.mapsrv-heat');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n += 1; return n; }""")
        assert coloured > 2000
        sizes = page.locator(
            '.mapsrv-legend-layer[data-layer="sized"] .mapsrv-legend-value'
        ).all_inner_texts()
        assert sizes == ["10,000", "2,000", "200", "3 sized"], "round values, none below the data's"
        # each legend circle as big on screen as the map's circle of the same value (its white
        # stroke aside: the map strokes 1.5 px around the radius, the legend 1 px inside it)
        legend_circles = page.locator('.mapsrv-legend-layer[data-layer="sized"] .mapsrv-legend-circle')
        for index, feature in ((0, "s2"), (1, "s1")):
            on_map = page.locator(f'[data-feature-id="{feature}"]').bounding_box()
            in_legend = legend_circles.nth(index).bounding_box()
            assert on_map is not None and in_legend is not None
            assert abs(in_legend["width"] - (on_map["width"] - 1.5)) <= 1, (on_map, in_legend)
            assert abs(in_legend["height"] - (on_map["height"] - 1.5)) <= 1, (on_map, in_legend)
        heat_legend = page.locator('.mapsrv-legend-layer[data-layer="heat"]')
        assert heat_legend.locator(".mapsrv-legend-gradient").is_visible()
        assert heat_legend.locator(".mapsrv-legend-by").inner_text() == "w"
        assert heat_legend.locator(".mapsrv-legend-value").all_inner_texts() == [
            "low",
            "high",
            "density of 60 features, weighted by w",
        ]

        # A hidden layer leaves the legend.
        version = stream.change(
            kind="layer", layer={"id": "heat", "name": "Heat", "visible": False, "style": HEATMAP}
        )
        wait_drawn(tab, version)
        assert page.locator('.mapsrv-legend-layer[data-layer="heat"]').count() == 0
        assert page.locator('.mapsrv-legend-layer[data-layer="sized"]').count() == 1

        # Sized by value and coloured by kind, on one symbol (issue 76): each its kind's colour
        both = {**PROPORTIONAL, "color_by": "kind", "categories": {"x": GREEN, "y": BLUE}, "other": "#999999"}
        version = stream.change(kind="layer_style", layer="sized", style=both)
        wait_drawn(tab, version)
        fills = [page.locator(f'[data-feature-id="s{i}"]').get_attribute("fill") for i in range(3)]
        assert fills == [GREEN, BLUE, GREEN], fills
        legend = page.locator('.mapsrv-legend-layer[data-layer="sized"]')
        assert legend.locator(".mapsrv-legend-value").all_inner_texts()[-3:] == ["x", "y", "Other"]

        # and a heat map of the same points under them: one layer drawn two ways
        version = stream.change(kind="layer_style", layer="sized", style={**both, "heat": True})
        wait_drawn(tab, version)
        fills = [page.locator(f'[data-feature-id="s{i}"]').get_attribute("fill") for i in range(3)]
        assert fills == [GREEN, BLUE, GREEN], "the circles are still drawn, over the heat"
        under = page.evaluate("""() => { const c = document.querySelector('canvas.mapsrv-heat');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n += 1;
          return [n, getComputedStyle(c).zIndex]; }""")
        assert under[0] > 500 and under[1] == "-1", under
        assert legend.locator(".mapsrv-legend-value").all_inner_texts()[-3:] == [
            "low",
            "high",
            "density of 3 features",
        ]
        tab.check_clean()

    await in_chromium(body)


async def test_the_time_slider_hides_and_shows_features(live: Server, tmp_path: Path) -> None:
    def body(chromium: Chromium) -> None:
        stream = Stream()
        timed = [point(f"t{h}", 45, 2 + h, {"kind": "a", "time": f"2024-05-01T{h:02d}:00:00Z"}, "timed")
                 for h in range(10)]  # fmt: skip
        style = {
            "kind": "categorical",
            "by": "kind",
            "categories": {"a": RED},
            "other": GREEN,
            "time": {"property": "time", "from": "2024-05-01T02:00:00Z", "to": "2024-05-01T05:00:00Z"},
        }
        version = stream.snapshot(timed, [{"id": "timed", "name": "Timed", "style": style}])
        tab = open_map(chromium, live, stream)
        page = tab.page
        wait_drawn(tab, version)
        shown = "() => Array.from(document.querySelectorAll('[data-feature-id]'), (e) => e.dataset.featureId)"
        shown += ".sort()"
        assert page.evaluate(shown) == ["t2", "t3", "t4", "t5"]
        values = page.locator(".mapsrv-legend-time-value").all_inner_texts()
        assert values == ["2024-05-01 02:00 UTC", "2024-05-01 05:00 UTC"]
        shot(tab, "styles-time-before.png", tmp_path)

        # From the keyboard: the window's end to the data's last time, then its start to the first.
        page.locator('.mapsrv-legend-slider[data-end="to"]').focus()
        page.keyboard.press("End")
        page.wait_for_function(f"() => ({shown})().length === 8")
        assert page.evaluate(shown) == [f"t{h}" for h in range(2, 10)]
        page.locator('.mapsrv-legend-slider[data-end="from"]').focus()
        page.keyboard.press("Home")
        page.wait_for_function(f"() => ({shown})().length === 10")
        assert page.locator(".mapsrv-legend-time-value").all_inner_texts() == [
            "2024-05-01 00:00 UTC", "2024-05-01 09:00 UTC"]  # fmt: skip
        # and back: a narrow window
        for _ in range(60):
            page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => ({shown})().length < 10")
        shot(tab, "styles-time-after.png", tmp_path)
        tab.check_clean()

    await in_chromium(body)


def towns(start: int, count: int) -> dict[str, Any]:
    features = [
        {"type": "Feature", "id": f"t{i}", "properties": {"name": f"Town {i}", "pop": i * 100},
         "geometry": {"type": "Point", "coordinates": [2 + (i % 6) * 1.5, 44 + (i // 6) * 1.2]}}
        for i in range(start, start + count)
    ]  # fmt: skip
    return {
        "op": "import_geojson",
        "layer": "towns",
        "geojson": {"type": "FeatureCollection", "features": features},
    }


async def test_the_servers_set_layer_style_reaches_the_page(live: Server, tmp_path: Path) -> None:
    """End to end: the core's op (checked and classified by the server) and its `layer_style`
    event, then a feature added to the styled layer, each drawn by the page."""

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, live, viewport=VIEWPORT)
        tab = Tab.open(context, "/")
        page = tab.page
        tab.ops(towns(1, 30))
        style = {"kind": "graduated", "by": "pop", "method": "equal", "colors": [RED, GREEN, BLUE]}
        version = tab.ops({"op": "set_layer_style", "layer": "towns", "style": style})
        wait_drawn(tab, version)
        fills = "() => Object.fromEntries(Array.from(document.querySelectorAll('path[data-feature-id]'),"\
            " (e) => [e.dataset.featureId, e.getAttribute('fill')]))"  # fmt: skip
        drawn = page.evaluate(fills)
        assert len(drawn) == 30
        assert drawn["t1"] == RED and drawn["t30"] == BLUE
        assert sorted(drawn.values()).count(GREEN) in range(8, 13)
        rows = page.locator(".mapsrv-legend-row .mapsrv-legend-value").all_inner_texts()
        assert len(rows) == 3 and rows[0].startswith("100 – ") and rows[2].endswith(" – 3,000")
        version = tab.ops(towns(31, 1))
        wait_drawn(tab, version)
        assert page.evaluate(fills)["t31"] == BLUE  # above the last break: the last class
        shot(tab, "styles-server.png", tmp_path)
        # no style: the points' own look again, and no legend
        version = tab.ops({"op": "set_layer_style", "layer": "towns", "style": None})
        wait_drawn(tab, version)
        assert page.locator(".mapsrv-legend").is_hidden()
        assert page.locator("path[data-feature-id]").count() == 0
        tab.check_clean()

    await in_chromium(body)


async def test_the_mcp_app_shows_the_legend(nursery: trio.Nursery, tmp_path: Path) -> None:
    """The MCP App (one renderer with the page) draws the style and its legend: in a host's
    sandboxed iframe, a layer styled through the tools shows its categories, colours and labels."""
    from support.apps_host import app_draw, host_bundle, host_page, serve_page

    host_bundle()
    server: Server = await start_server(nursery, tile_url=TILES)
    call = {"items": [{"at": [45.0, 5.0], "label": "Start", "id": "start"}]}
    async with Client(server.url + "mcp") as client:
        app = await app_draw(client, call)
        content_text, ui, result, map_id = app.html, app.ui, app.result, app.map_id
        geojson = json.dumps(towns(1, 30)["geojson"])
        imported = await client.call_tool("import", {"map_id": map_id, "content": geojson, "layer": "towns"})
        assert not imported.is_error, imported.content
        styled = await client.call_tool("style_layer", {
            "map_id": map_id, "layer": "towns", "by": "pop", "kind": "categorical",
            "categories": {"100": RED}, "label": "Pop <{pop}>",
        })  # fmt: skip
        assert not styled.is_error, styled.content
    page = host_page("fixed", content_text, ui, call=call, result=result, width=900, height=560)
    host = await nursery.start(serve_page, [page])

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, server, viewport={"width": 900, "height": 560})
        errors: list[str] = []
        hosting = context.new_page()
        hosting.on("pageerror", lambda e: errors.append(str(e)))
        hosting.goto(host)
        (frame,) = hosting.main_frame.child_frames  # the app, in the host's iframe
        frame.wait_for_function("() => document.querySelectorAll('path[data-feature-id]').length === 30")
        rows = frame.locator(".mapsrv-legend-row .mapsrv-legend-value").all_inner_texts()
        assert rows[0] == "100" and rows[-1] == "Other", rows
        assert frame.locator(".mapsrv-legend-name").inner_text() == "towns"
        assert frame.locator(".mapsrv-legend-by").inner_text() == "pop"
        fills = frame.eval_on_selector_all(
            "path[data-feature-id]", "(els) => els.map((e) => e.getAttribute('fill'))"
        )
        assert fills.count(RED) == 1 and len(set(fills)) >= 2
        assert frame.locator(".mapsrv-label-text", has_text="<700>").inner_text() == "Pop <700>"
        hosting.screenshot(path=str(artifact("styles-mcp-app.png", tmp_path)), animations="disabled")
        assert errors == []
        assert frame.evaluate("window.__csp") == []

    await in_chromium(body)


# (id, its time, inside the window 02:00 - 05:00 UTC): at either end, written as people and files
# write times (a CSV's "2024-05-01 05:00:00" has no zone: UTC, as the server reads it), and just
# outside
WINDOW = {"property": "time", "from": "2024-05-01T02:00:00Z", "to": "2024-05-01 05:00:00"}
END = 1714539600  # 2024-05-01T05:00:00Z
AT_THE_ENDS: list[tuple[str, Any, bool]] = [
    ("start", "2024-05-01T02:00:00Z", True),
    ("start-offset", "2024-05-01T01:00:00-01:00", True),
    ("end", "2024-05-01T05:00:00Z", True),
    ("end-offset", "2024-05-01T07:00:00+02:00", True),
    ("end-no-zone", "2024-05-01T05:00:00", True),
    ("end-csv", "2024-05-01 05:00:00", True),
    ("end-ms-text", "2024-05-01T05:00:00.000Z", True),
    ("end-seconds", END, True),
    ("end-ms", END * 1000, True),
    ("after", "2024-05-01T05:00:00.001Z", False),
    ("after-csv", "2024-05-01 05:00:01", False),
    ("before", "2024-05-01T01:59:59.999Z", False),
]


async def test_a_feature_at_the_windows_end_is_shown_alike_by_the_page_the_image_and_the_counts(
    live: Server, tmp_path: Path
) -> None:
    """The page (in a browser three hours behind UTC), map_image and style_layer's counts show the
    same features of a time window: those at either end, however written, and none just outside."""
    columns = {fid: -172.0 + 5 * i for i, (fid, _, _) in enumerate(AT_THE_ENDS)}  # each square's west
    squares = [
        {"type": "Feature", "id": fid, "properties": {"kind": "a", "time": when},
         "geometry": {"type": "Polygon", "coordinates": [[[columns[fid], -2], [columns[fid] + 3, -2],
                      [columns[fid] + 3, 2], [columns[fid], 2], [columns[fid], -2]]]}}
        for fid, when, _ in AT_THE_ENDS
    ]  # fmt: skip
    inside = {fid for fid, _, shown in AT_THE_ENDS if shown}
    box, size = (-6.0, -174.0, 6.0, -110.0), (1000, 300)
    async with Client(live.url + "mcp") as agent:
        drawn = await agent.call_tool(
            "draw",
            {"items": [], "geojson": {"type": "FeatureCollection", "features": squares}, "layer": "timed"},
        )
        assert not drawn.is_error, drawn.content
        map_id = drawn.structured_content["map_id"]  # type: ignore[index]
        viewer = drawn.structured_content["view_url"].removeprefix(live.url.rstrip("/"))  # type: ignore[index]
        styled = await agent.call_tool(
            "style_layer",
            {"map_id": map_id, "layer": "timed", "by": "kind", "categories": {"a": RED}, "time": WINDOW},
        )
        assert not styled.is_error, styled.content
        answer = styled.structured_content
        assert answer is not None
        image = await agent.call_tool(
            "map_image",
            {
                "map_id": map_id,
                "bbox": [[box[0], box[1]], [box[2], box[3]]],
                "width": size[0],
                "height": size[1],
            },
        )
        assert not image.is_error, image.content
    counted = (answer["classes"][0]["count"], answer.get("hidden", 0))
    picture = Image.open(io.BytesIO(base64.b64decode(image.content[0].data))).convert("RGB")  # type: ignore[union-attr]
    picture.save(artifact("styles-time-ends-image.png", tmp_path))
    view = fit(*box, *size, padding=0, max_zoom=18)
    red = tuple(
        round(c * FILL_OPACITY + s * (1 - FILL_OPACITY)) for c, s in zip((255, 0, 0), SEA, strict=True)
    )
    in_image = set()
    for fid, west in columns.items():
        x, y = view.pixel(0.0, west + 1.5)
        seen = picture.getpixel((round(x), round(y)))
        if all(abs(a - b) <= 16 for a, b in zip(seen, red, strict=True)):
            in_image.add(fid)
        else:
            assert all(abs(a - b) <= 16 for a, b in zip(seen, SEA, strict=True)), (fid, seen)

    def body(chromium: Chromium) -> set[str]:
        context = new_context(chromium, live, viewport=VIEWPORT, timezone_id="America/Sao_Paulo")
        tab = Tab.open(context, viewer, badge="view-only")
        page = tab.page
        assert page.evaluate("new Date(Date.UTC(2024, 4, 1)).getTimezoneOffset()") == 180  # UTC-3
        wait_drawn(tab, answer["version"])
        page.screenshot(path=str(artifact("styles-time-ends-page.png", tmp_path)), animations="disabled")
        ids = page.eval_on_selector_all(
            "path[data-feature-id]", "(els) => els.map((e) => e.dataset.featureId)"
        )
        tab.check_clean()
        return set(ids)

    on_page = await in_chromium(body)
    assert on_page == inside, ("page", sorted(on_page ^ inside))
    assert in_image == inside, ("image", sorted(in_image ^ inside))
    assert counted == (len(inside), len(AT_THE_ENDS) - len(inside)), ("counts", answer)
