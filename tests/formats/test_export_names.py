"""Exports that no feature can break (issue 72, item 4): a property named as a column a GIS
format keeps for itself (a GeoPackage's ``fid`` and ``geom``, GDAL's ``OGC_FID``, FlatGeobuf's
``wkb_geometry``, the ``geometry`` column, mapsrv's own), in any case, is written under a new
name with a note, and a value of any kind (text beside numbers, lists, objects, integers past 64
bits, NaN, lone surrogates, NUL characters) makes a file and a note, never an error. Each file is
read back by pyogrio or pyarrow as a GIS program would, and by mapsrv."""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pytest
from formats_helpers import map_with
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapsrv.core.apply import apply_all
from mapsrv.core.model import Limits, MapState, build_feature
from mapsrv.core.ops import AddLayer, ImportFeatures
from mapsrv.formats import export_file, read_file

LIMITS = Limits()
FORMATS = ("shp", "gpkg", "fgb", "parquet")
# mapsrv's own columns in every table (``gisout``): a property column is any other
OWN = {"mapsrvtype", "layer", "label", "popup", "style", "radius"}
OWN |= {f"m_{name}" for name in OWN}


def with_properties(*rows: dict[str, Any], layers: tuple[str, ...] = ()) -> MapState:
    """A map of one marker per row of ``rows``, its properties as given: set on the feature as
    they are (NaN, a lone surrogate), as a file's reader or a past version may have left them.
    With ``layers``, feature ``i`` is in layer ``i % len(layers)`` of that name."""
    features = []
    for i, row in enumerate(rows):
        layer = f"l{i % len(layers)}" if layers else "default"
        feature = build_feature(id="", limits=LIMITS, type="marker", coords=[i / 100, 1.0], layer=layer)
        features.append(dataclasses.replace(feature, properties=tuple(sorted(row.items()))))
    ops: list[Any] = [AddLayer(f"l{i}", name) for i, name in enumerate(layers)]
    state, _ = apply_all(MapState("m1"), [*ops, ImportFeatures(tuple(features))])
    return state


def tables(body: bytes, fmt: str) -> list[pa.Table]:
    """Every table of an exported file, as pyogrio (GDAL, as QGIS reads it) or pyarrow reads it."""
    if fmt == "parquet":
        return [pq.read_table(pa.BufferReader(body))]
    return [pyogrio.read_arrow(body, layer=str(name))[1] for name, _ in pyogrio.list_layers(body)]


def properties_back(body: bytes, fmt: str) -> list[dict[str, Any]]:
    """The features' properties as mapsrv reads the file back, in the order of their first value."""
    features = read_file(body, fmt, LIMITS).features
    return sorted((dict(f.properties) for f in features), key=lambda p: str(sorted(p.items(), key=str)))


# ---- the names each format keeps, found by writing them through GDAL ----


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_text_fid_an_ogc_fid_and_a_geometry_are_renamed_and_come_back_renamed(fmt: str) -> None:
    rows = (
        {"fid": "a-1", "fid_2": 7, "OGC_FID": "x", "Geometry": 1.5, "geom": True},
        {"fid": "b-2", "fid_2": 8, "OGC_FID": "y", "Geometry": None, "geom": False},
    )
    exported = export_file(with_properties(*rows), fmt)
    geometry = "property Geometry renamed Geometry_2: mapsrv writes the geometry in its geometry column"
    ogc_fid = "property OGC_FID renamed OGC_FID_2: GDAL takes an OGC_FID column for its feature ids"
    fid = "property fid renamed fid_3: a GeoPackage keeps its own fid column"
    geom = "property geom renamed geom_2: a GeoPackage keeps its geometry in a geom column"
    expected = {fmt: (geometry, ogc_fid) for fmt in FORMATS} | {"gpkg": (geometry, ogc_fid, fid, geom)}
    assert exported.notes == expected[fmt]
    fid_name = "fid_3" if fmt == "gpkg" else "fid"
    geom_name = "geom_2" if fmt == "gpkg" else "geom"
    assert properties_back(exported.body, fmt) == [
        {fid_name: "a-1", "fid_2": 7, "OGC_FID_2": "x", "Geometry_2": 1.5, geom_name: True},
        {fid_name: "b-2", "fid_2": 8, "OGC_FID_2": "y", "Geometry_2": None, geom_name: False},
    ]


