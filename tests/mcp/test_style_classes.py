"""Classes of a real table through the real server, one feature per country: an agent draws
Natural Earth's 177 countries (Polygons and MultiPolygons, with population and GDP) and styles
them by GDP per head with ``style_layer``; the breaks and counts it answers, and ``read`` reports,
are mapclassify's on the same 177 values, whatever the method; a property no country has is
refused with the properties they do have."""

from __future__ import annotations

import warnings
from typing import Any

import mapclassify
import pytest
from mcp import Client
from support.natural_earth import countries_table

from mapsrv.server import Server

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # mapclassify: "Numba not installed"


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def reference(method: str, values: list[float], **options: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "quantiles": mapclassify.Quantiles,
            "equal": mapclassify.EqualInterval,
            "jenks": mapclassify.FisherJenks,
            "std_mean": mapclassify.StdMean,
            "manual": mapclassify.UserDefined,
        }[method](values, **options)


async def test_countries_by_gdp_per_head_are_classed_as_mapclassify_classes_them(server: Server) -> None:
    table = countries_table()
    gdp = [row["properties"]["gdp_per_head"] for row in table["features"]]
    async with Client(server.url + "mcp") as agent:
        drawn = await call(agent, "draw", {"items": [], "geojson": table, "layer": "countries"})
        map_id = drawn["map_id"]
        summary = await call(agent, "read", {"map_id": map_id})
        assert (
            summary["layers"]["countries"]["polygon"] + summary["layers"]["countries"].get("multipolygon", 0)
            == 177
        ), "one feature per country"
        asks: list[tuple[dict[str, Any], dict[str, Any]]] = [
            ({"method": "jenks", "classes": 5}, {"k": 5}),
            ({"method": "quantiles", "classes": 7}, {"k": 7}),
            ({"method": "equal", "classes": 4}, {"k": 4}),
            ({"method": "std_mean", "ramp": "RdBu"}, {}),
            ({"breaks": [0, 2_000, 10_000, 40_000]}, {"bins": [2_000, 10_000, 40_000]}),
        ]
        for asked, options in asks:
            styled = await call(
                agent, "style_layer", {"map_id": map_id, "layer": "countries", "by": "gdp_per_head", **asked}
            )
            method = asked.get("method", "manual")
            ref = reference(method, gdp, **options)
            style = styled["style"]
            assert style["method"] == method
            assert style["breaks"][1:] == ref.bins.tolist(), method
            assert [c["count"] for c in styled["classes"]] == ref.counts.tolist(), method
            assert [c["to"] for c in styled["classes"]] == ref.bins.tolist()
            read = (await call(agent, "read", {"map_id": map_id}))["layers"]["countries"]
            assert read["style"] == style and read["classes"] == styled["classes"], "read says the same"

        wrong = await agent.call_tool(
            "style_layer", {"map_id": map_id, "layer": "countries", "by": "gdp", "method": "jenks"}
        )
        assert wrong.is_error
        message = wrong.content[0].text
        assert "got 'gdp' (no feature has it)" in message, message
        assert "did you mean 'gdp_md_est' or 'gdp_per_head'?" in message, message
        for name in ("pop_est", "continent", "iso_a3", "gdp_md_est", "gdp_per_head"):
            assert name in message, message
        text = await agent.call_tool(
            "style_layer", {"map_id": map_id, "layer": "countries", "by": "continent", "kind": "graduated"}
        )
        assert text.is_error and "holds no number" in text.content[0].text
        # (iso_a3 too: Natural Earth writes "-99" for a country without a code)
        assert "pick one that has (gdp_md_est, gdp_per_head, pop_est, iso_a3)" in text.content[0].text
