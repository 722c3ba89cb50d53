"""Shapes kept whole on the page (issue 57), in a real Chromium against a real server. A polygon's
hole shows the map under it and its shell the fill, drawn as SVG (a small map) and on the canvas
(a big one). Natural Earth's South Africa (its mainland, the Prince Edward Islands, Lesotho as its
hole) is one feature: clicked on, it is selected as one and the editor says its parts and hole;
dragged by its move handle, every part and the hole move by the same amount, in one change of
that one feature that another watcher's stream gets. Italy (eight parts, two holes) gets one label,
on its mainland, on a small map and a big one. A multipoint and a collection, drawn on the canvas,
are selected and moved as one. The screenshots are kept (``$TEST_ARTIFACTS_DIR`` when set)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import shapely
import trio
from shapely.geometry import shape
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context
from support.natural_earth import countries_geojson
from support.png import Image, read_png

from mapsrv.server import Server

pytestmark = pytest.mark.browser
VIEWPORT = {"width": 1100, "height": 720}
RED = "#ff0000"
SOLID = {"color": RED, "fill_color": RED, "fill_opacity": 1}


@pytest.fixture
async def live(nursery: trio.Nursery) -> Server:
    return await start_server(nursery, tile_url=TILES, sse_retry=0.2)


def country(name: str) -> dict[str, Any]:
    """A Natural Earth country (1:50m) as the GeoJSON Feature an agent or a file would give."""
    found = [f for f in countries_geojson("50m")["features"] if f["properties"]["name"] == name]
    assert len(found) == 1, name
    return dict(found[0])


def far_markers(count: int) -> list[dict[str, Any]]:
    """Markers far from where the test looks (Siberia): enough of them make the map big."""
    return [
        {
            "op": "add_feature",
            "id": f"far{i}",
            "type": "marker",
            "coords": [60 + i % 20 * 0.1, 100 + i // 20 * 0.1],
        }
        for i in range(count)
    ]


def wait_drawn(tab: Tab, version: int) -> None:
    """The page has drawn ``version``, and the canvases have painted it (the next frame)."""
    tab.page.wait_for_function(
        "(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version, polling=30
    )
    tab.page.evaluate(
        "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())))"
    )


def wait_basemap(tab: Tab) -> None:
    """The offline world map (tiles are unreachable in tests) has drawn its 1:50m countries."""
    tab.page.wait_for_function("() => document.body.dataset.basemap === 'offline-detailed'", polling=50)
    tab.page.evaluate(
        "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())))"
    )


def at_point(tab: Tab, lat: float, lon: float) -> tuple[int, int]:
    """Where a [lat, lon] is on the page (the map fills the viewport from its top-left corner)."""
    x, y = tab.page.evaluate(
        "([a, b]) => { const p = window.mapsrv.map.latLngToContainerPoint([a, b]); return [p.x, p.y]; }",
        [lat, lon],
    )
    return round(x), round(y)


def lat_lon_at(tab: Tab, x: float, y: float) -> tuple[float, float]:
    """The [lat, lon] at a point of the page (the inverse of ``at_point``)."""
    where = (
        "([x, y]) => { const p = window.mapsrv.map.containerPointToLatLng([x, y]); return [p.lat, p.lng]; }"
    )
    lat, lon = tab.page.evaluate(where, [x, y])
    return float(lat), float(lon)


def screenshot(tab: Tab, name: str, tmp_path: Path) -> Image:
    path = artifact(name, tmp_path)
    tab.page.screenshot(path=str(path), animations="disabled")
    return read_png(path.read_bytes())


def is_red(rgb: tuple[int, int, int]) -> bool:
    return rgb[0] > 200 and rgb[1] < 60 and rgb[2] < 60


def state(tab: Tab) -> dict[str, Any]:
    response = tab.page.request.get(f"/m/{tab.map_id}/state")
    assert response.status == 200
    return dict(response.json())


def feature(tab: Tab, fid: str) -> dict[str, Any]:
    return next(f for f in state(tab)["features"] if f["id"] == fid)


# A watcher of the map's stream in the page itself (the browser's own EventSource): every change
# event it gets after it opened, as the data the server sent.
WATCH = """() => new Promise((resolve) => {
  window.__changes = [];
  const es = new EventSource(document.body.dataset.events);
  es.addEventListener('snapshot', () => resolve(), { once: true });
  es.addEventListener('change', (e) => window.__changes.push(JSON.parse(e.data)));
})"""


def drag(tab: Tab, start: tuple[float, float], by: tuple[float, float]) -> None:
    page = tab.page
    x, y = start
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + by[0] / 2, y + by[1] / 2, steps=6)
    page.mouse.move(x + by[0], y + by[1], steps=6)
    page.mouse.up()


def center_of(locator: Any) -> tuple[float, float]:
    box = locator.bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def moves_of(before: Any, after: Any) -> list[tuple[float, float]]:
    """Every point's move from ``before`` to ``after``, which must nest alike."""
    if isinstance(before[0], (int, float)):
        return [(after[0] - before[0], after[1] - before[1])]
    assert len(before) == len(after)
    return [move for b, a in zip(before, after, strict=True) for move in moves_of(b, a)]


