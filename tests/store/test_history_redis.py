"""Changes across two processes on one real redis-server: this test's hub and a hub in a child
process (support/hub_peer.py). Change records travel with the events (the store's log and pub/sub),
so each process knows who changed what, and an actor's undo on either process reverts only that
actor's change, on both."""

from __future__ import annotations

from typing import Any

import trio
from support import RedisServer, wait_until
from support.hub_peer import open_hub_peer

from mapsrv.core import Limits
from mapsrv.core.history import Actor
from mapsrv.core.parse import parse_op
from mapsrv.hub import MapHub
from mapsrv.store.redis import RedisStore

A = Actor("agent:aaaaaaaa", "claude-ai")
B = Actor("person:bbbbbbbb", "Firefox on Linux")


def actor_json(actor: Actor) -> dict[str, str]:
    return {"id": actor.id, "name": actor.name}


def marker(fid: str) -> dict[str, Any]:
    return {"op": "add_feature", "id": fid, "type": "marker", "coords": [1, 2], "label": fid}


def move(fid: str, lat: float) -> dict[str, Any]:
    return {"op": "update_feature", "id": fid, "coords": [lat, 2]}


async def test_an_undo_on_the_other_process_reverts_only_that_actors_change(
    redis_server: RedisServer, nursery: trio.Nursery
) -> None:
    store = RedisStore(redis_server.url, ttl=600, log_size=1024, snapshot_every=2)
    one = MapHub(store=store)
    messages = await nursery.start(store.serve)
    await nursery.start(one.serve_replication, messages)
    async with open_hub_peer(redis_server.url) as two:
        entry = await one.create_map()
        limits = Limits()
        await one.apply(entry.id, [parse_op(marker("a"), limits), parse_op(marker("b"), limits)])  # v1-2
        await one.apply(entry.id, [parse_op(move("a", 10), limits)], actor=A)  # v3, on this process
        assert (await two.call(do="apply", map=entry.id, ops=[move("b", 20)], actor=actor_json(B))) == {
            "version": 4
        }
        with trio.fail_after(10):
            await wait_until(lambda: entry.state.version == 4)
        by = [r.change.by for r in entry.history.records()]
        assert by[-2:] == [A, B], "B's change record came over pub/sub from the other process"

        assert await two.call(do="undo", map=entry.id, actor=actor_json(A)) == {"version": 5}
        with trio.fail_after(10):
            await wait_until(lambda: entry.state.version == 5)
        here = {fid: f.coords for fid, f in entry.state.features.items()}
        there = await two.call(do="state", map=entry.id)
        assert here == {"a": (1.0, 2.0), "b": (20.0, 2.0)}, "A's move undone, B's kept"
        assert there["features"] == {"a": [1.0, 2.0], "b": [20.0, 2.0]} and there["version"] == 5
        last = there["changes"][-1]
        assert (last["by"], last["undoes"], last["summary"]) == (actor_json(A), 3, "undid 'moved 'a''")
        assert [c["summary"] for c in there["changes"]] == [
            r.to_json()["summary"] for r in entry.history.records()
        ]

        assert entry.history.undo_target(A) is None, "A's undo, made there, is known here"
        assert entry.history.redo_target(A) is not None
        await one.redo(entry.id, A)
        assert await two.call(do="wait", map=entry.id, version=6) == {"version": 6}
        assert (await two.call(do="state", map=entry.id))["features"]["a"] == [10.0, 2.0]

        # B edits 'a' there, based on version 2: A changed 'a' since, so it fails, listing A's changes
        refused = await two.call(
            do="apply", map=entry.id, ops=[move("a", 30)], actor=actor_json(B), base_version=2
        )
        assert refused["error"] == "edit_conflict" and refused["current_version"] == 6
        assert {c["by"]["id"] for c in refused["changes"]} == {A.id}
        await one.undo(entry.id, B)  # B's move of 'b' was not touched since: it goes through
        assert await two.call(do="wait", map=entry.id, version=7) == {"version": 7}
        assert (await two.call(do="state", map=entry.id))["features"] == {"a": [10.0, 2.0], "b": [1.0, 2.0]}


async def test_a_process_that_loads_the_map_gets_its_history_from_the_log(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url, ttl=600, log_size=1024, snapshot_every=2)
    one = MapHub(store=store)
    async with trio.open_nursery() as nursery:
        await nursery.start(store.serve)
        entry = await one.create_map()
        for i in range(3):
            await one.apply(entry.id, [parse_op(marker(f"m{i}"), Limits())], actor=A)
        async with open_hub_peer(redis_server.url) as two:
            there = await two.call(do="state", map=entry.id)  # loads the map: snapshot + log
            assert [c["added"] for c in there["changes"]] == [["m0"], ["m1"], ["m2"]]
            assert await two.call(do="undo", map=entry.id, actor=actor_json(A)) == {"version": 4}
            loaded = await store.load(entry.id)
            assert loaded is not None and set(loaded.state.features) == {"m0", "m1"}
            assert loaded.log[-1].change is not None and loaded.log[-1].change.undoes == 3
        nursery.cancel_scope.cancel()
