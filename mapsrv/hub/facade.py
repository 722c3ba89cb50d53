"""``MapHub``: the one object the edges (web, MCP tools, the event stream) use. Hot maps in memory
(``registry``), one writer at a time per map against the store (``replica``, whose recovery
decisions live in ``recovery``), and viewers (``fanout``)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio

from mapsrv.core import Limits, MapState, Op
from mapsrv.core.history import SYSTEM, Actor
from mapsrv.core.ids import map_ref
from mapsrv.core.model import DEFAULT_LAYER
from mapsrv.core.ops import FitBounds, RestoreFeatures, RestoreLayer, SetTitle, SetView
from mapsrv.errors import NotFound
from mapsrv.hub.catalog import Catalog
from mapsrv.hub.edits import HEAVY_BATCH, changes_json, plan_redo, plan_undo, plan_write, weight
from mapsrv.hub.fanout import Fanout, Subscription, Viewer, ViewerFactory, parse_version
from mapsrv.hub.links import Links
from mapsrv.hub.people import People
from mapsrv.hub.pointers import Pointers
from mapsrv.hub.presence import Member, Presence
from mapsrv.hub.registry import MapEntry, Registry
from mapsrv.hub.replica import Replica, Written
from mapsrv.store import MapMeta, MapSummary, Store, StoreMessage, StoreUnavailable
from mapsrv.store.memory import MemoryStore

__all__ = ["HubStatistics", "MapHub"]

log = logging.getLogger("mapsrv.hub")

RETENTION_SWEEP = 60.0  # seconds between sweeps of the store for maps past their time


@dataclass(frozen=True)
class HubStatistics:
    maps: int
    subscribers: int
    events_published: int
    subscribers_dropped: int
    maps_expired: int
    commit_conflicts: int
    pending_writes: int


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
    ) -> None:
        self.store: Store = store if store is not None else MemoryStore()
        self.limits = limits
        self.idle_timeout = idle_timeout
        self.registry = Registry(
            max_maps=max_maps,
            idle_timeout=idle_timeout,
            frame_log_size=event_log_size,
            follow=self.store.follow,
            unfollow=self.store.unfollow,
        )
        self.fanout = Fanout(subscriber_buffer)
        # Maps being loaded from the store, each by one request: a crowd that arrives on a map
        # this process does not hold yet (a rolling deploy moves its viewers here) waits for that
        # one load. 1,000 loads at once of one map timed out the Redis link and answered 503.
        self._loading: dict[str, trio.Event] = {}
        self.replica = Replica(self.store, self.fanout, limits)
        self.replica.on_notice = self._on_notice
        self.presence = Presence(self.store, secrets.token_hex(6), self._broadcast, self._broadcast_paced)
        self.links = Links(self.store, self.registry, self.fanout, self.get)
        self.pointers = Pointers(self.store, self.presence.sender, self._broadcast)
        self.catalog = Catalog(self.store, self.registry, self.fanout, retention=retention)
        self.people = People(self.store)  # who signed in (``people``)
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
        return await self._maps_of_owners(
            await self.people.owners_of(user), await self.people.person_of(user)
        )

    async def maps_of_person(self, person: str) -> list[MapSummary]:
        """A person's maps, for an agent acting for them: what they made in any browser they
        signed in with, and what agents made for them."""
        return await self._maps_of_owners(await self.people.owners_of_person(person), person)

    async def _maps_of_owners(self, owners: list[str], person: str | None) -> list[MapSummary]:
        found: dict[str, MapSummary] = {}
        for owner in owners:
            for summary in await self.maps_of(owner=owner):
                found.setdefault(summary.meta.id, summary)
        if person is not None:
            for summary in await self.maps_of(principal=person):
                found.setdefault(summary.meta.id, summary)
        return sorted(found.values(), key=lambda s: s.updated, reverse=True)

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
        state = entry.state
        copy = await self.create_map(owner=owner, principal=entry.principal, title=state.title)
        ops: list[Op] = [SetTitle(f"{state.title or 'Untitled map'} (copy)"[:200])]
        ops += [RestoreLayer(layer) for layer_id, layer in state.layers.items() if layer_id != DEFAULT_LAYER]
        if state.features:
            ops.append(RestoreFeatures(tuple(state.features.values())))
        view = state.view
        if view is not None and view.center is not None and view.zoom is not None:
            ops.append(SetView(view.center, view.zoom, animate=False))
        elif view is not None and view.bounds is not None:
            ops.append(FitBounds(bounds=view.bounds, animate=False))
        await self.apply(copy.id, ops, actor=actor)
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
        events = await self.replica.write(entry, plan, actor, heavy=weight(ops) >= HEAVY_BATCH)
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

    # --- viewers ----------------------------------------------------------------------------

    @asynccontextmanager
    async def subscribe(
        self, entry: MapEntry, last_event_id: str | None = None, member: Member | None = None
    ) -> AsyncIterator[Subscription]:
        """Watch a map from now on, reading each frame from the subscription's channel. With
        ``last_event_id`` (a version the viewer has), the initial frames are just the events it
        missed, when this process's log or the store's still has them all. ``member``: who is
        watching, shown to everyone on the map while the watch lasts."""
        sub = await self.join(entry, last_event_id, Subscription, member)
        try:
            assert isinstance(sub, Subscription)
            yield sub
        finally:
            self.leave(entry, sub)

    async def join(
        self, entry: MapEntry, last_event_id: str | None, viewer: ViewerFactory, member: Member | None = None
    ) -> Viewer:
        """``subscribe`` with a viewer of the caller's kind (``viewer(map_id, initial, buffer,
        slot)``), such as one that writes each frame to its socket itself; ``leave`` ends it.
        A person's page (``member.kind`` "person") gets who is here among its first frames."""
        if member is not None and not self.presence.knows(entry.id):
            await self.presence.load(entry.id)  # who is here through other processes
        async with entry.lock:  # no event can be published between the catch-up and the add
            seen = parse_version(last_event_id)
            if seen is not None and seen > entry.state.version and self.store.durable and entry.held is None:
                # The viewer comes from a process that saw newer versions than this copy has (their
                # events are still on their way here): catch up first rather than send it back in time.
                try:
                    await self.replica.catch_up(entry)
                except StoreUnavailable:
                    log.info("map %s: resumed without catching up (store unavailable)", map_ref(entry.id))
            if entry.frames.wants_snapshot(seen, entry.state):
                await entry.frames.build_snapshot(entry.state)  # off the loop for a big map
            initial = entry.frames.since(seen, entry.state)
            if initial is None:
                assert seen is not None
                events = await self.replica.events_since(entry, seen)
                if not (events and events[-1].version == entry.state.version):
                    await entry.frames.build_snapshot(entry.state)
                initial = entry.frames.from_store(events, entry.state)
            if member is not None:
                self.presence.join(entry.id, member)  # told to the viewers already here
            sub = self.fanout.add(entry, initial, viewer)
            if member is not None:
                entry.members[sub] = member
                if member.kind == "person":
                    sub.initial.append(self.presence.first_frame(entry.id))
                    if self.pointers.tracks(entry.id):
                        sub.initial.append(self.pointers.frame(entry.id))
        log.debug("map %s: a viewer joined (%d now)", map_ref(entry.id), len(entry.subscribers))
        return sub

    def leave(self, entry: MapEntry, sub: Viewer) -> None:
        member = entry.members.pop(sub, None)
        if member is not None:
            self.presence.leave(entry.id, member)
            actor = member.actor
            if actor and self.pointers.tracks(entry.id, actor):
                if not any(m.actor == actor for m in entry.members.values()):  # their last page here
                    self.pointers.drop(entry.id, actor)
        self.fanout.remove(entry, sub)
        entry.last_used = trio.current_time()
        log.debug("map %s: a viewer left (%d now)", map_ref(entry.id), len(entry.subscribers))

    def close_all_subscribers(self) -> None:
        """End every stream (graceful shutdown): browsers reconnect elsewhere and resume."""
        self.fanout.close_all(self.registry)

    async def end_streams(self, over: float) -> int:
        """End every stream within ``over`` seconds, a batch at a time (a drain: see
        ``Fanout.close_all_over``); how many there were."""
        return await self.fanout.close_all_over(self.registry, over)

    async def serve_heartbeats(
        self, interval: float, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        await self.fanout.serve_heartbeats(self.registry, interval, task_status=task_status)

    # --- expiry -----------------------------------------------------------------------------

    def expire_idle(self) -> int:
        return self.registry.expire_idle(trio.current_time())

    async def serve_expiry(
        self, *, interval: float | None = None, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        # A tenth of the idle timeout (1 s to 60 s), and never more than a third of it: the sweep
        # refreshes the store's keys of watched maps, whose time to live is the idle timeout.
        idle = self.idle_timeout
        interval = interval if interval is not None else max(min(1.0, idle / 3), min(60.0, idle / 10))
        next_sweep = trio.current_time()
        task_status.started()
        while True:
            await trio.sleep(interval)
            now = trio.current_time()
            in_use = self.registry.keep_watched(now, now - interval * 1.5)
            self.registry.expire_idle(now)
            try:
                await self.store.touch(in_use)
                if now >= next_sweep:
                    next_sweep = now + RETENTION_SWEEP
                    await self.catalog.sweep()
            except Exception:  # keys get refreshed on the next sweep or write
                log.warning("could not refresh or sweep the store's maps", exc_info=True)

    def statistics(self) -> HubStatistics:
        maps = self.registry
        return HubStatistics(
            maps=len(maps),
            subscribers=sum(len(e.subscribers) for e in maps),
            events_published=self.fanout.published,
            subscribers_dropped=self.fanout.dropped,
            maps_expired=maps.expired,
            commit_conflicts=self.replica.conflicts,
            pending_writes=sum(e.held.count for e in maps if e.held is not None),
        )
