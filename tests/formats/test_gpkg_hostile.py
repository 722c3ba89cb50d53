"""Hostile GeoPackages (issue 72) are refused before GDAL opens them, by what they are rather than
what they are called: a layer that is a view (one over a recursive CTE of 10^15 rows counts for
ever inside GDAL, holding the interpreter), a virtual table or a computed column, thousands of
layers, a trigger whose body is not the specification's whatever its name; while GeoPackages as
GDAL writes them, with a raster's tile pyramid beside them, are read. A batch of rows past the
byte budget is refused, and GDAL's own cap on it is set for GeoPackages only."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyogrio
import pytest
import shapely
from support.gis_files import edited_geopackage, flatgeobuf, geopackage

from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats import ogr, read_file
from mapsrv.formats.gpkg import check_geopackage

LIMITS = Limits()
ENDLESS = (  # the view: 10^15 rows, each the first stop's point
    "CREATE VIEW endless AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
    " WHERE i < 1000000000000000) SELECT i AS fid, (SELECT geom FROM stops LIMIT 1) AS geom FROM n;"
    " INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)"
    " VALUES ('endless', 'features', 'endless', 4326);"
    " INSERT INTO gpkg_geometry_columns VALUES ('endless', 'geom', 'POINT', 4326, 0, 0);"
)


def points(n: int = 5, note: str = "") -> pa.Table:
    columns: dict[str, Any] = {"name": [f"stop {i}" for i in range(n)]}
    if note:
        columns["note"] = [note] * n
    columns["geometry"] = shapely.to_wkb(shapely.points([(14.4 + i / 100, 50.1) for i in range(n)]))
    return pa.table(columns)


def edited(sql: str, layers: dict[str, Any] | None = None) -> bytes:
    """A GeoPackage GDAL wrote (``layers``, else five stops), then changed by ``sql``."""
    return edited_geopackage(geopackage(layers or {"stops": (points(), "EPSG:4326", "Point")}), sql)


def refused(data: bytes, **kwargs: Any) -> str:
    with pytest.raises(InvalidInput) as err:
        read_file(data, None, LIMITS, **kwargs)
    return err.value.message


def schema(data: bytes, kind: str) -> list[str]:
    db = sqlite3.connect(":memory:")
    db.deserialize(data)
    try:
        return [str(name) for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = ?", (kind,))]
    finally:
        db.close()


def refuse_gdal(monkeypatch: pytest.MonkeyPatch, *calls: str) -> None:
    """Make these calls of pyogrio's (each opens the file) fail the test: the file was to be
    refused before. A call that ran instead might count 10^15 rows, or open 3,000 layers."""

    def opened(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("GDAL opened a file that was to be refused before")

    for name in calls:
        monkeypatch.setattr(pyogrio, name, opened)


@pytest.fixture
def no_gdal(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_gdal(monkeypatch, "list_layers", "read_info", "open_arrow")


def test_a_geopackage_as_gdal_writes_it_is_read_with_its_triggers() -> None:
    odd = 'odd "name" x'
    data = edited("", {"stops": (points(), "EPSG:4326", "Point"), odd: (points(3), "EPSG:4326", "Point")})
    triggers = schema(data, "trigger")
    for name in ("rtree_stops_geom_insert", "rtree_stops_geom_update6", "rtree_stops_geom_delete"):
        assert name in triggers, triggers
    assert f"trigger_insert_feature_count_{odd}" in triggers
    assert f"rtree_{odd}_geom_update5" in triggers
    imported = read_file(data, None, LIMITS)
    assert len(imported.features) == 8
    assert [layer.name for layer in imported.layers] == ["stops", odd]


def tile_pyramid(table: str, where: str) -> str:
    """A raster's tile table of one 1x1 zoom level, with the six triggers of the specification's
    tile pyramid (Annex D), as ``where`` (its test of gpkg_tile_matrix's table_name) writes them."""
    test = where.format(table)
    zoom = f"NOT (NEW.zoom_level IN (SELECT zoom_level FROM gpkg_tile_matrix WHERE {test}))"
    sql = [
        f'CREATE TABLE "{table}" (id INTEGER PRIMARY KEY AUTOINCREMENT, zoom_level INTEGER NOT NULL,'
        " tile_column INTEGER NOT NULL, tile_row INTEGER NOT NULL, tile_data BLOB NOT NULL,"
        " UNIQUE (zoom_level, tile_column, tile_row));",
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, min_x, min_y, max_x, max_y, srs_id)"
        f" VALUES ('{table}', 'tiles', '{table}', 14.2, 49.9, 14.7, 50.2, 4326);",
        f"INSERT INTO gpkg_tile_matrix_set VALUES ('{table}', 4326, 14.2, 49.9, 14.7, 50.2);",
        f"INSERT INTO gpkg_tile_matrix VALUES ('{table}', 0, 1, 1, 256, 256, 0.002, 0.002);",
    ]
    for event, on in (("insert", "INSERT"), ("update", "UPDATE OF {}")):
        message = f"'{event} on table ''{table}'' violates constraint: {{}}'"
        checks = {"zoom": ("zoom_level", [(message.format("zoom_level not specified"), zoom)])}
        for part, size in (("column", "matrix_width"), ("row", "matrix_height")):
            within = f"(SELECT {size} FROM gpkg_tile_matrix WHERE {test} AND zoom_level = NEW.zoom_level)"
            checks[f"tile_{part}"] = (
                f"tile_{part}",
                [
                    (message.format(f"tile_{part} cannot be < 0"), f"(NEW.tile_{part} < 0)"),
                    (message.format(f"tile_{part} must by < {size}"), f"NOT (NEW.tile_{part} < {within})"),
                ],
            )
        for stem, (column, raises) in checks.items():
            body = " ".join(f"SELECT RAISE(ABORT, {m}) WHERE {w};" for m, w in raises)
            sql.append(
                f'CREATE TRIGGER "{table}_{stem}_{event}" BEFORE {on.format(column)} ON "{table}"'
                f" FOR EACH ROW BEGIN {body} END;"
            )
    return "\n".join(sql)


