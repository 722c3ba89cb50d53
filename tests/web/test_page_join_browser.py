"""A person imports a table of countries in the page, in a real Chromium: the import dialog offers
to join its rows to countries, prefills the column the server picked, says how many rows matched
and which did not (as text: a column and a value written as markup stay text), previews again
when the person picks another column, and adds the outlines as one change a second tab draws; a
table of states takes its country from the dialog's box, and an unknown one is said as text."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, importing_tabs, in_chromium, new_context

TABLE = (
    "country,gdp_per_head,<i>note</i>\n"
    "France,44747,a\nGermany,51384,b\nAtlantis,1,c\nJapan,33834,d\n<b>Narnia</b>,2,e\n"
)
READ = "() => /^(Add|Cannot add) gdp.csv/.test(document.getElementById('import-title').textContent)"
OUTLINES = "() => document.querySelectorAll('[data-feature-type$=\"polygon\"]').length"


@pytest.mark.browser
async def test_a_person_joins_a_table_of_countries(nursery: trio.Nursery, tmp_path: Path) -> None:
    server = await start_server(nursery, tile_url=TILES)
    sheet = tmp_path / "gdp.csv"
    sheet.write_text(TABLE)
    shot = artifact("import-join.png", tmp_path)

    def body(chromium: Chromium) -> None:
        tab, other = importing_tabs(chromium, server)
        page = tab.page
        with page.expect_file_chooser() as chooser:
            page.locator("#import-open").click()
        chooser.value.set_files(str(sheet))
        dialog = page.locator("#import")
        page.locator("#import-join").wait_for()  # a table: the join is offered before anything is read
        assert page.locator("#import-key-row").is_hidden() and page.locator("#import-country-row").is_hidden()
        page.wait_for_function(READ)

        page.select_option("#import-join-to", "countries")
        matched = dialog.locator(".import-joined")
        matched.wait_for()
        assert matched.inner_text() == (
            "3 of 5 rows matched to countries by column “country”;"
            " unmatched: Atlantis (not a country), <b>Narnia</b> (not a country)."
        )
        notes = dialog.locator("#import-notes li").all_inner_texts()
        assert not any(note.startswith("joined ") for note in notes), "the join said once"
        assert page.locator("#import-key").input_value() == "country", "the server's column, prefilled"
        options = page.locator("#import-key option").all_inner_texts()
        assert options == ["(as found)", "country", "gdp_per_head", "<i>note</i>"]
        assert page.locator("#import-country-row").is_hidden(), "a country only for regions"
        page.wait_for_function(
            "() => document.querySelectorAll('.mapsrv-import-preview').length === 3", polling=50
        )
        page.screenshot(path=str(shot))

        # Another column matches nothing: said, and nothing to add; back to the country column.
        page.select_option("#import-key", "<i>note</i>")
        page.locator("#import-error", has_text="file must hold at least one feature").wait_for()
        assert dialog.get_by_role("button", name="Add to map").is_disabled()
        page.select_option("#import-key", "country")
        matched.wait_for()
        assert page.evaluate("document.body.dataset.drawnVersion") == "0", "a preview is not a change"

        dialog.get_by_role("button", name="Add to map").click()
        page.locator("#import-status", has_text="from gdp.csv").wait_for()
        version = int(page.evaluate("document.body.dataset.importedVersion"))
        for seen in (tab, other):
            seen.page.wait_for_function(
                "(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version, polling=50
            )
            assert seen.page.evaluate(OUTLINES) == 3
        other.label("Japan").wait_for()
        assert page.locator(".mapsrv-import-preview").count() == 0
        tab.check_clean()
        other.check_clean()

    await in_chromium(body)


@pytest.mark.browser
async def test_regions_take_a_country_from_the_dialog(nursery: trio.Nursery, tmp_path: Path) -> None:
    server = await start_server(nursery, tile_url=TILES)
    sheet = tmp_path / "votes.csv"
    sheet.write_text("state,votes\nCA,55\nTexas,40\nOntario,3\n")

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, server, viewport={"width": 1280, "height": 800})
        tab = Tab.open(context)
        page = tab.page
        page.locator("#import-open").wait_for()
        with page.expect_file_chooser() as chooser:
            page.locator("#import-open").click()
        chooser.value.set_files(str(sheet))
        page.select_option("#import-join-to", "regions")
        page.locator("#import-country-row").wait_for()
        page.locator(".import-joined").wait_for()  # without a country: the table's own, or none
        page.fill("#import-country", "US")
        page.press("#import-country", "Enter")
        said = (
            "2 of 3 rows matched to first-level regions by column “state”;"
            " unmatched: Ontario (not a region of US)."
        )
        page.locator(".import-joined", has_text=said).wait_for()
        assert page.locator("#import-key").input_value() == "state"
        page.wait_for_function(
            "() => document.querySelectorAll('.mapsrv-import-preview').length === 2", polling=50
        )
        page.fill("#import-country", "<b>Atlantis</b>")
        page.press("#import-country", "Enter")
        page.locator("#import-error", has_text="country '<b>Atlantis</b>' is not known").wait_for()
        assert page.locator(".mapsrv-import-preview").count() == 0, "a refused preview draws nothing"
        page.get_by_role("button", name="Cancel").click()
        assert page.locator("#import").is_hidden()
        assert page.evaluate("document.body.dataset.drawnVersion") == "0"
        tab.check_clean()

    await in_chromium(body)


RESULTS = (
    "district_id,winner,<i>turnout</i>\n101,Coderre,0.41\n102,Bergeron,0.47\n1O3,Joly,0.52\n101,Joly,0.40\n"
)


@pytest.mark.browser
async def test_a_person_joins_a_results_table_to_a_layer_on_the_map(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """Issue 75: "Join rows to" lists the map's layers; the preview says what matches (as text)
    and changes nothing; the join is one change a second tab draws, and the feature's popup
    shows the joined columns."""
    server = await start_server(nursery, tile_url=TILES)
    sheet = tmp_path / "results.csv"
    sheet.write_text(RESULTS)

    def body(chromium: Chromium) -> None:
        tab, other = importing_tabs(chromium, server)
        page = tab.page
        districts = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": f"d{n}",
                    "properties": {"district_id": str(n)},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[-73.6, 45.5 + i / 100], [-73.59, 45.5 + i / 100],
                                         [-73.59, 45.51 + i / 100], [-73.6, 45.5 + i / 100]]],
                    },
                }
                for i, n in enumerate((101, 102, 103))
            ],
        }  # fmt: skip
        before = tab.ops(
            {"op": "add_layer", "id": "districts", "name": "<b>Districts</b>"},
            {"op": "import_geojson", "geojson": districts, "layer": "districts"},
        )
        page.wait_for_function("(v) => Number(document.body.dataset.drawnVersion) >= v", arg=before)
        with page.expect_file_chooser() as chooser:
            page.locator("#import-open").click()
        chooser.value.set_files(str(sheet))
        page.locator("#import-join").wait_for()
        options = page.locator("#import-join-to option").all_inner_texts()
        assert options == ["(none)", "countries", "first-level regions", "layer “<b>Districts</b>” (3)"]
        page.select_option("#import-join-to", "layer:districts")
        said = page.locator(".import-joined")
        said.wait_for()
        assert said.inner_text() == (
            "2 of 4 rows matched 2 features of layer “<b>Districts</b>” by column “district_id” (their"
            " district_id); unmatched: 1O3 (nearest: 103); repeated, only the first joined: 101 (line 5)."
        )
        assert (
            page.locator("#import-summary").inner_text() == "CSV: columns for 2 features already on the map."
        )
        assert page.locator("#import-key").input_value() == "district_id"
        assert page.evaluate("document.body.dataset.drawnVersion") == str(before), "a preview is not a change"
        page.screenshot(path=str(artifact("import-join-layer.png", tmp_path)))

        page.locator("#import").get_by_role("button", name="Join").click()
        page.locator("#import-status", has_text="from results.csv").wait_for()
        version = int(page.evaluate("document.body.dataset.importedVersion"))
        assert version == before + 1, "one change"
        for seen in (tab, other):
            seen.page.wait_for_function(
                "(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version, polling=50
            )
            joined = seen.page.evaluate("window.mapsrv.feature('d101').properties")
            assert joined == {"district_id": "101", "winner": "Coderre", "<i>turnout</i>": 0.41}
        assert other.page.evaluate("window.mapsrv.feature('d103').properties") == {"district_id": "103"}
        tab.check_clean()
        other.check_clean()

    await in_chromium(body)
