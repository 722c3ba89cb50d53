"""The history of changes, pure: inverses of every kind of event, summaries, per-actor undo and redo
stacks, and the map as it was at a version. A small "hub" here applies batches the way the real
one does (apply, record the change, feed the history), without trio or a store."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapsrv.core import Feature, Layer, Limits, MapState, Op, apply_all, apply_event
from mapsrv.core.codec import dumps, event_from_wire, event_to_json, viewer_wire, wire
from mapsrv.core.events import FeaturesUpserted, TitleSet
from mapsrv.core.history import (
    SYSTEM,
    Actor,
    History,
    agent_actor,
    footprint_of,
    inverse_ops,
    person_actor,
    record,
    revert,
)
from mapsrv.core.ops import (
    AddFeature,
    AddLayer,
    Clear,
    FitBounds,
    ImportFeatures,
    RemoveFeatures,
    RemoveLayer,
    RestoreFeatures,
    RestoreLayer,
    SetLayerStyle,
    SetLayerVisibility,
    SetTitle,
    SetView,
    UpdateFeature,
)
from mapsrv.errors import InvalidInput

A = Actor("agent:aaaaaaaa", "claude-ai")
B = Actor("person:bbbbbbbb", "Chrome on Linux")


def marker(fid: str, lat: float = 1.0, layer: str = "default", label: str = "") -> Feature:
    return Feature(fid, "marker", (lat, 2.0), layer=layer, label=label)


class Map:
    """A map's state and history, written the way ``hub.apply``/``hub.undo`` write them."""

    def __init__(self, state: MapState | None = None) -> None:
        self.state = state or MapState(id="m")
        self.history = History(self.state.version)
        self.elsewhere = History(self.state.version)  # another process's: fed the events alone
        self.clock = 1000.0

    def write(self, ops: Sequence[Op], by: Actor = SYSTEM, **change: Any) -> list[Any]:
        after, events = apply_all(self.state, ops)
        self.clock += 1
        events, made = record(self.state, events, by, self.clock, **change)
        self.state = after
        self.history.extend(events, record=made)
        self.elsewhere.extend(events)
        if made is not None:
            assert self.history.records()[-1] is made, "the record made once, not derived again"
        return events

    def undo(self, by: Actor) -> list[Any]:
        target = self.history.undo_target(by)
        assert target is not None
        ops = inverse_ops(self.state, target.change.undo)
        return self.write(ops, by, undoes=target.change.first, summary=f"undid '{target.change.summary}'")

    def redo(self, by: Actor) -> list[Any]:
        target = self.history.redo_target(by)
        assert target is not None
        return self.write(inverse_ops(self.state, target.change.undo), by, redoes=target.change.first)


def same_content(a: MapState, b: MapState) -> bool:
    return (a.features, a.layers, a.title) == (b.features, b.layers, b.title)


def base() -> Map:
    m = Map()
    m.write([AddLayer("roads", "Roads"), AddFeature(marker("h", label="Hotel")), SetTitle("Trip")])
    m.write([AddFeature(marker("r", layer="roads")), AddFeature(marker("s"))])
    return m


EVERY_KIND = {
    "title": [SetTitle("New")],
    "view": [SetView((1.0, 2.0), 5)],
    "fit": [FitBounds()],
    "add": [AddFeature(marker("n"))],
    "add on a new layer": [AddFeature(marker("n", layer="fresh"))],
    "import": [ImportFeatures((marker("i1"), marker("i2")))],
    "move": [UpdateFeature("h", coords=[5, 6])],
    "edit and move layers": [UpdateFeature("h", label="Inn", layer="roads")],
    "remove": [RemoveFeatures(("h", "s"))],
    "add layer": [AddLayer("x", "X")],
    "hide layer": [SetLayerVisibility("roads", False)],
    "remove layer": [RemoveLayer("roads")],
    "clear a layer": [Clear("roads")],
    "clear the map": [Clear()],
    "restore": [
        RestoreFeatures((marker("h", lat=9.0), marker("gone"))),
        RestoreLayer(Layer("roads", "R2", False)),
    ],
    "a batch touching one feature twice": [
        UpdateFeature("h", coords=[3, 3]),
        UpdateFeature("h", label="twice"),
        RemoveFeatures(("h",)),
        AddFeature(marker("h", lat=7.0)),
        Clear("roads"),
        RemoveLayer("roads"),
    ],
}


