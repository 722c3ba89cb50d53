"""What the tools answer, and the tool error a mapsrv error becomes.

An answer is small structured content and, as the MCP spec asks for clients that read only text,
the same JSON as text (compact: no spaces). Writes answer ids and the version, never the state.
"""

from __future__ import annotations

import weakref
from typing import Any

from mcp.types import CallToolResult, TextContent

from mapsrv.core.json_bytes import dumps_text
from mapsrv.errors import MapsrvError

__all__ = [
    "MAX_IDS",
    "again",
    "answer",
    "brief_change",
    "compact",
    "tool_error",
    "written_answer",
    "written_json",
]

MAX_IDS = 20  # ids listed per kind of effect in one change; a count says how many there were


def compact(content: Any) -> str:
    return dumps_text(content)


class _Last:
    """The last answer ``answer`` made whose text is its structured content's JSON, with that
    text: one pair, set and read whole (a weak reference: it keeps no result alive)."""

    made: tuple[weakref.ReferenceType[CallToolResult], str] | None = None


_LAST = _Last()


def answer(content: dict[str, Any]) -> CallToolResult:
    """``content`` as structured content and as its JSON text."""
    return written_answer(content, compact(content))


def written_answer(content: dict[str, Any], written: str) -> CallToolResult:
    """``answer(content)`` where its JSON is written already: ``written`` is ``compact(content)``
    (a big map's made in a worker, a summary made before)."""
    result = CallToolResult(content=[TextContent(type="text", text=written)], structured_content=content)
    again(result, written)
    return result


def again(result: CallToolResult, written: str) -> None:
    """``result``, made by ``written_answer`` (``written`` its text), is answered again: it is
    the last answer made."""
    _LAST.made = (weakref.ref(result), written)


def written_json(result: CallToolResult) -> str | None:
    """The compact JSON of ``result``'s structured content, as ``json.dumps`` writes it with
    ``ensure_ascii=False``, when it is known without writing it again: ``result`` is the last
    answer ``answer`` made of its content (a tool call's result is read as soon as its tool
    returns; any other is written again, ``mapsrv.mcp.answer_bytes``). Its one text is then that
    same JSON. Nothing changes an answer's content once made."""
    made = _LAST.made
    return made[1] if made is not None and made[0]() is result else None


def brief_change(change: dict[str, Any], me: str) -> dict[str, Any]:
    """One ``changes_since`` entry, compact: no empty lists, whole seconds, at most ``MAX_IDS``
    ids per list (and the count when there were more), and ``mine`` on the caller's own."""
    out: dict[str, Any] = {"version": change["version"], "by": change["by"], "summary": change["summary"]}
    if change["by"]["id"] == me:
        out["mine"] = True
    out["at"] = int(change["at"])
    for key in ("added", "changed", "removed"):
        ids = change.get(key) or []
        if ids:
            out[key] = ids[:MAX_IDS]
            if len(ids) > MAX_IDS:
                out[f"n_{key}"] = len(ids)
    for key in ("undoes", "redoes", "notes"):
        if change.get(key) is not None:
            out[key] = change[key]
    return out


def tool_error(exc: MapsrvError, me: str = "") -> CallToolResult:
    """mapsrv's own errors reach the model as tool errors with their message, never as JSON-RPC
    failures, so it can read them and fix its call. What an error carries besides its message
    (an edit conflict's changes, a version, a retry delay: ``to_json``) follows as compact JSON,
    in the text and as structured content; the changes of an edit conflict as ``changes`` lists
    them (``me``: the caller's actor id)."""
    said = exc.to_json()
    if isinstance(said.get("changes"), list):
        said["changes"] = [brief_change(change, me) for change in said["changes"]]
    extra = {key: value for key, value in said.items() if key not in ("code", "message")}
    text = f"{exc.code}: {exc.message}" + (f" {compact(extra)}" if extra else "")
    return CallToolResult(
        is_error=True,
        content=[TextContent(type="text", text=text)],
        structured_content=said if extra else None,
    )
