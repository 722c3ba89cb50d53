"""A big map in a real Chromium: 3,000 labelled points load in one snapshot, their shown labels
never overlap (before and after a pan and a zoom), a point is selected and renamed on the map,
and the edit reaches a second tab. The screenshot is kept as big-map.png (in
$TEST_ARTIFACTS_DIR when set) and as /tmp/bigmap.png."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import trio
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context

from mapsrv.server import Server

pytestmark = pytest.mark.browser
VIEWPORT = {"width": 1280, "height": 800}
COUNT = 3000

# The label elements on screen, as boxes: [id, left, top, right, bottom].
SHOWN = """
() => Array.from(document.querySelectorAll('.mapsrv-placed:not(.mapsrv-label-hover)'))
  .filter((e) => e.isConnected && !e.hidden && e.offsetParent !== null)
  .map((e) => {
    const r = e.getBoundingClientRect();
    return [e.dataset.featureLabel, r.left, r.top, r.right, r.bottom];
  })
"""

CENTER = "() => [window.mapsrv.map.getCenter().lng, window.mapsrv.map.getZoom()]"


@pytest.fixture
async def live(nursery: trio.Nursery) -> Server:
    return await start_server(nursery, tile_url=TILES, sse_retry=0.2)


def points(count: int) -> list[dict[str, Any]]:
    """``count`` labelled points on a 60 x 50 lattice over Europe, jittered a little."""
    return [
        {
            "op": "add_feature",
            "id": f"p{i}",
            "type": "marker",
            "coords": [
                36 + (i // 60) * 0.48 + (i * 7 % 11) * 0.01,
                -10 + (i % 60) * 0.66 + (i * 5 % 13) * 0.01,
            ],
            "label": f"Station {i}",
        }
        for i in range(count)
    ]


def wait_drawn(tab: Tab, version: int) -> None:
    tab.page.wait_for_function(
        "(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version, polling=50
    )


def settled(tab: Tab) -> None:
    """The map has stopped moving and its labels are placed again."""
    tab.page.wait_for_function(
        "() => !document.querySelector('.leaflet-zoom-anim') && !window.mapsrv.map._animatingZoom"
        " && !document.querySelector('.leaflet-mapsrvLabels-pane').hidden"
    )
    tab.page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r()))")


def shown_labels(tab: Tab) -> list[list[Any]]:
    # Labels are placed after the map settles, in a later frame (the replay's renderer too): wait
    # for them on a busy machine rather than read the page a frame early (it failed so in CI).
    tab.page.wait_for_function(f"() => ({SHOWN})().length >= 20", polling=50)
    boxes: list[list[Any]] = tab.page.evaluate(SHOWN)
    assert 20 <= len(boxes) < COUNT, f"{len(boxes)} labels shown"
    for i, (a, *box_a) in enumerate(boxes):
        for b, *box_b in boxes[i + 1 :]:
            overlap_x = min(box_a[2], box_b[2]) - max(box_a[0], box_b[0])
            overlap_y = min(box_a[3], box_b[3]) - max(box_a[1], box_b[1])
            assert overlap_x <= 0.5 or overlap_y <= 0.5, f"labels {a} and {b} overlap: {box_a} {box_b}"
    return boxes


def label_texts(tab: Tab) -> list[tuple[str, str]]:
    """The shown labels' feature ids and texts."""
    found: list[tuple[str, str]] = [
        (str(fid), str(text))
        for fid, text in tab.page.evaluate(
            "() => Array.from(document.querySelectorAll('.mapsrv-placed:not(.mapsrv-label-hover)'),"
            " (e) => [e.dataset.featureLabel, e.textContent])"
        )
    ]
    return found


# Whether a point of the map (container pixels) is clear of what floats over it (the panel, the
# controls, notices), whatever their size: the page's layout may change, the test's aim does not.
CLEAR = """(m) => {
  const over = [...document.querySelectorAll('#panel, .leaflet-control, .mapsrv-notice, [role=status]')]
    .map((el) => el.getBoundingClientRect()).filter((r) => r.width > 0 && r.height > 0);
  const box = m.getContainer().getBoundingClientRect(), size = m.getSize();
  return (p) => p.x > 20 && p.x < size.x - 20 && p.y > 20 && p.y < size.y - 20 && over.every((r) => {
    const x = p.x + box.left, y = p.y + box.top;
    return x < r.left - 16 || x > r.right + 16 || y < r.top - 16 || y > r.bottom + 16;
  });
}"""


