"""The hub's viewers (``Viewers``: joins, leaves, streams ended together, heartbeats), and a
viewer's first frames when they are not at hand (``FrameLog.at_hand``): a catch-up for one
that comes from a process ahead of this copy, the store's log for one further behind than the
frame log reaches, a snapshot built in a worker thread for a big map. ``MapHub.join`` calls it
with the map's lock held, so no event is published between these frames and the viewer's add."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from mapsrv.core.ids import map_ref
from mapsrv.hub.fanout import Fanout, Subscription, Viewer, ViewerFactory, parse_version
from mapsrv.hub.pointers import Pointers
from mapsrv.hub.presence import Member, Presence
from mapsrv.hub.registry import MapEntry, Registry
from mapsrv.hub.replica import Replica
from mapsrv.store import StoreUnavailable

__all__ = ["Viewers", "first_frames"]

log = logging.getLogger("mapsrv.hub")


async def first_frames(replica: Replica, entry: MapEntry, seen: int | None) -> list[bytes]:
    """What a viewer that has ``seen`` gets first. Call with the map's lock held."""
    if seen is not None and seen > entry.state.version and replica.store.durable and entry.held is None:
        # The viewer comes from a process that saw newer versions than this copy has (their
        # events are still on their way here): catch up first rather than send it back in time.
        try:
            await replica.catch_up(entry)
        except StoreUnavailable:
            log.info("map %s: resumed without catching up (store unavailable)", map_ref(entry.id))
    if entry.frames.wants_snapshot(seen, entry.state):
        await entry.frames.build_snapshot(entry.state)  # off the loop for a big map
    initial = entry.frames.since(seen, entry.state)
    if initial is None:
        assert seen is not None
        events = await replica.events_since(entry, seen)
        if not (events and events[-1].version == entry.state.version):
            await entry.frames.build_snapshot(entry.state)
        initial = entry.frames.from_store(events, entry.state)
    return initial


class Viewers:
    """The hub's viewers of hot maps: who joins (their first frames, their presence), who leaves,
    the streams ended together, the heartbeats."""

    def __init__(
        self, registry: Registry, fanout: Fanout, replica: Replica, presence: Presence, pointers: Pointers
    ) -> None:
        self.registry = registry
        self.fanout = fanout
        self.replica = replica
        self.presence = presence
        self.pointers = pointers

    @asynccontextmanager
    async def subscribe(
        self, entry: MapEntry, last_event_id: str | None = None, member: Member | None = None
    ) -> AsyncIterator[Subscription]:
        """Watch a map from now on, reading each frame from the subscription's channel. With
        ``last_event_id`` (a version the viewer has), the initial frames are just the events it
        missed, when this process's log or the store's still has them all. ``member``: who is
        watching, shown to everyone on the map while the watch lasts."""
        sub = await self.join(entry, last_event_id, None, member)
        try:
            assert isinstance(sub, Subscription)
            yield sub
        finally:
            self.leave(entry, sub)

    async def join(
        self,
        entry: MapEntry,
        last_event_id: str | None,
        viewer: ViewerFactory | None,
        member: Member | None = None,
    ) -> Viewer:
        """``subscribe`` with a viewer of the caller's kind (``viewer(map_id, initial, buffer,
        slot)``), such as one that writes each frame to its socket itself; ``leave`` ends it.
        A person's page (``member.kind`` "person") gets who is here among its first frames.
        ``viewer`` None: a ``Subscription``."""
        if member is not None and not self.presence.knows(entry.id):
            await self.presence.load(entry.id)  # who is here through other processes
        seen = parse_version(last_event_id)
        # Most viewers' first frames are at hand (the snapshot, or the log's last few frames):
        # taken and added with no await between, no event can come between them either, and a
        # crowd arriving does not queue on the map's lock (each join took a loop turn there,
        # and a write to the map waited behind thousands of them: 2.3-3.8 s).
        if (initial := entry.frames.at_hand(seen, entry.state)) is None:
            async with entry.lock:  # no event can be published between the catch-up and the add
                initial = await first_frames(self.replica, entry, seen)
                return self._add_viewer(entry, initial, viewer, member)
        return self._add_viewer(entry, initial, viewer, member)

    def _add_viewer(
        self, entry: MapEntry, initial: list[bytes], viewer: ViewerFactory | None, member: Member | None
    ) -> Viewer:
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
