"""``mapsrv places import``: an OpenStreetMap extract (.osm.pbf) into a region's index file.

What is kept (everything else is skipped in osmium's C++ filters, never reaching Python):
named places (``place=city`` ... ``neighbourhood``, with their population and names in other
languages), points of interest (a name or not, by the keys in ``POI_KEYS``, as key=value), streets
(named ``highway`` ways: one row per name per ~5 km cell, at the node of its ways nearest its
middle) and addresses (``addr:housenumber`` with ``addr:street`` or ``addr:place``, on nodes, and
on ways at their nodes' centroid). Ways get their nodes' locations from osmium's node cache.
Areas (administrative boundaries at every level, place areas, parks, campuses: ``offline_areas``)
are assembled by osmium from relations and closed ways in the same read and kept as outlines.

Base scores (comparable to the built-in list's log10(population + 1), +1 for an exact name, added
at search time): a place's log10(population + 1) when tagged, else ``PLACE_BASE`` by kind (city 5,
town 4, village 3, suburb 3, hamlet 2); a poi 3 (without a name 2, and labelled by its kind and
street: "cafe on Mannerheimintie"), a street 2.5, an address 3.5. A place's or a poi's names in
every language (``name:*``) and its ``alt_name``, ``old_name`` ... are its alternate names.

The file is written beside the region's (``.REGION.importing.sqlite``), without a journal, then
renamed over it: a reader sees the old index or the new one, never half of one.
"""

from __future__ import annotations

import math
import os
import sqlite3
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mapsrv.places.coverage import coverage_meta
from mapsrv.places.offline_areas import AREA_TAGS, TooComplex, area_kind, area_row
from mapsrv.places.offline_files import SCHEMA, SCHEMA_VERSION, describe_counts, describe_size, region_path
from mapsrv.places.offline_words import address_text, category_words, index_words, population
from mapsrv.places.text import fold

__all__ = ["POI_KEYS", "ExtractError", "ImportResult", "check_extract", "import_extract"]

POI_KEYS = ("amenity", "shop", "tourism", "leisure", "historic", "office", "craft", "healthcare", "emergency")
# keys whose every value is not a point of interest: only these values are
POI_VALUES = {
    "railway": {"station", "halt", "tram_stop", "subway_entrance"},
    "aeroway": {"aerodrome", "terminal", "helipad"},
    "natural": {"peak", "beach", "cave_entrance", "spring", "volcano", "bay", "cape"},
    "man_made": {"lighthouse", "tower", "windmill", "pier"},
    "public_transport": {"station"},
}
PLACE_BASE = {
    "city": 5.0, "town": 4.0, "village": 3.0, "suburb": 3.0, "borough": 3.0, "quarter": 2.5, "hamlet": 2.0,
    "neighbourhood": 2.0, "island": 2.0, "locality": 1.5, "isolated_dwelling": 1.5, "islet": 1.0,
}  # fmt: skip
POI_BASE, STREET_BASE, ADDRESS_BASE = 3.0, 2.5, 3.5
UNNAMED_BASE = 2.0  # a poi without a name: listed after the named ones of its kind
COMMON_WORDS, COMMON_MIN = 64, 2_000  # an address word is common in that many addresses or more
STREET_CELL = 0.05  # degrees: a street's name is one row per cell this big (~5 km), as a town is
BATCH = 50_000  # rows per executemany
_ALT_KEYS = ("name:en", "int_name", "alt_name", "official_name", "short_name", "old_name", "loc_name")
_PBF_START = b"\n\tOSMHeader"  # a PBF's first BlobHeader: field 1, 9 bytes, the header blob's type


class ExtractError(ValueError):
    """The file is missing or not an OpenStreetMap PBF extract (the message names it)."""


@dataclass(frozen=True)
class ImportResult:
    region: str
    path: Path
    counts: dict[str, int]
    size: int
    seconds: float
    left_out: tuple[str, ...] = ()  # areas too complex to keep, each with why

    def describe(self) -> str:
        counts, size = describe_counts(self.counts), describe_size(self.size)
        line = f"imported {self.region}: {counts}; {size} in {self.seconds:.1f} s ({self.path})"
        if self.left_out:
            shown = "; ".join(self.left_out[:5]) + ("; ..." if len(self.left_out) > 5 else "")
            line += f"; {len(self.left_out)} area(s) left out: {shown}"
        return line


def check_extract(file: Path) -> None:
    try:
        with open(file, "rb") as f:
            start = f.read(4 + len(_PBF_START))
    except FileNotFoundError:
        raise ExtractError(f"no such file: {file}") from None
    except OSError as exc:
        raise ExtractError(f"cannot read {file}: {exc.strerror}") from None
    if start[4:] != _PBF_START:
        raise ExtractError(
            f"{file} is not an OpenStreetMap PBF extract (.osm.pbf); e.g. one from download.geofabrik.de"
        )