# What is under a map point: the tag of the element a click there reaches, and its classes.
UNDER = """((m, p) => { const box = m.getContainer().getBoundingClientRect();
  const el = document.elementFromPoint(p.x + box.left, p.y + box.top);
  return !el ? 'nothing' : el.tagName === 'CANVAS' ? 'CANVAS' : `${el.tagName}.${el.className}`; })"""


async def test_a_big_labelled_map_loads_pans_zooms_and_edits(live: Server, tmp_path: Path) -> None:
    shot = artifact("big-map.png", tmp_path)

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, live, viewport=VIEWPORT)
        map_id = context.request.get("/").url.rstrip("/").rsplit("/", 1)[1]
        ops = points(COUNT)
        version = 0
        for i in range(0, COUNT, 1000):
            response = context.request.post(f"/m/{map_id}/ops", data={"ops": ops[i : i + 1000]})
            assert response.status == 200, response.text()
            version = int(response.json()["version"])

        tab = Tab.open(context, f"/m/{map_id}")
        page = tab.page
        wait_drawn(tab, version)
        assert page.evaluate("window.mapsrv.featureIds().length") == COUNT
        assert page.evaluate("window.mapsrv.big") is True
        settled(tab)
        before = shown_labels(tab)
        page.screenshot(path=str(shot), animations="disabled")
        shutil.copyfile(shot, "/tmp/bigmap.png")

        # A pan: the map moves and the labels are placed anew, still apart.
        lon, zoom = page.evaluate(CENTER)
        page.mouse.move(640, 450)
        page.mouse.down()
        page.mouse.move(400, 350, steps=8)
        page.mouse.up()
        page.wait_for_function("(lon) => window.mapsrv.map.getCenter().lng > lon + 1", arg=lon)
        settled(tab)
        shown_labels(tab)

        # A zoom step (the + button, animated): closer, more of the labels fit.
        page.locator(".leaflet-control-zoom-in").click()
        page.wait_for_function("(z) => window.mapsrv.map.getZoom() === z + 1", arg=zoom)
        settled(tab)
        closer = shown_labels(tab)
        assert {b[0] for b in closer} != {b[0] for b in before}

        # A label that did not fit shows while the pointer is on its point (one with no point
        # whose label is shown within reach of the pointer: the canvas picks the topmost).
        hidden = page.evaluate(
            f"""() => {{ const m = window.mapsrv.map; const clear = ({CLEAR})(m);
            const shown = new Set(window.mapsrv.shownLabels());
            const at = window.mapsrv.featureIds().map((id) => [id, L.point(window.mapsrv.featurePoint(id))]);
            for (const [id, p] of at) {{
              if (shown.has(id) || !clear(p)) continue;
              if (at.every(([other, q]) => !shown.has(other) || p.distanceTo(q) > 14)) return [p.x, p.y];
            }} return null; }}"""
        )
        assert hidden is not None
        page.mouse.move(*hidden)
        hover = page.locator(".mapsrv-label-hover")
        hover.wait_for()
        assert hover.inner_text().startswith("Station ")
        page.mouse.move(1000, 150)  # onto the panel: off the canvas
        hover.wait_for(state="hidden")

        # From the keyboard: a shown label is a button that selects its feature.
        first = page.locator(".mapsrv-placed:not(.mapsrv-label-hover)").first
        labelled = first.get_attribute("data-feature-label")
        first.focus()
        page.keyboard.press("Enter")
        page.locator("#editor").wait_for()
        assert page.evaluate("window.mapsrv.selectedId()") == labelled
        page.keyboard.press("Escape")
        page.locator("#editor").wait_for(state="hidden")

        # A person selects a point on the canvas and renames it; a second tab draws the edit.
        other = Tab.open(context, f"/m/{map_id}")
        wait_drawn(other, version)
        # the point clear of the overlays that stands most apart from the others, and the map's
        # own canvas under it as the click comes (a notice the other tab's arrival brings may
        # have come over it since: then another point)
        fid = page.evaluate(
            f"""() => {{ const m = window.mapsrv.map; const clear = ({CLEAR})(m);
            const at = window.mapsrv.featureIds().map((id) => [id, L.point(window.mapsrv.featurePoint(id))]);
            let best = null, room = -1;
            for (const [id, p] of at) {{
              if (!clear(p) || {UNDER}(m, p) !== 'CANVAS') continue;
              const near = Math.min(...at.filter(([o]) => o !== id).map(([, q]) => p.distanceTo(q)));
              if (near > room) {{ best = id; room = near; }}
            }} return best; }}"""
        )
        assert fid is not None
        x, y = page.evaluate("(id) => window.mapsrv.featurePoint(id)", fid)
        page.mouse.click(x, y)
        try:
            page.locator("#editor").wait_for()
        except PlaywrightTimeout:
            under = page.evaluate(f"([x, y]) => {UNDER}(window.mapsrv.map, L.point(x, y))", [x, y])
            said = f"a click on {fid} at {(x, y)} selected nothing; under it: {under}"
            raise AssertionError(said) from None
        # the canvas selects the topmost point under the pointer: this one, or one drawn over it
        fid = page.evaluate("window.mapsrv.selectedId()")
        picked = page.evaluate("(id) => window.mapsrv.featurePoint(id)", fid)
        assert abs(picked[0] - x) <= 10 and abs(picked[1] - y) <= 10, (fid, picked, (x, y))
        page.locator("#editor-label").fill("Renamed here")
        page.get_by_role("button", name="Save").click()
        page.locator("#toast", has_text="Saved").wait_for()
        other.label("Renamed here").wait_for()  # the newest change's label is placed first
        label = other.page.evaluate("(id) => window.mapsrv.feature(id).label", fid)
        assert label == "Renamed here"
        live_labels = {b[0] for b in shown_labels(other)}

        # The history slider draws a past version as the live map is drawn: labels that fit,
        # none over another (the replay once drew a big map's points with no labels at all).
        latest = other.page.evaluate("window.mapsrv.version")
        other.page.keyboard.press("h")
        other.page.locator("#replay-status", has_text=f"Version {latest} of {latest}").wait_for()
        settled(other)
        shown_labels(other)
        other.page.screenshot(path=str(artifact("big-map-replay.png", tmp_path)))
        other.page.keyboard.press("Escape")
        other.page.locator("#replay").wait_for(state="hidden")
        settled(other)
        assert {b[0] for b in shown_labels(other)} == live_labels, "live again: the live map's labels"
        tab.check_clean()
        other.check_clean()

    await in_chromium(body)


