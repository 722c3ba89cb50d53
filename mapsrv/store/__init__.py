"""Where maps are kept, chosen by URL (as encode/broadcaster does): ``sqlite:///path/maps.db``
(``mapsrv.store.sqlite``, the default) keeps them on disk for this process; ``memory://`` keeps
them in this process only, until it stops; ``redis://`` (and ``rediss://``), ``redis+sentinel://`` and
``redis+cluster://`` (``mapsrv.store.redis.url``) make Redis the source of truth so that any
process can serve and recover any map.

The hub talks to a store only through ``Store`` and never the other way round: what happens on the
store's side (another process committed an event, the store came back after an outage) arrives as
a ``StoreMessage`` on the channel that ``Store.serve`` hands to whoever started it.

A commit answers with one of four replies, each a type of its own:

    Committed         the store has the batch, at the expected version
    AlreadyCommitted  a batch with this id landed before (its reply was lost): nothing was written
    Conflict          the store has the map at another version; nothing was written
    Missing           the store has no such map (it expired there); nothing was written
"""

from __future__ import annotations

from urllib.parse import urlsplit

from mapsrv.store.contract import (
    COMMITTED,
    MISSING,
    AlreadyCommitted,
    CommitReply,
    Committed,
    Conflict,
    Followed,
    LoadedMap,
    MapMeta,
    MapRecord,
    MapSummary,
    Missing,
    PersonLink,
    Reconnected,
    RemoteEvent,
    Store,
    StoreMessage,
    StoreStatistics,
    StoreUnavailable,
    Touched,
)
from mapsrv.store.redis.url import SCHEMES

__all__ = [
    "COMMITTED",
    "MISSING",
    "AlreadyCommitted",
    "CommitReply",
    "Committed",
    "Conflict",
    "Followed",
    "LoadedMap",
    "MapMeta",
    "MapRecord",
    "MapSummary",
    "PersonLink",
    "Missing",
    "Reconnected",
    "RemoteEvent",
    "Store",
    "StoreMessage",
    "StoreStatistics",
    "StoreUnavailable",
    "Touched",
    "describe_store",
    "open_store_from_url",
]


def describe_store(url: str) -> str:
    """Where a store keeps maps, for the startup line (never a password)."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return "maps in memory, gone when this process stops"
    if scheme == "sqlite":
        from mapsrv.store.sqlite import sqlite_path

        return f"maps kept in {sqlite_path(url)[0]}"
    return "maps kept in Redis, shared by every mapsrv that uses it"


def open_store_from_url(url: str, *, ttl: float, log_size: int) -> Store:
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from mapsrv.store.memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite":
        from mapsrv.store.sqlite import SqliteStore

        return SqliteStore(url, log_size=log_size)
    if scheme in SCHEMES:
        from mapsrv.store.redis import RedisStore

        return RedisStore(url, ttl=ttl, log_size=log_size)
    raise ValueError(
        f"unknown store {url!r}: use sqlite:///path/maps.db, memory://, redis://, redis+sentinel:// or redis+cluster://"
    )
