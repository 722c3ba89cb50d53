"""``mapsrv backup FILE`` and ``mapsrv restore FILE``: every map of a store in one gzip file.

The file is JSON lines: a header, one line per map (``MapRecord``: its keys and owners, its state
at its version, the newest events of its log, who opened it through an edit link), one line per
browser that signed in as a person (``PersonLink``; version 2), and a trailer that counts them, so
that a file cut short is known as such::

    {"format": "mapsrv-backup", "version": 2, "created": 1795570000.0, "store": "sqlite"}
    {"map": {...}}
    ...
    {"person": {"user": "...", "person": "oidc:...", "signed_in": true}}
    {"end": true, "maps": 123, "people": 4}

Version 1 files (no people) are read as before.

A backup streams: a page of map ids at a time, one map at a time, written to ``FILE.partial`` and
renamed into place once complete and flushed to disk; it never holds the store still. Against a
live SQLite file it reads through a connection of its own (WAL lets it read beside the server),
each map in one read transaction; against Redis, each map is read as it is at that moment.

A restore reads the whole file first and checks it (gzip, header, every line, the count) before
it writes anything; it refuses a store that already has maps unless ``merge`` is set, and then
leaves maps that are there alone (counted as skipped).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trio

from mapsrv.core.codec import event_from_wire, state_from_json, wire
from mapsrv.store import MapMeta, MapRecord, PersonLink, Store, open_store_from_url
from mapsrv.store.sqlite import StoreOpenError, open_reader, sqlite_path
from mapsrv.store.sqlite.db import Db

__all__ = [
    "FORMAT",
    "READS",
    "VERSION",
    "BackupError",
    "Done",
    "backup",
    "read_backup",
    "read_records",
    "restore",
]

FORMAT = "mapsrv-backup"
VERSION = 2
READS = (1, 2)  # the versions this mapsrv restores
PAGE = 200  # map ids read at a time


class BackupError(Exception):
    """A backup or restore that cannot go on: the message names the file and what was wrong."""


@dataclass(frozen=True)
class Done:
    maps: int
    skipped: int
    bytes: int
    seconds: float


def _to_json(r: MapRecord) -> dict[str, Any]:
    meta = r.meta
    return {
        "id": meta.id,
        "view_key": meta.view_key,
        "edit_key": meta.edit_key,
        "owner": meta.owner,
        "principal": meta.principal,
        "maker": meta.maker,
        "state": r.state.to_json(),
        "log": [wire(e) for e in r.log],
        "created": r.created,
        "updated": r.updated,
        "updated_by": r.updated_by,
        "used": r.used,
        "retired_edit_keys": list(r.retired_edit_keys),
        "opened_by": list(r.opened_by),
    }


def _text(raw: Any, name: str, optional: bool = False) -> Any:
    value = raw.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be text")
    return value


def _from_json(raw: Any) -> MapRecord:
    if not isinstance(raw, dict):
        raise ValueError("a map must be a JSON object")
    meta = MapMeta(
        _text(raw, "id"),
        _text(raw, "view_key"),
        _text(raw, "owner", True),
        _text(raw, "principal", True),
        edit_key=_text(raw, "edit_key", True),
        maker=_text(raw, "maker", True),
    )
    state = state_from_json(raw["state"], meta.id)
    log = tuple(event_from_wire(text) for text in raw["log"])
    if log and log[-1].version != state.version:
        raise ValueError(f"its log ends at version {log[-1].version}, its state is at {state.version}")
    return MapRecord(
        meta,
        state,
        log,
        float(raw["created"]),
        float(raw["updated"]),
        str(raw["updated_by"]),
        float(raw["used"]),
        tuple(str(k) for k in raw["retired_edit_keys"]),
        tuple(str(u) for u in raw["opened_by"]),
    )


# --- backup -----------------------------------------------------------------------------------


class _Source:
    """Where a backup reads maps: a store, or (SQLite) a read-only connection to its file."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.reader: Db | None = None
        self.store: Store | None = None
        if urlsplit(url).scheme == "sqlite":
            path, _ = sqlite_path(url)
            self.reader = open_reader(path)
        else:
            self.store = open_store_from_url(url, ttl=600, log_size=1024)

    async def map_ids(self, cursor: str) -> tuple[list[str], str]:
        if self.reader is not None:
            return await trio.to_thread.run_sync(self.reader.map_ids, cursor, PAGE)
        assert self.store is not None
        return await self.store.map_ids(cursor, PAGE)

    async def dump(self, map_id: str) -> MapRecord | None:
        if self.reader is not None:
            return await trio.to_thread.run_sync(self.reader.dump, map_id)
        assert self.store is not None
        return await self.store.dump(map_id)

    async def people(self) -> list[PersonLink]:
        if self.reader is not None:
            return await trio.to_thread.run_sync(self.reader.people)
        assert self.store is not None
        return await self.store.people()


