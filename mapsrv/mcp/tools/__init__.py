"""The map tools an agent calls. They know nothing of transports: the same functions serve
Streamable HTTP, legacy HTTP+SSE and stdio.

Each tool is a plain async function ``tool(tc: ToolContext, **arguments)`` in the module of its
concept (``maps``, ``drawing``, ``reading``, ``places``, ``measuring``); ``registry.TOOLS`` is the
one table that names them, and ``sdk_tools`` makes the SDK's tools from it. Every tool answers
with short structured content and the same JSON as text; mapsrv's errors (raised by a tool) become
tool errors (``isError``) whose text says how to fix the call.
"""

from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.registry import (
    INSTRUCTIONS,
    TOOLS,
    WRITE_TOOLS,
    WRITES_WITH,
    ToolRunner,
    ToolSpec,
    register_resources,
    sdk_tools,
    tool_runners,
)

__all__ = [
    "INSTRUCTIONS",
    "TOOLS",
    "WRITES_WITH",
    "WRITE_TOOLS",
    "ToolContext",
    "ToolRunner",
    "ToolSpec",
    "register_resources",
    "sdk_tools",
    "tool_runners",
]
