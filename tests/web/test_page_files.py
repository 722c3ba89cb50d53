"""Files in the page (issue 28): a person chooses a GPX in the page's file picker, sees what it
will add, adds it, and a second tab draws it; the HTTP routes behind it (a preview that commits
nothing, a commit, the downloads for owner and view links, the limits) with a real server."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

import gpxpy
import httpx
import pytest
import trio
from support import Browser, start_server
from support.chromium import TILES, Chromium, Tab, artifact, importing_tabs, in_chromium, new_context

from mapsrv.server import Server

GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <wpt lat="46.5197" lon="6.6323"><ele>372</ele><name>Lausanne &lt;gare&gt;</name></wpt>
  <wpt lat="46.2044" lon="6.1432"><name>Genève</name></wpt>
  <trk><name>Lakeside</name><trkseg>
    <trkpt lat="46.5197" lon="6.6323"><ele>372</ele><time>2026-06-01T08:00:00Z</time></trkpt>
    <trkpt lat="46.4600" lon="6.4000"><ele>380</ele><time>2026-06-01T09:00:00Z</time></trkpt>
    <trkpt lat="46.3800" lon="6.2400"><ele>375</ele><time>2026-06-01T10:00:00Z</time></trkpt>
    <trkpt lat="46.2044" lon="6.1432"><ele>374</ele><time>2026-06-01T11:00:00Z</time></trkpt>
  </trkseg></trk>
</gpx>
"""


