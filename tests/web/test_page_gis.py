"""A person drops a zipped Shapefile (Lambert-93, Latin-1 text) on the page in a real Chromium
(issue 61): the page says a file is being dragged, previews what the file adds, adds it as one
change that a second tab draws, and offers the map back as Shapefile, GeoPackage, FlatGeobuf and
GeoParquet, each a download GDAL reads."""

from __future__ import annotations

import base64
from pathlib import Path

import pyarrow as pa
import pyogrio
import pytest
import shapely
import trio
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, importing_tabs, in_chromium, new_context
from support.gis_files import countries, project, shapefile_zip

TOWNS = {"Besançon": (6.0241, 47.2378), "Orléans": (1.9093, 47.9030), "Nîmes": (4.3601, 43.8367)}

DROP = """async ([name, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type: 'application/zip' }));
  const fire = (type) => document.body.dispatchEvent(
    new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
  fire('dragenter');
  fire('dragover');
  const shown = !document.getElementById('drop-zone').hidden;
  fire('drop');
  return shown;
}"""


def towns_zip() -> bytes:
    lon, lat = zip(*TOWNS.values(), strict=True)
    points = project(shapely.points(lon, lat), "EPSG:2154")
    table = pa.table({"NOM": list(TOWNS), "geometry": shapely.to_wkb(points)})
    return shapefile_zip({"villes": (table, "EPSG:2154", "Point")}, folder="villes/", encoding="ISO-8859-1")


@pytest.mark.browser
async def test_a_person_drops_a_zipped_shapefile_on_the_page(nursery: trio.Nursery, tmp_path: Path) -> None:
    server = await start_server(nursery, tile_url=TILES)
    data = towns_zip()
    shot = artifact("import-shapefile.png", tmp_path)

    def body(chromium: Chromium) -> dict[str, bytes]:
        tab, other = importing_tabs(chromium, server)
        page = tab.page
        assert page.evaluate(DROP, ["villes.zip", base64.b64encode(data).decode()]), "no drop zone shown"
        dialog = page.locator("#import")
        dialog.get_by_text("Shapefile: 3 markers").wait_for()
        assert page.locator("#drop-zone").is_hidden()
        notes = dialog.locator("#import-notes li").all_inner_texts()
        assert "shapefile villes reprojected from EPSG:2154 (RGF93 v1 / Lambert-93) to WGS84" in notes
        page.locator(".mapsrv-import-preview").first.wait_for(state="attached")
        page.screenshot(path=str(shot))
        dialog.get_by_role("button", name="Add to map").click()
        page.locator("#import-status", has_text="Added 3 markers from villes.zip").wait_for()
        version = int(page.evaluate("document.body.dataset.importedVersion"))
        other.page.wait_for_function(
            "(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version, polling=50
        )
        for name in TOWNS:
            other.label(name).wait_for()
        page.locator("#export-formats summary", has_text="More").click()  # the GIS formats drop down
        links = page.locator("#export-formats a")
        offered = {link.get_attribute("data-format"): link.inner_text() for link in links.all()}
        assert offered == {
            "gpx": "GPX",
            "kml": "KML",
            "csv": "CSV",
            "shp": "Shapefile",
            "gpkg": "GeoPackage",
            "fgb": "FlatGeobuf",
            "parquet": "GeoParquet",
        }
        files = {}
        for fmt in ("shp", "gpkg", "fgb", "parquet"):
            href = page.locator(f"#export-formats a[data-format={fmt}]").get_attribute("href")
            assert href == f"/m/{tab.map_id}/export." + ("shp.zip" if fmt == "shp" else fmt)
            with page.expect_download() as download:
                page.locator(f"#export-formats a[data-format={fmt}]").click()
            files[fmt] = Path(download.value.path()).read_bytes()
        tab.check_clean()
        other.check_clean()
        return files

    files = await in_chromium(body)
    for fmt in ("shp", "gpkg", "fgb"):
        meta, table = pyogrio.read_arrow(files[fmt])
        assert sorted(table.column("NOM").to_pylist()) == sorted(TOWNS), fmt
        geometries = shapely.from_wkb(table.column(meta["geometry_name"] or "wkb_geometry").to_numpy(False))
        got = {name: (g.x, g.y) for name, g in zip(table.column("NOM").to_pylist(), geometries, strict=True)}
        for name, (lon, lat) in TOWNS.items():
            assert abs(got[name][0] - lon) < 1e-7 and abs(got[name][1] - lat) < 1e-7, (fmt, name)
    assert files["parquet"].startswith(b"PAR1")


