"""A GeoJSON's data comes back as it came (issue 57, "round trips keep the data"): every JSON type
and nested value, the Features' ids (numbers and strings) and foreign members, through reading,
a map (the codec a store and the stream use), and every export; what a format cannot hold is
said in the export's notes, and no JSON value crashes an export."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from formats_helpers import map_of

from mapsrv.core.codec import dumps, event_from_wire, state_from_json, wire
from mapsrv.core.model import Limits, MapState
from mapsrv.formats import GIS_FORMATS, export_file, read_file, write_file

LIMITS = Limits()
BIG = 12345678901234567890  # past 64 bits

PROPERTIES: list[dict[str, Any]] = [
    {
        "name": "Lausanne",
        "text": "0E0",
        "int": -99,
        "float": 46.52,
        "big": BIG,
        "yes": True,
        "no": False,
        "none": None,
        "empty_text": "",
        "tags": {"wiki": "Q807", "names": {"fr": "Lausanne", "de": "Lausanne"}},
        "list": [1, "a", None, 2.5, True, {"k": [1, 2]}],
        "empty": {},
        "no_items": [],
    },
    {"name": "tri", "nested": {"a": [1, 2]}, "label": "my label", "style": "dashed"},
    {"title": "no name", "n": 3},
]
RAW: dict[str, Any] = {
    "type": "FeatureCollection",
    "name": "things",
    "features": [
        {
            "type": "Feature",
            "id": 17,
            "title": "foreign",
            "links": [{"rel": "self"}],
            "geometry": {"type": "Point", "coordinates": [6.63, 46.52]},
            "properties": PROPERTIES[0],
        },
        {
            "type": "Feature",
            "id": "s2",
            "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
            "properties": PROPERTIES[1],
        },
        {
            "type": "Feature",
            "id": "s2",  # the same id again: mapsrv's ids stay unique
            "geometry": {"type": "LineString", "coordinates": [[0, 0], [2, 2]]},
            "properties": PROPERTIES[2],
        },
    ],
}


def _kinds(value: Any) -> Any:
    """``value`` with each scalar's JSON type beside it, so that 1 and 1.0 and True differ."""
    if isinstance(value, dict):
        return {k: _kinds(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_kinds(v) for v in value]
    return (type(value).__name__, value)


def _map() -> MapState:
    return map_of(read_file(json.dumps(RAW).encode(), None, LIMITS))


def test_geojson_in_then_out_gives_the_same_ids_members_properties_and_types() -> None:
    state = _map()
    assert sorted(state.features) == ["f1", "f2", "f3"], "duplicate file ids: unique mapsrv ids"
    out = json.loads(write_file(state, "geojson")[0])["features"]
    for given, written in zip(RAW["features"], out, strict=True):
        assert written["id"] == given["id"] and type(written["id"]) is type(given["id"])
        assert _kinds(written["properties"]) == _kinds(given["properties"]), "property by property"
        for key, value in given.items():
            if key not in ("geometry", "properties"):
                assert written[key] == value, key
    assert [f["mapsrv"]["id"] for f in out] == ["f1", "f2", "f3"], "mapsrv's ids, in its member"
    assert export_file(state, "geojson").notes == ()


def test_the_codec_keeps_them_in_a_snapshot_and_an_event() -> None:
    imported = read_file(json.dumps(RAW).encode(), None, LIMITS)
    state = map_of(imported)
    assert state_from_json(json.loads(dumps(state.to_json())), state.id) == state
    from mapsrv.core.apply import apply_all
    from mapsrv.core.ops import ImportFeatures

    _, (event,) = apply_all(MapState("m2"), [ImportFeatures(imported.features)])
    again = event_from_wire(wire(event))
    assert again.features == event.features  # type: ignore[attr-defined]
    point = again.features[0]  # type: ignore[attr-defined]
    assert _kinds(dict(point.properties)) == _kinds(PROPERTIES[0])
    assert dict(point.members) == {"id": 17, "title": "foreign", "links": [{"rel": "self"}]}


def test_a_reimported_export_restores_mapsrvs_fields_and_an_old_export_still_reads() -> None:
    state = _map()
    styled = {**state.features["f2"].__dict__, "style": (("color", "#ff0000"),), "label": "Triangle"}
    features = dict(state.features)
    features["f2"] = type(state.features["f2"])(**styled)
    state = MapState(state.id, state.version, state.title, features=features, seq=state.seq)
    again = read_file(write_file(state, "geojson")[0], None, LIMITS)
    assert [(f.label, dict(f.style), f.properties, f.members) for f in again.features] == [
        (f.label, dict(f.style), f.properties, f.members) for f in state.features.values()
    ]
    # as an earlier version wrote it: mapsrv's keys in the properties
    old = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "f1",
                "geometry": {"type": "Point", "coordinates": [1, 2]},
                "properties": {
                    "pop": 3,
                    "mapsrv_type": "circle",
                    "layer": "a",
                    "label": "L",
                    "popup": "",
                    "style": {"color": "#00ff00"},
                    "radius": 50.0,
                },
            }
        ],
    }
    (circle,) = read_file(json.dumps(old).encode(), None, LIMITS).features
    assert (circle.type, circle.radius, circle.label, dict(circle.style)) == (
        "circle",
        50.0,
        "L",
        {"color": "#00ff00"},
    )
    assert dict(circle.properties) == {"pop": 3}


