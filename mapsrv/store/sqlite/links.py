"""The SQL of a map's links and owners and of the people who sign in (``Db``'s first half): its
view and edit keys, its claim, a browser user's last map and the maps they opened, who signed in
as whom. The connection and its transactions are ``Connection``'s."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from mapsrv.store.contract import MapMeta, PersonLink

__all__ = ["Connection", "DbLinks"]


class Connection:
    """One SQLite connection and its write transactions (``BEGIN IMMEDIATE`` ... ``COMMIT``)."""

    def __init__(
        self, conn: sqlite3.Connection, *, log_size: int, snapshot_every: int, batch_memory: int
    ) -> None:
        self.conn = conn
        self.log_size = log_size
        self.snapshot_every = snapshot_every
        self.batch_memory = batch_memory

    def close(self) -> None:
        self.conn.close()

    def _begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")  # the write lock up front: no upgrade deadlock

    def transaction(self) -> _Transaction:
        return _Transaction(self)


class DbLinks(Connection):
    """A map's keys and owner, browser users' maps, people: one short transaction each."""

    def map_for_view_key(self, view_key: str) -> str | None:
        row = self.conn.execute("SELECT id FROM maps WHERE view_key = ?", (view_key,)).fetchone()
        return row[0] if row else None

    def map_for_edit_key(self, edit_key: str) -> tuple[str, bool] | None:
        row = self.conn.execute("SELECT map_id, live FROM edit_keys WHERE key = ?", (edit_key,)).fetchone()
        return (row[0], bool(row[1])) if row else None

    def set_links(self, old: MapMeta, new: MapMeta) -> None:
        with self.transaction():
            if old.edit_key and old.edit_key != new.edit_key:
                self.conn.execute("UPDATE edit_keys SET live = 0 WHERE key = ?", (old.edit_key,))
                # who opened the old link loses it, and the map leaves their list
                self.conn.execute("DELETE FROM opened WHERE map_id = ?", (new.id,))
            if new.edit_key:
                self.conn.execute("INSERT OR REPLACE INTO edit_keys VALUES (?, ?, 1)", (new.edit_key, new.id))
            self.conn.execute(
                "UPDATE maps SET view_key = ?, edit_key = ? WHERE id = ?",
                (new.view_key, new.edit_key, new.id),
            )

    def claim(self, map_id: str, owner: str) -> str | None:
        with self.transaction():
            self.conn.execute("UPDATE maps SET owner = ? WHERE id = ? AND owner IS NULL", (owner, map_id))
            row = self.conn.execute("SELECT owner FROM maps WHERE id = ?", (map_id,)).fetchone()
            return row[0] if row else None

    def last_map_of(self, user: str) -> str | None:
        row = self.conn.execute("SELECT last_map FROM users WHERE user = ?", (user,)).fetchone()
        return row[0] if row else None

    def remember_last_map(self, user: str, map_id: str) -> None:
        with self.transaction():
            self.conn.execute("INSERT OR REPLACE INTO users VALUES (?, ?)", (user, map_id))

    def sign_in(self, user: str, person: str) -> None:
        with self.transaction():
            self.conn.execute("INSERT OR REPLACE INTO people VALUES (?, ?, 1)", (user, person))

    def sign_out(self, user: str) -> None:
        with self.transaction():
            self.conn.execute("UPDATE people SET signed_in = 0 WHERE user = ?", (user,))

    def person_of(self, user: str) -> str | None:
        row = self.conn.execute("SELECT person FROM people WHERE user = ? AND signed_in", (user,)).fetchone()
        return row[0] if row else None

    def identities_of(self, person: str) -> list[str]:
        rows = self.conn.execute("SELECT user FROM people WHERE person = ? ORDER BY user", (person,))
        return [user for (user,) in rows]

    def people(self) -> list[PersonLink]:
        rows = self.conn.execute("SELECT user, person, signed_in FROM people ORDER BY user")
        return [PersonLink(user, person, bool(signed_in)) for user, person, signed_in in rows]

    def restore_person(self, link: PersonLink) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO people VALUES (?, ?, ?)",
                (link.user, link.person, int(link.signed_in)),
            )

    def remember_opened(self, user: str, map_id: str, now: float) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO opened SELECT ?, id, ? FROM maps WHERE id = ?", (user, now, map_id)
            )

    def touch(self, map_ids: Iterable[str], now: float) -> None:
        with self.transaction():
            self.conn.executemany("UPDATE maps SET used = ? WHERE id = ?", [(now, i) for i in map_ids])


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any error."""

    def __init__(self, db: Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db._begin()

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            try:
                self.db.conn.execute("COMMIT")
            except BaseException:
                if self.db.conn.in_transaction:
                    self.db.conn.execute("ROLLBACK")
                raise
        elif self.db.conn.in_transaction:
            self.db.conn.execute("ROLLBACK")
