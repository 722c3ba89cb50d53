"""The map hub: hot maps in memory, one writer at a time per map, a bounded event log per map for
resume, and fan-out of each event, encoded once, to bounded per-subscriber channels.

A subscriber that cannot keep up is dropped rather than allowed to slow the writer: its channel
is closed, its stream ends, and the browser reconnects with ``Last-Event-ID`` and resumes from the
log (or from a fresh snapshot when the log no longer reaches back that far).

With a durable store (Redis) the hub's copy is a cache of the store's: a write is acknowledged
only once the store has committed it at the version the hub started from; on a conflict the hub
catches up from the store's log and retries. Events other processes commit arrive through
``receive_remote``. While the store is unreachable, writes to maps held here are applied in memory
and kept (bounded) until ``resync`` pushes them (see README, "Running several processes").
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import trio

from mapsrv.core import Event, Limits, MapState, Op, apply_all, apply_event
from mapsrv.core.codec import dumps, event_from_wire, wire
from mapsrv.core.sse import comment, frame
from mapsrv.errors import MapsrvError, NotFound, Unavailable, VersionConflict
from mapsrv.logs import map_ref
from mapsrv.store import Conflict, MapMeta, Store, StoreUnavailable
from mapsrv.store.memory import MemoryStore

__all__ = ["HubStatistics", "MapEntry", "MapHub", "Subscription", "new_token"]

log = logging.getLogger("mapsrv.hub")

# Writes held in memory per map while the store is unreachable; past this, writes get 503.
MAX_PENDING_BATCHES = 1000
MAX_COMMIT_ATTEMPTS = 8
HEARTBEAT_SLICES = 10  # heartbeats go out in this many groups per interval, not all at once
HEARTBEAT = comment("hb")
UNUSED_MAP_TIMEOUT = 600.0  # seconds before a never-written, unwatched map is forgotten


def new_token() -> str:
    """128 random bits, URL-safe: map ids, view keys and user ids are all capabilities."""
    return secrets.token_urlsafe(16)


@dataclass
class MapEntry:
    """One hot map and everything the hub keeps beside its state."""

    id: str
    view_key: str
    owner: str | None  # browser user id; None until a browser claims an agent-made map
    principal: str | None  # API key name the map was made with, if any
    state: MapState
    last_used: float
    log: deque[tuple[int, bytes]] = field(default_factory=deque)
    subscribers: set[Subscription] = field(default_factory=set)
    lock: trio.Lock = field(default_factory=trio.Lock)
    # Batches applied here while the store was unreachable, and the version the store has.
    pending: list[Sequence[Op]] = field(default_factory=list)
    pending_events: list[Event] = field(default_factory=list)
    synced_version: int = 0
    resume_floor: int = 0  # a viewer at or below this version gets a snapshot, never a replay
    _snapshot: tuple[int, bytes] = (-1, b"")

    @property
    def meta(self) -> MapMeta:
        return MapMeta(self.id, self.view_key, self.owner, self.principal)

    def snapshot_frame(self) -> bytes:
        """The whole state as one SSE frame, built at most once per version."""
        version, data = self._snapshot
        if version != self.state.version:
            data = frame(dumps(self.state.to_json()), event="snapshot", id=self.state.version)
            self._snapshot = (self.state.version, data)
        return data


class Subscription:
    """A viewer of one map. ``initial`` holds the frames to send first (a snapshot, or the
    missed events on resume); ``receive`` then yields each later event's frame. The channel
    ends when the subscriber is dropped for being slow or the hub closes."""

    def __init__(self, entry: MapEntry, initial: list[bytes], buffer: int, slot: int = 0) -> None:
        self.entry = entry
        self.initial = initial
        self.slot = slot  # which of the heartbeat task's ticks serves this viewer
        self._send, self.receive = trio.open_memory_channel[bytes](buffer)

    def send_nowait(self, data: bytes) -> bool:
        try:
            self._send.send_nowait(data)
        except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
            return False
        return True

    def close(self) -> None:
        self._send.close()


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
    ) -> None:
        self.store: Store = store if store is not None else MemoryStore()
        self.limits = limits
        self.event_log_size = event_log_size
        self.subscriber_buffer = subscriber_buffer
        self.idle_timeout = idle_timeout
        self.max_maps = max_maps
        self._maps: dict[str, MapEntry] = {}
        self._by_view_key: dict[str, str] = {}
        self._last_map_of_user: dict[str, str] = {}
        self._published = 0
        self._dropped = 0
        self._expired = 0
        self._conflicts = 0
        self._next_slot = 0
        self.observe_commit: Callable[[float], None] = lambda seconds: None

    @property
    def ready(self) -> bool:
        return self.store.available

    # --- maps -------------------------------------------------------------------------------

    async def create_map(
        self, *, owner: str | None = None, principal: str | None = None, title: str = ""
    ) -> MapEntry:
        if len(self._maps) >= self.max_maps:
            raise Unavailable(
                f"this server holds its limit of {self.max_maps} maps; retry later", retry_after=60
            )
        map_id = new_token()
        entry = MapEntry(
            id=map_id,
            view_key=new_token(),
            owner=owner,
            principal=principal,
            state=MapState(id=map_id, title=title),
            last_used=trio.current_time(),
        )
        await self.store.create(entry.meta, entry.state)
        self._hold(entry)
        if owner is not None:
            await self._remember_last_map(owner, map_id)
        return entry

    def _hold(self, entry: MapEntry) -> MapEntry:
        existing = self._maps.get(entry.id)
        if existing is not None:  # loaded twice at once: keep the first
            return existing
        self._maps[entry.id] = entry
        self._by_view_key[entry.view_key] = entry.id
        return entry

    def find(self, map_id: str) -> MapEntry | None:
        """The map if this process holds it; never asks the store."""
        return self._maps.get(map_id)

    async def get(self, map_id: str) -> MapEntry:
        """The map with this id, loaded from the store when another process made it. Unknown and
        expired ids are the same NotFound."""
        entry = self._maps.get(map_id)
        if entry is None and self.store.durable:
            loaded = await self.store.load(map_id)
            if loaded is not None:
                meta = loaded.meta
                fresh = MapEntry(
                    id=meta.id,
                    view_key=meta.view_key,
                    owner=meta.owner,
                    principal=meta.principal,
                    state=loaded.state,
                    last_used=trio.current_time(),
                    synced_version=loaded.state.version,
                )
                entry = self._hold(fresh)
                if entry is fresh:
                    # Events published while we were loading passed us by: fetch them now.
                    async with entry.lock:
                        await self._catch_up(entry)
        if entry is None:
            raise NotFound("map not found")
        entry.last_used = trio.current_time()
        return entry

    async def get_by_view_key(self, view_key: str) -> MapEntry:
        map_id = self._by_view_key.get(view_key)
        if map_id is None and self.store.durable:
            map_id = await self.store.map_for_view_key(view_key)
        if map_id is None:
            raise NotFound("map not found")
        entry = await self.get(map_id)
        if entry.view_key != view_key:
            raise NotFound("map not found")
        return entry

    async def last_map_of(self, owner: str) -> MapEntry | None:
        map_id = self._last_map_of_user.get(owner)
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
        self._last_map_of_user[owner] = map_id
        try:
            await self.store.remember_last_map(owner, map_id)
        except StoreUnavailable:
            pass  # a convenience: the browser finds its map again once the store is back

    # --- writes -----------------------------------------------------------------------------

    async def apply(
        self, map_id: str, ops: Sequence[Op], *, expected_version: int | None = None
    ) -> list[Event]:
        """Apply a batch of ops to a map, all or none, and publish the events. Returns once the
        store has them (or, while the store is unreachable, once they are held here)."""
        entry = await self.get(map_id)
        async with entry.lock:
            for _ in range(MAX_COMMIT_ATTEMPTS):
                if expected_version is not None and expected_version != entry.state.version:
                    raise VersionConflict(expected_version, entry.state.version)
                state, events = apply_all(entry.state, ops, self.limits)
                try:
                    if entry.pending:
                        await self._push_pending(entry)
                        continue  # the state moved: apply again on top
                    started = trio.current_time()
                    conflict = await self.store.commit(
                        entry.id, entry.state.version, events, state, snapshot=False
                    )
                    self.observe_commit(trio.current_time() - started)
                except StoreUnavailable:
                    if len(entry.pending) >= MAX_PENDING_BATCHES:
                        raise
                    entry.pending.append(ops)
                    entry.pending_events.extend(events)
                    entry.state = state
                    self._publish(entry, events)
                    return events
                if conflict is None:
                    entry.state = state
                    entry.synced_version = state.version
                    self._publish(entry, events)
                    return events
                self._conflicts += 1
                if conflict.current < 0:  # the store lost the map (expired there): recreate it
                    if not await self.store.create(entry.meta, entry.state):
                        await self._reload(entry)  # another process recreated it first
                elif conflict.current < entry.state.version:
                    # The store went back in time (it lost its newest writes): it stays the
                    # source of truth, and this copy follows it.
                    log.warning("map %s: the store is behind this process; reloading", map_ref(entry.id))
                    await self._reload(entry)
                else:
                    await self._catch_up(entry)
        raise Unavailable("this map is changing too fast to write to; retry")

    def _publish(self, entry: MapEntry, events: Sequence[Event]) -> None:
        for event in events:
            data = frame(wire(event), event="change", id=event.version)
            entry.log.append((event.version, data))
            if len(entry.log) > self.event_log_size:
                entry.log.popleft()
            self._published += 1
            for sub in list(entry.subscribers):
                if not sub.send_nowait(data):
                    entry.subscribers.discard(sub)
                    sub.close()
                    self._dropped += 1

    def _restart_viewers(self, entry: MapEntry) -> None:
        """The map's history here was rewritten: viewers reconnect and get a fresh snapshot, and
        so does anyone resuming from a version at or before the rewrite."""
        entry.log.clear()
        entry._snapshot = (-1, b"")
        entry.resume_floor = entry.state.version
        for sub in entry.subscribers:
            sub.close()
        entry.subscribers.clear()

    async def _reload(self, entry: MapEntry) -> None:
        loaded = await self.store.load(entry.id)
        if loaded is not None:
            entry.state = loaded.state
            entry.synced_version = loaded.state.version
            self._restart_viewers(entry)

    async def _already_committed(self, entry: MapEntry) -> bool:
        """Whether the store's log after ``synced_version`` starts with exactly the held events."""
        events = await self.store.events_after(entry.id, entry.synced_version)
        held = entry.pending_events
        return (
            events is not None
            and len(events) >= len(held)
            and all(wire(a) == wire(b) for a, b in zip(events, held, strict=False))
        )

    async def _catch_up(self, entry: MapEntry) -> None:
        """Bring a held map up to the store's version. Call with the map's lock held."""
        events = await self.store.events_after(entry.id, entry.state.version)
        if events is None:  # the log no longer reaches back to our version: start from a snapshot
            await self._reload(entry)
            return
        for event in events:
            entry.state = apply_event(entry.state, event)
        self._publish(entry, events)
        entry.synced_version = entry.state.version

    async def _push_pending(self, entry: MapEntry) -> None:
        """Commit the writes held while the store was away. If another process wrote the map
        meanwhile, the held batches are applied again on top of its version (a batch that no
        longer applies is dropped and logged). Call with the map's lock held."""
        conflict = await self.store.commit(
            entry.id, entry.synced_version, entry.pending_events, entry.state, snapshot=True
        )
        if conflict is not None and await self._already_committed(entry):
            conflict = None  # a commit whose reply was lost in the outage did land
            await self._catch_up(entry)
        if conflict is not None and conflict.current < 0:
            if not await self.store.create(entry.meta, entry.state):
                conflict = Conflict(0)
        if conflict is not None and conflict.current >= 0:
            loaded = await self.store.load(entry.id)
            state = loaded.state if loaded is not None else entry.state
            base = state.version
            events: list[Event] = []
            for batch in entry.pending:
                try:
                    state, batch_events = apply_all(state, batch, self.limits)
                except MapsrvError as exc:
                    log.warning(
                        "map %s: a write held during the outage no longer applies: %s",
                        map_ref(entry.id),
                        exc.message,
                    )
                    continue
                events += batch_events
            if events:
                retry = await self.store.commit(entry.id, base, events, state, snapshot=True)
                if retry is not None:
                    raise Unavailable("the map changed again while re-syncing; retry")
            entry.state = state
            self._restart_viewers(entry)
        entry.pending.clear()
        entry.pending_events.clear()
        entry.synced_version = entry.state.version

    async def receive_remote(self, map_id: str, data: bytes | str) -> None:
        """An event another process committed (or our own, echoed back: ignored by version)."""
        entry = self._maps.get(map_id)
        if entry is None:
            return
        event = event_from_wire(data)
        async with entry.lock:
            if entry.pending or event.version <= entry.state.version:
                return
            if event.version == entry.state.version + 1:
                entry.state = apply_event(entry.state, event)
                entry.synced_version = event.version
                self._publish(entry, [event])
            else:
                await self._catch_up(entry)

    async def resync(self) -> None:
        """The store is reachable again: push held writes and catch up every held map."""
        for entry in list(self._maps.values()):
            try:
                async with entry.lock:
                    if entry.pending:
                        await self._push_pending(entry)
                    else:
                        await self._catch_up(entry)
            except StoreUnavailable:
                return  # still away: the next re-sync starts over
            except MapsrvError as exc:  # this map stays pending; the next re-sync tries again
                log.warning("map %s: re-sync failed: %s", map_ref(entry.id), exc.message)

    # --- viewers ----------------------------------------------------------------------------

    @asynccontextmanager
    async def subscribe(
        self, entry: MapEntry, last_event_id: str | None = None
    ) -> AsyncIterator[Subscription]:
        """Watch a map from now on. With ``last_event_id`` (a version the viewer has), the
        initial frames are just the events it missed, when this process's log or the store's
        still has them all."""
        async with entry.lock:  # no event can be published between the catch-up and the add
            initial = await self._catch_up_frames(entry, last_event_id)
            self._next_slot = (self._next_slot + 1) % HEARTBEAT_SLICES
            sub = Subscription(entry, initial, self.subscriber_buffer, self._next_slot)
            entry.subscribers.add(sub)
        try:
            yield sub
        finally:
            entry.subscribers.discard(sub)
            sub.close()
            entry.last_used = trio.current_time()

    async def _catch_up_frames(self, entry: MapEntry, last_event_id: str | None) -> list[bytes]:
        seen = _parse_version(last_event_id)
        if seen is not None and seen > entry.state.version and self.store.durable and not entry.pending:
            # The viewer comes from a process that saw newer versions than this copy has (their
            # events are still on their way here): catch up first rather than send it back in time.
            try:
                await self._catch_up(entry)
            except StoreUnavailable:
                pass
        current = entry.state.version
        if seen is None or seen > current or (entry.resume_floor and seen <= entry.resume_floor):
            return [entry.snapshot_frame()]
        if seen == current:
            return []
        if entry.log and entry.log[0][0] <= seen + 1:
            return [data for version, data in entry.log if version > seen]
        if self.store.durable and not entry.pending:
            try:
                events = await self.store.events_after(entry.id, seen)
            except StoreUnavailable:
                events = None
            if events and events[-1].version == current:
                return [frame(wire(e), event="change", id=e.version) for e in events]
        return [entry.snapshot_frame()]

    def close_all_subscribers(self) -> None:
        """End every stream (graceful shutdown): browsers reconnect elsewhere and resume."""
        for entry in self._maps.values():
            for sub in entry.subscribers:
                sub.close()

    # --- expiry -----------------------------------------------------------------------------

    def expire_idle(self) -> int:
        """Forget maps nobody has used or watched for ``idle_timeout`` seconds (never one that
        holds writes the store has not got yet)."""
        now = trio.current_time()
        deadline = now - self.idle_timeout
        # A map nobody ever drew on goes sooner, so that a flood of "/" visits or create_map
        # calls cannot hold the map cap for a whole idle timeout.
        unused_deadline = now - min(self.idle_timeout, UNUSED_MAP_TIMEOUT)
        idle = [
            e
            for e in self._maps.values()
            if not e.subscribers
            and not e.pending
            and (e.last_used <= deadline or (e.state.version == 0 and e.last_used <= unused_deadline))
        ]
        for entry in idle:
            del self._maps[entry.id]
            self._by_view_key.pop(entry.view_key, None)
            if entry.owner is not None and self._last_map_of_user.get(entry.owner) == entry.id:
                del self._last_map_of_user[entry.owner]
        self._expired += len(idle)
        return len(idle)

    async def serve_expiry(
        self, *, interval: float | None = None, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        interval = interval if interval is not None else max(1.0, min(60.0, self.idle_timeout / 10))
        task_status.started()
        while True:
            await trio.sleep(interval)
            # Maps with viewers stay hot; their clock restarts when the last viewer leaves.
            now = trio.current_time()
            in_use = []
            for entry in self._maps.values():
                if entry.subscribers:
                    entry.last_used = now
                if entry.last_used > now - interval * 1.5:
                    in_use.append((entry.id, entry.view_key))
            self.expire_idle()
            try:
                await self.store.touch(in_use)
            except Exception:  # keys get refreshed on the next sweep or write
                log.warning("could not refresh the store's expiry of held maps", exc_info=True)

    async def serve_heartbeats(
        self, interval: float, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """A comment to every viewer every ``interval`` seconds, so proxies and browsers see a
        live stream. Viewers are served in groups spread over the interval, so 10,000 streams do
        not all wake at once. The comment goes through each viewer's own channel: its pump stays
        the only writer (a full channel means the viewer is about to be dropped anyway)."""
        task_status.started()
        tick = 0
        while True:
            await trio.sleep(interval / HEARTBEAT_SLICES)
            tick = (tick + 1) % HEARTBEAT_SLICES
            for entry in list(self._maps.values()):
                for sub in list(entry.subscribers):
                    if sub.slot == tick:
                        sub.send_nowait(HEARTBEAT)

    def statistics(self) -> HubStatistics:
        return HubStatistics(
            maps=len(self._maps),
            subscribers=sum(len(e.subscribers) for e in self._maps.values()),
            events_published=self._published,
            subscribers_dropped=self._dropped,
            maps_expired=self._expired,
            commit_conflicts=self._conflicts,
            pending_writes=sum(len(e.pending) for e in self._maps.values()),
        )


def _parse_version(value: str | None) -> int | None:
    if value is None or len(value) > 18 or not (value := value.strip()).isascii() or not value.isdigit():
        return None
    return int(value)