@pytest.mark.parametrize("where", ["lower(table_name) = lower('{}')", "table_name = '{}'"])
def test_a_geopackage_with_a_rasters_tile_pyramid_is_read(where: str) -> None:
    data = edited(tile_pyramid("praha_ortofoto", where))
    assert len([t for t in schema(data, "trigger") if t.startswith("praha_ortofoto_")]) == 6
    db = sqlite3.connect(":memory:")
    db.deserialize(data)
    insert = "INSERT INTO praha_ortofoto (zoom_level, tile_column, tile_row, tile_data)"
    db.execute(f"{insert} VALUES (0, 0, 0, x'00')")
    with pytest.raises(sqlite3.IntegrityError, match="tile_column must by < matrix_width"):
        db.execute(f"{insert} VALUES (0, 3, 0, x'00')")
    db.close()
    assert len(read_file(data, None, LIMITS).features) == 5, "the triggers are the specification's own"


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TRIGGER 'gpkg_metadata_md_scope_insert' BEFORE INSERT ON 'gpkg_metadata' FOR EACH ROW BEGIN"
        " SELECT RAISE(ABORT, 'insert on table gpkg_metadata violates constraint: md_scope must be one of"
        " undefined | ...') WHERE NOT(NEW.md_scope IN ('undefined','fieldSession','collectionSession',"
        "'series','dataset','featureType','feature','attributeType','attribute','tile','model','catalogue',"
        "'schema','taxonomy','software','service','collectionHardware','nonGeographicDataset',"
        "'dimensionGroup')); END",
        "CREATE TRIGGER 'gpkg_metadata_reference_column_name_update' BEFORE UPDATE OF column_name ON"
        " 'gpkg_metadata_reference' FOR EACH ROW BEGIN SELECT RAISE(ABORT, 'update on table"
        " gpkg_metadata_reference violates constraint: column name must be NULL when reference_scope is"
        " \"geopackage\", \"table\" or \"row\"') WHERE (NEW.reference_scope IN ('geopackage','table','row')"
        " AND NEW.column_nameIS NOT NULL); SELECT RAISE(ABORT, 'update on table gpkg_metadata_reference"
        " violates constraint: column name must be defined for the specified table when reference_scope is"
        " \"column\" or \"row/col\"') WHERE (NEW.reference_scope IN ('column','row/col') AND NOT"
        " NEW.table_name IN (SELECT name FROM SQLITE_MASTER WHERE type = 'table' AND name = NEW.table_name"
        " AND sql LIKE ('%' || NEW.column_name || '%'))); END",
        "CREATE TRIGGER 'gpkg_metadata_reference_timestamp_insert' BEFORE INSERT ON"
        " 'gpkg_metadata_reference' FOR EACH ROW BEGIN SELECT RAISE(ABORT, 'insert on table"
        " gpkg_metadata_reference violates constraint: timestamp must be a valid time in ISO 8601"
        ' "yyyy-mm-ddThh:mm:ss.cccZ" form\') WHERE NOT (NEW.timestamp GLOB'
        " '[1-2][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'"
        " AND strftime('%s',NEW.timestamp) NOT NULL); END",
    ],
    ids=["md_scope_insert", "column_name_update", "timestamp_insert"],
)
def test_the_checks_the_specification_writes_on_its_own_tables_are_read(sql: str) -> None:
    data = edited(METADATA + sql)
    assert len(read_file(data, None, LIMITS).features) == 5


