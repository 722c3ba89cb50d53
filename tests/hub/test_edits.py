"""``mapsrv.hub.edits`` on its own (pure: a map's state and history, no hub, no store): what a
write, an undo or a redo decides, and the words of its refusals (tests/hub/test_undo.py drives
the same through the hub)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mapsrv.core import Limits, MapState, Op, apply_all
from mapsrv.core.history import Actor, History
from mapsrv.core.parse import parse_op
from mapsrv.errors import EditConflict, InvalidInput, NothingToUndo
from mapsrv.hub.edits import Built, Plan, Prepare, build, changes_json, plan_redo, plan_undo, plan_write

A = Actor("agent:aaaaaaaa", "claude-ai")
B = Actor("person:bbbbbbbb", "Chrome on Linux")


def op(raw: dict[str, Any]) -> Op:
    return parse_op(raw, Limits())


def marker(fid: str) -> Op:
    return op({"op": "add_feature", "id": fid, "type": "marker", "coords": [1, 2], "label": fid})


def move(fid: str, lat: float) -> Op:
    return op({"op": "update_feature", "id": fid, "coords": [lat, 2]})


def remove(fid: str) -> Op:
    return op({"op": "remove_features", "ids": [fid]})


class Map:
    """One map's state and history, moved on by each batch as the hub's write path does."""

    def __init__(self) -> None:
        self.state = MapState(id="m")
        self.history = History()

    def run(self, prepare: Prepare, by: Actor = A, limits: Limits = Limits()) -> Built:
        built = build(self.state, self.history, prepare, by, 0.0, limits)
        self.history.extend(built.events, record=built.record)
        self.state = built.state
        return built

    def write(
        self, *ops: Op, by: Actor = A, base_version: int | None = None, summary: str | None = None
    ) -> Built:
        return self.run(lambda state, history: Plan(ops, base_version, summary=summary), by)

    def written_without_a_change(self, *ops: Op) -> None:
        """Events with no change, as a process from before changes were recorded writes them."""
        self.state, events = apply_all(self.state, ops)
        self.history.extend(events)

    def summaries(self) -> list[str]:
        return [rec.change.summary for rec in self.history.records()]


TAIL = "; read those changes, merge them into your edit, and retry with base_version="


def by_b(*versions: int) -> str:
    return ", ".join(f"Chrome on Linux 'b{v - 1}' (version {v})" for v in versions)


@pytest.mark.parametrize(
    ("moves", "listed"),
    [
        (1, by_b(2)),
        (2, by_b(2, 3)),
        (3, by_b(2, 3, 4)),
        (4, by_b(3, 4, 5) + " and 1 more"),
        (5, by_b(4, 5, 6) + " and 2 more"),
    ],
)
def test_an_edit_conflict_names_the_last_three_changes_and_counts_the_rest(moves: int, listed: str) -> None:
    m = Map()
    m.write(marker("a"))
    for i in range(1, moves + 1):
        m.write(move("a", i), by=B, summary=f"b{i}")
    with pytest.raises(EditConflict) as caught:
        m.write(move("a", 9), base_version=1)
    now = moves + 1
    assert (
        caught.value.message
        == f"edit conflict: since version 1, {listed} touched what this write changes{TAIL}{now}"
    )
    assert [c["version"] for c in caught.value.changes] == list(range(2, now + 1)), "every one, in full"


@pytest.mark.parametrize(
    ("summary", "quoted"),
    [("x" * 80, "'" + "x" * 80 + "'"), ("x" * 81, "'" + "x" * 79 + "…'")],
)
def test_a_change_is_named_by_its_summary_cut_past_80_characters(summary: str, quoted: str) -> None:
    m = Map()
    m.write(marker("a"))
    m.write(move("a", 5), by=B, summary=summary)
    with pytest.raises(EditConflict) as caught:
        m.write(move("a", 9), base_version=1)
    assert f"since version 1, Chrome on Linux {quoted} (version 2) touched" in caught.value.message


def test_a_base_version_the_history_does_not_reach_conflicts_with_any_change_and_says_so() -> None:
    m = Map()
    m.write(marker("a"), marker("b"))
    m.history.reset(m.state.version)  # as after a reload: nothing known before version 2
    m.write(move("a", 3), by=B)
    with pytest.raises(EditConflict) as caught:
        m.write(move("b", 4), base_version=1)
    assert caught.value.message == (
        "edit conflict: the map changed since version 1 (now 3) and its history does not reach back"
        f" that far{TAIL}3"
    )


def test_a_write_based_on_the_current_version_never_conflicts_even_where_the_history_cannot_tell() -> None:
    m = Map()
    m.write(marker("a"))
    m.written_without_a_change(move("a", 3))  # the history cannot say who did what since version 1
    assert not m.history.reaches(m.state.version)
    with pytest.raises(EditConflict, match="does not reach back"):
        m.write(move("a", 4), base_version=1)
    built = m.write(move("a", 4), base_version=m.state.version)
    assert built.state.version == 3


def test_changes_since_is_complete_from_the_current_version_and_truncated_only_past_its_limit() -> None:
    m = Map()
    m.write(marker("a"))
    m.write(marker("b"), by=B)
    answer = changes_json("m", m.state, m.history, 0, 2)
    assert answer["complete"] and not answer["truncated"] and len(answer["changes"]) == 2
    assert changes_json("m", m.state, m.history, 0, 1)["truncated"]
    m.written_without_a_change(move("a", 3))  # the history no longer reaches any version
    assert changes_json("m", m.state, m.history, 3, 10)["complete"], "nothing after the current version"
    assert not changes_json("m", m.state, m.history, 2, 10)["complete"]


def test_a_batch_is_held_to_the_limits_it_is_built_with() -> None:
    m = Map()
    with pytest.raises(InvalidInput, match="at most 1 features"):
        m.run(plan_write([marker("a"), marker("b")], None, None), limits=Limits(max_features=1))
    assert m.state.version == 0


def test_nothing_to_undo_or_redo_says_why() -> None:
    m = Map()
    m.write(marker("a"), by=B)
    m.history.reset(m.state.version)
    with pytest.raises(NothingToUndo) as undo:
        m.run(plan_undo(A))
    assert undo.value.message == (
        "nothing to undo: you have no change on this map left to undo"
        " (its history here reaches back to version 1)"
    )
    with pytest.raises(NothingToUndo) as redo:
        m.run(plan_redo(A))
    assert redo.value.message == "nothing to redo: you have undone nothing since your last change on this map"


def test_an_undo_or_redo_refused_for_someone_elses_change_says_what_to_do() -> None:
    m = Map()
    m.write(marker("a"))
    m.write(move("a", 3))
    m.write(move("a", 4), by=B)
    with pytest.raises(EditConflict) as undo:
        m.run(plan_undo(A))
    assert undo.value.message == (
        "cannot undo 'moved 'a'': since then Chrome on Linux 'moved 'a'' (version 3) touched the same"
        " features; change them by hand instead, basing the edit on base_version=3"
    )
    m.write(move("a", 5))
    m.run(plan_undo(A))  # A's own move, the last change: undone
    m.write(move("a", 6), by=B)
    with pytest.raises(EditConflict) as redo:
        m.run(plan_redo(A))
    assert redo.value.message == (
        "cannot redo 'undid 'moved 'a''': since then Chrome on Linux 'moved 'a'' (version 6) touched"
        " the same features; change them by hand instead, basing the edit on base_version=6"
    )


def test_an_actor_undoes_and_redoes_several_of_their_own_changes_in_a_row() -> None:
    m = Map()
    m.write(marker("a"))
    m.write(move("a", 3))
    m.write(move("a", 4))
    for _ in range(3):
        m.run(plan_undo(A))
    assert m.state.features == {}
    for _ in range(3):
        m.run(plan_redo(A))
    assert m.state.features["a"].coords == (4.0, 2.0)
    assert m.summaries()[3:] == [
        "undid 'moved 'a''",
        "undid 'moved 'a''",
        "undid 'added 'a''",
        "redid 'added 'a''",
        "redid 'moved 'a''",
        "redid 'moved 'a''",
    ]


def test_a_redo_of_an_undone_removal_removes_again() -> None:
    m = Map()
    m.write(marker("a"))
    m.write(remove("a"))
    m.run(plan_undo(A))
    assert set(m.state.features) == {"a"}
    built = m.run(plan_redo(A))
    assert m.state.features == {} and built.plan.summary == "redid 'removed 'a''"


def test_an_undo_of_a_change_that_left_nothing_behind_has_nothing_left_to_undo() -> None:
    m = Map()
    m.write(marker("a"), remove("a"), summary="tried 'a'")  # one batch: added and removed again
    with pytest.raises(NothingToUndo) as caught:
        m.run(plan_undo(A))
    assert caught.value.message == "nothing is left to undo of 'tried 'a''"


@pytest.mark.parametrize(
    ("verb", "plan", "target"),
    [("undo", plan_undo, "'moved 'a''"), ("redo", plan_redo, "'undid 'moved 'a'''")],
)
def test_an_undo_or_redo_after_changes_with_no_record_is_refused_not_applied_over_them(
    verb: str, plan: Callable[[Actor], Prepare], target: str
) -> None:
    """An older process writes events with no change: what they touched is unknown, so an undo
    could silently overwrite them. It is refused, and the map is left as it is."""
    m = Map()
    m.write(marker("a"))
    m.write(move("a", 3))
    if verb == "redo":
        m.run(plan_undo(A))
    m.written_without_a_change(move("a", 9))  # an older process: no change record for it
    before = m.state
    with pytest.raises(EditConflict) as caught:
        m.run(plan(A))
    assert caught.value.message == (
        f"cannot {verb} {target}: since then the map was changed by a process that records no"
        " changes (an older mapsrv), so what it touched is unknown; change the map by hand instead,"
        f" basing the edit on base_version={before.version}"
    )
    assert caught.value.current == before.version and caught.value.changes == [] and m.state == before
    assert m.state.features["a"].coords == (9.0, 2.0)