@pytest.mark.parametrize("fmt", ["gpkg", "fgb"])
def test_integer_fids_stay_a_column_of_their_own(fmt: str) -> None:
    """A GeoPackage took unique integer fids for its feature ids (the column gone on import), and
    failed on repeated ones; GDAL took integer OGC_FIDs as ids in every format and dropped them."""
    rows = ({"FID": 5, "ogc_fid": 1}, {"FID": 5, "ogc_fid": 1}, {"FID": 9, "ogc_fid": 2})
    exported = export_file(with_properties(*rows), fmt)
    fid = "FID_2" if fmt == "gpkg" else "FID"
    assert properties_back(exported.body, fmt) == [
        {fid: 5, "ogc_fid_2": 1},
        {fid: 5, "ogc_fid_2": 1},
        {fid: 9, "ogc_fid_2": 2},
    ]


def test_a_flatgeobuf_wkb_geometry_is_renamed_where_gdal_would_read_its_geometry() -> None:
    exported = export_file(with_properties({"WKB_Geometry": "here"}), "fgb")
    assert exported.notes == (
        "property WKB_Geometry renamed WKB_Geometry_2: GDAL reads a FlatGeobuf's geometry as wkb_geometry",
    )
    assert properties_back(exported.body, "fgb") == [{"WKB_Geometry_2": "here"}]
    # in a GeoParquet, where nothing reads it so, it stays as it is
    assert properties_back(
        export_file(with_properties({"WKB_Geometry": "here"}), "parquet").body, "parquet"
    ) == [{"WKB_Geometry": "here"}]


@pytest.mark.parametrize("fmt", FORMATS)
def test_names_that_differ_only_in_case_are_two_columns(fmt: str) -> None:
    """A GeoPackage refused a second column NAME beside name; a FlatGeobuf wrote both and GDAL
    read one into the other."""
    exported = export_file(with_properties({"NAME": "Lyon", "name": "lyon", "Name": "LYON"}), fmt)
    assert exported.notes == (
        "property Name renamed Name_2; property name renamed name_3: GIS programs match column names"
        " ignoring case",
    )
    assert properties_back(exported.body, fmt) == [{"NAME": "Lyon", "Name_2": "LYON", "name_3": "lyon"}]


@pytest.mark.parametrize("fmt", FORMATS)
def test_mapsrvs_own_columns_are_never_a_propertys(fmt: str) -> None:
    """``label`` beside mapsrv's label makes its ``m_label``; a property ``m_label`` (read back as
    mapsrv's label) or ``mapsrvtype`` (dropped, before) is renamed."""
    state = map_with(
        {"type": "marker", "coords": [1.0, 2.0], "label": "Gare",
         "properties": {"Label": "ours", "m_popup": 3, "MAPSRVTYPE": "kiosk"}},
    )  # fmt: skip
    exported = export_file(state, fmt)
    kind = "MAPSRVTY_2" if fmt == "shp" else "MAPSRVTYPE_2"  # ten bytes
    assert exported.notes == (  # in the properties' order
        "property m_popup renamed m_popup_2: mapsrv keeps m_popup for its own column",
        f"property MAPSRVTYPE renamed {kind}: mapsrv keeps mapsrvtype for its own column",
    )
    back = read_file(exported.body, fmt, LIMITS).features
    assert [(f.label, f.popup, dict(f.properties)) for f in back] == [
        ("Gare", "", {"Label": "ours", "m_popup_2": 3, kind: "kiosk"})
    ]


