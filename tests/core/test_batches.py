"""A batch changes a copy of the map made once, never the state it was given: the same result as
its ops one at a time, the given state untouched whether the batch succeeds or fails, and
``apply_events`` replaying a batch's events to the state ``apply_all`` made."""

from __future__ import annotations

import pytest

from mapsrv.core.apply import apply, apply_all, apply_events
from mapsrv.core.model import Feature, Limits, MapState
from mapsrv.core.ops import AddFeature, ImportFeatures, RemoveFeatures
from mapsrv.errors import NotFound

LIMITS = Limits()


def marker(fid: str, lat: float) -> Feature:
    return Feature(id=fid, type="marker", coords=(lat, 1.0), label=fid)


def base() -> MapState:
    state, _ = apply_all(MapState("m"), [ImportFeatures(tuple(marker(f"b{i}", i / 10) for i in range(50)))])
    return state


def test_a_batch_is_its_ops_one_by_one_and_leaves_the_given_state_alone() -> None:
    start = base()
    before = dict(start.features)
    ops = [AddFeature(marker(f"n{i}", i / 100)) for i in range(20)]
    ops += [RemoveFeatures(("b1", "n3")), AddFeature(marker("b1", 9.0))]  # b1 again, elsewhere
    batched, events = apply_all(start, ops, LIMITS)
    stepped = start
    for op in ops:
        stepped, _ = apply(stepped, op, LIMITS)
    assert batched == stepped and batched.points == stepped.points == len(stepped.features)
    assert dict(start.features) == before, "the batch changed the state it was given"
    assert apply_events(start, events) == batched
    assert dict(start.features) == before, "replaying changed the state it was given"


def test_a_failed_batch_leaves_the_given_state_alone() -> None:
    start = base()
    before = dict(start.features)
    ops = [AddFeature(marker(f"n{i}", 1.0)) for i in range(5)] + [RemoveFeatures(("nope",))]
    with pytest.raises(NotFound, match="op 5"):
        apply_all(start, ops, LIMITS)
    assert dict(start.features) == before and len(start.features) == 50
