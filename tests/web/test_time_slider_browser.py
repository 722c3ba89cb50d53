"""The time slider over a real table (issues 58 and 76): Gapminder's GDP per head by country, an
integer year column every five years, imported with ``join`` (one outline per country holding
its rows by year) and styled with a time window by an agent over MCP, watched in Chromium through
the map's view link. The slider's steps are the years the table holds; its last step is reachable
from the keyboard, by stepping and by Play, and back; each step fills each country with its class
at that year (the colours the server's own rules give its row then), read from the page's
elements once the page has drawn the version it reports; rows of a later year arriving while the
page is open become its new last step."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import trio
from mcp import Client
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context
from support.gapminder import gapminder_csv

from mapsrv.core import MapState
from mapsrv.core.layer_style import color_of, shown
from mapsrv.core.series import props_at
from mapsrv.server import Server

pytestmark = pytest.mark.browser
VIEWPORT = {"width": 1100, "height": 750}
# one with several parts (South Korea's islands), the rest one each: 144 outlines, an SVG path each
COUNTRIES = ("Korea, Rep.", "Kenya", "Peru", "Mongolia", "Bolivia", "Poland", "Egypt", "Nepal")
YEARS = tuple(range(1952, 2008, 5))
FILLS = (
    "() => Object.fromEntries(Array.from(document.querySelectorAll('path[data-feature-id]'),"
    " (e) => [e.dataset.featureId, e.getAttribute('fill')]))"
)


def wait_drawn(tab: Tab, version: int) -> None:
    tab.page.wait_for_function(
        "(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version, polling=30
    )


def expect(tab: Tab, fills: dict[str, str]) -> None:
    """The page shows exactly these features filled so, once the window it was given is drawn."""
    tab.page.wait_for_function(
        f"(want) => {{ const got = ({FILLS})(); return Object.keys(got).length === Object.keys(want).length"
        " && Object.entries(want).every(([id, fill]) => got[id] === fill); }",
        arg=fills,
    )


def fills(state: MapState, start: int, end: int) -> dict[str, str]:
    """Each feature the window from ``start`` to ``end`` shows, and its class's colour then, by the
    server's rules (``mapsrv.core.series``, ``mapsrv.core.style_rules``)."""
    style = state.layers["default"].style
    assert style is not None
    window = {"property": "year", "from": start, "to": end}
    style = {**style, "time": window}
    out = {}
    for f in state.features.values():
        props = props_at(f, window)
        if shown(style, props):
            color = color_of(style, props)
            assert color is not None
            out[f.id] = color
    return out


async def test_the_slider_steps_through_the_years_to_the_last_and_back(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server: Server = await start_server(nursery, tile_url=TILES)
    async with Client(server.url + "mcp") as agent:
        table = gapminder_csv(COUNTRIES, YEARS[:-1], ("country", "year", "gdpPercap"))
        imported = await agent.call_tool("import", {"content": table, "join": "countries"})
        assert not imported.is_error, imported.content
        answer = imported.structured_content
        assert answer is not None and answer["added"] == len(COUNTRIES) and "unresolved" not in answer
        map_id = answer["map_id"]
        style = {"map_id": map_id, "layer": "default", "by": "gdpPercap", "method": "jenks", "classes": 4}
        style["label"] = "{gdpPercap:,.0f}"  # dollars without cents: the legend writes its breaks so
        styled = await agent.call_tool(
            "style_layer", {**style, "time": {"property": "year", "from": 1952, "to": 1952}}
        )
        assert not styled.is_error, styled.content
        assert styled.structured_content is not None
        assert styled.structured_content["times"] == {"count": 11, "first": 1952, "last": 2002}
        version = styled.structured_content["version"]
    entry = await server.hub.get(map_id)
    viewer = f"/v/{entry.view_key}"  # the view link: any browser may watch it
    by_year = {y: fills(entry.state, y, y) for y in YEARS[:-1]}
    assert all(len(by_year[y]) == len(COUNTRIES) for y in YEARS[:-1])
    assert len({tuple(sorted(by_year[y].items())) for y in YEARS[:-1]}) > 3, "the fills change with the years"

    async def later_rows() -> int:
        async with Client(server.url + "mcp") as agent:
            rows = gapminder_csv(COUNTRIES, YEARS[-1:], ("country", "year", "gdpPercap"))
            added = await agent.call_tool("import", {"map_id": map_id, "content": rows, "join": "countries"})
            assert not added.is_error, added.content
            assert added.structured_content is not None
            return int(added.structured_content["version"])

    async def year_of(year: int) -> dict[str, str]:
        return fills((await server.hub.get(map_id)).state, year, year)

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, server, viewport=VIEWPORT)
        tab = Tab.open(context, viewer, badge="view-only")
        page = tab.page
        wait_drawn(tab, version)
        expect(tab, by_year[1952])
        values = page.locator(".mapsrv-legend-time-value")
        assert values.all_inner_texts() == ["1952", "1952"]  # years, as the table writes them
        assert page.locator(".mapsrv-legend-time").get_attribute("data-steps") == "11"
        # the classes are 1952's, the window styled with, and stay as Play moves it (issue 76)
        assert page.locator(".mapsrv-legend-over").inner_text() == "classes over 1952"
        ranges = page.locator(".mapsrv-legend-row .mapsrv-legend-value").all_inner_texts()[:4]
        assert all(re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})* – [0-9]{1,3}(,[0-9]{3})*", r) for r in ranges), (
            ranges
        )
        # the keyboard: "To" to the last year, then "From" too: the last year alone
        page.locator('.mapsrv-legend-slider[data-end="to"]').focus()
        page.keyboard.press("End")
        expect(tab, fills(entry.state, 1952, 2002))  # each country's 2002, its latest inside
        page.locator('.mapsrv-legend-slider[data-end="from"]').focus()
        page.keyboard.press("End")
        expect(tab, by_year[2002])  # the same fills as 1952-2002: the window's years say it moved
        _years_shown(page, "2002")
        page.screenshot(path=str(artifact("time-slider-last.png", tmp_path)), animations="disabled")
        # and back, a step at a time, each step its year
        back = page.get_by_role("button", name="Step back")
        for year in reversed(YEARS[:-2]):
            back.click()
            expect(tab, by_year[year])
        back.click()  # at the first step: it stays
        expect(tab, by_year[1952])
        # Play runs to the last step and stops there
        page.get_by_role("button", name="Play through the times").click()
        expect(tab, by_year[2002])
        page.wait_for_function(
            "() => document.querySelector('.mapsrv-legend-time-button[aria-pressed]').textContent === 'Play'"
        )
        # rows of a later year, imported while the page is open: its new last step
        newer = trio.from_thread.run(later_rows)
        wait_drawn(tab, newer)
        page.wait_for_function("() => document.querySelector('.mapsrv-legend-time').dataset.steps === '12'")
        later = trio.from_thread.run(year_of, 2007)
        page.get_by_role("button", name="Step forward").click()
        expect(tab, later)
        _years_shown(page, "2007")
        page.get_by_role("button", name="Step forward").click()  # the last step: it stays
        expect(tab, later)
        tab.check_clean()

    await in_chromium(body)


def _years_shown(page: Any, year: str) -> None:
    """Waits until the legend's window says ``year`` at both ends."""
    page.wait_for_function(
        "year => [...document.querySelectorAll('.mapsrv-legend-time-value')]"
        ".every(v => v.textContent === year)",
        arg=year,
    )
    assert page.locator(".mapsrv-legend-time-value").all_inner_texts() == [year, year]
