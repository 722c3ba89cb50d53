"""Tools for what happened to a map: ``changes`` (who did what since a version, people's notes
included) and ``undo`` (the caller's own last change, or with ``redo`` its last undo).

One ``undo`` tool with a ``redo`` flag rather than two tools: every tool costs every agent its
bytes in tools/list on every session, redo is rare, and the pair reads as one idea ("take back my
last step, or put it back"). Each agent undoes only its own changes (``ToolContext.actor``); a
person's or another agent's edit of the same features since makes the undo fail with what they did.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.types import CallToolResult
from pydantic import Field

from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.results import MAX_IDS, answer, brief_change
from mapsrv.mcp.tools.schema import MapId

__all__ = ["MAX_CHANGES", "changes", "undo"]

MAX_CHANGES = 50  # changes per answer (``truncated`` says there are more: ask again from "version")


async def changes(
    tc: ToolContext,
    map_id: MapId,
    since: Annotated[int, Field(ge=0, description="the version you last saw (0: all kept)")] = 0,
) -> CallToolResult:
    """What changed on a map since a version and who did it (people's edits and notes, agents'
    changes)."""
    entry = await tc.entry(map_id)
    found = await tc.hub.changes_since(entry.id, since, limit=MAX_CHANGES)
    out: dict[str, Any] = {
        "map_id": entry.id,
        "version": found["version"],
        "changes": [brief_change(change, tc.actor.id) for change in found["changes"]],
    }
    if any(key in change for change in out["changes"] for key in ("n_added", "n_changed", "n_removed")):
        out["ids_cut"] = (
            f"each change lists at most {MAX_IDS} ids of each kind, to keep the answer small (n_added,"
            " n_changed, n_removed count them all); read the map for the rest"
        )
    if not found["complete"]:
        out["complete"] = False  # older changes are no longer kept: read the map itself
    if found["truncated"]:
        out["truncated"] = True
        out["cut"] = (
            f"{MAX_CHANGES} changes an answer at most; ask again since version"
            f" {out['changes'][-1]['version'] if out['changes'] else since} for the rest"
        )
    return answer(out)


async def undo(
    tc: ToolContext,
    map_id: MapId,
    redo: Annotated[bool, Field(description="put back what you last undid")] = False,
) -> CallToolResult:
    """Undo your own last change on a map (never anyone else's)."""
    entry = await tc.entry(map_id)
    events = await (tc.hub.redo if redo else tc.hub.undo)(entry.id, tc.actor)
    out = events.acknowledgement(entry.id) | {"view_url": tc.links(entry)[1]}
    change = events[-1].change
    if change is not None:
        out["summary"] = change.summary
    return answer(out)
