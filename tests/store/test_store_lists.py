"""The store contract's lists, deletion, retention and backup records, the same cases against
the in-memory shared store, a real redis-server and SQLite: a person's, a key's and an agent's
maps with what a list shows of each; deletion leaving tombstones for the map's id and links; the
retention sweep (times given: the stores record real ones, the sweep is asked about later ones);
a map's record taken from one store and put in another."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from test_store_contract import ONE_PROCESS, Backend, SqliteBackend

from mapsrv.core import Limits, MapState, apply_all
from mapsrv.core.changes import Change, Inverse, person_actor
from mapsrv.core.parse import parse_op
from mapsrv.store import COMMITTED, MapMeta, PersonLink, Store

DAY = 86400.0
MARKER = parse_op({"op": "add_feature", "type": "marker", "coords": [1, 2]}, Limits())
ANA = person_actor(None, "ana-cookie", "Ana")


async def made(
    store: Store,
    n: int,
    *,
    owner: str | None = None,
    principal: str | None = None,
    maker: str | None = None,
    drawn: int = 1,
) -> MapState:
    map_id = f"map{n}".ljust(22, "x")
    meta = MapMeta(
        map_id, f"view{n}".ljust(22, "x"), owner, principal, edit_key=f"edit{n}".ljust(22, "x"), maker=maker
    )
    state = MapState(id=map_id, title=f"map {n}")
    assert await store.create(meta, state)
    for _ in range(drawn):
        new, events = apply_all(state, [MARKER])
        # apply_all leaves attribution to the hub: the batch's change, as the hub would add it
        events[-1] = replace(events[-1], change=Change(ANA, new.version, time.time(), "added", Inverse()))
        assert (
            await store.commit(map_id, state.version, events, new, snapshot=False, batch_id="") == COMMITTED
        )
        state = new
    return state


@ONE_PROCESS
async def test_lists_by_owner_opened_key_and_agent(backend: Backend) -> None:
    store = (await backend.connect()).store
    mine = await made(store, 1, owner="alice", drawn=2)
    await made(store, 2, owner="bob")
    keyed = await made(store, 3, principal="key-a")
    agents = await made(store, 4, maker="agent:1234")
    await store.remember_opened("alice", "map2".ljust(22, "x"))

    alices = await store.maps_of(owner="alice")
    assert {s.meta.id for s in alices} == {mine.id, "map2".ljust(22, "x")}
    line = next(s for s in alices if s.meta.id == mine.id)
    assert (line.title, line.version, line.features, line.updated_by) == ("map 1", 2, 2, "Ana")
    assert line.meta.view_key == "view1".ljust(22, "x") and line.updated >= line.created > 0
    assert [s.meta.id for s in await store.maps_of(owner="bob")] == ["map2".ljust(22, "x")]
    assert [s.meta.id for s in await store.maps_of(principal="key-a")] == [keyed.id]
    assert [s.meta.id for s in await store.maps_of(maker="agent:1234")] == [agents.id]
    assert await store.maps_of(owner="carol") == []
    assert len(await store.maps_of()) == 4, "every map: a private store"
    assert await store.claim("map3".ljust(22, "x"), "carol") == "carol"
    assert [s.meta.id for s in await store.maps_of(owner="carol")] == [keyed.id], "a claim joins the list"


@ONE_PROCESS
async def test_a_deleted_map_leaves_tombstones_and_no_list(backend: Backend) -> None:
    store = (await backend.connect()).store
    state = await made(store, 1, owner="alice")
    await store.remember_opened("bob", state.id)
    view, edit = "view1".ljust(22, "x"), "edit1".ljust(22, "x")
    deleted = await store.delete(state.id)
    assert deleted is not None and deleted.view_key == view
    assert await store.load(state.id) is None and await store.map_for_view_key(view) is None
    assert await store.map_for_edit_key(edit) is None
    assert all([await store.gone(state.id), await store.gone(view), await store.gone(edit)])
    assert not await store.gone("never".ljust(22, "x"))
    assert await store.maps_of(owner="alice") == [] and await store.maps_of(owner="bob") == []
    assert await store.delete(state.id) is None, "once"


@ONE_PROCESS
async def test_the_sweep_forgets_what_is_past_its_time(backend: Backend) -> None:
    store = (await backend.connect()).store
    empty = await made(store, 1, owner="alice", drawn=0)
    drawn = await made(store, 2, owner="alice")
    now = time.time()
    assert await store.sweep(now + 60, retention=None, unused=600) == []
    if backend.name != "redis":  # Redis expires an unused empty map itself (its time to live)
        assert await store.sweep(now + 700, retention=None, unused=600) == [empty.id]
    assert await store.sweep(now + 3650 * DAY, retention=None, unused=600) == [], "kept for ever"
    await store.touch([(drawn.id, "view2".ljust(22, "x"), None)])
    assert await store.sweep(now + 89 * DAY, retention=90 * DAY, unused=600) == []
    swept = await store.sweep(now + 91 * DAY, retention=90 * DAY, unused=600)
    assert drawn.id in swept and set(swept) <= {drawn.id, empty.id}  # Redis: the empty one is still there
    assert await store.load(drawn.id) is None and not await store.gone(drawn.id), "forgotten, not deleted"


@ONE_PROCESS
async def test_a_record_moves_from_one_store_to_another(backend: Backend, tmp_path: Any) -> None:
    store = (await backend.connect()).store
    state = await made(store, 1, owner="alice", principal="key", drawn=3)
    meta = (await store.load(state.id)).meta  # type: ignore[union-attr]
    newer = MapMeta(meta.id, meta.view_key, meta.owner, meta.principal, edit_key="edit9".ljust(22, "x"))
    await store.set_links(meta, newer)
    await store.remember_opened("bob", state.id)
    record = await store.dump(state.id)
    assert record is not None and record.state == state and [e.version for e in record.log] == [1, 2, 3]
    assert record.retired_edit_keys == ("edit1".ljust(22, "x"),) and record.opened_by == ("bob",)
    ids, cursor = await store.map_ids("", 10)
    assert ids == [state.id] and cursor == ""

    other = SqliteBackend(str(tmp_path / "other"), 64)
    (tmp_path / "other").mkdir()
    target = other.new_store()
    assert await target.restore(record)
    assert not await target.restore(record), "there already"
    assert await target.restore(record, replace=True)
    again = await target.dump(state.id)
    assert again is not None and again.state == record.state and again.meta == record.meta
    assert [e.version for e in again.log] == [1, 2, 3] and again.opened_by == ("bob",)
    assert await target.map_for_edit_key("edit1".ljust(22, "x")) == (state.id, False)
    assert [s.meta.id for s in await target.maps_of(owner="bob")] == [state.id]
    await target.aclose()  # type: ignore[attr-defined]


@ONE_PROCESS
async def test_a_new_edit_link_takes_the_map_off_the_lists_of_who_had_the_old(backend: Backend) -> None:
    store = (await backend.connect()).store
    state = await made(store, 1, owner="alice")
    await store.remember_opened("bob", state.id)
    assert [s.meta.id for s in await store.maps_of(owner="bob")] == [state.id]
    meta = (await store.load(state.id)).meta  # type: ignore[union-attr]
    await store.set_links(
        meta, MapMeta(meta.id, meta.view_key, meta.owner, meta.principal, "new".ljust(22, "x"))
    )
    assert await store.maps_of(owner="bob") == [], "Bob was shut out: his list must not let him back in"
    assert [s.meta.id for s in await store.maps_of(owner="alice")] == [state.id]


@ONE_PROCESS
async def test_people_who_sign_in_and_the_browsers_they_signed_in_with(backend: Backend) -> None:
    """Issue 36: a browser user signed in as a person stands for them until it signs out; every
    browser that ever signed in as the person stays theirs (its maps are the person's)."""
    store = (await backend.connect()).store
    assert await store.person_of("laptop") is None and await store.identities_of("oidc:ana") == []
    await store.sign_in("laptop", "oidc:ana")
    await store.sign_in("phone", "oidc:ana")
    await store.sign_in("work", "oidc:ben")
    assert await store.person_of("laptop") == "oidc:ana" and await store.person_of("work") == "oidc:ben"
    assert await store.identities_of("oidc:ana") == ["laptop", "phone"]
    await store.sign_out("phone")
    assert await store.person_of("phone") is None, "signed out: it stands for nobody"
    assert await store.identities_of("oidc:ana") == ["laptop", "phone"], "its maps stay hers"
    await store.sign_out("nobody")  # never signed in: nothing happens
    assert await store.person_of("nobody") is None
    await store.sign_in("phone", "oidc:ana")
    assert await store.person_of("phone") == "oidc:ana"
    assert await store.identities_of("oidc:ben") == ["work"]
    await store.sign_out("work")
    assert await store.people() == [
        PersonLink("laptop", "oidc:ana", True),
        PersonLink("phone", "oidc:ana", True),
        PersonLink("work", "oidc:ben", False),
    ]
    await store.restore_person(PersonLink("tablet", "oidc:ben", True))  # from a backup
    assert await store.person_of("tablet") == "oidc:ben" and await store.identities_of("oidc:ben") == [
        "tablet",
        "work",
    ]


@ONE_PROCESS
async def test_a_map_whose_id_begins_with_a_dash_opens_by_its_edit_link_until_it_is_turned_off(
    backend: Backend,
) -> None:
    """Redis keeps a turned-off edit key as "-<map id>", and ids made before ``new_token`` left a
    leading "-" out (one in 64) read as that: such a map's edit link said "turned off" from the
    start (a flaky CI run of tests/web/test_coediting_redis.py)."""
    store = (await backend.connect()).store
    map_id, edit = "-dash".ljust(22, "x"), "-edit".ljust(22, "x")
    meta = MapMeta(map_id, "-view".ljust(22, "x"), "alice", None, edit_key=edit)
    assert await store.create(meta, MapState(id=map_id))
    assert await store.map_for_edit_key(edit) == (map_id, True)
    await store.set_links(meta, replace(meta, edit_key=None))
    assert await store.map_for_edit_key(edit) == (map_id, False)


def test_new_tokens_never_begin_with_a_dash() -> None:
    from mapsrv.hub.registry import new_token

    tokens = [new_token() for _ in range(5000)]  # 78 would, at one in 64
    assert not [t for t in tokens if t.startswith("-")]
    assert len(set(tokens)) == len(tokens) and {len(t) for t in tokens} == {22}
