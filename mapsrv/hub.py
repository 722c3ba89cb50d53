"""The map hub: hot maps in memory, one writer at a time per map, a bounded event log per map for
resume, and fan-out of each event, encoded once, to bounded per-subscriber channels.

A subscriber that cannot keep up is dropped rather than allowed to slow the writer: its channel
is closed, its stream ends, and the browser reconnects with ``Last-Event-ID`` and resumes from the
log (or from a fresh snapshot when the log no longer reaches back that far).
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import trio

from mapsrv.core import Event, Limits, MapState, Op, apply_all
from mapsrv.core.codec import dumps
from mapsrv.core.sse import frame
from mapsrv.errors import NotFound, Unavailable, VersionConflict

__all__ = ["HubStatistics", "MapEntry", "MapHub", "Subscription", "new_token"]


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
    _snapshot: tuple[int, bytes] = (-1, b"")

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

    def __init__(self, entry: MapEntry, initial: list[bytes], buffer: int) -> None:
        self.entry = entry
        self.initial = initial
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


class MapHub:
    def __init__(
        self,
        *,
        limits: Limits = Limits(),
        event_log_size: int = 1024,
        subscriber_buffer: int = 256,
        idle_timeout: float = 3600.0,
        max_maps: int = 100_000,
    ) -> None:
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

    # --- maps -------------------------------------------------------------------------------

    def create_map(
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
        self._maps[map_id] = entry
        self._by_view_key[entry.view_key] = map_id
        if owner is not None:
            self._last_map_of_user[owner] = map_id
        return entry

    def find(self, map_id: str) -> MapEntry | None:
        return self._maps.get(map_id)

    def get(self, map_id: str) -> MapEntry:
        """The map with this id; unknown and expired ids are the same NotFound."""
        entry = self._maps.get(map_id)
        if entry is None:
            raise NotFound("map not found")
        entry.last_used = trio.current_time()
        return entry

    def get_by_view_key(self, view_key: str) -> MapEntry:
        map_id = self._by_view_key.get(view_key)
        if map_id is None:
            raise NotFound("map not found")
        return self.get(map_id)

    def last_map_of(self, owner: str) -> MapEntry | None:
        map_id = self._last_map_of_user.get(owner)
        entry = self._maps.get(map_id) if map_id else None
        return entry if entry is not None and entry.owner == owner else None

    def claim(self, entry: MapEntry, owner: str) -> None:
        """An agent-made map belongs to the first browser that opens its link."""
        if entry.owner is None:
            entry.owner = owner
        if entry.owner == owner:
            self._last_map_of_user[owner] = entry.id

    # --- writes -----------------------------------------------------------------------------

    async def apply(
        self, map_id: str, ops: Sequence[Op], *, expected_version: int | None = None
    ) -> list[Event]:
        """Apply a batch of ops to a map, all or none, and publish the events."""
        entry = self.get(map_id)
        async with entry.lock:
            if expected_version is not None and expected_version != entry.state.version:
                raise VersionConflict(expected_version, entry.state.version)
            state, events = apply_all(entry.state, ops, self.limits)
            entry.state = state
            self._publish(entry, events)
        return events

    def _publish(self, entry: MapEntry, events: Sequence[Event]) -> None:
        for event in events:
            data = frame(dumps(event.to_json()), event="change", id=event.version)
            entry.log.append((event.version, data))
            if len(entry.log) > self.event_log_size:
                entry.log.popleft()
            self._published += 1
            for sub in list(entry.subscribers):
                if not sub.send_nowait(data):
                    entry.subscribers.discard(sub)
                    sub.close()
                    self._dropped += 1

    # --- viewers ----------------------------------------------------------------------------

    @contextmanager
    def subscribe(self, entry: MapEntry, last_event_id: str | None = None) -> Iterator[Subscription]:
        """Watch a map from now on. With ``last_event_id`` (a version the viewer has), the
        initial frames are just the events it missed when the log still has them all."""
        sub = Subscription(entry, self._catch_up(entry, last_event_id), self.subscriber_buffer)
        entry.subscribers.add(sub)
        try:
            yield sub
        finally:
            entry.subscribers.discard(sub)
            sub.close()
            entry.last_used = trio.current_time()

    def _catch_up(self, entry: MapEntry, last_event_id: str | None) -> list[bytes]:
        seen = _parse_version(last_event_id)
        current = entry.state.version
        if seen is None or seen > current:
            return [entry.snapshot_frame()]
        if seen == current:
            return []
        if entry.log and entry.log[0][0] <= seen + 1:
            return [data for version, data in entry.log if version > seen]
        return [entry.snapshot_frame()]

    def close_all_subscribers(self) -> None:
        """End every stream (graceful shutdown): browsers reconnect elsewhere and resume."""
        for entry in self._maps.values():
            for sub in entry.subscribers:
                sub.close()

    # --- expiry -----------------------------------------------------------------------------

    def expire_idle(self) -> int:
        """Forget maps nobody has used or watched for ``idle_timeout`` seconds."""
        deadline = trio.current_time() - self.idle_timeout
        idle = [e for e in self._maps.values() if not e.subscribers and e.last_used <= deadline]
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
            for entry in self._maps.values():
                if entry.subscribers:
                    entry.last_used = now
            self.expire_idle()

    def statistics(self) -> HubStatistics:
        return HubStatistics(
            maps=len(self._maps),
            subscribers=sum(len(e.subscribers) for e in self._maps.values()),
            events_published=self._published,
            subscribers_dropped=self._dropped,
            maps_expired=self._expired,
        )


def _parse_version(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit() or len(value) > 18:
        return None
    return int(value)
