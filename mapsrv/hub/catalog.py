"""The maps a person or an agent has: their lists, deleting a map (its links then answer 410
Gone, its streams end) and keeping maps (retention).

A map somebody drew on is kept until it is deleted. ``retention`` (off by default) forgets maps
nobody opened or changed for that long; a map nobody drew on goes after ``UNUSED_MAP_TIMEOUT``.
A durable store keeps the lists (every process sees the same); with ``memory://`` they are what
this process holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from mapsrv.core.codec import dumps
from mapsrv.core.ids import map_ref
from mapsrv.core.sse import frame
from mapsrv.errors import Gone
from mapsrv.hub.fanout import Fanout
from mapsrv.hub.registry import UNUSED_MAP_TIMEOUT, MapEntry, Registry
from mapsrv.store import MapSummary, Store

__all__ = ["DELETED", "Catalog", "summary_of"]

log = logging.getLogger("mapsrv.hub")

DELETED = "the map's owner deleted this map"


def summary_of(entry: MapEntry) -> MapSummary:
    """A held map's line in a list (``memory://``, where the registry is the only record)."""
    records = entry.history.records()
    change = records[-1].change if records else None
    return MapSummary(
        entry.meta,
        entry.state.title,
        entry.state.version,
        len(entry.state.features),
        entry.created,
        change.at if change else entry.created,
        change.by.name if change else "",
    )


class Catalog:
    def __init__(
        self,
        store: Store,
        registry: Registry,
        fanout: Fanout,
        *,
        retention: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.registry = registry
        self.fanout = fanout
        self.retention = retention
        self.clock = clock
        self.forgotten = 0  # maps the retention sweeps forgot

    async def maps_of(
        self, *, owner: str | None = None, principal: str | None = None, maker: str | None = None
    ) -> list[MapSummary]:
        """The maps of a browser user (owned, and opened through an edit link), an API key, or
        an anonymous agent; with none given, every map (a private, one-person server)."""
        if self.store.durable:
            return await self.store.maps_of(owner=owner, principal=principal, maker=maker)
        opened = self.registry.opened.get(owner, set()) if owner is not None else set()
        mine = [
            summary_of(e)
            for e in self.registry
            if (owner is None and principal is None and maker is None)
            or (owner is not None and (e.owner == owner or e.id in opened))
            or (principal is not None and e.principal == principal)
            or (maker is not None and e.maker == maker)
        ]
        return sorted(mine, key=lambda s: s.updated, reverse=True)

    async def maps_of_owners(self, owners: list[str], person: str | None) -> list[MapSummary]:
        """The maps of these browser users and, with ``person``, what agents made for them."""
        found: dict[str, MapSummary] = {}
        for owner in owners:
            for summary in await self.maps_of(owner=owner):
                found.setdefault(summary.meta.id, summary)
        if person is not None:
            for summary in await self.maps_of(principal=person):
                found.setdefault(summary.meta.id, summary)
        return sorted(found.values(), key=lambda s: s.updated, reverse=True)

    async def remember_opened(self, user: str, entry: MapEntry) -> None:
        """``user`` opened the map through its edit link: it is in their list from now on."""
        if entry.owner == user:
            return
        opened = self.registry.opened.setdefault(user, set())
        if entry.id in opened:
            return
        opened.add(entry.id)
        if self.store.durable:
            await self.store.remember_opened(user, entry.id)

    async def delete(self, entry: MapEntry) -> None:
        """Delete the map everywhere: the store forgets it, its links answer 410 Gone, and the
        streams open on it (here, and on other processes through the store's notice) end."""
        async with entry.lock:
            await self.store.delete(entry.id)
            self.deleted(entry)
        log.info("map %s: deleted by its owner", map_ref(entry.id))

    def deleted(self, entry: MapEntry) -> None:
        """The map was deleted (here, or by another process): end its streams, telling each
        page why, and forget it."""
        data = frame(dumps({"role": "none", "gone": True, "message": DELETED}), event="access")
        self.fanout.last_words(entry, [(viewer, data) for viewer in entry.subscribers])
        entry.members.clear()
        self.registry.drop(entry, gone=True)

    async def check_gone(self, key: str) -> None:
        """``Gone`` when ``key`` (a map id, view key or edit key) belonged to a deleted map."""
        if self.registry.gone(key) or (self.store.durable and await self.store.gone(key)):
            raise Gone(DELETED)

    async def sweep(self) -> int:
        """Forget stored maps past their time (``retention``, and maps nobody drew on)."""
        if not self.store.durable:
            return 0  # memory://: the registry's idle expiry is all there is
        forgotten = await self.store.sweep(self.clock(), retention=self.retention, unused=UNUSED_MAP_TIMEOUT)
        for map_id in forgotten:
            entry = self.registry.find(map_id)
            if entry is not None and not entry.subscribers and entry.held is None:
                self.registry.drop(entry)
        if forgotten:
            log.info("forgot %d maps past their time", len(forgotten))
        self.forgotten += len(forgotten)
        return len(forgotten)
