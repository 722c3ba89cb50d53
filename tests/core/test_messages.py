"""What an agent reads when an op is refused (each message names the field, says what it got and
how to fix it), and the edges of the rules behind those messages: the limits themselves are
allowed, a box may be a point, restoring features counts only the ones that come back."""

from __future__ import annotations

from typing import Any

import pytest

from mapsrv.core import Limits, MapState, apply, apply_all
from mapsrv.core.model import (
    FEATURE_TYPES,
    Layer,
    View,
    build_feature,
    check_bounds,
    check_geometry,
    check_zoom,
)
from mapsrv.core.ops import ImportFeatures, RestoreFeatures, RestoreLayer, UpdateFeature
from mapsrv.core.parse import parse_op
from mapsrv.errors import InvalidInput, MapsrvError, NotFound, PayloadTooLarge

LIMITS = Limits(max_points=3)
ZOOM = Limits().max_zoom
TYPES = ", ".join(FEATURE_TYPES)


def refusal(call: Any) -> str:
    with pytest.raises(MapsrvError) as refused:
        call()
    return refused.value.message


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: check_bounds("bounds", "x"),
         "bounds must be [[south, west], [north, east]], got 'x'; e.g. [[48.8, 2.2], [48.9, 2.5]]"),
        (lambda: check_bounds("bounds", [[5, 1], [4, 3]]),
         "bounds south must be at most north, got south 5 and north 4; swap them: [[4, 1], [5, 3]]"
         " (south 5 is north of north)"),
        (lambda: check_bounds("bounds", [[5, 3], [4, 1]]),  # north-east given first: both swapped
         "bounds south must be at most north, got south 5 and north 4; swap them (and west with east):"
         " [[4, 1], [5, 3]] (south 5 is north of north)"),
        (lambda: check_bounds("bounds", [[1, 3], [2, 1]]),
         "bounds west must be at most east, got west 3 and east 1 (bounds west 3 is east of east 1);"
         " swap them, or split a box across the 180th meridian in two (wrapping boxes are not supported)"),
        (lambda: check_zoom(99, Limits()),
         f"zoom must be between 0 and {ZOOM}, got 99;"
         " use 2 for the world, 5 a country, 11 a city, 16 a street"),
        (lambda: check_geometry("polyline", "x", None, LIMITS),
         "coords must be a list of [lat, lon] points, got str 'x'; e.g. [[48.85, 2.35], [51.51, -0.13]]"),
        (lambda: check_geometry("polyline", [[1, 2]] * 4, None, LIMITS),
         "coords must have at most 3 points, got 4; simplify the shape"),
        (lambda: check_geometry("polyline", [[1, 2]], None, LIMITS),
         "coords needs at least 2 points, got 1; add points or draw a marker"),
        (lambda: check_geometry("polygon", [[1, 2], [3, 4]], None, LIMITS),
         "coords needs at least 3 points, got 2; add points or draw a line"),
        (lambda: check_geometry("hexagon", [1, 2], None, LIMITS),
         f"feature type must be one of {TYPES}, got 'hexagon'; pick one of those"),
        (lambda: check_geometry("circle", [1, 2], None, LIMITS),
         "radius must be a number of metres for a circle, got none; e.g. 500"),
        (lambda: check_geometry("marker", [1, 2], 5, LIMITS),
         "radius must be left out for a marker, got 5 (radius applies only to circles);"
         " draw a circle instead"),
    ],
)  # fmt: skip
def test_a_refused_value_is_named_with_what_was_given_and_how_to_fix_it(call: Any, message: str) -> None:
    assert refusal(call) == message


@pytest.mark.parametrize(
    ("call", "start"),
    [
        (lambda: check_bounds("bounds", [[1], [2, 3]]), "bounds south-west must be a [lat, lon] pair"),
        (lambda: check_bounds("bounds", [[1, 2], [3]]), "bounds north-east must be a [lat, lon] pair"),
        (lambda: check_zoom("far", Limits()), "zoom must be a number"),
        (lambda: check_geometry("polyline", [[1, 2], [100, 2]], None, LIMITS), "coords[1] latitude must be"),
        (lambda: check_geometry("circle", [1], 5, LIMITS), "center must be a [lat, lon] pair"),
        (lambda: check_geometry("marker", [1], None, LIMITS), "coords must be a [lat, lon] pair"),
        (lambda: build_feature(id="f", type="marker", coords=[1, 2], layer="no room", limits=LIMITS),
         "layer id must be"),
        (lambda: build_feature(id="f", type="marker", coords=[1, 2], popup=5, limits=LIMITS),
         "popup must be a string"),
    ],
)  # fmt: skip
def test_a_refused_part_of_a_value_is_named_by_its_place(call: Any, start: str) -> None:
    assert refusal(call).startswith(start)


def test_the_limits_themselves_and_a_point_box_are_allowed() -> None:
    assert check_bounds("b", [[1, 2], [1, 2]]) == ((1.0, 2.0), (1.0, 2.0))
    assert len(check_geometry("polyline", [[1, 2]] * 3, None, LIMITS)[0]) == 3
    feature = build_feature(id="f", type="marker", coords=[1, 2], limits=LIMITS)
    assert (feature.label, feature.popup) == ("", "")


