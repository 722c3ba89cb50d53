"""The tools' side of the MCP App (``mapsrv.mcp.apps`` serves the page): which tools show the live
map in hosts that render MCP Apps, and the map their results name.

``create_map`` and ``draw`` carry ``_meta.ui.resourceUri``: they are the calls that hand out a map,
so a host shows the live map once per map rather than a new frame for every ``edit``. Their
results carry the map's read-only view link in ``_meta`` (which hosts keep from the model) and as
``view_url`` in the structured content, and so in its JSON text (for hosts that forward a result
to the app without its ``_meta``; about 60 bytes): the app follows that map's event stream. Hosts
without MCP Apps ignore the rest and keep the ``url`` of the text result.
"""

from __future__ import annotations

from typing import Any

from mcp.types import CallToolResult, TextContent

from mapsrv.errors import NotFound
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.results import compact

__all__ = ["APP_URI", "TOOL_META", "VIEW_META", "with_view"]

APP_URI = "ui://mapsrv/map"
TOOL_META: dict[str, Any] = {"ui": {"resourceUri": APP_URI}}
VIEW_META = "mapsrv/view"  # the result's _meta key for the map's read-only view link


async def with_view(tc: ToolContext, result: CallToolResult) -> CallToolResult:
    """``result`` with the view link of the map it names, for the app."""
    content = result.structured_content
    if result.is_error or not content or not isinstance(content.get("map_id"), str):
        return result
    try:
        entry = await tc.entry(content["map_id"])
    except NotFound:
        return result
    view = tc.links(entry)[1]
    linked = {**content, "view_url": view}
    # the text that is the structured content's JSON stays so (results.answer)
    said = [
        TextContent(type="text", text=compact(linked))
        if isinstance(block, TextContent) and block.text == compact(content)
        else block
        for block in result.content
    ]
    return result.model_copy(
        update={
            "meta": {**(result.meta or {}), VIEW_META: view},
            "structured_content": linked,
            "content": said,
        }
    )
