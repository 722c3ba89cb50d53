"""Viewers of hot maps: subscriptions, each map's recent frames for ``Last-Event-ID`` resume, and
heartbeats. The only hub module that knows SSE framing.

Each event is framed once (as an SSE frame, and as that frame in an HTTP/1.1 chunk) and the same
bytes are offered to every viewer without waiting: a ``Subscription`` queues them on a bounded
channel for its reader, a browser stream's ``mapsrv.http.socket_writer.SocketViewer`` writes them to its
socket at once. A viewer that cannot keep up is dropped rather than allowed to slow the writer:
its stream ends, and the browser reconnects with ``Last-Event-ID`` and resumes from the frame log
(or from a fresh snapshot when the log no longer reaches back).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import trio

from mapsrv.core import Event, MapState
from mapsrv.core.codec import dumps, viewer_wire
from mapsrv.core.history import History
from mapsrv.core.sse import chunk, comment, frame

__all__ = [
    "BROADCAST_SLICE",
    "DRAIN_TICK",
    "HEARTBEAT",
    "HEARTBEAT_CHUNK",
    "HEARTBEAT_SLICES",
    "SNAPSHOT_THREAD",
    "Fanout",
    "FrameLog",
    "Subscription",
    "Viewer",
    "ViewerFactory",
    "Watched",
    "change_frame",
    "parse_version",
    "snapshot_json",
    "with_activity",
]

HEARTBEAT_SLICES = 10  # heartbeats go out in this many groups per interval, not all at once
DRAIN_TICK = 0.05  # seconds between the batches of viewers ended over a drain's window
# Viewers offered a frame per loop turn by ``broadcast_paced``: about 2.5 ms of socket writes
# (10 us each), 25 ms when their sockets are already closed (a crowd that left at once).
BROADCAST_SLICE = 256


SNAPSHOT_THREAD = 2_000  # features from which a snapshot is built in a worker thread

HEARTBEAT = comment("hb")
HEARTBEAT_CHUNK = chunk(HEARTBEAT)


class Viewer(Protocol):
    """One viewer of one map, as fan-out sees it. ``initial`` holds the frames to send first (a
    snapshot, or the missed events on resume); ``slot`` is which of the heartbeat task's ticks
    serves it."""

    initial: list[bytes]
    slot: int

    @property
    def lagging(self) -> bool:
        """True once the viewer was refused a frame for having too many queued."""

    def offer(self, frame: bytes, chunked: bytes) -> bool:
        """Take one frame (``chunked``: the same frame as an HTTP/1.1 chunk) without waiting;
        False when this viewer is done: it fell behind (``lagging``), or its reader is gone."""

    def close(self) -> None:
        """End this viewer (idempotent): its stream ends after what it already took."""


ViewerFactory = Callable[[list[bytes], int, int], Viewer]  # initial, buffer, slot


class Subscription:
    """A viewer whose reader takes each frame from a bounded channel (``receive``), such as an
    agent's change notifications, or a browser stream that cannot be written from the loop.
    The channel ends when the viewer is dropped for being slow or the hub closes."""

    def __init__(self, initial: list[bytes], buffer: int, slot: int = 0) -> None:
        self.initial = initial
        self.slot = slot
        self.lagging = False
        self._send, self.receive = trio.open_memory_channel[bytes](buffer)

    def offer(self, frame: bytes, chunked: bytes = b"") -> bool:
        try:
            self._send.send_nowait(frame)
        except trio.WouldBlock:
            self.lagging = True
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return False
        return True

    def close(self) -> None:
        self._send.close()


class FrameLog:
    """One map's most recent change frames, its snapshot frame (built at most once per version),
    and the version at or below which a resuming viewer gets a snapshot, never a replay (the
    history before it was rewritten)."""

    def __init__(self, size: int, history: History | None = None) -> None:
        self.recent: deque[tuple[int, bytes]] = deque(maxlen=size)
        self.floor = 0
        self.history = history  # its recent activity goes into the snapshot
        self._snapshot: tuple[int, bytes] = (-1, b"")

    def snapshot_frame(self, state: MapState) -> bytes:
        version, data = self._snapshot
        if version != state.version:
            data = _snapshot_frame(state, self._activity())
            self._snapshot = (state.version, data)
        return data

    async def build_snapshot(self, state: MapState) -> None:
        """Have the snapshot frame of ``state`` ready: a big map's is built in a worker thread
        (the state is immutable; the activity is copied here first), so the 600 ms that a
        100,000-feature snapshot takes never stop the other maps' streams. The caller holds
        the map's lock, so the state cannot move meanwhile."""
        if self._snapshot[0] == state.version:
            return
        if len(state.features) < SNAPSHOT_THREAD:
            self.snapshot_frame(state)
            return
        activity = self._activity()
        data = await trio.to_thread.run_sync(_snapshot_frame, state, activity)
        self._snapshot = (state.version, data)

    def wants_snapshot(self, seen: int | None, state: MapState) -> bool:
        """Whether a viewer that has ``seen`` starts from a snapshot (when this log can tell)."""
        return seen is None or seen > state.version or bool(self.floor and seen <= self.floor)

    def _activity(self) -> list[dict[str, Any]]:
        return self.history.activity() if self.history is not None else []

    def rewrite(self, version: int) -> None:
        self.recent.clear()
        self._snapshot = (-1, b"")
        self.floor = version

    def since(self, seen: int | None, state: MapState) -> list[bytes] | None:
        """The frames a viewer that has ``seen`` needs; None when only the store's log could
        tell (this log does not reach back that far)."""
        current = state.version
        if seen is None or self.wants_snapshot(seen, state):
            return [self.snapshot_frame(state)]
        if seen == current:
            return []
        if self.recent and self.recent[0][0] <= seen + 1:
            return [data for version, data in self.recent if version > seen]
        return None

    def from_store(self, events: Sequence[Event] | None, state: MapState) -> list[bytes]:
        """Frames for the events the store's log gave, if they reach the current version."""
        if events and events[-1].version == state.version:
            return [change_frame(e) for e in events]
        return [self.snapshot_frame(state)]