def one_move(moves: list[tuple[float, float]]) -> tuple[float, float]:
    """The one move every point made (each written to 1e-6 degrees)."""
    dlat, dlon = moves[0]
    assert all(abs(a - dlat) <= 2e-6 and abs(b - dlon) <= 2e-6 for a, b in moves), moves
    return dlat, dlon


@pytest.mark.parametrize("big", [False, True], ids=["svg", "canvas"])
async def test_a_hole_shows_the_map_under_it_and_the_shell_the_fill(
    live: Server, tmp_path: Path, big: bool
) -> None:
    shell = [[-32, -22], [-32, -18], [-28, -18], [-28, -22]]  # the South Atlantic: only sea under it
    hole = [[-30.5, -20.5], [-30.5, -19.5], [-29.5, -19.5], [-29.5, -20.5]]

    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, live, viewport=VIEWPORT))
        donut = {
            "op": "add_feature",
            "id": "donut",
            "type": "polygon",
            "coords": [shell, hole],
            "style": SOLID,
        }
        view = {"op": "set_view", "center": [-30, -20], "zoom": 6, "animate": False}
        version = tab.ops(view, donut, *(far_markers(450) if big else []))
        wait_drawn(tab, version)
        assert tab.page.evaluate("window.mapsrv.big") is big
        image = screenshot(tab, f"geometry-hole-{'canvas' if big else 'svg'}.png", tmp_path)
        inside, ring, outside = at_point(tab, -30, -20), at_point(tab, -31.5, -20), at_point(tab, -30, -24)
        assert is_red(image.pixel(*ring)), image.pixel(*ring)
        assert not is_red(image.pixel(*inside)) and image.pixel(*inside) == image.pixel(*outside), (
            "the hole shows what is under the polygon",
            image.pixel(*inside),
            image.pixel(*outside),
        )
        tab.check_clean()

    await in_chromium(body)


async def test_south_africa_is_selected_and_dragged_as_one(live: Server, tmp_path: Path) -> None:
    africa = country("South Africa")  # a Polygon with Lesotho as its hole, or with its islands a MultiPolygon

    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, live, viewport=VIEWPORT))
        page = tab.page
        imported = {"op": "import_geojson", "geojson": {"type": "FeatureCollection", "features": [africa]}}
        version = tab.ops(imported, {"op": "set_view", "center": [-29.5, 25], "zoom": 5, "animate": False})
        wait_drawn(tab, version)
        [drawn] = state(tab)["features"]
        fid = drawn["id"]
        assert drawn["type"] in ("polygon", "multipolygon") and page.evaluate("window.mapsrv.big") is False
        wait_basemap(tab)
        image = screenshot(tab, "geometry-south-africa.png", tmp_path)
        lesotho, mainland = at_point(tab, -29.5, 28.3), at_point(tab, -30.5, 22.5)
        assert not is_red(image.pixel(*lesotho)), "Lesotho (the hole) shows the world map"
        assert image.pixel(*mainland) != image.pixel(*lesotho), "the fill is over the mainland"

        tab.feature(fid, drawn["type"])
        page.mouse.click(*mainland)
        page.locator("#editor").wait_for()
        title = page.locator("#editor-title").inner_text()
        assert title.startswith(f"Edit {drawn['type']}") and "1 hole" in title, title
        assert (
            page.locator(f'[data-feature-id="{fid}"]').count()
            == page.locator(".mapsrv-selected").count()
            >= 1
        )

        screenshot(tab, "geometry-south-africa-selected.png", tmp_path)
        page.evaluate(WATCH)
        before = page.evaluate("window.mapsrv.version")
        drag(tab, center_of(page.locator(".mapsrv-move")), (120, -70))
        page.wait_for_function("(v) => window.mapsrv.version > v", arg=before)
        page.wait_for_function("(v) => window.__changes.some((c) => c.version > v)", arg=before)
        changes = page.evaluate("window.__changes")
        assert len(changes) == 1 and changes[0]["kind"] == "upsert", changes
        assert [f["id"] for f in changes[0]["features"]] == [fid], "one change of one feature"
        moved = feature(tab, fid)
        assert moved["type"] == drawn["type"]
        dlat, dlon = one_move(moves_of(drawn["coords"], moved["coords"]))  # every part, ring and hole alike
        assert dlon > 1 and dlat > 0.5, (dlat, dlon)
        screenshot(tab, "geometry-south-africa-moved.png", tmp_path)
        tab.check_clean()

    await in_chromium(body)


