"""Hostile GIS files (issue 61) are refused with a clear error before GDAL or pyarrow reads what
they lie about: a zipped Shapefile that declares gigabytes or inflates past what it declares, a
.shx whose records point past the .shp or at the wrong record, a .dbf that promises rows it does
not hold, a GeoPackage with a trigger of its own or whose header declares 10 GB, a Parquet file
whose footer declares 10 GB, and garbage behind each format's magic bytes. A FlatGeobuf cut short
or whose header's count is not its index's (issue 72) is a 400 that says so, not a 500.
GeoPackages have more of their own in test_gpkg_hostile."""

from __future__ import annotations

import io
import random
import sqlite3
import struct
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from support.gis_files import edited_geopackage, flatgeobuf, geopackage, geoparquet, shapefile_zip

from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats import read_file
from mapsrv.formats.geoparquet import MAX_UNPACKED
from mapsrv.formats.shapezip import MAX_UNZIPPED

LIMITS = Limits()
TEN_GB = 10 * 2**30


def points(n: int = 5) -> pa.Table:
    return pa.table(
        {
            "name": [f"stop {i}" for i in range(n)],
            "geometry": shapely.to_wkb(shapely.points([(2.0 + i / 100, 48.0) for i in range(n)])),
        }
    )


def refused(data: bytes, fmt: str | None = None) -> str:
    with pytest.raises(InvalidInput) as err:
        read_file(data, fmt, LIMITS)
    return err.value.message