def test_a_view_fitted_to_bounds_says_whether_to_animate() -> None:
    assert View(bounds=((1, 2), (3, 4)), animate=False).to_json() == {
        "bounds": [[1, 2], [3, 4]],
        "animate": False,
    }


def marker(fid: str, layer: str = "default") -> Any:
    return build_feature(id=fid, type="marker", coords=[1, 2], layer=layer, limits=Limits())


def state_with(*fids: str) -> MapState:
    ops = [
        parse_op({"op": "add_feature", "id": f, "type": "marker", "coords": [1, 2]}, Limits()) for f in fids
    ]
    return apply_all(MapState(id="m"), ops)[0]


def test_restoring_counts_only_the_features_that_come_back_against_the_limit() -> None:
    limits = Limits(max_features=2)
    one = state_with("f1")
    assert refusal(lambda: apply(one, RestoreFeatures((marker("f2"), marker("f3"))), limits)) == (
        "a map can have at most 2 features; it has 1 and this brings back 2"
    )
    two = state_with("f1", "f2")
    restored, _ = apply(two, RestoreFeatures((marker("f1"), marker("f2"))), limits)  # replaced, not added
    assert set(restored.features) == {"f1", "f2"}
    back, _ = apply(one, RestoreFeatures((marker("f2"),)), limits)
    added, _ = apply(back, parse_op({"op": "add_feature", "type": "marker", "coords": [3, 4]}, Limits()))
    assert len(added.features) == 3 and added.seq > back.seq, "ids still come from the map's sequence"


def test_imported_and_restored_features_create_their_missing_layers_first() -> None:
    for op in (ImportFeatures((marker("a", "hotels"),)), RestoreFeatures((marker("a", "hotels"),))):
        state, events = apply_all(MapState(id="m"), [op])
        assert "hotels" in state.layers and state.features["a"].layer == "hotels"
        assert len(events) == 2, "the layer, then the features"


def test_an_update_keeps_what_it_does_not_name_and_takes_what_it_does() -> None:
    state, _ = apply_all(MapState(id="m"), [
        parse_op({"op": "add_feature", "id": "c", "type": "circle", "coords": [1, 2], "radius": 100,
                  "popup": "kept"}, Limits())])  # fmt: skip
    state, _ = apply(state, UpdateFeature("c", label="renamed"))
    assert (state.features["c"].popup, state.features["c"].radius) == ("kept", 100)
    state, _ = apply(state, UpdateFeature("c", radius=250))
    assert state.features["c"].radius == 250


def test_an_update_onto_a_layer_the_map_lacks_names_the_layers_it_has() -> None:
    state = state_with("f1")
    state, _ = apply_all(state, [parse_op({"op": "add_layer", "id": "x", "name": "X"}, Limits())])
    assert refusal(lambda: apply(state, UpdateFeature("f1", layer="nope"))) == (
        "layer 'nope' not found; this map has 'default', 'x'"
    )
    with pytest.raises(NotFound):
        apply(state, UpdateFeature("f1", layer="nope"))


def test_clearing_a_layer_recounts_the_points_left() -> None:
    state, _ = apply_all(MapState(id="m"), [
        parse_op({"op": "add_feature", "type": "polygon", "coords": [[1, 2], [3, 4], [5, 6]], "layer": "x"},
                 Limits()),
        parse_op({"op": "add_feature", "type": "marker", "coords": [1, 2]}, Limits()),
    ])  # fmt: skip
    assert state.points == 4
    cleared, _ = apply(state, parse_op({"op": "clear", "layer": "x"}, Limits()))
    assert cleared.points == 1


def test_the_error_types_are_the_ones_an_agent_is_told() -> None:
    with pytest.raises(PayloadTooLarge):
        check_geometry("polyline", [[1, 2]] * 4, None, LIMITS)
    with pytest.raises(InvalidInput):
        check_zoom(-1, Limits())


LATITUDE = "coords latitude must be between -90 and 90, got"
LONGITUDE = "coords longitude must be between -180 and 180, got"
DEGREES = "latitude is degrees north (+) or south (-) of the equator"


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ([100, 50], f"{LATITUDE} 100; this looks like [lon, lat]: swap them to [50, 100]"),
        ([180, 90], f"{LATITUDE} 180; this looks like [lon, lat]: swap them to [90, 180]"),
        ([-180, -90], f"{LATITUDE} -180; this looks like [lon, lat]: swap them to [-90, -180]"),
        ([-90.5, 0], f"{LATITUDE} -90.5; this looks like [lon, lat]: swap them to [0, -90.5]"),
        ([100, 120], f"{LATITUDE} 100; {DEGREES}"),
        ([100, -90.5], f"{LATITUDE} 100; {DEGREES}"),
        ([100, 90.5], f"{LATITUDE} 100; {DEGREES}"),
        ([181, 0], f"{LATITUDE} 181; {DEGREES}"),
        ([-180.5, 0], f"{LATITUDE} -180.5; {DEGREES}"),
        ([0, 180.5], f"{LONGITUDE} 180.5; subtract 360 east of 180"),
        ([0, -180.5], f"{LONGITUDE} -180.5; add 360 west of -180"),
        # every digit, where :g printed 180 and 90: what is typed is checked exactly
        ([0, 180.00000000000006], f"{LONGITUDE} 180.00000000000006; subtract 360 east of 180"),
        ([90.0000001, 0], f"{LATITUDE} 90.0000001; this looks like [lon, lat]: swap them to [0, 90.0000001]"),
    ],
)
def test_a_point_out_of_range_says_which_way_to_fix_it(point: list[float], message: str) -> None:
    assert refusal(lambda: check_geometry("marker", point, None, LIMITS)) == message


