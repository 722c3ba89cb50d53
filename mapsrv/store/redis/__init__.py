"""Maps kept in Redis, shared by every mapsrv that uses it (``redis://``, ``rediss://``,
``redis+sentinel://``, ``redis+cluster://``): ``store`` is the store the hub talks to; ``keys`` the
key layout; ``scripts`` the Lua that commits atomically; ``commits`` a commit's round trip;
``link`` the connection (a breaker, reconnection, health checks) over ``client``; ``writer`` the
pipelined commits; ``feed`` other processes' events; ``catalog`` lists, deletion, retention and
backup records; ``links`` a map's keys, claims and presence; ``people`` who signed in; ``url``
the URLs it takes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mapsrv.store.redis.store import RedisStore

__all__ = ["RedisStore"]


def __getattr__(name: str) -> Any:
    """``RedisStore`` imported when first asked for: the config reads ``url`` (this package's
    schemes) for every command, and redis-py with the store's modules took ~250 ms of each
    command's start (``mapsrv places import`` started its basemap's build that much later)."""
    if name == "RedisStore":
        from mapsrv.store.redis.store import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
