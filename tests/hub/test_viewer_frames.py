"""What viewers get of a change: who made it, when, and a summary, never its undo data
(docs/protocol.md, "Changes"); the store's log keeps the undo data, so any process can still undo
the change after loading the map. On a real redis-server: the resume path reads the store's log."""

from __future__ import annotations

import json
from typing import Any

import trio
from support import RedisServer

from mapsrv.core import Feature
from mapsrv.core.codec import wire
from mapsrv.core.history import Actor
from mapsrv.core.ops import Clear, ImportFeatures
from mapsrv.hub import MapHub
from mapsrv.store.redis import RedisStore

A = Actor("agent:aaaaaaaa", "claude-ai")
MARKERS = 300


def change_of(frame: bytes) -> dict[str, Any]:
    lines = frame.decode().splitlines()
    assert lines[1] == "event: change", lines[:2]
    data = json.loads("".join(line.removeprefix("data: ") for line in lines if line.startswith("data: ")))
    change: dict[str, Any] = data["change"]
    return change


def store(redis_server: RedisServer) -> RedisStore:
    return RedisStore(redis_server.url, ttl=600, log_size=1024, snapshot_every=100)


async def test_viewers_get_who_and_what_without_the_undo_data_which_the_store_keeps(
    redis_server: RedisServer, nursery: trio.Nursery
) -> None:
    one = MapHub(store=store(redis_server))
    await nursery.start(one.serve_replication, await nursery.start(one.store.serve))
    entry = await one.create_map()
    markers = tuple(Feature(f"m{i}", "marker", (1.0, i / 100), label=f"m{i}") for i in range(MARKERS))
    await one.apply(entry.id, [ImportFeatures(markers)], actor=A)
    async with one.subscribe(entry, str(entry.state.version)) as sub:
        cleared = await one.apply(entry.id, [Clear()], actor=A)
        frame = sub.receive.receive_nowait()

    change = change_of(frame)
    assert change == {
        "by": {"id": A.id, "name": "claude-ai"},
        "first": 2,
        "at": change["at"],
        "summary": "cleared the map",
    }
    assert len(frame) < 300, "a clear's frame does not grow with the features it removed"
    assert len(wire(cleared[-1])) > 100 * MARKERS, "the event itself still holds them (the store's form)"
    logged = await one.store.events_after(entry.id, 1)
    assert logged is not None and logged[-1].change is not None
    assert {fid for fid, _ in logged[-1].change.undo.features} == {f.id for f in markers}

    # Another process knows the map from the store alone: a viewer resuming there before the clear
    # gets the same frame (made from the store's log), and A's undo brings every marker back.
    two = MapHub(store=store(redis_server))
    await nursery.start(two.serve_replication, await nursery.start(two.store.serve))
    there = await two.get(entry.id)
    async with two.subscribe(there, "1") as resumed:
        assert resumed.initial == [frame]
    await two.undo(entry.id, A)
    assert set(there.state.features) == {f.id for f in markers}
    async with one.subscribe(entry, "2") as late:  # from this process's log, or live once it arrives
        with trio.fail_after(10):
            undone = change_of(late.initial[0] if late.initial else await late.receive.receive())
    assert undone["summary"] == "undid 'cleared the map'" and undone["undoes"] == 2 and "undo" not in undone
