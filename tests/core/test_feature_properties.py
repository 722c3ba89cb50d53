"""A feature's attributes (``properties``): what a file or a dataset brought with it survives the
model's rules, the codec (Redis, the history, the wire) and GeoJSON out and in, exactly."""

from __future__ import annotations

import json

import pytest

from mapsrv.core.apply import apply_all
from mapsrv.core.codec import feature_from_json
from mapsrv.core.geojson import features_from_geojson, to_geojson
from mapsrv.core.model import Limits, MapState, build_feature
from mapsrv.core.ops import ImportFeatures
from mapsrv.errors import InvalidInput, PayloadTooLarge

L = Limits()
TRACK = [[46.0 + i / 100, 6.0 + i / 100] for i in range(5)]


def track() -> object:
    return build_feature(
        id="t1",
        type="polyline",
        coords=TRACK,
        label="Ride",
        properties={
            "times": ["2026-06-01T08:00:00Z", None, "2026-06-01T08:00:02Z", None, None],
            "elevations": [372, 380.5, None, 375, 374],
            "name": "Ride",
            "moving": True,
        },
        limits=L,
    )


def test_properties_keep_their_order_are_immutable_and_survive_the_codec() -> None:
    """In the order they came (a file's columns, issue 75), through the codec too."""
    feature = track()
    keys = [k for k, _ in feature.properties]  # type: ignore[attr-defined]
    assert keys == ["times", "elevations", "name", "moving"]
    assert dict(feature.properties)["elevations"] == (372, 380.5, None, 375, 374)  # type: ignore[attr-defined]
    wire = json.loads(json.dumps(feature.to_json()))  # type: ignore[attr-defined]
    assert feature_from_json(wire) == feature
    assert [k for k, _ in feature_from_json(wire).properties] == keys
    plain = build_feature(id="m", type="marker", coords=[1, 2], limits=L)
    assert "properties" not in plain.to_json(), "no bytes for features without attributes"


def test_a_list_longer_than_the_points_is_a_nested_value_kept_as_it_came() -> None:
    feature = build_feature(id="m", type="marker", coords=[1, 2], properties={"ele": [1, 2]}, limits=L)
    assert dict(feature.properties)["ele"] == [1, 2], "a JSON array, not one value per point"
    assert feature_from_json(json.loads(json.dumps(feature.to_json()))) == feature


def test_nested_values_are_bounded_in_depth_and_size() -> None:
    deep: object = 1
    for _ in range(20):
        deep = [deep]
    with pytest.raises(InvalidInput, match="at most 16 deep"):
        build_feature(id="m", type="marker", coords=[1, 2], properties={"d": deep}, limits=L)
    with pytest.raises(PayloadTooLarge, match="at most 4000 characters as JSON"):
        build_feature(
            id="m", type="marker", coords=[1, 2], properties={"b": {"t": ["x" * 100] * 50}}, limits=L
        )
    with pytest.raises(InvalidInput, match="finite"):
        build_feature(id="m", type="marker", coords=[1, 2], properties={"n": {"x": float("nan")}}, limits=L)


def test_geojson_keeps_what_it_does_not_read_and_gives_it_back() -> None:
    raw = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "s1",
                "geometry": {"type": "Point", "coordinates": [6.63, 46.52]},
                "properties": {
                    "name": "Lausanne",
                    "population": 140000,
                    "tags": {"wiki": "Q807"},
                    "score": float("nan"),
                    "marker-color": "#ff0000",
                },
            }
        ],
    }
    (feature,) = features_from_geojson(raw, L)
    kept = dict(feature.properties)
    # the name is the label and still the data's name; the colour is the style and still its own
    assert kept == {
        "name": "Lausanne",
        "population": 140000,
        "tags": {"wiki": "Q807"},
        "score": None,
        "marker-color": "#ff0000",
    }
    assert feature.label == "Lausanne" and dict(feature.style) == {"color": "#ff0000"}
    state, _ = apply_all(MapState("m"), [ImportFeatures((feature,))])
    out = to_geojson(state)["features"][0]["properties"]
    assert out == {k: v for k, v in kept.items()}, "the data's properties, and only them"
    assert to_geojson(state)["features"][0]["mapsrv"] == {
        "type": "marker",
        "layer": "default",
        "style": {"color": "#ff0000"},
    }
    (again,) = features_from_geojson(to_geojson(state), L)
    assert dict(again.properties) == kept


def test_styles_labels_filters_and_times_take_a_nested_value_as_text() -> None:
    from mapsrv.core.layer_style import style_counts
    from mapsrv.core.parse import parse_op
    from mapsrv.core.style_rules import label_of, match_filter, text_of

    values: list[object] = [{"wiki": "Q807"}, [1, "a"], {}, 5, {"t": "2026-01-01"}]
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [i, i]}, "properties": {"v": v}}
        for i, v in enumerate(values)
    ]
    ops = [
        parse_op(
            {
                "op": "import_geojson",
                "layer": "c",
                "geojson": {"type": "FeatureCollection", "features": features},
            },
            L,
        )
    ]
    for style in (
        {"by": "v", "classes": 3},
        {"by": "v", "kind": "categorical"},
        {
            "by": "v",
            "kind": "categorical",
            "label": "{v}",
            "filter": {"property": "v", "op": "<", "value": 9},
        },
        {"by": "v", "kind": "proportional", "time": {"property": "v"}},
    ):
        state, _ = apply_all(
            MapState("m"), [*ops, parse_op({"op": "set_layer_style", "layer": "c", "style": style}, L)]
        )
        layer_style = state.layers["c"].style
        assert layer_style is not None
        style_counts(layer_style, list(state.features.values()))  # counts, never a crash
    assert text_of({"wiki": "Q807"}) == '{"wiki":"Q807"}' and text_of([1, "a"]) == "1, a"
    assert label_of("{v}", {"v": {"a": [1]}}) == '{"a":[1]}'
    assert match_filter({"property": "v", "op": "contains", "value": "Q807"}, {"v": {"wiki": "Q807"}})
    assert not match_filter({"property": "v", "op": "==", "value": 9}, {"v": {"a": 9}}), "never a number"