@pytest.mark.parametrize("big", [False, True], ids=["tooltip", "placed"])
async def test_italy_has_one_label_on_its_mainland(live: Server, tmp_path: Path, big: bool) -> None:
    italy = country("Italy")
    italy["properties"]["name"] = "Italia"

    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, live, viewport=VIEWPORT))
        page = tab.page
        imported = {"op": "import_geojson", "geojson": {"type": "FeatureCollection", "features": [italy]}}
        view = {"op": "set_view", "center": [41.5, 12.5], "zoom": 5, "animate": False}
        version = tab.ops(imported, view, *(far_markers(450) if big else []))
        wait_drawn(tab, version)
        assert page.evaluate("window.mapsrv.big") is big
        drawn = next(f for f in state(tab)["features"] if f["label"] == "Italia")
        assert drawn["type"] == "multipolygon" and len(drawn["coords"]) == 8
        assert sum(len(rings) - 1 for rings in drawn["coords"]) == 2, "San Marino and the Vatican"
        wait_basemap(tab)
        screenshot(tab, f"geometry-italy-{'placed' if big else 'tooltip'}.png", tmp_path)
        labels = page.locator(".mapsrv-label", has_text="Italia")
        assert labels.count() == 1
        x, y = center_of(labels)
        # on the mainland: inside Natural Earth's outline of it (not Sicily, Sardinia or the sea)
        lat, lon = lat_lon_at(tab, x, y)
        mainland = max(shapely.get_parts(shape(italy["geometry"])), key=lambda part: part.area)
        assert mainland.contains(shapely.Point(lon, lat)), (lat, lon)
        tab.check_clean()

    await in_chromium(body)


async def test_a_multipoint_and_a_collection_on_the_canvas_are_selected_and_moved_as_one(
    live: Server,
) -> None:
    dots = [[-30, -20], [-30.5, -19], [-29.5, -21]]
    members = [
        {"type": "marker", "coords": [-28, -16]},
        {"type": "polyline", "coords": [[-28, -17], [-27, -15]]},
        {"type": "polygon", "coords": [[-29, -17], [-29, -16], [-28.5, -16]]},
    ]

    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, live, viewport=VIEWPORT))
        page = tab.page
        version = tab.ops(
            # the move handles clear of the panel (the collection's is under its triangle's pole)
            {"op": "set_view", "center": [-29, -17], "zoom": 7, "animate": False},
            {"op": "add_feature", "id": "dots", "type": "multipoint", "coords": dots, "label": "Buoys"},
            {"op": "add_feature", "id": "kit", "type": "collection", "coords": members, "label": "Kit"},
            *far_markers(450),
        )
        wait_drawn(tab, version)
        assert page.evaluate("window.mapsrv.big") is True
        for fid, (lat, lon), kind in (("dots", dots[1], "multipoint"), ("kit", (-28.8, -16.3), "collection")):
            page.mouse.click(*at_point(tab, lat, lon))
            page.locator("#editor-title", has_text=f"Edit {kind}").wait_for()
            assert page.evaluate("window.mapsrv.selectedId()") == fid
            before = feature(tab, fid)
            at = page.evaluate("window.mapsrv.version")
            drag(tab, center_of(page.locator(".mapsrv-move")), (-60, 45))
            page.wait_for_function("(v) => window.mapsrv.version > v", arg=at)
            after = feature(tab, fid)
            if kind == "collection":
                assert [m["type"] for m in after["coords"]] == [m["type"] for m in members]
                pairs = zip(before["coords"], after["coords"], strict=True)
                moves = [move for b, a in pairs for move in moves_of(b["coords"], a["coords"])]
            else:
                moves = moves_of(before["coords"], after["coords"])
            dlat, dlon = one_move(moves)
            assert dlat < 0 and dlon < 0, moves
        tab.check_clean()

    await in_chromium(body)


