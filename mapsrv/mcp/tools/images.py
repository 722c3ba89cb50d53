"""The map as an image for the agent: what people see in the page, drawn on the server, so an
agent can look at what it drew (labels that collide, a route that leaves the country)."""

from __future__ import annotations

import base64
from typing import Annotated

from mcp.types import CallToolResult, ImageContent, TextContent
from pydantic import Field

from mapsrv.core.id_ranges import expanded
from mapsrv.core.model import check_id
from mapsrv.errors import NotFound, Unavailable
from mapsrv.image.render import DEFAULT_SIZE, MAX_SIDE, MIN_SIDE, ImageRequest
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.reading import bbox_of
from mapsrv.mcp.tools.schema import Bounds, FeatureIds, LayerId, MapId

__all__ = ["map_image"]

Side = Annotated[int, Field(ge=MIN_SIDE, le=MAX_SIDE, description=f"px, {MIN_SIDE}-{MAX_SIDE}")]


async def map_image(
    tc: ToolContext,
    map_id: MapId,
    width: Side = DEFAULT_SIZE[0],
    height: Side = DEFAULT_SIZE[1],
    bbox: Bounds = None,
    ids: FeatureIds = None,
    layer: LayerId = None,
) -> CallToolResult:
    """The map as a PNG as people see it, with a caption (what is shown, bbox, counts); just ids, a
    layer or a bbox if given."""
    entry = await tc.entry(map_id)
    if tc.images is None:
        raise Unavailable("map images are not available on this server")
    box = await bbox_of(tc, bbox, entry.id)
    if ids is not None:
        ids = expanded(ids, entry.state.features)
        unknown = [i for i in ids if i not in entry.state.features]
        if unknown:
            raise NotFound(f"feature {unknown[0]!r:.80} not found on this map; read lists its features")
    if layer is not None:
        check_id("layer", layer)
        if layer not in entry.state.layers:
            known = ", ".join(map(repr, entry.state.layers))
            raise NotFound(f"layer {layer!r:.80} not found; this map has {known}")
    request = ImageRequest(
        width=width,
        height=height,
        bbox=None if box is None else (box[0][0], box[0][1], box[1][0], box[1][1]),
        ids=ids,
        layer=layer,
    )
    rendered = await tc.images.render(entry.state, request)
    return CallToolResult(
        content=[
            ImageContent(type="image", data=base64.b64encode(rendered.png).decode(), mime_type="image/png"),
            TextContent(type="text", text=rendered.caption),
        ]
    )
