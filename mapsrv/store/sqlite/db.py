"""The SQL of ``SqliteStore``: the schema and one blocking function per step, each run in the
store's worker thread (``mapsrv.store.sqlite``) on its one connection, each step one transaction.

    maps       id, view_key (unique), edit_key, owner, principal, maker, version, the snapshot
               (``state``: JSON at ``snap_version``), title, features (count), created, updated,
               updated_by, used (last opened or changed: retention counts from here)
    events     (map_id, version) -> the event's JSON: the log, trimmed to about ``log_size`` but
               always reaching back to the snapshot, so snapshot + log rebuild the map
    batches    (map_id, batch_id) -> the version the batch ended at: a batch is never committed
               twice, whatever became of a reply
    edit_keys  key -> map id and whether it still opens the map (a turned-off key answers so)
    opened     (user, map_id): maps a browser user opened through an edit link (their list)
    people     (user, person, signed_in): the person (oidc:<sub>) a browser user signed in as
    users      browser user -> the map "/" opens for them
    gone       the ids and keys of deleted maps (they answer 410 Gone)

Times are unix seconds from the store's clock. ``PRAGMA user_version`` is the schema's version.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mapsrv.core import Event, MapState, apply_events
from mapsrv.core.codec import dumps, event_from_wire, state_from_json, wire
from mapsrv.core.ids import map_ref
from mapsrv.store.contract import MapMeta, MapRecord, MapSummary
from mapsrv.store.sqlite.links import DbLinks

__all__ = ["SCHEMA_VERSION", "CommitRow", "Db"]

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS maps (
    id TEXT PRIMARY KEY,
    view_key TEXT NOT NULL UNIQUE,
    edit_key TEXT,
    owner TEXT,
    principal TEXT,
    maker TEXT,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    snap_version INTEGER NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    features INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    updated_by TEXT NOT NULL DEFAULT '',
    used REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS maps_owner ON maps (owner) WHERE owner IS NOT NULL;
CREATE INDEX IF NOT EXISTS maps_principal ON maps (principal) WHERE principal IS NOT NULL;
CREATE INDEX IF NOT EXISTS maps_maker ON maps (maker) WHERE maker IS NOT NULL;
CREATE INDEX IF NOT EXISTS maps_used ON maps (used);
CREATE TABLE IF NOT EXISTS events (
    map_id TEXT NOT NULL, version INTEGER NOT NULL, event TEXT NOT NULL,
    PRIMARY KEY (map_id, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    map_id TEXT NOT NULL, batch_id TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (map_id, batch_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS edit_keys (
    key TEXT PRIMARY KEY, map_id TEXT NOT NULL, live INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edit_keys_map ON edit_keys (map_id);
CREATE TABLE IF NOT EXISTS opened (
    user TEXT NOT NULL, map_id TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (user, map_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS opened_map ON opened (map_id);
CREATE TABLE IF NOT EXISTS users (user TEXT PRIMARY KEY, last_map TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gone (key TEXT PRIMARY KEY, at REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS people (
    user TEXT PRIMARY KEY, person TEXT NOT NULL, signed_in INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS people_person ON people (person);
"""

_SUMMARY = (
    "id, view_key, edit_key, owner, principal, maker, title, version, features, created, updated, updated_by"
)


@dataclass(frozen=True)
class CommitRow:
    """What one commit writes, prepared on the loop's side (the events' JSON is cached on them)."""

    map_id: str
    expected: int
    events: tuple[tuple[int, str], ...]  # (version, event JSON)
    state: MapState  # the map after the batch (its snapshot is encoded in the thread)
    snapshot: bool
    batch_id: str
    updated_by: str


def _meta(row: Sequence[Any]) -> MapMeta:
    return MapMeta(row[0], row[1], row[3], row[4], edit_key=row[2], maker=row[5])


def _summary(row: Sequence[Any]) -> MapSummary:
    return MapSummary(_meta(row), row[6], row[7], row[8], row[9], row[10], row[11])


