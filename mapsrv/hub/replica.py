"""The write path against the store, and the I/O shell around ``recovery``'s decisions.

With a durable store (Redis) the hub's copy of a map is a cache of the store's: a write is
acknowledged only once the store has committed it at the version the copy started from. While the
store is unreachable, writes to maps held here are applied in memory and kept (bounded) until a
re-sync pushes them; each write batch carries an id so that the store never applies one twice,
whichever replies were lost. Events other processes commit arrive on the store's channel and are
handed to their maps by ``remote.RemoteEvents``, which never waits for a map's lock.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, overload

import trio

from mapsrv.core import Event, Limits, MapState, apply_event, apply_events
from mapsrv.core.history import Actor, Record
from mapsrv.core.ids import map_ref
from mapsrv.errors import MapsrvError, Unavailable
from mapsrv.hub.edits import Prepare, build, build_off_loop, held_batch
from mapsrv.hub.fanout import Fanout
from mapsrv.hub.recovery import (
    HeldBatch,
    HeldWrites,
    Next,
    after_commit,
    after_unavailable,
    apply_held,
    landed_at,
    new_batch_id,
)
from mapsrv.hub.registry import MapEntry, Registry
from mapsrv.hub.remote import RemoteEvents
from mapsrv.store import (
    Followed,
    Reconnected,
    RemoteEvent,
    Store,
    StoreMessage,
    StoreUnavailable,
)

__all__ = ["MAX_COMMIT_ATTEMPTS", "MAX_HELD_BATCHES", "NOTICES", "Replica", "Written", "is_notice"]

log = logging.getLogger("mapsrv.hub")

# Writes held in memory per map while the store is unreachable; past this, writes get 503.
MAX_HELD_BATCHES = 1000
# Conflicts one write absorbs before a 503. A process catching up after a conflict needs two
# round trips to its peer's one, so against a peer writing back to back it can lose several in
# a row: with 8, one write in a few hundred lost them all on a loaded machine (CI). Each attempt
# costs a round trip or two, and only under that contention.
MAX_COMMIT_ATTEMPTS = 32
MAX_RESYNC_STEPS = 16  # conflicts one re-sync of a map absorbs before leaving it for the next
RETRY_HELD_INTERVAL = 2.0  # seconds between attempts to push held writes while the store is up


NOTICES = ('{"presence":', '{"links":', '{"pointers":', '{"gone":')
_NOTICES = tuple(n.encode() for n in NOTICES)


def is_notice(text: bytes | str) -> bool:
    """A message on a map's channel that is not one of its events (``Store.share_presence``,
    ``Store.set_links``, ``Store.notify``)."""
    return text.startswith(_NOTICES) if isinstance(text, bytes) else text.startswith(NOTICES)


def _ignore(seconds: float) -> None:
    pass


@dataclass(frozen=True)
class Written(Sequence[Event]):
    """A write's events, as its acknowledgement reports them. ``provisional``: held here while
    the store is unreachable; its versions are this copy's, and the re-sync may commit it at later
    ones (after another process's writes). Otherwise the store has it at exactly these versions."""

    events: tuple[Event, ...]
    provisional: bool = False

    def __init__(self, events: Iterable[Event], provisional: bool = False) -> None:
        object.__setattr__(self, "events", tuple(events))
        object.__setattr__(self, "provisional", provisional)

    @overload
    def __getitem__(self, index: int) -> Event: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Event]: ...
    def __getitem__(self, index: int | slice) -> Event | Sequence[Event]:
        return self.events[index]

    def __len__(self) -> int:
        return len(self.events)

    def acknowledgement(self, map_id: str) -> dict[str, Any]:
        """What every write answers first: the map and the version it is at after the write. A
        write held while the store is unreachable says ``provisional``: the re-sync may commit it
        at a later version, so it is no ``base_version`` or ``expected_version`` to build on."""
        out: dict[str, Any] = {"map_id": map_id, "version": self.version}
        if self.provisional:
            out["provisional"] = True
        return out

    @property
    def version(self) -> int:
        """The version the map is at after this write: its last event's."""
        return self.events[-1].version


def _ending_at(events: Sequence[Event], version: int) -> list[Event]:
    """``events`` renumbered to end at ``version``: where the store says their batch landed."""
    shift = version - events[-1].version
    return [dataclasses.replace(event, version=event.version + shift) for event in events]


