"""Budgets that see what a file really decodes to (issue 72): a GeoParquet whose dictionary pages
repeat one big line or text for every row is refused before pyarrow expands it, its ``geo``
metadata is checked part by part (a 400, never a 500), a GeoJSON or KML is refused by the count of
its objects, arrays and elements before it is parsed, and a binary file sent base64-encoded to the
MCP ``import`` tool is known by the base64 of its magic bytes."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from support.gis_files import flatgeobuf, geoparquet, noted_points
from support.natural_earth import countries_geojson

from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats import gisrows, read_file, sliced_json
from mapsrv.formats.collect import Collector
from mapsrv.formats.detect import BINARY_MAGIC, base64_prefix, detect_format
from mapsrv.formats.geoparquet import MAX_BATCH_BYTES, MAX_DECODED, decoded_bytes
from mapsrv.formats.kml import read_kml
from mapsrv.formats.sliced_json import NODE_BUDGET, NODE_COST, STRING_COST, check_nodes
from mapsrv.mcp.tools.files import _BINARY_B64, _decode

LIMITS = Limits()
GEO = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": {"encoding": "WKB"}}}
ROWS = 100_000
# Run in a child whose address space is capped as the sandbox's reader will be: a read that needs
# more than the cap fails (or is killed) there, and the budgets must refuse it first. A small
# file is read before the measured one, so that the libraries it loads are not counted.
CHILD = textwrap.dedent(
    """
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    from pathlib import Path
    import pyarrow as pa
    from mapsrv.core.model import Limits
    from mapsrv.errors import MapsrvError
    from mapsrv.formats import read_file
    read_file(Path(sys.argv[1]).read_bytes(), None, Limits())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        read_file(Path(sys.argv[2]).read_bytes(), None, Limits())
        found = {"error": None, "message": ""}
    except MapsrvError as exc:
        found = {"error": type(exc).__name__, "message": exc.message}
    found["arrow_peak"] = pa.default_memory_pool().max_memory()
    found["rss_growth"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    print(json.dumps(found))
    """
)


def with_geo(table: pa.Table, geo: Any = GEO) -> pa.Table:
    raw = geo if isinstance(geo, bytes) else json.dumps(geo).encode()
    return table.replace_schema_metadata({b"geo": raw})


def written(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out, use_dictionary=True, compression="zstd")
    return out.getvalue()


def repeated(value: bytes | str, rows: int, kind: pa.DataType) -> pa.DictionaryArray:
    """``value`` for every one of ``rows`` rows, held once: what a dictionary page makes of it."""
    indices = pa.array(np.zeros(rows, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array([value], kind))


def line(points: int) -> bytes:
    """A line of ``points`` points, back and forth between two (it compresses to nothing)."""
    xy = np.tile([[2.0, 48.0], [3.0, 49.0]], (points // 2, 1))
    return bytes(shapely.to_wkb(shapely.linestrings(xy)))


def stops(rows: int) -> pa.Array:
    return pa.array(shapely.to_wkb(shapely.points(np.full(rows, 2.35), np.full(rows, 48.85))))


def read_in_child(data: bytes) -> dict[str, Any]:
    """``data`` read in a child limited to 1 GiB of address space: what it said, the peak of
    Arrow's memory and the growth of its peak RSS over the read."""
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp) / "small.parquet", Path(tmp) / "big.parquet"
        small.write_bytes(written(with_geo(pa.table({"name": ["a"], "geometry": stops(1)}))))
        big.write_bytes(data)
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(small), str(big)], capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 0, done.stderr[-2000:]  # refused, not killed nor failed
    found: dict[str, Any] = json.loads(done.stdout)
    return found


# GeoParquet: dictionary pages ----------------------------------------------------------------


def test_a_100000_point_line_shared_by_every_row_is_refused_before_it_is_expanded() -> None:
    big = line(100_000)
    data = written(with_geo(pa.table({"geometry": repeated(big, ROWS, pa.binary())})))
    assert len(data) < 16_384  # 1.6 MB of WKB for each of 100,000 rows: 160 GB expanded
    found = read_in_child(data)
    assert found["error"] == "PayloadTooLarge"
    assert found["message"] == (
        f"geoparquet's rows 0-8191 decode to 12,500 MiB, more than {MAX_BATCH_BYTES >> 20} MiB per 8192"
        " rows (its column 'geometry': 12,500 MiB); send a smaller file"
    )
    assert found["arrow_peak"] < 16 << 20
    assert found["rss_growth"] < 64 << 20


