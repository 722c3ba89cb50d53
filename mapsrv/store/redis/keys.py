"""The Redis store's keys. Keys share a hash tag per map (``mapsrv:{<id>}:...``) so one map lives
in one Redis Cluster slot:

mapsrv:{id}:map      hash: version, state (snapshot JSON), snap_version, view_key, owner, principal,
                     edit_key
mapsrv:{id}:log      stream of events, id ``<version>-0``, trimmed to about ``log_size``
mapsrv:{id}:batches  sorted set: id of each committed write batch, scored by the version it
                     ended at; the newest ``batch_memory`` are kept
mapsrv:{id}:events   pub/sub channel (sharded pub/sub on a Cluster): one message per
                     committed event, ``<tag> <event JSON>``, where the tag is 12 hex digits
                     naming the process that committed it (so that it drops its own echoes
                     unread); the log holds the plain JSON. Also notices that are not events:
                     ``{"presence": ...}`` (who is on the map), ``{"pointers": ...}`` (where
                     they point) and ``{"links": ...}`` (its keys changed)
mapsrv:{id}:presence hash: process -> "<until ms> <JSON of who is on the map through it>"
mapsrv:view:{key}    view key -> map id          mapsrv:user:{id}   browser user -> last map
mapsrv:edit:{key}    edit key -> map id, or "-<map id>" once the owner turned it off
mapsrv:rate:{kind}:{client}  a client's rate limit: its theoretical arrival time (GCRA), expiring
                     when its bucket is full again
mapsrv:people        hash: browser user -> "1 <person>" signed in, "0 <person>" signed out (no TTL)
mapsrv:identities:{person}  set: every browser user that signed in as the person (no TTL)
mapsrv:{id}:edits    set: every edit key the map has had (to answer 410 for each)
mapsrv:{id}:opened   set: browser users who opened it through an edit link
mapsrv:used          sorted set: map id, scored by when it was last opened or changed (unix s)
mapsrv:upload:{token}  hash: an upload link's slot (map, caller, state, answer: ``uploads``),
                     expiring 30 minutes after the link
mapsrv:upload-handle:{caller} {handle}  the slot's token, expiring with it
"""

from __future__ import annotations

from typing import Any

from mapsrv.core import MapState
from mapsrv.core.codec import dumps
from mapsrv.store.contract import MapMeta

__all__ = [
    "USED",
    "batches_key",
    "channel",
    "edits_key",
    "index_keys",
    "log_key",
    "map_fields",
    "map_key",
    "opened_key",
    "presence_key",
    "as_text",
]

USED = "mapsrv:used"


def map_key(map_id: str) -> str:
    return f"mapsrv:{{{map_id}}}:map"


def log_key(map_id: str) -> str:
    return f"mapsrv:{{{map_id}}}:log"


def batches_key(map_id: str) -> str:
    return f"mapsrv:{{{map_id}}}:batches"


def presence_key(map_id: str) -> str:
    return f"mapsrv:{{{map_id}}}:presence"


def channel(map_id: str) -> str:
    return f"mapsrv:{{{map_id}}}:events"


def edits_key(map_id: str) -> str:
    return f"mapsrv:{{{map_id}}}:edits"


def opened_key(map_id: str) -> str:
    return f"mapsrv:{{{map_id}}}:opened"


def map_fields(
    meta: MapMeta, state: MapState, created: float, *, updated: float, updated_by: str, used: float
) -> dict[str, Any]:
    """A map's hash as ``CREATE`` and ``RESTORE`` write it: its snapshot at its version, its keys
    and owners, and what a list shows of it."""
    fields: dict[str, Any] = {
        "version": state.version,
        "state": dumps(state.to_json()),
        "snap_version": state.version,
        "view_key": meta.view_key,
        "title": state.title,
        "features": len(state.features),
        "created": repr(created),
        "updated": repr(updated),
        "updated_by": updated_by,
        "used": repr(used),
    }
    for name in ("owner", "principal", "edit_key", "maker"):
        value = getattr(meta, name)
        if value is not None:
            fields[name] = value
    return fields


def index_keys(meta: MapMeta) -> list[str]:
    """The list indexes that name this map."""
    keys = []
    if meta.owner:
        keys.append(f"mapsrv:owner:{meta.owner}")
    if meta.principal:
        keys.append(f"mapsrv:principal:{meta.principal}")
    if meta.maker:
        keys.append(f"mapsrv:maker:{meta.maker}")
    return keys


def as_text(value: Any) -> str | None:
    """A reply's value as text (None stays None)."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