def test_a_point_on_the_edges_is_allowed_and_a_bad_longitude_is_named() -> None:
    for point in ([90, 180], [-90, -180]):
        assert check_geometry("marker", point, None, LIMITS)[0] == tuple(float(v) for v in point)
    assert refusal(lambda: check_geometry("marker", [0, "east"], None, LIMITS)).startswith("coords longitude")


def op(raw: dict[str, Any]) -> Any:
    return parse_op(raw, Limits())


def test_the_total_points_limit_allows_reaching_it_and_edits_that_add_none() -> None:
    limits = Limits(max_total_points=3)
    polygon = op({"op": "add_feature", "type": "polygon", "coords": [[1, 2], [3, 4], [5, 6]]})
    three, _ = apply(MapState(id="m"), polygon, limits)
    assert three.points == 3
    assert refusal(
        lambda: apply(three, op({"op": "add_feature", "type": "marker", "coords": [1, 2]}), limits)
    )
    lowered = Limits(max_total_points=2)  # a map already past a lowered limit may still be edited
    titled, _ = apply(three, op({"op": "set_title", "title": "t"}), lowered)
    assert titled.points == 3


def test_replacing_a_feature_counts_its_points_once() -> None:
    state, _ = apply(MapState(id="m"), op({"op": "add_feature", "id": "p", "type": "polygon",
                                           "coords": [[1, 2], [3, 4], [5, 6]]}))  # fmt: skip
    state, _ = apply(state, UpdateFeature("p", coords=[[1, 2], [3, 4], [5, 6], [7, 8]]))
    assert state.points == 4
    state, _ = apply(state, op({"op": "add_feature", "type": "circle", "coords": [1, 2], "radius": 5}))
    assert state.points == 5, "a circle is one point, its center"


def test_ops_carry_every_field_they_were_given() -> None:
    state, _ = apply(
        MapState(id="m"), op({"op": "add_feature", "id": "a", "type": "marker", "coords": [1, 2]})
    )
    fitted, _ = apply(state, op({"op": "fit_bounds", "animate": False}))
    assert fitted.view is not None and fitted.view.animate is False
    hidden, _ = apply(state, op({"op": "add_layer", "id": "x", "name": "X", "visible": False}))
    assert hidden.layers["x"].visible is False
    updated, _ = apply(state, UpdateFeature("a", popup="new"))
    assert updated.features["a"].popup == "new"
    added, _ = apply(updated, op({"op": "add_feature", "type": "marker", "coords": [1, 2]}))
    assert set(added.features) == {"a", f"f{updated.seq}"}, "the sequence goes on after an update"


def test_ids_given_out_in_one_batch_follow_each_other_and_an_id_is_taken_once() -> None:
    two = [op({"op": "add_feature", "type": "marker", "coords": [1, 2]}) for _ in range(2)]
    state, _ = apply_all(MapState(id="m"), two)
    assert sorted(state.features) == ["f1", "f2"] and state.seq == 3
    assert refusal(lambda: apply(state, ImportFeatures((marker("a"), marker("a"))))) == (
        "feature 'a' already exists; use update_feature to change it"
    )


def test_the_layer_and_fit_refusals_say_what_to_do_instead() -> None:
    empty = MapState(id="m")
    assert refusal(lambda: apply(empty, op({"op": "remove_layer", "id": "default"}))) == (
        "the default layer cannot be removed; clear it instead"
    )
    assert (
        refusal(lambda: apply(empty, op({"op": "fit_bounds"})))
        == "the map has no features to fit; give bounds instead"
    )
    limits = Limits(max_layers=2)
    two, _ = apply(empty, op({"op": "add_layer", "id": "a", "name": "A"}), limits)
    assert refusal(lambda: apply(two, op({"op": "add_layer", "id": "b", "name": "B"}), limits)) == (
        "a map can have at most 2 layers"
    )
    renamed, _ = apply(two, RestoreLayer(Layer("a", "B")), limits)  # at the limit: it replaces one
    assert renamed.layers["a"].name == "B"
    assert (
        refusal(lambda: apply(two, RestoreLayer(Layer("b", "B")), limits))
        == "a map can have at most 2 layers"
    )


def test_clearing_the_whole_map_removes_every_feature() -> None:
    state = state_with("f1", "f2")
    cleared, _ = apply(state, op({"op": "clear"}))
    assert cleared.features == {} and cleared.points == 0
