"""GIS files in (issue 61), as GDAL itself writes them: Natural Earth's countries in British
National Grid, Lambert-93 and UTM zone 31N, as a zipped Shapefile, a GeoPackage, a FlatGeobuf and
a GeoParquet, read by mapsrv and compared with the same file read by pyogrio and reprojected by
pyproj on its own (equal within 1e-7 degrees) and with the outlines before they were projected
(within 1 m); attributes compared one by one, with their types; text in Latin-1, Windows-1252 and
UTF-8, said by a .cpg or a .dbf's code page or not said at all; every layer of a GeoPackage or
one; files without a CRS."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import shapely
from pyproj import CRS, Transformer
from support.gis_files import (
    countries,
    flatgeobuf,
    geopackage,
    geoparquet,
    project,
    reference,
    shapefile_zip,
    shapely_of,
)

from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats import read_file

LIMITS = Limits()
EUROPE = (
    "France",
    "Belgium",
    "Netherlands",
    "Luxembourg",
    "Switzerland",
    "Ireland",
    "United Kingdom",
    "Spain",
)
SYSTEMS = ("EPSG:27700", "EPSG:2154", "EPSG:32631")  # British National Grid, Lambert-93, UTM zone 31N
ONE_METRE = 1e-5  # degrees, a little more than a metre


def europe(crs: str | None) -> tuple[pa.Table, Any]:
    """Western Europe's countries in ``crs``, with typed attributes, and their outlines in
    degrees before projection."""
    names, outlines = countries("50m", EUROPE)
    table = pa.table(
        {
            "NAME": names,
            "rank": pa.array(range(len(names)), pa.int64()),
            "share": pa.array([i / 7 for i in range(len(names))], pa.float64()),
            "geometry": shapely.to_wkb(project(outlines, crs)),
        }
    )
    return table, outlines


def written(fmt: str, table: pa.Table, crs: str | None) -> bytes:
    if fmt == "shp":
        return shapefile_zip({"countries": (table, crs, "MultiPolygon")}, folder="data/europe/")
    if fmt == "gpkg":
        return geopackage({"countries": (table, crs, "MultiPolygon")})
    if fmt == "fgb":  # FlatGeobuf takes no Polygon in a MultiPolygon layer
        return flatgeobuf(table, crs, "Unknown")
    return geoparquet(table, crs)


@pytest.mark.parametrize("crs", SYSTEMS)
@pytest.mark.parametrize("fmt", ["shp", "gpkg", "fgb", "parquet"])
def test_countries_in_a_national_projection_come_back_in_degrees(fmt: str, crs: str) -> None:
    table, outlines = europe(crs)
    data = written(fmt, table, crs)
    imported = read_file(data, None, LIMITS, filename=f"europe.{fmt}")
    assert imported.format == fmt
    assert any(note.endswith(f"reprojected from {crs} ({_name(crs)}) to WGS84") for note in imported.notes)
    features = imported.features
    if fmt == "parquet":  # no GDAL reader for it: pyproj on the file's own WKB
        rows = table.drop_columns(["geometry"]).to_pylist()
        to = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        expected = shapely.transform(
            shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False)),
            lambda x, y: to.transform(x, y),
            interleaved=False,
        )
    else:
        rows, expected = reference(data, member="data/europe/countries.shp" if fmt == "shp" else "")
    # PROJ picks its transformation by where each point is: outside a system's area of use (Ireland
    # in British National Grid) there and back may differ by more than a metre, in pyproj alone
    (west, south, east, north) = CRS.from_user_input(crs).area_of_use.bounds  # type: ignore[union-attr]
    assert [f.label for f in features] == [row["NAME"] for row in rows]  # a FlatGeobuf's order is its index's
    outline = dict(zip(table.column("NAME").to_pylist(), outlines, strict=True))
    for feature, row, want in zip(features, rows, expected, strict=True):
        before = outline[feature.label]
        got = shapely_of(feature)
        assert got.normalize().equals_exact(want.normalize(), 1e-7), feature.label
        if shapely.box(west, south, east, north).contains(before):
            assert shapely.hausdorff_distance(got, before) < ONE_METRE, feature.label
        assert dict(feature.properties) == row, feature.label
        assert [type(v) for v in dict(feature.properties).values()] == [type(v) for v in row.values()]


def _name(crs: str) -> str:
    return str(CRS.from_user_input(crs).name)


def test_a_country_keeps_its_holes_and_its_islands() -> None:
    names, outlines = countries("110m", ("South Africa", "Canada", "Lesotho"))
    table = pa.table({"name": names, "geometry": shapely.to_wkb(project(outlines, "EPSG:3857"))})
    data = geopackage({"world": (table, "EPSG:3857", "Unknown")})
    features = {f.label: f for f in read_file(data, "gpkg", LIMITS).features}
    south_africa, canada = features["South Africa"], features["Canada"]
    assert south_africa.type == "polygon" and len(south_africa.coords) == 2, "Lesotho is its hole"
    assert canada.type == "multipolygon" and len(canada.coords) == len(outlines[names.index("Canada")].geoms)
    hole = shapely.Polygon([(lon, lat) for lat, lon in south_africa.coords[1]])
    assert shapely.hausdorff_distance(hole.exterior, shapely_of(features["Lesotho"]).exterior) < ONE_METRE


TOWNS = {  # name: (lon, lat)
    "Zürich": (8.5417, 47.3769),
    "Besançon": (6.0241, 47.2378),
    "São Paulo": (-46.6333, -23.5505),
    "Malmö": (13.0038, 55.6050),
}


def towns(names: dict[str, tuple[float, float]] = TOWNS) -> pa.Table:
    lon, lat = zip(*names.values(), strict=True)
    return pa.table({"NAME": list(names), "geometry": shapely.to_wkb(shapely.points(lon, lat))})


@pytest.mark.parametrize(
    ("encoding", "cpg", "note"),
    [
        ("ISO-8859-1", True, None),  # said by the .cpg
        ("CP1252", True, None),
        ("UTF-8", True, None),
        ("UTF-8", False, "shapefile towns has no .cpg: its text was read as UTF-8"),
        ("ISO-8859-1", False, "shapefile towns has no .cpg: its text was read as ISO-8859-1"),
    ],
)
def test_shapefile_text_in_every_code_page(encoding: str, cpg: bool, note: str | None) -> None:
    names = {**TOWNS, "Œuvre €": (2.0, 48.0)} if encoding == "CP1252" else TOWNS
    data = shapefile_zip({"towns": (towns(names), "EPSG:4326", "Point")}, encoding=encoding, cpg=cpg)
    imported = read_file(data, None, LIMITS, filename="towns.zip")
    assert [f.label for f in imported.features] == list(names)
    assert [f.coords for f in imported.features] == [(lat, lon) for lon, lat in names.values()]
    assert (note in imported.notes) if note else not any("no .cpg" in n for n in imported.notes)


def test_utf8_text_without_a_cpg_is_told_by_its_records_not_its_header() -> None:
    """250 rows, as in Natural Earth's countries: the header's row count is the byte 0xFA, which
    is no UTF-8; the records alone say UTF-8 ("Palästina" was read as "PalÃ¤stina")."""
    names = {f"Zürich {i}": (8.5 + i / 1000, 47.3) for i in range(250)}
    data = shapefile_zip({"towns": (towns(names), "EPSG:4326", "Point")}, encoding="UTF-8", cpg=False)
    with zipfile.ZipFile(io.BytesIO(data)) as given:
        dbf = next(given.read(n) for n in given.namelist() if n.endswith(".dbf"))
    assert dbf[4] == 250 and dbf[29] == 0, "250 rows counted in the header, no code page"
    imported = read_file(data, None, LIMITS, filename="towns.zip")
    assert [f.label for f in imported.features] == list(names)
    assert "shapefile towns has no .cpg: its text was read as UTF-8" in imported.notes


def test_a_dbf_code_page_without_a_cpg_is_read_by_gdal() -> None:
    """A .dbf's language driver byte (0x03: Windows ANSI, code page 1252) says its code page."""
    names = {**TOWNS, "Œuvre €": (2.0, 48.0)}
    data = shapefile_zip({"towns": (towns(names), "EPSG:4326", "Point")}, encoding="CP1252", cpg=False)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as given, zipfile.ZipFile(out, "w") as marked:
        for name in given.namelist():
            body = bytearray(given.read(name))
            if name.endswith(".dbf"):
                assert body[29] == 0, "GDAL writes no code page byte of its own"
                body[29] = 0x03
            marked.writestr(name, bytes(body))
    imported = read_file(out.getvalue(), "shp", LIMITS)
    assert [f.label for f in imported.features] == list(names)
    assert not any("no .cpg" in note for note in imported.notes)