async def backup(url: str, file: Path) -> Done:
    """Every map of the store at ``url`` into ``file`` (see the module's docstring)."""
    started = time.perf_counter()
    partial = file.with_name(file.name + ".partial")
    try:
        source = _Source(url)
    except StoreOpenError as exc:
        raise BackupError(str(exc)) from None
    try:
        out = gzip.open(partial, "wt", encoding="utf-8", compresslevel=6)
    except OSError as exc:
        raise BackupError(f"cannot write {file}: {exc.strerror or exc}") from None
    count = 0
    try:
        async with trio.open_nursery() as nursery:
            if source.store is not None:
                await nursery.start(source.store.serve)
                await _reachable(source.store, url)
            header = {
                "format": FORMAT,
                "version": VERSION,
                "created": time.time(),
                "store": urlsplit(url).scheme,
            }
            out.write(json.dumps(header) + "\n")
            cursor = ""
            seen: set[str] = set()  # Redis's scan may name a map twice
            while True:
                ids, cursor = await source.map_ids(cursor)
                for map_id in ids:
                    if map_id in seen:
                        continue
                    seen.add(map_id)
                    record = await source.dump(map_id)
                    if record is None:
                        continue  # deleted or forgotten meanwhile
                    line = json.dumps({"map": _to_json(record)}, separators=(",", ":"))
                    await trio.to_thread.run_sync(out.write, line + "\n")
                    count += 1
                if not cursor:
                    break
            people = await source.people()
            for link in people:
                person = {"user": link.user, "person": link.person, "signed_in": link.signed_in}
                out.write(json.dumps({"person": person}, separators=(",", ":")) + "\n")
            out.write(json.dumps({"end": True, "maps": count, "people": len(people)}) + "\n")
            nursery.cancel_scope.cancel()
        out.close()
        await trio.to_thread.run_sync(_fsync_rename, partial, file)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            out.close()  # its last write can fail too (a full disk)
        partial.unlink(missing_ok=True)
        failed = _os_error(exc)
        if failed is not None:
            raise BackupError(f"cannot write {file}: {failed.strerror or failed}") from None
        raise
    finally:
        if source.reader is not None:
            source.reader.close()
    size = (await trio.Path(file).stat()).st_size
    return Done(count, 0, size, time.perf_counter() - started)


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError in ``exc`` (a trio nursery hands it over in a group), if any."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _os_error(inner)
            if found is not None:
                return found
    return None


def _fsync_rename(partial: Path, file: Path) -> None:
    fd = os.open(partial, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, file)


# --- restore ----------------------------------------------------------------------------------


def _lines(file: Path) -> Iterator[tuple[int, str]]:
    try:
        with gzip.open(file, "rt", encoding="utf-8") as lines:
            yield from enumerate(lines, start=1)
    except FileNotFoundError:
        raise BackupError(f"no backup at {file}") from None
    except (gzip.BadGzipFile, zlib.error, EOFError):
        raise BackupError(f"{file} is not a mapsrv backup: not a gzip file, or cut short") from None
    except UnicodeDecodeError:
        raise BackupError(f"{file} is not a mapsrv backup: not text") from None


def read_records(file: Path) -> Iterator[MapRecord]:
    """Every map in a backup, each checked; ``BackupError`` names the first thing wrong."""
    for item in read_backup(file):
        if isinstance(item, MapRecord):
            yield item


