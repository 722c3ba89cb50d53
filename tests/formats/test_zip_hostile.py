"""Hostile zips (issue 72) are refused from their directory and headers, before zipfile parses
what they lie about or an array is built: extra fields that zipfile decodes in quadratic time, a
zip64 end record that hides them, a zip of 240 shapefiles, a ``.shx`` of 25 M records at one
offset, a ``.dbf`` of 255 fields of 254 characters, a KMZ of 8 M empty elements. Real zips, zip64
ones included, still open."""

from __future__ import annotations

import functools
import io
import struct
import time
import tracemalloc
import zipfile
from collections.abc import Callable

import pyarrow as pa
import pytest
import shapely
from support.bombs import extra_fields_zip, raw_zip, repeated, zip64_end
from support.gis_files import shapefile_zip

from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats import read_file
from mapsrv.formats.archive import MAX_EXTRA, MAX_TAGS, check_elements, open_zip
from mapsrv.formats.shapezip import MAX_DECODED, open_shapefiles

LIMITS = Limits()
HINT = "send it again"
MIB = 1 << 20


def refusal(call: Callable[[], object]) -> tuple[InvalidInput, float, int]:
    """The error ``call`` raises, the seconds it took and the most memory Python held meanwhile
    (numpy's arrays and zipfile's reads included)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(InvalidInput) as err:
            call()
        return err.value, time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def zipped(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return out.getvalue()


def shapefile_parts(n: int = 5) -> dict[str, bytes]:
    """A real Shapefile of ``n`` points (GDAL's), member by member."""
    table = pa.table(
        {
            "name": [f"stop {i}" for i in range(n)],
            "geometry": shapely.to_wkb(shapely.points([(2.0 + i / 10_000, 48.0) for i in range(n)])),
        }
    )
    with zipfile.ZipFile(io.BytesIO(shapefile_zip({"stops": (table, "EPSG:4326", "Point")}))) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


# Zip directories ------------------------------------------------------------------------------


def test_extra_fields_zipfile_would_decode_in_quadratic_time_are_refused_at_once() -> None:
    bomb = extra_fields_zip(10)  # 10 x 64 KiB: within the directory's 1 MiB, 0.4 s of zipfile's time
    err, seconds, _ = refusal(lambda: open_zip(bomb, "kmz", HINT))
    assert isinstance(err, PayloadTooLarge)
    assert err.message == (
        f"kmz member '0.png' must have an extra field of at most {MAX_EXTRA} bytes, got 65532; {HINT}"
    )
    assert seconds < 0.1


def test_a_zip64_end_record_that_hides_44_such_members_is_refused_at_once() -> None:
    members = extra_fields_zip(44)  # 2.9 MB: zipfile takes 1.5 s to open it
    size = struct.unpack_from("<L", members, len(members) - 10)[0]
    first = 46 + len("0.png") + 0xFFFC  # the directory's first entry alone
    bomb = zip64_end(members, said=(1, first))  # what an end record read alone would tell
    for data in (bomb, members):
        err, seconds, _ = refusal(functools.partial(open_zip, data, "kmz", HINT))
        assert isinstance(err, PayloadTooLarge)
        assert err.message == (
            f"kmz must have at most 1000 members in a 1 MiB directory, got 44 in {size} bytes; {HINT}"
        )
        assert seconds < 0.1
    err, seconds, _ = refusal(lambda: read_file(bomb, None, LIMITS))  # the page's and the tool's door
    assert err.message.startswith("kmz must have at most 1000 members in a 1 MiB directory, got 44 in")
    assert seconds < 0.5


def test_a_directory_that_is_not_what_its_end_records_say_is_refused() -> None:
    real = zipped({"doc.kml": b"<kml/>", "a.png": b""})
    size = struct.unpack_from("<L", real, len(real) - 22 + 12)[0]
    err, _, _ = refusal(lambda: open_zip(zip64_end(real, said=(1, size)), "kmz", HINT))
    assert err.message == (
        f"kmz is damaged: its zip64 end record says 2 members in {size} bytes, its end record 1 in"
        f" {size}; {HINT}"
    )
    hidden = zip64_end(real, said=(0xFFFF, 0xFFFF_FFFF), count=1)  # one member more than counted
    err, _, _ = refusal(lambda: open_zip(hidden, "kmz", HINT))
    assert err.message == (
        f"kmz is damaged: its directory does not hold the 1 members in {size} bytes its end record"
        f" says; {HINT}"
    )
    short = bytearray(real)
    struct.pack_into("<H", short, len(short) - 22 + 10, 1)
    assert refusal(lambda: open_zip(bytes(short), "kmz", HINT))[0].message.startswith(
        "kmz is damaged: its directory does not hold the 1 members"
    )
    spanned = bytearray(zip64_end(real))
    struct.pack_into("<L", spanned, len(spanned) - 22 - 4, 3)  # the locator's count of disks
    assert refusal(lambda: open_zip(bytes(spanned), "kmz", HINT))[0].message == (
        "kmz is one part of a zip split over 3 disks; join them in one zip"
    )


def kmz_zip64() -> bytes:
    """A KMZ as a zip64 writer leaves it: a member written as zip64, and a zip64 end record beside
    an end record that keeps only all ones."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        archive.writestr("doc.kml", KML)
        with archive.open("files/icon.png", "w", force_zip64=True) as member:
            member.write(b"\x89PNG" + bytes(100))
    return zip64_end(out.getvalue(), said=(0xFFFF, 0xFFFF_FFFF))


def commented() -> bytes:
    """A KMZ with a comment after its end record, and the extra fields Info-ZIP and Windows write
    (an extended timestamp, NTFS times: 45 bytes)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        entry = zipfile.ZipInfo("doc.kml", date_time=(2026, 1, 1, 0, 0, 0))
        entry.extra = (
            struct.pack("<HHB", 0x5455, 5, 1) + bytes(4) + struct.pack("<HH", 0x000A, 32) + bytes(32)
        )
        archive.writestr(entry, KML)
        archive.comment = b"written by a test"
    return out.getvalue()


KML = b"<kml><Placemark><name>here</name><Point><coordinates>2,48</coordinates></Point></Placemark></kml>"


@pytest.mark.parametrize(
    "make",
    [
        lambda: zipped({"doc.kml": KML}),
        lambda: zip64_end(zipped({"doc.kml": KML, "a.png": b""})),
        kmz_zip64,
        commented,
    ],
    ids=["zipfile", "zip64-end", "zip64-all-ones", "comment-and-extras"],
)
def test_real_zips_zip64_ones_too_still_open(make: Callable[[], bytes]) -> None:
    data = make()
    with open_zip(data, "kmz", HINT) as archive:
        assert "doc.kml" in archive.namelist()
        assert archive.read("doc.kml") == KML
    imported = read_file(data, None, LIMITS)
    assert [f.label for f in imported.features] == ["here"]
    with open_zip(b"#!/bin/sh\nexit\n" + data, "kmz", HINT) as archive:  # a stub before it, as sfx have
        assert archive.read("doc.kml") == KML


# Shapefiles -------------------------------------------------------------------------------------


def test_a_zip_of_more_shapefiles_than_a_map_has_layers_is_refused_from_its_listing() -> None:
    parts = shapefile_parts()
    parts = {name: parts[name] for name in ("stops.shp", "stops.shx", "stops.dbf", "stops.prj")}
    many = zipped({f"s{i}{name[5:]}": body for i in range(240) for name, body in parts.items()})
    err, seconds, _ = refusal(lambda: read_file(many, None, LIMITS))
    assert isinstance(err, PayloadTooLarge)
    assert err.message == (
        f"shapefile zip must hold at most {LIMITS.max_layers} shapefiles, a map's layers (max_layers), got"
        " 240; name the one to read with file_layer, or split the zip"
    )
    assert seconds < 1
    one = read_file(many, None, LIMITS, file_layer="s7")
    assert len(one.features) == 5
    _, shapes = open_shapefiles(many, "s7", max_layers=1)
    assert [s.name for s in shapes] == ["s7"]
    three = zipped({f"s{i}{name[5:]}": body for i in range(3) for name, body in parts.items()})
    assert len(open_shapefiles(three, None, max_layers=3)[1]) == 3
    with pytest.raises(PayloadTooLarge, match=r"^shapefile zip must hold at most 2 shapefiles, .* got 3;"):
        open_shapefiles(three, None, max_layers=2)


def test_a_shx_of_25_million_records_at_one_offset_is_refused_before_it_is_unzipped() -> None:
    parts = shapefile_parts()
    records = 25_000_000
    head = bytearray(parts["stops.shx"][:100])
    struct.pack_into(">i", head, 24, (100 + 8 * records) // 2)  # the file's length, in 16-bit words
    shx = repeated(bytes(head), struct.pack(">ii", 50, 10), records)  # every record at byte 100
    bomb = raw_zip({**parts, "stops.shx": shx})
    assert len(bomb) < 300_000 and shx.size == 200_000_100
    expected = (
        f"shapefile stops.shx is damaged: it indexes {records} records, where stops.shp (240 bytes)"
        " holds at most 11; rebuild the index (ogr2ogr or QGIS can) and send it again"
    )
    err, seconds, peak = refusal(lambda: open_shapefiles(bomb, None))
    assert err.message == expected
    assert seconds < 1 and peak < 16 * MIB
    assert refusal(lambda: read_file(bomb, None, LIMITS))[0].message == expected


def test_a_shx_whose_records_overlap_is_refused() -> None:
    """100 record headers in a row, each claiming the rest of the file: each points where it
    should, and GDAL would read the rest of the file 100 times."""
    parts, n = shapefile_parts(), 100
    shp = bytearray(parts["stops.shp"][:100] + bytes(8 * n + 10_000))
    struct.pack_into(">i", shp, 24, len(shp) // 2)
    index = bytearray(parts["stops.shx"][:100])
    for i in range(n):
        at = 100 + 8 * i
        length = (len(shp) - at - 8) // 2
        struct.pack_into(">ii", shp, at, i + 1, length)
        index += struct.pack(">ii", at // 2, length)
    struct.pack_into(">i", index, 24, len(index) // 2)
    bomb = zipped({**parts, "stops.shp": bytes(shp), "stops.shx": bytes(index)})
    err, _, _ = refusal(lambda: read_file(bomb, None, LIMITS))
    assert err.message.startswith("shapefile stops.shx is damaged: its records take ")
    assert f"bytes of stops.shp in all, which has {len(shp) - 100} after its header;" in err.message


def test_a_dbf_of_255_fields_of_254_characters_is_refused_before_it_is_unzipped() -> None:
    rows, fields, width = 4_000, 255, 254
    parts = shapefile_parts(rows)
    header = struct.pack("<B3BIHH20x", 3, 126, 1, 1, rows, 32 + 32 * fields + 1, 1 + fields * width)
    for i in range(fields):
        header += struct.pack("<11sc4xBB14x", f"f{i}".encode(), b"C", width, 0)
    dbf = repeated(header + b"\r", b" " + b"x" * (fields * width), rows, b"\x1a")
    bomb = raw_zip({**parts, "stops.dbf": dbf})
    assert len(bomb) < 400_000 and dbf.size > 247 * MIB
    err, seconds, peak = refusal(lambda: open_shapefiles(bomb, None))
    assert isinstance(err, PayloadTooLarge)
    assert err.message == (
        f"shapefile stops.dbf must take at most {MAX_DECODED >> 20} MiB to read, got 4000 rows of 255"
        " fields, 64770 characters a row: about 870 MiB; send fewer rows or fields (ogr2ogr -select,"
        " -where), or split it"
    )
    assert seconds < 1 and peak < 16 * MIB
    assert refusal(lambda: read_file(bomb, None, LIMITS))[0].message == err.message


# KMZ ---------------------------------------------------------------------------------------------


def test_a_kmz_of_8_million_empty_elements_is_refused_before_it_is_parsed() -> None:
    elements = 8_000_000
    body = repeated(b"<kml><Document>", b"<a/>", elements, b"</Document></kml>")
    kmz = raw_zip({"doc.kml": body})
    assert len(kmz) < 40_000
    err, seconds, peak = refusal(lambda: read_file(kmz, None, LIMITS))
    assert isinstance(err, PayloadTooLarge)
    assert err.message == (
        f"kmz doc.kml must have at most {MAX_TAGS:,} tags, got {elements + 4:,}: its tree would take"
        " about 976 MiB to read; split the file"
    )
    # unzipped (zipfile's read holds it twice as it ends), never parsed: a tree would take 1 GB
    assert seconds < 2 and peak < 3 * body.size


def test_tags_are_counted_in_bytes_and_in_decoded_text() -> None:
    check_elements(b"<" * MAX_TAGS, "kml")
    check_elements("<" * MAX_TAGS, "kml")
    with pytest.raises(
        PayloadTooLarge, match=rf"^kml must have at most {MAX_TAGS:,} tags, got {MAX_TAGS + 1:,}:"
    ):
        check_elements("<" * (MAX_TAGS + 1), "kml")
    utf7 = b"+ADw-a/+AD4-" * 10  # <a/> as UTF-7 spells it: no "<" byte, ten in its text
    check_elements(utf7, "kml")
    with pytest.raises(PayloadTooLarge):
        check_elements(utf7.decode("utf-7") * (MAX_TAGS // 10 + 1), "kml")
