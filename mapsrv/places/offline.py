"""The offline index as a place source: the regions ``mapsrv places import`` wrote, searched with
SQLite (FTS5 for words, R*Tree for where) in worker threads, each with read-only connections.

Search: every word must match, the last as a prefix (search as you type); an address only when a
word holds a digit (people write its number: "Augusta" is the street, "Augusta 24" the address), so
the addresses' FTS5 table is read only then. A match is read in row order, which is best-first
(``offline_files``), so its first ``CANDIDATES`` rows are the ones to rank; with ``near`` and more
matches than that, the rows around the point are asked instead, in growing boxes. An address's
commonest words ("rua", the town: the region's ``common``) are left out of its match when rarer
words remain, and checked on the rows found (fewer than ``CANDIDATES``, else it is matched whole):
the same rows, without reading the long lists of those words. A category alone reads its poi rows
(or, with ``near`` and many of them, its pois by latitude in the boxes). ``country`` keeps rows of
that country and rows of unknown country.

Score, comparable to the built-in list's: the row's base (``offline_import``: log10(population + 1)
of a place, else city 5, town 4, village 3, suburb 3, hamlet 2; poi 3, street 2.5, address 3.5),
+1 when the text is the whole name (or an alternate name, or the address), and with ``near``
minus 2 log10(1 + km): among equals the nearest first, and a city 10 km off still ahead of a café
called like it next door.

The files are read-only while serving; an import renames a new file over a region's, and each
thread notices (the directory's listing changes) and reopens it.
"""

from __future__ import annotations

import dataclasses
import math
import sqlite3
import threading
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import trio
from shapely.geometry.base import BaseGeometry

from mapsrv.core.model import LatLon
from mapsrv.places.model import Match, Place
from mapsrv.places.offline_areas import IndexArea, area_places, areas_named, has_areas, read_outline
from mapsrv.places.offline_files import SUFFIX, OldRegion, check_schema, list_regions
from mapsrv.places.offline_lines import line_metres
from mapsrv.places.offline_numbers import MissingNumber, asked_number, nearest_numbers, number_of, street_of
from mapsrv.places.offline_rows import COLUMNS, Ask, Page, make_place, place_of, prepare, score_row
from mapsrv.places.offline_words import category_words, forms, fts_query, match_categories, query_words
from mapsrv.places.search import haversine
from mapsrv.places.sources import Query, SourceUnavailable
from mapsrv.workers import run

__all__ = ["CANDIDATES", "OfflineIndex", "Page", "open_offline_index"]

CANDIDATES = 400  # FTS rows ranked per region and search
_PREFIXED = 3  # the FTS tables' longest prefix index (offline_files: prefix='1 2 3')
MATCHED_ONCE = 20_000  # with ``near``, up to about this many matches are read whole, once
CATEGORY_SCAN = 5_000  # up to this many pois of a category are ranked by distance directly
RADII_M = (1_000.0, 5_000.0, 25_000.0, 125_000.0, 625_000.0)  # boxes tried around ``near``
REVERSE_RADII_M = (50.0, 200.0, 1_000.0, 5_000.0)
ADDRESS_M = 50.0  # reverse: an address this near is the answer; farther, the nearest thing is
_BOX = "s.max_lat >= ? AND s.min_lat <= ? AND s.max_lon >= ? AND s.min_lon <= ?"
_LATLON = "e.lat BETWEEN ? AND ? AND e.lon BETWEEN ? AND ?"
T = TypeVar("T")


def open_offline_index(directory: Path) -> OfflineIndex | None:
    """The index of the regions imported into ``directory``; None when there are none."""
    return OfflineIndex(directory) if list_regions(directory) else None


