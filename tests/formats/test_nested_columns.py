"""List and struct columns kept (issue 75): a GeoParquet whose columns are Arrow lists, structs
and maps (tags, a contact record, a list of visits) comes in with each cell as a JSON array or
object, a list one value however many points its feature has (a 2-point line's 2 tags stay one
value, not one a point); the stores give it back as it was; a GeoParquet export writes them as
Arrow lists and structs again (read by pyarrow), other formats as JSON text with a note."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from support.gis_files import geoparquet

from mapsrv.core.apply import apply_all
from mapsrv.core.codec import feature_from_json
from mapsrv.core.model import Feature, Limits, MapState
from mapsrv.core.ops import ImportFeatures
from mapsrv.formats import export_file, read_file
from mapsrv.hub.imports import read_upload

LIMITS = Limits()
TAGS = [["cafe", "wifi"], ["bridge", "river"], [], None]
CONTACT = [{"phone": "+41 21 000", "open": True}, {"phone": "+41 22 111", "open": False}, None, None]
VISITS = [[{"day": "mon", "n": 3}], [{"day": "tue", "n": 5}, {"day": "wed", "n": 1}], None, []]
SHAPES = [
    shapely.Point(6.63, 46.52),
    shapely.LineString([(6.14, 46.2), (6.15, 46.21)]),  # 2 points and 2 tags: still one value
    shapely.Polygon([(6.0, 46.0), (6.1, 46.0), (6.1, 46.1)]),
    shapely.Point(6.2, 46.3),
]


def parquet() -> bytes:
    table = pa.table(
        {
            "name": ["cafe", "bridge", "park", "bench"],
            "tags": pa.array(TAGS, pa.list_(pa.string())),
            "contact": pa.array(CONTACT, pa.struct([("phone", pa.string()), ("open", pa.bool_())])),
            "visits": pa.array(VISITS, pa.list_(pa.struct([("day", pa.string()), ("n", pa.int64())]))),
            "sizes": pa.array(
                [[("a", 1)], None, [("b", 2), ("c", 3)], None], pa.map_(pa.string(), pa.int64())
            ),
            "geometry": shapely.to_wkb(SHAPES),
        }
    )
    return geoparquet(table, None)


def imported() -> list[Feature]:
    return list(read_file(parquet(), "parquet", LIMITS).features)


def props(feature: Feature) -> dict[str, Any]:
    return dict(feature.properties)


def test_list_struct_and_map_cells_come_in_as_json_arrays_and_objects() -> None:
    features = imported()
    assert [props(f)["tags"] for f in features] == TAGS
    assert [props(f)["contact"] for f in features] == CONTACT
    assert [props(f)["visits"] for f in features] == VISITS
    assert [props(f)["sizes"] for f in features] == [{"a": 1}, None, {"b": 2, "c": 3}, None]
    line = features[1]
    assert line.point_count() == 2 and type(props(line)["tags"]) is list  # one value, not one a point
    assert list(props(line)) == ["name", "tags", "contact", "visits", "sizes"]


def test_the_stores_give_the_lists_back_as_lists() -> None:
    for feature in imported():
        again = feature_from_json(json.loads(json.dumps(feature.to_json())))
        assert again == feature
    line = imported()[1]
    assert line.to_json()["lists"] == ["tags"]  # what per_point would take for one a point
    # without the mark (a map stored before it), a list of a scalar a point reads as per point
    unmarked = {k: v for k, v in line.to_json().items() if k != "lists"}
    assert type(props(feature_from_json(unmarked))["tags"]) is tuple


def state() -> MapState:
    return apply_all(MapState("m1"), [ImportFeatures(tuple(imported()))])[0]


def test_a_geoparquet_export_writes_arrow_lists_and_structs() -> None:
    exported = export_file(state(), "parquet")
    table = pq.read_table(io.BytesIO(exported.body))
    assert pa.types.is_list(table.schema.field("tags").type)
    assert pa.types.is_struct(table.schema.field("contact").type)
    assert pa.types.is_struct(table.schema.field("visits").type.value_type)
    assert table["tags"].to_pylist() == TAGS
    assert table["contact"].to_pylist() == CONTACT
    assert table["visits"].to_pylist() == VISITS
    assert [n for n in exported.notes if "JSON text" in n] == [  # sizes: test below
        "column sizes holds arrays or objects no one Parquet type holds exactly (of other keys,"
        " or mixed with numbers or text): written as JSON text"
    ]
    again = read_file(exported.body, "parquet", LIMITS).features
    assert [props(f)["tags"] for f in again] == TAGS
    assert [props(f)["contact"] for f in again] == CONTACT


def test_objects_of_other_keys_are_json_text_in_a_geoparquet() -> None:
    # the "sizes" objects (a map column's) have other keys: a struct would give each the
    # other's as nulls, so they are JSON text, every key as it was
    exported = export_file(state(), "parquet")
    table = pq.read_table(io.BytesIO(exported.body))
    assert pa.types.is_string(table.schema.field("sizes").type)
    assert [None if v is None else json.loads(v) for v in table["sizes"].to_pylist()] == [
        {"a": 1},
        None,
        {"b": 2, "c": 3},
        None,
    ]


def test_a_geopackage_writes_them_as_json_text_and_says_so() -> None:
    exported = export_file(state(), "gpkg")
    assert any("nested values written as JSON text" in n for n in exported.notes), exported.notes
    again = {f.label: props(f) for f in read_file(exported.body, "gpkg", LIMITS).features}
    assert json.loads(again["cafe"]["tags"]) == ["cafe", "wifi"]


def test_a_geojson_export_marks_the_lists_and_reads_them_back_as_lists() -> None:
    exported = export_file(state(), "geojson")
    raw = json.loads(exported.body)
    assert raw["features"][1]["mapsrv"]["lists"] == ["tags"]
    again = read_file(exported.body, "geojson", LIMITS).features
    assert [props(f)["tags"] for f in again] == TAGS
    assert type(props(again[1])["tags"]) is list


async def test_the_sandboxed_reader_gives_the_lists_back_as_one_value_each() -> None:
    """Through the reader process a page's upload goes through (pickled features, ``ALLOWED``)."""
    read = await read_upload(parquet(), "parquet", LIMITS)
    assert [props(f)["tags"] for f in read.features] == TAGS
    assert type(props(read.features[1])["tags"]) is list
