"""Styles by value in core: checked with errors that name the field and the value, breaks and
colours computed from the layer's features when set, features added later classified by what is
stored, undone like any change, and the filter, time window and label rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mapsrv.core import Feature, Limits, MapState, apply_all, apply_event
from mapsrv.core.codec import dumps, event_from_wire, state_from_json, wire
from mapsrv.core.colorbrewer import palette
from mapsrv.core.events import LayerStyled
from mapsrv.core.history import SYSTEM, History, inverse_ops, record
from mapsrv.core.layer_style import (
    check_layer_style,
    color_of,
    in_time,
    label_of,
    match_filter,
    shown,
    size_of,
    style_counts,
)
from mapsrv.core.ops import AddLayer, ImportFeatures, Op, SetLayerStyle
from mapsrv.core.parse import parse_op
from mapsrv.core.style_rules import OTHER
from mapsrv.errors import InvalidInput, NotFound


def place(fid: str, **props: Any) -> Feature:
    return Feature(fid, "marker", (1.0, 2.0), layer="towns", properties=tuple(sorted(props.items())))


TOWNS = [
    place(f"t{i}", pop=pop, kind=kind)
    for i, (pop, kind) in enumerate(
        [
            (100, "village"),
            (900, "village"),
            (2_000, "town"),
            (5_500, "town"),
            (12_000, "city"),
            (80_000, "city"),
        ]
    )
]


def towns_map() -> MapState:
    state, _ = apply_all(MapState(id="m"), [AddLayer("towns", "Towns"), ImportFeatures(tuple(TOWNS))])
    return state


def styled(state: MapState, style: dict[str, Any] | None) -> tuple[MapState, list[Any]]:
    return apply_all(state, [SetLayerStyle("towns", style)])


def test_a_graduated_style_gets_its_breaks_and_colours_from_the_features() -> None:
    state, events = styled(towns_map(), {"by": "pop", "method": "equal", "classes": 4, "ramp": "Blues"})
    style = state.layers["towns"].style
    assert style == {
        "kind": "graduated",
        "by": "pop",
        "method": "equal",
        "breaks": [100.0, 20_075.0, 40_050.0, 60_025.0, 80_000.0],
        "colors": ["#eff3ff", "#bdd7e7", "#6baed6", "#2171b5"],
        "ramp": "Blues",
        "other": "#999999",
    }
    assert isinstance(events[-1], LayerStyled) and events[-1].style == style
    assert json.loads(wire(events[-1]))["kind"] == "layer_style"
    assert state.to_json()["layers"][1]["style"] == style
    counts = style_counts(style, state.features.values())
    assert [c["count"] for c in counts["classes"]] == [5, 0, 0, 1]


def test_defaults_quantiles_in_five_ylorrd_classes_and_a_guessed_kind() -> None:
    state, _ = styled(towns_map(), {"by": "pop"})
    style = state.layers["towns"].style
    assert style is not None and style["kind"] == "graduated" and style["method"] == "quantiles"
    assert len(style["breaks"]) == 6 and style["colors"][0] == "#ffffb2"
    state, _ = styled(towns_map(), {"by": "kind"})
    style = state.layers["towns"].style
    assert style is not None and style["kind"] == "categorical"
    assert list(style["categories"]) == ["city", "town", "village"]  # most common first, then by name
    assert style["categories"]["city"] == "#66c2a5"  # Set2's first


def test_a_feature_added_later_is_classified_by_the_stored_breaks() -> None:
    state, _ = styled(towns_map(), {"by": "pop", "method": "equal", "classes": 4})
    before = state.layers["towns"].style
    state, _ = apply_all(state, [ImportFeatures((place("late", pop=70_000), place("huge", pop=10**7)))])
    style = state.layers["towns"].style
    assert style == before, "nothing recomputed"
    assert style is not None
    counts = style_counts(style, state.features.values())
    assert [c["count"] for c in counts["classes"]] == [5, 0, 0, 3], "above the last break: the last class"
    assert color_of(style, {"pop": 70_000}) == style["colors"][3]
    assert color_of(style, {"pop": "n/a"}) == "#999999" and color_of(style, {}) == "#999999"


@pytest.mark.parametrize(
    ("style", "message"),
    [
        ({"by": "pop", "classes": 12}, "classes must be from 3 to 9, got 12"),
        ({"by": "pop", "classes": 2.5}, "classes must be a whole number from 3 to 9, got 2.5"),
        (
            {"by": "pop", "method": "median"},
            "method must be one of quantiles, equal, jenks, std_mean, manual, got 'median'",
        ),
        ({"by": "pop", "ramp": "Rainbow"}, "ramp must be one of YlOrRd"),
        ({"by": "pop", "ramp": "Set2"}, "ramp must be sequential or diverging for classes, got 'Set2'"),
        ({"by": "pop", "classes": 4, "colors": ["red"]}, r"colors must list one colour per class \(4\)"),
        ({"by": "pop", "classes": 3, "colors": ["red", "blue", "nope"]}, "colors\\[2\\] must be #rgb"),
        (
            {"by": "height"},
            "by must name a property the features of layer 'towns' have, got 'height'"
            " \\(no feature has it\\); its 6 features have kind, pop",
        ),
        ({"by": "kind", "kind": "graduated"}, "by must name a numeric property, got 'kind': on layer"),
        ({"kind": "graduated"}, "by must name the property a graduated style reads"),
        ({"kind": "pie", "by": "pop"}, "kind must be one of graduated, categorical, proportional, heatmap"),
        ({"by": "pop", "radius": 3}, "style key must apply to a graduated style"),
        ({"by": "pop", "breaks": [5, 1]}, "breaks must be ascending"),
        ({"by": "kind", "categories": {"city": "blu"}}, "categories\\['city'\\] must be #rgb"),
        ({"by": "pop", "filter": {"property": "pop", "op": "~", "value": 1}}, "filter op must be one of"),
        ({"by": "pop", "filter": {"property": "pop", "op": "in", "value": 3}}, "filter value must be a list"),
        (
            {"by": "pop", "time": {"property": "t", "from": "soon"}},
            "time from must be a year, a date or an ISO 8601 time",
        ),
        ({"by": "pop", "label": 5}, "label must be a template"),
        ({"kind": "proportional", "by": "pop", "min_size": 50, "max_size": 10}, "min_size must be at most"),
        ("pop", "style must be an object, got str"),
    ],
)
def test_a_bad_style_is_refused_naming_the_field_and_value(style: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_layer_style(style, TOWNS, "towns")


def test_a_style_on_a_missing_layer_is_not_found() -> None:
    with pytest.raises(NotFound, match="layer 'roads' not found"):
        apply_all(towns_map(), [SetLayerStyle("roads", {"kind": "heatmap"})])


def test_undo_restores_the_previous_style_and_then_none() -> None:
    state = towns_map()
    history = History(state.version)
    steps: list[list[Op]] = [
        [SetLayerStyle("towns", {"by": "pop", "classes": 3})],
        [SetLayerStyle("towns", {"by": "kind", "label": "{kind}"})],
    ]
    for ops in steps:
        after, events = apply_all(state, ops)
        events, made = record(state, events, SYSTEM, 1.0)
        history.extend(events, record=made)
        state = after
    first, second = history.records()
    assert second.change.summary == "styled layer 'Towns' by 'kind'"
    graduated = apply_all(towns_map(), steps[0])[0].layers["towns"].style
    state, _ = apply_all(state, inverse_ops(state, second.change.undo))
    assert state.layers["towns"].style == graduated
    state, _ = apply_all(state, inverse_ops(state, first.change.undo))
    assert state.layers["towns"].style is None


def test_removing_a_style_and_replaying_through_the_wire() -> None:
    state, events = styled(towns_map(), {"by": "pop", "classes": 3, "label": "{pop}"})
    state, more = styled(state, None)
    assert state.layers["towns"].style is None and "style" not in state.to_json()["layers"][1]
    replayed = towns_map()
    for event in [*events, *more]:
        decoded = event_from_wire(wire(event))
        assert decoded == event
        replayed = apply_event(replayed, decoded)
    assert replayed == state
    restyled, _ = styled(towns_map(), {"kind": "heatmap", "by": "pop"})
    assert state_from_json(json.loads(dumps(restyled.to_json())), "m") == restyled


def test_the_page_op_is_parsed_and_checked_when_applied() -> None:
    op = parse_op(
        {"op": "set_layer_style", "layer": "towns", "style": {"by": "pop", "classes": 12}}, Limits()
    )
    assert op == SetLayerStyle("towns", {"by": "pop", "classes": 12})
    with pytest.raises(InvalidInput, match="classes must be from 3 to 9, got 12"):
        apply_all(towns_map(), [op])
    with pytest.raises(InvalidInput, match="style must be an object or null"):
        parse_op({"op": "set_layer_style", "layer": "towns", "style": "red"}, Limits())
    assert parse_op({"op": "set_layer_style", "layer": "towns", "style": None}, Limits()) == SetLayerStyle(
        "towns"
    )


def test_proportional_sizes_and_heatmaps() -> None:
    state, _ = styled(towns_map(), {"kind": "proportional", "by": "pop", "min_size": 2, "max_size": 42})
    style = state.layers["towns"].style
    assert style is not None and style["max_value"] == 80_000 and style["color"] == "#3182bd"
    assert size_of(style, {"pop": 80_000}) == 42 and size_of(style, {"pop": 20_000}) == 22
    assert size_of(style, {"pop": 0}) == 2 and size_of(style, {}) is None
    assert style_counts(style, state.features.values()) == {"shown": 6}
    state, _ = styled(towns_map(), {"kind": "heatmap", "weight": "pop"})
    assert state.layers["towns"].style == {"kind": "heatmap", "radius": 25.0, "weight": "pop", "by": "pop"}


def test_filters_time_windows_and_labels() -> None:
    props = {"name": "Porto", "pop": "231962", "type": "city", "open": True}
    assert match_filter({"property": "pop", "op": ">", "value": 100_000}, props), "numbers as numbers"
    assert not match_filter({"property": "pop", "op": "<", "value": 9}, props)
    assert match_filter({"property": "type", "op": "in", "value": ["town", "city"]}, props)
    assert match_filter({"property": "name", "op": "contains", "value": "ort"}, props)
    assert match_filter({"property": "open", "op": "==", "value": True}, props)
    assert match_filter({"property": "gone", "op": "!=", "value": "x"}, props)
    assert not match_filter({"property": "gone", "op": "==", "value": "x"}, props)
    window = {"property": "time", "from": "2024-05-01T08:00:00Z", "to": "2024-05-01T12:00:00Z"}
    assert in_time(window, {"time": "2024-05-01T09:30:00+00:00"})
    assert not in_time(window, {"time": "2024-05-01T13:00:00Z"})
    assert not in_time(window, {}), "no time: outside the window"
    assert in_time(
        {**window, "property": "times"}, {"times": ("2024-04-30T00:00:00Z", "2024-05-01T10:00:00Z")}
    )
    assert label_of("{name} ({pop})", props) == "Porto (231962)"
    assert label_of("{name}: {missing}", props) == "Porto: "
    assert label_of("{n}", {"n": 3.0}) == "3"
    # an imported feature's name is its label: {name} and {label} fall back to it, other keys do not
    assert label_of("{name} ({pop})", {"pop": 5}, "Braga") == "Braga (5)"
    assert label_of("{label}|{missing}", {}, "Braga") == "Braga|"
    assert label_of("{name}", {"name": "Porto"}, "Braga") == "Porto"
    state, _ = styled(towns_map(), {"by": "kind", "filter": {"property": "pop", "op": ">=", "value": 2000}})
    style = state.layers["towns"].style
    assert style is not None
    counts = style_counts(style, state.features.values())
    assert counts["hidden"] == 2 and [c["count"] for c in counts["classes"]] == [2, 2, 0]


def test_nine_categories_on_an_eight_colour_ramp_send_the_rarest_to_other() -> None:
    """Set2 (the default) has 8 colours: a property with 9 values is styled, not refused; its 8
    commonest values get colours (not the first 8 alphabetically) and the 9th is drawn as
    "other" and counted there."""
    kinds = [f"k{i}" for i in range(9)]
    features = [
        place(f"f{i}", kind=kind)
        for i, kind in enumerate(k for n, k in enumerate(kinds) for _ in range(n + 1))
    ]
    style = check_layer_style({"by": "kind"}, features, "towns")
    assert style["kind"] == "categorical" and len(style["categories"]) == 8
    assert "k0" not in style["categories"], "the rarest value (k0, once) goes to other"
    assert set(style["categories"]) == set(kinds[1:])
    assert color_of(style, dict(features[0].properties)) == style["other"]
    counts = style_counts(style, features)
    assert counts["other"] == 1, counts


def test_categories_are_the_commonest_values_commonest_first_whatever_their_names_or_order() -> None:
    """Ten values on Set2's eight colours: the eight commonest get the colours in that order (ties
    by name), neither the first nor the last eight by name nor the first eight met; the two
    rarest are "other", counted as such."""
    counts = {"oak": 7, "ash": 5, "elm": 9, "yew": 1, "fir": 5, "birch": 3, "pine": 8, "beech": 2,
              "maple": 4, "willow": 6}  # fmt: skip
    # met last name first: neither in count order nor, among equal counts (ash, fir), by name
    kinds = [kind for kind in sorted(counts, reverse=True) for _ in range(counts[kind])]
    features = [place(f"f{i}", kind=kind) for i, kind in enumerate(kinds)]
    style = check_layer_style({"by": "kind"}, features, "towns")
    commonest = ["elm", "pine", "oak", "willow", "ash", "fir", "maple", "birch"]
    assert list(style["categories"]) == commonest
    assert list(style["categories"].values()) == palette("Set2", 8)
    assert style_counts(style, features) == {
        "classes": [{"value": v, "color": c, "count": counts[v]} for v, c in style["categories"].items()],
        "other": counts["beech"] + counts["yew"],
    }


def test_the_other_count_is_every_shown_feature_drawn_in_the_other_colour() -> None:
    """A feature without a number (text, nothing, no property) or outside the categories is
    "other"; one the filter hides is "hidden" and not "other"; every feature is counted once."""
    values: list[Any] = [5, 15, 25, "n/a", None, "", 7, "x", 27, 12]
    features = [place(f"v{i}", pop=v, keep=i < 8) for i, v in enumerate(values)]
    features.append(Feature("bare", "marker", (1.0, 2.0), layer="towns", properties=(("keep", True),)))
    flt = {"property": "keep", "op": "==", "value": True}
    for raw, classes in (
        (
            {
                "kind": "graduated",
                "by": "pop",
                "breaks": [0, 10, 20, 30],
                "colors": ["#111111", "#222222", "#333333"],
            },
            [2, 1, 1],
        ),
        ({"by": "pop", "kind": "categorical", "categories": {"5": "#111111", "25": "#222222"}}, [1, 1]),
    ):
        style = check_layer_style({**raw, "filter": flt}, features, "towns")
        counts = style_counts(style, features)
        drawn_other = [
            f.id
            for f in features
            if shown(style, dict(f.properties)) and color_of(style, dict(f.properties)) == OTHER
        ]
        assert [c["count"] for c in counts["classes"]] == classes, raw
        assert counts["other"] == len(drawn_other) == 9 - sum(classes), (raw, counts, drawn_other)
        assert counts["hidden"] == 2
        assert sum(classes) + counts["other"] + counts["hidden"] == len(features)


def test_a_time_at_either_end_of_the_window_is_inside_however_it_is_written() -> None:
    window = {"property": "time", "from": "2024-05-01T02:00:00Z", "to": "2024-05-01T05:00:00Z"}
    end = 1714539600  # 2024-05-01T05:00:00Z
    for at_end in ("2024-05-01T05:00:00Z", "2024-05-01T07:00:00+02:00", "2024-05-01T05:00:00",
                   "2024-05-01T05:00:00.000Z", end, end * 1000, float(end)):  # fmt: skip
        assert in_time(window, {"time": at_end}), at_end
    for at_start in ("2024-05-01T02:00:00Z", "2024-05-01T01:00:00-01:00", end - 3 * 3600):
        assert in_time(window, {"time": at_start}), at_start
    for outside in (
        "2024-05-01T05:00:00.001Z",
        "2024-05-01T01:59:59.999Z",
        end + 1,
        (end - 3 * 3600 - 1) * 1000,
    ):
        assert not in_time(window, {"time": outside}), outside
    assert in_time({"property": "time", "to": "2024-05-01T05:00:00Z"}, {"time": end}), "open start"
    assert in_time({"property": "time", "from": "2024-05-01T05:00:00Z"}, {"time": end}), "open end"


def test_a_label_filter_or_weight_naming_a_property_no_feature_has_is_refused_with_the_ones_they_have() -> (
    None
):
    for style, name in [
        ({"by": "pop", "label": "{name} ({popl:,.0f})"}, "label field {popl:,.0f}"),
        ({"by": "pop", "filter": {"property": "knd", "op": "==", "value": "city"}}, "filter property"),
        ({"kind": "heatmap", "weight": "weight"}, "weight"),
    ]:
        with pytest.raises(InvalidInput, match="no feature has it") as caught:
            check_layer_style(style, TOWNS, "towns")
        assert (
            caught.value.message.startswith(name) and "its 6 features have kind, pop" in caught.value.message
        )
    with pytest.raises(InvalidInput, match=r"has format spec ',\.0z'"):
        check_layer_style({"by": "pop", "label": "{pop:,.0z}"}, TOWNS, "towns")
    # a property whose name has a colon is a property, not a spec; {name} is the feature's own
    streets = [place("s", **{"addr:street": "Rua 1", "pop": 5})]
    assert check_layer_style({"by": "pop", "label": "{addr:street} {name}"}, streets, "towns")["label"]
    assert label_of("{addr:street}: {pop:,d}", {"addr:street": "Rua 1", "pop": 12345}) == "Rua 1: 12,345"


def test_a_few_text_values_among_numbers_are_classed_as_numbers_and_counted_as_other() -> None:
    features = [*TOWNS, place("x", pop="n/a", kind="village")]
    style = check_layer_style({"by": "pop"}, features, "towns")
    assert style["kind"] == "graduated"
    assert style_counts(style, features)["other"] == 1
    assert check_layer_style({"by": "kind"}, features, "towns")["kind"] == "categorical"


def test_proportional_legend_values_are_round_values_from_the_data() -> None:
    style = check_layer_style({"kind": "proportional", "by": "pop"}, TOWNS, "towns")
    assert style["legend_values"] == [50_000, 10_000, 1_000]  # pop from 100 to 80,000
    given = check_layer_style({"by": "pop", "legend_values": [5, 500]}, TOWNS, "towns")
    assert given["kind"] == "proportional" and given["legend_values"] == [500, 5]
