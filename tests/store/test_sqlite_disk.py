"""The disk under the SQLite store misbehaving, for real: a full disk (a small tmpfs mounted here)
holds the writes to open maps in memory, acknowledged as provisional, with /ready at 503, and
writes them once there is room (the tmpfs grown); nothing acknowledged is lost. A file that is not
a database, a read-only data directory and a second process on the same file stop mapsrv with a
message naming the file."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from support import Browser, require, start_server, wait_until

from mapsrv.store.sqlite import SqliteStore, StoreOpenError


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs of the test's own, unmounted at the end."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(where)], check=False)
    require(mounted.returncode == 0, "mounting a tmpfs (root in the test machine)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def grow(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=16m", str(where)], check=True)


async def test_a_full_disk_holds_writes_and_writes_them_once_there_is_room(
    small_disk: Path, nursery: trio.Nursery
) -> None:
    store = f"sqlite://{small_disk}/maps.db"
    server = await start_server(nursery, store=store, rate_writes=0, rate_writes_person=0)
    person = Browser(server.url)
    map_id = await person.new_map()
    acked: dict[str, int] = {}
    provisional = 0
    popup = "x" * 1500  # each write fills the disk a little more
    for i in range(2000):
        label = f"m{i}"
        op = {
            "op": "add_feature",
            "type": "marker",
            "coords": [i % 80, i % 170],
            "label": label,
            "popup": popup,
        }
        response = await person.ops(map_id, op)
        assert response.status_code == 200, response.text
        acked[label] = response.json()["version"]
        if response.json().get("provisional"):
            provisional += 1
            if provisional == 20:
                break
    assert provisional == 20, "the disk never filled"
    ready = await person.client.get("/ready")
    assert ready.status_code == 503
    stats = server.hub.store.statistics()
    assert not stats.available and stats.errors >= 1

    await trio.to_thread.run_sync(grow, small_disk)
    await wait_until(
        lambda: server.hub.store.available and server.hub.statistics().pending_writes == 0, timeout=20
    )
    assert (await person.client.get("/ready")).status_code == 200
    await person.client.aclose()
    server.shutdown()

    stores: list[SqliteStore] = []

    def reopened_it() -> bool:  # the server lets the file go once it has stopped
        try:
            stores.append(SqliteStore(store, log_size=64))
        except StoreOpenError:
            return False
        return True

    await wait_until(reopened_it, timeout=20)
    reopened = stores[0]
    async with trio.open_nursery() as inner:
        await inner.start(reopened.serve)
        loaded = await reopened.load(map_id)
        assert loaded is not None
        labels = {f.label for f in loaded.state.features.values()}
        assert set(acked) <= labels, f"lost: {sorted(set(acked) - labels)[:5]}"
        inner.cancel_scope.cancel()


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mapsrv", "serve", "--port", "0", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


async def test_a_file_that_is_not_a_store_is_refused_by_name(tmp_path: Path) -> None:
    junk = tmp_path / "maps.db"
    junk.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    done = await trio.to_thread.run_sync(run_serve, "--store", f"sqlite://{junk}")
    assert done.returncode == 1
    assert f"cannot use {junk} as the map store" in done.stderr and "Traceback" not in done.stderr
    assert junk.read_bytes().startswith(b"this is not a database"), "the file is left as it was"


async def test_a_second_process_on_the_same_file_is_refused_by_name(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    store = f"sqlite://{tmp_path}/maps.db"
    await start_server(nursery, store=store)
    done = await trio.to_thread.run_sync(run_serve, "--store", store)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"keeps its maps in {tmp_path}/maps.db" in done.stderr


def test_a_read_only_data_directory_is_refused_by_name(tmp_path: Path) -> None:
    where = tmp_path / "ro"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(where)], check=False)
    require(mounted.returncode == 0, "mounting a tmpfs (root in the test machine)")
    try:
        done = run_serve("--store", f"sqlite://{where}/maps.db")
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"cannot keep maps in {where}/maps.db: Read-only file system" in done.stderr, done.stderr
