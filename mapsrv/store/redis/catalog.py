"""``RedisStore``'s lists, deletion, retention sweeps and backup records (the store contract's
"finding, deleting and keeping maps"), on the keys named in ``mapsrv.store.redis.keys``.

The indexes (a person's, a key's and an agent's maps, last use) are keys of their own, in other
Cluster slots than the maps they name, so they are single-key calls beside each map's one atomic
step: an index may for a moment name a map that is gone (it expired unused, or was deleted by a
process that stopped half-way); lists skip such ids and drop them from the index.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, Protocol

from mapsrv.core import MapState
from mapsrv.core.codec import wire
from mapsrv.core.ids import map_ref
from mapsrv.store.contract import LoadedMap, MapMeta, MapRecord, MapSummary, Touched
from mapsrv.store.redis.keys import (
    USED,
    as_text,
    batches_key,
    channel,
    edits_key,
    index_keys,
    log_key,
    map_fields,
    map_key,
    opened_key,
    presence_key,
)
from mapsrv.store.redis.link import RedisLink

__all__ = ["GONE_TTL_MS", "LIST_LIMIT", "CatalogStore", "RedisCatalog"]

log = logging.getLogger("mapsrv.redis")

GONE_TTL_MS = 400 * 24 * 3600 * 1000  # a deleted map's links answer 410 for 400 days, then 404
LIST_LIMIT = 1000
SWEEP_STEP = 500
_SUMMARY_FIELDS = (
    "view_key",
    "edit_key",
    "owner",
    "principal",
    "maker",
    "title",
    "version",
    "features",
    "created",
    "updated",
    "updated_by",
)


def _number(value: Any, default: float = 0.0) -> float:
    text = as_text(value)
    return float(text) if text else default


async def _zrem(client: Any, ids: Sequence[str]) -> Any:
    return await client.zrem(USED, *ids)


class CatalogStore(Protocol):
    """What the catalog uses of the store it serves (``RedisStore``), so neither imports the other
    back: the connection, the catalog's own scripts, the publish command and a map's load."""

    link: RedisLink
    ttl_ms: int  # how long the keys of a map nobody drew on live unused
    clock: Callable[[], float]

    def script(self, name: str) -> Any: ...

    @property
    def publish_command(self) -> str: ...

    async def load(self, map_id: str) -> LoadedMap | None: ...


class RedisCatalog:
    def __init__(self, store: CatalogStore) -> None:
        self.store = store

    @property
    def _run(self) -> Callable[[Callable[[Any], Awaitable[Any]]], Awaitable[Any]]:
        return self.store.link.run

    async def indexed(self, meta: MapMeta, used: float) -> None:
        """A new map joins its lists."""

        async def add(client: Any) -> Any:
            async with client.pipeline(transaction=False) as pipe:
                for key in index_keys(meta):
                    pipe.sadd(key, meta.id)
                pipe.zadd(USED, {meta.id: used})
                return await pipe.execute()

        await self._run(add)

    async def maps_of(self, owner: str | None, principal: str | None, maker: str | None) -> list[MapSummary]:
        if owner is not None:
            sets = [f"mapsrv:owner:{owner}", f"mapsrv:opened:{owner}"]
        elif principal is not None:
            sets = [f"mapsrv:principal:{principal}"]
        elif maker is not None:
            sets = [f"mapsrv:maker:{maker}"]
        else:
            sets = []
        if sets:
            raw = await self._run(lambda c: c.sunion(sets))
            ids = sorted(as_text(i) or "" for i in raw)
        else:
            raw = await self._run(lambda c: c.zrevrange(USED, 0, 10 * LIST_LIMIT))
            ids = [as_text(i) or "" for i in raw]

        async def read(client: Any) -> Any:
            async with client.pipeline(transaction=False) as pipe:
                for map_id in ids:
                    pipe.hmget(map_key(map_id), _SUMMARY_FIELDS)
                return await pipe.execute()

        rows = await self._run(read) if ids else []
        found, missing = [], []
        for map_id, row in zip(ids, rows, strict=True):
            values = [as_text(v) for v in row]
            if values[0] is None:  # the map is gone: the index still named it
                missing.append(map_id)
                continue
            view_key, edit_key, owner_, principal_, maker_, title, version, features = values[:8]
            meta = MapMeta(map_id, view_key or "", owner_, principal_, edit_key=edit_key, maker=maker_)
            created = _number(values[8])
            found.append(
                MapSummary(
                    meta,
                    title or "",
                    int(version or 0),
                    int(features or 0),
                    created,
                    _number(values[9], created),
                    values[10] or "",
                )
            )
        if missing and sets:
            await self._run(lambda c: self._forget_ids(c, sets, missing))
        found.sort(key=lambda s: s.updated, reverse=True)
        return found[:LIST_LIMIT]

    @staticmethod
    async def _forget_ids(client: Any, sets: Sequence[str], ids: Sequence[str]) -> Any:
        async with client.pipeline(transaction=False) as pipe:
            for key in sets:
                pipe.srem(key, *ids)
            return await pipe.execute()

    async def remember_opened(self, user: str, map_id: str) -> None:
        async def add(client: Any) -> Any:
            async with client.pipeline(transaction=False) as pipe:
                pipe.sadd(f"mapsrv:opened:{user}", map_id)
                pipe.sadd(opened_key(map_id), user)
                return await pipe.execute()

        await self._run(add)

    async def forget_opened(self, map_id: str) -> None:
        """The map leaves the lists of everyone who opened it through its edit link (that link
        was turned off or replaced)."""
        users = [as_text(u) or "" for u in await self._run(lambda c: c.smembers(opened_key(map_id)))]

        async def forget(client: Any) -> Any:
            async with client.pipeline(transaction=False) as pipe:
                for user in users:
                    pipe.srem(f"mapsrv:opened:{user}", map_id)
                pipe.delete(opened_key(map_id))
                return await pipe.execute()

        await self._run(forget)

    async def delete(self, map_id: str, *, tombstone: bool) -> MapMeta | None:
        store = self.store
        raw = await self._run(lambda c: c.hmget(map_key(map_id), ("view_key", "owner", "principal", "maker")))
        view_key, owner, principal, maker = (as_text(v) for v in raw)
        if view_key is None:
            return None
        script = store.script("DELETE")
        keys = [
            map_key(map_id),
            log_key(map_id),
            batches_key(map_id),
            presence_key(map_id),
            edits_key(map_id),
            opened_key(map_id),
        ]
        args = [store.publish_command, channel(map_id), store.link.tag + ' {"gone":true}']
        reply = await self._run(lambda c: script(keys=keys, args=args, client=c))
        if not reply:
            return None  # another process deleted it meanwhile
        edits = [as_text(k) or "" for k in reply[0]]
        opened_by = [as_text(u) or "" for u in reply[1]]
        meta = MapMeta(map_id, view_key, owner, principal, maker=maker)

        async def forget(client: Any) -> Any:
            async with client.pipeline(transaction=False) as pipe:
                pipe.delete(f"mapsrv:view:{view_key}", *(f"mapsrv:edit:{k}" for k in edits))
                for key in index_keys(meta):
                    pipe.srem(key, map_id)
                for user in opened_by:
                    pipe.srem(f"mapsrv:opened:{user}", map_id)
                pipe.zrem(USED, map_id)
                if tombstone:
                    for key in (map_id, view_key, *edits):
                        pipe.set(f"mapsrv:gone:{key}", "1", px=GONE_TTL_MS)
                return await pipe.execute()

        await self._run(forget)
        return meta

    async def gone(self, key: str) -> bool:
        return bool(await self._run(lambda c: c.exists(f"mapsrv:gone:{key}")))

    async def sweep(self, now: float, retention: float | None, unused: float) -> list[str]:
        """Maps unused past ``retention`` are deleted (no tombstone); maps nobody drew on expire
        by their time to live, and their ids leave the last-use index here."""
        forgotten: list[str] = []
        if retention is not None:
            while True:
                raw = await self._run(lambda c: c.zrangebyscore(USED, "-inf", now - retention, 0, SWEEP_STEP))
                ids = [as_text(i) or "" for i in raw]
                lost = []
                for map_id in ids:
                    if await self.delete(map_id, tombstone=False) is not None:
                        forgotten.append(map_id)
                    else:
                        lost.append(map_id)
                if lost:
                    await self._run(partial(_zrem, ids=lost))
                if len(ids) < SWEEP_STEP:
                    break
        stale = await self._run(lambda c: c.zrangebyscore(USED, "-inf", now - unused, 0, SWEEP_STEP))
        stale_ids = [as_text(i) or "" for i in stale]
        if stale_ids:
            exists = await self._run(lambda c: self._exist(c, stale_ids))
            expired = [i for i, there in zip(stale_ids, exists, strict=True) if not there]
            if expired:
                await self._run(lambda c: c.zrem(USED, *expired))
        return forgotten

    async def _exist(self, client: Any, ids: Sequence[str]) -> Any:
        async with client.pipeline(transaction=False) as pipe:
            for map_id in ids:
                pipe.exists(map_key(map_id))
            return await pipe.execute()

    async def map_ids(self, cursor: str, count: int) -> tuple[list[str], str]:
        next_cursor, entries = await self._run(lambda c: c.zscan(USED, int(cursor or 0), count=count))
        ids = [as_text(member) or "" for member, _ in entries]
        return ids, ("" if int(next_cursor) == 0 else str(next_cursor))

    async def dump(self, map_id: str) -> MapRecord | None:
        loaded = await self.store.load(map_id)
        if loaded is None:
            return None

        async def extra(client: Any) -> Any:
            async with client.pipeline(transaction=False) as pipe:
                pipe.hmget(map_key(map_id), ("created", "updated", "updated_by", "used"))
                pipe.smembers(edits_key(map_id))
                pipe.smembers(opened_key(map_id))
                return await pipe.execute()

        (created, updated, by, used), edits, opened = await self._run(extra)
        retired = tuple(sorted(k for k in (as_text(e) or "" for e in edits) if k != loaded.meta.edit_key))
        created_s = _number(created)
        return MapRecord(
            loaded.meta,
            loaded.state,
            loaded.log,
            created_s,
            _number(updated, created_s),
            as_text(by) or "",
            _number(used, created_s),
            retired,
            tuple(sorted(as_text(u) or "" for u in opened)),
        )

    async def restore(self, r: MapRecord, replace: bool) -> bool:
        store = self.store
        meta = r.meta
        fields = map_fields(meta, r.state, r.created, updated=r.updated, updated_by=r.updated_by, used=r.used)
        edits = [k for k in (meta.edit_key, *r.retired_edit_keys) if k]
        args: list[Any] = ["1" if replace else "", len(fields)]
        for name, value in fields.items():
            args += [name, value]
        args += [len(edits), *edits, len(r.opened_by), *r.opened_by]
        for event in r.log:
            args += [event.version, wire(event)]
        keys = [map_key(meta.id), log_key(meta.id), batches_key(meta.id)]
        keys += [edits_key(meta.id), opened_key(meta.id)]
        script = store.script("RESTORE")
        if not await self._run(lambda c: script(keys=keys, args=args, client=c)):
            return False

        async def links(client: Any) -> Any:
            async with client.pipeline(transaction=False) as pipe:
                pipe.set(f"mapsrv:view:{meta.view_key}", meta.id)
                if meta.edit_key:
                    pipe.set(f"mapsrv:edit:{meta.edit_key}", meta.id)
                for key in r.retired_edit_keys:
                    pipe.set(f"mapsrv:edit:{key}", "-" + meta.id)
                for user in r.opened_by:
                    pipe.sadd(f"mapsrv:opened:{user}", meta.id)
                for key in index_keys(meta):
                    pipe.sadd(key, meta.id)
                pipe.zadd(USED, {meta.id: r.used})
                pipe.delete(f"mapsrv:gone:{meta.id}", f"mapsrv:gone:{meta.view_key}")
                return await pipe.execute()

        await self._run(links)
        return True

    async def touch(self, entries: Sequence[Touched]) -> None:
        """Maps still in use (watched, or recently used): their last use is now (retention counts
        from it); the keys of one nobody drew on yet stay alive (``XX``: only keys that have a
        time to live), and a kept map's links lose theirs if the commit that kept the map could not
        say so (``_keep_links``)."""
        if not entries:
            return
        now = self.store.clock()

        async def ttls(client: Any) -> Any:
            async with client.pipeline(transaction=False) as pipe:
                for map_id, _, _ in entries:
                    pipe.pttl(map_key(map_id))
                return await pipe.execute()

        lives = await self._run(ttls)

        async def touch(client: Any) -> Any:
            async with client.pipeline(transaction=False) as pipe:
                for (map_id, view_key, edit_key), life in zip(entries, lives, strict=True):
                    links = [f"mapsrv:view:{view_key}"] + ([f"mapsrv:edit:{edit_key}"] if edit_key else [])
                    if int(life) == -1:  # kept
                        for key in links:
                            pipe.persist(key)
                    elif int(life) > 0:
                        for key in (
                            map_key(map_id),
                            log_key(map_id),
                            batches_key(map_id),
                            edits_key(map_id),
                        ):
                            pipe.pexpire(key, self.store.ttl_ms, xx=True)
                        for key in links:
                            pipe.pexpire(key, self.store.ttl_ms, xx=True)
                    pipe.zadd(USED, {map_id: now}, xx=True)
                return await pipe.execute()

        await self._run(touch)

    async def list_unlisted(self, meta: MapMeta, state: MapState) -> None:
        """A map written before mapsrv kept lists (its hash has no ``used``) joins its owner's
        list, and the index that lists, sweeps and backups read, the first time a process loads
        it: a map from before the upgrade is kept once somebody draws on it again, so it must be
        findable by then. Its creation time is not known: now stands for it."""
        now = time.time()
        summary: dict[Any, Any] = {
            "title": state.title,
            "features": len(state.features),
            "created": repr(now),
            "updated": repr(now),
            "used": repr(now),
        }
        await self._run(lambda c: c.hset(map_key(meta.id), mapping=summary))
        await self.indexed(meta, now)
        log.info("map %s: listed (it was made before maps were listed)", map_ref(meta.id))


# END
