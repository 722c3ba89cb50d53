"""Redis as the source of truth, so that any process can serve and recover any map. Its keys are named
in ``mapsrv.store.redis.keys``. One Lua script per atomic step. A write is ``COMMIT``: if the
batch's id is already in ``batches`` it answers "already committed" and writes nothing (a commit
whose reply was lost, or that sat in Redis's socket buffer while Redis was stopped, is never applied
twice); otherwise it compares the map's version with the one the writer started from, then appends
the events, publishes them, records the batch id and moves the version. A stale process can
therefore never overwrite a newer map: it gets the current version back, catches up from the log and
retries. A snapshot is written when a batch crosses a multiple of ``snapshot_every`` versions, and
the log keeps more than that, so snapshot + log always rebuild the map. ``EVENTS_AFTER`` reads the
version and the log together, so a caller can tell a log that no longer reaches back from one that
is complete.

Every script touches the keys of one map only (one hash slot), so it runs on a Redis Cluster; the
view, user and rate-limit keys are single-key calls of their own. Processes subscribe to the
channels of the maps they hold (``follow``), not to every map. With ``wait_replicas`` (the default
under Sentinel) a commit is pipelined with ``WAIT``: a commit its replicas did not confirm is
reported unavailable, so the hub holds the batch and pushes it again by its id, and a failover to
a replica can lose no acknowledged write.

The package's other modules (its ``__init__`` lists them) hold the connection, the commit
writer, the feed of events, the lists, the people, the URL forms and the Lua scripts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import trio

from mapsrv.core import Event, MapState, apply_events
from mapsrv.core.codec import dumps, event_from_wire, state_from_json, wire
from mapsrv.core.ids import map_ref
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
    PersonLink,
    StoreMessage,
    StoreStatistics,
    StoreUnavailable,
    Touched,
)
from mapsrv.store.redis.catalog import RedisCatalog
from mapsrv.store.redis.commits import commit_and_wait, commit_through_writer
from mapsrv.store.redis.keys import (
    as_text,
    batches_key,
    channel,
    edits_key,
    log_key,
    map_fields,
    map_key,
)
from mapsrv.store.redis.link import RedisLink
from mapsrv.store.redis.links import RedisLinks
from mapsrv.store.redis.people import RedisPeople
from mapsrv.store.redis.scripts import (
    CLAIM,
    COMMIT,
    CREATE,
    DELETE,
    EVENTS_AFTER,
    GCRA,
    NOTICE,
    PRESENCE,
    RESTORE,
    UPLOAD_SWAP,
)
from mapsrv.store.redis.uploads import RedisUploads

__all__ = ["RedisStore"]

log = logging.getLogger("mapsrv.redis")

SCRIPTS = {"DELETE": DELETE, "RESTORE": RESTORE, "NOTICE": NOTICE, "CLAIM": CLAIM, "PRESENCE": PRESENCE}
SCRIPTS["UPLOAD_SWAP"] = UPLOAD_SWAP

# How long a commit waits for its replicas (``wait_replicas``): well within ``hang_after``, so
# that a slow replica never makes the link look hung.
WAIT_TIMEOUT_MS = 500


class RedisStore:
    durable = True
    shared = True

    def __init__(
        self,
        url: str,
        *,
        ttl: float,
        log_size: int,
        snapshot_every: int = 64,
        batch_memory: int = 4096,
        socket_timeout: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # How long a map nobody drew on lasts unused (its keys' time to live, refreshed while it
        # is watched); a map somebody drew on has no time to live.
        self.ttl_ms = max(1000, int(ttl * 1000))
        self.clock = clock
        self.catalog = RedisCatalog(self)
        self.snapshot_every = snapshot_every
        self.log_size = max(log_size, 4 * snapshot_every)
        self.batch_memory = batch_memory
        self.link = RedisLink(url, socket_timeout=socket_timeout)
        self._wait_ms = min(WAIT_TIMEOUT_MS, int(self.link.hang_after * 1000 / 2))
        self._run = self.link.run
        self.people_ = RedisPeople(self._run)
        self.links = RedisLinks(self, self.catalog)
        self._scripts: dict[str, Any] = {}
        # upload links, found by any process
        self.uploads = RedisUploads(self._run, lambda: self.script("UPLOAD_SWAP"))
        self._commit_sha = hashlib.sha1(COMMIT.encode()).hexdigest()  # as Redis names the script

    @property
    def available(self) -> bool:
        return self.link.available

    def statistics(self) -> StoreStatistics:
        return self.link.statistics()

    def follow(self, map_id: str) -> None:
        self.link.feed.follow(map_id)

    def unfollow(self, map_id: str) -> None:
        self.link.feed.unfollow(map_id)

    async def serve(
        self,
        *,
        task_status: trio.TaskStatus[trio.MemoryReceiveChannel[StoreMessage]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run the connection: its feed, health check and breaker (``RedisLink.serve``)."""
        await self.link.serve(task_status=task_status)

    def script(self, name: str) -> Any:
        """One of the scripts the catalog and the links run, by name (``SCRIPTS``)."""
        return self._script(SCRIPTS[name])

    @property
    def publish_command(self) -> str:
        return self._publish

    def _script(self, source: str) -> Any:
        client = self.link.client
        if client is None:
            raise StoreUnavailable()
        script = self._scripts.get(source)
        if script is None or script.registered_client is not client:
            script = self._scripts[source] = client.register_script(source)
        return script

    # --- maps -------------------------------------------------------------------------------

    async def create(self, meta: MapMeta, state: MapState) -> bool:
        """Store a map unless one with this id is there already (then False): a map that expired
        in Redis is recreated by exactly one of the processes that still hold it."""
        now = self.clock()
        fields = map_fields(meta, state, now, updated=now, updated_by="", used=now)
        ttl = self.ttl_ms if state.version == 0 else None  # a recreated map somebody drew on: kept
        args: list[Any] = [ttl or 0, meta.edit_key or ""]
        for key, value in fields.items():
            args += [key, value]
        script = self._script(CREATE)
        keys = [map_key(meta.id), log_key(meta.id), edits_key(meta.id)]
        created = await self._run(lambda c: script(keys=keys, args=args, client=c))
        await self._run(lambda c: c.set(f"mapsrv:view:{meta.view_key}", meta.id, px=ttl))
        if meta.edit_key:
            await self._run(lambda c: c.set(f"mapsrv:edit:{meta.edit_key}", meta.id, px=ttl))
        if created:
            await self.catalog.indexed(meta, now)
        return bool(created)

    async def load(self, map_id: str) -> LoadedMap | None:
        raw = await self._run(lambda c: c.hgetall(map_key(map_id)))
        if not raw:
            return None
        fields = {as_text(k): v for k, v in raw.items()}
        state = state_from_json(json.loads(fields["state"]), map_id)
        version, held = await self._log(map_id)  # the whole log: the hub's history of changes
        if version is None:
            return None
        if version > state.version:
            events = [e for e in held if e.version > state.version]
            if len(events) != version - state.version or events[0].version != state.version + 1:
                log.error("map %s: log does not reach back to its snapshot", map_ref(map_id))
                return None
            state = apply_events(state, events)
        meta = MapMeta(
            id=map_id,
            view_key=as_text(fields["view_key"]) or "",
            owner=as_text(fields.get("owner")),
            principal=as_text(fields.get("principal")),
            edit_key=as_text(fields.get("edit_key")),
            maker=as_text(fields.get("maker")),
        )
        if "used" not in fields:
            await self.catalog.list_unlisted(meta, state)
        return LoadedMap(meta, state, tuple(held) if held and held[-1].version == state.version else ())

    # --- links, claims, presence and notices on the map's channel (``links``) --------------------

    async def map_for_view_key(self, view_key: str) -> str | None:
        return await self.links.map_for_view_key(view_key)

    async def map_for_edit_key(self, edit_key: str) -> tuple[str, bool] | None:
        return await self.links.map_for_edit_key(edit_key)

    async def set_links(self, old: MapMeta, new: MapMeta) -> None:
        await self.links.set_links(old, new)

    async def claim(self, map_id: str, owner: str) -> str | None:
        return await self.links.claim(map_id, owner)

    @property
    def _publish(self) -> str:
        return "SPUBLISH" if self.link.target.kind == "cluster" else "PUBLISH"

    async def share_presence(self, map_id: str, sender: str, text: str, ttl: float) -> None:
        await self.links.share_presence(map_id, sender, text, ttl)

    async def notify(self, map_id: str, text: str) -> None:
        await self.links.notify(map_id, text)

    async def presence_of(self, map_id: str) -> list[str]:
        return await self.links.presence_of(map_id)

    # --- people who sign in, and a browser user's last map (``people``) --------------------------

    async def last_map_of(self, user: str) -> str | None:
        return await self.people_.last_map_of(user)

    async def remember_last_map(self, user: str, map_id: str) -> None:
        await self.people_.remember_last_map(user, map_id)

    async def sign_in(self, user: str, person: str) -> None:
        await self.people_.sign_in(user, person)

    async def sign_out(self, user: str) -> None:
        await self.people_.sign_out(user)

    async def person_of(self, user: str) -> str | None:
        return await self.people_.person_of(user)

    async def identities_of(self, person: str) -> list[str]:
        return await self.people_.identities_of(person)

    async def people(self) -> list[PersonLink]:
        return await self.people_.people()

    async def restore_person(self, link: PersonLink) -> None:
        await self.people_.restore_person(link)

    async def take_rate(self, key: str, interval: float, burst: int, cost: int = 1) -> float:
        """One step of a shared rate limit (``GCRA``): 0 when allowed, else seconds to wait."""
        script = self._script(GCRA)
        allowed, wait = await self._run(
            lambda c: script(keys=[f"mapsrv:rate:{key}"], args=[repr(interval), burst, cost], client=c)
        )
        return 0.0 if int(allowed) else float(as_text(wait) or 0)

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
        crosses = expected // self.snapshot_every != state.version // self.snapshot_every
        change = events[-1].change if events else None
        summary = (
            f"{state.title}\n{len(state.features)}\n{self.clock()!r}\n{change.by.name if change else ''}"
        )
        args: list[Any] = [
            expected,
            summary,
            self.log_size,
            channel(map_id),
            dumps(state.to_json()) if snapshot or crosses else "",
            state.version,
            batch_id,
            self.batch_memory,
            self.link.tag + " ",
            self._publish,
        ]
        for event in events:
            args += [event.version, wire(event)]
        keys = [map_key(map_id), log_key(map_id), batches_key(map_id), edits_key(map_id)]
        replicas = self.link.target.wait_replicas
        if self.link.writer is not None:
            status, current = await commit_through_writer(
                self.link, self._commit_sha, self._wait_ms, keys, args, replicas
            )
        elif replicas:
            script = self._script(COMMIT)
            status, current = await self._run(
                lambda c: commit_and_wait(c, script, keys, args, replicas, self._wait_ms)
            )
        else:
            script = self._script(COMMIT)
            status, current = await self._run(lambda c: script(keys=keys, args=args, client=c))
        if status == 1:
            if expected == 0:
                try:
                    await self.links.keep_links(map_id)
                except StoreUnavailable:
                    pass  # the commit stands; the next touch of the map keeps its links
            return COMMITTED
        if status == 2:
            return AlreadyCommitted(int(current))
        if status == -1:
            return MISSING
        return Conflict(int(current))

    async def events_after(self, map_id: str, version: int) -> list[Event] | None:
        """Every event after ``version``, or None when the log no longer reaches back that far."""
        current, events = await self._log(map_id, version)
        if (
            current is None
            or len(events) != current - version
            or (events and events[0].version != version + 1)
        ):
            return None
        return events

    async def _log(self, map_id: str, after: int = 0) -> tuple[int | None, list[Event]]:
        """The map's version and the events its log holds after ``after`` (None: no such map,
        or the map is behind ``after``)."""
        script = self._script(EVENTS_AFTER)
        keys = [map_key(map_id), log_key(map_id)]
        reply: Any = await self._run(lambda c: script(keys=keys, args=[after], client=c))
        if not reply:
            return None, []
        current, entries = int(reply[0]), reply[1]
        events = [
            event_from_wire(dict(zip(fields[::2], fields[1::2], strict=True))[b"e"]) for _, fields in entries
        ]
        return current, events

    # --- lists, deletion, retention, backup (``catalog``) -------------------------------------------

    async def touch(self, entries: Sequence[Touched]) -> None:
        await self.catalog.touch(entries)

    async def maps_of(
        self, *, owner: str | None = None, principal: str | None = None, maker: str | None = None
    ) -> list[MapSummary]:
        return await self.catalog.maps_of(owner, principal, maker)

    async def remember_opened(self, user: str, map_id: str) -> None:
        await self.catalog.remember_opened(user, map_id)

    async def delete(self, map_id: str) -> MapMeta | None:
        return await self.catalog.delete(map_id, tombstone=True)

    async def gone(self, key: str) -> bool:
        return await self.catalog.gone(key)

    async def sweep(self, now: float, *, retention: float | None, unused: float) -> list[str]:
        return await self.catalog.sweep(now, retention, unused)

    async def map_ids(self, cursor: str = "", count: int = 500) -> tuple[list[str], str]:
        return await self.catalog.map_ids(cursor, count)

    async def dump(self, map_id: str) -> MapRecord | None:
        return await self.catalog.dump(map_id)

    async def restore(self, record: MapRecord, *, replace: bool = False) -> bool:
        return await self.catalog.restore(record, replace)