class _Region:
    def __init__(self, path: Path, region: str) -> None:
        self.db = sqlite3.connect(
            f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
        self.region = region
        try:
            check_schema(self.db, region)
            self.has_areas = has_areas(self.db)
            self.counted: list[Any] = self.db.execute("SELECT category, n FROM categories").fetchall()
            self.categories = [c for c, _ in self.counted]
            self.common = frozenset(w for (w,) in self.db.execute("SELECT word FROM common"))
            (self.last_id,) = self.db.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()
            self.has_lines = bool(
                self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'lines'").fetchone()
            )
            # the rows a search near a point matched, read once for its growing boxes (``_matches``)
            self.db.execute("PRAGMA temp_store = MEMORY")
            self.db.execute("CREATE TEMP TABLE matched(id INTEGER PRIMARY KEY)")
        except BaseException:
            self.db.close()
            raise

    def categories_for(self, asked: str) -> list[str]:
        return match_categories(asked, self.categories)


class OfflineIndex:
    name = "index"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[sqlite3.Connection] = []

    def has_regions(self) -> bool:
        """Whether any region is imported now (a directory listing; imports while serving count)."""
        try:
            return any(self.directory.glob(f"*{SUFFIX}"))
        except OSError:
            return False

    def describe(self) -> str:
        return f"the offline index ({', '.join(r.region for r in list_regions(self.directory)) or 'empty'})"

    async def search(self, query: Query) -> list[Place]:
        return (await self.search_page(query)).places

    async def search_page(self, query: Query) -> Page:
        """``search``'s answers from ``query.offset`` on, with how many there are."""
        ask = prepare(query)
        if not ask.words and ask.category is None:
            return Page([], 0, True)
        return await trio.to_thread.run_sync(self._search, ask)

    async def categories(self) -> list[tuple[str, int]]:
        """Every category of the imported regions (OSM key=value) and how many pois it has."""
        return await trio.to_thread.run_sync(self._categories)

    def _categories(self) -> list[tuple[str, int]]:
        counts = Counter[str]()
        for region in self._regions():
            counts.update(dict(region.counted))
        return sorted(counts.items())

    async def areas_named(self, text: str) -> list[IndexArea]:
        """The imported areas one of whose names is ``text``, best first (``offline_areas``)."""
        return await run("index", self.areas_named_now, text)

    async def area_places(self, q: Query, limit: int) -> list[Place]:
        """The areas whose names start with ``q.text``, as search answers (``offline_areas``)."""
        return await run("index", self.areas_of, lambda r: area_places(r.db, q, r.region, limit))

    async def outline(self, area: IndexArea) -> BaseGeometry:
        """``area``'s outline (lon, lat), valid and prepared, read and parsed in a worker."""
        return await run("geometry", self.outline_now, area)

    def outline_now(self, area: IndexArea) -> BaseGeometry:
        """``outline`` in this thread (a worker's: it blocks)."""
        ident, region = area.area_id, area.region
        shapes = self.areas_of(lambda r: [read_outline(r.db, ident)] if r.region == region else [])
        if not shapes:
            raise SourceUnavailable("offline index", f"region {area.region!r} was removed while reading it")
        return shapes[0]

    def areas_named_now(self, text: str) -> list[IndexArea]:
        """``areas_named`` in this thread (a worker's: it blocks)."""
        return self.areas_of(lambda r: areas_named(r.db, text, r.region))

    def areas_of(self, read: Callable[[_Region], list[T]]) -> list[T]:
        """What ``read`` finds in each region with areas (a worker's: it blocks)."""
        try:
            return [found for region in self._regions() if region.has_areas for found in read(region)]
        except sqlite3.Error as exc:
            raise SourceUnavailable("offline index", f"cannot read it: {exc}") from None

    async def reverse(self, at: LatLon, *, within_m: float = 200.0) -> Place | None:
        return await trio.to_thread.run_sync(self._reverse, at, within_m)

    async def aclose(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for db in opened:
            db.close()

    def _regions(self) -> list[_Region]:
        """This thread's connections, reopened when the directory's regions changed."""
        try:
            state = tuple(
                sorted(
                    (p.name, p.stat().st_ino, p.stat().st_mtime_ns) for p in self.directory.glob(f"*{SUFFIX}")
                )
            )
        except OSError as exc:
            raise SourceUnavailable("offline index", f"cannot read its directory: {exc.strerror}") from None
        if getattr(self._local, "state", None) != state:
            for region in getattr(self._local, "regions", []):
                region.db.close()
            self._local.state, self._local.regions = None, []
            regions: list[_Region] = []
            try:
                for info in list_regions(self.directory):
                    regions.append(_Region(info.path, info.region))
            except (OldRegion, sqlite3.Error) as exc:
                for region in regions:
                    region.db.close()
                raise SourceUnavailable("offline index", str(exc)) from None
            with self._lock:
                self._opened += [r.db for r in regions]
            self._local.state, self._local.regions = state, regions
        regions_now: list[_Region] = self._local.regions
        return regions_now

    def _search(self, ask: Ask) -> Page:
        """The best ``limit`` rows, best first (in the order found among equals), from ``offset``
        on; only those become Places."""
        found: list[tuple[float, float, int, Match, tuple[Any, ...]]] = []
        try:
            regions = self._regions()
            for region in regions:
                for row in _rows(region, ask):
                    score, distance, match = score_row(row, ask)
                    found.append((-score, -1.0 if distance is None else distance, len(found), match, row))
        except sqlite3.Error as exc:
            raise SourceUnavailable("offline index", f"cannot read it: {exc}") from None
        if ask.near is not None and ask.within_m is not None:
            found = [f for f in found if 0 <= f[1] <= ask.within_m]
        number = asked_number(ask.words) if len(ask.words) > 1 else None
        if number is not None:
            # "Kaivokatu 1" is number 1: 12 and 18 (its prefix) are other buildings
            found = [f for f in found if number_of(f[4]) in (None, number)]
            if not any(number_of(f[4]) == number for f in found):
                self._missing_number(ask, number)
        found.sort(key=lambda f: (f[0], max(0.0, f[1]), f[2]))
        page = found[ask.offset : ask.limit]
        places = [make_place(row, ask, -s, None if d < 0 else d, m) for s, d, _, m, row in page]
        kind = bool(ask.text) and any(region.categories_for(ask.text) for region in regions)
        return Page(places, len(found), not any(ask.cut), kind)

    def _missing_number(self, ask: Ask, number: str) -> None:
        """Raises MissingNumber when the words before ``number`` name a street the index has."""
        words = [w for w in ask.words if w != number]
        numbers: dict[str, list[str]] = {}
        try:
            for region in self._regions():
                for table in ("addresses", "names"):
                    for row in _match(region, table, words, "", ()):
                        held, street = number_of(row), street_of(row)
                        if held is not None and set(query_words(street)) <= set(ask.words):
                            numbers.setdefault(street, []).append(held)
        except sqlite3.Error as exc:
            raise SourceUnavailable("offline index", f"cannot read it: {exc}") from None
        if numbers:
            street = max(numbers, key=lambda s: len(numbers[s]))
            raise MissingNumber(ask.text, street, number, nearest_numbers(numbers[street], number))

    def _reverse(self, at: LatLon, within_m: float) -> Place | None:
        ask = Ask([], "", None, at, within_m, None, 1)
        try:
            regions = self._regions()
            for radius in (*(r for r in REVERSE_RADII_M if r < within_m), within_m):
                near = sorted(
                    (_metres(region, at, row), number_of(row) is None, row)
                    for region in regions
                    for row in _box_rows(region.db, at, radius, "", ())
                )
                near = [n for n in near if n[0] <= radius]
                # an address (a shop's, a building's too) within ADDRESS_M; else the nearest thing
                addresses = [n for n in near if not n[1] and n[0] <= ADDRESS_M]
                best = addresses[0] if addresses else near[0] if near and radius >= within_m else None
                if best is not None:
                    return dataclasses.replace(place_of(best[2], ask), distance_m=best[0])
        except sqlite3.Error as exc:
            raise SourceUnavailable("offline index", f"cannot read it: {exc}") from None
        return None


def _metres(region: _Region, at: LatLon, row: tuple[Any, ...]) -> float:
    """How far ``at`` is from a row: from a street's line when the file has it, else its point."""
    if row[1] == "street" and region.has_lines:
        lines = region.db.execute("SELECT points FROM lines WHERE id = ?", (row[0],)).fetchall()
        if lines:
            return min(line_metres(at, array("d", points)) for (points,) in lines)
    return haversine(at, (row[8], row[9]))


def _rows(region: _Region, ask: Ask) -> Iterable[tuple[Any, ...]]:
    categories: tuple[str, ...] = ()
    if ask.category is not None:
        categories = tuple(region.categories_for(ask.category))
        if not categories:
            return []
    where, args = _filters(ask, categories)
    if ask.words:
        rows = _matches(region, ask, categories, where, args)
        ask.cut.append(len(rows) >= CANDIDATES)
        return rows
    if ask.near is None:
        sql = f"SELECT {COLUMNS} FROM entries e WHERE 1{where} ORDER BY e.id LIMIT ?"
        rows = region.db.execute(sql, (*args, ask.limit + 1)).fetchall()
        ask.cut.append(len(rows) > ask.limit)
        return rows[: ask.limit]
    marks = ", ".join("?" * len(categories))
    (count,) = region.db.execute(
        f"SELECT sum(n) FROM categories WHERE category IN ({marks})", categories
    ).fetchone()
    if count <= CATEGORY_SCAN:
        return region.db.execute(f"SELECT {COLUMNS} FROM entries e WHERE 1{where}", args).fetchall()
    return _around(region.db, ask, where, args, by_category=True)


def _matches(
    region: _Region, ask: Ask, categories: tuple[str, ...], where: str, args: tuple[Any, ...]
) -> list[tuple[Any, ...]]:
    """The best ``CANDIDATES`` rows matching the words (or, with ``near`` and that many, those
    around it): of ``names``, and of ``addresses`` too when a word holds a digit."""
    if categories and all(_implied(ask.words, c) for c in categories):  # "pharmacy", amenity=pharmacy
        sql = f"SELECT {COLUMNS} FROM entries e WHERE 1{where} ORDER BY e.id LIMIT ?"
        rows = region.db.execute(sql, (*args, CANDIDATES)).fetchall()
        if ask.near is None or len(rows) < CANDIDATES:
            return rows
        return _around(region.db, ask, where, args, by_category=True)
    addresses = not categories and any(c.isdigit() for w in ask.words for c in w)
    rows = _match(region, "names", ask.words, where, args)
    if addresses:
        rows = sorted(rows + _match(region, "addresses", ask.words, where, args))[:CANDIDATES]
    if ask.near is None or len(rows) < CANDIDATES:
        return rows
    match = fts_query(ask.words)
    # the matches' count, estimated from how far in (best first) the last of the first rows is
    many = CANDIDATES * region.last_id / max(1, rows[-1][0]) > MATCHED_ONCE
    tables = ("names", "addresses") if addresses else ("names",)
    kind = "" if addresses else " AND e.kind != 'address'"
    if len(ask.words[-1]) > _PREFIXED or not many:  # matched once, not again on every row near
        region.db.execute("DELETE FROM temp.matched")
        for table in tables:
            sql = f"INSERT INTO temp.matched SELECT rowid FROM {table} WHERE {table} MATCH ?"
            region.db.execute(sql, (match,))
        return _around(region.db, ask, f"{kind}{where} AND e.id IN temp.matched", args, bool(categories))
    # a short prefix in many rows: each row near the point is checked (its prefix index)
    found = "EXISTS (SELECT 1 FROM {0} WHERE {0} MATCH ? AND {0}.rowid = e.id)"
    if addresses:
        test = (
            f"CASE WHEN e.kind = 'address' THEN {found.format('addresses')} ELSE {found.format('names')} END"
        )
        return _around(region.db, ask, f"{where} AND {test}", (*args, match, match), bool(categories))
    return _around(
        region.db, ask, f"{kind}{where} AND {found.format('names')}", (*args, match), bool(categories)
    )


def _match(
    region: _Region, table: str, words: list[str], where: str, args: tuple[Any, ...]
) -> list[tuple[Any, ...]]:
    """The first ``CANDIDATES`` rows of ``table`` matching ``words`` (best first). An address's
    common words are matched only when the rarer ones give ``CANDIDATES`` rows or more; else they
    are checked on the rows found (both sides are folded words, as ``index_words`` wrote them)."""
    sql = (
        f"SELECT {COLUMNS} FROM {table} JOIN entries e ON e.id = {table}.rowid WHERE {table} MATCH ?{where}"
        f" ORDER BY {table}.rowid LIMIT ?"
    )
    common = [w for w in words[:-1] if w in region.common] if table == "addresses" else []
    rarer = [w for w in words[:-1] if w not in region.common]
    if common and rarer:
        rows = region.db.execute(sql, (fts_query([*rarer, words[-1]]), *args, CANDIDATES)).fetchall()
        if len(rows) < CANDIDATES:
            return [row for row in rows if _has_words(row, common)]
    return region.db.execute(sql, (fts_query(words), *args, CANDIDATES)).fetchall()


def _implied(words: list[str], category: str) -> bool:
    """Whether every poi of ``category`` matches ``words``: they are words of the category's, which
    each of its pois has indexed (``offline_import``), the last as a prefix."""
    held = query_words(category_words(category))
    head = all(any(f in held for f in forms(w)) for w in words[:-1])
    return head and any(h.startswith(f) for h in held for f in forms(words[-1]))


def _has_words(row: tuple[Any, ...], words: list[str]) -> bool:
    """Whether an address row's indexed words (its name's and its address's) hold all ``words``."""
    held = {*query_words(row[2]), *query_words(row[5])}
    return all(w in held for w in words)


def _filters(ask: Ask, categories: tuple[str, ...]) -> tuple[str, tuple[Any, ...]]:
    where, args = "", ()  # type: tuple[str, tuple[Any, ...]]
    if categories:
        where += f" AND e.kind = 'poi' AND e.category IN ({', '.join('?' * len(categories))})"
        args += categories
    if ask.country:
        where += " AND e.country IN ('', ?)"
        args += (ask.country,)
    return where, args


def _around(
    db: sqlite3.Connection, ask: Ask, where: str, args: tuple[Any, ...], by_category: bool = False
) -> list[tuple[Any, ...]]:
    """The rows in growing boxes around ``near`` until there are enough (or ``within_m`` is reached);
    ``by_category``: ``where`` keeps pois of some categories, read from their index by latitude."""
    assert ask.near is not None
    rows: list[tuple[Any, ...]] = []
    for radius in RADII_M:
        last = ask.within_m is not None and radius >= ask.within_m
        at = ask.within_m if last and ask.within_m else radius
        rows = _box_rows(db, ask.near, at, where, args, by_category)
        if len(rows) >= ask.limit or last:
            ask.cut.append(not last)  # a bigger box may hold more
            break
    return rows


def _box_rows(
    db: sqlite3.Connection,
    at: LatLon,
    radius_m: float,
    where: str,
    args: tuple[Any, ...],
    by_category: bool = False,
) -> list[tuple[Any, ...]]:
    dlat = radius_m / 111_195.0
    dlon = min(180.0, dlat / max(0.01, math.cos(math.radians(at[0]))))
    box = (at[0] - dlat, at[0] + dlat, at[1] - dlon, at[1] + dlon)
    if by_category:
        sql = f"SELECT {COLUMNS} FROM entries e INDEXED BY entries_category_lat WHERE {_LATLON}{where}"
    else:
        sql = f"SELECT {COLUMNS} FROM spots s JOIN entries e ON e.id = s.id WHERE {_BOX}{where}"
    return db.execute(sql, (*box, *args)).fetchall()
