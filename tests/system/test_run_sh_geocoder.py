"""``deploy/local/run.sh --geocoder-extract``: places looked up in a Nominatim that run.sh imports
the extract into (a database of its own on the local PostgreSQL) and serves with ``nominatim
serve``, as the Kubernetes ``nominatim`` component does in a cluster. The tests' Lisbon extract
(support/place_extract.py) goes in; "Rua Augusta 24" comes out of find_places and draw through
nginx and both mapsrv processes. At the end run.sh is stopped by its PID and must have stopped
every child and dropped the database it made (no --dir: a temp state directory, removed).

The option checks (--help, a missing value, no such file, a DSN in the wrong form, a server that
is not there) need no database and fail before anything starts."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from mcp import Client
from support import free_port, require
from support.nominatim import NOMINATIM_HOME, PG_HOST, PG_PORT, PG_USER, PYTHON, require_nominatim
from support.place_extract import PlaceFacts, write_place_extract
from test_failover import COMPONENT, DIRECTORY, running

from mapsrv.places.search import haversine

RUN_SH = Path(__file__).resolve().parents[2] / "deploy" / "local" / "run.sh"
DSN = f"pgsql:host={PG_HOST};port={PG_PORT};user={PG_USER}"
READY_DEADLINE = 300  # seconds: the Lisbon import takes ~10 of them


def require_topology() -> None:
    require(shutil.which("nginx") is not None or os.access("/usr/sbin/nginx", os.X_OK), "nginx")
    require(shutil.which("redis-server") is not None, "redis-server")


def state_dirs(tmp_path: Path) -> list[Path]:
    """The temp state directories run.sh made under ``tmp_path`` (its TMPDIR)."""
    return [p for p in tmp_path.iterdir() if p.name.startswith("mapsrv-local.")]


def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAPSRV_")}
    return {
        **env,
        "MAPSRV_LOCAL_PYTHON": sys.executable,
        "NOMINATIM_HOME": str(NOMINATIM_HOME),
        "TMPDIR": str(tmp_path),
    }


async def run_sh_fails(tmp_path: Path, *args: str) -> tuple[int, str]:
    """run.sh with ``args``, which must end before anything is ready: (status, stderr)."""
    with trio.fail_after(60):
        result = await trio.run_process(
            ["bash", str(RUN_SH), *args],
            env=environment(tmp_path),
            check=False,
            capture_stdout=True,
            capture_stderr=True,
            stdin=subprocess.DEVNULL,
        )
    assert b"ready" not in result.stdout.split(b"\n"), result.stdout
    return result.returncode, result.stderr.decode()


async def test_help_documents_the_geocoder_options(tmp_path: Path) -> None:
    with trio.fail_after(30):
        result = await trio.run_process(["bash", str(RUN_SH), "--help"], capture_stdout=True)
    usage = result.stdout.decode()
    for option in ("--geocoder-extract FILE", "--geocoder-dsn DSN", "--geocoder-port PORT"):
        assert option in usage, option
    for variable in ("MAPSRV_LOCAL_GEOCODER_EXTRACT", "MAPSRV_LOCAL_GEOCODER_DSN", "NOMINATIM_HOME"):
        assert variable in usage, variable
    assert "nominatim serve" in usage and "pgsql:host=" in usage


@pytest.mark.parametrize(
    ("args", "status", "says"),
    [
        (["--geocoder-extract"], 2, "run.sh: --geocoder-extract needs a value"),
        (["--geocoder-dsn"], 2, "run.sh: --geocoder-dsn needs a value"),
        (["--geocoder-extract", "{tmp}/nowhere.osm.pbf"], 1, "--geocoder-extract: no such file: "),
        (["--geocoder-extract", "{extract}", "--geocoder-dsn", "host=127.0.0.1"], 1, "in Nominatim's form"),
        (["--geocoder-extract", "{extract}", "--geocoder-dsn", f"{DSN};dbname=x"], 1, "names a database"),
    ],
)
async def test_geocoder_options_are_checked_before_anything_starts(
    tmp_path: Path, args: list[str], status: int, says: str
) -> None:
    require_topology()
    extract = tmp_path / "lisbon.osm.pbf"
    extract.write_bytes(b"")  # only its existence is checked here
    args = [a.format(tmp=tmp_path, extract=extract) for a in args]
    code, stderr = await run_sh_fails(tmp_path, *args)
    assert code == status and says in stderr, stderr
    assert "unbound variable" not in stderr
    assert not state_dirs(tmp_path), "no state left"


async def test_a_postgresql_that_is_not_there_is_named(tmp_path: Path) -> None:
    require_topology()
    require_nominatim()
    extract = tmp_path / "lisbon.osm.pbf"
    write_place_extract(extract)
    dsn = f"pgsql:host=127.0.0.1;port={free_port()};user={PG_USER}"
    code, stderr = await run_sh_fails(tmp_path, "--geocoder-extract", str(extract), "--geocoder-dsn", dsn)
    assert code == 1 and f"cannot reach PostgreSQL at --geocoder-dsn {dsn}" in stderr, stderr
    assert not state_dirs(tmp_path), "no state left"


# --- the whole topology with the geocoder ----------------------------------------------------------


def database_of(directory: str) -> str:
    """run.sh's database for a state directory: ``mapsrv_local_`` and cksum(1) of its path."""
    result = subprocess.run(["cksum"], input=directory.encode(), capture_output=True, check=True, timeout=10)
    return f"mapsrv_local_{result.stdout.split()[0].decode()}"


