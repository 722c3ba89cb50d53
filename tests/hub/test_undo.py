"""Changes through the hub: who made each, per-actor undo and redo, edits based on a version that
fail cleanly when someone else changed the same features, the history's list of changes, and the
history kept across processes (on the in-memory shared store; tests/store/test_history_redis.py does it
on a real redis-server)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from support import wait_until

from mapsrv.core import Limits, Op, apply_all
from mapsrv.core.history import Actor
from mapsrv.core.parse import parse_op
from mapsrv.errors import EditConflict, NothingToUndo, VersionConflict
from mapsrv.hub import MapHub
from mapsrv.store import COMMITTED
from mapsrv.store.memory.shared import SharedMemory

A = Actor("agent:aaaaaaaa", "claude-ai")
B = Actor("person:bbbbbbbb", "Chrome on Linux")


def op(raw: dict[str, Any]) -> Op:
    return parse_op(raw, Limits())


def marker(fid: str, lat: float = 1, layer: str = "default") -> Op:
    return op(
        {"op": "add_feature", "id": fid, "type": "marker", "coords": [lat, 2], "layer": layer, "label": fid}
    )


def move(fid: str, lat: float) -> Op:
    return op({"op": "update_feature", "id": fid, "coords": [lat, 2]})


def coords(hub: MapHub, map_id: str) -> dict[str, Any]:
    entry = hub.find(map_id)
    assert entry is not None
    return {fid: f.coords for fid, f in entry.state.features.items()}


async def test_each_actor_undoes_only_their_own_change() -> None:
    hub = MapHub()
    entry = await hub.create_map()
    await hub.apply(entry.id, [marker("a", 1), marker("b", 1)])
    await hub.apply(entry.id, [move("a", 10)], actor=A)
    await hub.apply(entry.id, [move("b", 20)], actor=B)
    events = await hub.undo(entry.id, A)
    assert coords(hub, entry.id) == {"a": (1.0, 2.0), "b": (20.0, 2.0)}, "A's move undone, B's kept"
    change = events[-1].change
    assert (
        change is not None and change.by == A and change.undoes == 3 and change.summary == "undid 'moved 'a''"
    )
    await hub.undo(entry.id, B)
    assert coords(hub, entry.id) == {"a": (1.0, 2.0), "b": (1.0, 2.0)}
    with pytest.raises(NothingToUndo):
        await hub.undo(entry.id, A)
    await hub.redo(entry.id, A)
    assert coords(hub, entry.id)["a"] == (10.0, 2.0)
    with pytest.raises(NothingToUndo, match="nothing to redo"):
        await hub.redo(entry.id, A)


async def test_undo_refuses_when_someone_else_changed_those_features_since() -> None:
    hub = MapHub()
    entry = await hub.create_map()
    await hub.apply(entry.id, [marker("a")], actor=A)
    await hub.apply(entry.id, [move("a", 5)], actor=B)
    with pytest.raises(EditConflict) as caught:
        await hub.undo(entry.id, A)
    assert caught.value.status == 409 and caught.value.current == 2
    assert [c["by"]["id"] for c in caught.value.changes] == [B.id]
    assert "Chrome on Linux" in caught.value.message and "moved 'a'" in caught.value.message
    assert coords(hub, entry.id) == {"a": (5.0, 2.0)}, "nothing written"


async def test_base_version_conflicts_only_on_the_same_features() -> None:
    hub = MapHub()
    entry = await hub.create_map()
    await hub.apply(entry.id, [marker("a"), marker("b")], actor=A)  # version 2
    await hub.apply(entry.id, [move("a", 7)], actor=B)  # version 3
    events = await hub.apply(entry.id, [move("b", 8)], base_version=2, actor=A)
    assert events[-1].version == 4, "another feature: no conflict"
    with pytest.raises(EditConflict) as caught:
        await hub.apply(entry.id, [move("a", 9)], base_version=2, actor=A)
    body = caught.value.to_json()
    assert body["code"] == "edit_conflict" and body["current_version"] == 4
    assert [(c["version"], c["by"]["name"], c["changed"]) for c in body["changes"]] == [
        (3, "Chrome on Linux", ["a"])
    ]
    assert "base_version=4" in body["message"]
    json.dumps(body)  # JSON-ready
    await hub.apply(entry.id, [move("a", 9)], base_version=4, actor=A)
    with pytest.raises(VersionConflict):
        await hub.apply(entry.id, [move("a", 9)], expected_version=1, actor=A)


async def test_changes_since_lists_who_did_what() -> None:
    hub = MapHub()
    entry = await hub.create_map()
    await hub.apply(entry.id, [marker("a")], actor=A)
    note = {"op": "add_feature", "type": "marker", "coords": [3, 4], "layer": "notes", "popup": "meet here"}
    await hub.apply(entry.id, [op(note)], actor=B)
    answer = await hub.changes_since(entry.id, 0)
    assert answer["map_id"] == entry.id and answer["version"] == 3 and answer["complete"]
    assert not answer["truncated"]
    first, second = answer["changes"]
    assert (first["by"], first["added"], first["version"]) == ({"id": A.id, "name": "claude-ai"}, ["a"], 1)
    assert second["notes"] == [{"id": "f1", "text": "meet here", "at": [3.0, 4.0]}]
    assert second["summary"] == "added layer 'notes', added a marker"
    limited = await hub.changes_since(entry.id, 0, limit=1)
    assert limited["truncated"] and len(limited["changes"]) == 1
    assert (await hub.changes_since(entry.id, 3))["changes"] == []
    past = await hub.state_at(entry.id, 1)
    assert set(past.features) == {"a"} and past.version == 1 and "notes" not in past.layers


async def test_the_snapshot_carries_recent_activity() -> None:
    hub = MapHub()
    entry = await hub.create_map()
    async with hub.subscribe(entry) as viewer:
        assert b"activity" not in viewer.initial[0], "no change yet: the snapshot reads as before"
    await hub.apply(entry.id, [marker("a")], actor=A)
    async with hub.subscribe(entry) as viewer:
        data = json.loads(viewer.initial[0].split(b"data: ", 1)[1])
    assert [a["summary"] for a in data["activity"]] == ["added 'a'"]
    assert entry.state_json()["activity"] == data["activity"]


async def test_the_history_follows_the_map_to_another_process() -> None:
    memory = SharedMemory()
    one, two = MapHub(store=memory.connect()), MapHub(store=memory.connect())
    async with trio.open_nursery() as nursery:
        for hub in (one, two):
            messages = await nursery.start(hub.store.serve)
            await nursery.start(hub.serve_replication, messages)
        entry = await one.create_map()
        await one.apply(entry.id, [marker("a"), marker("b")])
        await one.apply(entry.id, [move("a", 5)], actor=A)
        on_two = await two.get(entry.id)  # loaded, with the store's log: the history comes along
        assert [r.change.by for r in on_two.history.records()][-1] == A
        await two.apply(entry.id, [move("b", 6)], actor=B)
        await two.undo(entry.id, A)
        with trio.fail_after(5):
            await wait_until(lambda: one.find(entry.id).state.version == 5)  # type: ignore[union-attr]
        for hub in (one, two):
            assert coords(hub, entry.id) == {"a": (1.0, 2.0), "b": (6.0, 2.0)}
        assert one.find(entry.id).history.undo_target(A) is None  # type: ignore[union-attr]
        nursery.cancel_scope.cancel()


async def test_writes_held_while_the_store_is_away_keep_their_actor() -> None:
    memory = SharedMemory()
    hub = MapHub(store=memory.connect())
    entry = await hub.create_map()
    await hub.apply(entry.id, [marker("a")], actor=A)
    memory.go_down()
    await hub.apply(entry.id, [move("a", 3)], actor=B)
    assert entry.held is not None and entry.held.batches[0].actor == B
    memory.come_back()
    await hub.resync()
    assert entry.held is None
    stored = memory.events_after(entry.id, 0)
    assert stored is not None and [e.change.by for e in stored if e.change] == [A, B]
    await hub.undo(entry.id, B)
    assert coords(hub, entry.id) == {"a": (1.0, 2.0)}


async def test_undoing_a_new_layer_refuses_while_someone_else_draws_on_it() -> None:
    hub = MapHub()
    entry = await hub.create_map()
    await hub.apply(entry.id, [marker("a", layer="hotels")], actor=A)  # makes the layer
    await hub.apply(entry.id, [marker("b", layer="hotels")], actor=B)
    with pytest.raises(EditConflict, match="cannot undo"):
        await hub.undo(entry.id, A)  # it would remove the layer, and B's marker with it
    await hub.apply(entry.id, [marker("c")], actor=A)
    await hub.undo(entry.id, A)  # A's later change, on another layer, undoes fine
    assert set(coords(hub, entry.id)) == {"a", "b"}


async def test_a_base_version_older_than_the_history_conflicts_with_any_change() -> None:
    hub = MapHub()
    entry = await hub.create_map()
    await hub.apply(entry.id, [marker("a"), marker("b")])
    entry.history.reset(entry.state.version)  # as after a reload: nothing known before version 2
    await hub.apply(entry.id, [move("a", 3)], actor=B)
    with pytest.raises(EditConflict, match="does not reach back") as caught:
        await hub.apply(entry.id, [move("b", 4)], base_version=1, actor=A)
    assert [c["by"]["id"] for c in caught.value.changes] == [B.id]
    await hub.apply(entry.id, [move("b", 4)], base_version=2, actor=A)  # reaches: another feature
    assert (await hub.changes_since(entry.id, 0))["complete"] is False


async def test_writes_held_on_two_processes_at_once_end_in_one_history() -> None:
    memory = SharedMemory()
    one, two = MapHub(store=memory.connect()), MapHub(store=memory.connect())
    entry = await one.create_map()
    await one.apply(entry.id, [marker("a"), marker("b")])
    other = await two.get(entry.id)
    memory.go_down()
    await one.apply(entry.id, [move("a", 5)], actor=A)
    await two.apply(entry.id, [move("b", 6)], actor=B)  # both at version 3, held
    memory.come_back()
    await one.resync()
    await two.resync()  # lands on top of one's: its history here is rebuilt from the store's log
    await one.resync()
    for e in (entry, other):
        assert e.held is None and e.state == memory.maps[entry.id].state
    assert [(r.version, r.change.by) for r in other.history.records()][-2:] == [(3, A), (4, B)]
    await two.undo(entry.id, A)  # A's change, made on the other process while the store was away
    await one.resync()
    assert coords(one, entry.id) == {"a": (1.0, 2.0), "b": (6.0, 2.0)}


async def test_an_undo_after_an_older_process_edited_the_map_is_refused_not_written_over_it() -> None:
    """A process from before changes were recorded commits events with no change. The hub learns
    of them when its undo's commit conflicts and it catches up; what they touched is unknown, so
    the undo is refused and the older process's edit stays, in the hub and in the store."""
    memory = SharedMemory()
    hub = MapHub(store=memory.connect())
    entry = await hub.create_map()
    await hub.apply(entry.id, [marker("a")], actor=A)
    await hub.apply(entry.id, [move("a", 5)], actor=A)
    state, events = apply_all(entry.state, [move("a", 9)])  # events with no change, as it wrote them
    older = memory.connect()
    reply = await older.commit(entry.id, entry.state.version, events, state, snapshot=False, batch_id="old")
    assert reply == COMMITTED and entry.state.version == 2, "the hub has not heard of it yet"
    with pytest.raises(EditConflict, match="changed by a process that records no changes") as caught:
        await hub.undo(entry.id, A)
    assert caught.value.current == 3 and caught.value.changes == []
    assert coords(hub, entry.id) == {"a": (9.0, 2.0)}
    assert memory.maps[entry.id].state == entry.state and entry.state.version == 3
