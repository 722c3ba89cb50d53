"""``MapHub``: the one object the edges (web, MCP tools, the event stream) use. Hot maps in memory
(``registry``), one writer at a time per map against the store (``replica``, whose recovery
decisions live in ``recovery``), and viewers (``fanout``)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from mapsrv.core import Limits, MapState, Op
from mapsrv.core.history import SYSTEM, Actor
from mapsrv.core.ids import map_ref
from mapsrv.hub.catalog import Catalog
from mapsrv.hub.edits import (
    changes_json,
    duplicate_ops,
    is_heavy,
    plan_redo,
    plan_undo,
    plan_write,
)
from mapsrv.hub.expiry import serve_expiry
from mapsrv.hub.fanout import EndSoon, Fanout, Subscription, Viewer, ViewerFactory
from mapsrv.hub.joins import Viewers
from mapsrv.hub.links import Links
from mapsrv.hub.lookup import Lookup
from mapsrv.hub.people import People
from mapsrv.hub.pointers import Pointers
from mapsrv.hub.presence import Member, Presence
from mapsrv.hub.reader import ReadLimits
from mapsrv.hub.registry import MapEntry, Registry
from mapsrv.hub.replica import Replica, Written
from mapsrv.store import MapMeta, MapSummary, Store, StoreMessage, StoreUnavailable
from mapsrv.store.memory import MemoryStore

__all__ = ["HubStatistics", "MapHub"]

log = logging.getLogger("mapsrv.hub")


@dataclass(frozen=True)
class HubStatistics:
    maps: int
    subscribers: int
    events_published: int
    subscribers_dropped: int
    maps_expired: int
    commit_conflicts: int
    pending_writes: int
    features: int = 0  # of the maps held


class MapHub:
    def __init__(
        self,
        *,
        store: Store | None = None,
        limits: Limits = Limits(),
        event_log_size: int = 1024,
        subscriber_buffer: int = 256,
        idle_timeout: float = 3600.0,
        max_maps: int = 100_000,
        retention: float | None = None,
        end_soon: EndSoon | None = None,
    ) -> None:
        """``end_soon``: how the end of a stream read from a channel runs (``Fanout``); the
        server gives its pacer's, so that thousands ended together end a few per loop turn."""
        self.store: Store = store if store is not None else MemoryStore()
        self.limits = limits
        self.read_limits = ReadLimits()  # what reading one imported file may cost (the server's flags)
        self.files_dirs: tuple[Path, ...] = ()  # folders an import may read by path (--files-dir)
        self.max_file_size = 256 << 20  # the most an import by path, URL or upload link may be
        self.idle_timeout = idle_timeout
        self.registry = Registry(
            max_maps=max_maps,
            idle_timeout=idle_timeout,
            frame_log_size=event_log_size,
            follow=self.store.follow,
            unfollow=self.store.unfollow,
        )
        self.fanout = Fanout(subscriber_buffer, end_soon)
        self.replica = Replica(self.store, self.fanout, limits)
        self.replica.on_notice = self._on_notice
        self.presence = Presence(self.store, secrets.token_hex(6), self._broadcast, self._broadcast_paced)
        self.links = Links(self.store, self.registry, self.fanout, self.get)
        self.pointers = Pointers(self.store, self.presence.sender, self._broadcast)
        self.catalog = Catalog(self.store, self.registry, self.fanout, retention=retention)
        self.lookup = Lookup(self.registry, self.store, self.replica, self.catalog, self.links)
        self.people = People(self.store)  # who signed in (``people``)
        self.viewers = Viewers(self.registry, self.fanout, self.replica, self.presence, self.pointers)
        # One person's process (a private ``mapsrv stdio``): every map is theirs, listed for
        # their browser and their agent alike.
        self.private = False

    @property
    def ready(self) -> bool:
        return self.store.available

    @property
    def observe_commit(self) -> Callable[[float], None]:
        """Called with the seconds each commit to the store took (a metrics histogram)."""
        return self.replica.observe_commit

    @observe_commit.setter
    def observe_commit(self, observe: Callable[[float], None]) -> None:
        self.replica.observe_commit = observe

    # --- maps -------------------------------------------------------------------------------

    async def create_map(
        self,
        *,
        owner: str | None = None,
        principal: str | None = None,
        title: str = "",
        maker: str | None = None,
    ) -> MapEntry:
        """A new map, empty (forgotten after ten minutes unless somebody draws on it). ``maker``:
        the agent making it (its actor id), so that it finds the map in its list."""
        entry = self.registry.new_entry(owner=owner, principal=principal, title=title, maker=maker)
        await self.store.create(entry.meta, entry.state)
        self.registry.hold(entry)
        log.debug("map %s: created (%s)", map_ref(entry.id), "by a browser" if owner else "by an agent")
        if owner is not None:
            await self._remember_last_map(owner, entry.id)
        return entry

    def find(self, map_id: str) -> MapEntry | None:
        """The map if this process holds it; never asks the store."""
        return self.registry.find(map_id)

    async def get(self, map_id: str) -> MapEntry:
        """The map with this id, loaded from the store when another process made it. Unknown and
        expired ids are the same NotFound (``lookup``)."""
        return await self.lookup.get(map_id)

    async def get_by_view_key(self, view_key: str) -> MapEntry:
        return await self.lookup.get_by_view_key(view_key)

    async def get_by_edit_key(self, edit_key: str) -> MapEntry:
        """The map an edit link opens (``links.Links.entry_for``)."""
        return await self.lookup.get_by_edit_key(edit_key)

    async def last_map_of(self, owner: str) -> MapEntry | None:
        return await self.lookup.last_map_of(owner)

    async def relink(self, entry: MapEntry, *, edit: str | None = None, view: bool = False) -> MapMeta:
        """The owner's new links (``links.Links.relink``)."""
        return await self.links.relink(entry, edit=edit, view=view)

    def _on_notice(self, entry: MapEntry, text: bytes | str) -> None:
        """A notice on the map's channel from another process: presence, or new links."""
        kind = text[2:10]
        if kind in (b"presence", "presence"):
            self.presence.heard(entry.id, text)
        elif kind in (b"pointers", "pointers"):
            self.pointers.heard(entry.id, text)
        elif kind[:4] in (b"gone", "gone"):
            self.catalog.deleted(entry)
        else:
            self.links.heard(entry, text)

    def point(self, entry: MapEntry, actor: str, at: tuple[float, float] | None, view: Any) -> bool:
        """A person's pointer and view on the map, for the others' pages (``pointers``)."""
        return self.pointers.point(entry.id, actor, at, view)

    def _broadcast(self, map_id: str, data: bytes) -> None:
        entry = self.registry.find(map_id)
        if entry is not None:
            self.fanout.broadcast(entry, data)

    async def _broadcast_paced(self, map_id: str, data: bytes) -> None:
        entry = self.registry.find(map_id)
        if entry is not None:
            await self.fanout.broadcast_paced(entry, data)

    def present(self, entry: MapEntry) -> tuple[list[dict[str, Any]], int]:
        """Who is on the map now, on every process: the listed members and how many more."""
        return self.presence.present(entry.id)

    async def serve_presence(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Presence's shares and sweeps, and the pointers' frames."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.presence.serve)
            await nursery.start(self.pointers.serve)
            task_status.started()

    async def claim(self, entry: MapEntry, owner: str) -> None:
        """An agent-made map belongs to the first browser that opens its link."""
        if entry.owner is None:
            entry.owner = await self.store.claim(entry.id, owner) or owner
        if entry.owner == owner:
            await self._remember_last_map(owner, entry.id)

    async def _remember_last_map(self, owner: str, map_id: str) -> None:
        self.registry.remember_last_map(owner, map_id)
        try:
            await self.store.remember_last_map(owner, map_id)
        except StoreUnavailable:
            pass  # a convenience: the browser finds its map again once the store is back

    # --- lists, deletion, copies (``catalog``) -------------------------------------------------

    async def maps_of(
        self, *, owner: str | None = None, principal: str | None = None, maker: str | None = None
    ) -> list[MapSummary]:
        """A person's or an agent's maps, newest change first (``catalog.Catalog.maps_of``)."""
        return await self.catalog.maps_of(owner=owner, principal=principal, maker=maker)

    async def maps_of_user(self, user: str) -> list[MapSummary]:
        """A browser user's maps: its own and, signed in, the person's (every browser they signed
        in with, and what agents acting for them made), newest change first."""
        return await self.catalog.maps_of_owners(
            await self.people.owners_of(user), await self.people.person_of(user)
        )

    async def maps_of_person(self, person: str) -> list[MapSummary]:
        """A person's maps, for an agent acting for them: what they made in any browser they
        signed in with, and what agents made for them."""
        return await self.catalog.maps_of_owners(await self.people.owners_of_person(person), person)

    async def remember_opened(self, user: str, entry: MapEntry) -> None:
        """``user`` opened the map through its edit link: it joins their list."""
        try:
            await self.catalog.remember_opened(user, entry)
        except StoreUnavailable:
            pass  # a convenience: the next visit records it

    async def delete_map(self, entry: MapEntry) -> None:
        """Delete the map for good: its links answer 410 Gone and its streams end, everywhere."""
        await self.catalog.delete(entry)

    async def duplicate_map(self, entry: MapEntry, *, owner: str | None, actor: Actor = SYSTEM) -> MapEntry:
        """A new map with the same features, layers, title and view: new links, no history."""
        copy = await self.create_map(owner=owner, principal=entry.principal, title=entry.state.title)
        await self.apply(copy.id, duplicate_ops(entry.state), actor=actor)
        return copy

    # --- writes -----------------------------------------------------------------------------

    async def apply(
        self,
        map_id: str,
        ops: Sequence[Op],
        *,
        expected_version: int | None = None,
        base_version: int | None = None,
        actor: Actor = SYSTEM,
    ) -> Written:
        """Apply a batch of ops to a map, all or none, as one change by ``actor``, and publish the
        events (the last carries the change). Returns once the store has them, at the versions it
        has them at (or, while the store is unreachable, once they are held here: ``provisional``).

        ``expected_version``: the whole map must be at this version (else ``VersionConflict``).
        ``base_version``: the version the caller's edit is based on; the write fails with
        ``EditConflict`` only when a change since touched a feature or layer these ops touch."""
        entry = await self.get(map_id)
        plan = plan_write(ops, expected_version, base_version)
        events = await self.replica.write(entry, plan, actor, heavy=is_heavy(ops, entry.state))
        log.debug("map %s: %d ops applied, now version %d", map_ref(entry.id), len(ops), events[-1].version)
        return events

    async def undo(self, map_id: str, actor: Actor) -> Written:
        """Revert ``actor``'s last change (not anyone else's) as a new change. ``NothingToUndo``
        when there is none; ``EditConflict`` when someone else changed those features since."""
        entry = await self.get(map_id)
        return await self.replica.write(entry, plan_undo(actor), actor)

    async def redo(self, map_id: str, actor: Actor) -> Written:
        """Revert ``actor``'s last undo, when the actor made no other change since."""
        entry = await self.get(map_id)
        return await self.replica.write(entry, plan_redo(actor), actor)

    async def changes_since(self, map_id: str, version: int, *, limit: int = 100) -> dict[str, Any]:
        """The changes after ``version``, oldest first, JSON-ready (docs/protocol.md)."""
        entry = await self.get(map_id)
        return changes_json(entry.id, entry.state, entry.history, version, limit)

    async def state_at(self, map_id: str, version: int) -> MapState:
        """The map's features, layers and title as they were at ``version`` (InvalidInput when
        its history here does not reach back that far); the view is today's."""
        entry = await self.get(map_id)
        return entry.history.state_at(entry.state, version)

    async def resync(self) -> None:
        """Push held writes and catch up every held map (``serve_replication`` does this when
        the store comes back)."""
        await self.replica.resync(self.registry)

    async def serve_replication(
        self,
        messages: trio.MemoryReceiveChannel[StoreMessage],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Consume the store's channel (``await nursery.start(store.serve)`` hands it out)."""
        await self.replica.serve(messages, self.registry, task_status=task_status)

    # --- viewers (``joins.Viewers``) ----------------------------------------------------------

    def subscribe(
        self, entry: MapEntry, last_event_id: str | None = None, member: Member | None = None
    ) -> AbstractAsyncContextManager[Subscription]:
        """Watch a map from now on, reading each frame from the subscription's channel (with
        ``last_event_id``, only the events missed); ``member``: who is watching."""
        return self.viewers.subscribe(entry, last_event_id, member)

    async def join(
        self, entry: MapEntry, last_event_id: str | None, viewer: ViewerFactory, member: Member | None = None
    ) -> Viewer:
        """``subscribe`` with a viewer of the caller's kind; ``leave`` ends it."""
        return await self.viewers.join(entry, last_event_id, viewer, member)

    def leave(self, entry: MapEntry, sub: Viewer) -> None:
        self.viewers.leave(entry, sub)

    def close_all_subscribers(self) -> None:
        """End every stream (graceful shutdown): browsers reconnect elsewhere and resume."""
        self.viewers.close_all_subscribers()

    async def end_streams(self, over: float) -> int:
        """End every stream within ``over`` seconds, a batch at a time (a drain)."""
        return await self.viewers.end_streams(over)

    async def serve_heartbeats(
        self, interval: float, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        await self.viewers.serve_heartbeats(interval, task_status=task_status)

    # --- expiry (``expiry``) -----------------------------------------------------------------

    def expire_idle(self) -> int:
        return self.registry.expire_idle(trio.current_time())

    async def serve_expiry(
        self, *, interval: float | None = None, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        await serve_expiry(
            self.registry, self.store, self.catalog, self.idle_timeout, interval, task_status=task_status
        )

    def statistics(self) -> HubStatistics:
        return HubStatistics(
            maps=len(maps := self.registry),
            subscribers=sum(len(e.subscribers) for e in maps),
            events_published=self.fanout.published,
            subscribers_dropped=self.fanout.dropped,
            maps_expired=maps.expired,
            commit_conflicts=self.replica.conflicts,
            pending_writes=sum(e.held.count for e in maps if e.held is not None),
            features=sum(len(e.state.features) for e in maps),
        )