def test_a_shapefile_renames_within_its_ten_bytes() -> None:
    state = with_properties({"ogc_fid": 1, "ogc_fid_2": 2, "geometry_of_it": 3, "GEOMETRY": 4})
    exported = export_file(state, "shp")
    assert exported.notes == (
        "property GEOMETRY renamed GEOMETRY_2: mapsrv writes the geometry in its geometry column",
        "property ogc_fid renamed ogc_fid_3: GDAL takes an OGC_FID column for its feature ids",
        "Shapefile field names are at most 10 bytes: geometry_of_it as geometry_o",
    )
    assert properties_back(exported.body, "shp") == [
        {"GEOMETRY_2": 4, "geometry_o": 3, "ogc_fid_3": 1, "ogc_fid_2": 2}
    ]


def test_a_geopackage_layer_named_as_its_own_tables_is_written_under_another() -> None:
    names = ("gpkg_contents", "sqlite_master", "a", "rtree_a_geom", "-west")
    state = with_properties(*({"n": i} for i in range(5)), layers=names)
    exported = export_file(state, "gpkg")
    assert exported.notes == (
        *(
            f"layer {name} written as table layer_{name}: a GeoPackage keeps such names for itself"
            for name in ("gpkg_contents", "sqlite_master", "rtree_a_geom")
        ),
        "layer -west written as table layer_-west: GDAL takes no GeoPackage table name that begins"
        " with punctuation",
    )
    assert sorted(str(name) for name, _ in pyogrio.list_layers(exported.body)) == [
        "a", "layer_-west", "layer_gpkg_contents", "layer_rtree_a_geom", "layer_sqlite_master"
    ]  # fmt: skip
    back = read_file(exported.body, "gpkg", LIMITS)
    names_of = {layer.id: layer.name for layer in back.layers}
    assert sorted((names_of[f.layer], dict(f.properties)["n"]) for f in back.features) == sorted(
        zip(names, range(5), strict=True)
    )


# ---- values of any kind ----


@pytest.mark.parametrize("fmt", FORMATS)
def test_values_of_every_kind_make_a_file_and_a_note(fmt: str) -> None:
    rows = (
        {
            "mixed": "a",
            "nested": [1, 2],
            "wide": 2**70,
            "real": math.nan,
            "text": "a\ud800b",
            "nul": "a\x00b",
        },
        {"mixed": 1, "nested": {"k": "v"}, "wide": 1, "real": 2.5, "text": "ok", "nul": None},
        {"mixed": True, "nested": None, "wide": None, "real": math.inf, "text": None, "nul": "c"},
    )
    exported = export_file(with_properties(*rows), fmt)
    assert exported.notes[:5] == (
        "column mixed mixes numbers, text or booleans: written as text",
        "column wide has integers past 64 bits: written as text, every digit kept",
        "2 values not a finite number (nan) written as null: column real",
        "1 value not UTF-8 text (a lone surrogate) written with U+FFFD: column text",
        "1 value written without NUL characters (GIS programs end text at one): column nul",
    )
    assert exported.notes[5].startswith(
        "column nested holds arrays or objects no one Parquet type holds exactly"  # a list and an object
        if fmt == "parquet"
        else "2 nested values written as JSON text"
    )
    assert [t.num_rows for t in tables(exported.body, fmt)] == [3]
    back = {p["mixed"]: p for p in properties_back(exported.body, fmt)}
    assert back == {
        "a": {
            "mixed": "a",
            "nested": "[1,2]",
            "wide": str(2**70),
            "real": None,
            "text": "a\ufffdb",
            "nul": "ab",
        },
        "1": {"mixed": "1", "nested": '{"k":"v"}', "wide": "1", "real": 2.5, "text": "ok", "nul": None},
        "true": {"mixed": "true", "nested": None, "wide": None, "real": None, "text": None, "nul": "c"},
    }


