"""Maps kept in Redis, shared by every mapsrv that uses it (``redis://``, ``rediss://``,
``redis+sentinel://``, ``redis+cluster://``): ``store`` is the store the hub talks to; ``keys`` the
key layout; ``scripts`` the Lua that commits atomically; ``commits`` a commit's round trip;
``link`` the connection (a breaker, reconnection, health checks) over ``client``; ``writer`` the
pipelined commits; ``feed`` other processes' events; ``catalog`` lists, deletion, retention and
backup records; ``links`` a map's keys, claims and presence; ``people`` who signed in; ``url``
the URLs it takes."""

from mapsrv.store.redis.store import RedisStore

__all__ = ["RedisStore"]
