"""A real Nominatim geocoder for tests: PyPI's nominatim-db and nominatim-api in the venv
scripts/nominatim-env.sh makes at $NOMINATIM_HOME, over the local PostgreSQL (127.0.0.1:5432,
user postgres, trust auth, as the project's machines run it).

``import_extract`` imports an OSM file (place_extract.py's) into a new database of a random name
(``mapsrv_test_nominatim_<hex>``; ``nominatim import`` creates it) in a project directory of its
own: ~8 s for the Lisbon extract, so a test session imports it once. ``open_nominatim`` serves it
with ``nominatim serve`` (Falcon on uvicorn) on a port, answering /status when it is yielded
(~0.5 s), and stops it by its PID at the end; ``drop_database`` removes the database. Nothing here
touches a database it did not create.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from .place_extract import PlaceFacts
from .processes import free_port, wait_for_status
from .waiting import require

__all__ = [
    "NOMINATIM_HOME",
    "Imported",
    "Nominatim",
    "NominatimDatabase",
    "drop_database",
    "import_extract",
    "open_nominatim",
    "require_nominatim",
]

ROOT = Path(__file__).resolve().parents[2]
NOMINATIM_HOME = Path(os.environ.get("NOMINATIM_HOME") or ROOT / ".tox" / "nominatim")
NOMINATIM = NOMINATIM_HOME / "bin" / "nominatim"
PYTHON = NOMINATIM_HOME / "bin" / "python"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
DATABASE_PREFIX = "mapsrv_test_nominatim_"
IMPORT_DEADLINE = 300  # seconds; the Lisbon extract takes ~8


@dataclass(frozen=True)
class NominatimDatabase:
    name: str
    project: Path  # the project directory `nominatim import` ran in
    import_s: float  # how long the import took
    log: Path  # the import's output


@dataclass(frozen=True)
class Imported:
    """An extract in a Nominatim database, and what the extract holds (tests/places/conftest.py's
    ``lisbon``)."""

    database: NominatimDatabase
    facts: PlaceFacts


@dataclass
class Nominatim:
    url: str  # http://127.0.0.1:PORT, no trailing slash
    port: int
    pid: int
    process: trio.Process
    log: Path  # its stdout and stderr


def _postgres_up() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=2):
            return True
    except OSError:
        return False


def require_nominatim() -> Path:
    """The ``nominatim`` command; a test without it (or without PostgreSQL and osm2pgsql) fails
    in CI and skips elsewhere."""
    require(NOMINATIM.exists(), f"Nominatim in {NOMINATIM_HOME} (scripts/nominatim-env.sh)")
    require(
        subprocess.run(["which", "osm2pgsql"], capture_output=True).returncode == 0,
        "osm2pgsql (scripts/nominatim-env.sh)",
    )
    require(_postgres_up(), f"PostgreSQL on {PG_HOST}:{PG_PORT}")
    return NOMINATIM


def _environment(database: str) -> dict[str, str]:
    return {
        **os.environ,
        "NOMINATIM_DATABASE_DSN": f"pgsql:host={PG_HOST};port={PG_PORT};user={PG_USER};dbname={database}",
        # the user the API reads as; the import checks that it exists
        "NOMINATIM_DATABASE_WEBUSER": PG_USER,
    }


def import_extract(extract: Path, workdir: Path) -> NominatimDatabase:
    """``extract`` imported into a new database; the database is dropped again if the import
    fails (RuntimeError with the end of its log)."""
    nominatim = require_nominatim()
    name = DATABASE_PREFIX + secrets.token_hex(6)
    project = workdir / "project"
    project.mkdir(parents=True, exist_ok=True)
    log = workdir / "import.log"
    command = [str(nominatim), "import", "--osm-file", str(extract), "--project-dir", str(project)]
    # --offline: no Wikipedia importances or postcodes to fetch; --no-updates: no replication tables
    command += ["--offline", "--no-updates", "--threads", "2"]
    started = time.perf_counter()
    with log.open("wb") as output:
        try:
            done = subprocess.run(
                command,
                env=_environment(name),
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=IMPORT_DEADLINE,
            )
        except BaseException:
            drop_database(name)
            raise
    took = time.perf_counter() - started
    if done.returncode != 0:
        drop_database(name)
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"nominatim import exited with {done.returncode}:\n{tail}")
    return NominatimDatabase(name=name, project=project, import_s=took, log=log)


def drop_database(name: str) -> None:
    """Drops one of the databases ``import_extract`` made (and only those: the name says so)."""
    assert name.startswith(DATABASE_PREFIX) and name.replace("_", "").isalnum(), name
    subprocess.run([str(PYTHON), "-c", _DROP, PG_HOST, str(PG_PORT), PG_USER, name], check=True, timeout=60)


# psycopg is in Nominatim's venv; FORCE ends the sessions a killed server may have left behind
_DROP = """
import sys, psycopg
host, port, user, name = sys.argv[1:]
with psycopg.connect(host=host, port=int(port), user=user, dbname="postgres", autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
"""


@asynccontextmanager
async def open_nominatim(database: NominatimDatabase, port: int | None = None) -> AsyncIterator[Nominatim]:
    """``nominatim serve`` over ``database`` on ``port`` (a free one if none), answering /status
    when it is yielded, stopped by its PID at the end (a test may kill it sooner)."""
    nominatim = require_nominatim()
    port = free_port() if port is None else port
    log = database.project.parent / f"nominatim-{port}.log"
    command = [
        str(nominatim),
        "serve",
        "--server",
        f"127.0.0.1:{port}",
        "--project-dir",
        str(database.project),
    ]
    with log.open("ab") as output:  # the child has its own copy of the descriptor
        process = await trio.lowlevel.open_process(
            command, env=_environment(database.name), stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_for_status(url, process, log, "nominatim serve", timeout=30)
        yield Nominatim(url=url, port=port, pid=process.pid, process=process, log=log)
    finally:
        with trio.CancelScope(shield=True):
            process.terminate()
            with trio.move_on_after(10):
                await process.wait()
            process.kill()
            await process.wait()