# Before any page script: what the page had drawn when it first said it had drawn a version.
FIRST_DRAWN = """
window.__firstDrawn = null;
window.addEventListener('mapsrv:applied', (e) => {
  if (window.__firstDrawn === null) {
    window.__firstDrawn = {version: e.detail.version, features: window.mapsrv.featureIds().length};
  }
});
"""


async def test_a_big_snapshot_is_drawn_whole_before_its_version(live: Server, tmp_path: Path) -> None:
    """A big map's snapshot is drawn in slices (render.js): the page says it has drawn the
    snapshot's version only once every feature is, and a change sent meanwhile comes after.
    Russia's and Fiji's rings cross the 180th meridian (from 179.9 to -180 and back): drawn
    continuous, not as bands across the world (the open Pacific, the Indian Ocean and the
    Norwegian Sea stay unpainted)."""
    world = countries_geojson("50m")
    for f in world["features"]:
        f["properties"].update({"stroke": RED, "fill": RED, "fill-opacity": 1})

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, live, viewport=VIEWPORT)
        tab = Tab.open(context)
        page = tab.page
        view = {"op": "set_view", "center": [20, 0], "zoom": 2, "animate": False}
        version = tab.ops({"op": "import_geojson", "geojson": world}, view)
        wait_drawn(tab, version)
        count = len(world["features"])
        assert page.evaluate("window.mapsrv.featureIds().length") == count
        page.add_init_script(FIRST_DRAWN)
        page.reload()
        tab.wait_badge("live")
        marker = {"op": "add_feature", "id": "late", "type": "marker", "coords": [-40, -120]}
        later = tab.ops(marker)  # most often while the snapshot is still being drawn
        wait_drawn(tab, later)
        first = page.evaluate("window.__firstDrawn")
        assert page.evaluate("window.mapsrv.big") is True
        assert first["version"] >= version
        assert first["features"] == count + (first["version"] >= later), first
        assert page.evaluate("window.mapsrv.featureIds().length") == count + 1
        image = screenshot(tab, "geometry-world-big.png", tmp_path)
        assert is_red(image.pixel(*at_point(tab, -30, 120))), "Australia is drawn"
        for lat, lon in [(-16.52, -100), (-16.52, 60), (68, -20), (67, 5)]:
            assert not is_red(image.pixel(*at_point(tab, lat, lon))), ("a band across the world", lat, lon)
        tab.check_clean()

    await in_chromium(body)


async def test_a_small_map_draws_the_180th_meridian_crossers_continuous(live: Server, tmp_path: Path) -> None:
    """Fiji and Russia alone (a small map, SVG): no band across the world either, and Fiji's
    label on its islands (its largest part measured as drawn, not across the world)."""
    both = [country("Fiji"), country("Russia")]
    for f in both:
        f["properties"].update({"stroke": RED, "fill": RED, "fill-opacity": 1})

    def body(chromium: Chromium) -> None:
        tab = Tab.open(new_context(chromium, live, viewport=VIEWPORT))
        page = tab.page
        imported = {"op": "import_geojson", "geojson": {"type": "FeatureCollection", "features": both}}
        view = {"op": "set_view", "center": [20, 0], "zoom": 2, "animate": False}
        version = tab.ops(imported, view)
        wait_drawn(tab, version)
        assert page.evaluate("window.mapsrv.big") is False
        image = screenshot(tab, "geometry-dateline-small.png", tmp_path)
        assert is_red(image.pixel(*at_point(tab, 57, 45))), "Russia is drawn"
        for lat, lon in [(-16.52, -100), (-16.52, 60), (68, -20), (67, 5)]:
            assert not is_red(image.pixel(*at_point(tab, lat, lon))), ("a band across the world", lat, lon)
        lat, lon = lat_lon_at(tab, *center_of(page.locator(".mapsrv-label", has_text="Fiji")))
        assert abs(lon) > 170 and -22 < lat < -12, ("Fiji's label is on Fiji", lat, lon)
        tab.check_clean()

    await in_chromium(body)
