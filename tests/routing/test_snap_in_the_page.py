"""A GPS track put on the roads from the page's import dialog, in Chromium, with a real Valhalla on
the tests' street grid: "Put tracks on the roads" is offered for a file of tracks when the server
has a router (and only then), choosing "by car" previews the track on its street, and "Add to map"
adds it there, its times kept. (Here, not in tests/web: the Valhalla fixtures are this directory's.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context
from support.street_grid import ROWS, nearest_street
from support.valhalla import open_valhalla
from test_routes_further import ON_A_STREET_M, noisy_track

ROW = 2  # the track runs along ROWS[ROW], west to east


def on_the_street(coordinates: list[list[float]]) -> list[float]:
    """How far each GeoJSON [lon, lat] is from the track's street, in metres."""
    return [nearest_street((lat, lon), [ROWS[ROW]])[1] for lon, lat in coordinates]


# The preview's lines as drawn over the map, each as GeoJSON [lon, lat] (the dialog's answer is
# streamed, and Chromium keeps no streamed body for Playwright to read: the page's drawing is read).
PREVIEWED = (
    "() => { const out = []; window.mapsrv.map.eachLayer((l) => {"
    " if (l.getLatLngs && l.options.className === 'mapsrv-import-preview')"
    " out.push(l.getLatLngs().map((p) => [p.lng, p.lat])); }); return out; }"
)


def previewed_line(page: Any) -> list[list[float]]:
    [line] = page.evaluate(PREVIEWED)
    return line


def drop_the_track(page: Any, ride: Path) -> None:
    """The file picked in the import dialog, and its first preview shown."""
    page.locator("#import-open").wait_for()
    page.set_input_files("#import-file", str(ride))
    page.locator("#import-summary", has_text="GPX: 1 line").wait_for()
    page.locator("#import-add:enabled").wait_for()


@pytest.mark.browser
async def test_the_import_dialog_puts_a_gpx_track_on_the_roads(
    nursery: trio.Nursery, valhalla_config: Path, tmp_path: Path
) -> None:
    gpx, raw, times = noisy_track(ROW)
    assert min(nearest_street(p, [ROWS[ROW]])[1] for p in raw) >= 7, "the recorded points are off the street"
    ride = tmp_path / "morning drive.gpx"
    ride.write_text(gpx)
    shot = artifact("import-snap.png", tmp_path)

    async with open_valhalla(valhalla_config) as engine:
        server = await start_server(nursery, tile_url=TILES, router=f"valhalla+{engine.url}")

        def body(chromium: Chromium) -> None:
            context = new_context(chromium, server, viewport={"width": 1280, "height": 800})
            tab = Tab.open(context)
            page = tab.page
            assert page.evaluate("document.body.dataset.router") == "1"
            with page.expect_request(lambda r: "/import?" in r.url and "preview=1" in r.url) as first:
                drop_the_track(page, ride)
            assert "snap=" not in first.value.url, "as recorded until the person chooses"
            assert min(on_the_street(previewed_line(page))) >= 7, "the preview shows the track as recorded"

            row = page.locator("#import-snap-row")
            row.wait_for(state="visible")
            assert row.locator("span").inner_text() == "Put tracks on the roads"
            assert page.locator("#import-snap").input_value() == ""
            with page.expect_request(lambda r: "snap=car" in r.url and "preview=1" in r.url):
                page.locator("#import-snap").select_option("car")
            page.locator("#import-add:enabled").wait_for()  # disabled from the choice to the answer
            snapped = previewed_line(page)
            assert max(on_the_street(snapped)) <= ON_A_STREET_M, "the preview shows the track on its street"
            page.locator("#import-summary", has_text="GPX: 1 line").wait_for()
            row.wait_for(state="visible")  # still offered, with the choice made
            assert page.locator("#import-snap").input_value() == "car"
            page.locator(".mapsrv-import-preview").first.wait_for(state="attached")
            page.screenshot(path=str(shot))

            with page.expect_request(lambda r: "/import?" in r.url and "preview=1" not in r.url) as commit:
                page.locator("#import-add").click()
            assert "snap=car" in commit.value.url, "the commit sends what was previewed"
            page.wait_for_function("() => !!document.body.dataset.importedVersion")
            page.locator("#import-status", has_text="from morning drive.gpx").wait_for()
            read = page.request.get(f"/m/{tab.map_id}/geojson")
            assert read.status == 200, read.text()
            [track] = read.json()["features"]
            coordinates = track["geometry"]["coordinates"]
            for far in on_the_street(coordinates):
                assert far <= ON_A_STREET_M, coordinates
            assert track["properties"]["snapped"] == "car"
            kept = track["properties"]["times"]
            assert len(kept) == len(coordinates)
            assert kept == sorted(kept), "time goes forwards along the road"
            assert kept[0] == times[0] and kept[-1] == times[-1]
            tab.check_clean()

        await in_chromium(body)


@pytest.mark.browser
async def test_without_a_router_the_import_dialog_does_not_offer_the_roads(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    gpx, _, _ = noisy_track(ROW)
    ride = tmp_path / "morning drive.gpx"
    ride.write_text(gpx)
    server = await start_server(nursery, tile_url=TILES)

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, server, viewport={"width": 1280, "height": 800})
        tab = Tab.open(context)
        page = tab.page
        assert page.evaluate("document.body.dataset.router") == ""
        drop_the_track(page, ride)
        assert page.locator("#import").is_visible()
        assert page.locator("#import-snap-row").is_hidden(), "no router: nothing to put a track on the roads"
        tab.check_clean()

    await in_chromium(body)
