"""Runs of feature ids (``core/id_ranges.py``, pure): an answer writes ids numbered in a row as one
run, and a tool reads a run back as the ids in it that the map holds, never taking a feature's own
id (which may hold a ``-``) for a run."""

from __future__ import annotations

from mapsrv.core.id_ranges import expanded, runs


def test_three_ids_in_a_row_are_one_run_and_two_stay_apart() -> None:
    ids = ["f1", "f2", "f3", "f5", "f6", "home", "f7", "f8", "f9", "f10", "f010"]
    assert runs(ids) == ["f1-f3", "f5", "f6", "home", "f7-f10", "f010"]


def test_a_run_reads_back_as_the_ids_in_it_the_map_holds() -> None:
    held = {f"f{n}": None for n in range(1, 178) if n != 50}
    assert expanded(["f48-f52"], held) == ["f48", "f49", "f51", "f52"], "f50 is no longer on the map"
    assert expanded(runs(list(held)), held) == list(held)


def test_a_run_far_wider_than_the_map_reads_only_the_maps_ids() -> None:
    held = {"f2": None, "f9": None, "f12": None, "g3": None}
    assert expanded(["f1-f999999999999"], held) == ["f2", "f9", "f12"]


def test_an_id_with_a_dash_is_itself_and_an_unknown_run_is_left_for_the_tool_to_refuse() -> None:
    held = {"a1-a3": None, "a2": None, "f1": None}
    assert expanded(["a1-a3"], held) == ["a1-a3"], "a feature's own id, not the run a1 to a3"
    assert expanded(["g1-g9"], held) == ["g1-g9"]
    assert expanded(["f5-f1"], held) == ["f5-f1"], "a run backwards holds nothing"