def test_a_megabyte_of_text_shared_by_every_row_is_refused_before_it_is_expanded() -> None:
    table = pa.table({"note": repeated("x" * 2**20, ROWS, pa.string()), "geometry": stops(ROWS)})
    data = written(with_geo(table))
    assert len(data) < 200_000
    found = read_in_child(data)
    assert found["error"] == "PayloadTooLarge"
    assert found["message"].startswith("geoparquet's rows 0-8191 decode to 8,192 MiB, more than")
    assert found["message"].endswith("(its column 'note': 8,192 MiB); send a smaller file")
    assert found["arrow_peak"] < 16 << 20
    assert found["rss_growth"] < 64 << 20


def test_text_within_each_batch_is_refused_past_the_whole_files_budget() -> None:
    """548 bytes of dictionary text used to be accepted at +2.2 GB: rows of 4,000 characters
    each (a property's cap) pass batch by batch, and the whole file's budget stops them."""
    table = pa.table({"note": repeated("y" * 4_000, ROWS, pa.string()), "geometry": stops(ROWS)})
    found = read_in_child(written(with_geo(table)))
    assert found["error"] == "PayloadTooLarge"
    batches = MAX_DECODED // (8_192 * 4_000)
    assert found["message"] == (
        f"geoparquet decodes to more than {MAX_DECODED >> 20} MiB by its rows {8_192 * batches}-"
        f"{8_192 * (batches + 1) - 1} (its column 'note' the most); send a smaller file"
    )
    assert found["rss_growth"] < 256 << 20  # the rows read share one string


def test_a_nested_list_of_shared_text_is_counted_at_its_values() -> None:
    big = "z" * 2**20
    tags = pa.array([[big, big]] * 1_000, pa.list_(pa.string()))
    data = written(with_geo(pa.table({"tags": tags, "geometry": stops(1_000)})))
    with pytest.raises(PayloadTooLarge, match=r"^geoparquet's rows 0-999 decode to 2,000 MiB, .*'tags'"):
        read_file(data, None, LIMITS)


def test_decoded_bytes_counts_a_dictionarys_value_for_every_row_without_expanding_it() -> None:
    shared = repeated(b"w" * 1_000, 5_000, pa.binary())
    assert decoded_bytes(shared) == 5_000 * 1_000 + 5_000 * 4  # the values, and the indices
    assert decoded_bytes(shared) == pytest.approx(shared.cast(pa.binary()).nbytes, rel=0.01)  # expanded
    nested = pa.array([{"a": ["bb", "cc"]}, None], pa.struct([("a", pa.list_(pa.string()))]))
    assert decoded_bytes(nested) >= 4


def test_a_line_repeated_past_the_maps_point_cap_is_refused_before_any_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[Any] = []
    real = gisrows.shape

    def shape(geometry: Any) -> tuple[str, Any]:
        built.append(geometry)
        return real(geometry)

    monkeypatch.setattr(gisrows, "shape", shape)
    table = pa.table({"geometry": repeated(line(1_000), 2_000, pa.binary())})
    with pytest.raises(PayloadTooLarge) as err:
        read_file(written(with_geo(table)), None, LIMITS)
    assert err.value.message == (
        "geoparquet must hold at most 1000000 points in all (max_total_points), got more by"
        " geoparquet feature 1000; pass simplify (metres, e.g. 5) or split the file"
    )
    assert built == []
    # thinned, each line may keep fewer points: ten times the cap is read at most
    small = Limits(max_total_points=10_000)
    with pytest.raises(PayloadTooLarge, match="got more by geoparquet feature 100; pass simplify"):
        read_file(written(with_geo(table)), None, small, simplify=5)
    assert built == []


def test_shared_values_read_as_each_row_holds_them() -> None:
    kinds = pa.DictionaryArray.from_arrays(
        pa.array([0, 1, None, 0, 2, 0] * 3), pa.array(["bus", "tram", "x"])
    )
    points = pa.array([bytes(shapely.to_wkb(shapely.points(2.0 + i / 10, 48.0))) for i in range(3)])
    where = pa.DictionaryArray.from_arrays(pa.array([0, 1, 2, 0, None, 1] * 3), points)
    imported = read_file(written(with_geo(pa.table({"kind": kinds, "geometry": where}))), None, LIMITS)
    kinds_read = [dict(f.properties).get("kind") for f in imported.features]
    assert kinds_read == ["bus", "tram", None, "bus", "bus"] * 3
    assert [f.coords for f in imported.features][:3] == [(48.0, 2.0), (48.0, 2.1), (48.0, 2.2)]
    assert imported.notes[0].startswith(
        "skipped features without a geometry: geoparquet feature 4, geoparquet feature 10,"
    )