async def test_a_map_that_grows_big_and_shrinks_switches_how_it_is_drawn(live: Server) -> None:
    """Changes take an open page across the line both ways: 300 points are elements, 600 are
    drawn on the canvas (on the view link too), and 150 left are elements again; labels are
    placed where they fit, none over another, at every size."""

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, live, viewport=VIEWPORT)
        tab = Tab.open(context)
        page = tab.page
        ops = points(600)
        version = tab.ops({"op": "set_view", "center": [48, 10], "zoom": 5, "animate": False}, *ops[:300])
        wait_drawn(tab, version)
        assert page.evaluate("window.mapsrv.big") is False
        tab.feature("p0", "marker")
        settled(tab)
        shown_labels(tab)

        version = tab.ops(*ops[300:])
        wait_drawn(tab, version)
        assert page.evaluate("window.mapsrv.big") is True
        page.wait_for_function("() => !document.querySelector('[data-feature-id]')")
        settled(tab)
        shown_labels(tab)
        view = Tab.open(context, str(page.locator("#view-link").get_attribute("href")), badge="view-only")
        wait_drawn(view, version)
        assert view.page.evaluate("window.mapsrv.big") is True
        settled(view)
        shown_labels(view)

        version = tab.ops({"op": "remove_features", "ids": [f"p{i}" for i in range(150, 600)]})
        wait_drawn(tab, version)
        assert page.evaluate("window.mapsrv.big") is False
        tab.feature("p0", "marker")
        settled(tab)
        assert "Station 149" in [text for _, text in label_texts(tab)], "the newest first"
        shown_labels(tab)
        tab.check_clean()
        view.check_clean()

    await in_chromium(body)