METADATA = (  # the metadata tables as GDAL makes them
    "CREATE TABLE gpkg_metadata (id INTEGER CONSTRAINT m_pk PRIMARY KEY ASC NOT NULL, md_scope TEXT NOT"
    " NULL DEFAULT 'dataset', md_standard_uri TEXT NOT NULL, mime_type TEXT NOT NULL DEFAULT 'text/xml',"
    " metadata TEXT NOT NULL DEFAULT ''); CREATE TABLE gpkg_metadata_reference (reference_scope TEXT NOT"
    " NULL, table_name TEXT, column_name TEXT, row_id_value INTEGER, timestamp DATETIME NOT NULL DEFAULT"
    " (strftime('%Y-%m-%dT%H:%M:%fZ','now')), md_file_id INTEGER NOT NULL, md_parent_id INTEGER);"
)


def message(name: str) -> str:
    return (
        f"gpkg has a trigger, {name!r}, that GeoPackages do not need: its body is not one the GeoPackage"
        " specification writes, and a trigger runs code when a table changes; drop it"
        f' (DROP TRIGGER "{name}") and send the file again'
    )


@pytest.mark.parametrize(
    ("name", "sql"),
    [
        ("rtree_evil_insert", "AFTER INSERT ON stops BEGIN DELETE FROM stops; END"),
        (
            "gpkg_evil",
            "BEFORE INSERT ON gpkg_contents BEGIN SELECT RAISE(ABORT, 'no'); DELETE FROM stops; END",
        ),
        (
            "rtree_stops_geom_insert",
            "AFTER INSERT ON stops WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom)) BEGIN"
            " DELETE FROM stops; END",
        ),
        (
            "rtree_stops_geom_delete",
            'AFTER DELETE ON "stops" WHEN old."geom" NOT NULL BEGIN DELETE FROM "rtree_stops_geom"'
            ' WHERE id = OLD."fid" OR 1; END',
        ),
        (
            "trigger_insert_feature_count_stops",
            "AFTER INSERT ON stops BEGIN UPDATE gpkg_ogr_contents SET feature_count = 0"
            " WHERE lower(table_name) = lower('stops'); END",
        ),
        (
            "stops_zoom_insert",
            "BEFORE INSERT ON stops FOR EACH ROW BEGIN SELECT RAISE(ABORT, 'no') WHERE NOT (NEW.zoom_level"
            " IN (SELECT zoom_level FROM gpkg_tile_matrix WHERE table_name = 'stops'));"
            " DELETE FROM gpkg_contents; END",
        ),
    ],
)
def test_a_trigger_is_judged_by_its_body_not_its_name(name: str, sql: str) -> None:
    drop = f'DROP TRIGGER IF EXISTS "{name}";'
    assert refused(edited(f'{drop} CREATE TRIGGER "{name}" {sql};')) == message(name)