def test_an_ordinary_100000_point_geoparquet_is_read_whole() -> None:
    table = noted_points(ROWS, 20)
    imported = read_file(geoparquet(table, None), None, LIMITS)
    assert len(imported.features) == ROWS
    last = imported.features[-1]
    assert dict(last.properties)["note"] == table.column("note")[-1].as_py()
    lon, lat = shapely.get_coordinates(shapely.from_wkb(table.column("geometry")[-1].as_py()))[0]
    assert last.coords == pytest.approx((lat, lon))


# GeoParquet: the geo metadata ----------------------------------------------------------------


def entry(value: Any) -> dict[str, Any]:
    return {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": value}}


DEEP = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(
    ("geo", "message"),
    [
        ({**GEO, "primary_column": "geom"}, "columns have no entry for its primary column 'geom';"),
        (entry("WKB"), "columns entry 'geometry' must be an object, got a string;"),
        (entry(["WKB"]), "columns entry 'geometry' must be an object, got an array;"),
        ({**GEO, "columns": ["geometry"]}, "columns must be an object, got an array;"),
        ({**GEO, "columns": "geometry"}, "columns must be an object, got a string;"),
        ({**GEO, "primary_column": 5}, "primary_column must be a column's name, got a number;"),
        ({**GEO, "primary_column": ["geometry"]}, "primary_column must be a column's name, got an array;"),
        ({**GEO, "primary_column": None}, "primary_column must be a column's name, got null;"),
        (["geometry"], "metadata must be an object, got an array;"),
        (DEEP, "metadata is nested too deeply to read;"),
        (b'{"primary_column": "g\xffeometry"}', "metadata is not UTF-8 at byte 21;"),
        (b'{"primary_column": ', "metadata is not JSON (Expecting value: line 1 column 20"),
    ],
)
def test_malformed_geo_metadata_is_a_clear_refusal(geo: Any, message: str) -> None:
    data = written(with_geo(pa.table({"geometry": stops(2)}), geo))
    with pytest.raises(InvalidInput) as err:
        read_file(data, None, LIMITS)
    assert type(err.value) is InvalidInput
    assert err.value.message.startswith("geoparquet's 'geo' " + message), err.value.message


def test_a_crs_that_is_neither_projjson_nor_text_is_refused() -> None:
    data = written(with_geo(pa.table({"geometry": stops(2)}), entry({"encoding": "WKB", "crs": 4326})))
    with pytest.raises(
        InvalidInput, match=r"^geoparquet column 'geometry''s crs must be PROJJSON \(an object\)"
    ):
        read_file(data, None, LIMITS)


def test_a_primary_column_that_holds_no_wkb_is_refused() -> None:
    data = written(with_geo(pa.table({"geometry": pa.array([1, 2])})))
    with pytest.raises(InvalidInput, match=r"^geoparquet's primary column 'geometry' holds int64, not WKB;"):
        read_file(data, None, LIMITS)


def test_an_odd_covering_is_left_alone() -> None:
    for covering in (["bbox"], {"bbox": ["x"]}, {"bbox": {"xmin": [["bbox"], "xmin"]}}):
        geo = entry({"encoding": "WKB", "covering": covering})
        imported = read_file(written(with_geo(pa.table({"geometry": stops(2)}), geo)), None, LIMITS)
        assert len(imported.features) == 2


# Detection of base64 binary files ------------------------------------------------------------


def real_files() -> dict[bytes, bytes]:
    """A real file of each binary format mapsrv reads, by the magic bytes it starts with."""
    kmz, empty = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(kmz, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("doc.kml", "<kml/>")
    zipfile.ZipFile(empty, "w").close()
    with tempfile.TemporaryDirectory() as tmp:
        with sqlite3.connect(Path(tmp) / "data.gpkg") as db:
            db.execute("CREATE TABLE t (a)")
        db.close()
        sqlite = (Path(tmp) / "data.gpkg").read_bytes()
    table = pa.table({"name": ["a"], "geometry": stops(1)})
    files = [kmz.getvalue(), empty.getvalue(), sqlite, flatgeobuf(table, "EPSG:4326", "Point")]
    files.append(geoparquet(table, None))
    return {next(m for m in BINARY_MAGIC if f.startswith(m)): f for f in files}


def test_every_magics_base64_prefix_starts_the_base64_of_a_real_file() -> None:
    files = real_files()
    assert set(files) == set(BINARY_MAGIC)
    for magic, data in files.items():
        encoded = base64.b64encode(data).decode()
        assert encoded.startswith(base64_prefix(magic)), magic
        assert len(base64_prefix(magic)) == len(magic) * 8 // 6
    assert _BINARY_B64 == tuple(base64_prefix(magic) for magic in BINARY_MAGIC)
    assert base64.b64encode(files[b"PAR1"]).startswith(b"UEFSMRU")  # "PAR1" then 0x15: not "UEFSMQ"


def test_a_real_file_sent_base64_without_a_format_is_known_by_its_bytes() -> None:
    for data in real_files().values():
        wrapped = "\n".join(textwrap.wrap(base64.b64encode(data).decode(), 76))
        assert _decode(wrapped, None) == data
    parquet = real_files()[b"PAR1"]
    assert detect_format(_decode(base64.b64encode(parquet).decode(), None)) == "parquet"
    assert _decode("name,lat,lon\nUEFSM,1,2\n", None) == b"name,lat,lon\nUEFSM,1,2\n"


# GeoJSON and KML: the cost of their nodes -----------------------------------------------------


def traced(parse: Any) -> int:
    """The bytes of Python objects ``parse()`` leaves, as tracemalloc sees them."""
    tracemalloc.start()
    try:
        kept = parse()
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return size


def counted(data: bytes) -> int:
    """What ``check_nodes`` counts ``data`` at."""
    return (data.count(b"{") + data.count(b"[")) * NODE_COST + data.count(b'"') // 2 * STRING_COST


def keys(n: int, value: str = "0") -> str:
    return "{" + ",".join(f'"k{i:03d}":{value}' for i in range(n)) + "}"


@pytest.mark.parametrize(
    "item",
    ["{}", "[]", "[[]]", "[{}]", '{"a":{}}', '{"a":0}', '{"ab":"cd"}', '["ab","cd"]', "[1.5,2.5]", '"ab"',
     keys(6), keys(11), keys(22), keys(44), keys(9, '"a"'), keys(100, '"abc"')],
)  # fmt: skip
def test_no_document_takes_more_than_it_is_counted_at(item: str) -> None:
    data = ('{"features":[' + ",".join([item] * 5_000) + "]}").encode()
    assert traced(lambda: sliced_json.loads(data)) <= counted(data)


def test_a_geojson_of_millions_of_empty_objects_is_refused_before_it_is_parsed() -> None:
    data = b'{"type": "FeatureCollection", "features": [' + b"{}," * 3_000_000 + b"{}]}"
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge) as err:
            read_file(data, None, LIMITS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.value.message == (
        f"geojson would take about {counted(data) >> 20:,} MiB parsed (3,000,003 objects and arrays, 3"
        f" strings), more than {NODE_BUDGET >> 20} MiB; split the file, or simplify its lines"
    )
    assert peak < 1 << 20  # not even decoded


def test_real_countries_as_big_as_natural_earths_10m_are_well_within_the_budget() -> None:
    """Natural Earth's 1:50m countries six times over: 25 MB, the shape and size of the 1:10m
    file (24 MB, 557,000 objects and arrays), and what parsing it really takes."""
    features = countries_geojson("50m")["features"] * 6
    data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    assert len(data) > 24_000_000 and counted(data) < NODE_BUDGET // 3
    check_nodes(data, "geojson")
    real = traced(lambda: sliced_json.loads(data))
    assert real <= counted(data) <= 2 * real


def test_a_kml_of_millions_of_empty_elements_is_refused_before_it_is_parsed() -> None:
    from mapsrv.formats.archive import MAX_TAGS

    data = b"<kml><Document>" + b"<a/>" * MAX_TAGS + b"</Document></kml>"
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge) as err:
            read_kml(data, Collector("kml", LIMITS))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.value.message.startswith(f"kml must have at most {MAX_TAGS:,} tags, got {MAX_TAGS + 4:,}")
    assert peak < 2 * len(data) + (1 << 20)  # its text, decoded; no tree
