"""A map's links in Redis: its view key (``mapsrv:view:<key>``) and edit keys
(``mapsrv:edit:<key>``, ``-<map id>`` once turned off) as single-key calls beside the map's own
keys, set in the order that never lets a turned-off key open the map; a map's claim by its first
owner; its links kept (no time to live) once somebody drew on it; and what goes on the map's
channel that is not an event: who is on the map (its presence hash) and notices."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from mapsrv.store.contract import MapMeta, links_notice
from mapsrv.store.redis.catalog import CatalogStore, RedisCatalog
from mapsrv.store.redis.keys import as_text, channel, edits_key, map_key, presence_key

__all__ = ["RedisLinks"]


class RedisLinks:
    def __init__(self, store: CatalogStore, catalog: RedisCatalog) -> None:
        self.store = store
        self.catalog = catalog

    @property
    def _run(self) -> Callable[[Callable[[Any], Awaitable[Any]]], Awaitable[Any]]:
        return self.store.link.run

    async def map_for_view_key(self, view_key: str) -> str | None:
        return as_text(await self._run(lambda c: c.get(f"mapsrv:view:{view_key}")))

    async def map_for_edit_key(self, edit_key: str) -> tuple[str, bool] | None:
        found = as_text(await self._run(lambda c: c.get(f"mapsrv:edit:{edit_key}")))
        if not found:
            return None
        if not found.startswith("-"):
            return found, True
        # "-<map id>": turned off; but a map id may itself begin with "-" (ids made before
        # ``new_token`` left that out: one in 64), and then the map is there under the whole value
        if await self._run(lambda c: c.exists(map_key(found))):
            return found, True
        return found[1:], False

    async def set_links(self, old: MapMeta, new: MapMeta) -> None:
        """Single-key calls (the index keys live in other slots than the map's), in the order
        that never lets a turned-off key open the map: the old keys go first."""
        map_id = new.id
        ttl = None  # the links of a map that is kept last as long as it
        if old.edit_key and old.edit_key != new.edit_key:
            await self._run(lambda c: c.set(f"mapsrv:edit:{old.edit_key}", "-" + map_id, px=ttl))
            await self.catalog.forget_opened(map_id)  # who opened the old link loses the map
        if old.view_key != new.view_key:
            await self._run(lambda c: c.delete(f"mapsrv:view:{old.view_key}"))
        fields: dict[Any, Any] = {"view_key": new.view_key}
        if new.edit_key:
            fields["edit_key"] = new.edit_key
            await self._run(lambda c: c.set(f"mapsrv:edit:{new.edit_key}", map_id, px=ttl))
            edit_key = new.edit_key
            await self._run(lambda c: c.sadd(edits_key(map_id), edit_key))
        await self._run(lambda c: c.hset(map_key(map_id), mapping=fields))
        if not new.edit_key:
            await self._run(lambda c: c.hdel(map_key(map_id), "edit_key"))
        await self._run(lambda c: c.set(f"mapsrv:view:{new.view_key}", map_id, px=ttl))
        script = self.store.script("NOTICE")
        args = [self.store.publish_command, channel(map_id), self.store.link.tag + " " + links_notice(new)]
        await self._run(lambda c: script(keys=[map_key(map_id)], args=args, client=c))

    async def claim(self, map_id: str, owner: str) -> str | None:
        script = self.store.script("CLAIM")
        claimed = as_text(await self._run(lambda c: script(keys=[map_key(map_id)], args=[owner], client=c)))
        if claimed == owner:
            await self._run(lambda c: c.sadd(f"mapsrv:owner:{owner}", map_id))
        return claimed

    async def keep_links(self, map_id: str) -> None:
        """Somebody drew on the map: its view and edit keys lose their time to live, as its own
        keys did in the commit."""
        view_key, edit_key = await self._run(lambda c: c.hmget(map_key(map_id), ("view_key", "edit_key")))
        keys = [f"mapsrv:view:{as_text(view_key)}"] + (
            [f"mapsrv:edit:{as_text(edit_key)}"] if edit_key else []
        )

        async def persist(client: Any) -> Any:
            async with client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.persist(key)
                return await pipe.execute()

        await self._run(persist)

    async def share_presence(self, map_id: str, sender: str, text: str, ttl: float) -> None:
        now_ms = int(time.time() * 1000)
        ttl_ms = max(1, int(ttl * 1000))
        script = self.store.script("PRESENCE")
        args = [sender, now_ms + ttl_ms, text, ttl_ms, now_ms, channel(map_id)]
        args += [self.store.link.tag + ' {"presence":' + text + "}", self.store.publish_command]
        await self._run(lambda c: script(keys=[presence_key(map_id)], args=args, client=c))

    async def notify(self, map_id: str, text: str) -> None:
        script = self.store.script("NOTICE")
        args = [self.store.publish_command, channel(map_id), self.store.link.tag + " " + text]
        await self._run(lambda c: script(keys=[map_key(map_id)], args=args, client=c))

    async def presence_of(self, map_id: str) -> list[str]:
        raw = await self._run(lambda c: c.hvals(presence_key(map_id)))
        now_ms = int(time.time() * 1000)
        shared = []
        for value in raw:
            until, _, text = (as_text(value) or "").partition(" ")
            if until.isdigit() and int(until) > now_ms:
                shared.append(text)
        return shared