def test_every_attribute_with_its_type() -> None:
    table = pa.table(
        {
            "name": ["Kiosk", "Café"],
            "visits": pa.array([12, None], pa.int64()),
            "rating": pa.array([4.5, float("nan")], pa.float64()),
            "open": pa.array([True, False], pa.bool_()),
            "since": pa.array([dt.date(2020, 5, 1), None], pa.date32()),
            "checked": pa.array([dt.datetime(2026, 1, 2, 3, 4, 5), None], pa.timestamp("ms")),
            "blob": pa.array([b"\x00\x01", None], pa.binary()),
            "geometry": shapely.to_wkb(shapely.points([(2.35, 48.85), (2.29, 48.86)])),
        }
    )
    imported = read_file(geopackage({"kiosks": (table, "EPSG:4326", "Point")}), None, LIMITS)
    rows, _ = reference(geopackage({"kiosks": (table, "EPSG:4326", "Point")}))
    first, second = (dict(f.properties) for f in imported.features)
    assert first == {
        "name": "Kiosk",
        "visits": 12,
        "rating": 4.5,
        "open": True,
        "since": "2020-05-01",
        "checked": rows[0]["checked"].isoformat(),
    }
    assert second == {
        "name": "Café",
        "visits": None,
        "rating": None,
        "open": False,
        "since": None,
        "checked": None,
    }
    assert imported.notes == ("gpkg layer kiosks: column blob holds bytes, left out",)


