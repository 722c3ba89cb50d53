"""What the tools answer, and the tool error a mapsrv error becomes.

An answer is small structured content and, as the MCP spec asks for clients that read only text,
the same JSON as text (compact: no spaces). Writes answer ids and the version, never the state.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.types import CallToolResult, TextContent

from mapsrv.errors import MapsrvError

__all__ = ["answer", "compact", "tool_error"]


def compact(content: Any) -> str:
    return json.dumps(content, separators=(",", ":"), ensure_ascii=False)


def answer(content: dict[str, Any], text: str | None = None) -> CallToolResult:
    """``content`` as structured content and as its JSON text (or ``text`` when given)."""
    return CallToolResult(
        content=[TextContent(type="text", text=compact(content) if text is None else text)],
        structured_content=content,
    )


def tool_error(exc: MapsrvError) -> CallToolResult:
    """mapsrv's own errors reach the model as tool errors with their message, never as JSON-RPC
    failures, so it can read them and fix its call. What an error carries besides its message
    (an edit conflict's changes, a version, a retry delay: ``to_json``) follows as compact JSON,
    in the text and as structured content."""
    said = exc.to_json()
    extra = {key: value for key, value in said.items() if key not in ("code", "message")}
    text = f"{exc.code}: {exc.message}" + (f" {compact(extra)}" if extra else "")
    return CallToolResult(
        is_error=True,
        content=[TextContent(type="text", text=text)],
        structured_content=said if extra else None,
    )