def import_extract(file: Path, directory: Path, region: str) -> ImportResult:
    """Reads ``file`` into ``directory``'s index of ``region``, replacing it whole."""
    started = time.perf_counter()
    check_extract(file)
    final = region_path(directory, region)
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{region}.importing-{os.getpid()}.sqlite"
    temporary.unlink(missing_ok=True)
    try:
        counts, left_out = _write(file, temporary, region)
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    return ImportResult(region, final, counts, final.stat().st_size, seconds, tuple(left_out))


def _write(file: Path, target: Path, region: str) -> tuple[dict[str, int], list[str]]:
    db = sqlite3.connect(target, isolation_level=None)
    try:
        # the file is not the region's until renamed: a crash leaves only a temporary file to drop
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=FILE;")
        db.executescript(SCHEMA)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute(
            "CREATE TEMP TABLE staged(kind, name, alt, category, address, country, population, lat, lon,"
            " min_lat, max_lat, min_lon, max_lon, base, words, extra)"
        )
        db.execute("BEGIN")
        rows = _Rows()
        for batch in _batches(rows.read(file)):
            db.executemany(f"INSERT INTO staged VALUES ({', '.join('?' * 16)})", batch)
            rows.write_areas(db)
        rows.write_areas(db)
        db.executemany(f"INSERT INTO staged VALUES ({', '.join('?' * 16)})", rows.streets())
        db.execute("CREATE TEMP TABLE staged_lines(key, points)")
        db.executemany("INSERT INTO staged_lines VALUES (?, ?)", rows.lines)
        db.execute("CREATE INDEX temp.staged_lines_key ON staged_lines(key)")
        _build(db)
        counts = dict(db.execute("SELECT kind, count(*) FROM entries GROUP BY kind").fetchall())
        counts["area"] = rows.area_count
        meta = {"region": region, "source": file.name, "imported_at": _now()} | coverage_meta(db, file)
        meta |= {f"count:{kind}": str(n) for kind, n in counts.items()}
        db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        db.execute("COMMIT")
        db.execute("PRAGMA optimize")
        return counts, rows.left_out
    except RuntimeError as exc:  # osmium's reader: a damaged or truncated file, or one out of order
        sort = "; sort it first: osmium sort FILE -o SORTED.osm.pbf" if "out of order" in str(exc) else ""
        raise ExtractError(f"{file} cannot be read as an OpenStreetMap PBF extract: {exc}{sort}") from None
    finally:
        db.close()


def _build(db: sqlite3.Connection) -> None:
    """Numbers the rows best first, then fills the FTS tables (addresses apart) and the R*Tree from
    them in one pass each, and keeps the addresses' commonest words (``offline_files``)."""
    _fill_country(db)
    order = "row_number() OVER (ORDER BY base DESC, rowid)"
    db.execute(
        f"INSERT INTO entries SELECT {order}, kind, name, CASE kind WHEN 'street' THEN '' ELSE alt END,"
        " category, address, country, population, lat,"
        " lon, base FROM staged"
    )
    numbered = f"(SELECT {order} AS id, kind, words, extra FROM staged)"
    for table, which in (("names", "kind != 'address'"), ("addresses", "kind = 'address'")):
        db.execute(
            f"INSERT INTO {table}(rowid, name, extra) SELECT id, words, extra FROM {numbered} WHERE {which}"
        )
    db.execute(f"INSERT INTO spots SELECT {order}, min_lat, max_lat, min_lon, max_lon FROM staged")
    db.execute(
        f"INSERT INTO lines SELECT s.id, l.points FROM (SELECT {order} AS id, kind, alt FROM staged) s"
        " JOIN staged_lines l ON l.key = s.alt WHERE s.kind = 'street' ORDER BY s.id"
    )
    db.execute("DROP TABLE staged_lines")
    db.execute(
        "INSERT INTO categories SELECT category, count(*) FROM entries WHERE kind = 'poi' AND category != ''"
        " GROUP BY category"
    )
    db.execute("CREATE INDEX entries_category ON entries(category) WHERE kind = 'poi'")
    db.execute("CREATE INDEX entries_category_lat ON entries(category, lat) WHERE kind = 'poi'")
    for table in ("names", "addresses"):
        db.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
    db.execute("CREATE VIRTUAL TABLE temp.address_words USING fts5vocab(main, addresses, row)")
    db.execute(
        "INSERT INTO common SELECT term FROM temp.address_words WHERE doc >= ? ORDER BY doc DESC LIMIT ?",
        (COMMON_MIN, COMMON_WORDS),
    )
    db.execute("DROP TABLE temp.address_words")
    db.execute("DROP TABLE staged")


