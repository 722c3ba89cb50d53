"""Unit tests of the sans-IO core: ops, errors, GeoJSON and SSE framing."""

from __future__ import annotations

import json
from unittest import mock

import pytest

from mapsrv.core import Limits, MapState, apply, apply_all, sse
from mapsrv.core.codec import dumps, state_from_json
from mapsrv.core.events import FeaturesUpserted, LayerSet
from mapsrv.core.geojson import features_from_geojson, to_geojson
from mapsrv.core.model import Layer
from mapsrv.core.parse import parse_op, parse_ops
from mapsrv.core.sse import comment, frame, retry
from mapsrv.errors import InvalidInput, NotFound, PayloadTooLarge


def run(*raw: dict, state: MapState | None = None, limits: Limits = Limits()) -> MapState:
    state = state or MapState(id="m")
    ops = [parse_op(r, limits) for r in raw]
    state, _ = apply_all(state, ops, limits)
    return state


def test_generated_ids_are_fresh_and_deterministic() -> None:
    state = run(
        {"op": "add_feature", "type": "marker", "coords": [1, 1]},
        {"op": "add_feature", "id": "f2", "type": "marker", "coords": [2, 2]},
        {"op": "add_feature", "type": "marker", "coords": [3, 3]},
    )
    assert list(state.features) == ["f1", "f2", "f3"]