def _person(raw: Any) -> PersonLink:
    if not isinstance(raw, dict):
        raise ValueError("not an object")
    user, person, signed_in = raw.get("user"), raw.get("person"), raw.get("signed_in")
    if not isinstance(user, str) or not isinstance(person, str) or not isinstance(signed_in, bool):
        raise ValueError("user, person and signed_in are text, text and true or false")
    return PersonLink(user, person, signed_in)


def read_backup(file: Path) -> Iterator[MapRecord | PersonLink]:
    """Every map and every sign-in link in a backup, each checked; ``BackupError`` names the
    first thing wrong."""
    total: dict[str, Any] | None = None
    maps = people = 0
    for number, line in _lines(file):
        try:
            raw = json.loads(line)
        except ValueError:
            raise BackupError(f"{file} is not a mapsrv backup: line {number} is not JSON") from None
        if number == 1:
            if not isinstance(raw, dict) or raw.get("format") != FORMAT:
                raise BackupError(f"{file} is not a mapsrv backup (its first line says no format {FORMAT!r})")
            if raw.get("version") not in READS:
                raise BackupError(
                    f"{file} is a backup of version {raw.get('version')!r};"
                    f" this mapsrv reads versions {', '.join(map(str, READS))}"
                )
            continue
        if total is not None:
            raise BackupError(f"{file}: line {number} follows the end of the backup")
        if isinstance(raw, dict) and raw.get("end") is True:
            total = raw
            continue
        if isinstance(raw, dict) and "person" in raw:
            try:
                link = _person(raw["person"])
            except ValueError as exc:
                raise BackupError(f"{file}: line {number} is not a valid sign-in ({exc})") from None
            people += 1
            yield link
            continue
        try:
            if not isinstance(raw, dict) or "map" not in raw:
                raise ValueError("not a map")
            record = _from_json(raw["map"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupError(f"{file}: line {number} is not a valid map ({exc})") from None
        maps += 1
        yield record
    if total is None:
        raise BackupError(f"{file} is cut short: it has no end line (a backup that did not finish?)")
    if total.get("maps") != maps:
        raise BackupError(f"{file} says it holds {total.get('maps')} maps but holds {maps}")
    if total.get("people", 0) != people:
        raise BackupError(f"{file} says it holds {total.get('people')} sign-ins but holds {people}")


async def restore(url: str, file: Path, *, merge: bool = False) -> Done:
    """Load a backup into the store at ``url``: checked whole first, then written map by map."""
    started = time.perf_counter()
    if urlsplit(url).scheme == "memory":
        raise BackupError("memory:// keeps nothing after the process: restore into sqlite:// or redis://")
    checked = await trio.to_thread.run_sync(lambda: sum(1 for _ in read_records(file)))  # whole file
    try:
        store = open_store_from_url(url, ttl=600, log_size=1024)
    except StoreOpenError as exc:
        raise BackupError(str(exc)) from None
    written = skipped = 0
    async with trio.open_nursery() as nursery:
        await nursery.start(store.serve)
        await _reachable(store, url)
        ids, _ = await store.map_ids("", 1)
        if ids and not merge:
            raise BackupError(
                f"the store at {_safe(url)} has maps already: restore into an empty store, or add --merge"
                " to add the backup's maps beside them (maps it has already are left alone)"
            )
        records = read_backup(file)
        while True:
            record = await trio.to_thread.run_sync(next, records, None)
            if record is None:
                break
            if isinstance(record, PersonLink):
                await store.restore_person(record)
                continue
            try:
                if await store.restore(record):
                    written += 1
                else:
                    skipped += 1
            except ValueError as exc:  # its view key is another map's
                raise BackupError(f"{file}: {exc}") from None
        nursery.cancel_scope.cancel()
    assert written + skipped == checked
    size = (await trio.Path(file).stat()).st_size
    return Done(written, skipped, size, time.perf_counter() - started)


REACH_TIMEOUT = 10.0  # seconds a store may take to connect


async def _reachable(store: Store, url: str) -> None:
    with trio.move_on_after(REACH_TIMEOUT):
        while not store.available:  # noqa: ASYNC110 (the store's own state; no event to wait on)
            await trio.sleep(0.05)
        return
    raise BackupError(f"the store at {_safe(url)} cannot be reached")


def _safe(url: str) -> str:
    """A store URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
