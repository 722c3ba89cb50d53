"""A 10,000-point map in a real Chromium: clustered with counts at the fitted view (no labels
there), a click on a cluster zooms in to its points, closer in the points are drawn alone with
labels that never overlap, one is selected and renamed on the map, and the edit reaches a second
tab. Screenshots: clusters-10k.png and clusters-unclustered.png (in $TEST_ARTIFACTS_DIR when
set, and in /tmp)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import trio
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context

from mapsrv.server import Server

pytestmark = pytest.mark.browser
VIEWPORT = {"width": 1280, "height": 800}
SIDE = 100  # points a side: 10,000 in all

# The points and clusters drawn inside the view: [x, y, count, id or null].
DRAWN = """() => { const size = window.mapsrv.map.getSize();
  return window.mapsrv.drawnPoints()
    .filter(([x, y]) => x > 20 && y > 20 && x < size.x - 20 && y < size.y - 20); }"""

LABELS = """() => Array.from(document.querySelectorAll('.mapsrv-placed:not(.mapsrv-label-hover)'))
  .filter((e) => e.isConnected && e.offsetParent !== null)
  .map((e) => { const r = e.getBoundingClientRect();
    return [e.dataset.featureLabel, r.left, r.top, r.right, r.bottom]; })"""


@pytest.fixture
async def live(nursery: trio.Nursery) -> Server:
    return await start_server(nursery, tile_url=TILES, sse_retry=0.2)


def lattice() -> dict[str, Any]:
    """10,000 labelled points, 100 x 100 over Europe, as one import_geojson op."""
    features = [
        {
            "type": "Feature",
            "id": f"p{i}",
            "geometry": {"type": "Point", "coordinates": [-10 + (i % SIDE) * 0.4, 36 + (i // SIDE) * 0.24]},
            "properties": {"name": f"Station {i}"},
        }
        for i in range(SIDE * SIDE)
    ]
    return {"op": "import_geojson", "geojson": {"type": "FeatureCollection", "features": features}}


def wait_drawn(tab: Tab, version: int) -> None:
    tab.page.wait_for_function(
        "(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version, polling=50
    )


def settled(tab: Tab) -> None:
    """The map has stopped moving, its points are drawn and its labels placed again."""
    tab.page.wait_for_function(
        "() => !window.mapsrv.map._animatingZoom"
        " && !document.querySelector('.leaflet-mapsrvLabels-pane').hidden"
    )
    tab.page.evaluate(
        "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())))"
    )


def apart(boxes: list[list[Any]]) -> None:
    for i, (a, *box_a) in enumerate(boxes):
        for b, *box_b in boxes[i + 1 :]:
            overlap_x = min(box_a[2], box_b[2]) - max(box_a[0], box_b[0])
            overlap_y = min(box_a[3], box_b[3]) - max(box_a[1], box_b[1])
            assert overlap_x <= 0.5 or overlap_y <= 0.5, f"labels {a} and {b} overlap: {box_a} {box_b}"


async def test_a_10k_map_clusters_and_unclusters(live: Server, tmp_path: Path) -> None:
    clustered_png = artifact("clusters-10k.png", tmp_path)
    unclustered_png = artifact("clusters-unclustered.png", tmp_path)

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, live, viewport=VIEWPORT)
        map_id = context.request.get("/").url.rstrip("/").rsplit("/", 1)[1]
        response = context.request.post(f"/m/{map_id}/ops", data={"ops": [lattice()]})
        assert response.status == 200, response.text()
        version = int(response.json()["version"])

        tab = Tab.open(context, f"/m/{map_id}")
        page = tab.page
        wait_drawn(tab, version)
        assert page.evaluate("window.mapsrv.featureIds().length") == SIDE * SIDE
        settled(tab)
        drawn = page.evaluate(DRAWN)
        clusters = [d for d in drawn if d[2] > 1]
        assert clusters, "no clusters at the fitted view"
        assert sum(d[2] for d in drawn) > 5000, "the view shows most of the points, in clusters"
        # Labels only for points drawn alone: none of a clustered point.
        alone = {d[3] for d in drawn if d[2] == 1}
        labels = page.evaluate(LABELS)
        assert {b[0] for b in labels} <= alone
        apart(labels)
        page.screenshot(path=str(clustered_png), animations="disabled")
        shutil.copyfile(clustered_png, "/tmp/clusters-10k.png")

        # A click on the biggest cluster zooms in to its points.
        zoom = page.evaluate("window.mapsrv.map.getZoom()")
        x, y, count, _ = max(clusters, key=lambda d: d[2])
        page.mouse.click(x, y)
        page.wait_for_function("(z) => window.mapsrv.map.getZoom() > z", arg=zoom)
        settled(tab)
        after = page.evaluate(DRAWN)
        assert max(d[2] for d in after) < count, "the cluster came apart"

        # Closer in, every point is drawn alone and the labels that fit are shown, apart.
        page.evaluate("() => { window.mapsrv.map.setView([48, 10], 8, {animate: false}); }")
        settled(tab)
        drawn = page.evaluate(DRAWN)
        assert len(drawn) > 50 and all(d[2] == 1 for d in drawn), "still clustered at zoom 8"
        labels = page.evaluate(LABELS)
        assert len(labels) >= 20, f"{len(labels)} labels shown"
        apart(labels)
        page.screenshot(path=str(unclustered_png), animations="disabled")
        shutil.copyfile(unclustered_png, "/tmp/clusters-unclustered.png")

        # Zoomed out again, the clusters are back and the labels of their points gone.
        page.evaluate("() => { window.mapsrv.map.setZoom(4, {animate: false}); }")
        settled(tab)
        drawn = page.evaluate(DRAWN)
        assert any(d[2] > 1 for d in drawn)
        assert {b[0] for b in page.evaluate(LABELS)} <= {d[3] for d in drawn if d[2] == 1}

        # A point selected on the map and renamed; a second tab draws the edit.
        page.evaluate("() => { window.mapsrv.map.setView([48, 10], 9, {animate: false}); }")
        settled(tab)
        other = Tab.open(context, f"/m/{map_id}")
        wait_drawn(other, version)
        x, y, _, fid = next(d for d in page.evaluate(DRAWN) if 300 < d[0] < 800 and 250 < d[1] < 700)
        page.mouse.click(x, y)
        page.locator("#editor").wait_for()
        assert page.evaluate("window.mapsrv.selectedId()") == fid
        page.locator("#editor-label").fill("Renamed here")
        page.get_by_role("button", name="Save").click()
        page.locator("#toast", has_text="Saved").wait_for()
        other.page.wait_for_function("(id) => window.mapsrv.feature(id).label === 'Renamed here'", arg=fid)
        tab.check_clean()
        other.check_clean()

    await in_chromium(body)