@pytest.mark.parametrize("ops", list(EVERY_KIND.values()), ids=list(EVERY_KIND))
def test_the_inverse_of_every_kind_of_event_restores_what_it_touched(ops: list[Op]) -> None:
    m = base()
    before = m.state
    events = m.write(ops, A)
    change = events[-1].change
    assert change is not None and all(e.change is None for e in events[:-1]), "only the last carries it"
    assert change.first == events[0].version == before.version + 1 and change.by == A
    assert same_content(revert(m.state, change.undo), before)
    assert m.history.records() == m.elsewhere.records(), "the record made here is the one derived elsewhere"
    if change.undo:  # a change of the view alone is not undone
        m.undo(A)  # the same through ops, as the hub undoes
        assert same_content(m.state, before), change.summary


def test_undo_then_redo_restores_the_change() -> None:
    m = base()
    m.write([UpdateFeature("h", coords=[40, 40]), RemoveFeatures(("s",))], A)
    after = m.state
    m.undo(A)
    m.redo(A)
    assert same_content(m.state, after)
    assert m.history.redo_target(A) is None and m.history.undo_target(A) is not None
    m.undo(A)  # the redo itself can be undone
    assert m.state.features["h"].coords == (1.0, 2.0) and "s" in m.state.features
    assert m.history.undo_target(A) is None, "base() was written by SYSTEM, not A"


def test_undo_and_redo_are_per_actor() -> None:
    m = Map()
    m.write([AddFeature(marker("a1"))], A)
    m.write([AddFeature(marker("b1"))], B)
    m.write([AddFeature(marker("a2"))], A)
    m.undo(B)
    assert set(m.state.features) == {"a1", "a2"}, "B's undo reverts B's change, not A's later one"
    m.undo(A)
    assert set(m.state.features) == {"a1"}
    assert m.history.redo_target(A) is not None and m.history.redo_target(B) is not None
    m.write([AddFeature(marker("a3"))], A)
    assert m.history.redo_target(A) is None, "a new change clears the actor's redo stack"
    assert m.history.redo_target(B) is not None, "...and only that actor's"
    m.redo(B)
    assert set(m.state.features) == {"a1", "a3", "b1"}
    assert m.history.undo_target(SYSTEM) is None


def test_a_view_only_change_is_not_undone() -> None:
    m = Map()
    m.write([AddFeature(marker("a1"))], A)
    m.write([SetView((1.0, 1.0), 3)], A)
    target = m.history.undo_target(A)
    assert target is not None and target.change.summary == "added a marker"


def test_summaries_say_what_a_change_did() -> None:
    m = base()
    said = [
        m.write(ops, A)[-1].change.summary
        for ops in (
            [AddFeature(marker("x1")), AddFeature(marker("x2")), AddFeature(marker("x3"))],
            [UpdateFeature("h", coords=[3, 4])],
            [UpdateFeature("h", label="Inn")],
            [ImportFeatures((marker("l1"), Feature("l2", "polyline", ((1.0, 1.0), (2.0, 2.0)))))],
            [RemoveFeatures(("x1",))],
            [SetLayerVisibility("roads", False)],
            [Clear("roads")],
            [SetTitle("Holiday")],
            [SetView((1.0, 2.0), 4)],
        )
    ]
    assert said == [
        "added 3 markers",
        "moved 'Hotel'",
        "edited 'Inn'",
        "added a marker and a line",
        "removed marker x1",
        "hid layer 'Roads'",
        "cleared layer 'roads'",
        "set the title to 'Holiday'",
        "moved the view",
    ]
    m.undo(A)  # the view is not undone: the title is
    assert m.history.records()[-1].change.summary == "undid 'set the title to 'Holiday''"
    assert m.state.title == "Trip"


def test_the_change_rides_on_the_wire_and_events_without_one_read_as_before() -> None:
    m = base()
    events = m.write(
        [AddFeature(marker("n", label="Note")), SetTitle("T")], agent_actor("claude-ai", "s3cret")
    )
    plain = TitleSet(9, "T")
    assert json.loads(wire(plain)) == {"version": 9, "kind": "title", "title": "T"}, "no change key"
    last = events[-1]
    raw = event_to_json(last)
    assert raw["change"]["by"]["name"] == "claude-ai" and raw["change"]["undo"]["title"] == "Trip"
    assert raw["change"]["undo"]["features"] == {"n": None}
    assert "s3cret" not in wire(last), "the actor id is a hash of the secret, never the secret"
    again = event_from_wire(wire(last))
    assert again == last and wire(again) == wire(last)
    assert event_from_wire(wire(events[0])).change is None


@pytest.mark.parametrize("ops", list(EVERY_KIND.values()), ids=list(EVERY_KIND))
def test_the_stores_form_is_the_whole_event_in_one_json_text(ops: list[Op]) -> None:
    m = base()
    events = m.write(ops, A)
    m.write([SetTitle("again")], A)
    events += m.undo(A) + m.redo(A)
    for event in events:
        assert wire(event) == dumps(event_to_json(event)), "the viewer's form with undo added is the event"
        assert event_from_wire(wire(event)) == event