async def test_preview_commits_nothing_and_the_commit_is_one_batch(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    owner = Browser(server.url)
    try:
        map_id = await owner.new_map()
        before = (await server.hub.get(map_id)).state.version
        preview = await owner.client.post(
            f"/m/{map_id}/import?preview=1&filename=ride.gpx", content=GPX.encode()
        )
        assert preview.status_code == 200, preview.text
        shown = preview.json()
        assert shown["format"] == "gpx" and shown["kinds"] == {"marker": 2, "polyline": 1}
        assert len(shown["preview"]["features"]) == 3
        assert shown["bbox"] == [[46.2044, 6.1432], [46.5197, 6.6323]]
        assert (await server.hub.get(map_id)).state.version == before, "a preview wrote"

        added = await owner.client.post(f"/m/{map_id}/import?filename=ride.gpx", content=GPX.encode())
        assert added.status_code == 200, added.text
        answer = added.json()
        state = (await server.hub.get(map_id)).state
        assert answer["version"] == state.version and answer["added"] == 3
        assert {f.label for f in state.features.values()} == {"Lausanne <gare>", "Genève", "Lakeside"}
        change = (await server.hub.get(map_id)).history.activity()[-1]
        assert change["version"] == state.version, "one batch: one change"

        # Another person, and the view link, cannot import.
        stranger = Browser(server.url)
        try:
            refused = await stranger.client.post(f"/m/{map_id}/import", content=GPX.encode())
            assert refused.status_code in (403, 404), refused.text
        finally:
            await stranger.aclose()
        view_key = (await server.hub.get(map_id)).view_key
        refused = await owner.client.post(f"/v/{view_key}/import", content=GPX.encode())
        assert refused.status_code in (404, 405)
        assert (await server.hub.get(map_id)).state.version == state.version

        broken = await owner.client.post(f"/m/{map_id}/import?filename=x.gpx", content=b"<gpx><wpt></gpx>")
        assert broken.status_code == 400
        assert "line 1" in broken.json()["error"]["message"]
    finally:
        await owner.aclose()


async def test_downloads_for_owner_and_viewer(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    owner = Browser(server.url)
    try:
        map_id = await owner.new_map()
        assert (
            await owner.client.post(f"/m/{map_id}/import?filename=r.gpx", content=GPX.encode())
        ).is_success
        await owner.ops(map_id, {"op": "set_title", "title": 'Lake "trip"\r\nX-Evil: 1'})
        view_key = (await server.hub.get(map_id)).view_key
        viewer = httpx_client(server)
        try:
            for prefix, client in ((f"/m/{map_id}", owner.client), (f"/v/{view_key}", viewer)):
                gpx = await client.get(prefix + "/export.gpx")
                assert gpx.status_code == 200 and gpx.headers["content-type"].startswith(
                    "application/gpx+xml"
                )
                assert gpx.headers["content-disposition"] == 'attachment; filename="Lake-trip-X-Evil-1.gpx"'
                parsed = gpxpy.parse(gpx.text)
                assert [w.name for w in parsed.waypoints] == ["Lausanne <gare>", "Genève"]
                points = [p for t in parsed.tracks for s in t.segments for p in s.points]
                assert [p.elevation for p in points] == [372, 380, 375, 374]
                kml = await client.get(prefix + "/export.kml")
                assert kml.status_code == 200 and b"Lakeside" in kml.content
                table = await client.get(prefix + "/export.csv")
                rows = list(csv.DictReader(io.StringIO(table.text)))
                assert {r["label"] for r in rows} == {"Lausanne <gare>", "Genève", "Lakeside"}
                geojson = await client.get(prefix + "/export.geojson")
                assert len(geojson.json()["features"]) == 3
            assert map_id not in (await viewer.get(f"/v/{view_key}/export.kml")).text
            more = [{"op": "add_feature", "type": "marker", "coords": [46, i / 100]} for i in range(50)]
            assert (await owner.ops(map_id, *more)).is_success
            packed = await viewer.get(f"/v/{view_key}/export.gpx", headers={"Accept-Encoding": "gzip"})
            assert packed.headers.get("content-encoding") == "gzip", "an export is packed like /geojson"
            assert len(gpxpy.parse(packed.text).waypoints) == 52
            assert (await viewer.get(f"/v/{view_key}/export.shp")).status_code == 404
            point = {"type": "Point", "coordinates": [6, 46]}
            feature = {"type": "Feature", "geometry": point, "properties": {"t": {"a": [1]}}}
            nested = {"op": "import_geojson", "geojson": feature}
            assert (await owner.ops(map_id, nested)).is_success
            table = await viewer.get(f"/v/{view_key}/export.csv")
            notes = json.loads(table.headers["x-mapsrv-notes"])  # what the download could not hold
            assert "1 nested value written as JSON text: CSV cells hold text" in notes
            assert list(csv.DictReader(io.StringIO(table.text)))[-1]["t"] == '{"a":[1]}'
        finally:
            await viewer.aclose()
    finally:
        await owner.aclose()


def httpx_client(server: Server) -> httpx.AsyncClient:
    """A client with no cookie: someone who only has the view link."""
    return httpx.AsyncClient(base_url=server.url.rstrip("/"), timeout=10)


async def test_a_file_over_the_limit_names_the_limit(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, max_file_size=64 * 1024)
    owner = Browser(server.url)
    try:
        map_id = await owner.new_map()
        big = GPX.replace("</gpx>", "<!--" + "x" * 70_000 + "--></gpx>").encode()
        refused = await owner.client.post(f"/m/{map_id}/import", content=big)
        assert refused.status_code == 413
        message = refused.json()["error"]["message"]
        assert "65536 bytes" in message and "MAPSRV_MAX_FILE_SIZE" in message
        fits = await owner.client.post(f"/m/{map_id}/import?filename=a.gpx", content=GPX.encode())
        assert fits.status_code == 200, fits.text
    finally:
        await owner.aclose()


@pytest.mark.browser
async def test_a_person_imports_a_gpx_from_the_file_picker(nursery: trio.Nursery, tmp_path: Path) -> None:
    server = await start_server(nursery, tile_url=TILES)
    ride = tmp_path / "lakeside ride.gpx"
    ride.write_text(GPX)
    shot = artifact("import-preview.png", tmp_path)
    kml = tmp_path / "sites.kml"
    kml.write_text(
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Folder><name>Sites</name>'
        "<Placemark><name>Château de Chillon</name><Point><coordinates>6.9275,46.4142</coordinates>"
        "</Point></Placemark></Folder></Document></kml>"
    )
    kmz = tmp_path / "more sites.kmz"
    with zipfile.ZipFile(kmz, "w") as archive:
        archive.writestr("doc.kml", kml.read_text().replace("Château de Chillon", "Montreux"))
    sheet = tmp_path / "stops.csv"
    sheet.write_text("name;latitude;longitude\nVevey;46,4628;6,8419\nMorges;46,5113;6,4985\n")
    geojson = tmp_path / "point.geojson"
    geojson.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "Nyon"},'
        ' "geometry": {"type": "Point", "coordinates": [6.2396, 46.3833]}}]}'
    )
    others = [
        (kml, "KML: 1 marker", "Château de Chillon"),
        (kmz, "KMZ: 1 marker", "Montreux"),
        (sheet, "CSV: 2 markers", "Morges"),
        (geojson, "GeoJSON: 1 marker", "Nyon"),
    ]

    def body(chromium: Chromium) -> None:
        tab, other = importing_tabs(chromium, server)
        page = tab.page
        with page.expect_file_chooser() as chooser:
            page.locator("#import-open").click()
        chooser.value.set_files(str(ride))
        dialog = page.locator("#import")
        dialog.get_by_text("GPX: 2 markers, 1 line").wait_for()
        page.locator(".mapsrv-import-preview").first.wait_for(state="attached")
        page.screenshot(path=str(shot))
        shutil.copyfile(shot, "/tmp/import-preview.png")
        assert page.evaluate("document.body.dataset.drawnVersion") == "0", "a preview is not a change"
        dialog.get_by_role("button", name="Add to map").click()
        page.locator("#import-status", has_text="Added 2 markers, 1 line").wait_for()
        version = int(page.evaluate("document.body.dataset.importedVersion"))
        for seen in (tab, other):
            seen.page.wait_for_function(
                "(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version, polling=50
            )
            seen.label("Lausanne <gare>").wait_for()
        assert page.locator(".mapsrv-import-preview").count() == 0
        assert page.locator("#export-formats a[data-format=gpx]").get_attribute("href") == (
            f"/m/{tab.map_id}/export.gpx"
        )

        # The other formats through the same picker, each previewed and added as one change.
        for path, summary, label in others:
            with page.expect_file_chooser() as chooser:
                page.locator("#import-open").click()
            chooser.value.set_files(str(path))
            dialog.get_by_text(summary).wait_for()
            dialog.get_by_role("button", name="Add to map").click()
            page.locator("#import-status", has_text="from " + path.name).wait_for()
            version = int(page.evaluate("document.body.dataset.importedVersion"))
            other.page.wait_for_function(
                "(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version, polling=50
            )
            other.label(label).wait_for()
        tab.check_clean()
        other.check_clean()

    await in_chromium(body)


