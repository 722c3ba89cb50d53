"""A durable store in this process's memory, shared by several hubs: the whole store contract
(versions, compare-and-set commits with batch ids, a trimmed log, pub/sub of the maps each hub
follows, never back to the writer) without Redis, and faults on demand (down, replies lost, back
in time, a map lost, a process stalled). Tests run two hubs on one ``SharedMemory`` to exercise
replication recovery; the contract tests in tests/store/ run the same cases against this and
against a real redis-server.

    memory = SharedMemory(log_size=64)
    a, b = MapHub(store=memory.connect()), MapHub(store=memory.connect())

Each connection trips a breaker when a call fails (as ``RedisStore`` does after a timeout): later
calls fail at once until ``serve``'s health check, or ``SharedMemory.come_back``, closes it and
reports ``Reconnected``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Awaitable, Callable, Sequence

import trio

from mapsrv.core import Event, MapState
from mapsrv.core.codec import event_from_wire
from mapsrv.store.contract import (
    CommitReply,
    Followed,
    LoadedMap,
    MapMeta,
    MapRecord,
    MapSummary,
    PersonLink,
    Reconnected,
    RemoteEvent,
    StoreMessage,
    StoreStatistics,
    StoreUnavailable,
    Touched,
)
from mapsrv.store.memory.shared_data import SharedData, SharedMap, map_of, record_of, summaries

__all__ = ["SharedMemory", "SharedStore", "SharedUploads"]


class SharedMemory(SharedData):
    """The shared data, and the processes connected to it (``connect``)."""

    def connect(self) -> SharedStore:
        store = SharedStore(self)
        self.connections.append(store)
        return store


class SharedStore:
    """One process's connection to a ``SharedMemory``."""

    durable = True
    shared = True

    def __init__(self, memory: SharedMemory, *, health_interval: float = 0.05) -> None:
        self.memory = memory
        self.uploads = SharedUploads(self)  # upload links' slots, shared as Redis shares them
        self.health_interval = health_interval
        self.heal = True  # whether serve's health check closes the breaker by itself
        self.followed: set[str] = set()  # maps whose events this connection hears
        self._broken = False
        self._send: trio.MemorySendChannel[StoreMessage] | None = None
        self._errors = 0
        self._remote = 0
        self._reconnections = 0
        self._trips = 0
        self._stalls: list[tuple[Callable[[], Awaitable[None]], bool]] = []

    @property
    def available(self) -> bool:
        return not self._broken and self.memory.up

    def stall(self, meanwhile: Callable[[], Awaitable[None]], *, lands: bool) -> None:
        """This process stops while its next commit waits (SIGSTOP, a blocked loop): ``meanwhile``
        runs (other processes write), then the commit fails with StoreUnavailable and the breaker
        stays closed, as RedisLink answers a call that timed out while its own process was
        stopped. ``lands``: the commit reached the store before the stop (its reply was lost),
        else it never left."""
        self._stalls.append((meanwhile, lands))

    def statistics(self) -> StoreStatistics:
        return StoreStatistics(
            available=self.available,
            errors=self._errors,
            remote_events=self._remote,
            reconnections=self._reconnections,
            breaker_trips=self._trips,
            followed_maps=len(self.followed),
        )

    def follow(self, map_id: str) -> None:
        if map_id not in self.followed:
            self.followed.add(map_id)
            self.deliver(Followed(map_id))

    def unfollow(self, map_id: str) -> None:
        self.followed.discard(map_id)

    async def serve(
        self,
        *,
        task_status: trio.TaskStatus[trio.MemoryReceiveChannel[StoreMessage]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        send, receive = trio.open_memory_channel[StoreMessage](math.inf)
        self._send = send
        try:
            task_status.started(receive)
            while True:
                await trio.sleep(self.health_interval)
                if self._broken and self.memory.up and self.heal:
                    self.reconnect()
        finally:
            self._send = None
            send.close()

    def deliver(self, message: StoreMessage) -> None:
        if self._send is not None and not self._broken:
            self._remote += isinstance(message, RemoteEvent)
            self._send.send_nowait(message)

    def disconnect(self) -> None:
        """This connection alone breaks (a partition): its calls fail and it hears no events
        until ``reconnect`` (or the health check in ``serve``, which runs while the store is up)."""
        if not self._broken:
            self._trips += 1
        self._broken = True

    def reconnect(self) -> None:
        if self._broken:
            self._broken = False
            self._reconnections += 1
            self.deliver(Reconnected())

    async def _call(self) -> None:
        """Where a real store would do I/O: a checkpoint, and the breaker."""
        await trio.lowlevel.checkpoint()
        if self._broken or not self.memory.up:
            self._fail()

    def _fail(self) -> None:
        if not self._broken:
            self._trips += 1
        self._broken = True
        self._errors += 1
        raise StoreUnavailable()

    async def create(self, meta: MapMeta, state: MapState) -> bool:
        await self._call()
        if meta.id in self.memory.maps:
            return False
        now = self.memory.clock()
        self.memory.maps[meta.id] = SharedMap(
            meta, state, states={state.version: state}, created=now, updated=now, used=now
        )
        self.memory.views[meta.view_key] = meta.id
        if meta.edit_key:
            self.memory.edits[meta.edit_key] = (meta.id, True)
        return True

    async def load(self, map_id: str) -> LoadedMap | None:
        await self._call()
        m = self.memory.maps.get(map_id)
        if m is None:
            return None
        log = [event_from_wire(text) for _, text in m.log]
        return LoadedMap(m.meta, m.state, tuple(log) if log and log[-1].version == m.state.version else ())

    async def map_for_view_key(self, view_key: str) -> str | None:
        await self._call()
        return self.memory.views.get(view_key)

    async def map_for_edit_key(self, edit_key: str) -> tuple[str, bool] | None:
        await self._call()
        return self.memory.edits.get(edit_key)

    async def set_links(self, old: MapMeta, new: MapMeta) -> None:
        await self._call()
        self.memory.relink(old, new, self)

    async def share_presence(self, map_id: str, sender: str, text: str, ttl: float) -> None:
        await self._call()
        self.memory.presence.setdefault(map_id, {})[sender] = (text, trio.current_time() + ttl)
        self.memory.notice(map_id, '{"presence":' + text + "}", self)

    async def notify(self, map_id: str, text: str) -> None:
        await self._call()
        self.memory.notice(map_id, text, self)

    async def presence_of(self, map_id: str) -> list[str]:
        await self._call()
        now = trio.current_time()
        return [text for text, until in self.memory.presence.get(map_id, {}).values() if until > now]

    async def last_map_of(self, user: str) -> str | None:
        await self._call()
        return self.memory.users.get(user)

    async def remember_last_map(self, user: str, map_id: str) -> None:
        await self._call()
        self.memory.users[user] = map_id

    async def sign_in(self, user: str, person: str) -> None:
        await self._call()
        self.memory.people[user] = (person, True)

    async def sign_out(self, user: str) -> None:
        await self._call()
        if user in self.memory.people:
            self.memory.people[user] = (self.memory.people[user][0], False)

    async def person_of(self, user: str) -> str | None:
        await self._call()
        person, signed_in = self.memory.people.get(user, ("", False))
        return person if signed_in else None

    async def identities_of(self, person: str) -> list[str]:
        await self._call()
        return sorted(u for u, (p, _) in self.memory.people.items() if p == person)

    async def people(self) -> list[PersonLink]:
        await self._call()
        return sorted(PersonLink(u, p, signed_in) for u, (p, signed_in) in self.memory.people.items())

    async def restore_person(self, link: PersonLink) -> None:
        await self._call()
        self.memory.people[link.user] = (link.person, link.signed_in)

    async def claim(self, map_id: str, owner: str) -> str | None:
        await self._call()
        m = self.memory.maps.get(map_id)
        if m is None:
            return None
        if m.meta.owner is None:
            m.meta = dataclasses.replace(m.meta, owner=owner)
        return m.meta.owner

    async def commit(
        self,
        map_id: str,
        expected: int,
        events: Sequence[Event],
        state: MapState,
        *,
        snapshot: bool,
        batch_id: str,
    ) -> CommitReply:
        await self._call()
        if self._stalls:
            meanwhile, lands = self._stalls.pop(0)
            if lands:
                self.memory.commit(map_id, expected, events, state, batch_id, origin=self)
            await meanwhile()
            raise StoreUnavailable("the map store did not answer while this process was stalled")
        reply = self.memory.commit(map_id, expected, events, state, batch_id, origin=self)
        if self.memory.replies_to_lose:
            self.memory.replies_to_lose -= 1
            self._fail()
        return reply

    async def events_after(self, map_id: str, version: int) -> list[Event] | None:
        await self._call()
        return self.memory.events_after(map_id, version)

    async def touch(self, entries: Sequence[Touched]) -> None:
        await self._call()
        for map_id, _, _ in entries:
            m = self.memory.maps.get(map_id)
            if m is not None:
                m.used = self.memory.clock()

    # --- lists, deletion, retention, backup ------------------------------------------------------

    async def maps_of(
        self, *, owner: str | None = None, principal: str | None = None, maker: str | None = None
    ) -> list[MapSummary]:
        await self._call()
        return summaries(self.memory.maps.values(), owner, principal, maker)

    async def remember_opened(self, user: str, map_id: str) -> None:
        await self._call()
        m = self.memory.maps.get(map_id)
        if m is not None:
            m.opened_by.add(user)

    async def delete(self, map_id: str) -> MapMeta | None:
        await self._call()
        m = self.memory.maps.get(map_id)
        if m is None:
            return None
        edits = [k for k, (i, _) in self.memory.edits.items() if i == map_id]
        self.memory.forget(map_id)
        for key in edits:
            del self.memory.edits[key]
        self.memory.gone.update((map_id, m.meta.view_key, *edits))
        self.memory.notice(map_id, '{"gone":true}', self)
        return m.meta

    async def gone(self, key: str) -> bool:
        await self._call()
        return key in self.memory.gone

    async def sweep(self, now: float, *, retention: float | None, unused: float) -> list[str]:
        await self._call()
        old = [
            i
            for i, m in self.memory.maps.items()
            if (m.state.version == 0 and m.used <= now - unused)
            or (retention is not None and m.used <= now - retention)
        ]
        for map_id in old:
            self.memory.forget(map_id)
        return old

    async def map_ids(self, cursor: str = "", count: int = 500) -> tuple[list[str], str]:
        await self._call()
        ids = sorted(i for i in self.memory.maps if i > cursor)[:count]
        return ids, (ids[-1] if len(ids) == count else "")

    async def dump(self, map_id: str) -> MapRecord | None:
        loaded = await self.load(map_id)
        m = self.memory.maps.get(map_id)
        if loaded is None or m is None:
            return None
        retired = tuple(sorted(k for k, (i, live) in self.memory.edits.items() if i == map_id and not live))
        return record_of(m, loaded, retired)

    async def restore(self, record: MapRecord, *, replace: bool = False) -> bool:
        await self._call()
        meta = record.meta
        if meta.id in self.memory.maps:
            if not replace:
                return False
            self.memory.forget(meta.id)
        m = map_of(record)
        self.memory.maps[meta.id] = m
        self.memory.views[meta.view_key] = meta.id
        if meta.edit_key:
            self.memory.edits[meta.edit_key] = (meta.id, True)
        for key in record.retired_edit_keys:
            self.memory.edits[key] = (meta.id, False)
        return True


class SharedUploads:
    """Upload links' slots in a ``SharedMemory`` (``mapsrv.store.contract.UploadTable``), through
    one connection: its faults are theirs."""

    def __init__(self, store: SharedStore) -> None:
        self.store = store

    async def put_upload(self, token: str, record: dict[str, str], handle_key: str, ttl: float) -> None:
        await self.store._call()
        until = trio.current_time() + ttl
        self.store.memory.uploads[token] = (dict(record), until)
        self.store.memory.upload_handles[handle_key] = (token, until)

    async def upload(self, token: str) -> dict[str, str] | None:
        await self.store._call()
        found = self.store.memory.uploads.get(token)
        return dict(found[0]) if found is not None and found[1] > trio.current_time() else None

    async def upload_token(self, handle_key: str) -> str | None:
        await self.store._call()
        found = self.store.memory.upload_handles.get(handle_key)
        return found[0] if found is not None and found[1] > trio.current_time() else None

    async def swap_upload(self, token: str, state: str, fields: dict[str, str]) -> bool:
        await self.store._call()
        found = self.store.memory.uploads.get(token)
        if found is None or found[1] <= trio.current_time() or found[0].get("state") != state:
            return False
        found[0].update(fields)
        return True
