"""Viewers of hot maps: subscriptions, each map's recent frames for ``Last-Event-ID`` resume, and
heartbeats. The only hub module that knows SSE framing.

Each event is framed once (as an SSE frame, and as that frame in an HTTP/1.1 chunk) and the same
bytes are offered to every viewer without waiting (``mapsrv.hub.viewer``): a ``Subscription``
queues them on a channel for its reader, a browser stream's
``mapsrv.http.socket_writer.SocketViewer`` writes them to its socket at once. A viewer that
cannot keep up is dropped rather than allowed to slow the writer: its stream ends, and the
browser reconnects with ``Last-Event-ID`` and resumes from the frame log (or from a fresh
snapshot when the log no longer reaches back). A frame to a crowd goes out a slice of viewers
per loop turn (``mapsrv.hub.broadcast``), to a few viewers at once.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, Protocol

import trio

from mapsrv.core import Event, MapState
from mapsrv.core.codec import dumps, viewer_wire
from mapsrv.core.history import History
from mapsrv.core.sse import chunk, comment, frame
from mapsrv.hub.broadcast import CROWD_FROM, SLICE_SECONDS, Outbox, say_in_slices, say_last
from mapsrv.hub.viewer import EndSoon, Subscription, Viewer, ViewerFactory, end_now
from mapsrv.workers import run

__all__ = [
    "DRAIN_TICK",
    "EndSoon",
    "HEARTBEAT",
    "HEARTBEAT_CHUNK",
    "HEARTBEAT_SLICES",
    "SLICE_SECONDS",
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


SNAPSHOT_THREAD = 2_000  # features from which a snapshot is built in a worker thread

HEARTBEAT = comment("hb")
HEARTBEAT_CHUNK = chunk(HEARTBEAT)


class FrameLog:
    """One map's most recent change frames, its snapshot frame (built at most once per version),
    the version at or below which a resuming viewer gets a snapshot, never a replay (the
    history before it was rewritten), and the frames still going out to its crowd (``outbox``)."""

    def __init__(self, size: int, history: History | None = None) -> None:
        self.recent: deque[tuple[int, bytes]] = deque(maxlen=size)
        self.outbox = Outbox()
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
        """Have the snapshot frame of ``state`` ready: a big map's is built in a ``snapshot``
        worker (the state is immutable; the activity is copied here first), so the 600 ms that
        a 100,000-feature snapshot takes never stop the other maps' streams; never refused, as
        the caller holds the map's lock (one at a time a map), so the state cannot move meanwhile."""
        if self._snapshot[0] == state.version:
            return
        if len(state.features) < SNAPSHOT_THREAD:
            self.snapshot_frame(state)
            return
        activity = self._activity()
        data = await run("snapshot", _snapshot_frame, state, activity, refuse=False)
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

    def at_hand(self, seen: int | None, state: MapState) -> list[bytes] | None:
        """``since``, when it needs nothing more than this log: None when only a catch-up, the
        store's log or a snapshot built in a worker thread could tell (see ``MapHub.join``)."""
        if seen is not None and seen > state.version:
            return None  # from a process ahead of this copy: it may catch up first
        if self.wants_snapshot(seen, state):
            if self._snapshot[0] != state.version and len(state.features) >= SNAPSHOT_THREAD:
                return None
        return self.since(seen, state)

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
    """``end_soon``: how a ``Subscription``'s end runs (a pacer's ``soon``, given by the server:
    a few per loop turn in a storm); by default at once."""

    def __init__(self, subscriber_buffer: int, end_soon: EndSoon | None = None) -> None:
        self.subscriber_buffer = subscriber_buffer
        self.end_soon: EndSoon = end_soon or end_now
        self.published = 0
        self.dropped = 0
        self.clock: Callable[[], float] = time.perf_counter  # times the heartbeats' slices
        # told how long each write took to reach a crowd, first offer to last (the server's metric)
        self.observe_crowd: Callable[[float], None] = lambda seconds: None
        self._next_slot = 0

    def publish(self, watched: Watched, events: Sequence[Event], framed: Sequence[bytes] = ()) -> None:
        """Frame each event once (``framed``: already framed, by ``change_frame``), log it, and
        offer the same bytes to every viewer (to a crowd, a slice per loop turn: ``send``).

        One write's frames are offered together (``Viewer.offer_many``): a viewer takes the whole
        write unless it was already ``subscriber_buffer`` frames behind. A batch of 1,000 ops is
        1,000 frames; offered one by one they overflowed a browser whose socket was full for a
        moment, which was dropped and came back 2 s later (its ``retry``)."""
        recent = watched.frames.recent
        frames = list(framed) if framed else [change_frame(event) for event in events]
        for event, data in zip(events, frames, strict=True):
            recent.append((event.version, data))
        self.published += len(frames)
        if watched.subscribers and frames:
            self.send(watched, *frames)

    def broadcast(self, watched: Watched, data: bytes) -> None:
        """A frame that is not one of the map's versions (presence): offered to every viewer
        like a change (after the changes before it), never logged for resume."""
        if watched.subscribers:
            self.send(watched, data)

    async def broadcast_paced(self, watched: Watched, data: bytes) -> None:
        """``broadcast``, then wait until the map's crowd has had it (a slice of viewers per
        loop turn): its caller sends no more than the crowd takes."""
        self.broadcast(watched, data)
        await watched.frames.outbox.drained()

    def send(self, watched: Watched, *frames: bytes) -> None:
        """Offer ``frames`` (one, or one write's, taken whole or not: ``Viewer.offer_many``) to
        every viewer of the map: at once to a few, when nothing waits; to a crowd, or behind
        frames that wait, ``SLICE_SECONDS`` of offers per loop turn by the map's pump
        (``mapsrv.hub.broadcast``), which offers what waits together."""
        subscribers = watched.subscribers
        outbox = watched.frames.outbox
        if outbox.inline(len(subscribers)):
            if len(frames) == 1:
                self._offer(subscribers, frames[0], chunk(frames[0]))
            else:
                pairs = [(data, chunk(data)) for data in frames]
                joined = b"".join([chunked for _, chunked in pairs])
                for sub in list(subscribers):
                    if not sub.offer_many(pairs, joined):
                        self._drop(subscribers, sub)
            return
        start = False
        for data in frames:
            start = outbox.put(data) or start  # True once: the pump was not running
        if start:
            pump = partial(outbox.pump, subscribers, partial(self._drop, subscribers), self.observe_crowd)
            trio.lowlevel.spawn_system_task(pump, name="mapsrv broadcast")

    def _offer(self, subscribers: set[Viewer], data: bytes, chunked: bytes) -> None:
        for sub in list(subscribers):
            if not sub.offer(data, chunked):
                self._drop(subscribers, sub)

    def _drop(self, subscribers: set[Viewer], sub: Viewer) -> None:
        subscribers.discard(sub)
        sub.close()
        self.dropped += sub.lagging

    def restart_viewers(self, watched: Watched) -> None:
        """The map's history here was rewritten: what waits for its crowd is thrown away, its
        viewers reconnect and get a fresh snapshot, and so does anyone resuming from a version
        at or before the rewrite. (Each viewer's end waits its turn: ``Viewer.close``.)"""
        watched.frames.rewrite(watched.state.version)
        watched.frames.outbox.restart()
        for sub in watched.subscribers:
            sub.close()
        watched.subscribers.clear()

    def add(self, watched: Watched, initial: list[bytes], viewer: ViewerFactory | None = None) -> Viewer:
        """A viewer whose first frames, ``initial``, bring it up to the map's version now (a
        ``Subscription`` unless ``viewer`` makes another kind)."""
        self._next_slot = (self._next_slot + 1) % HEARTBEAT_SLICES
        if viewer is None:
            sub: Viewer = Subscription(initial, self.subscriber_buffer, self._next_slot, self.end_soon)
        else:
            sub = viewer(initial, self.subscriber_buffer, self._next_slot)
        watched.subscribers.add(sub)
        watched.frames.outbox.joining(sub)
        return sub

    def remove(self, watched: Watched, sub: Viewer) -> None:
        watched.subscribers.discard(sub)
        watched.frames.outbox.left(sub)
        sub.close()

    def last_words(self, watched: Watched, told: Sequence[tuple[Viewer, bytes]]) -> None:
        """End these viewers of the map, each after one last frame of its own (an ``access``
        frame: the map was deleted, or the link it was opened with changed). They take no other
        frame from now on; the last frames go out at once to a few, and to a crowd
        ``SLICE_SECONDS`` of offers per loop turn (``mapsrv.hub.broadcast.say_last``)."""
        for viewer, _ in told:
            watched.subscribers.discard(viewer)
            watched.frames.outbox.left(viewer)
        if len(told) < CROWD_FROM:
            say_last(told)
        else:
            trio.lowlevel.spawn_system_task(say_in_slices, list(told), self.clock, name="mapsrv last words")

    def close_all(self, maps: Iterable[Watched]) -> None:
        """End every viewer (shutdown): each stream's end waits its turn (``Viewer.close``)."""
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
        not all wake at once, and a group goes out ``SLICE_SECONDS`` a loop turn, as a crowd's
        frame does (a tenth of 10,000 sockets is 10 ms of writes). The comment is offered like a
        frame, so each viewer's writer stays its only one (a viewer with no room for it is about
        to be dropped anyway; one that ended meanwhile refuses it)."""
        task_status.started()
        tick = 0
        while True:
            await trio.sleep(interval / HEARTBEAT_SLICES)
            tick = (tick + 1) % HEARTBEAT_SLICES
            clock = self.clock
            deadline = clock() + SLICE_SECONDS
            for watched in list(maps):
                for sub in list(watched.subscribers):
                    if sub.slot == tick:
                        sub.offer(HEARTBEAT, HEARTBEAT_CHUNK)
                        if clock() >= deadline:
                            await trio.lowlevel.checkpoint()
                            deadline = clock() + SLICE_SECONDS


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
