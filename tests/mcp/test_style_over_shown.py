"""Classes over what is shown (issue 76): Gapminder's countries by year (a real table, 12 years a
country) joined to their outlines and styled by GDP per head with the time window on 2007 get
2007's breaks, mapclassify's on the 2007 values, and 2007's counts; ``over: "all"`` gives the
breaks over every year, as the style says; a window that shows nothing is refused saying how to
widen it; the legend (page and image) says what the classes are over."""

from __future__ import annotations

import re
import warnings
from typing import Any

import mapclassify
import pytest
import trio
from mcp import Client
from mcp.types import CallToolResult
from support import start_server
from support.gapminder import gapminder_csv, gapminder_rows

from mapsrv.image.legend import legend_lines

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # mapclassify: "Numba not installed"

COUNTRIES = (
    "France", "Germany", "Italy", "Spain", "Poland", "Sweden", "Norway", "Japan", "China", "India",
    "Brazil", "Argentina", "Chile", "Peru", "Mexico", "Canada", "Egypt", "Nigeria", "Kenya", "Ghana",
    "Morocco", "Algeria", "Ethiopia", "Australia", "New Zealand", "Indonesia", "Thailand", "Vietnam",
    "Pakistan", "Bangladesh",
)  # fmt: skip


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def gdp(years: set[str]) -> list[float]:
    return [
        float(r["gdpPercap"]) for r in gapminder_rows() if r["country"] in COUNTRIES and r["year"] in years
    ]


def quantiles(values: list[float]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mapclassify.Quantiles(values, k=5)


async def test_classes_with_a_time_window_are_over_the_year_shown(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    table = gapminder_csv(COUNTRIES, None, ("country", "year", "gdpPercap"))
    window = {"property": "year", "from": 2007, "to": 2007}
    async with Client(server.url + "mcp") as agent:
        with trio.fail_after(60):
            imported = structured(await agent.call_tool("import", {"content": table, "join": "countries"}))
        # one outline per country holding its 12 years (issue 76)
        assert imported["added"] == len(COUNTRIES) and "unresolved" not in imported
        map_id, layer = imported["map_id"], "default"
        ask = {"map_id": map_id, "layer": layer, "by": "gdpPercap", "method": "quantiles", "time": window}
        styled = structured(await agent.call_tool("style_layer", ask))
        ref = quantiles(gdp({"2007"}))
        assert styled["style"]["over"] == "shown"
        assert styled["style"]["breaks"][1:] == pytest.approx(ref.bins.tolist())
        assert [c["count"] for c in styled["classes"]] == ref.counts.tolist()  # 6 a class: quintiles
        everything = structured(await agent.call_tool("style_layer", {**ask, "over": "all"}))
        every_year = quantiles(gdp({r["year"] for r in gapminder_rows()}))
        assert everything["style"]["over"] == "all"
        assert everything["style"]["breaks"][1:] == pytest.approx(every_year.bins.tolist())
        assert everything["style"]["breaks"] != styled["style"]["breaks"]
        empty = await agent.call_tool(
            "style_layer", {**ask, "time": {"property": "year", "from": 1900, "to": 1901}}
        )
        assert empty.is_error
        assert "the time window shows none of the 30 features of layer 'default'" in empty.content[0].text
        assert "pass over 'all'" in empty.content[0].text
        # sized circles: the largest is 2007's, and their one colour is given as colors (the tool's)
        sized = {"map_id": map_id, "layer": layer, "by": "gdpPercap", "kind": "proportional", "time": window}
        circles = structured(await agent.call_tool("style_layer", {**sized, "colors": ["#cc0000"]}))
        assert circles["style"]["color"] == "#cc0000" and circles["style"]["over"] == "shown"
        assert circles["style"]["max_value"] == max(gdp({"2007"}))
        await agent.call_tool("style_layer", ask)
        image = await agent.call_tool("map_image", {"map_id": map_id})
        caption = " ".join(c.text for c in image.content if c.type == "text")
        assert "layer 'default' at 2007" in caption, caption
        wrong = await agent.call_tool("style_layer", {**ask, "over": "visible"})
        assert wrong.is_error and "over" in wrong.content[0].text
    rows = legend_lines("countries", styled["style"], styled)
    assert ("note", "classes over 2007") in rows
    # the legend writes the breaks as the labels write the values (issue 76: the data's own terms)
    dollars = legend_lines("countries", {**styled["style"], "label": "{country}: {gdpPercap:,.0f}"}, styled)
    swatches = [text for kind, (_, text, _) in ((k, v) for k, v in dollars if k == "swatch") for _ in [0]]
    assert all(re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})* – [0-9]{1,3}(,[0-9]{3})*", t) for t in swatches), (
        swatches
    )
    assert swatches[0] == f"{styled['style']['breaks'][0]:,.0f} – {styled['style']['breaks'][1]:,.0f}"
    assert ("note", "classes over all features") in legend_lines("countries", everything["style"], everything)


def test_the_image_names_the_time_window_it_shows() -> None:
    style = {"kind": "graduated", "by": "v", "breaks": [0, 1, 2], "colors": ["#fee", "#f00"]}
    rows = legend_lines(
        "years", {**style, "time": {"property": "year", "from": 2007, "to": 2007}, "over": "shown"}
    )
    assert ("note", "shown: 2007") in rows and ("note", "classes over 2007") in rows
    assert ("note", "shown: 1952 to 2007") in legend_lines(
        "years", {**style, "time": {"from": 1952, "to": 2007}}
    )