def test_update_merges_style_and_revalidates_geometry() -> None:
    state = run(
        {
            "op": "add_feature",
            "id": "c",
            "type": "circle",
            "coords": [0, 0],
            "radius": 10,
            "style": {"color": "red", "weight": 3},
        }
    )
    state = run(
        {"op": "update_feature", "id": "c", "style": {"weight": None, "opacity": 0.5}, "label": "hi"},
        state=state,
    )
    feature = state.features["c"]
    assert dict(feature.style) == {"color": "red", "opacity": 0.5}
    assert feature.label == "hi" and feature.radius == 10
    with pytest.raises(InvalidInput, match="latitude must be between -90 and 90, got 100"):
        run({"op": "update_feature", "id": "c", "coords": [100, 0]}, state=state)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"op": "set_view", "center": [0, 181], "zoom": 1},
            "longitude must be between -180 and 180, got 181",
        ),
        ({"op": "set_view", "center": [0, 0], "zoom": 23}, "zoom must be between 0 and 22, got 23"),
        ({"op": "set_view", "center": [0, True], "zoom": 2}, "must be a number"),
        ({"op": "add_feature", "type": "polyline", "coords": [[0, 0]]}, "needs at least 2 points"),
        ({"op": "add_feature", "type": "circle", "coords": [0, 0]}, "radius must be a number of metres"),
        ({"op": "add_feature", "type": "marker", "coords": [0, 0], "radius": 3}, "only to circles"),
        ({"op": "add_feature", "type": "hexagon", "coords": [0, 0]}, "feature type must be one of"),
        ({"op": "add_feature", "type": "marker", "coords": [0, 0], "id": "has space"}, "feature id must be"),
        (
            {"op": "add_feature", "type": "marker", "coords": [0, 0], "style": {"colour": "red"}},
            "unknown style key",
        ),
        ({"op": "add_feature", "type": "rectangle", "coords": [[10, 0], [0, 1]]}, "is north of north"),
        ({"op": "set_view", "zoom": 3}, "needs the field 'center'"),
        ({"op": "set_title", "title": "x", "colour": 1}, "set_title has no field 'colour'"),
    ],
)
def test_validation_messages_name_the_bad_value(raw: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        run(raw)


def test_caps() -> None:
    limits = Limits(max_features=2, max_label=5)
    state = run(*[{"op": "add_feature", "type": "marker", "coords": [0, 0]}] * 2, limits=limits)
    with pytest.raises(PayloadTooLarge, match="at most 2 features"):
        run({"op": "add_feature", "type": "marker", "coords": [0, 0]}, state=state, limits=limits)
    with pytest.raises(PayloadTooLarge, match="label must be at most 5 characters, got 6"):
        run({"op": "add_feature", "type": "marker", "coords": [0, 0], "label": "abcdef"}, limits=limits)
    with pytest.raises(PayloadTooLarge, match="ops must be at most 1000 in a batch"):
        parse_ops({"ops": [{"op": "clear"}] * 1001}, Limits())


def test_layers_fit_and_clear() -> None:
    state = run(
        {"op": "add_layer", "id": "roads", "name": "Roads"},
        {"op": "add_feature", "id": "r", "type": "polyline", "coords": [[0, 0], [10, 20]], "layer": "roads"},
        {"op": "add_feature", "id": "p", "type": "marker", "coords": [-5, -5]},
        {"op": "hide_layer", "id": "roads"},
        {"op": "fit_bounds", "feature_ids": ["r"]},
    )
    assert not state.layers["roads"].visible
    assert state.view is not None and state.view.bounds == ((0, 0), (10, 20))
    assert run({"op": "fit_bounds"}, state=state).view.bounds == ((-5, -5), (10, 20))  # type: ignore[union-attr]
    assert list(run({"op": "clear", "layer": "roads"}, state=state).features) == ["p"]
    gone = run({"op": "remove_layer", "id": "roads"}, state=state)
    assert "roads" not in gone.layers and list(gone.features) == ["p"]
    with pytest.raises(InvalidInput, match="default layer cannot be removed"):
        run({"op": "remove_layer", "id": "default"}, state=state)
    with pytest.raises(NotFound, match="layer 'nope' not found"):
        run({"op": "update_feature", "id": "p", "layer": "nope"}, state=state)
    with pytest.raises(NotFound, match="layer 'nope' not found"):
        run({"op": "clear", "layer": "nope"}, state=state)


def test_drawing_on_a_missing_layer_creates_it_in_the_same_batch() -> None:
    ops = [
        parse_op(
            {"op": "add_feature", "id": "h", "type": "marker", "coords": [0, 0], "layer": "hotels"}, Limits()
        ),
        parse_op(
            {"op": "add_feature", "id": "i", "type": "marker", "coords": [1, 1], "layer": "hotels"}, Limits()
        ),
    ]
    state, events = apply_all(MapState(id="m"), ops)
    assert state.layers["hotels"] == Layer("hotels", "hotels", True)
    assert [type(e) for e in events] == [LayerSet, FeaturesUpserted, FeaturesUpserted]
    assert [e.version for e in events] == [1, 2, 3] and state.version == 3
    with pytest.raises(PayloadTooLarge, match="at most 1 layers"):
        apply_all(MapState(id="m"), ops, Limits(max_layers=1))
    with pytest.raises(InvalidInput, match="no features to fit"):
        run({"op": "fit_bounds"})


def test_batch_is_all_or_nothing_and_names_the_failing_op() -> None:
    state = MapState(id="m")
    ops, _ = parse_ops(
        {"ops": [{"op": "set_title", "title": "a"}, {"op": "remove_features", "ids": ["x"]}]}, Limits()
    )
    with pytest.raises(NotFound, match=r"op 1 \(remove_features\)"):
        apply_all(state, ops)


def test_geojson_round_trip_keeps_every_type() -> None:
    state = run(
        {
            "op": "add_feature",
            "id": "m",
            "type": "marker",
            "coords": [48.85, 2.35],
            "label": "Paris",
            "style": {"color": "#f00"},
        },
        {"op": "add_feature", "id": "l", "type": "polyline", "coords": [[0, 0], [1, 1]]},
        {"op": "add_feature", "id": "g", "type": "polygon", "coords": [[0, 0], [0, 1], [1, 1]]},
        {"op": "add_feature", "id": "c", "type": "circle", "coords": [5, 5], "radius": 250},
        {"op": "add_feature", "id": "r", "type": "rectangle", "coords": [[1, 2], [3, 4]]},
    )
    exported = to_geojson(state)
    assert exported["features"][0]["geometry"]["coordinates"] == [2.35, 48.85]
    polygon = exported["features"][2]["geometry"]["coordinates"][0]
    assert polygon[0] == polygon[-1], "GeoJSON rings are closed"
    back = features_from_geojson(exported, Limits())
    assert [(f.id, f.type, f.coords, f.radius, f.label, f.style) for f in back] == [
        (f.id, f.type, f.coords, f.radius, f.label, f.style) for f in state.features.values()
    ]


def test_geojson_import_of_foreign_data() -> None:
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": 7,
                "geometry": {"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]},
                "properties": {"name": "two points", "marker-color": "#00ff00"},
            },
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
                "properties": None,
            },
        ],
    }
    features = features_from_geojson(collection, Limits())
    assert [(f.type, f.coords, f.label) for f in features] == [
        ("multipoint", ((2.0, 1.0), (4.0, 3.0)), "two points"),  # one feature, kept whole
        ("polygon", ((0.0, 0.0), (0.0, 1.0), (1.0, 1.0)), ""),
    ]
    assert dict(features[0].style) == {"color": "#00ff00"}
    state, event = apply(
        MapState(id="m"), parse_op({"op": "import_geojson", "geojson": collection}, Limits())
    )
    assert len(state.features) == 2 and isinstance(event, FeaturesUpserted)
    with pytest.raises(InvalidInput, match=r"geojson feature 0 geometry type must be Point, .*'Circle'"):
        features_from_geojson(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "geometry": {"type": "Circle", "coordinates": [0, 0]}}],
            },
            Limits(),
        )
    with pytest.raises(InvalidInput, match=r"looks like \[lat, lon\]; write \[95, 0\]"):
        features_from_geojson(
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 95]}}, Limits()
        )
    with pytest.raises(InvalidInput, match="latitude must be between -90 and 90, got 95"):
        features_from_geojson(
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [120, 95]}}, Limits()
        )


