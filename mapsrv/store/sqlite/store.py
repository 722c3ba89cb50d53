"""Maps on disk in one SQLite file (the standard library's ``sqlite3``): the default store of
``mapsrv serve`` and a private ``mapsrv stdio``, as ``sqlite:///path/maps.db``.

The hub keeps hot maps in memory, as with every store; this is where they last. A write is
acknowledged once its transaction is committed in the write-ahead log. ``synchronous=NORMAL`` (the
default, ``?sync=normal``) makes a commit a write to the log without an fsync: it survives the
process being killed at any moment (kill -9, a crash, the OOM killer), and may lose the last
commits only if the whole machine loses power. ``?sync=full`` fsyncs every commit and survives
that too, at a cost per write of the disk's flush time (measured in docs/benchmarks.md).

One process owns the file (an ``flock`` on ``<file>.lock``): a second one is refused with an error
naming the file. Every call runs in one worker thread at a time (a limiter of one), so the loop
never waits on the disk, and calls reach SQLite in the order they were made. Backups read the file
with a connection of their own (``open_reader``), which WAL lets run beside the server.

The schema and each step's SQL are ``mapsrv.store.sqlite.db``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import trio

from mapsrv.core import Event, MapState
from mapsrv.core.codec import wire
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
    Reconnected,
    StoreMessage,
    StoreStatistics,
    StoreUnavailable,
    Touched,
)
from mapsrv.store.sqlite.db import SCHEMA, SCHEMA_VERSION, CommitRow, Db

__all__ = ["SYNC_LEVELS", "SqliteStore", "StoreOpenError", "default_path", "open_reader", "sqlite_path"]

log = logging.getLogger("mapsrv.sqlite")

SYNC_LEVELS = ("normal", "full")
HEALTH_INTERVAL = 1.0  # seconds between attempts to write again after a failed write
LIST_LIMIT = 1000  # most maps one list answers
SWEEP_LIMIT = 500  # most maps one sweep step forgets (one transaction)

T = TypeVar("T")


class StoreOpenError(Exception):
    """The store cannot be opened (the message names the file and what to do)."""


def default_path() -> Path:
    """Where maps live when no --store is given: the platform's data directory for the user."""
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "mapsrv" / "maps.db"


def sqlite_path(url: str) -> tuple[Path, str]:
    """The file and the sync level of a ``sqlite://`` URL (``sqlite://`` alone: the default file)."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        raise ValueError(f"not a sqlite:// URL: {url!r}")
    raw = (parts.netloc + parts.path) if parts.netloc else parts.path
    if raw.startswith("//"):  # sqlite:////abs/path, as SQLAlchemy writes it
        raw = "/" + raw.lstrip("/")
    path = Path(os.path.expanduser(raw)) if raw else default_path()
    query = parse_qs(parts.query)
    unknown = set(query) - {"sync"}
    if unknown:
        raise ValueError(f"unknown option {sorted(unknown)[0]!r} (sqlite:// takes ?sync=normal or full)")
    sync = query.get("sync", ["normal"])[-1]
    if sync not in SYNC_LEVELS:
        raise ValueError(f"sync must be normal or full, got {sync!r}")
    return path, sync


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def _open_db(path: Path, sync: str, **sizes: int) -> Db:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(path)
    except OSError as exc:
        raise StoreOpenError(f"cannot keep maps in {path}: {exc.strerror or exc}") from None
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreOpenError(
                f"{path} was written by a newer mapsrv (schema {version}; this one knows {SCHEMA_VERSION})"
            )
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreOpenError(f"{path}: cannot use a write-ahead log here (journal mode {mode})")
        conn.execute(f"PRAGMA synchronous = {sync.upper()}")
        conn.executescript(SCHEMA)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreOpenError(f"cannot use {path} as the map store: {exc}") from None
    return Db(conn, **sizes)


def open_reader(path: Path, **sizes: int) -> Db:
    """A read-only connection to a store's file, beside the server that owns it (backups)."""
    if not path.exists():
        raise StoreOpenError(f"no map store at {path}")
    try:
        conn = _connect(path, readonly=True)
        conn.execute("SELECT count(*) FROM maps").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreOpenError(f"cannot read {path} as a map store: {exc}") from None
    return Db(conn, log_size=sizes.get("log_size", 1024), snapshot_every=64, batch_memory=4096)


