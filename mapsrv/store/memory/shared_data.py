"""The data of the shared in-memory store (``mapsrv.store.memory.shared``), as a redis-server would
hold it: each map with its log, every version's state (for rewinds) and its batch ids; links,
presence, people; the faults tests ask for; and the store's side of commits and reads, delivering
each event to the other connections that follow its map."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mapsrv.core import Event, MapState
from mapsrv.core.codec import event_from_wire, wire
from mapsrv.store.contract import (
    COMMITTED,
    MISSING,
    AlreadyCommitted,
    CommitReply,
    Conflict,
    LoadedMap,
    MapMeta,
    MapRecord,
    MapSummary,
    RemoteEvent,
    StoreMessage,
    links_notice,
)

__all__ = ["Connection", "SharedData", "SharedMap", "map_of", "record_of", "summaries", "summary_of"]


class Connection(Protocol):
    """What the data needs of a process's connection: the maps it follows, a way to tell it."""

    followed: set[str]

    def deliver(self, message: StoreMessage) -> None: ...

    def reconnect(self) -> None: ...


@dataclass
class SharedMap:
    """One map as the shared store holds it."""

    meta: MapMeta
    state: MapState
    log: list[tuple[int, str]] = field(default_factory=list)  # (version, event wire)
    states: dict[int, MapState] = field(default_factory=dict)  # every version, for rewind()
    batches: dict[str, int] = field(default_factory=dict)  # batch id -> version it ended at
    created: float = 0.0
    updated: float = 0.0
    updated_by: str = ""
    used: float = 0.0
    opened_by: set[str] = field(default_factory=set)