def test_sse_framing() -> None:
    assert frame("a\nb\r\nc", event="change", id=5) == b"id: 5\nevent: change\ndata: a\ndata: b\ndata: c\n\n"
    assert frame("x", id="1\n2\r3\x004") == b"id: 1234\ndata: x\n\n"
    assert frame("", event="e\nvil") == b"event: evil\ndata: \n\n"
    # one line (compact JSON, the way every frame is made): no split, the same bytes
    assert frame('{"t":"é\u2028\\n"}', event="snapshot", id=3) == (
        'id: 3\nevent: snapshot\ndata: {"t":"é\u2028\\n"}\n\n'.encode()
    )
    assert frame("a\rb", id=1) == b"id: 1\ndata: a\ndata: b\n\n", "a lone CR breaks a line too"
    # a big text is encoded a slice at a time: the same bytes as in one call, non-ASCII cut anywhere
    text = '{"t":"' + "é€𝄞a" * 300 + '"}'
    with mock.patch.object(sse, "ENCODE_SLICE", 7):
        assert frame(text, event="change", id=9) == b"id: 9\nevent: change\ndata: " + text.encode() + b"\n\n"
    assert comment("hb") == b": hb\n\n"
    assert retry(1500) == b"retry: 1500\n\n"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"op": []}, "unknown op"),
        ({"op": "set_view", "center": [10**400, 0], "zoom": 1}, "401-digit integer"),
        ({"op": "set_title", "title": "\ud800"}, "lone surrogate"),
        ({"op": "fit_bounds", "bounds": [[0, 170], [1, -170]]}, "180th meridian"),
    ],
)
def test_inputs_that_once_slipped_through(raw: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        run(raw)


def test_a_map_holds_a_bounded_number_of_coordinates() -> None:
    limits = Limits(max_total_points=10)
    line = {"op": "add_feature", "type": "polyline", "coords": [[0, 0], [1, 1], [2, 2], [3, 3]]}
    state = run(line, line, limits=limits)
    assert state.points == 8
    with pytest.raises(PayloadTooLarge, match="at most 10 coordinates in all; this change would make 12"):
        run(line, state=state, limits=limits)
    state = run({"op": "remove_features", "ids": ["f1"]}, state=state, limits=limits)
    assert state.points == 4
    assert run(line, state=state, limits=limits).points == 8


# --- edges and messages that mutation testing showed nothing checked (docs/mutation.md) ---------


@pytest.mark.parametrize("zoom", [0, 22])
def test_zoom_at_either_end_of_its_range_is_accepted(zoom: int) -> None:
    assert run({"op": "set_view", "center": [0, 0], "zoom": zoom}).view.zoom == zoom  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"op": "set_view", "center": [0, 0], "zoom": -0.5}, "zoom must be between 0 and 22, got -0.5"),
        (
            {"op": "add_feature", "type": "circle", "coords": [0, 0], "radius": 0},
            "radius must be between 0.01 and 2e[+]07, got 0",
        ),
        (
            {"op": "add_feature", "type": "polygon", "coords": [[0, 0], [1, 1]]},
            "coords needs at least 3 points, got 2",
        ),
        (
            {"op": "add_feature", "type": "polyline", "coords": "ab"},
            "coords must be a list of \\[lat, lon\\] points, got str",
        ),
        (
            {"op": "add_feature", "type": "rectangle", "coords": [[1, 2], [3, 4], [5, 6]]},
            "bounds must be \\[\\[south, west\\], \\[north, east\\]\\], got",
        ),
        (
            {"op": "fit_bounds", "bounds": "ab"},
            "bounds must be \\[\\[south, west\\], \\[north, east\\]\\], got 'ab'",
        ),
        ({"op": "fit_bounds", "bounds": [[0, 5], [1, 2]]}, "bounds west must be at most east, got west 5"),
        ({"op": "fit_bounds", "feature_ids": ["nope"]}, "feature 'nope' not found on this map"),
        ({"op": "update_feature", "id": "nope"}, "feature 'nope' not found on this map"),
    ],
)
def test_each_validation_error_names_the_field_and_the_value(raw: dict, message: str) -> None:
    with pytest.raises((InvalidInput, NotFound), match=f"^{message}"):
        run(raw)