def test_numbers_a_shapefile_cannot_hold_are_written_as_text() -> None:
    """GDAL reads a .dbf integer of 19 characters back as a real (its last digits gone), and
    writes a real past about 1e23 cut (1e25 came back as 1e23)."""
    rows = (
        {"id": -(10**18) + 1, "mass": 1e25, "count": 10**17, "ratio": 1e19},
        {"id": 12, "mass": 2.5, "count": -(10**16), "ratio": -0.5},
    )
    exported = export_file(with_properties(*rows), "shp")
    assert exported.notes == (
        "columns id, mass have numbers past a Shapefile's fields (18 digits, 1e20): written as text,"
        " every digit kept",
    )
    back = properties_back(exported.body, "shp")
    assert back == [
        {"id": "12", "mass": "2.5", "count": -(10**16), "ratio": -0.5},
        {"id": "-999999999999999999", "mass": "1e+25", "count": 10**17, "ratio": 1e19},
    ]
    assert export_file(with_properties(*rows), "gpkg").notes == (), "a GeoPackage holds them all"


def test_many_odd_columns_make_few_notes() -> None:
    """A note lists ten names and counts the rest: a thousand odd columns are not a thousand
    notes (the page reads them from one response header)."""
    rows = ({f"c{i:03}": "x" for i in range(300)}, {f"c{i:03}": i for i in range(300)})
    exported = export_file(with_properties(*rows), "gpkg")
    assert exported.notes == (
        "columns c000, c001, c002, c003, c004, c005, c006, c007, c008, c009 and 290 more mix numbers,"
        " text or booleans: written as text",
    )


# ---- any names, any values: every format makes a file GIS programs read ----

_KEPT = ["fid", "ogc_fid", "geom", "geometry", "wkb_geometry", "mapsrvtype", "m_label", "label", "layer"]
_KEPT += ["name", "fid_2", "geometry_2", "populations"]


def _any_case(name: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(name, upper, strict=True))
    )


# a property's key as core takes it (1-64 characters, no control characters), surrogates too
_KEYS = st.one_of(
    st.sampled_from(_KEPT).flatmap(_any_case),
    st.text(st.characters(exclude_categories=["Cc"]), min_size=1, max_size=64),
)
_TEXT = st.text(st.characters(exclude_categories=[]), max_size=12)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(),
    _TEXT,
    st.sampled_from(["2024-02-29", "2023-02-29", "0000-01-01"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
_LAYERS = st.one_of(
    st.sampled_from(["gpkg_x", "sqlite_y", "rtree_l0_geom", "GPKG", "layer_gpkg_x", ":", "-a", "layer_-a"]),
    st.text(st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=20),
)
# the geometry column each format's file has, as pyogrio or pyarrow reads it
_GEOMETRY = {"shp": "wkb_geometry", "gpkg": "geom", "fgb": "wkb_geometry", "parquet": "geometry"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.dictionaries(_KEYS, _VALUES, max_size=6), min_size=1, max_size=5),
    layers=st.lists(_LAYERS, min_size=1, max_size=2, unique_by=str.lower),
)
def test_any_names_and_values_export_to_files_gis_programs_read(
    rows: list[dict[str, Any]], layers: list[str]
) -> None:
    state = with_properties(*rows, layers=tuple(layers))
    keys = {key for row in rows for key in row}
    for fmt in FORMATS:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            exported = export_file(state, fmt)
        # GDAL's word for a value it could not write whole (a real too wide for a .dbf field)
        assert not [w for w in said if "not successfully written" in str(w.message)], fmt
        read = tables(exported.body, fmt)
        assert sum(t.num_rows for t in read) == len(rows), fmt
        seen: set[str] = set()
        for table in read:  # a column for each property its rows have, and no two alike but for case
            columns = [n for n in table.schema.names if n != _GEOMETRY[fmt]]
            assert len({c.lower() for c in columns}) == len(columns), (fmt, columns)
            seen.update(columns)
        assert len(seen) == len(keys) + 6, (fmt, seen)  # every property in some table, under one name
        assert len(read_file(exported.body, fmt, LIMITS).features) == len(rows), fmt