def layers_of_a_town() -> bytes:
    roads = pa.table(
        {
            "ref": ["A1", "B2"],
            "geometry": shapely.to_wkb(
                shapely.linestrings(
                    [[(530000, 180000), (531000, 181000)], [(530500, 180000), (530500, 182000)]]
                )
            ),
        }
    )
    parks = pa.table(
        {
            "park": ["Green"],
            "geometry": shapely.to_wkb(
                [shapely.Polygon([(530000, 180000), (530100, 180000), (530100, 180100), (530000, 180100)])]
            ),
        }
    )
    owners = pa.table({"owner": ["council"], "geometry": pa.array([None], pa.binary())})
    return geopackage(
        {
            "roads": (roads, "EPSG:27700", "LineString"),
            "parks": (parks, "EPSG:27700", "Polygon"),
            "owners": (owners.drop_columns(["geometry"]), None, None),
        }
    )


def test_every_layer_of_a_geopackage_or_the_one_asked_for() -> None:
    data = layers_of_a_town()
    imported = read_file(data, None, LIMITS, filename="town.gpkg")
    assert [(layer.id, layer.name) for layer in imported.layers] == [("roads", "roads"), ("parks", "parks")]
    assert [(f.layer, f.type) for f in imported.features] == [
        ("roads", "polyline"),
        ("roads", "polyline"),
        ("parks", "polygon"),
    ]
    assert "gpkg tables without geometry left out: owners" in imported.notes
    one = read_file(data, None, LIMITS, file_layer="parks")
    assert [(f.layer, dict(f.properties)) for f in one.features] == [("default", {"park": "Green"})]
    with pytest.raises(InvalidInput) as err:
        read_file(data, None, LIMITS, file_layer="rivers")
    assert err.value.message == "file_layer 'rivers' is not a layer of this gpkg: it has roads, parks"


def test_every_shapefile_of_a_zip_in_any_folder() -> None:
    first = shapefile_zip({"towns": (towns(), "EPSG:4326", "Point")}, folder="export/2026/")
    second = shapefile_zip({"lakes": (towns({"Léman": (6.5, 46.4)}), "EPSG:4326", "Point")}, folder="more/")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for data in (first, second):
            with zipfile.ZipFile(io.BytesIO(data)) as part:
                for name in part.namelist():
                    archive.writestr(name, part.read(name))
    both = read_file(out.getvalue(), None, LIMITS)
    assert [layer.name for layer in both.layers] == ["towns", "lakes"]
    assert [f.label for f in both.features] == [*TOWNS, "Léman"]
    lakes = read_file(out.getvalue(), "shp", LIMITS, file_layer="lakes")
    assert [(f.label, f.layer) for f in lakes.features] == [("Léman", "default")]


