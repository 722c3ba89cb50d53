"""A big upload the page spooled to disk (issue 61, item 4): a GeoPackage, FlatGeobuf or
GeoParquet is read from its path in batches, to the same features as from its bytes, its rows
counted in ``Progress`` against the rows the file declares; the GeoPackage checks hold on disk
too; a format read whole is refused past ``MAX_WHOLE`` with the way out named; and a read whose
``check`` raises (its client left) stops at the next batch, even when none of its rows is a feature."""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path

import pyarrow as pa
import pytest
from support.gis_files import flatgeobuf, geopackage, geoparquet, noted_points

import mapsrv.formats
import mapsrv.formats.geoparquet
import mapsrv.formats.ogr
from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats import Progress, read_file
from mapsrv.formats.collect import CHECK_EVERY

LIMITS = Limits()
ROWS = 20_000  # three batches of 8,192 rows


def _files() -> dict[str, bytes]:
    table = noted_points(ROWS, 20)
    return {
        "gpkg": geopackage(
            {"a": (table, "EPSG:4326", "Point"), "b": (table.slice(0, 100), "EPSG:4326", "Point")}
        ),
        "fgb": flatgeobuf(table, "EPSG:4326", "Point"),
        "parquet": geoparquet(table, None),
    }


@pytest.mark.parametrize("fmt", ["gpkg", "fgb", "parquet"])
def test_a_file_on_disk_reads_as_its_bytes_do_and_counts_its_rows(tmp_path: Path, fmt: str) -> None:
    data = _files()[fmt]
    path = tmp_path / "upload"  # no extension: the content says what it is
    path.write_bytes(data)
    progress = Progress()
    assert progress.fraction() is None
    from_disk = read_file(path, None, LIMITS, progress=progress)
    from_memory = read_file(data, None, LIMITS)
    rows = ROWS + 100 if fmt == "gpkg" else ROWS
    assert from_disk.format == fmt and len(from_disk.features) == rows
    assert from_disk.features == from_memory.features and from_disk.notes == from_memory.notes
    assert (progress.done, progress.total, progress.fraction()) == (rows, rows, 1.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upload"], "nothing written beside it"


def test_the_geopackage_checks_hold_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "upload"
    path.write_bytes(geopackage({"stops": (noted_points(5), "EPSG:4326", "Point")}))
    db = sqlite3.connect(path)
    db.executescript("CREATE TRIGGER wipe AFTER INSERT ON stops BEGIN DELETE FROM stops; END;")
    db.close()
    with pytest.raises(InvalidInput) as err:
        read_file(path, None, LIMITS)
    assert err.value.message.startswith("gpkg has a trigger, 'wipe', that GeoPackages do not need")
    data = bytearray(geopackage({"stops": (noted_points(5), "EPSG:4326", "Point")}))
    page = struct.unpack_from(">H", data, 16)[0]
    struct.pack_into(">I", data, 28, 10 * 2**30 // page)
    path.write_bytes(data)
    with pytest.raises(PayloadTooLarge) as too_big:
        read_file(path, None, LIMITS)
    assert too_big.value.message.startswith(f"gpkg declares {10 * 2**30:,} bytes")


def test_a_format_read_whole_stops_at_its_own_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "upload"
    path.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
        ' "geometry": {"type": "Point", "coordinates": [6.2, 46.4]}}]}' + " " * 2_000_000
    )
    assert len(read_file(path, None, LIMITS).features) == 1
    monkeypatch.setattr(mapsrv.formats, "MAX_WHOLE", 1 << 20)
    with pytest.raises(PayloadTooLarge) as err:
        read_file(path, None, LIMITS)
    assert err.value.message == (
        "file must be at most 1 MiB in this format, which is read whole, got 2 MiB; send it as a"
        " GeoPackage, FlatGeobuf or GeoParquet (read in batches, up to MAPSRV_MAX_FILE_SIZE), or split it"
    )


def test_a_read_whose_check_raises_stops_at_the_next_batch(tmp_path: Path) -> None:
    class Left(Exception):
        pass

    def check() -> None:
        raise Left

    path = tmp_path / "upload"
    path.write_bytes(_files()["parquet"])
    progress = Progress(check)
    with pytest.raises(Left):
        read_file(path, None, LIMITS, progress=progress)
    assert (progress.done, progress.total) == (8_192, ROWS)


@pytest.mark.parametrize("fmt", ["gpkg", "parquet"])
def test_a_read_of_rows_without_geometry_stops_at_the_next_batch_once_its_client_left(
    tmp_path: Path, fmt: str
) -> None:
    """No row of this file becomes a feature, so no feature's check comes: the check between
    batches alone stops the read whose client left, at its first batch, not after 100,000 rows."""

    class Left(Exception):
        pass

    def check() -> None:
        raise Left

    rows = 100_000
    table = pa.table({"count": pa.array(range(rows)), "geometry": pa.nulls(rows, pa.binary())})
    path = tmp_path / "upload"
    path.write_bytes(
        geopackage({"rows": (table, "EPSG:4326", "Point")}) if fmt == "gpkg" else geoparquet(table, None)
    )
    progress = Progress(check)
    try:
        read = read_file(path, fmt, LIMITS, progress=progress)
    except Left:
        read = None
    assert read is None, f"the read went on to the end of its {rows:,} rows after its client left"
    batch = mapsrv.formats.ogr.BATCH if fmt == "gpkg" else mapsrv.formats.geoparquet.BATCH
    assert (progress.done, progress.total) == (batch, rows), "it stops at the end of its first batch"


def test_a_read_of_any_format_stops_when_its_check_raises() -> None:
    """A GeoJSON of 5,000 points (read whole, no batches) asks its check every CHECK_EVERY
    features: a check that raises on its second call ends the read there, not at the end."""

    class Left(Exception):
        pass

    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise Left

    points = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [i / 1000, 0]}, "properties": {}}
        for i in range(5_000)
    ]
    data = json.dumps({"type": "FeatureCollection", "features": points}).encode()
    assert len(read_file(data, "geojson", LIMITS, check=lambda: None).features) == 5_000
    with pytest.raises(Left):
        read_file(data, "geojson", LIMITS, check=check)
    assert len(calls) == 2 and 2 * CHECK_EVERY < 5_000