def test_a_view_over_an_endless_query_is_refused_before_gdal_opens_the_file(no_gdal: None) -> None:
    data = edited(ENDLESS)
    started = time.monotonic()
    assert refused(data) == (
        "gpkg layer 'endless' is a view: views run a query when read (one of them may never end);"
        " export it as a table (ogr2ogr or QGIS can)"
    )
    assert refused(data, file_layer="stops").startswith("gpkg layer 'endless' is a view")
    assert time.monotonic() - started < 2


def test_the_endless_view_is_refused_at_once_in_a_process_of_its_own(tmp_path: Path) -> None:
    """The issue's file, read as the server reads an upload on disk: a check that let it through
    would leave GDAL counting for ever, so it runs in a process killed after a minute."""
    path = tmp_path / "upload"
    path.write_bytes(edited(ENDLESS))
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom mapsrv.core.model import Limits\n"
        "from mapsrv.errors import InvalidInput\nfrom mapsrv.formats import read_file\n"
        "started = time.monotonic()\ntry:\n    read_file(Path(sys.argv[1]), None, Limits())\n"
        "except InvalidInput as exc:\n    print(exc.message)\nprint(f'{time.monotonic() - started:.3f}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60, check=True
    )
    said, took = done.stdout.strip().splitlines()
    assert said.startswith("gpkg layer 'endless' is a view: views run a query when read")
    assert float(took) < 2


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "DROP TABLE gpkg_spatial_ref_sys; CREATE VIEW gpkg_spatial_ref_sys AS WITH RECURSIVE n(i) AS"
            " (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT 'x' AS srs_name, i AS srs_id FROM n;",
            "gpkg has a view, 'gpkg_spatial_ref_sys', where a GeoPackage keeps a table of its own: a view"
            " runs a query when read; export the data as a GeoPackage again",
        ),
        (
            "CREATE VIRTUAL TABLE notes USING fts5(body);",
            "gpkg has a virtual table, 'notes', that GeoPackages do not need: a virtual table runs its"
            " module's code when read; export the data as a GeoPackage again",
        ),
        (
            "CREATE TABLE padded (fid INTEGER PRIMARY KEY, geom BLOB, pad TEXT GENERATED ALWAYS AS"
            " (printf('%.*c', 100000000, 'x')) VIRTUAL); INSERT INTO padded (fid, geom) SELECT fid, geom"
            " FROM stops; INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)"
            " VALUES ('padded', 'features', 'padded', 4326);"
            " INSERT INTO gpkg_geometry_columns VALUES ('padded', 'geom', 'POINT', 4326, 0, 0);",
            "gpkg layer 'padded' has a computed column, 'pad': it runs an expression for every row read;"
            " export it as a table (ogr2ogr or QGIS can)",
        ),
        (
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)"
            " VALUES ('rtree_stops_geom', 'attributes', 'index', 0);",
            "gpkg layer 'rtree_stops_geom' is a virtual table: it runs its module's code when read;"
            " export it as a table (ogr2ogr or QGIS can)",
        ),
    ],
    ids=["gpkg_view", "virtual_table", "computed_column", "index_as_layer"],
)
def test_what_runs_the_files_own_code_when_read_is_refused(sql: str, expected: str, no_gdal: None) -> None:
    assert refused(edited(sql)) == expected


def many_layers(n: int, kind: str) -> bytes:
    """Five stops and ``n`` more layers, each a table of one point column or a view of the stops."""
    sql = ["BEGIN;"]
    for i in range(n):
        if kind == "table":
            sql.append(f"CREATE TABLE t{i} (fid INTEGER PRIMARY KEY, geom BLOB);")
        else:
            sql.append(f"CREATE VIEW t{i} AS SELECT fid, geom FROM stops;")
        sql.append(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)"
            f" VALUES ('t{i}', 'features', 't{i}', 4326);"
            f" INSERT INTO gpkg_geometry_columns VALUES ('t{i}', 'geom', 'POINT', 4326, 0, 0);"
        )
    return edited("\n".join([*sql, "COMMIT;"]))


