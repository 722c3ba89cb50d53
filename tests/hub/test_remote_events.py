"""Other processes' events handed to a map (``mapsrv.hub.remote``): at once while the map is
idle, queued behind its lock otherwise and applied in order by the map's own task, old ones
ignored, a gap caught up, an unreadable one dropped without stopping the rest."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from support import wait_until

from mapsrv.core import Event, Feature, apply_all, apply_event
from mapsrv.core.codec import wire
from mapsrv.core.ids import map_ref
from mapsrv.core.ops import AddFeature
from mapsrv.hub.recovery import HeldWrites
from mapsrv.hub.registry import MapEntry, Registry
from mapsrv.hub.remote import RemoteEvents


def setup() -> tuple[MapEntry, list[Event], RemoteEvents, list[int], list[int]]:
    entry = Registry(max_maps=10, idle_timeout=60, frame_log_size=16).new_entry(
        owner=None, principal=None, title=""
    )
    ops = [AddFeature(Feature(f"m{i}", "marker", (1.0, i))) for i in range(5)]
    _, events = apply_all(entry.state, ops)  # versions 1..5, as another process committed them
    applied: list[int] = []
    caught_up: list[int] = []

    def apply(target: MapEntry, event: Event) -> None:
        target.state = apply_event(target.state, event)
        applied.append(event.version)

    async def catch_up(target: MapEntry) -> None:
        caught_up.append(target.state.version)

    return entry, events, RemoteEvents(apply, catch_up), applied, caught_up


async def test_an_idle_map_applies_at_once_and_a_busy_one_after_its_lock_in_order(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    entry, events, remote, applied, caught_up = setup()
    remote.deliver(nursery, entry, wire(events[0]))
    assert applied == [1] and not entry.draining, "applied in the reader's own call, no task"
    remote.deliver(nursery, entry, wire(events[0]).encode())
    assert applied == [1], "an event the map has is ignored"

    async with entry.lock:  # a write in progress
        remote.deliver(nursery, entry, wire(events[1]))
        remote.deliver(nursery, entry, b'{"kind": "upsert", "vers')
        remote.deliver(nursery, entry, wire(events[2]))
        await trio.testing.wait_all_tasks_blocked()
        assert applied == [1] and [e.version for e in entry.inbox] == [2, 3] and entry.draining
    await wait_until(lambda: not entry.draining)
    assert applied == [1, 2, 3] and not entry.inbox and caught_up == []
    assert [r.message for r in caplog.records if r.levelname == "ERROR"] == [
        f"map {map_ref(entry.id)}: an event from the store could not be read"
    ]

    remote.deliver(nursery, entry, wire(events[4]))  # version 5 with 4 missing
    await wait_until(lambda: caught_up == [3])
    assert applied == [1, 2, 3], "a gap is caught up from the store, not applied over"


async def test_a_followed_map_catches_up_unless_it_holds_writes() -> None:
    entry, _, remote, _, caught_up = setup()
    await remote.catch_up_followed(entry)
    assert caught_up == [0]
    entry.held = HeldWrites(base=entry.state, history=entry.history.copy())  # the store was away
    await remote.catch_up_followed(entry)
    assert caught_up == [0], "the re-sync that pushes held writes catches up instead"
