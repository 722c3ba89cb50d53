"""Finding a map: by id, view key or edit key, or a browser's last map; in this process's memory,
else loaded from the store (one load per map however many ask at once), else why not (a deleted
map's id and links answer 410 Gone, an unknown one 404)."""

from __future__ import annotations

import trio

from mapsrv.errors import NotFound
from mapsrv.hub.catalog import Catalog
from mapsrv.hub.links import Links
from mapsrv.hub.registry import MapEntry, Registry
from mapsrv.hub.replica import Replica
from mapsrv.store import Store

__all__ = ["Lookup"]


class Lookup:
    def __init__(
        self, registry: Registry, store: Store, replica: Replica, catalog: Catalog, links: Links
    ) -> None:
        self.registry = registry
        self.store = store
        self.replica = replica
        self.catalog = catalog
        self.links = links
        # Maps being loaded from the store, each by one request: a crowd that arrives on a map
        # this process does not hold yet (a rolling deploy moves its viewers here) waits for that
        # one load. 1,000 loads at once of one map timed out the Redis link and answered 503.
        self._loading: dict[str, trio.Event] = {}

    async def get(self, map_id: str) -> MapEntry:
        """The map with this id, loaded from the store when another process made it. Unknown and
        expired ids are the same NotFound."""
        entry = self.registry.find(map_id)
        if entry is None and self.store.durable:
            loading = self._loading.get(map_id)
            if loading is not None:
                await loading.wait()
                entry = self.registry.find(map_id)
            if entry is None:  # nobody was loading it, or that load failed: this request tries
                entry = await self._load(map_id)
        if entry is None:
            await self.catalog.check_gone(map_id)
            raise NotFound("map not found")
        entry.last_used = trio.current_time()
        return entry

    async def _load(self, map_id: str) -> MapEntry | None:
        self._loading[map_id] = loading = trio.Event()
        try:
            loaded = await self.store.load(map_id)
            if loaded is None:
                return None
            fresh = self.registry.loaded_entry(loaded)
            entry = self.registry.hold(fresh)
            if entry is fresh:
                # Events published while we were loading passed us by: fetch them now.
                async with entry.lock:
                    await self.replica.catch_up(entry)
            return entry
        finally:
            if self._loading.get(map_id) is loading:
                del self._loading[map_id]
            loading.set()

    async def get_by_view_key(self, view_key: str) -> MapEntry:
        map_id = self.registry.map_for_view_key(view_key)
        if map_id is None and self.store.durable:
            map_id = await self.store.map_for_view_key(view_key)
        if map_id is None:
            await self.catalog.check_gone(view_key)
            raise NotFound("map not found")
        entry = await self.get(map_id)
        if entry.view_key != view_key:
            raise NotFound("map not found")
        return entry

    async def get_by_edit_key(self, edit_key: str) -> MapEntry:
        """The map an edit link opens (``links.Links.entry_for``)."""
        try:
            return await self.links.entry_for(edit_key)
        except NotFound:
            await self.catalog.check_gone(edit_key)
            raise

    async def last_map_of(self, owner: str) -> MapEntry | None:
        map_id = self.registry.last_map_of(owner)
        if map_id is None and self.store.durable:
            map_id = await self.store.last_map_of(owner)
        if map_id is None:
            return None
        try:
            entry = await self.get(map_id)
        except NotFound:
            return None
        return entry if entry.owner == owner else None
