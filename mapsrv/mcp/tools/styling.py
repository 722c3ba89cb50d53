"""Styling a layer by value: the ``style_layer`` tool (a choropleth, categories, proportional
circles or a heatmap, with labels, a filter and a time window). Core checks the style and
computes its breaks from the layer's features (``mapsrv.core.layer_style``); the answer is the
style as stored and how many features fall in each class now."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.types import CallToolResult
from pydantic import Field

from mapsrv.core.layer_style import style_counts, style_keys
from mapsrv.core.model import MapState, check_id
from mapsrv.core.ops import SetLayerStyle
from mapsrv.core.times import time_values
from mapsrv.errors import StyleKeyMisfit
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.results import answer
from mapsrv.mcp.tools.schema import MapId
from mapsrv.workers import over_map

__all__ = ["style_layer", "styled_layer"]


def styled_layer(state: MapState, layer: str) -> dict[str, Any]:
    """A styled layer's style and its counts per class now (what ``read`` reports too)."""
    style = state.layers[layer].style
    if style is None:
        return {}
    features = [f for f in state.features.values() if f.layer == layer]
    out = {"style": style, **style_counts(style, features)}
    if "time" in style:
        out["times"] = time_values(style["time"]["property"], (dict(f.properties) for f in features))
    return out


async def style_layer(
    tc: ToolContext,
    map_id: MapId,
    layer: str,
    by: str | None = None,
    kind: Literal["graduated", "categorical", "proportional", "heatmap"] | None = None,
    method: Annotated[
        Literal["quantiles", "equal", "jenks", "std_mean", "manual"] | None,
        Field(description="jenks: natural breaks; std_mean: by sd; manual: breaks"),
    ] = None,
    classes: Annotated[int | None, Field(description="3-9")] = None,
    breaks: Annotated[
        list[float] | None, Field(description="lowest, then each class's top: [0, 1000, 1e4]")
    ] = None,
    ramp: Annotated[str | None, Field(description="ColorBrewer: YlOrRd, Blues, RdBu, Set2...")] = None,
    colors: list[str] | None = None,
    categories: dict[str, str] | None = None,
    label: Annotated[str | None, Field(description="'{name} ({pop:,.0f})'")] = None,
    filter: Annotated[dict[str, Any] | None, Field(description="{property, op, value}")] = None,
    time: Annotated[
        dict[str, str | int | float] | None, Field(description="{property, from, to}: years or dates")
    ] = None,
    over: Annotated[Literal["shown", "all"] | None, Field(description="breaks over")] = None,
    min_size: float | None = None,
    max_size: float | None = None,
    color_by: Annotated[str | None, Field(description="proportional: colour by")] = None,
    heat: Annotated[bool | None, Field(description="heatmap under points")] = None,
    none: Annotated[bool, Field(description="remove the style")] = False,
) -> CallToolResult:
    """Colour, size or label a layer's features by a property: classes (choropleth), categories,
    sized circles or a heatmap, with a legend. Answers breaks and counts."""
    lid = check_id("layer", layer)
    asked = {
        "by": by,
        "kind": kind,
        "method": method,
        "classes": classes,
        "breaks": breaks,
        "ramp": ramp,
        "colors": colors,
        "categories": categories,
        "label": label,
        "filter": filter,
        "time": time,
        "over": over,
        "min_size": min_size,
        "max_size": max_size,
        "color_by": color_by,
        "heat": heat,
    }
    style = None if none else {k: v for k, v in asked.items() if v is not None}
    try:
        out = await tc.write(map_id, [SetLayerStyle(lid, style)], None)
    except StyleKeyMisfit as exc:  # said with this tool's arguments, not the page's style keys
        raise StyleKeyMisfit(exc.kind, exc.key, [k for k in asked if k in style_keys(exc.kind)]) from None
    state = (await tc.entry(map_id)).state
    if lid in state.layers:
        out.update(await over_map(styled_layer, state, lid))  # 100,000 features: ~100 ms
    return answer(out)