def test_viewers_get_the_change_without_its_undo_data() -> None:
    m = base()
    events = m.write([AddFeature(marker("n", label="Note")), SetTitle("T")], A)
    m.write([UpdateFeature("n", coords=[3, 3])], A)
    events += m.undo(A)
    for event in events:
        full = json.loads(wire(event))
        viewed = json.loads(viewer_wire(event))
        if event.change is None:
            assert viewer_wire(event) is wire(event), "one form when there is no change"
            continue
        assert viewer_wire(event) is viewer_wire(event), "made once"
        assert "undo" in full["change"] and "undo" not in viewed["change"]
        del full["change"]["undo"]
        assert viewed == full, "everything else as in the store's form"
    undo = events[-1].change
    assert undo is not None and json.loads(viewer_wire(events[-1]))["change"]["undoes"] == undo.undoes == 8
    cleared = m.write([Clear()], A)[-1]
    assert len(wire(cleared)) > 200 and len(viewer_wire(cleared)) < 200, "a clear's removed features stay out"
    assert json.loads(viewer_wire(event_from_wire(wire(cleared)))) == json.loads(viewer_wire(cleared))


def test_actors_are_hashes_with_display_names() -> None:
    one, two = agent_actor("claude-ai", "secret-1"), agent_actor(None, "secret-2")
    assert one.id.startswith("agent:") and len(one.id) == 14 and one.name == "claude-ai"
    assert two.name == "an agent" and one.id != two.id == agent_actor("x", "secret-2").id
    assert agent_actor("x" * 100, "s").name == "x" * 60
    chrome = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
    )
    firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
    safari = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605 Version/17.0 Safari/604.1"
    )
    assert person_actor(chrome, "c").name == "Chrome on Linux"
    assert person_actor(firefox, "c").name == "Firefox on Windows"
    assert person_actor(safari, "c").name == "Safari on iPhone"
    assert person_actor(None, "c").name == "a person" and person_actor(None, "c").id.startswith("person:")
    assert person_actor(None, "c").id[7:] != agent_actor(None, "c").id[6:], "kinds hash apart"


def test_footprints_conflict_on_features_and_on_the_layers_drawn_on() -> None:
    m = base()
    move_h = footprint_of(m.write([UpdateFeature("h", coords=[3, 3])], A)[-1].change.undo)
    move_s = footprint_of(m.write([UpdateFeature("s", coords=[3, 3])], A)[-1].change.undo)
    hide = footprint_of(m.write([SetLayerVisibility("roads", False)], A)[-1].change.undo)
    on_roads = footprint_of(m.write([UpdateFeature("r", coords=[3, 3])], A)[-1].change.undo)
    assert move_h.overlaps(move_h) and not move_h.overlaps(move_s), "drawing on one layer is no conflict"
    assert hide.overlaps(on_roads) and on_roads.overlaps(hide) and not hide.overlaps(move_h)


def test_the_history_is_bounded_and_knows_how_far_back_it_reaches() -> None:
    m = Map()
    m.history = History(0, max_changes=3)
    for i in range(5):
        m.write([AddFeature(marker(f"f{i}"))], A)
    assert len(m.history) == 3 and m.history.floor == 2 and m.history.version == 5
    assert m.history.reaches(2) and not m.history.reaches(1) and not m.history.reaches(6)
    assert [r.version for r in m.history.since(3)] == [4, 5]
    with pytest.raises(InvalidInput, match="reaches back to version 2"):
        m.history.state_at(m.state, 1)


def test_events_without_changes_and_gaps_move_the_floor() -> None:
    h = History(0)
    h.add(FeaturesUpserted(1, (marker("a"),), 1))  # an event from before changes were recorded
    assert not h.reaches(0) and not h.reaches(1), "a batch not closed yet"
    m = Map()
    events = m.write([AddFeature(marker("b"))], A)
    h.add(dataclasses.replace(events[-1], version=2, change=dataclasses.replace(events[-1].change, first=2)))
    assert h.floor == 1 and h.reaches(1) and len(h) == 1
    h.add(dataclasses.replace(events[-1], version=9, change=dataclasses.replace(events[-1].change, first=9)))
    assert h.floor == 8 and len(h) == 1, "a gap: nothing before it can be walked back through"
    h.load(events, 1)  # a store's log, ending at the map's version
    assert h.floor == 0 and h.version == 1 and len(h) == 1


