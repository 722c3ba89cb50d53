"""A map's links besides its id: the edit key (people who edit with the owner) and the view key
(people who watch), and the owner making new ones or turning the edit link off.

The store's word on an edit key is final: each use asks it (one GET), so a link turned off on
one process stops working on every other at once. Streams opened through an old key are told
with an ``access`` frame and ended, here by ``relink`` and on the other processes when the
store's notice (``Store.set_links``) arrives, within a round trip."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable

from mapsrv.core.codec import dumps
from mapsrv.core.ids import map_ref
from mapsrv.core.sse import frame
from mapsrv.errors import Forbidden, NotFound
from mapsrv.hub.fanout import Fanout
from mapsrv.hub.registry import MapEntry, Registry, new_token
from mapsrv.store import MapMeta, Store

__all__ = ["EDIT_LINK_OFF", "VIEW_LINK_NEW", "Links"]

log = logging.getLogger("mapsrv.hub")

EDIT_LINK_OFF = "the map's owner turned this edit link off; you can still watch, or ask them for a new link"
VIEW_LINK_NEW = "the map's owner made a new view link; ask them for it"


class Links:
    def __init__(
        self, store: Store, registry: Registry, fanout: Fanout, get: Callable[[str], Awaitable[MapEntry]]
    ) -> None:
        self.store = store
        self.registry = registry
        self.fanout = fanout
        self.get = get  # the hub's: a map by id, loaded from the store when not held here

    async def entry_for(self, edit_key: str) -> MapEntry:
        """The map an edit link opens; a turned-off link is ``Forbidden``, saying so."""
        found = self.registry.map_for_edit_key(edit_key)
        if self.store.durable:
            found = await self.store.map_for_edit_key(edit_key)
        if found is None:
            raise NotFound("map not found")
        map_id, live = found
        if not live:
            raise Forbidden(EDIT_LINK_OFF)
        entry = await self.get(map_id)
        if entry.edit_key != edit_key:
            # The store has a link this copy has not heard of yet (its notice is on the way).
            self.registry.relink(entry, dataclasses.replace(entry.meta, edit_key=edit_key))
        return entry

    async def relink(self, entry: MapEntry, *, edit: str | None = None, view: bool = False) -> MapMeta:
        """``edit`` "new" makes a new edit link (the old one stops working), "off" turns it off;
        ``view`` makes a new view link. Pages open through an old link are told, everywhere."""
        old = entry.meta
        edit_key = {"new": new_token(), "off": None, None: old.edit_key}[edit]
        new = dataclasses.replace(old, edit_key=edit_key, view_key=new_token() if view else old.view_key)
        await self.store.set_links(old, new)
        self.relinked(entry, new)
        log.info("map %s: new links (edit: %s, view: %s)", map_ref(entry.id), edit or "kept", view)
        return new

    def relinked(self, entry: MapEntry, new: MapMeta) -> None:
        """The map's keys are ``new``'s: streams opened through an old one get an ``access``
        frame (an editor's: it may still watch, through the view link) and end."""
        old = entry.meta
        self.registry.relink(entry, new)
        told = []
        for viewer, member in list(entry.members.items()):
            if not member.key or member.key in (new.edit_key, new.view_key):
                continue
            if member.role == "editor" and member.key == old.edit_key:
                said = {"role": "viewer", "view_url": f"/v/{new.view_key}", "message": EDIT_LINK_OFF}
            elif member.role == "viewer" and member.key == old.view_key:
                said = {"role": "none", "message": VIEW_LINK_NEW}
            else:
                continue
            told.append((viewer, frame(dumps(said), event="access")))
        self.fanout.last_words(entry, told)  # each stream ends after its frame; it leaves then

    def heard(self, entry: MapEntry, text: bytes | str) -> None:
        """Another process's ``{"links": {...}}`` notice."""
        try:
            links = json.loads(text)["links"]
            view_key, edit_key = links["view_key"], links.get("edit_key")
            if not isinstance(view_key, str) or not isinstance(edit_key, (str, type(None))):
                raise TypeError("keys are text")
        except (ValueError, KeyError, TypeError):
            log.warning("map %s: a links notice could not be read", map_ref(entry.id))
            return
        self.relinked(entry, dataclasses.replace(entry.meta, view_key=view_key, edit_key=edit_key))
