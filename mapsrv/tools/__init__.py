"""The map tools an agent calls. They know nothing of transports: the same functions serve
Streamable HTTP, legacy HTTP+SSE and stdio.

Each tool is a plain async function ``tool(tc: ToolContext, **arguments)`` in the module of its
concept (``maps``, ``drawing``, ``layers``, ``reading``); ``registry.TOOLS`` is the one table that
names them, and ``register_tools`` puts that table on an MCPServer. Every tool answers with a short
text for the model and structured content for programs; mapsrv's errors (raised by a tool) become
tool errors (``isError``) whose text says how to fix the call.
"""

from mapsrv.tools.context import ToolContext
from mapsrv.tools.registry import INSTRUCTIONS, TOOLS, ToolSpec, register_tools

__all__ = ["INSTRUCTIONS", "TOOLS", "ToolContext", "ToolSpec", "register_tools"]