class _Lock:
    """``<file>.lock``, held with ``flock`` while the store is open: one process per file."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreOpenError(f"cannot keep maps in {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self.fd)
            raise StoreOpenError(
                f"another mapsrv (pid {holder}) keeps its maps in {path}: stop it, or give this one"
                " another --store"
            ) from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode(), 0)

    def release(self) -> None:
        os.close(self.fd)  # closing the descriptor drops the flock


class SqliteStore:
    durable = True  # maps outlive the process
    uploads = None  # upload links stay in their process (``mapsrv.hub.upload_slots``)
    shared = False  # one process owns the file

    def __init__(
        self,
        url: str,
        *,
        log_size: int,
        snapshot_every: int = 64,
        batch_memory: int = 4096,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            self.path, self.sync = sqlite_path(url)
        except ValueError as exc:
            raise StoreOpenError(f"bad store URL {url!r}: {exc}") from None
        self.clock = clock
        self._lock = _Lock(self.path)
        try:
            self.db = _open_db(
                self.path,
                self.sync,
                log_size=max(log_size, 4 * snapshot_every),
                snapshot_every=snapshot_every,
                batch_memory=batch_memory,
            )
        except BaseException:
            self._lock.release()
            raise
        self._limiter = trio.CapacityLimiter(1)
        self._available = True
        self._errors = 0
        self._reconnections = 0
        self._failed = trio.Event()
        self._closed = False

    # --- the thread and failures ------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StoreUnavailable("the map store is closed")
        try:
            return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)
        except sqlite3.IntegrityError:
            raise
        except (sqlite3.OperationalError, sqlite3.DatabaseError) as exc:
            self._errors += 1
            if self._available:
                log.error("map store %s: %s", self.path, exc)
            self._available = False
            self._failed.set()
            raise StoreUnavailable(f"cannot write the map store {self.path}: {exc}; retry shortly") from exc

    @property
    def available(self) -> bool:
        return self._available

    def statistics(self) -> StoreStatistics:
        return StoreStatistics(
            available=self._available, errors=self._errors, reconnections=self._reconnections
        )

    def follow(self, map_id: str) -> None:
        pass  # no other process writes

    def unfollow(self, map_id: str) -> None:
        pass

    async def serve(
        self,
        *,
        task_status: trio.TaskStatus[trio.MemoryReceiveChannel[StoreMessage]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Until cancelled: after a failed write (a full disk, say), try a small write every second
        and report ``Reconnected`` once one works, so that the writes held meanwhile go in. Closes
        the file (and drops its lock) when cancelled."""
        send, receive = trio.open_memory_channel[StoreMessage](8)
        try:
            with send:
                task_status.started(receive)
                while True:
                    await self._failed.wait()
                    self._failed = trio.Event()
                    while True:
                        await trio.sleep(HEALTH_INTERVAL)
                        try:
                            await trio.to_thread.run_sync(self.db.health, limiter=self._limiter)
                        except sqlite3.DatabaseError:
                            continue
                        break
                    self._available = True
                    self._reconnections += 1
                    log.warning("map store %s: writing again", self.path)
                    send.send_nowait(Reconnected())
        finally:
            with trio.CancelScope(shield=True):
                await self.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._limiter:  # after the call in flight, if any
            pass
        self.db.close()
        self._lock.release()

    # --- maps -------------------------------------------------------------------------------------

    async def create(self, meta: MapMeta, state: MapState) -> bool:
        return await self._call(self.db.create, meta, state, self.clock())

    async def load(self, map_id: str) -> LoadedMap | None:
        loaded = await self._call(self.db.load, map_id)
        if loaded is None:
            return None
        meta, state, events = loaded
        log_ = tuple(events) if events and events[-1].version == state.version else ()
        return LoadedMap(meta, state, log_)

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
        change = events[-1].change if events else None
        row = CommitRow(
            map_id,
            expected,
            tuple((e.version, wire(e)) for e in events),
            state,
            snapshot,
            batch_id,
            change.by.name if change is not None else "",
        )
        status, current = await self._call(self.db.commit, row, self.clock())
        if status == 1:
            return COMMITTED
        if status == 2:
            return AlreadyCommitted(current)
        if status == -1:
            return MISSING
        return Conflict(current)

    async def events_after(self, map_id: str, version: int) -> list[Event] | None:
        return await self._call(self.db.events_after, map_id, version)

    async def map_for_view_key(self, view_key: str) -> str | None:
        return await self._call(self.db.map_for_view_key, view_key)

    async def map_for_edit_key(self, edit_key: str) -> tuple[str, bool] | None:
        return await self._call(self.db.map_for_edit_key, edit_key)

    async def set_links(self, old: MapMeta, new: MapMeta) -> None:
        await self._call(self.db.set_links, old, new)

    async def share_presence(self, map_id: str, sender: str, text: str, ttl: float) -> None:
        pass  # nobody else to tell

    async def notify(self, map_id: str, text: str) -> None:
        pass

    async def presence_of(self, map_id: str) -> list[str]:
        return []

    async def last_map_of(self, user: str) -> str | None:
        return await self._call(self.db.last_map_of, user)

    async def remember_last_map(self, user: str, map_id: str) -> None:
        await self._call(self.db.remember_last_map, user, map_id)

    async def claim(self, map_id: str, owner: str) -> str | None:
        return await self._call(self.db.claim, map_id, owner)

    async def sign_in(self, user: str, person: str) -> None:
        await self._call(self.db.sign_in, user, person)

    async def sign_out(self, user: str) -> None:
        await self._call(self.db.sign_out, user)

    async def person_of(self, user: str) -> str | None:
        return await self._call(self.db.person_of, user)

    async def identities_of(self, person: str) -> list[str]:
        return await self._call(self.db.identities_of, person)

    async def people(self) -> list[PersonLink]:
        return await self._call(self.db.people)

    async def restore_person(self, link: PersonLink) -> None:
        await self._call(self.db.restore_person, link)

    async def touch(self, entries: Sequence[Touched]) -> None:
        if entries:
            await self._call(self.db.touch, [map_id for map_id, _, _ in entries], self.clock())

    # --- lists, deletion, retention, backup --------------------------------------------------------

    async def maps_of(
        self, *, owner: str | None = None, principal: str | None = None, maker: str | None = None
    ) -> list[MapSummary]:
        return await self._call(self.db.maps_of, owner, principal, maker, LIST_LIMIT)

    async def remember_opened(self, user: str, map_id: str) -> None:
        await self._call(self.db.remember_opened, user, map_id, self.clock())

    async def delete(self, map_id: str) -> MapMeta | None:
        return await self._call(self.db.delete, map_id, self.clock())

    async def gone(self, key: str) -> bool:
        return await self._call(self.db.gone, key)

    async def sweep(self, now: float, *, retention: float | None, unused: float) -> list[str]:
        forgotten: list[str] = []
        while True:  # in steps, so that writes go in between
            ids = await self._call(self.db.sweep, now, retention, unused, SWEEP_LIMIT)
            forgotten += ids
            if len(ids) < SWEEP_LIMIT:
                return forgotten

    async def map_ids(self, cursor: str = "", count: int = 500) -> tuple[list[str], str]:
        return await self._call(self.db.map_ids, cursor, count)

    async def dump(self, map_id: str) -> MapRecord | None:
        return await self._call(self.db.dump, map_id)

    async def restore(self, record: MapRecord, *, replace: bool = False) -> bool:
        return await self._call(self.db.restore, record, replace, self.clock())