class Replica:
    def __init__(self, store: Store, fanout: Fanout, limits: Limits) -> None:
        self.store = store
        self.fanout = fanout
        self.limits = limits
        self.conflicts = 0
        self.observe_commit: Callable[[float], None] = _ignore
        self.holding: set[str] = set()  # ids of maps with held writes
        self._resyncing = False
        self._resync_again = False
        self.remote = RemoteEvents(self._apply_remote, self.catch_up)  # other processes' events
        # Messages on a map's channel that are not events (presence, new links): the hub's
        self.on_notice: Callable[[MapEntry, bytes | str], None] = lambda entry, text: None

    # --- the write path ---------------------------------------------------------------------

    async def write(self, entry: MapEntry, prepare: Prepare, actor: Actor, *, heavy: bool = False) -> Written:
        """One batch, as one change by ``actor``: ``prepare`` decides its ops from the state it
        will land on (again after each catch-up), and may refuse it. Answered once the store has
        it, at the versions it has there; or, while the store is unreachable, once it is held
        here (``provisional``: the re-sync may move it to later versions).

        ``heavy`` (thousands of features; ``prepare`` must then be pure): the batch is applied
        and its frames built in a worker thread, so the other maps' streams go on meanwhile.
        The map's lock is held throughout: nothing else changes its state or history."""
        async with entry.lock:
            batch_id = new_batch_id() if self.store.durable else ""
            at = time.time()
            for _ in range(MAX_COMMIT_ATTEMPTS):
                framed: list[bytes] = []
                if heavy:
                    built, framed = await build_off_loop(
                        entry.state, entry.history, prepare, actor, at, self.limits
                    )
                else:
                    built = build(entry.state, entry.history, prepare, actor, at, self.limits)
                state, events, rec = built.state, built.events, built.record
                batch = partial(held_batch, batch_id, built.plan, actor, at)
                if entry.held is not None:
                    if self.store.available and await self._push_held_now(entry):
                        continue  # the state moved: apply again on top
                    return self._hold(entry, batch, state, events, rec)
                started = trio.current_time()
                try:
                    reply = await self.store.commit(
                        entry.id, entry.state.version, events, state, snapshot=False, batch_id=batch_id
                    )
                except StoreUnavailable:
                    if after_unavailable(store_available=self.store.available) is Next.RETRY:
                        continue  # the same batch id: the store tells a repeat from a new batch
                    return self._hold(entry, batch, state, events, rec)
                self.observe_commit(trio.current_time() - started)
                step = after_commit(reply, expected=entry.state.version, landing=state.version)
                if step is Next.DONE:
                    self._advance(entry, state, events, rec, framed)
                    entry.synced_version = state.version
                    return Written(events)
                self.conflicts += 1
                try:
                    await self._recover(entry, step)
                except StoreUnavailable:  # held on top of this copy; the re-sync replays it
                    if after_unavailable(store_available=self.store.available) is Next.RETRY:
                        continue
                    return self._hold(entry, batch, state, events, rec)
                if step is Next.LANDED_ELSEWHERE:
                    # In the store (found by its id) and now in the reloaded copy: answered at
                    # the version the store has it at, not the one tried here.
                    return Written(_ending_at(events, landed_at(reply, landing=state.version)))
        raise Unavailable("this map is changing too fast to write to; retry")

    def _advance(
        self,
        entry: MapEntry,
        state: MapState,
        events: Sequence[Event],
        record: Record | None = None,
        framed: Sequence[bytes] = (),
    ) -> None:
        """The map moves on by ``events``: its state, its history, its viewers. ``record``: the
        change record made for a batch written here (events from the store have theirs derived);
        ``framed``: the events' frames, when already built."""
        entry.state = state
        entry.history.extend(events, record=record)
        self.fanout.publish(entry, events, framed)

    def _hold(
        self,
        entry: MapEntry,
        batch: Callable[[], HeldBatch],
        state: MapState,
        events: list[Event],
        record: Record | None,
    ) -> Written:
        held = entry.held
        if held is None:
            held = entry.held = HeldWrites(base=entry.state, history=entry.history.copy())
            self.holding.add(entry.id)
        elif held.count >= MAX_HELD_BATCHES:
            raise StoreUnavailable()
        held.batches.append(dataclasses.replace(batch(), first=events[0].version))
        self._advance(entry, state, events, record)
        return Written(events, provisional=True)

    async def _recover(self, entry: MapEntry, step: Next) -> None:
        if step is Next.CATCH_UP:
            await self.catch_up(entry)
        elif step is Next.RECREATE:
            if not await self.store.create(entry.meta, entry.state):
                await self.reload(entry)  # another process recreated it first
        else:
            if step is Next.RELOAD:
                log.warning("map %s: the store is behind this process; reloading", map_ref(entry.id))
            await self.reload(entry)

    async def reload(self, entry: MapEntry) -> None:
        """Take the store's state; viewers start again from a snapshot."""
        loaded = await self.store.load(entry.id)
        if loaded is not None:
            entry.state = loaded.state
            entry.history.load(loaded.log, loaded.state.version)
            entry.synced_version = loaded.state.version
            self.fanout.restart_viewers(entry)

    async def catch_up(self, entry: MapEntry) -> None:
        """Bring a map up to the store's version. Call with the map's lock held."""
        events = await self.store.events_after(entry.id, entry.state.version)
        if events is None:  # the log no longer reaches back, or the store is behind this copy
            await self.reload(entry)
            return
        self._advance(entry, apply_events(entry.state, events), events)
        entry.synced_version = entry.state.version

    async def events_since(self, entry: MapEntry, version: int) -> list[Event] | None:
        """The store's events after ``version`` for a resuming viewer, when it can tell."""
        if not self.store.durable or entry.held is not None:
            return None
        try:
            return await self.store.events_after(entry.id, version)
        except StoreUnavailable:
            return None

    # --- held writes ------------------------------------------------------------------------

    async def _push_held_now(self, entry: MapEntry) -> bool:
        try:
            return await self.push_held(entry)
        except StoreUnavailable:
            return False

    async def push_held(self, entry: MapEntry) -> bool:
        """Commit the writes held while the store was away, each batch on top of what the store
        has (another process may have written meanwhile). True once the store has them all; False
        when it kept conflicting (they stay held for the next re-sync). Call with the lock held."""
        held = entry.held
        assert held is not None
        steps = 0
        while held.batches and steps <= MAX_RESYNC_STEPS:
            batch = held.batches[0]
            applied = apply_held(held.base, batch, self.limits, held.renumbered)
            if applied is None:
                log.warning("map %s: a write held during the outage no longer applies", map_ref(entry.id))
                del held.batches[0]
                held.rewritten = True
                continue
            state, events = applied
            reply = await self.store.commit(
                entry.id,
                held.base.version,
                events,
                state,
                snapshot=len(held.batches) == 1,
                batch_id=batch.id,
            )
            step = after_commit(reply, expected=held.base.version, landing=state.version)
            if step is Next.DONE:
                held.renumbered[batch.first] = events[0].version
                held.base = state
                held.history.extend(events)
                del held.batches[0]
                continue
            self.conflicts += 1
            steps += 1
            if step is Next.RECREATE:
                final = self._replay(held)
                if await self.store.create(entry.meta, final):
                    held.base = final
                    held.history.reset(final.version)  # the store has a snapshot and no log now
                    held.batches.clear()
                    continue
            if step is Next.CATCH_UP:
                # Another process wrote meanwhile (after a failover, all of them push held writes
                # to the same maps at once): take just its new events, not the whole map, so that
                # conflicts stay one short round trip each and the backlog drains in seconds.
                newer = await self.store.events_after(entry.id, held.base.version)
                if newer:
                    held.base = apply_events(held.base, newer)
                    held.history.extend(newer)
                    held.rewritten = True
                    continue
            loaded = await self.store.load(entry.id)
            if loaded is not None:  # else the map is missing: the next commit says so
                held.base = loaded.state
                held.history.load(loaded.log, loaded.state.version)
                held.rewritten = True
            if step is Next.LANDED_ELSEWHERE:
                del held.batches[0]
        if held.batches:
            return False
        if held.rewritten or held.base.version != entry.state.version:
            entry.state = held.base
            entry.history.take(held.history)
            self.fanout.restart_viewers(entry)
        entry.held = None
        entry.synced_version = entry.state.version
        self.holding.discard(entry.id)
        return True

    def _replay(self, held: HeldWrites) -> MapState:
        state = held.base
        for batch in held.batches:
            applied = apply_held(state, batch, self.limits)
            if applied is None:
                held.rewritten = True
            else:
                state = applied[0]
        return state

    # --- events from the store --------------------------------------------------------------

    def _apply_remote(self, entry: MapEntry, event: Event) -> None:
        self._advance(entry, apply_event(entry.state, event), (event,))
        entry.synced_version = event.version

    async def resync(self, maps: Iterable[MapEntry]) -> None:
        """The store is reachable again: push held writes and catch up every held map."""
        for entry in list(maps):
            try:
                async with entry.lock:
                    if entry.held is not None and not await self.push_held(entry):
                        continue
                    await self.catch_up(entry)
            except StoreUnavailable:
                return  # still away: the next re-sync starts over
            except MapsrvError as exc:
                log.warning("map %s: re-sync failed: %s", map_ref(entry.id), exc.message)

    def _request_resync(self, nursery: trio.Nursery, maps: Registry) -> None:
        if self._resyncing:
            self._resync_again = True
            return
        self._resyncing = True
        nursery.start_soon(self._resync_until_quiet, maps)

    async def _resync_until_quiet(self, maps: Registry) -> None:
        try:
            self._resync_again = True
            while self._resync_again:
                self._resync_again = False
                await self.resync(maps)
        finally:
            self._resyncing = False

    async def serve(
        self,
        messages: trio.MemoryReceiveChannel[StoreMessage],
        maps: Registry,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Follow the store: apply other processes' events to the maps held here, re-sync when
        the store comes back, and keep trying to push held writes while it is up."""
        async with trio.open_nursery() as nursery:

            async def retry_held() -> None:
                while True:
                    await trio.sleep(RETRY_HELD_INTERVAL)
                    if self.holding and self.store.available:
                        self._request_resync(nursery, maps)

            nursery.start_soon(retry_held)
            task_status.started()
            async for message in messages:
                match message:
                    case RemoteEvent(map_id=map_id, text=text):
                        entry = maps.find(map_id)
                        if entry is None:
                            continue
                        if is_notice(text):
                            self.on_notice(entry, text)
                        else:
                            self.remote.deliver(nursery, entry, text)
                    case Followed(map_id=map_id):
                        entry = maps.find(map_id)
                        if entry is not None:
                            nursery.start_soon(self.remote.catch_up_followed, entry)
                    case Reconnected():
                        self._request_resync(nursery, maps)
            nursery.cancel_scope.cancel()
