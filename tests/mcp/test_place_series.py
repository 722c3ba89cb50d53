"""One outline per place carrying its rows by time (issue 76), with a real table: Gapminder's life
expectancy of eight South-East Asian countries, 12 years each, joined to their outlines by an
agent over MCP, is eight features, each a series over ``year``. Styled with a time window, the
image and the page fill Java with the class of Indonesia's value in that year (37.5 years in
1952: red; 70.7 in 2007: blue), the counts and the answer are that year's; a GeoPackage export,
read back by GDAL, holds the table's 96 rows; a GeoJSON export read back is the same series."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pyogrio
import pytest
import trio
from mcp import Client
from mcp.types import CallToolResult
from PIL import Image
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context
from support.gapminder import gapminder_csv, gapminder_rows

from mapsrv.core import Limits
from mapsrv.core.geojson import features_from_geojson, to_geojson
from mapsrv.core.series import props_at
from mapsrv.formats import export_file
from mapsrv.image.projection import ImageView

COUNTRIES = ("Indonesia", "Philippines", "Malaysia", "Thailand", "Vietnam", "Cambodia", "Myanmar", "Japan")
JAVA = (-7.3, 110.2)  # Central Java, inland
VIEW = (JAVA[0], JAVA[1], 7, 640, 400)  # lat, lon, zoom, width, height
RED, BLUE = "#ff0000", "#0000ff"
STYLE = {
    "layer": "default",
    "by": "lifeExp",
    "breaks": [0, 50, 100],
    "colors": [RED, BLUE],
    "method": "manual",
}


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def life(country: str, year: int) -> float:
    return next(
        float(r["lifeExp"]) for r in gapminder_rows() if r["country"] == country and r["year"] == str(year)
    )


def tint(pixels: list[tuple[int, int, int]]) -> str:
    """red or blue, by the middle pixel of a patch: a fill at 0.8 over the basemap keeps its hue."""
    r, _, b = sorted(pixels, key=lambda p: p[0] - p[2])[len(pixels) // 2]
    return RED if r - b > 80 else BLUE if b - r > 80 else f"neither ({r}, {b})"


def patch(image: Image.Image, x: float, y: float) -> list[tuple[int, int, int]]:
    return [image.getpixel((round(x) + dx, round(y) + dy))[:3] for dx in range(-3, 4) for dy in range(-3, 4)]


async def image_of(agent: Client, map_id: str) -> Image.Image:
    lat, lon, zoom, width, height = VIEW
    moved = await agent.call_tool("set_view", {"map_id": map_id, "at": [lat, lon], "zoom": zoom})
    assert not moved.is_error, moved.content
    result = await agent.call_tool("map_image", {"map_id": map_id, "width": width, "height": height})
    assert not result.is_error, result.content
    return Image.open(io.BytesIO(base64.b64decode(result.content[0].data))).convert("RGB")


async def test_a_table_by_year_is_one_outline_a_place_drawn_at_the_year_shown(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    assert life("Indonesia", 1952) < 50 < life("Indonesia", 2007)  # red in 1952, blue in 2007
    server = await start_server(nursery, tile_url=TILES)
    table = gapminder_csv(COUNTRIES, None, ("country", "continent", "year", "lifeExp", "pop"))
    async with Client(server.url + "mcp") as agent:
        imported = structured(await agent.call_tool("import", {"content": table, "join": "countries"}))
        assert imported["added"] == len(COUNTRIES) and "unresolved" not in imported, imported
        assert "96 rows joined as 8 outlines" in " ".join(imported["notes"])
        map_id = imported["map_id"]
        entry = await server.hub.get(map_id)
        indonesia = next(f for f in entry.state.features.values() if f.label == "Indonesia")
        props = dict(indonesia.properties)
        assert indonesia.series == "year" and list(props["year"]) == list(range(1952, 2008, 5))
        assert list(props["lifeExp"]) == [life("Indonesia", y) for y in range(1952, 2008, 5)]
        assert props["continent"] == "Asia", "a column the same in every row stays one value"
        # an agent's read: each place's latest row, and which times it holds
        page = structured(
            await agent.call_tool("read", {"map_id": map_id, "layer": "default", "text": "Indonesia"})
        )
        (row,) = page["features"]
        assert row["series"] == {"property": "year", "times": 12, "first": 1952, "last": 2007}, row
        assert row["properties"]["lifeExp"] == life("Indonesia", 2007) and row["properties"]["year"] == 2007
        # a window on another property than the places' times is refused, naming theirs
        other = await agent.call_tool(
            "style_layer", {"map_id": map_id, **STYLE, "time": {"property": "pop", "from": 1, "to": 2}}
        )
        assert other.is_error and "time property must be 'year'" in other.content[0].text, other.content
        x, y = ImageView.centered(*VIEW).pixel(*JAVA)
        tints = {}
        for year in (1952, 2007):
            window = {"property": "year", "from": year, "to": year}
            styled = structured(
                await agent.call_tool("style_layer", {"map_id": map_id, **STYLE, "time": window})
            )
            counts = [c["count"] for c in styled["classes"]]
            below = sum(1 for c in COUNTRIES if life(c, year) <= 50)
            assert counts == [below, len(COUNTRIES) - below], (year, counts)
            image = await image_of(agent, map_id)
            image.save(artifact(f"series-java-{year}.png", tmp_path))
            tints[year] = tint(patch(image, x, y))
        assert tints == {1952: RED, 2007: BLUE}, "Java filled with Indonesia's class in the year shown"
        version = styled["version"]

    def page(chromium: Chromium) -> dict[int, str]:
        context = new_context(chromium, server, viewport={"width": 900, "height": 640})
        tab = Tab.open(context, f"/v/{entry.view_key}", badge="view-only")
        tab.page.wait_for_function("(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version)
        seen = {}
        for year, key in ((2007, None), (1952, "Home")):
            if key:  # both ends of the window to the first year, from the keyboard
                for end in ("from", "to"):
                    tab.page.locator(f'.mapsrv-legend-slider[data-end="{end}"]').focus()
                    tab.page.keyboard.press(key)
                tab.page.wait_for_function(
                    "() => document.querySelector('.mapsrv-legend-time').dataset.to === '0'"
                )
            want = RED if year == 1952 else BLUE
            tab.page.wait_for_function(
                "(want) => Array.from(document.querySelectorAll('path[data-feature-id]'))"
                ".some((e) => e.getAttribute('fill') === want)",
                arg=want,
            )
            box = tab.page.locator(".leaflet-container").bounding_box()
            assert box is not None
            shot = Image.open(io.BytesIO(tab.page.screenshot(animations="disabled"))).convert("RGB")
            shot.save(artifact(f"series-java-page-{year}.png", tmp_path))
            seen[year] = tint(patch(shot, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2))
        tab.check_clean()
        return seen

    async with Client(server.url + "mcp") as agent:
        moved = await agent.call_tool("set_view", {"map_id": map_id, "at": list(JAVA), "zoom": VIEW[2]})
        assert not moved.is_error
        version = structured(moved)["version"]
    assert await in_chromium(page) == {2007: BLUE, 1952: RED}, "the page fills Java as the image does"

    state = (await server.hub.get(map_id)).state
    gpkg = export_file(state, "gpkg")
    path = tmp_path / "series.gpkg"
    path.write_bytes(gpkg.body)
    info = pyogrio.read_info(path)
    assert info["features"] == 96, "one row a country a year, as the table came"
    _, _, _, fields = pyogrio.raw.read(path, columns=["country", "year", "lifeExp"])
    rows = sorted(zip(*(list(c) for c in fields), strict=True))
    want = sorted(
        (r["country"], int(r["year"]), float(r["lifeExp"]))
        for r in gapminder_rows()
        if r["country"] in COUNTRIES
    )
    assert [(c, int(y), pytest.approx(v)) for c, y, v in rows] == want
    again = features_from_geojson(to_geojson(state), Limits())
    assert [(f.series, list(dict(f.properties)["lifeExp"])) for f in again] == [
        (f.series, list(dict(f.properties)["lifeExp"])) for f in state.features.values()
    ], "a GeoJSON export read back is the same series"
    window = {"property": "year", "from": 1990, "to": 1999}
    assert props_at(next(iter(again)), window)["year"] == 1997, "the latest year inside the window"