def _fill_country(db: sqlite3.Connection) -> None:
    """Rows without addr:country take the region's, when nearly all its addresses name one (95 %):
    a country's extract. A continent's keeps them unknown, and a country filter keeps them."""
    known = db.execute(
        "SELECT country, count(*) FROM staged WHERE country != '' GROUP BY country ORDER BY 2 DESC"
    ).fetchall()
    if known and known[0][1] >= 0.95 * sum(n for _, n in known):
        db.execute("UPDATE staged SET country = ? WHERE country = ''", (known[0][0],))


def _batches(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    yield batch


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class _Street:
    name: str
    box: list[float]  # min_lat, max_lat, min_lon, max_lon
    middles: list[tuple[float, float]] = field(default_factory=list)  # each way's middle node
    country: str = ""


class _Rows:
    """The rows to stage, object by object; streets are gathered and given at the end."""

    def __init__(self) -> None:
        self.gathered: dict[tuple[str, int, int], _Street] = {}
        self.lines: list[tuple[str, bytes]] = []  # each street way's points, by its street's key
        self.areas: list[tuple[tuple[Any, ...], list[str]]] = []  # not yet written (``write_areas``)
        self.area_count = 0
        self.left_out: list[str] = []  # areas too complex to keep, each said why
        self.relations: dict[int, str] = {}  # named area relations: without an area, not whole
        self.assembled: set[int] = set()

    def write_areas(self, db: sqlite3.Connection) -> None:
        """Writes the areas gathered since the last call (their outlines are big: not kept)."""
        for row, names in self.areas:
            self.area_count += 1
            ident = self.area_count
            db.execute("INSERT INTO areas VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (ident, *row[:8]))
            db.executemany("INSERT OR IGNORE INTO area_names VALUES (?, ?)", [(n, ident) for n in names])
            db.execute("INSERT INTO area_boxes VALUES (?, ?, ?, ?, ?)", (ident, *row[8:]))
        self.areas = []

    def _area(self, area: Any, wkb: Any) -> None:
        if not area.from_way():
            self.assembled.add(area.orig_id())
        if area_kind(area.tags) is None:  # unnamed (most buildings): no outline made
            return
        try:
            made = area_row(area.tags, bytes.fromhex(wkb.create_multipolygon(area)))
        except TooComplex as exc:
            self.left_out.append(f"{area.tags.get('name', '')!r} ({exc})")
            return
        except RuntimeError:  # osmium could not close its rings: a broken area (or cut by the extract's edge)
            self.left_out.append(f"{area.tags.get('name', '')!r} (its rings cross or do not close)")
            return
        if made is not None:
            self.areas.append(made)

    def read(self, file: Path) -> Iterator[tuple[Any, ...]]:
        import osmium  # here: only the import command needs it

        keys = ("name", "addr:housenumber", *POI_KEYS, *POI_VALUES)
        kinds = osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION
        reader = osmium.FileProcessor(osmium.io.File(str(file), "pbf"), kinds)
        # areas are assembled from relations with these tags and closed ways; only those with them
        # reach Python, and of the rest only what has a key the rows need
        area_tags = [(k, v) for k, values in AREA_TAGS.items() for v in values]
        wkb = osmium.geom.WKBFactory()
        reader = reader.with_locations().with_areas(osmium.filter.TagFilter(*area_tags))
        areas_only, others = osmium.filter.TagFilter(*area_tags), osmium.filter.KeyFilter(*keys)
        areas_only.enable_for(osmium.osm.AREA)  # each filter passes the other's objects through
        others.enable_for(kinds)
        reader = reader.with_filter(areas_only).with_filter(others)
        for obj in reader:
            if isinstance(obj, osmium.osm.Area):
                self._area(obj, wkb)
                continue
            if isinstance(obj, osmium.osm.Node):
                if not obj.location.valid():
                    continue
                lat, lon = obj.location.lat, obj.location.lon
                box = (lat, lon, lat, lat, lon, lon)
            elif isinstance(obj, osmium.osm.Way):
                points = [(n.location.lat, n.location.lon) for n in obj.nodes if n.location.valid()]
                if not points:
                    continue
                if "highway" in obj.tags and "name" in obj.tags and "addr:housenumber" not in obj.tags:
                    self._gather_street(obj.tags, points)
                    continue
                box = _centroid_box(points)
            else:
                self._relation(obj)
                continue
            row = _row(obj.tags, box)
            if row is not None:
                yield row
        for ident, said in self.relations.items():
            if ident not in self.assembled:
                self.left_out.append(f"{said} (not whole in the extract: its outline runs past the edge)")

    def _relation(self, relation: Any) -> None:
        """A named area's relation, remembered to tell when osmium made no area of it."""
        tags = relation.tags
        if (
            tags.get("type") in ("multipolygon", "boundary")
            and "name" in tags
            and area_kind(tags) is not None
        ):
            level = tags.get("admin_level")
            self.relations[relation.id] = repr(tags["name"]) + (f" (admin level {level})" if level else "")

    def _gather_street(self, tags: Any, points: list[tuple[float, float]]) -> None:
        name = tags["name"]
        middle = points[len(points) // 2]
        key = (fold(name), round(middle[0] / STREET_CELL), round(middle[1] / STREET_CELL))
        self.lines.append((repr(key), array("d", [c for p in points for c in p]).tobytes()))
        street = self.gathered.get(key)
        if street is None:
            street = self.gathered[key] = _Street(name, [90.0, -90.0, 180.0, -180.0])
        box = street.box
        for lat, lon in points:
            box[0], box[1], box[2], box[3] = (
                min(box[0], lat),
                max(box[1], lat),
                min(box[2], lon),
                max(box[3], lon),
            )
        street.middles.append(middle)
        street.country = street.country or tags.get("addr:country", "")

    def streets(self) -> Iterator[tuple[Any, ...]]:
        """A row per street; its key (for its ways' lines) in ``alt``, cleared once numbered."""
        for key, street in self.gathered.items():
            s, n, w, e = street.box
            centre = ((s + n) / 2, (w + e) / 2)
            lat, lon = min(street.middles, key=lambda p: (p[0] - centre[0]) ** 2 + (p[1] - centre[1]) ** 2)
            words = index_words(street.name)
            country = _country(street.country)
            yield ("street", street.name, repr(key), "", "", country, 0, lat, lon, s, n, w, e,
                   STREET_BASE, words, "street")  # fmt: skip


def _centroid_box(points: list[tuple[float, float]]) -> tuple[float, float, float, float, float, float]:
    if len(points) > 1 and points[0] == points[-1]:
        points = points[:-1]  # a closed way: its first node would count twice
    lat = sum(p[0] for p in points) / len(points)
    lon = sum(p[1] for p in points) / len(points)
    return (lat, lon, lat, lat, lon, lon)


def _country(raw: str) -> str:
    return raw.upper() if len(raw) == 2 and raw.isalpha() else ""


def _category(tags: Any) -> str:
    for key in POI_KEYS:
        value = tags.get(key)
        if value and value not in ("yes", "no"):
            return f"{key}={value}"
    for key, values in POI_VALUES.items():
        value = tags.get(key)
        if value in values:
            return f"{key}={value}"
    return ""


def _alternates(tags: Any, name: str) -> list[str]:
    found: list[str] = []
    for tag in tags:
        k = tag.k
        if k in _ALT_KEYS or k.startswith("name:"):
            found += [v.strip() for v in tag.v.split(";") if v.strip() and v.strip() != name]
    return list(dict.fromkeys(found))


def _unnamed(category: str, tags: Any) -> str:
    """An unnamed poi's label: its kind, and its address or street when it has one ("cafe,
    Fredrikinkatu 12", "pharmacy on Mannerheimintie")."""
    kind = category_words(category, english=True)
    street = tags.get("addr:street", "") or tags.get("addr:place", "")
    number = tags.get("addr:housenumber", "")
    if street and number:
        return f"{kind}, {street} {number}"
    return f"{kind} on {street}" if street else kind


def _row(tags: Any, box: tuple[float, ...]) -> tuple[Any, ...] | None:
    name = tags.get("name", "")
    place = tags.get("place")
    address = address_text(tags)
    country = _country(tags.get("addr:country", ""))
    if place and name and place in PLACE_BASE:
        people = population(tags.get("population", ""))
        base = math.log10(people + 1) if people else PLACE_BASE[place]
        alt = _alternates(tags, name)
        return ("place", name, "\n".join(alt), f"place={place}", address, country, people, *box, base,
                index_words(name, *alt), place)  # fmt: skip
    category = _category(tags)
    if category:
        alt = _alternates(tags, name)
        address = address or tags.get("addr:city", "")
        extra = " ".join((index_words(address), category_words(category)))
        label, base = name, POI_BASE
        if not name:  # "cafe on Mannerheimintie", after the named ones
            label, base = _unnamed(category, tags), UNNAMED_BASE
        return ("poi", label, "\n".join(alt), category, address, country, 0, *box, base,
                index_words(name, *alt), extra)  # fmt: skip
    if address and name:  # a named building: found by its name and by its address
        alt = _alternates(tags, name)
        return ("poi", name, "\n".join(alt), "", address, country, 0, *box, POI_BASE,
                index_words(name, *alt), index_words(address))  # fmt: skip
    if address:
        street_and_number = address.partition(",")[0]
        return ("address", street_and_number, "", "", address, country, 0, *box, ADDRESS_BASE,
                index_words(street_and_number), index_words(address))  # fmt: skip
    return None