def shapefile_parts() -> dict[str, bytes]:
    data = shapefile_zip({"stops": (points(), "EPSG:4326", "Point")})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zipped(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    return out.getvalue()


def declare(data: bytes, member: str, size: int) -> bytes:
    """``data`` (a zip) with ``member``'s uncompressed size in the central directory set to
    ``size``: what a zip bomb, or a liar, declares."""
    out = bytearray(data)
    at = 0
    while True:
        at = out.index(b"PK\x01\x02", at)
        name_length = struct.unpack_from("<H", out, at + 28)[0]
        if out[at + 46 : at + 46 + name_length].decode() == member:
            struct.pack_into("<I", out, at + 24, size)
            return bytes(out)
        at += 46


def test_a_shapefile_zip_that_declares_gigabytes_is_refused_unread() -> None:
    bomb = declare(zipped(shapefile_parts()), "stops.dbf", 4_000_000_000)
    with pytest.raises(PayloadTooLarge) as err:
        read_file(bomb, None, LIMITS)
    assert err.value.message == (
        f"shapefile zip must unzip to at most {MAX_UNZIPPED >> 20} MiB, got 3,815 MiB declared;"
        " send a smaller file, or name one layer with file_layer"
    )


def test_a_zip_bomb_that_declares_little_stops_at_what_it_declares() -> None:
    parts = shapefile_parts()
    parts["stops.dbf"] += bytes(32 << 20)  # 32 MiB of zeros after the table: 32 kB zipped
    bomb = zipped(parts)
    assert len(bomb) < 100_000
    lying = declare(bomb, "stops.dbf", len(shapefile_parts()["stops.dbf"]))
    message = refused(lying)
    assert message.startswith("shapefile zip is not a readable zip archive: Bad CRC-32"), message


def test_a_shx_that_points_past_the_shp_is_refused() -> None:
    parts = shapefile_parts()
    shx = bytearray(parts["stops.shx"])
    struct.pack_into(">i", shx, 100 + 8 * 3, 10_000_000)  # record 3 at byte 20,000,000
    parts["stops.shx"] = bytes(shx)
    assert refused(zipped(parts)) == (
        "shapefile stops.shx is damaged: its record 3 points at byte 20000000 of stops.shp (20 bytes),"
        f" where stops.shp ({len(parts['stops.shp'])} bytes) has no such record; rebuild the index"
        " (ogr2ogr or QGIS can) and send it again"
    )


def test_a_shx_that_points_at_another_record_is_refused() -> None:
    parts = shapefile_parts()
    shx = bytearray(parts["stops.shx"])
    first, second = shx[100:108], shx[108:116]
    shx[100:108], shx[108:116] = second, first  # records 0 and 1 swapped: each points at the other
    parts["stops.shx"] = bytes(shx)
    assert refused(zipped(parts)).startswith(
        "shapefile stops.shx is damaged: its record 0 points at byte 128"
    )


def test_a_dbf_that_promises_more_rows_than_it_holds_is_refused() -> None:
    parts = shapefile_parts()
    dbf = bytearray(parts["stops.dbf"])
    struct.pack_into("<I", dbf, 4, 1_000_000)
    parts["stops.dbf"] = bytes(dbf)
    assert refused(zipped(parts)).startswith("shapefile stops.dbf is damaged: it says it has 1000000 rows of")


def test_a_zip_without_its_index_or_without_a_shp() -> None:
    parts = shapefile_parts()
    del parts["stops.shx"]
    assert refused(zipped(parts)).startswith("shapefile stops.shp comes without its index stops.shx;")
    assert refused(zipped({"readme.txt": b"hello"}), "shp").startswith(
        "shapefile zip holds no .shp file, got readme.txt; a zipped Shapefile holds the .shp with its"
    )
    assert refused(zipped({"readme.txt": b"hello"})).startswith("file is a zip holding neither a .shp")
    with pytest.raises(InvalidInput, match=r"^a \.shp alone is not a whole Shapefile"):
        read_file(parts["stops.shp"], None, LIMITS, filename="stops.shp")


def gpkg_with(sql: str) -> bytes:
    return edited_geopackage(geopackage({"stops": (points(), "EPSG:4326", "Point")}), sql)


def test_a_geopackage_with_a_trigger_of_its_own_is_refused() -> None:
    made = geopackage({"stops": (points(), "EPSG:4326", "Point")})
    assert len(read_file(made, None, LIMITS).features) == 5, "GDAL's own triggers (R-tree, counts) are fine"
    evil = gpkg_with("CREATE TRIGGER wipe AFTER INSERT ON stops BEGIN DELETE FROM stops; END;")
    assert refused(evil) == (
        "gpkg has a trigger, 'wipe', that GeoPackages do not need: its body is not one the GeoPackage"
        " specification writes, and a trigger runs code when a table changes; drop it"
        ' (DROP TRIGGER "wipe") and send the file again'
    )
    disguised = gpkg_with(
        "CREATE TRIGGER rtree_stops_geom_insert2 AFTER INSERT ON stops BEGIN DELETE FROM stops; END;"
    )
    assert refused(disguised).startswith("gpkg has a trigger, 'rtree_stops_geom_insert2'")


def test_a_geopackage_that_declares_ten_gigabytes_is_refused_unread() -> None:
    data = bytearray(geopackage({"stops": (points(), "EPSG:4326", "Point")}))
    page = struct.unpack_from(">H", data, 16)[0]
    struct.pack_into(">I", data, 28, TEN_GB // page)
    with pytest.raises(PayloadTooLarge) as err:
        read_file(bytes(data), None, LIMITS)
    assert err.value.message == (
        f"gpkg declares {TEN_GB:,} bytes ({TEN_GB // page:,} pages of {page:,}) but holds {len(data):,};"
        " a cut-short or forged file: export it again from where it came"
    )


def test_an_sqlite_file_that_is_no_geopackage() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.db"
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE t (a)")
        db.commit()
        db.close()
        message = refused(path.read_bytes())
    assert message.startswith(
        "gpkg is an SQLite database but not a GeoPackage (it has no gpkg_contents table)"
    )


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def test_a_geoparquet_whose_footer_declares_ten_gigabytes_is_refused_unread() -> None:
    data = geoparquet(points(), None)
    meta = pq.ParquetFile(pa.BufferReader(data)).metadata
    group = meta.row_group(0)
    footer_length = struct.unpack_from("<I", data, len(data) - 8)[0]
    start = len(data) - 8 - footer_length
    footer = data[start : len(data) - 8]
    # RowGroup's total_byte_size (field 2) then num_rows (field 3), i64s in thrift's compact
    # protocol: a header byte 0x16 each, then the zigzag varint
    old = b"\x16" + _varint(group.total_byte_size * 2) + b"\x16" + _varint(group.num_rows * 2)
    new = b"\x16" + _varint(TEN_GB * 2) + b"\x16" + _varint(group.num_rows * 2)
    assert footer.count(old) == 1
    footer = footer.replace(old, new)
    forged = data[:start] + footer + struct.pack("<I", len(footer)) + b"PAR1"
    assert pq.ParquetFile(pa.BufferReader(forged)).metadata.row_group(0).total_byte_size == TEN_GB
    with pytest.raises(PayloadTooLarge) as err:
        read_file(forged, None, LIMITS)
    assert err.value.message == (
        f"geoparquet must unpack to at most {MAX_UNPACKED >> 20} MiB, got 10,240 MiB declared by its"
        " row groups; send a smaller file"
    )


@pytest.mark.parametrize(
    ("magic", "start"),
    [
        (b"SQLite format 3\x00", "gpkg is"),
        (b"fgb\x03fgb\x00", "fgb "),
        (b"PAR1", "geoparquet cannot be read:"),
    ],
)
def test_garbage_behind_magic_bytes(magic: bytes, start: str) -> None:
    garbage = magic + random.Random(61).randbytes(4096) + (b"PAR1" if magic == b"PAR1" else b"")
    assert refused(garbage).startswith(start)


def test_a_geometry_past_the_maps_points_is_refused_before_it_is_built() -> None:
    line = shapely.LineString([(2 + i / 1e4, 48) for i in range(500)])
    table = pa.table({"geometry": shapely.to_wkb([shapely.Point(2, 48), line])})
    with pytest.raises(PayloadTooLarge) as err:
        read_file(geoparquet(table, None), None, Limits(max_points=100, max_total_points=400))
    assert err.value.message == (
        "geoparquet feature 1 must have at most 400 points (max_total_points), got 500;"
        " simplify it before importing"
    )


def test_a_geometry_that_is_not_wkb_is_refused_by_its_index() -> None:
    wkb = [shapely.to_wkb(shapely.Point(2, 48)), b"\x01\x63\x00\x00\x00not a geometry"]
    table = pa.table({"geometry": pa.array(wkb, pa.binary())})
    message = refused(geoparquet(table, None))
    assert message.startswith("geoparquet feature 1: its geometry cannot be read (")
    assert message.endswith("export it again as simple features (ogr2ogr -nlt CONVERT_TO_LINEAR)")


def fgb_with_count(data: bytes, count: int) -> bytes:
    """``data``, a FlatGeobuf of 1,000 features, with its header's feature count set to ``count``."""
    (size,) = struct.unpack_from("<I", data, 8)
    header = data[12 : 12 + size]
    assert header.count(struct.pack("<Q", 1_000)) == 1
    at = 12 + header.index(struct.pack("<Q", 1_000))
    return data[:at] + struct.pack("<Q", count) + data[at + 8 :]


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda fgb: fgb[: len(fgb) // 2], "its features cannot be read ("),
        (lambda fgb: fgb[:-10], "its features cannot be read ("),
        (lambda fgb: fgb_with_count(fgb, 999), "its features cannot be read ("),
        (lambda fgb: fgb_with_count(fgb, 1_001), "its features cannot be read ("),
        (lambda fgb: fgb_with_count(fgb, 5_000), "its header declares 5,000 features, but 0 could be read;"),
        (lambda fgb: fgb[:2_000], "its header declares 1,000 features, but 0 could be read;"),
    ],
    ids=["half", "last_bytes", "count_999", "count_1001", "count_5000", "index_only"],
)
def test_a_flatgeobuf_cut_short_or_whose_header_lies_is_refused_clearly(
    damage: Callable[[bytes], bytes], expected: str
) -> None:
    whole = flatgeobuf(points(1_000), "EPSG:4326", "Point")
    assert len(read_file(whole, None, LIMITS).features) == 1_000
    message = refused(damage(whole))
    assert message.startswith(f"fgb is damaged or cut short: {expected}"), message
    assert message.endswith("; export it again")