def database_exists(name: str) -> bool:
    check = (
        "import sys, psycopg\n"
        "host, port, user, name = sys.argv[1:]\n"
        "with psycopg.connect(host=host, port=int(port), user=user, dbname='postgres') as c:\n"
        "    print(c.execute('SELECT count(*) FROM pg_database WHERE datname = %s', (name,)).fetchone()[0])\n"
    )
    result = subprocess.run(
        [str(PYTHON), "-c", check, PG_HOST, str(PG_PORT), PG_USER, name],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip() == "1"


def drop(name: str) -> None:
    assert re.fullmatch(r"mapsrv_local_\d+", name), name
    drop = (
        "import sys, psycopg\n"
        "with psycopg.connect(host=sys.argv[1], port=int(sys.argv[2]), user=sys.argv[3], dbname='postgres',"
        " autocommit=True) as c:\n"
        "    c.execute(f'DROP DATABASE IF EXISTS \"{sys.argv[4]}\" WITH (FORCE)')\n"
    )
    subprocess.run([str(PYTHON), "-c", drop, PG_HOST, str(PG_PORT), PG_USER, name], check=True, timeout=60)


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (the import runs in a process group of its own)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


@asynccontextmanager
async def geocoder_topology(tmp_path: Path, extract: Path) -> AsyncIterator[dict[str, Any]]:
    """run.sh --geocoder-extract until ``ready``: its printed components by name (and its state
    directory as ``dir``). Stopped by its PID at the end; every child must be gone after it, the
    temp state directory removed and the database it made dropped."""
    command = ["bash", str(RUN_SH), "--geocoder-extract", str(extract), "--geocoder-dsn", DSN]
    process = await trio.lowlevel.open_process(
        command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=environment(tmp_path)
    )
    seen: dict[str, Any] = {}
    children: set[int] = set()
    try:
        assert process.stdout is not None
        buffer = b""
        with trio.fail_after(READY_DEADLINE):
            while True:
                chunk = await process.stdout.receive_some()
                if not chunk:
                    raise RuntimeError("run.sh exited before it was ready (its stderr tells why)")
                *lines, buffer = (buffer + chunk).split(b"\n")
                for line in map(bytes.decode, lines):
                    if match := COMPONENT.fullmatch(line):
                        seen[match["name"]] = (int(match["pid"]), match["url"])
                    elif match := DIRECTORY.fullmatch(line):
                        seen["dir"] = match["path"]
                children |= descendants(process.pid)
                if b"ready" in lines:
                    break
        children |= descendants(process.pid)
        yield seen
    finally:
        with trio.CancelScope(shield=True):
            children |= descendants(process.pid)
            process.terminate()
            with trio.move_on_after(60):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
            left = {pid for pid in children | {pid for pid, _ in _printed(seen)} if running(pid)}
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            database = database_of(seen["dir"]) if "dir" in seen else ""
            made = bool(database) and database_exists(database)
            if made:
                drop(database)
    assert not left, f"run.sh left these running: {left}"
    assert process.returncode == 128 + signal.SIGTERM, "run.sh stopped before it was told to"
    assert not made, f"run.sh left its database {database}"
    assert not state_dirs(Path(seen["dir"]).parent), "the temp state directory is removed"


def _printed(seen: dict[str, Any]) -> list[tuple[int, str]]:
    return [value for name, value in seen.items() if name != "dir"]


def near(point: Any, facts_point: tuple[float, float], metres: float = 30) -> bool:
    return haversine((float(point[0]), float(point[1])), facts_point) <= metres


async def test_run_sh_serves_places_from_the_extract_through_nominatim(tmp_path: Path) -> None:
    require_topology()
    require_nominatim()
    extract = tmp_path / "lisbon.osm.pbf"
    facts: PlaceFacts = write_place_extract(extract)
    address = facts.address("24")
    async with geocoder_topology(tmp_path, extract) as seen:
        assert set(seen) == {"dir", "redis", "nominatim", "mapsrv-a", "mapsrv-b", "nginx"}
        # The state directory is run.sh's own temp one, and the database is named after it.
        assert Path(seen["dir"]).parent == tmp_path and database_exists(database_of(seen["dir"]))
        geocoder = seen["nominatim"][1]
        async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
            status = await http.get(geocoder + "status")
            assert (status.status_code, status.text) == (200, "OK")
        # Both mapsrv were started with the geocoder (mapsrv prints no line for it, as it does for
        # the router: their command lines say it).
        for name in ("mapsrv-a", "mapsrv-b"):
            args = (await trio.Path(f"/proc/{seen[name][0]}/cmdline").read_text()).split("\0")
            assert args[args.index("--geocoder") + 1] == "nominatim+" + geocoder.rstrip("/"), args
        url = seen["nginx"][1]
        with trio.fail_after(60):
            async with Client(url + "mcp") as agent:
                found = await agent.call_tool("find_places", {"query": "Rua Augusta 24"})
                assert not found.is_error, found.content
                first = found.structured_content["places"][0]
                assert first["name"] == "Rua Augusta 24", first
                assert near((first["lat"], first["lon"]), address.latlon), (first, address)
                created = await agent.call_tool("create_map", {"title": "Baixa"})
                map_id = created.structured_content["map_id"]
                drawn = await agent.call_tool(
                    "draw", {"map_id": map_id, "items": [{"at": "Rua Augusta 24", "id": "shop"}]}
                )
                assert not drawn.is_error, drawn.content
                exported = await agent.call_tool("read", {"map_id": map_id, "format": "geojson"})
                features = exported.structured_content["features"]
    assert drawn.structured_content["places"]["Rua Augusta 24"][3] == "geocoder"
    (feature,) = [f for f in features if f["id"] == "shop"]
    lon, lat = feature["geometry"]["coordinates"]
    assert near((lat, lon), address.latlon), feature