def test_changes_list_added_changed_removed_and_notes() -> None:
    m = base()
    note = Feature("n1", "marker", (3.0, 4.0), layer="notes", label="bring water", popup="bring water please")
    m.write([AddFeature(note), UpdateFeature("h", coords=[1, 1]), RemoveFeatures(("s",))], B)
    entry = m.history.since(2)[-1].to_json()
    assert entry["added"] == ["n1"] and entry["changed"] == ["h"] and entry["removed"] == ["s"]
    assert entry["notes"] == [{"id": "n1", "text": "bring water please", "at": [3.0, 4.0]}]
    assert entry["by"] == {"id": B.id, "name": B.name} and entry["version"] == m.state.version
    assert "undo" not in entry


# --- properties ---------------------------------------------------------------------------------

LIMITS = Limits(max_features=40, max_layers=8)


LAYER_STYLES = st.sampled_from(
    [
        None,
        {"kind": "heatmap", "radius": 10},
        {"by": "pop", "breaks": [0, 10, 20], "colors": ["red", "blue"]},
        {"kind": "categorical", "by": "t", "categories": {"a": "red"}, "label": "{t}"},
    ]
)


@st.composite
def own_ops(draw: st.DrawFn, who: str) -> list[Op]:
    """A batch by one actor, on its own features (``who`` + n) and its own layer."""
    fid = f"{who}{draw(st.integers(1, 4))}"
    layer = draw(st.sampled_from([f"{who}-layer", "default"]))
    kind = draw(st.sampled_from(["add", "move", "edit", "remove", "clear", "hide", "title", "view", "style"]))
    lat = draw(st.floats(-80, 80, allow_nan=False))
    ops: dict[str, list[Op]] = {
        "add": [AddFeature(marker(fid, lat, layer))],
        "move": [UpdateFeature(fid, coords=[lat, 1])],
        "edit": [UpdateFeature(fid, label=f"{lat:.1f}", style={"color": "red"})],
        "remove": [RemoveFeatures((fid,))],
        "clear": [Clear(f"{who}-layer")],
        "hide": [SetLayerVisibility(f"{who}-layer", draw(st.booleans()))],
        "title": [SetTitle(f"{who} {lat:.0f}")],
        "view": [SetView((lat, 0.0), 3)],
        "style": [SetLayerStyle(f"{who}-layer", draw(LAYER_STYLES))],
    }
    return ops[kind]


def own(state: MapState, who: str) -> tuple[Any, ...]:
    features = {k: v for k, v in state.features.items() if k.startswith(who)}
    return features, state.layers.get(f"{who}-layer")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.data()), min_size=1, max_size=12))
def test_undoing_an_actors_changes_restores_what_it_touched(steps: list[tuple[str, Any]]) -> None:
    m = Map()
    m.write([AddFeature(marker("b9", layer="b-layer"))], B)
    start = m.state
    for who, data in steps:
        ops = data.draw(own_ops(who))
        try:
            m.write(ops, A if who == "a" else B)
        except Exception:
            continue  # an op that does not apply here (a missing feature): nothing written
    b_now = own(m.state, "b")
    while m.history.undo_target(A) is not None:
        m.undo(A)
    assert own(m.state, "a") == own(start, "a"), "A's features and layer as before A's changes"
    assert own(m.state, "b") == b_now, "B's untouched by A's undos"
    assert m.history.records() == m.elsewhere.records()
    if not any(isinstance(r.change.undo.title, str) and r.change.by == B for r in m.history.records()):
        assert m.state.title == start.title


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.data()), min_size=1, max_size=12))
def test_the_map_at_a_version_is_the_replay_up_to_it(steps: list[tuple[str, Any]]) -> None:
    m = Map()
    log = []
    for who, data in steps:
        try:
            log += m.write(data.draw(own_ops(who)), A if who == "a" else B)
        except Exception:
            continue
        if who == "a" and data.draw(st.booleans()) and m.history.undo_target(A) is not None:
            try:
                log += m.undo(A)
            except Exception:
                pass
    ends = {0} | {r.version for r in m.history.records()}  # a batch is atomic: the map is seen between
    replayed = MapState(id="m")
    for version in range(m.state.version + 1):
        if version:
            replayed = apply_event(replayed, log[version - 1])
        if version in ends:
            assert same_content(m.history.state_at(m.state, version), replayed), version


def test_a_files_own_members_are_set_with_the_title_undone_and_redone_and_ride_the_wire() -> None:
    m = base()
    members = (("crs_note", "x"), ("license", {"name": "CC0"}))
    (event,) = m.write([SetTitle("Things", members)], A)
    assert m.state.members == members and m.state.to_json()["members"] == dict(members)
    assert event_from_wire(wire(event)) == event
    m.write([SetTitle("Renamed")], A)
    assert m.state.members == members, "a title alone leaves the members as they are"
    m.undo(A)
    m.undo(A)
    assert (m.state.title, m.state.members) == ("Trip", ()), "undone with the title"
    m.redo(A)
    assert (m.state.title, m.state.members) == ("Things", members)