TITLES = """() => {
  window.__titles = [];
  const title = document.getElementById('import-title');
  new MutationObserver(() => window.__titles.push(title.textContent))
    .observe(title, { childList: true, characterData: true, subtree: true });
}"""


@pytest.mark.browser
async def test_a_big_files_upload_shows_its_progress(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, tile_url=TILES)
    names, outlines = countries("50m")
    table = pa.table({"name": names, "geometry": shapely.to_wkb(outlines)})
    data = shapefile_zip({"world": (table, "EPSG:4326", "MultiPolygon")})
    assert len(data) > 1_000_000

    def body(chromium: Chromium) -> list[str]:
        context = new_context(chromium, server, viewport={"width": 1280, "height": 800})
        tab = Tab.open(context)
        page = tab.page
        page.evaluate(TITLES)
        network = context.new_cdp_session(page)
        network.send("Network.enable")
        network.send(  # 2 Mbit/s up: a second or two for the file
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 250_000},
        )
        page.evaluate(DROP, ["world.zip", base64.b64encode(data).decode()])
        page.locator("#import-title", has_text="Add world.zip?").wait_for(timeout=60_000)
        assert page.locator("#import-summary").inner_text().startswith("Shapefile: ")
        tab.check_clean()
        return list(page.evaluate("window.__titles"))

    titles = await in_chromium(body)
    sending = [t for t in titles if t.startswith("Sending world.zip… ") and t.endswith(" %")]
    assert sending, titles
    assert "Reading world.zip…" in titles and titles[-1] == "Add world.zip?"


@pytest.mark.browser
async def test_a_shapefile_without_prj_is_read_by_choosing_its_system_in_the_page(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """Issue 75: a Shapefile of Lambert-93 metres without its .prj is no dead end: the dialog says
    why, offers the systems whose area of use holds its numbers (Lambert-93 among them), and the
    one chosen reads it where it is."""
    server = await start_server(nursery, tile_url=TILES)
    lon, lat = zip(*TOWNS.values(), strict=True)
    points = project(shapely.points(lon, lat), "EPSG:2154")
    table = pa.table({"NOM": list(TOWNS), "geometry": shapely.to_wkb(points)})
    data = shapefile_zip({"villes": (table, None, "Point")})  # no .prj

    def body(chromium: Chromium) -> None:
        tab, other = importing_tabs(chromium, server)
        page = tab.page
        page.evaluate(DROP, ["villes.zip", base64.b64encode(data).decode()])
        dialog = page.locator("#import")
        page.locator("#import-error", has_text="names no coordinate reference system").wait_for()
        assert page.locator("#import-crs-row").is_visible()
        offered = page.locator("#import-crs-list option").evaluate_all("(os) => os.map((o) => o.value)")
        assert "EPSG:2154" in offered and "EPSG:27700" not in offered, offered
        assert dialog.get_by_role("button", name="Add to map").is_disabled()
        page.fill("#import-crs", "EPSG:2154")
        page.press("#import-crs", "Enter")
        dialog.get_by_text("Shapefile: 3 markers").wait_for()
        notes = dialog.locator("#import-notes li").all_inner_texts()
        assert "shapefile villes reprojected from EPSG:2154 (RGF93 v1 / Lambert-93) to WGS84" in notes
        page.screenshot(path=str(artifact("import-crs.png", tmp_path)))
        dialog.get_by_role("button", name="Add to map").click()
        page.locator("#import-status", has_text="Added 3 markers from villes.zip").wait_for()
        version = int(page.evaluate("document.body.dataset.importedVersion"))
        other.page.wait_for_function(
            "(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version, polling=50
        )
        for name, (x, y) in TOWNS.items():
            found = other.page.evaluate(
                "(n) => { for (const id of window.mapsrv.featureIds()) { const f = window.mapsrv.feature(id);"
                " if (f.label === n) return f.coords; } return null; }",
                name,
            )
            assert found == pytest.approx([y, x], abs=1e-6), name
        tab.check_clean()
        other.check_clean()

    await in_chromium(body)
