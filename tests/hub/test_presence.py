"""Presence in the hub: two hubs on one shared store, as two processes on Redis. A member who
joins through one hub is listed on the other's viewers; leaving clears it everywhere; a hub that
stops sharing (killed) is forgotten after the share's time to live; one frame lists at most
``LISTED`` members, owners and editors first, and counts the rest; a notice that cannot be read is
ignored, never fatal; the history and the frame log never see presence."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from support.waiting import wait_until

from mapsrv.hub import MapEntry, MapHub, Subscription
from mapsrv.hub import presence as presence_module
from mapsrv.hub.presence import LISTED, Member
from mapsrv.store.memory.shared import SharedMemory


async def serve(nursery: trio.Nursery, hub: MapHub) -> None:
    """What mapsrv.server.serve runs: replication (which hears the notices) and presence."""
    messages = await nursery.start(hub.store.serve)
    await nursery.start(hub.serve_replication, messages)
    await nursery.start(hub.serve_presence)


async def two_hubs(nursery: trio.Nursery) -> tuple[MapHub, MapHub, MapEntry, MapEntry]:
    """Two hubs on one shared store (two processes on Redis), both served, holding one map."""
    memory = SharedMemory()
    a, b = MapHub(store=memory.connect()), MapHub(store=memory.connect())
    for hub in (a, b):
        await serve(nursery, hub)
    entry_a = await a.create_map()
    return a, b, entry_a, await b.get(entry_a.id)


def person(name: str, role: str = "editor", n: int = 0) -> Member:
    return Member(id=f"{name}{n}", kind="person", name=name, role=role, actor=f"person:{name}")


async def latest_presence(
    sub: Subscription, want: set[tuple[str, str]] | None = None
) -> list[tuple[str, str]]:
    """The members the newest presence frame on ``sub`` lists, waiting (bounded) until they are ``want``."""
    listed: list[tuple[str, str]] = []
    waiting, sub.initial = list(sub.initial), []  # a person's first frames say who is here
    with trio.fail_after(10):
        while True:
            data = waiting.pop(0) if waiting else await sub.receive.receive()
            if data.startswith(b"event: presence"):
                body = json.loads(data.split(b"data: ", 1)[1])
                listed = [(m["name"], m["role"]) for m in body["present"]]
                if want is None or set(listed) == want:
                    return listed


async def test_who_joins_on_one_hub_is_listed_on_the_other_and_leaves_everywhere(
    nursery: trio.Nursery,
) -> None:
    a, b, entry_a, entry_b = await two_hubs(nursery)
    version = entry_a.state.version
    async with a.subscribe(entry_a, str(version), person("Ana", "owner")) as ana:
        async with b.subscribe(entry_b, str(version), person("Bob")) as bob:
            assert await latest_presence(ana, {("Ana", "owner"), ("Bob", "editor")})
            assert await latest_presence(bob, {("Ana", "owner"), ("Bob", "editor")})
            assert a.present(entry_a)[0] and [m["name"] for m in b.present(entry_b)[0]] == ["Ana", "Bob"]
        assert await latest_presence(ana, {("Ana", "owner")})
    assert entry_a.history.activity() == [] and not entry_a.frames.recent  # never a version


async def test_a_hub_that_stops_sharing_is_forgotten_after_the_time_to_live(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(presence_module, "TTL", 0.6)
    monkeypatch.setattr(presence_module, "SWEEP", 0.1)
    monkeypatch.setattr(presence_module, "SHARE_INTERVAL", 0.2)
    memory = SharedMemory()
    a, b = MapHub(store=memory.connect()), MapHub(store=memory.connect())
    await serve(nursery, a)
    entry_a = await a.create_map()
    async with a.subscribe(entry_a, "0", person("Ana", "owner")) as ana:
        with trio.CancelScope() as b_runs:  # b: a process that will be killed
            async with trio.open_nursery() as b_nursery:
                await serve(b_nursery, b)
                entry_b = await b.get(entry_a.id)
                await b.join(entry_b, "0", Subscription, person("Bob"))
                assert await latest_presence(ana, {("Ana", "owner"), ("Bob", "editor")})
                shares = b.presence.shares
                # b's heartbeats keep Bob listed past several times to live
                await wait_until(lambda: b.presence.shares >= shares + 5)
                assert {m["name"] for m in a.present(entry_a)[0]} == {"Ana", "Bob"}
                b_runs.cancel()  # b stops: no leave, no more shares
        assert await latest_presence(ana, {("Ana", "owner")})  # Bob timed out


async def test_a_frame_lists_the_first_members_by_role_and_counts_the_rest() -> None:
    hub = MapHub()
    entry = await hub.create_map()
    for i in range(LISTED + 5):
        hub.presence.join(entry.id, person(f"v{i:02}", "viewer", i))
    hub.presence.join(entry.id, person("Zed", "owner"))
    hub.presence.join(entry.id, Member(id="ag", kind="agent", name="claude-ai", role="agent"))
    listed, more = hub.present(entry)
    assert len(listed) == LISTED and more == 7
    assert [m["role"] for m in listed[:2]] == ["owner", "agent"]
    assert all(set(m) == {"id", "kind", "name", "role", "actor", "colour"} for m in listed)


async def test_an_unreadable_notice_is_ignored(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    memory = SharedMemory()
    a = MapHub(store=memory.connect())
    await serve(nursery, a)
    entry = await a.create_map()
    async with a.subscribe(entry, "0", person("Ana", "owner")) as ana:
        await latest_presence(ana)
        for text in (
            b'{"presence": 5}',
            b'{"presence": {"from": "x"}}',
            b'{"links": []}',
            b'{"presence": [}',
        ):
            a._on_notice(entry, text)
        a.presence.heard(
            entry.id, b'{"presence": {"from": "x", "members": [{"name": "Eve", "role": "editor"}]}}'
        )
        assert await latest_presence(ana, {("Ana", "owner"), ("Eve", "editor")})
    assert "could not be read" in caplog.text


async def test_a_burst_of_arrivals_is_a_few_frames_not_one_each(nursery: trio.Nursery) -> None:
    """1,000 people opening a map at once would otherwise send each viewer 1,000 lists."""
    hub = MapHub()
    await nursery.start(hub.serve_presence)
    entry = await hub.create_map()
    async with hub.subscribe(entry, "0", person("Ana", "owner")) as ana:
        await latest_presence(ana, {("Ana", "owner")})
        for i in range(200):
            hub.presence.join(entry.id, person(f"v{i:03}", "viewer", i))
        frames = 0
        with trio.fail_after(10):
            while True:
                data = await ana.receive.receive()
                frames += data.startswith(b"event: presence")
                if b'"more":181' in data:  # 20 listed of the 201
                    break
        assert frames <= 3, frames


async def test_pointers_reach_the_other_hubs_viewers_as_changes_and_go_with_their_person(
    nursery: trio.Nursery,
) -> None:
    a, b, entry_a, entry_b = await two_hubs(nursery)

    async def pointers(sub: Subscription, check: Any) -> dict[str, Any]:
        with trio.fail_after(10):
            while True:
                data = await sub.receive.receive()
                if data.startswith(b"event: pointers"):
                    body = json.loads(data.split(b"data: ", 1)[1])
                    if check(body):
                        return dict(body)

    async with a.subscribe(entry_a, "0", person("Ana", "owner")) as ana:
        bob = await b.join(entry_b, "0", Subscription, person("Bob"))
        assert b.point(entry_b, "person:Bob", (38.7, -9.1), (38.6, -9.3, 38.8, -9.0))
        assert not b.point(entry_b, "person:Bob", (38.8, -9.1), None), "sooner than MIN_GAP: dropped"
        told = await pointers(ana, lambda body: "p" in body)
        assert told == {"p": [["person:Bob", 38.7, -9.1]], "v": [["person:Bob", 38.6, -9.3, 38.8, -9.0]]}
        b.leave(entry_b, bob)  # Bob's last page closes: his pointer is gone everywhere
        assert await pointers(ana, lambda body: "gone" in body) == {"gone": ["person:Bob"]}
