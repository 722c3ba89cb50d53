"""Styles by value through the real server: the SDK's client over Streamable HTTP calls
``style_layer`` (the style as stored, with counts per class), ``read`` (every styled layer's style
and counts, a feature drawn later counted in its class), ``map_image`` (the classes' colours in
the PNG's pixels, the legend), ``undo`` (the previous style back) and a clear error for a bad
style; the page's ops endpoint takes the same op, with the same checks, and the browser's event
stream gets one ``layer_style`` change."""

from __future__ import annotations

import base64
import io
from typing import Any

import trio
from mcp import Client
from PIL import Image
from support import Browser, open_stream

from mapsrv.image.basemap import SEA
from mapsrv.image.styling import FILL_OPACITY
from mapsrv.server import Server

YLORRD3 = ["#ffeda0", "#feb24c", "#f03b20"]


def zone(west: float, pop: float) -> dict[str, Any]:
    ring = [[west, -8], [west + 10, -8], [west + 10, 8], [west, 8], [west, -8]]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"pop": pop},
    }


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def rgb(hex_color: str) -> tuple[int, int, int]:
    return int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16)


def over_sea(hex_color: str) -> tuple[int, ...]:
    return tuple(
        round(c * FILL_OPACITY + s * (1 - FILL_OPACITY)) for c, s in zip(rgb(hex_color), SEA, strict=True)
    )


def count(
    image: Image.Image, color: tuple[int, ...], box: tuple[int, int, int, int], tolerance: int = 16
) -> int:
    return sum(
        n
        for n, seen in image.crop(box).getcolors(1 << 20) or []
        if all(abs(a - b) <= tolerance for a, b in zip(seen, color, strict=True))
    )


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def test_an_agent_styles_a_layer_reads_its_classes_sees_them_and_undoes(server: Server) -> None:
    async with Client(server.url + "mcp") as agent:
        drawn = await call(
            agent,
            "draw",
            {
                "items": [],
                "geojson": collection(zone(-162, 1), zone(-150, 50), zone(-138, 100)),
                "layer": "zones",
            },
        )
        map_id = drawn["map_id"]
        styled = await call(
            agent,
            "style_layer",
            {"map_id": map_id, "layer": "zones", "by": "pop", "method": "equal", "classes": 3},
        )
        style = styled["style"]
        assert style["kind"] == "graduated" and style["breaks"] == [1, 34, 67, 100]
        assert style["colors"] == YLORRD3 and style["ramp"] == "YlOrRd"
        assert [c["count"] for c in styled["classes"]] == [1, 1, 1]

        # a feature drawn after the style is classified by the stored breaks
        await call(
            agent,
            "draw",
            {"map_id": map_id, "items": [], "geojson": collection(zone(-174, 90)), "layer": "zones"},
        )
        summary = await call(agent, "read", {"map_id": map_id})
        layer = summary["layers"]["zones"]
        assert layer["style"] == style and [c["count"] for c in layer["classes"]] == [1, 1, 2]

        result = await agent.call_tool(
            "map_image", {"map_id": map_id, "bbox": [[-12, -176], [12, -125]], "width": 800, "height": 600}
        )
        assert not result.is_error, result.content
        picture = Image.open(io.BytesIO(base64.b64decode(result.content[0].data))).convert("RGB")
        map_area = (0, 0, 800, 440)  # above the legend (bottom right)
        areas = [count(picture, over_sea(c), map_area) for c in YLORRD3]
        assert areas[2] > 1.7 * areas[0] > 0 and areas[1] > 0.7 * areas[0], areas
        legend = (600, 440, 800, 580)
        assert all(count(picture, rgb(c), legend) >= 100 for c in YLORRD3), "the legend's swatches"

        bad = await agent.call_tool(
            "style_layer", {"map_id": map_id, "layer": "zones", "by": "pop", "classes": 12}
        )
        assert bad.is_error and "classes must be from 3 to 9, got 12" in bad.content[0].text
        await call(agent, "style_layer", {"map_id": map_id, "layer": "zones", "by": "pop", "ramp": "Blues"})
        await call(agent, "undo", {"map_id": map_id})
        after = await call(agent, "read", {"map_id": map_id})
        assert after["layers"]["zones"]["style"] == style, "undo restores the previous style"
        removed = await call(agent, "style_layer", {"map_id": map_id, "layer": "zones", "none": True})
        assert "style" not in removed
        assert "style" not in (await call(agent, "read", {"map_id": map_id}))["layers"]["zones"]


async def test_the_page_styles_a_layer_through_its_ops_with_the_same_checks(
    server: Server, nursery: trio.Nursery
) -> None:
    owner = Browser(server.url)
    map_id = await owner.new_map()
    imported = {
        "op": "import_geojson",
        "layer": "zones",
        "geojson": collection(zone(-162, 1), zone(-150, 50)),
    }
    assert (await owner.ops(map_id, imported)).status_code == 200
    stream = await open_stream(nursery, owner.client, f"/m/{map_id}/events")
    bad = await owner.ops(
        map_id, {"op": "set_layer_style", "layer": "zones", "style": {"by": "pop", "classes": 12}}
    )
    assert bad.status_code == 400 and "classes must be from 3 to 9, got 12" in bad.text
    good = {"op": "set_layer_style", "layer": "zones", "style": {"by": "pop", "kind": "categorical"}}
    reply = await owner.ops(map_id, good)
    assert reply.status_code == 200, reply.text
    with trio.fail_after(5):
        await stream.wait_for(lambda events: any(data.get("kind") == "layer_style" for _, _, data in events))
    [change] = [data for _, _, data in stream.events if data.get("kind") == "layer_style"]
    assert change["layer"] == "zones" and change["style"]["categories"] == {"1": "#66c2a5", "50": "#fc8d62"}
    state = await owner.state(map_id)
    [zones] = [layer for layer in state["layers"] if layer["id"] == "zones"]
    assert zones["style"] == change["style"]
    await owner.aclose()