def test_null_geometries_are_left_out_with_a_note_and_the_rest_imported() -> None:
    raw = {**RAW, "features": [*RAW["features"], {"type": "Feature", "geometry": None, "properties": {}}]}
    raw["features"].insert(1, {"type": "Feature", "geometry": None, "properties": {"a": 1}})
    imported = read_file(json.dumps(raw).encode(), None, LIMITS)
    assert len(imported.features) == 3
    assert imported.notes == (
        "2 features without a geometry (null) left out: feature 1, 4; a map shows only what has a place",
    )


def test_flat_formats_write_nested_values_as_json_text_and_say_so() -> None:
    state = _map()
    body = export_file(state, "csv")
    assert any(n.startswith("5 nested values written as JSON text: CSV") for n in body.notes), body.notes
    assert any(n.startswith("3 file ids not kept") for n in body.notes), body.notes
    rows = list(csv.DictReader(io.StringIO(body.body.decode("utf-8-sig"))))
    assert json.loads(rows[0]["tags"]) == PROPERTIES[0]["tags"]
    for fmt in ("kml", "kmz", "gpkg", "shp", "fgb"):
        notes = export_file(state, fmt).notes
        assert any(n.startswith("5 nested values written as JSON text") for n in notes), (fmt, notes)
        assert any("foreign member" in n for n in notes), (fmt, notes)
    # a GeoParquet holds arrays and objects as lists and structs where one type holds a
    # column's exactly (test_nested_columns), and names the columns none does
    notes = export_file(state, "parquet").notes
    assert any("hold arrays or objects no one Parquet type holds exactly" in n for n in notes), notes
    assert export_file(state, "geojson").notes == ()


@pytest.mark.parametrize("fmt", sorted(GIS_FORMATS))
def test_an_integer_past_64_bits_is_written_as_text_with_every_digit(fmt: str) -> None:
    exported = export_file(_map(), fmt)
    assert "column big has integers past 64 bits: written as text, every digit kept" in exported.notes
    again = read_file(exported.body, fmt, LIMITS)
    bigs = [dict(f.properties).get("big") for f in again.features]
    assert str(BIG) in bigs, bigs


def test_no_json_value_crashes_an_export() -> None:
    odd = [BIG, -(2**200), 1e308, "", {"a": {"b": {"c": [[], {}]}}}, [None], 0, "\u2028"]
    raw = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [i, i]}, "properties": {"v": v}}
            for i, v in enumerate(odd)
        ],
    }
    state = map_of(read_file(json.dumps(raw).encode(), None, LIMITS))
    for fmt in ("geojson", "csv", "kml", "kmz", "gpx", *sorted(GIS_FORMATS)):
        assert export_file(state, fmt).body, fmt


def test_self_crossing_and_unclosed_rings_are_kept_as_drawn_and_said() -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}
    square = [[10, 10], [11, 10], [11, 11], [10, 11]]  # left open
    open_multi = {
        "type": "MultiPolygon",
        "coordinates": [[square], [[[20, 20], [21, 20], [21, 21], [20, 20]]]],
    }
    good = {"type": "Polygon", "coordinates": [[[5, 5], [6, 5], [6, 6], [5, 5]]]}
    raw = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": g, "properties": {}} for g in (good, bowtie, open_multi)
        ],
    }
    imported = read_file(json.dumps(raw).encode(), None, LIMITS)
    assert [f.type for f in imported.features] == ["polygon", "polygon", "multipolygon"], "all kept"
    assert len(imported.features[1].coords) == 4, "the bowtie as drawn"
    crossing, unclosed = imported.notes
    assert crossing.startswith("1 feature whose rings cross themselves or each other (or have too few")
    assert ": feature 1 (self-intersection[" in crossing
    assert unclosed == "1 unclosed ring closed"


def test_a_collections_own_members_come_back_in_a_geojson_export() -> None:
    raw = {**RAW, "crs_note": "x", "license": {"name": "CC0", "years": [2024, 2025]}}
    imported = read_file(json.dumps(raw).encode(), None, LIMITS)
    assert imported.title == "things" and imported.notes == ()
    assert dict(imported.members) == {"crs_note": "x", "license": {"name": "CC0", "years": [2024, 2025]}}
    state = map_of(imported)
    out = json.loads(write_file(state, "geojson")[0])
    assert {k: v for k, v in out.items() if k != "features"} == {
        "type": "FeatureCollection",
        **{k: v for k, v in raw.items() if k != "features"},
    }
    assert state_from_json(json.loads(dumps(state.to_json())), state.id) == state, "in a snapshot too"