class Watched(Protocol):
    """What fan-out needs of a map (``MapEntry`` has it)."""

    state: MapState
    subscribers: set[Viewer]
    frames: FrameLog


class Fanout:
    def __init__(self, subscriber_buffer: int) -> None:
        self.subscriber_buffer = subscriber_buffer
        self.published = 0
        self.dropped = 0
        self._next_slot = 0

    def publish(self, watched: Watched, events: Sequence[Event], framed: Sequence[bytes] = ()) -> None:
        """Frame each event once (``framed``: already framed, by ``change_frame``), log it, and
        offer the same bytes to every viewer."""
        recent = watched.frames.recent
        subscribers = watched.subscribers
        for index, event in enumerate(events):
            data = framed[index] if framed else change_frame(event)
            recent.append((event.version, data))
            self.published += 1
            if subscribers:
                self._offer(subscribers, data, chunk(data))

    def broadcast(self, watched: Watched, data: bytes) -> None:
        """A frame that is not one of the map's versions (presence): offered to every viewer
        now, never logged for resume."""
        if watched.subscribers:
            self._offer(watched.subscribers, data, chunk(data))

    async def broadcast_paced(self, watched: Watched, data: bytes) -> None:
        """``broadcast``, ``BROADCAST_SLICE`` viewers per loop turn: a crowd's presence frame to
        10,000 streams stood the loop still for 100 ms, and a second when they had just closed.
        A viewer that left meanwhile is skipped; one that joined meanwhile has the map's
        presence in its first frames."""
        subscribers = watched.subscribers
        viewers = list(subscribers)
        chunked = chunk(data)
        for start in range(0, len(viewers), BROADCAST_SLICE):
            if start:
                await trio.lowlevel.checkpoint()
            self._offer(subscribers, data, chunked, viewers[start : start + BROADCAST_SLICE])

    def _offer(
        self, subscribers: set[Viewer], data: bytes, chunked: bytes, only: Sequence[Viewer] | None = None
    ) -> None:
        # ``only``: a slice taken earlier (broadcast_paced), whose viewers may have left since
        for sub in list(subscribers) if only is None else only:
            if (only is None or sub in subscribers) and not sub.offer(data, chunked):
                subscribers.discard(sub)
                sub.close()
                self.dropped += sub.lagging

    def restart_viewers(self, watched: Watched) -> None:
        """The map's history here was rewritten: viewers reconnect and get a fresh snapshot, and
        so does anyone resuming from a version at or before the rewrite."""
        watched.frames.rewrite(watched.state.version)
        for sub in watched.subscribers:
            sub.close()
        watched.subscribers.clear()

    def add(self, watched: Watched, initial: list[bytes], viewer: ViewerFactory = Subscription) -> Viewer:
        self._next_slot = (self._next_slot + 1) % HEARTBEAT_SLICES
        sub = viewer(initial, self.subscriber_buffer, self._next_slot)
        watched.subscribers.add(sub)
        return sub

    def remove(self, watched: Watched, sub: Viewer) -> None:
        watched.subscribers.discard(sub)
        sub.close()

    def close_all(self, maps: Iterable[Watched]) -> None:
        for watched in maps:
            for sub in watched.subscribers:
                sub.close()

    async def close_all_over(self, maps: Iterable[Watched], seconds: float) -> int:
        """End every viewer within ``seconds``, in batches every ``DRAIN_TICK``: on a rolling
        deploy their browsers come back on the other processes a batch at a time rather than all
        at once, and each stays live here until its turn. The batches keep to a schedule (by now,
        this many ended), so a busy loop whose ticks come late ends more a tick rather than
        stretching the window: 10,000 viewers in fixed batches of 50 took 37 s of a 10 s window.
        Viewers that joined meanwhile end with the last batch. Returns how many were ended in
        batches."""
        viewers = [sub for watched in list(maps) for sub in list(watched.subscribers)]
        began, ended = trio.current_time(), 0
        while ended < len(viewers):
            if ended:
                await trio.sleep(DRAIN_TICK)
            elapsed = trio.current_time() - began + DRAIN_TICK
            due = (
                len(viewers) if elapsed >= seconds else max(ended + 1, int(len(viewers) * elapsed / seconds))
            )
            for sub in viewers[ended:due]:
                sub.close()
            ended = due
        self.close_all(maps)
        return len(viewers)

    async def serve_heartbeats(
        self,
        maps: Iterable[Watched],
        interval: float,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """A comment to every viewer every ``interval`` seconds, so proxies and browsers see a
        live stream. Viewers are served in groups spread over the interval, so 10,000 streams do
        not all wake at once. The comment is offered like a frame, so each viewer's writer stays
        its only one (a viewer with no room for it is about to be dropped anyway)."""
        task_status.started()
        tick = 0
        while True:
            await trio.sleep(interval / HEARTBEAT_SLICES)
            tick = (tick + 1) % HEARTBEAT_SLICES
            for watched in list(maps):
                for sub in list(watched.subscribers):
                    if sub.slot == tick:
                        sub.offer(HEARTBEAT, HEARTBEAT_CHUNK)


def change_frame(event: Event) -> bytes:
    """An event as its viewers get it (pure: a big batch's are framed in a worker thread)."""
    return frame(viewer_wire(event), event="change", id=event.version)


def snapshot_json(state: MapState, history: History | None) -> dict[str, Any]:
    """The state as a snapshot gives it: with the last changes' summaries under ``activity``
    (left out while there are none, so a map with no recorded change reads as it always did)."""
    return with_activity(state, history.activity() if history is not None else [])


def with_activity(state: MapState, activity: list[dict[str, Any]]) -> dict[str, Any]:
    """``snapshot_json`` from an activity list already taken (pure: safe in a worker thread)."""
    out = state.to_json()
    if activity:
        out["activity"] = activity
    return out


def _snapshot_frame(state: MapState, activity: list[dict[str, Any]]) -> bytes:
    return frame(dumps(with_activity(state, activity)), event="snapshot", id=state.version)


def parse_version(value: str | None) -> int | None:
    """A ``Last-Event-ID`` as a version, or None for anything that is not one."""
    if value is None or len(value) > 18 or not (value := value.strip()).isascii() or not value.isdigit():
        return None
    return int(value)
