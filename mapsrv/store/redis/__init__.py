"""Maps kept in Redis, shared by every mapsrv that uses it (``redis://``, ``rediss://``,
``redis+sentinel://``, ``redis+cluster://``): ``store`` is the store the hub talks to; ``link`` its
connection (a breaker, reconnection, health checks), ``writer`` the pipelined commits, ``feed``
other processes' events, ``catalog`` the lists of maps and people, ``scripts`` the Lua that
commits atomically, ``url`` the URLs it takes."""

from mapsrv.store.redis.store import RedisStore

__all__ = ["RedisStore"]
