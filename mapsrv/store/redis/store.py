"""Redis as the source of truth, so that any process can serve and recover any map.

Its keys are named in ``mapsrv.store.redis.keys``.

One Lua script per atomic step. A write is ``COMMIT``: if the batch's id is already in
``batches`` it answers "already committed" and writes nothing (a commit whose reply was lost, or
that sat in Redis's socket buffer while Redis was stopped, is never applied twice); otherwise it
compares the map's version with the one the writer started from, then appends the events, publishes
them, records the batch id and moves the version. A stale process can therefore never overwrite a
newer map: it gets the current version back, catches up from the log and retries. A snapshot is
written when a batch crosses a multiple of ``snapshot_every`` versions, and the log keeps more than
that, so snapshot + log always rebuild the map. ``EVENTS_AFTER`` reads the version and the log
together, so a caller can tell a log that no longer reaches back from one that is complete.

Every script touches the keys of one map only (one hash slot), so it runs on a Redis Cluster; the
view, user and rate-limit keys are single-key calls of their own. Processes subscribe to the
channels of the maps they hold (``follow``), not to every map. With ``wait_replicas`` (the default
under Sentinel) a commit is pipelined with ``WAIT``: a commit its replicas did not confirm is
reported unavailable, so the hub holds the batch and pushes it again by its id, and a failover to
a replica can lose no acknowledged write.

The connection (the asyncio loop, the breaker, hang detection) is ``mapsrv.store.redis.link``; the
commit writer ``mapsrv.store.redis.writer``; the feed of events ``mapsrv.store.redis.feed``; the
URL forms ``mapsrv.store.redis.url``; the Lua scripts ``mapsrv.store.redis.scripts``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
import trio
from redis.exceptions import NoScriptError, ReadOnlyError, ResponseError

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
    links_notice,
)
from mapsrv.store.redis.catalog import RedisCatalog, map_fields
from mapsrv.store.redis.keys import USED, batches_key, channel, edits_key, log_key, map_key, presence_key
from mapsrv.store.redis.link import UNAVAILABLE, RedisLink, ReplicasBehind
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
)
from mapsrv.store.redis.writer import pack

__all__ = ["RedisStore"]

log = logging.getLogger("mapsrv.redis")

USER_TTL_MS = 400 * 24 * 3600 * 1000  # a browser user's last map, remembered for 400 days
SCRIPTS = {"DELETE": DELETE, "RESTORE": RESTORE}

# How long a commit waits for its replicas (``wait_replicas``): well within ``hang_after``, so
# that a slow replica never makes the link look hung.
WAIT_TIMEOUT_MS = 500


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


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
        self._scripts: dict[str, Any] = {}
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
        """One of the catalog's scripts, by name (``SCRIPTS``)."""
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
        fields = {_text(k): v for k, v in raw.items()}
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
            view_key=_text(fields["view_key"]) or "",
            owner=_text(fields.get("owner")),
            principal=_text(fields.get("principal")),
            edit_key=_text(fields.get("edit_key")),
            maker=_text(fields.get("maker")),
        )
        if "used" not in fields:
            await self._list_unlisted(meta, state)
        return LoadedMap(meta, state, tuple(held) if held and held[-1].version == state.version else ())

    async def _list_unlisted(self, meta: MapMeta, state: MapState) -> None:
        """A map written before mapsrv kept lists (its hash has no ``used``) joins its owner's
        list, and the index that lists, sweeps and backups read, the first time a process loads
        it: a map from before the upgrade is kept once somebody draws on it again, so it must be
        findable by then. Its creation time is not known: now stands for it."""
        now = time.time()
        summary: dict[Any, Any] = {
            "title": state.title,
            "features": len(state.features),
            "created": repr(now),
            "updated": repr(now),
            "used": repr(now),
        }
        await self._run(lambda c: c.hset(map_key(meta.id), mapping=summary))
        await self.catalog.indexed(meta, now)
        log.info("map %s: listed (it was made before maps were listed)", map_ref(meta.id))

    async def map_for_view_key(self, view_key: str) -> str | None:
        return _text(await self._run(lambda c: c.get(f"mapsrv:view:{view_key}")))

    async def map_for_edit_key(self, edit_key: str) -> tuple[str, bool] | None:
        found = _text(await self._run(lambda c: c.get(f"mapsrv:edit:{edit_key}")))
        if not found:
            return None
        return (found[1:], False) if found.startswith("-") else (found, True)

    async def set_links(self, old: MapMeta, new: MapMeta) -> None:
        """Single-key calls (the index keys live in other slots than the map's), in the order
        that never lets a turned-off key open the map: the old keys go first."""
        map_id = new.id
        ttl = None  # the links of a map that is kept last as long as it
        if old.edit_key and old.edit_key != new.edit_key:
            await self._run(lambda c: c.set(f"mapsrv:edit:{old.edit_key}", "-" + map_id, px=ttl))
            await self.catalog.forget_opened(map_id)  # who opened the old link loses the map
        if old.view_key != new.view_key:
            await self._run(lambda c: c.delete(f"mapsrv:view:{old.view_key}"))
        fields: dict[Any, Any] = {"view_key": new.view_key}
        if new.edit_key:
            fields["edit_key"] = new.edit_key
            await self._run(lambda c: c.set(f"mapsrv:edit:{new.edit_key}", map_id, px=ttl))
            edit_key = new.edit_key
            await self._run(lambda c: c.sadd(edits_key(map_id), edit_key))
        await self._run(lambda c: c.hset(map_key(map_id), mapping=fields))
        if not new.edit_key:
            await self._run(lambda c: c.hdel(map_key(map_id), "edit_key"))
        await self._run(lambda c: c.set(f"mapsrv:view:{new.view_key}", map_id, px=ttl))
        script = self._script(NOTICE)
        args = [self._publish, channel(map_id), self.link.tag + " " + links_notice(new)]
        await self._run(lambda c: script(keys=[map_key(map_id)], args=args, client=c))

    @property
    def _publish(self) -> str:
        return "SPUBLISH" if self.link.target.kind == "cluster" else "PUBLISH"

    async def share_presence(self, map_id: str, sender: str, text: str, ttl: float) -> None:
        now_ms = int(time.time() * 1000)
        ttl_ms = max(1, int(ttl * 1000))
        script = self._script(PRESENCE)
        args = [sender, now_ms + ttl_ms, text, ttl_ms, now_ms, channel(map_id)]
        args += [self.link.tag + ' {"presence":' + text + "}", self._publish]
        await self._run(lambda c: script(keys=[presence_key(map_id)], args=args, client=c))

    async def notify(self, map_id: str, text: str) -> None:
        script = self._script(NOTICE)
        args = [self._publish, channel(map_id), self.link.tag + " " + text]
        await self._run(lambda c: script(keys=[map_key(map_id)], args=args, client=c))

    async def presence_of(self, map_id: str) -> list[str]:
        raw = await self._run(lambda c: c.hvals(presence_key(map_id)))
        now_ms = int(time.time() * 1000)
        shared = []
        for value in raw:
            until, _, text = (_text(value) or "").partition(" ")
            if until.isdigit() and int(until) > now_ms:
                shared.append(text)
        return shared

    async def last_map_of(self, user: str) -> str | None:
        return _text(await self._run(lambda c: c.get(f"mapsrv:user:{user}")))

    async def remember_last_map(self, user: str, map_id: str) -> None:
        await self._run(lambda c: c.set(f"mapsrv:user:{user}", map_id, px=USER_TTL_MS))

    # people who sign in: the hash mapsrv:people, user -> "1 <person>" (signed in) or "0 <person>",
    # and mapsrv:identities:<person>, the users that ever signed in as the person; no TTL
    async def sign_in(self, user: str, person: str) -> None:
        await self._run(lambda c: c.hset(PEOPLE, user, f"1 {person}"))
        await self._run(lambda c: c.sadd(f"mapsrv:identities:{person}", user))

    async def sign_out(self, user: str) -> None:
        person = await self._person(user)
        if person is not None:
            await self._run(lambda c: c.hset(PEOPLE, user, f"0 {person[1]}"))

    async def _person(self, user: str) -> tuple[bool, str] | None:
        return _person_link(await self._run(lambda c: c.hget(PEOPLE, user)))

    async def person_of(self, user: str) -> str | None:
        person = await self._person(user)
        return person[1] if person is not None and person[0] else None

    async def identities_of(self, person: str) -> list[str]:
        users = await self._run(lambda c: c.smembers(f"mapsrv:identities:{person}"))
        return sorted(u for u in (_text(v) for v in users) if u)

    async def people(self) -> list[PersonLink]:
        links = await self._run(lambda c: c.hgetall(PEOPLE))
        out = []
        for user, value in links.items():
            found = _person_link(value)
            if found is not None:
                out.append(PersonLink(_text(user) or "", found[1], found[0]))
        return sorted(out)

    async def restore_person(self, link: PersonLink) -> None:
        await self._run(lambda c: c.hset(PEOPLE, link.user, f"{int(link.signed_in)} {link.person}"))
        await self._run(lambda c: c.sadd(f"mapsrv:identities:{link.person}", link.user))

    async def claim(self, map_id: str, owner: str) -> str | None:
        script = self._script(CLAIM)
        claimed = _text(await self._run(lambda c: script(keys=[map_key(map_id)], args=[owner], client=c)))
        if claimed == owner:
            await self._run(lambda c: c.sadd(f"mapsrv:owner:{owner}", map_id))
        return claimed

    async def take_rate(self, key: str, interval: float, burst: int, cost: int = 1) -> float:
        """One step of a shared rate limit (``GCRA``): 0 when allowed, else seconds to wait."""
        script = self._script(GCRA)
        allowed, wait = await self._run(
            lambda c: script(keys=[f"mapsrv:rate:{key}"], args=[repr(interval), burst, cost], client=c)
        )
        return 0.0 if int(allowed) else float(_text(wait) or 0)

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
            status, current = await self._commit_through_writer(keys, args, replicas)
        elif replicas:
            script = self._script(COMMIT)
            status, current = await self._run(
                lambda c: self._commit_and_wait(c, script, keys, args, replicas)
            )
        else:
            script = self._script(COMMIT)
            status, current = await self._run(lambda c: script(keys=keys, args=args, client=c))
        if status == 1:
            if expected == 0:
                try:
                    await self._keep_links(map_id)
                except StoreUnavailable:
                    pass  # the commit stands; the next touch of the map keeps its links
            return COMMITTED
        if status == 2:
            return AlreadyCommitted(int(current))
        if status == -1:
            return MISSING
        return Conflict(int(current))

    async def _keep_links(self, map_id: str) -> None:
        """Somebody drew on the map: its view and edit keys lose their time to live, as its own
        keys did in the commit."""
        view_key, edit_key = await self._run(lambda c: c.hmget(map_key(map_id), ("view_key", "edit_key")))
        keys = [f"mapsrv:view:{_text(view_key)}"] + ([f"mapsrv:edit:{_text(edit_key)}"] if edit_key else [])

        async def persist(client: aioredis.Redis) -> Any:
            async with client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.persist(key)
                return await pipe.execute()

        await self._run(persist)

    async def _commit_through_writer(self, keys: list[str], args: list[Any], n: int) -> Any:
        """``COMMIT`` (and ``WAIT n`` in the same write) through the link's writer: packed here,
        one crossing, no redis-py command machinery. Pipelined with whatever other commits are
        waiting to go."""
        packed = pack(b"EVALSHA", self._commit_sha, len(keys), *keys, *args)
        if n:
            packed += pack(b"WAIT", n, self._wait_ms)
        for _ in range(2):
            replies = await self.link.send(packed, 2 if n else 1)
            reply = replies[0]
            if isinstance(reply, NoScriptError):  # Redis restarted, or a new primary: load it
                await self._run(lambda c: c.script_load(COMMIT))
                continue
            for failed in replies:
                if isinstance(failed, ResponseError):
                    # a demoted primary: READONLY ("... a read only replica."), or WAIT refused
                    if "replica" in str(failed):
                        assert self.link.writer is not None
                        self.link.writer.reset = True  # its next connection asks the Sentinels
                        raise self.link.fail(ReadOnlyError(str(failed)))
                    if isinstance(failed, UNAVAILABLE):  # full, loading, its primary down
                        raise self.link.fail(failed)
                    raise failed
            if n and reply[0] in (1, 2) and int(replies[1]) < n:
                raise self.link.fail(
                    ReplicasBehind(f"a commit reached {replies[1]} of {n} replicas in time; held")
                )
            return reply
        raise StoreUnavailable()

    async def _commit_and_wait(
        self, client: Any, script: Any, keys: list[str], args: list[Any], n: int
    ) -> Any:
        """``COMMIT`` and ``WAIT n`` in one round trip; unavailable when fewer replicas confirm.
        Only a Cluster commits this way (elsewhere the writer does), and there ``WAIT``, which has
        no key, would go to the client's default node: it goes to the node the commit went to,
        on the same connection, so that it counts that node's replicas and covers that write."""
        node = client.get_node_from_key(keys[0])
        for _ in range(2):
            async with client.pipeline(transaction=False) as pipe:  # error replies are returned
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
                pipe.execute_command("WAIT", n, self._wait_ms, target_nodes=node)
                reply, confirmed = await pipe.execute(raise_on_error=False)
            if isinstance(reply, NoScriptError):
                await client.script_load(script.script)
                continue
            for failed in (reply, confirmed):
                # demoted: "WAIT cannot be used with replica instances" (a replica answers the
                # commit itself with MOVED, which redis-py follows)
                if isinstance(failed, ResponseError) and "replica" in str(failed):
                    await client.nodes_manager.initialize()  # the next call asks where the slot is
                    raise ReadOnlyError(str(failed)) from failed
                if isinstance(failed, Exception):
                    raise failed
            if reply[0] in (1, 2) and int(confirmed) < n:  # committed, or found: replicas have it?
                # Not acknowledged as committed: the hub holds the batch and pushes it again by its
                # id. The breaker opens (``ReplicasBehind``), so that later writes are held at once
                # rather than each waiting for replicas that are not there, until the health check
                # sees enough replicas online again.
                raise ReplicasBehind(f"a commit reached {confirmed} of {n} replicas in time; held")
            return reply
        raise StoreUnavailable()

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

    async def touch(self, entries: Sequence[Touched]) -> None:
        """Maps still in use (watched, or recently used): their last use is now (retention counts
        from it); the keys of one nobody drew on yet stay alive (``XX``: only keys that have a
        time to live), and a kept map's links lose theirs if the commit that kept the map could not
        say so (``_keep_links``)."""
        if not entries:
            return
        now = self.clock()

        async def ttls(client: aioredis.Redis) -> Any:
            async with client.pipeline(transaction=False) as pipe:
                for map_id, _, _ in entries:
                    pipe.pttl(map_key(map_id))
                return await pipe.execute()

        lives = await self._run(ttls)

        async def touch(client: aioredis.Redis) -> Any:
            async with client.pipeline(transaction=False) as pipe:
                for (map_id, view_key, edit_key), life in zip(entries, lives, strict=True):
                    links = [f"mapsrv:view:{view_key}"] + ([f"mapsrv:edit:{edit_key}"] if edit_key else [])
                    if int(life) == -1:  # kept
                        for key in links:
                            pipe.persist(key)
                    elif int(life) > 0:
                        for key in (
                            map_key(map_id),
                            log_key(map_id),
                            batches_key(map_id),
                            edits_key(map_id),
                        ):
                            pipe.pexpire(key, self.ttl_ms, xx=True)
                        for key in links:
                            pipe.pexpire(key, self.ttl_ms, xx=True)
                    pipe.zadd(USED, {map_id: now}, xx=True)
                return await pipe.execute()

        await self._run(touch)

    # --- lists, deletion, retention, backup (``redis_catalog``) -----------------------------------

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


PEOPLE = "mapsrv:people"


def _person_link(value: Any) -> tuple[bool, str] | None:
    found = _text(value)
    if not found or found[1:2] != " ":
        return None
    return found[0] == "1", found[2:]