def test_three_thousand_layers_are_refused_from_the_listing_before_one_is_opened(
    no_gdal: None,
) -> None:
    tables = many_layers(3_000, "table")
    started = time.monotonic()
    with pytest.raises(PayloadTooLarge) as err:
        read_file(tables, None, LIMITS)
    assert err.value.message == (
        "gpkg must hold at most 100 layers for this map (max_layers), got 3,001; name the one to read"
        " with file_layer, or split the file"
    )
    assert time.monotonic() - started < 2
    check_geopackage(tables, max_layers=LIMITS.max_layers, file_layer="stops")  # one layer: no cap
    views = many_layers(3_000, "view")
    assert refused(views) == (
        "gpkg layers 't0', 't1', 't2', 't3', 't4', 't5', 't6', 't7', 't8', 't9' and 2,990 more are views:"
        " views run a query when read (one of them may never end); export them as tables (ogr2ogr or"
        " QGIS can)"
    )


def test_tables_gdal_lists_beyond_gpkg_contents_count_before_a_layer_is_opened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = edited(
        "\n".join(f"CREATE TABLE extra{i} (id INTEGER PRIMARY KEY, value TEXT);" for i in range(100))
    )
    check_geopackage(data, max_layers=LIMITS.max_layers)  # gpkg_contents lists one layer
    refuse_gdal(monkeypatch, "read_info", "open_arrow")
    with pytest.raises(PayloadTooLarge) as err:
        read_file(data, None, LIMITS)
    assert err.value.message.startswith(
        "gpkg must hold at most 100 layers for this map (max_layers), got 101;"
    )


def watched(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, Any]]:
    """Every batch read, as its rows, its bytes and GDAL's cap on them (OGR_ARROW_MEM_LIMIT) while
    it was read; the budget set to 1 MiB."""
    monkeypatch.setattr(ogr, "BATCH_BYTES", 1 << 20)
    batches: list[tuple[int, int, Any]] = []
    check = ogr._check_batch

    def seen(batch: Any, start: int, what: str) -> None:
        cap = pyogrio.get_gdal_config_option("OGR_ARROW_MEM_LIMIT")
        batches.append((batch.num_rows, batch.nbytes, cap))
        check(batch, start, what)

    monkeypatch.setattr(ogr, "_check_batch", seen)
    return batches


def test_gdal_cuts_a_geopackages_batches_at_half_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    batches = watched(monkeypatch)
    data = geopackage({"stops": (points(12, "n" * 200_000), "EPSG:4326", "Point")})
    imported = read_file(data, None, LIMITS)
    assert [dict(f.properties)["name"] for f in imported.features] == [f"stop {i}" for i in range(12)]
    assert len(batches) > 1 and all(size <= 600_000 for _, size, _ in batches), batches
    assert {str(cap) for _, _, cap in batches} == {str(512 << 10)}
    assert pyogrio.get_gdal_config_option("OGR_ARROW_MEM_LIMIT") is None, "set for the read only"


def test_a_batch_past_the_budget_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ogr, "BATCH_BYTES", 1 << 20)
    table = points(3)
    table = table.append_column("note", pa.array(["short", "x" * 3_000_000, "short"]))
    with pytest.raises(PayloadTooLarge) as err:
        read_file(geopackage({"stops": (table, "EPSG:4326", "Point")}), None, LIMITS)
    assert err.value.message.startswith("gpkg layer stops rows 0 to ")
    assert err.value.message.endswith(
        " MiB once read, more than the 1 MiB mapsrv reads at once; split the file, or leave its biggest"
        " values (long texts, blobs) out"
    )
    assert pyogrio.get_gdal_config_option("OGR_ARROW_MEM_LIMIT") is None


def test_a_flatgeobuf_is_read_whole_in_batches_under_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """GDAL's cap on its batches ends a FlatGeobuf's stream after the first (GDAL 3.12), so it is
    not set: the rows of a batch come from the file's average row instead, and every row is read."""
    batches = watched(monkeypatch)
    imported = read_file(flatgeobuf(points(3_000, "f" * 1_000), "EPSG:4326", "Point"), None, LIMITS)
    assert len(imported.features) == 3_000
    assert len(batches) > 3 and max(rows for rows, _, _ in batches) < 600, batches
    assert {cap for _, _, cap in batches} == {None}