class Db(DbLinks):
    """One connection and the steps on it (the links and people's are ``DbLinks``'). Not
    thread-safe: the store calls it from one thread at a time (its limiter)."""

    # --- maps -----------------------------------------------------------------------------------

    def create(self, meta: MapMeta, state: MapState, now: float) -> bool:
        with self.transaction():
            if self.conn.execute("SELECT 1 FROM maps WHERE id = ?", (meta.id,)).fetchone():
                return False
            self._insert(meta, state, now, now, "", now)
            self.conn.execute("DELETE FROM events WHERE map_id = ?", (meta.id,))
            self.conn.execute("DELETE FROM batches WHERE map_id = ?", (meta.id,))
            return True

    def _insert(
        self, meta: MapMeta, state: MapState, created: float, updated: float, by: str, used: float
    ) -> None:
        self.conn.execute(
            "INSERT INTO maps (id, view_key, edit_key, owner, principal, maker, version, state, snap_version,"
            " title, features, created, updated, updated_by, used) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                meta.id,
                meta.view_key,
                meta.edit_key,
                meta.owner,
                meta.principal,
                meta.maker,
                state.version,
                dumps(state.to_json()),
                state.version,
                state.title,
                len(state.features),
                created,
                updated,
                by,
                used,
            ),
        )
        if meta.edit_key:
            self.conn.execute("INSERT OR REPLACE INTO edit_keys VALUES (?, ?, 1)", (meta.edit_key, meta.id))

    def load(self, map_id: str) -> tuple[MapMeta, MapState, list[Event]] | None:
        """The map's keys, its state now and the events its log holds (ending at its version)."""
        row = self.conn.execute(
            "SELECT id, view_key, edit_key, owner, principal, maker, state, snap_version, version"
            " FROM maps WHERE id = ?",
            (map_id,),
        ).fetchone()
        if row is None:
            return None
        state = state_from_json(json.loads(row[6]), map_id)
        events = [
            event_from_wire(text)
            for (text,) in self.conn.execute(
                "SELECT event FROM events WHERE map_id = ? ORDER BY version", (map_id,)
            )
        ]
        after = [e for e in events if e.version > state.version]
        if len(after) != row[8] - state.version or (after and after[0].version != state.version + 1):
            raise sqlite3.DatabaseError(f"map {map_ref(map_id)}: its log does not reach back to its snapshot")
        state = apply_events(state, after)
        return _meta(row), state, events

    def commit(self, c: CommitRow, now: float) -> tuple[int, int]:
        """(1, version) committed; (2, version) the batch landed before; (0, current) a conflict;
        (-1, -1) no such map."""
        with self.transaction():
            if c.batch_id:
                landed = self.conn.execute(
                    "SELECT version FROM batches WHERE map_id = ? AND batch_id = ?", (c.map_id, c.batch_id)
                ).fetchone()
                if landed:
                    return 2, landed[0]
            row = self.conn.execute(
                "SELECT version, snap_version FROM maps WHERE id = ?", (c.map_id,)
            ).fetchone()
            if row is None:
                return -1, -1
            if row[0] != c.expected:
                return 0, row[0]
            last = c.events[-1][0]
            self.conn.executemany(
                "INSERT OR REPLACE INTO events VALUES (?, ?, ?)",
                [(c.map_id, v, text) for v, text in c.events],
            )
            crosses = c.expected // self.snapshot_every != last // self.snapshot_every
            state = c.state
            if c.snapshot or crosses:
                snap_version = last
                self.conn.execute(
                    "UPDATE maps SET state = ?, snap_version = ? WHERE id = ?",
                    (dumps(state.to_json()), last, c.map_id),
                )
            else:
                snap_version = row[1]
            self.conn.execute(
                "UPDATE maps SET version = ?, title = ?, features = ?, updated = ?, updated_by = ?, used = ?"
                " WHERE id = ?",
                (last, state.title, len(state.features), now, c.updated_by, now, c.map_id),
            )
            # The log keeps about log_size events, and always those after the snapshot.
            keep_from = min(last - self.log_size, snap_version)
            if keep_from > 0 and last % 16 == 0:
                self.conn.execute(
                    "DELETE FROM events WHERE map_id = ? AND version <= ?", (c.map_id, keep_from)
                )
            if c.batch_id:
                self.conn.execute(
                    "INSERT OR REPLACE INTO batches VALUES (?, ?, ?)", (c.map_id, c.batch_id, last)
                )
                if last % 64 == 0:
                    self.conn.execute(
                        "DELETE FROM batches WHERE map_id = ? AND version <= ?",
                        (c.map_id, last - self.batch_memory),
                    )
            return 1, last

    def events_after(self, map_id: str, version: int) -> list[Event] | None:
        row = self.conn.execute("SELECT version FROM maps WHERE id = ?", (map_id,)).fetchone()
        if row is None or row[0] < version:
            return None
        events = [
            event_from_wire(text)
            for (text,) in self.conn.execute(
                "SELECT event FROM events WHERE map_id = ? AND version > ? ORDER BY version",
                (map_id, version),
            )
        ]
        if len(events) != row[0] - version or (events and events[0].version != version + 1):
            return None
        return events

    # --- lists, deletion, retention ---------------------------------------------------------------

    def maps_of(
        self, owner: str | None, principal: str | None, maker: str | None, limit: int
    ) -> list[MapSummary]:
        order = " ORDER BY updated DESC LIMIT ?"
        if owner is not None:
            sql = (
                f"SELECT {_SUMMARY} FROM maps WHERE owner = ? UNION "
                f"SELECT {_SUMMARY} FROM maps WHERE id IN (SELECT map_id FROM opened WHERE user = ?)"
            )
            rows = self.conn.execute(sql + order, (owner, owner, limit))
        elif principal is not None:
            rows = self.conn.execute(
                f"SELECT {_SUMMARY} FROM maps WHERE principal = ?" + order, (principal, limit)
            )
        elif maker is not None:
            rows = self.conn.execute(f"SELECT {_SUMMARY} FROM maps WHERE maker = ?" + order, (maker, limit))
        else:
            rows = self.conn.execute(f"SELECT {_SUMMARY} FROM maps" + order, (limit,))
        return [_summary(row) for row in rows]

    def delete(self, map_id: str, now: float, *, tombstone: bool = True) -> MapMeta | None:
        with self.transaction():
            return self._delete(map_id, now, tombstone)

    def _delete(self, map_id: str, now: float, tombstone: bool) -> MapMeta | None:
        row = self.conn.execute(
            "SELECT id, view_key, edit_key, owner, principal, maker FROM maps WHERE id = ?", (map_id,)
        ).fetchone()
        if row is None:
            return None
        keys = [k for (k,) in self.conn.execute("SELECT key FROM edit_keys WHERE map_id = ?", (map_id,))]
        if tombstone:
            self.conn.executemany(
                "INSERT OR REPLACE INTO gone VALUES (?, ?)", [(k, now) for k in (map_id, row[1], *keys)]
            )
        for table, column in (
            ("maps", "id"),
            ("events", "map_id"),
            ("batches", "map_id"),
            ("edit_keys", "map_id"),
            ("opened", "map_id"),
            ("users", "last_map"),
        ):
            self.conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (map_id,))
        return _meta(row)

    def gone(self, key: str) -> bool:
        return self.conn.execute("SELECT 1 FROM gone WHERE key = ?", (key,)).fetchone() is not None

    def sweep(self, now: float, retention: float | None, unused: float, limit: int) -> list[str]:
        """Forget (no tombstone) maps past their time, at most ``limit`` in one transaction."""
        sql = "SELECT id FROM maps WHERE (version = 0 AND used <= ?)"
        args: list[Any] = [now - unused]
        if retention is not None:
            sql += " OR used <= ?"
            args.append(now - retention)
        ids = [i for (i,) in self.conn.execute(sql + " LIMIT ?", (*args, limit))]
        if ids:
            with self.transaction():
                for map_id in ids:
                    self._delete(map_id, now, tombstone=False)
        return ids

    # --- backup ---------------------------------------------------------------------------------

    def map_ids(self, cursor: str, count: int) -> tuple[list[str], str]:
        ids = [
            i
            for (i,) in self.conn.execute(
                "SELECT id FROM maps WHERE id > ? ORDER BY id LIMIT ?", (cursor, count)
            )
        ]
        return ids, (ids[-1] if len(ids) == count else "")

    def dump(self, map_id: str) -> MapRecord | None:
        self.conn.execute("BEGIN")  # one read snapshot for the map's rows
        try:
            loaded = self.load(map_id)
            if loaded is None:
                return None
            meta, state, events = loaded
            created, updated, by, used = self.conn.execute(
                "SELECT created, updated, updated_by, used FROM maps WHERE id = ?", (map_id,)
            ).fetchone()
            retired = tuple(
                k
                for (k,) in self.conn.execute(
                    "SELECT key FROM edit_keys WHERE map_id = ? AND live = 0", (map_id,)
                )
            )
            opened = tuple(
                u for (u,) in self.conn.execute("SELECT user FROM opened WHERE map_id = ?", (map_id,))
            )
        finally:
            self.conn.execute("COMMIT")
        log = tuple(events) if events and events[-1].version == state.version else ()
        return MapRecord(meta, state, log, created, updated, by, used, retired, opened)

    def restore(self, r: MapRecord, replace: bool, now: float) -> bool:
        with self.transaction():
            if self.conn.execute("SELECT 1 FROM maps WHERE id = ?", (r.meta.id,)).fetchone():
                if not replace:
                    return False
                self._delete(r.meta.id, now, tombstone=False)
            clash = self.conn.execute("SELECT id FROM maps WHERE view_key = ?", (r.meta.view_key,)).fetchone()
            if clash:
                raise ValueError(f"map {map_ref(r.meta.id)}: its view key is another map's")
            self._insert(r.meta, r.state, r.created, r.updated, r.updated_by, r.used)
            self.conn.executemany(
                "INSERT OR REPLACE INTO events VALUES (?, ?, ?)",
                [(r.meta.id, e.version, wire(e)) for e in r.log],
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO edit_keys VALUES (?, ?, 0)",
                [(k, r.meta.id) for k in r.retired_edit_keys],
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO opened VALUES (?, ?, ?)",
                [(u, r.meta.id, r.used) for u in r.opened_by],
            )
            self.conn.execute("DELETE FROM gone WHERE key IN (?, ?)", (r.meta.id, r.meta.view_key))
            return True

    def health(self) -> None:
        """A write that touches the file: fails while the disk is full or read-only."""
        with self.transaction():
            self.conn.execute("CREATE TABLE IF NOT EXISTS health (at REAL)")
            self.conn.execute("DELETE FROM health")
            self.conn.execute("INSERT INTO health VALUES (0)")


# END
