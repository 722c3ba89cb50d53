"""Maps that last, at the hub over a real SQLite file: a map somebody drew on is kept when it goes
cold in memory and comes back on first use; with a retention, a map nobody opened or changed for
that long is forgotten (a controlled clock); a map nobody drew on goes after ten minutes; a
deleted map's id and links answer Gone and its streams end; a copy has the features and no
history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from mapsrv.core import Limits
from mapsrv.core.changes import person_actor
from mapsrv.core.parse import parse_op
from mapsrv.errors import Gone, NotFound
from mapsrv.hub import MapHub
from mapsrv.hub.registry import UNUSED_MAP_TIMEOUT
from mapsrv.store.memory.shared import SharedMemory
from mapsrv.store.sqlite import SqliteStore

DAY = 24 * 3600.0
MARKER = parse_op(
    {"op": "add_feature", "type": "marker", "coords": [38.7, -9.1], "label": "Lisbon"}, Limits()
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def hub(tmp_path: Path, clock: Clock, nursery: trio.Nursery) -> AsyncIterator[MapHub]:
    store = SqliteStore(f"sqlite://{tmp_path}/maps.db", log_size=64, clock=clock)
    hub = MapHub(store=store, retention=90 * DAY)
    hub.catalog.clock = clock
    await nursery.start(store.serve)
    yield hub


async def test_a_cold_map_comes_back_from_disk_with_its_history(hub: MapHub) -> None:
    entry = await hub.create_map(owner="alice", title="Trip")
    await hub.apply(entry.id, [MARKER], actor=person_actor(None, "alice-secret", "Ana"))
    hub.registry.drop(entry)  # gone cold in memory
    again = await hub.get(entry.id)
    assert again is not entry and again.state == entry.state
    assert [r.change.summary for r in again.history.records()] == [
        r.change.summary for r in entry.history.records()
    ]
    listed = await hub.maps_of(owner="alice")
    assert [(m.title, m.features, m.updated_by) for m in listed] == [("Trip", 1, "Ana")]


async def test_retention_forgets_maps_nobody_opened_or_changed_for_that_long(
    hub: MapHub, clock: Clock
) -> None:
    old = await hub.create_map(owner="alice", title="Old")
    await hub.apply(old.id, [MARKER])
    clock.now += 60 * DAY
    recent = await hub.create_map(owner="alice", title="Recent")
    await hub.apply(recent.id, [MARKER])
    clock.now += 31 * DAY  # the old map: 91 days unused; the recent one: 31
    assert await hub.catalog.sweep() == 1
    with pytest.raises(NotFound) as forgotten:
        await hub.get(old.id)
    assert not isinstance(forgotten.value, Gone), "forgotten, not deleted by anyone: a plain 404"
    assert [m.title for m in await hub.maps_of(owner="alice")] == ["Recent"]


async def test_opening_a_map_keeps_it(hub: MapHub, clock: Clock) -> None:
    kept = await hub.create_map(owner="alice", title="Kept")
    await hub.apply(kept.id, [MARKER])
    clock.now += 80 * DAY
    await hub.store.touch([(kept.id, kept.view_key, kept.edit_key)])  # watched: the expiry sweep says so
    clock.now += 80 * DAY
    assert await hub.catalog.sweep() == 0
    assert (await hub.get(kept.id)).state.features


async def test_a_map_nobody_drew_on_goes_after_ten_minutes(hub: MapHub, clock: Clock) -> None:
    empty = await hub.create_map(owner="alice")
    drawn = await hub.create_map(owner="alice")
    await hub.apply(drawn.id, [MARKER])
    clock.now += UNUSED_MAP_TIMEOUT - 1
    assert await hub.catalog.sweep() == 0
    clock.now += 2
    assert await hub.catalog.sweep() == 1
    assert [m.meta.id for m in await hub.maps_of(owner="alice")] == [drawn.id]
    assert await hub.store.load(empty.id) is None


async def test_without_retention_a_drawn_map_is_kept_for_ever(
    tmp_path: Path, clock: Clock, nursery: trio.Nursery
) -> None:
    store = SqliteStore(f"sqlite://{tmp_path}/forever.db", log_size=64, clock=clock)
    hub = MapHub(store=store)
    await nursery.start(store.serve)
    entry = await hub.create_map(owner="alice")
    await hub.apply(entry.id, [MARKER])
    clock.now += 3650 * DAY
    assert await hub.catalog.sweep() == 0


async def test_a_deleted_map_is_gone_by_id_and_links_and_its_streams_end(hub: MapHub) -> None:
    entry = await hub.create_map(owner="alice", title="Doomed")
    await hub.apply(entry.id, [MARKER])
    view_key, edit_key = entry.view_key, entry.edit_key
    assert edit_key is not None
    async with hub.subscribe(entry) as sub:
        assert sub.initial, "the snapshot"
        await hub.delete_map(entry)
        frames = [frame async for frame in sub.receive]  # ends: the stream is closed
    assert any(b"event: access" in f and b'"gone":true' in f for f in frames), frames
    for find in (hub.get(entry.id), hub.get_by_view_key(view_key), hub.get_by_edit_key(edit_key)):
        with pytest.raises(Gone):
            await find
    assert await hub.maps_of(owner="alice") == []


async def test_a_copy_has_the_features_new_links_and_one_change(hub: MapHub) -> None:
    entry = await hub.create_map(owner="alice", title="Trip")
    for _ in range(3):
        await hub.apply(entry.id, [MARKER])
    copy = await hub.duplicate_map(entry, owner="alice")
    assert copy.id != entry.id and copy.view_key != entry.view_key and copy.edit_key != entry.edit_key
    assert copy.state.title == "Trip (copy)" and len(copy.state.features) == 3
    assert list(copy.state.features.values()) == list(entry.state.features.values())
    assert len(copy.history.records()) == 1


async def test_a_map_deleted_on_one_process_ends_the_streams_on_another(nursery: trio.Nursery) -> None:
    memory = SharedMemory()
    a, b = MapHub(store=memory.connect()), MapHub(store=memory.connect())
    for hub in (a, b):
        messages = await nursery.start(hub.store.serve)
        await nursery.start(hub.serve_replication, messages)
    entry = await a.create_map(owner="alice")
    await a.apply(entry.id, [MARKER])
    held = await b.get(entry.id)
    async with b.subscribe(held) as sub:
        await a.delete_map(entry)
        with trio.fail_after(5):
            frames = [frame async for frame in sub.receive]
    assert any(b'"gone":true' in f for f in frames), frames
    assert b.find(entry.id) is None
    with pytest.raises(Gone):
        await b.get(entry.id)


async def test_people_on_memory_own_what_their_browsers_and_agents_made() -> None:
    """memory:// keeps sign-ins in the hub (``hub.people``): a person signed in owns what every
    browser they signed in with made and what agents made for them; signed out, a browser owns
    only its own; another person owns none of it."""
    hub = MapHub()
    laptop = await hub.create_map(owner="laptop")
    phone = await hub.create_map(owner="phone")
    agents = await hub.create_map(owner="oidc:ana", principal="oidc:ana")
    strangers = await hub.create_map(owner="stranger")
    await hub.people.sign_in("laptop", "oidc:ana")
    await hub.people.sign_in("phone", "oidc:ana")
    for entry in (laptop, phone, agents):
        assert await hub.people.owns(entry, "laptop")
    assert not await hub.people.owns(strangers, "laptop")
    listed = {s.meta.id for s in await hub.maps_of_user("laptop")}
    assert listed == {laptop.id, phone.id, agents.id}
    assert {s.meta.id for s in await hub.maps_of_person("oidc:ana")} == listed
    await hub.people.sign_out("phone")
    assert await hub.people.owns(phone, "phone"), "a browser always owns what it made"
    assert not await hub.people.owns(laptop, "phone"), "signed out: not the person's other maps"
    assert await hub.people.owns(phone, "laptop"), "what it made stays the person's"
    await hub.people.sign_in("work", "oidc:ben")
    assert (
        not await hub.people.owns(laptop, "work")
        and {s.meta.id for s in await hub.maps_of_user("work")} == set()
    )
