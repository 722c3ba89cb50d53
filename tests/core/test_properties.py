"""Property tests of the sans-IO core: any op applies or raises a clear error, never anything else;
replaying the events from any snapshot reproduces the state; the wire forms round-trip."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from mapsrv.core import Limits, MapState, apply, apply_all, apply_event
from mapsrv.core.codec import dumps, event_from_json, event_from_wire, event_to_json, state_from_json, wire
from mapsrv.core.geometry import GEOMETRY_TYPES
from mapsrv.core.parse import OP_FIELDS, parse_op
from mapsrv.errors import MapsrvError

LIMITS = Limits(max_features=30, max_layers=5, max_points=20, max_ops=10)

numbers = st.one_of(
    st.floats(min_value=-200, max_value=200, allow_nan=False),
    st.integers(-200, 200),
    st.sampled_from([0.0, 90.0, -90.0, 180.0, -180.0]),
)
good_lat = st.floats(min_value=-90, max_value=90, allow_nan=False)
good_lon = st.floats(min_value=-180, max_value=180, allow_nan=False)
latlon = st.one_of(st.tuples(good_lat, good_lon).map(list), st.lists(numbers, min_size=0, max_size=3))
ids = st.one_of(st.sampled_from(["a", "b", "c", "f1", "f2", "default", "roads"]), st.text(max_size=5))
junk = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.floats())
styles = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "color": st.sampled_from(["#f00", "#00ff00", "red", "not a colour", 3]),
            "weight": numbers,
            "opacity": st.floats(min_value=-1, max_value=2, allow_nan=False),
            "dash": st.sampled_from(["4 4", "x"]),
        },
    ),
)
layer_styles = st.one_of(
    st.none(),
    st.just([1]),
    st.fixed_dictionaries(
        {},
        optional={
            "kind": st.sampled_from(["graduated", "categorical", "proportional", "heatmap", "pie"]),
            "by": st.sampled_from(["name", "pop", "missing", 3]),
            "method": st.sampled_from(["quantiles", "equal", "jenks", "median"]),
            "classes": st.integers(1, 12),
            "breaks": st.lists(numbers, max_size=6),
            "ramp": st.sampled_from(["YlOrRd", "RdBu", "Set2", "Nope"]),
            "categories": st.dictionaries(st.text(max_size=3), st.sampled_from(["red", "#123456", "x"])),
            "min_size": numbers,
            "max_value": numbers,
            "radius": numbers,
            "label": st.sampled_from(["{name} ({pop})", "", 5]),
            "filter": st.fixed_dictionaries(
                {
                    "property": st.sampled_from(["name", "pop"]),
                    "value": st.one_of(numbers, st.text(max_size=3)),
                },
                optional={"op": st.sampled_from(["==", "<", "contains", "in", "~"])},
            ),
            "time": st.fixed_dictionaries(
                {"property": st.just("time")},
                optional={
                    "from": st.sampled_from(["2024-05-01T08:00:00Z", "soon"]),
                    "to": st.just("2024-06-01"),
                },
            ),
        },
    ),
)
geometry = st.one_of(
    st.fixed_dictionaries({"type": st.just("marker"), "coords": latlon}),
    st.fixed_dictionaries(
        {"type": st.just("circle"), "coords": latlon},
        optional={"radius": st.one_of(numbers, st.just(-1))},
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["polyline", "polygon"]), "coords": st.lists(latlon, max_size=6)}
    ),
    st.fixed_dictionaries({"type": st.just("rectangle"), "coords": st.lists(latlon, min_size=2, max_size=2)}),
    st.fixed_dictionaries({"type": junk, "coords": junk}),
)
# The four types of issue 57 (and polygons with holes), well formed and not: points out of range,
# rings and lines too short, parts nested a level too deep or too shallow, members of any type.
point = st.tuples(good_lat, good_lon).map(list)
ring = st.lists(st.one_of(point, latlon), min_size=2, max_size=5)
line = st.lists(st.one_of(point, latlon), min_size=1, max_size=4)
polygon = st.lists(ring, min_size=0, max_size=3)
nested = st.recursive(latlon, lambda inner: st.lists(inner, max_size=3), max_leaves=12)
member = st.one_of(
    st.fixed_dictionaries({"type": st.just("marker"), "coords": latlon}),
    st.fixed_dictionaries({"type": st.sampled_from(["polyline", "multipoint"]), "coords": line}),
    st.fixed_dictionaries({"type": st.sampled_from(["polygon", "multipolyline"]), "coords": polygon}),
    st.fixed_dictionaries({"type": st.just("multipolygon"), "coords": st.lists(polygon, max_size=2)}),
    st.fixed_dictionaries({"type": st.sampled_from(GEOMETRY_TYPES), "coords": nested}),
)
good_ring = st.lists(point, min_size=3, max_size=4)
good_member = st.one_of(
    st.fixed_dictionaries({"type": st.just("marker"), "coords": point}),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["polyline", "multipoint"]),
            "coords": st.lists(point, min_size=2, max_size=4),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.just("polygon"), "coords": st.lists(good_ring, min_size=1, max_size=3)}
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("multipolyline"),
            "coords": st.lists(st.lists(point, min_size=2, max_size=4), min_size=1, max_size=3),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("multipolygon"),
            "coords": st.lists(st.lists(good_ring, min_size=1, max_size=2), min_size=1, max_size=2),
        }
    ),
)
whole = st.one_of(
    good_member,
    st.fixed_dictionaries(
        {"type": st.just("collection"), "coords": st.lists(good_member, min_size=1, max_size=3)}
    ),
    st.fixed_dictionaries({"type": st.just("multipoint"), "coords": st.lists(latlon, max_size=4)}),
    st.fixed_dictionaries({"type": st.just("multipolyline"), "coords": st.lists(line, max_size=3)}),
    st.fixed_dictionaries({"type": st.just("polygon"), "coords": polygon}),
    st.fixed_dictionaries({"type": st.just("multipolygon"), "coords": st.lists(polygon, max_size=3)}),
    st.fixed_dictionaries({"type": st.just("collection"), "coords": st.lists(member, max_size=3)}),
    st.fixed_dictionaries({"type": st.sampled_from(GEOMETRY_TYPES), "coords": nested}),
)
geometry = st.one_of(geometry, whole)
lonlat = st.tuples(good_lon, good_lat).map(list)
geojson_ring = st.lists(lonlat, min_size=2, max_size=5)
geojson_geometry = st.recursive(
    st.one_of(
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(["Point", "LineString", "Polygon", "MultiPoint", "Circle"]),
                "coordinates": st.one_of(lonlat, st.lists(lonlat, max_size=5)),
            }
        ),
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(["Polygon", "MultiLineString", "MultiPolygon"]),
                "coordinates": st.one_of(
                    st.lists(geojson_ring, max_size=3),
                    st.lists(st.lists(geojson_ring, max_size=2), max_size=2),
                ),
            }
        ),
    ),
    lambda inner: st.fixed_dictionaries(
        {"type": st.just("GeometryCollection"), "geometries": st.lists(inner, max_size=3)}
    ),
    max_leaves=6,
)


@st.composite
def raw_ops(draw: st.DrawFn, names: tuple[str, ...] = tuple(sorted(OP_FIELDS))) -> dict:
    name = draw(st.sampled_from(names))
    if name == "add_feature":
        op = draw(geometry)
        op.update(
            draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "id": ids,
                        "layer": ids,
                        "label": st.text(max_size=8),
                        "popup": st.text(max_size=8),
                        "style": styles,
                    },
                )
            )
        )
    elif name == "update_feature":
        op = {"id": draw(ids)}
        op.update(
            draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "type": st.one_of(st.sampled_from(GEOMETRY_TYPES), junk),
                        "coords": st.one_of(latlon, whole.map(lambda g: g["coords"])),
                        "radius": st.one_of(numbers, st.just(-1)),
                        "label": st.one_of(st.text(max_size=8), junk),
                        "style": styles,
                        "layer": ids,
                    },
                )
            )
        )
        if draw(st.integers(0, 2)) == 0:  # reshaped: a new type with coords drawn for it
            op.update(draw(whole), id=draw(st.sampled_from(["a", "b", "f1"])))
    elif name == "set_view":
        op = {"center": draw(latlon), "zoom": draw(numbers)}
    elif name == "fit_bounds":
        op = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "bounds": st.lists(latlon, min_size=2, max_size=2),
                    "feature_ids": st.lists(ids, max_size=3),
                },
            )
        )
    elif name == "set_title":
        op = {"title": draw(st.one_of(st.text(max_size=10), junk))}
    elif name == "remove_features":
        op = {"ids": draw(st.lists(ids, max_size=3))}
    elif name in ("add_layer", "remove_layer", "show_layer", "hide_layer"):
        op = {"id": draw(ids)}
    elif name == "clear":
        op = draw(st.fixed_dictionaries({}, optional={"layer": ids}))
    elif name == "set_layer_style":
        op = {"layer": draw(ids), "style": draw(layer_styles)}
    else:  # import_geojson
        features = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "type": st.just("Feature"),
                        "geometry": geojson_geometry,
                        "properties": st.fixed_dictionaries(
                            {}, optional={"name": st.text(max_size=5), "pop": numbers}
                        ),
                    }
                ),
                max_size=3,
            )
        )
        op = {"geojson": {"type": "FeatureCollection", "features": features}}
    if draw(st.integers(0, 20)) == 0:
        op[draw(st.text(min_size=1, max_size=4))] = draw(junk)  # an unknown field now and then
    op["op"] = name
    return op


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(raw_ops(), max_size=25))
def test_any_op_applies_or_raises_a_clear_error_and_replay_matches(raw: list[dict]) -> None:
    state = MapState(id="m")
    snapshots = [state]
    events = []
    for item in raw:
        try:
            op = parse_op(item, LIMITS)
            new_state, event = apply(state, op, LIMITS)
        except MapsrvError as exc:
            assert exc.message and exc.message == exc.message.strip()
            assert 400 <= exc.status < 500
            continue
        assert new_state.version == state.version + 1 == event.version
        assert len(new_state.features) <= LIMITS.max_features
        state = new_state
        snapshots.append(state)
        events.append(event)
    # From every snapshot, replaying the later events gives the final state ...
    for start, snapshot in enumerate(snapshots):
        replayed = snapshot
        for event in events[start:]:
            replayed = apply_event(replayed, event)
        assert replayed == state
    # ... also when snapshot and events went through their JSON wire form.
    wire_state = state_from_json(json.loads(dumps(snapshots[0].to_json())), "m")
    for event in events:
        decoded = event_from_json(json.loads(dumps(event_to_json(event))))
        assert decoded == event and event_from_wire(wire(event)) == event
        wire_state = apply_event(wire_state, decoded)
    assert wire_state == state
    assert state_from_json(json.loads(dumps(state.to_json())), "m") == state


def _applies(raw: dict) -> bool:
    """Whether a generated op applies to a map that already has a feature and a layer to act on."""
    base, _ = apply_all(
        MapState(id="m"),
        [
            parse_op(r, LIMITS)
            for r in (
                {"op": "add_feature", "id": "a", "type": "marker", "coords": [1, 2]},
                {"op": "add_layer", "id": "roads"},
            )
        ],
        LIMITS,
    )
    try:
        apply_all(base, [parse_op(raw, LIMITS)], LIMITS)
    except MapsrvError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(OP_FIELDS))
def test_the_generator_makes_ops_that_apply(name: str) -> None:
    """The property above proves little if every generated op of a kind is refused: each kind
    must also come out valid."""
    found = find(
        raw_ops(names=(name,)),
        _applies,
        settings=settings(max_examples=1000, suppress_health_check=list(HealthCheck), database=None),
    )
    assert found["op"] == name


def _first(raw_op: st.SearchStrategy[dict], wanted: Callable[[dict], bool]) -> dict:
    found: dict = find(
        raw_op,
        lambda raw: wanted(raw) and _applies(raw),
        settings=settings(
            max_examples=3000,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
            deadline=None,  # a slow example on a busy machine is still an example
        ),
    )
    return found


@pytest.mark.parametrize("type_", GEOMETRY_TYPES)
def test_the_generator_draws_every_geometry_type_that_applies(type_: str) -> None:
    """So the properties above hold for all nine types, holes and members included."""
    found = _first(raw_ops(names=("add_feature",)), lambda raw: raw.get("type") == type_)
    assert found["type"] == type_


def test_the_generator_reshapes_features_and_imports_collections_that_apply() -> None:
    found = _first(raw_ops(names=("update_feature",)), lambda raw: raw.get("type") not in (None, "marker"))
    assert found["type"] in GEOMETRY_TYPES

    def collection(raw: dict) -> bool:
        features = raw["geojson"]["features"]
        return any(f["geometry"]["type"] == "GeometryCollection" for f in features)

    found = _first(raw_ops(names=("import_geojson",)), collection)
    assert found["op"] == "import_geojson"


@given(
    st.recursive(
        junk,
        lambda inner: st.one_of(st.lists(inner), st.dictionaries(st.text(max_size=4), inner)),
        max_leaves=10,
    )
)
def test_garbage_never_crashes_the_parser(raw: object) -> None:
    try:
        parse_op(raw, LIMITS)
    except MapsrvError as exc:
        assert exc.status == 400 or exc.status == 413
