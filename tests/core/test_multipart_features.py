"""Features of the new shapes through the whole core: added, reshaped, counted against the caps,
fitted, summarised in the history and carried by the wire, with per-point properties across
their parts."""

from __future__ import annotations

import json

import pytest

from mapsrv.core import Limits, MapState, apply, apply_all
from mapsrv.core.changes import Actor
from mapsrv.core.codec import event_from_wire, state_from_json, wire
from mapsrv.core.history import record
from mapsrv.core.parse import parse_op
from mapsrv.errors import InvalidInput, PayloadTooLarge

OUTER = [[0.0, 0.0], [0.0, 4.0], [4.0, 4.0], [4.0, 0.0]]
HOLE = [[1.0, 1.0], [1.0, 2.0], [2.0, 2.0]]
ISLES = [[OUTER, HOLE], [[[10.0, 10.0], [10.0, 11.0], [11.0, 11.0]]]]


def _draw(*raw: dict, limits: Limits = Limits()) -> MapState:
    state, _ = apply_all(MapState(id="m"), [parse_op(r, limits) for r in raw], limits)
    return state


def test_a_polygon_is_stored_flat_unless_it_has_holes() -> None:
    state = _draw(
        {"op": "add_feature", "id": "a", "type": "polygon", "coords": OUTER},
        {"op": "add_feature", "id": "b", "type": "polygon", "coords": [[*OUTER, OUTER[0]]]},
        {"op": "add_feature", "id": "c", "type": "polygon", "coords": [OUTER, HOLE]},
    )
    out = {f["id"]: f["coords"] for f in state.to_json()["features"]}
    assert out["a"] == out["b"] == OUTER, "one ring, closed or not, is the old flat form"
    assert out["c"] == [OUTER, HOLE]
    assert state.points == 4 + 4 + 7


def test_new_shapes_go_over_the_wire_and_replay() -> None:
    before = MapState(id="m")
    ops = [
        parse_op({"op": "add_feature", "id": "i", "type": "multipolygon", "coords": ISLES}, Limits()),
        parse_op(
            {
                "op": "add_feature",
                "type": "collection",
                "coords": [
                    {"type": "marker", "coords": [1, 2]},
                    {"type": "polyline", "coords": [[0, 0], [1, 1]]},
                ],
            },
            Limits(),
        ),
    ]
    after, events = apply_all(before, ops)
    events, _ = record(before, events, Actor("a", "Ann"), 1.0)
    assert [event_from_wire(wire(e)) for e in events] == events
    assert state_from_json(json.loads(json.dumps(after.to_json())), "m") == after
    assert (
        events[-1].change is not None and events[-1].change.summary == "added a multipolygon and a collection"
    )


def test_a_feature_is_reshaped_by_giving_its_type() -> None:
    state = _draw(
        {"op": "add_feature", "id": "p", "type": "polygon", "coords": OUTER},
        {"op": "add_feature", "id": "c", "type": "circle", "coords": [1, 2], "radius": 50},
    )
    state, _ = apply(
        state,
        parse_op({"op": "update_feature", "id": "p", "type": "multipolygon", "coords": ISLES}, Limits()),
    )
    assert state.features["p"].type == "multipolygon" and state.features["p"].point_count() == 10
    state, _ = apply(state, parse_op({"op": "update_feature", "id": "c", "type": "marker"}, Limits()))
    assert (state.features["c"].type, state.features["c"].radius) == ("marker", None), (
        "a marker has no radius"
    )
    with pytest.raises(InvalidInput, match="radius must be a number of metres for a circle"):
        apply(state, parse_op({"op": "update_feature", "id": "c", "type": "circle"}, Limits()))
    # flat points on a multipolygon: refused, naming where
    with pytest.raises(InvalidInput, match=r"coords\[0\] must be a list of rings"):
        apply(state, parse_op({"op": "update_feature", "id": "p", "coords": OUTER}, Limits()))
    with pytest.raises(InvalidInput, match=r"feature type must be one of marker, .*, got 'hexagon'"):
        parse_op({"op": "update_feature", "id": "p", "type": "hexagon"}, Limits())


def test_caps_count_every_part_and_ring() -> None:
    limits = Limits(max_points=9)
    with pytest.raises(
        PayloadTooLarge, match=r"coords must have at most 9 points, got at least 10 \(at coords\[1\]\[0\]\)"
    ):
        _draw({"op": "add_feature", "type": "multipolygon", "coords": ISLES}, limits=limits)
    limits = Limits(max_total_points=12)
    state = _draw({"op": "add_feature", "type": "multipolygon", "coords": ISLES}, limits=limits)
    with pytest.raises(PayloadTooLarge, match="at most 12 coordinates in all; this change would make 13"):
        apply(
            state,
            parse_op({"op": "add_feature", "type": "multipoint", "coords": [[1, 1], [2, 2], [3, 3]]}, limits),
            limits,
        )


def test_fitting_a_multipart_feature_takes_all_its_parts() -> None:
    state = _draw(
        {"op": "add_feature", "id": "i", "type": "multipolygon", "coords": ISLES},
        {"op": "fit_bounds", "feature_ids": ["i"]},
    )
    assert state.view is not None and state.view.bounds == ((0.0, 0.0), (11.0, 11.0))


def test_per_point_properties_run_across_the_parts() -> None:
    two_segments = {"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]], [[2, 2], [3, 3], [4, 4]]]}

    def imported(times: list[str]) -> object:
        feature = {"type": "Feature", "geometry": two_segments, "properties": {"times": times}}
        state = _draw({"op": "import_geojson", "geojson": feature})
        (only,) = state.features.values()
        return dict(only.properties)["times"]

    five = ["08:00", "08:01", "08:02", "08:03", "08:04"]
    assert imported(five) == tuple(five), "one per point of both segments"
    assert imported([*five, "08:05"]) == [*five, "08:05"], "more: a nested array, kept as it came"