def test_a_batch_of_exactly_max_ops_applies_and_one_more_is_refused() -> None:
    limits = Limits(max_ops=3)
    ops = [parse_op({"op": "set_title", "title": str(i)}, limits) for i in range(3)]
    state, events = apply_all(MapState(id="m"), ops, limits)
    assert state.title == "2" and len(events) == 3
    with pytest.raises(PayloadTooLarge, match="a batch can have at most 3 ops, got 4"):
        apply_all(MapState(id="m"), [*ops, ops[0]], limits)


def test_a_one_op_batch_error_has_no_index_prefix_but_a_longer_batch_names_the_op() -> None:
    missing = parse_op({"op": "remove_features", "ids": ["x"]}, Limits())
    with pytest.raises(NotFound, match=r"^feature 'x' not found on this map$"):
        apply_all(MapState(id="m"), [missing])
    title = parse_op({"op": "set_title", "title": "t"}, Limits())
    with pytest.raises(NotFound, match=r"^op 1 \(remove_features\): feature 'x' not found"):
        apply_all(MapState(id="m"), [title, missing])


def test_clearing_a_style_key_the_feature_never_had_is_fine() -> None:
    state = run(
        {"op": "add_feature", "id": "a", "type": "marker", "coords": [0, 0], "style": {"color": "red"}}
    )
    state = run({"op": "update_feature", "id": "a", "style": {"weight": None, "color": None}}, state=state)
    assert state.features["a"].style == ()


def test_a_snapshot_keeps_every_field_of_every_feature_kind() -> None:
    state = run(
        {"op": "add_layer", "id": "roads", "name": "Roads", "visible": False},
        {"op": "add_feature", "id": "c", "type": "circle", "coords": [1, 2], "radius": 50, "layer": "roads"},
        {"op": "add_feature", "id": "r", "type": "rectangle", "coords": [[0, 0], [1, 1]], "label": "box"},
        {
            "op": "add_feature",
            "id": "l",
            "type": "polyline",
            "coords": [[0, 0], [1, 1]],
            "popup": "p",
            "style": {"color": "#f00", "dash": "4 4", "weight": 3},
        },
        {"op": "set_view", "center": [1, 2], "zoom": 3, "animate": False},
    )
    assert state_from_json(json.loads(dumps(state.to_json())), "m") == state
    assert state.to_json()["view"] == {"center": [1.0, 2.0], "zoom": 3.0, "animate": False}


def test_a_multi_line_comment_keeps_every_line() -> None:
    assert comment("a\nb") == b": a\n: b\n\n"
