"""``mapsrv backup`` and ``mapsrv restore`` as a person runs them (the command, in a process of its
own): a live ``mapsrv serve`` on SQLite backed up while a page writes to it, restored into a real
redis-server, every map's state, history, links and owners compared; files that are not backups
(garbage, another program's JSON, one cut short) refused by name with the target untouched; a
store with maps refused without --merge; a backup onto a full disk leaves no file behind."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from support import Browser, open_redis, require, wait_until
from support.processes import open_server

from mapsrv.core import apply_events
from mapsrv.store import MapRecord, Store
from mapsrv.store.redis import RedisStore
from mapsrv.store.sqlite import SqliteStore

UNLIMITED = ("--rate-writes", "0", "--rate-writes-person", "0", "--rate-maps", "0")


def mapsrv(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mapsrv", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


async def run(*args: str) -> subprocess.CompletedProcess[str]:
    return await trio.to_thread.run_sync(lambda: mapsrv(*args))


async def records(store: Store) -> dict[str, MapRecord]:
    out: dict[str, MapRecord] = {}
    cursor = ""
    while True:
        ids, cursor = await store.map_ids(cursor, 100)
        for map_id in ids:
            record = await store.dump(map_id)
            assert record is not None
            out[map_id] = record
        if not cursor:
            return out


async def test_a_live_server_under_writes_is_backed_up_and_restored_into_redis(tmp_path: Path) -> None:
    source = f"sqlite://{tmp_path}/maps.db"
    file = tmp_path / "maps.backup.gz"
    async with open_server("--store", source, *UNLIMITED) as server:
        ana, bob = Browser(server.url), Browser(server.url)
        still = []
        for n in range(5):  # maps nobody writes to while the backup runs
            map_id = (
                await ana.new_map() if n == 0 else (await ana.client.post("/new")).headers["location"][3:]
            )
            ops = [
                {"op": "add_feature", "type": "marker", "coords": [n, i], "label": f"{n}.{i}"}
                for i in range(3)
            ]
            assert (await ana.ops(map_id, *ops, {"op": "set_title", "title": f"Map {n}"})).status_code == 200
            still.append(map_id)
        edit_url = (await ana.client.get(f"/m/{still[0]}/state")).json()["edit_url"]
        assert (await bob.client.get(edit_url.replace(server.url.rstrip("/"), ""))).status_code == 200
        busy = still.pop()
        written = 0
        stop = trio.Event()

        async def keep_writing() -> None:
            nonlocal written
            while not stop.is_set():
                op = {
                    "op": "add_feature",
                    "type": "marker",
                    "coords": [written % 80, 1],
                    "label": f"w{written}",
                }
                assert (await ana.ops(busy, op)).status_code == 200
                written += 1

        async with trio.open_nursery() as writers:  # ends once the writer has finished its last write
            writers.start_soon(keep_writing)
            await wait_until(lambda: written >= 20)
            done = await run("backup", str(file), "--store", source)
            stop.set()
        assert done.returncode == 0, done.stderr
        assert "backed up 5 maps" in done.stderr and written > 20
        for browser in (ana, bob):
            await browser.aclose()

    # The source as it is now (the server stopped), and the backup restored into Redis.
    async with open_redis() as redis_url:
        done = await run("restore", str(file), "--store", redis_url)
        assert done.returncode == 0, done.stderr
        assert "restored 5 maps" in done.stderr
        async with trio.open_nursery() as inner:
            sqlite = SqliteStore(source, log_size=1024)
            await inner.start(sqlite.serve)
            redis = RedisStore(redis_url, ttl=600, log_size=1024)
            await inner.start(redis.serve)
            await wait_until(lambda: redis.available)
            before, after = await records(sqlite), await records(redis)
            assert set(before) == set(after) == {*still, busy}
            for map_id in still:
                assert after[map_id].state == before[map_id].state, map_id
                assert after[map_id].log == before[map_id].log and after[map_id].meta == before[map_id].meta
                assert after[map_id].opened_by == before[map_id].opened_by
            assert after[still[0]].opened_by, "who opened it through its edit link"
            # The busy map as the backup saw it: the source's later events bring it to today's.
            restored, today = after[busy], before[busy]
            assert 20 <= restored.state.version < today.state.version
            later = await sqlite.events_after(busy, restored.state.version)
            assert later is not None and apply_events(restored.state, later) == today.state
            kept = {e.version: e for e in today.log}
            assert all(kept[e.version] == e for e in restored.log if e.version in kept), "the same history"
            # Redis serves the restored maps by their links, and lists them for their owner.
            assert await redis.map_for_view_key(restored.meta.view_key) == busy
            owner = restored.meta.owner
            assert owner is not None and len(await redis.maps_of(owner=owner)) == 5
            inner.cancel_scope.cancel()


@pytest.fixture
def backup_file(tmp_path: Path) -> Iterator[Path]:
    """A real backup of two maps, made by the command."""
    source = tmp_path / "source.db"

    async def fill() -> None:
        from mapsrv.core import Limits, MapState, apply_all
        from mapsrv.core.parse import parse_op
        from mapsrv.store import MapMeta

        store = SqliteStore(f"sqlite://{source}", log_size=64)
        async with trio.open_nursery() as nursery:
            await nursery.start(store.serve)
            marker = parse_op({"op": "add_feature", "type": "marker", "coords": [1, 2]}, Limits())
            for n in range(2):
                state = MapState(id=f"map{n}".ljust(22, "x"), title=f"map {n}")
                await store.create(MapMeta(state.id, f"view{n}".ljust(22, "x"), "alice", None), state)
                new, events = apply_all(state, [marker])
                await store.commit(state.id, 0, events, new, snapshot=False, batch_id="")
            # alice signed in as Ana; so did a phone, which signed out since
            await store.sign_in("alice", "oidc:ana")
            await store.sign_in("phone", "oidc:ana")
            await store.sign_out("phone")
            nursery.cancel_scope.cancel()

    trio.run(fill)
    file = tmp_path / "good.gz"
    done = mapsrv("backup", str(file), "--store", f"sqlite://{source}")
    assert done.returncode == 0, done.stderr
    yield file


async def test_sign_ins_travel_with_a_backup_into_redis(backup_file: Path) -> None:
    """A person's browsers stay theirs across a move from SQLite to Redis (issue 36); a version 1
    backup, which has no sign-ins, still restores."""
    good = lines_of(backup_file)
    assert json.loads(good[0])["version"] == 2 and json.loads(good[-1]) == {
        "end": True,
        "maps": 2,
        "people": 2,
    }
    old = backup_file.with_name("v1.gz")
    with gzip.open(old, "wt") as f:
        header = {**json.loads(good[0]), "version": 1}
        maps = [line for line in good[1:-1] if line.startswith('{"map"')]
        f.writelines([json.dumps(header) + "\n", *maps, json.dumps({"end": True, "maps": 2}) + "\n"])
    async with open_redis() as url, open_redis() as other:
        assert (await run("restore", str(backup_file), "--store", url)).returncode == 0
        assert (await run("restore", str(old), "--store", other)).returncode == 0
        for target, people in ((url, 2), (other, 0)):
            redis = RedisStore(target, ttl=600, log_size=1024)
            async with trio.open_nursery() as nursery:
                await nursery.start(redis.serve)
                await wait_until(lambda redis=redis: redis.available)
                links = await redis.people()
                assert len(links) == people
                if people:
                    assert (
                        await redis.person_of("alice") == "oidc:ana"
                        and await redis.person_of("phone") is None
                    )
                    assert await redis.identities_of("oidc:ana") == ["alice", "phone"]
                assert len(await redis.maps_of(owner="alice")) == 2
                nursery.cancel_scope.cancel()


def lines_of(file: Path) -> list[str]:
    with gzip.open(file, "rt") as f:
        return f.readlines()


def test_files_that_are_not_whole_backups_are_refused_and_the_store_is_untouched(
    backup_file: Path, tmp_path: Path
) -> None:
    target = f"sqlite://{tmp_path}/target.db"
    garbage = tmp_path / "garbage.gz"
    garbage.write_bytes(b"PK\x03\x04 this is a zip, not a backup")
    foreign = tmp_path / "foreign.gz"
    with gzip.open(foreign, "wt") as f:
        f.write(json.dumps({"type": "FeatureCollection", "features": []}) + "\n")
    cut = tmp_path / "cut.gz"
    with gzip.open(cut, "wt") as f:
        f.writelines(lines_of(backup_file)[:-1])  # no end line
    broken = tmp_path / "broken.gz"
    good = lines_of(backup_file)
    with gzip.open(broken, "wt") as f:
        f.writelines([good[0], good[1], '{"map": {"id": "x", "state": 5}}\n', *good[2:]])
    newer = tmp_path / "newer.gz"
    with gzip.open(newer, "wt") as f:
        f.writelines([json.dumps({"format": "mapsrv-backup", "version": 99}) + "\n", *good[1:]])
    truncated = tmp_path / "truncated.gz"
    truncated.write_bytes(backup_file.read_bytes()[:-12])

    for file, says in (
        (garbage, "not a gzip file"),
        (foreign, "is not a mapsrv backup"),
        (cut, "is cut short"),
        (broken, "line 3 is not a valid map"),
        (newer, "backup of version 99"),
        (truncated, "not a gzip file, or cut short"),
        (tmp_path / "nowhere.gz", "no backup at"),
    ):
        done = mapsrv("restore", str(file), "--store", target)
        assert done.returncode == 1 and says in done.stderr and "Traceback" not in done.stderr, (
            file,
            done.stderr,
        )
        assert not (tmp_path / "target.db").exists() or _count(target) == 0, "nothing written"

    assert mapsrv("restore", str(backup_file), "--store", target).returncode == 0
    assert _count(target) == 2
    again = mapsrv("restore", str(backup_file), "--store", target)
    assert again.returncode == 1 and "has maps already" in again.stderr and "--merge" in again.stderr
    merged = mapsrv("restore", str(backup_file), "--store", target, "--merge")
    assert merged.returncode == 0 and "2 were there already" in merged.stderr
    assert _count(target) == 2


def _count(url: str) -> int:
    async def count() -> int:
        store = SqliteStore(url, log_size=64)
        async with trio.open_nursery() as nursery:
            await nursery.start(store.serve)
            found = len(await records(store))
            nursery.cancel_scope.cancel()
        return found

    return trio.run(count)


def test_a_backup_onto_a_full_or_read_only_disk_fails_by_name_and_leaves_no_file(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(disk)], check=False)
    require(mounted.returncode == 0, "mounting a tmpfs (root in the test machine)")
    try:
        source = f"sqlite://{_padded(tmp_path)}"  # its backup does not fit in 8 KiB
        done = mapsrv("backup", str(disk / "b.gz"), "--store", source)
        assert done.returncode == 1 and "cannot write" in done.stderr and "No space left" in done.stderr, (
            done.stderr
        )
        assert list(disk.iterdir()) == [], "no backup and no .partial left behind"
        readonly = tmp_path / "ro"
        readonly.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=8k", "tmpfs", str(readonly)], check=True)
        try:
            done = mapsrv("backup", str(readonly / "b.gz"), "--store", source)
            assert done.returncode == 1 and "cannot write" in done.stderr and "Read-only" in done.stderr, (
                done.stderr
            )
        finally:
            subprocess.run(["umount", "-l", str(readonly)], check=False)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _padded(tmp_path: Path) -> str:
    """A store whose backup is bigger than 8 KiB: maps with long, incompressible titles."""
    import secrets

    path = tmp_path / "padded.db"

    async def fill() -> None:
        from mapsrv.core import MapState
        from mapsrv.store import MapMeta

        store = SqliteStore(f"sqlite://{path}", log_size=64)
        async with trio.open_nursery() as nursery:
            await nursery.start(store.serve)
            for n in range(200):
                state = MapState(id=f"pad{n}".ljust(22, "x"), title=secrets.token_hex(90))
                await store.create(MapMeta(state.id, f"pv{n}".ljust(22, "x"), "alice", None), state)
            nursery.cancel_scope.cancel()

    trio.run(fill)
    return str(path)
