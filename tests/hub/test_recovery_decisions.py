"""Every replication-recovery decision, as the pure functions in mapsrv.hub.recovery: no trio,
no store."""

from __future__ import annotations

import pytest

from mapsrv.core import Limits, MapState
from mapsrv.core.parse import parse_op
from mapsrv.hub.recovery import (
    HeldBatch,
    Next,
    OnRemote,
    after_commit,
    after_unavailable,
    apply_held,
    landed_at,
    new_batch_id,
    on_remote,
)
from mapsrv.store import COMMITTED, MISSING, AlreadyCommitted, CommitReply, Conflict


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (COMMITTED, Next.DONE),
        (AlreadyCommitted(6), Next.DONE),  # an earlier attempt landed where this one would
        (AlreadyCommitted(9), Next.LANDED_ELSEWHERE),
        (MISSING, Next.RECREATE),
        (Conflict(8), Next.CATCH_UP),  # another process wrote first
        (Conflict(3), Next.RELOAD),  # the store went back in time
    ],
)
def test_after_commit(reply: CommitReply, expected: Next) -> None:
    assert after_commit(reply, expected=5, landing=6) is expected


@pytest.mark.parametrize(
    ("event_version", "holding", "expected"),
    [
        (4, False, OnRemote.IGNORE),  # our own echo, or caught up on already
        (5, False, OnRemote.IGNORE),
        (6, False, OnRemote.APPLY),
        (7, False, OnRemote.CATCH_UP),  # a gap
        (6, True, OnRemote.IGNORE),  # writes held here: the re-sync brings the map in line
        (9, True, OnRemote.IGNORE),
    ],
)
def test_on_remote(event_version: int, holding: bool, expected: OnRemote) -> None:
    assert on_remote(5, holding=holding, event_version=event_version) is expected


def test_a_held_batch_applies_again_on_another_base_or_says_it_cannot() -> None:
    add = parse_op({"op": "add_feature", "type": "marker", "coords": [1, 2]}, Limits())
    rename = parse_op({"op": "update_feature", "id": "f1", "label": "x"}, Limits())
    batch = HeldBatch(new_batch_id(), (add, rename))
    applied = apply_held(MapState(id="m"), batch, Limits())
    assert applied is not None and applied[0].version == 2
    assert apply_held(MapState(id="m"), HeldBatch("b", (rename,)), Limits()) is None, "no f1"


def test_batch_ids_are_64_random_bits() -> None:
    ids = {new_batch_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) == 16 for i in ids)


@pytest.mark.parametrize(("available", "expected"), [(True, Next.RETRY), (False, Next.HOLD)])
def test_after_unavailable(available: bool, expected: Next) -> None:
    """A failed store call holds the write (provisional) only when the store counts an outage;
    one it does not count (its own process stalled while the call waited) is asked again, under
    the same batch id."""
    assert after_unavailable(store_available=available) is expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (COMMITTED, 6),  # where it was tried
        (AlreadyCommitted(6), 6),  # an earlier attempt landed there; its reply was lost
        (AlreadyCommitted(9), 9),  # an earlier attempt landed elsewhere: the store's version, not ours
    ],
)
def test_landed_at(reply: CommitReply, expected: int) -> None:
    assert landed_at(reply, landing=6) == expected