class SharedData:
    """The shared data, as a redis-server would hold it (``SharedMemory`` adds the connections)."""

    def __init__(self, *, log_size: int = 1024, batch_memory: int = 4096) -> None:
        self.log_size = log_size
        self.batch_memory = batch_memory
        self.maps: dict[str, SharedMap] = {}
        self.views: dict[str, str] = {}
        self.edits: dict[str, tuple[str, bool]] = {}  # edit key -> (map id, still opens it)
        self.presence: dict[str, dict[str, tuple[str, float]]] = {}  # map -> sender -> (text, until)
        self.users: dict[str, str] = {}
        self.people: dict[str, tuple[str, bool]] = {}  # browser user -> (person, signed in)
        self.gone: set[str] = set()
        self.uploads: dict[str, tuple[dict[str, str], float]] = {}  # token -> (slot, until)
        self.upload_handles: dict[str, tuple[str, float]] = {}  # handle key -> (token, until)
        self.clock: Callable[[], float] = time.time
        self.up = True
        self.replies_to_lose = 0
        self.connections: list[Connection] = []

    # --- faults -------------------------------------------------------------------------------

    def go_down(self) -> None:
        """Every call fails with StoreUnavailable until ``come_back``."""
        self.up = False

    def come_back(self) -> None:
        """Up again: every connection's breaker closes and reports ``Reconnected``."""
        self.up = True
        for store in self.connections:
            store.reconnect()

    def lose_replies(self, count: int = 1) -> None:
        """The next ``count`` commits are applied, but their callers get StoreUnavailable."""
        self.replies_to_lose += count

    def rewind(self, map_id: str, version: int) -> None:
        """The store lost every write after ``version`` (a restart from an older copy)."""
        m = self.maps[map_id]
        m.state = m.states[version]
        m.log = [(v, text) for v, text in m.log if v <= version]
        m.states = {v: s for v, s in m.states.items() if v <= version}
        m.batches = {b: v for b, v in m.batches.items() if v <= version}

    def forget(self, map_id: str) -> None:
        """The map expired in the store."""
        m = self.maps.pop(map_id)
        self.views.pop(m.meta.view_key, None)

    # --- the store's side of each call ---------------------------------------------------------

    def notice(self, map_id: str, text: str, origin: Connection | None) -> None:
        """A message on the map's channel that is not an event (presence, links)."""
        for store in self.connections:
            if map_id in store.followed and store is not origin:
                store.deliver(RemoteEvent(map_id, text))

    def relink(self, old: MapMeta, new: MapMeta, origin: Connection | None) -> None:
        """A map's keys changed: a turned-off edit key stops opening it (and who opened the map
        through it loses it), a new view key replaces the old one, and its followers hear."""
        m = self.maps.get(new.id)
        if m is not None:
            m.meta = new
        if old.edit_key and old.edit_key != new.edit_key:
            self.edits[old.edit_key] = (new.id, False)
            if m is not None:
                m.opened_by.clear()
        if new.edit_key:
            self.edits[new.edit_key] = (new.id, True)
        if old.view_key != new.view_key:
            self.views.pop(old.view_key, None)
            self.views[new.view_key] = new.id
        self.notice(new.id, links_notice(new), origin)

    def commit(
        self,
        map_id: str,
        expected: int,
        events: Sequence[Event],
        state: MapState,
        batch_id: str,
        origin: Connection | None = None,
    ) -> CommitReply:
        m = self.maps.get(map_id)
        if batch_id and m is not None and batch_id in m.batches:
            return AlreadyCommitted(m.batches[batch_id])
        if m is None:
            return MISSING
        if m.state.version != expected:
            return Conflict(m.state.version)
        for event in events:
            m.log.append((event.version, wire(event)))
        del m.log[: max(0, len(m.log) - self.log_size)]
        m.state = m.states[state.version] = state
        change = events[-1].change if events else None
        m.updated = m.used = self.clock()
        m.updated_by = change.by.name if change is not None else ""
        if batch_id:
            m.batches[batch_id] = state.version
            if len(m.batches) > self.batch_memory:
                del m.batches[next(iter(m.batches))]
        for store in self.connections:
            if map_id in store.followed and store is not origin:  # as Redis: own echoes dropped
                for event in events:
                    store.deliver(RemoteEvent(map_id, wire(event)))
        return COMMITTED

    def events_after(self, map_id: str, version: int) -> list[Event] | None:
        m = self.maps.get(map_id)
        if m is None or version > m.state.version:
            return None
        if version == m.state.version:
            return []
        entries = [text for v, text in m.log if v > version]
        if not m.log or m.log[0][0] > version + 1 or len(entries) != m.state.version - version:
            return None
        return [event_from_wire(text) for text in entries]


def summary_of(m: SharedMap) -> MapSummary:
    return MapSummary(
        m.meta, m.state.title, m.state.version, len(m.state.features), m.created, m.updated, m.updated_by
    )


def summaries(
    maps: Iterable[SharedMap], owner: str | None, principal: str | None, maker: str | None
) -> list[MapSummary]:
    """The maps a list shows (everyone's when nobody is named), newest change first."""
    found = [
        summary_of(m)
        for m in maps
        if (owner is None and principal is None and maker is None)
        or (owner is not None and (m.meta.owner == owner or owner in m.opened_by))
        or (principal is not None and m.meta.principal == principal)
        or (maker is not None and m.meta.maker == maker)
    ]
    return sorted(found, key=lambda s: s.updated, reverse=True)


def record_of(m: SharedMap, loaded: LoadedMap, retired: tuple[str, ...]) -> MapRecord:
    """A map as a backup carries it."""
    return MapRecord(
        loaded.meta,
        loaded.state,
        loaded.log,
        m.created,
        m.updated,
        m.updated_by,
        m.used,
        retired,
        tuple(sorted(m.opened_by)),
    )


def map_of(record: MapRecord) -> SharedMap:
    """A map from a backup."""
    m = SharedMap(record.meta, record.state, states={record.state.version: record.state})
    m.log = [(e.version, wire(e)) for e in record.log]
    m.created, m.updated, m.updated_by, m.used = (
        record.created,
        record.updated,
        record.updated_by,
        record.used,
    )
    m.opened_by = set(record.opened_by)
    return m