def test_a_file_without_a_crs_is_read_only_when_its_numbers_are_degrees() -> None:
    table, _ = europe("EPSG:27700")
    data = shapefile_zip({"countries": (table, None, "MultiPolygon")})
    with pytest.raises(InvalidInput) as err:
        read_file(data, None, LIMITS)
    assert err.value.message.startswith(
        "shapefile countries names no coordinate reference system and its coordinates are not degrees (x from"
    )
    assert 'e.g. crs: "EPSG:27700"' in err.value.message
    told = read_file(data, None, LIMITS, crs="EPSG:27700")
    assert [f.label for f in told.features] == table.column("NAME").to_pylist()
    _, expected = reference(shapefile_zip({"countries": (table, "EPSG:27700", "MultiPolygon")}))
    for feature, want in zip(told.features, expected, strict=True):
        assert shapely_of(feature).normalize().equals_exact(want.normalize(), 1e-7)
    degrees = read_file(shapefile_zip({"towns": (towns(), None, "Point")}), None, LIMITS)
    assert degrees.notes == (
        "shapefile towns names no coordinate reference system: its degrees were read as WGS84",
    )
    with pytest.raises(
        InvalidInput, match=r"^crs must be a coordinate reference system, got 'EPSG:99999'; e.g."
    ):
        read_file(data, None, LIMITS, crs="EPSG:99999")
    with pytest.raises(
        InvalidInput,
        match=r"^crs goes with a Shapefile, GeoPackage, FlatGeobuf or GeoParquet or a GeoJSON, got a csv",
    ):
        read_file(b"lat,lon\n1,2\n", "csv", LIMITS, crs="EPSG:27700")


def test_a_given_crs_wins_over_a_wrong_one_with_a_note() -> None:
    data = shapefile_zip({"towns": (towns(), "EPSG:3857", "Point")})  # degrees, but the .prj says metres
    imported = read_file(data, None, LIMITS, crs="EPSG:4326")
    assert [f.coords for f in imported.features] == [(lat, lon) for lon, lat in TOWNS.values()]
    assert imported.notes[0].startswith("shapefile towns says it is in EPSG:3857 (WGS 84 / Pseudo-Mercator);")


def test_geoparquet_without_a_crs_is_longitude_and_latitude_and_without_metadata_is_checked() -> None:
    table = towns()
    imported = read_file(geoparquet(table, None), None, LIMITS)
    assert [f.coords for f in imported.features] == [(lat, lon) for lon, lat in TOWNS.values()]
    assert imported.notes == ()
    plain = read_file(geoparquet(table, None, metadata=False), None, LIMITS, filename="towns.parquet")
    assert plain.notes[0] == "geoparquet has no 'geo' metadata: its column geometry was read as WKB"
    metres, _ = europe("EPSG:2154")
    with pytest.raises(InvalidInput, match=r"^geoparquet names no coordinate reference system"):
        read_file(geoparquet(metres, None, metadata=False), "parquet", LIMITS)


def test_a_point_outside_its_projection_is_refused_by_its_index() -> None:
    table = pa.table(
        {"geometry": shapely.to_wkb(shapely.points([(530000, 180000), (1e12, 5.0)]))}  # the second: nowhere
    )
    with pytest.raises(InvalidInput) as err:
        read_file(geopackage({"pts": (table, "EPSG:27700", "Point")}), None, LIMITS)
    assert err.value.message == (
        "gpkg layer pts feature 1 cannot be turned into degrees: its coordinates are beyond what its"
        " coordinate reference system covers; check the file's crs"
    )


def test_a_file_past_the_maps_cap_is_refused_before_its_rows_are_read() -> None:
    n = 50
    table = pa.table({"geometry": shapely.to_wkb(shapely.points(np.zeros(n), np.linspace(0, 1, n)))})
    small = Limits(max_features=20)
    for data in (geopackage({"pts": (table, "EPSG:4326", "Point")}), geoparquet(table, None)):
        with pytest.raises(
            PayloadTooLarge, match=r"must hold at most 20 features for this map \(max_features\), got 50"
        ):
            read_file(data, None, small)


def test_empty_and_missing_geometries_are_skipped_and_counted() -> None:
    wkb = [*shapely.to_wkb([shapely.Point(1, 2), shapely.Point()]), None]
    table = pa.table({"n": [1, 2, 3], "geometry": pa.array(wkb, pa.binary())})
    imported = read_file(geoparquet(table, None), None, LIMITS)
    assert [dict(f.properties) for f in imported.features] == [{"n": 1}]
    assert imported.notes == (
        "skipped features without a geometry: geoparquet feature 1, geoparquet feature 2",
    )


def test_z_values_are_dropped_and_collections_flattened() -> None:
    collection = shapely.GeometryCollection(
        [shapely.Point(1, 2, 3), shapely.GeometryCollection([shapely.LineString([(0, 0, 1), (1, 1, 2)])])]
    )
    table = pa.table({"geometry": shapely.to_wkb([collection], include_srid=False, output_dimension=3)})
    (feature,) = read_file(geoparquet(table, None), None, LIMITS).features
    assert feature.type == "collection"
    assert feature.coords == (("marker", (2.0, 1.0)), ("polyline", ((0.0, 0.0), (1.0, 1.0))))