@pytest.mark.browser
async def test_a_viewer_sees_a_features_attributes_as_text(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, tile_url=TILES)
    owner = Browser(server.url)
    try:
        map_id = await owner.new_map()
        sheet = "name,lat,lon,visitors,note\nOffice,46.30,6.45,120,<b>bold</b>\n"
        added = await owner.client.post(f"/m/{map_id}/import?format=csv", content=sheet.encode())
        assert added.status_code == 200, added.text
        ride = await owner.client.post(f"/m/{map_id}/import?filename=r.gpx", content=GPX.encode())
        assert ride.status_code == 200, ride.text
        point = {"type": "Point", "coordinates": [6.5, 46.35]}
        tagged = {
            "type": "Feature",
            "geometry": point,
            "properties": {"name": "Tagged", "tags": {"wiki": "Q807"}},
        }
        nested = await owner.client.post(
            f"/m/{map_id}/import?format=geojson", content=json.dumps(tagged).encode()
        )
        assert nested.status_code == 200, nested.text
        version = nested.json()["version"]
        view_key = (await server.hub.get(map_id)).view_key
    finally:
        await owner.aclose()

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, server, viewport={"width": 1280, "height": 800})
        tab = Tab.open(context, f"/v/{view_key}", badge="view-only")
        page = tab.page
        page.wait_for_function("(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version)
        office = page.evaluate(
            "() => window.mapsrv.featureIds().find((id) => window.mapsrv.feature(id).label === 'Office')"
        )
        page.locator(f'[data-feature-id="{office}"]').click()
        attributes = page.locator(".leaflet-popup .mapsrv-attributes")
        attributes.wait_for()
        # every column the file had, those read for the position and the label as well, in its order
        assert attributes.locator("dt").all_inner_texts() == ["name", "lat", "lon", "visitors", "note"]
        assert attributes.locator("dd").all_inner_texts() == ["Office", "46.3", "6.45", "120", "<b>bold</b>"]
        assert page.locator(".leaflet-popup .mapsrv-popup").inner_text().startswith("<b>bold</b>")
        assert page.locator(".leaflet-popup b").count() == 0, "a file's text became markup"
        page.keyboard.press("Escape")
        track = page.evaluate(
            "() => window.mapsrv.featureIds().find((id) => window.mapsrv.feature(id).label === 'Lakeside')"
        )
        text = page.evaluate(
            "async (id) => { const { page } = await import('/static/map.js');"
            " const l = page.features.get(id).layer; l.openPopup();"
            " return Array.from(l.getPopup().getElement().querySelectorAll('dt, dd'),"
            " (e) => e.textContent).join(' '); }",
            track,
        )
        assert "372 – 380 (4 points)" in text, text
        assert "2026-06-01T08:00:00Z – 2026-06-01T11:00:00Z (4 points)" in text, text
        tagged = page.evaluate(
            "() => window.mapsrv.featureIds().find((id) => window.mapsrv.feature(id).label === 'Tagged')"
        )
        text = page.evaluate(
            "async (id) => { const { page } = await import('/static/map.js');"
            " const l = page.features.get(id).layer; l.openPopup();"
            " return Array.from(l.getPopup().getElement().querySelectorAll('dd'), (e) => e.textContent); }",
            tagged,
        )
        assert '{"wiki":"Q807"}' in text, "a nested value as its JSON text, not [object Object]"
        tab.check_clean()

    await in_chromium(body)
