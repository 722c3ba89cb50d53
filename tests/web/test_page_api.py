"""The page's endpoints as a program sees them: writes attributed to the person, base_version
conflicts, undo/redo of the person's own changes, the map as it was at a version, and every
refusal (another browser, a foreign Origin, the view link)."""

from __future__ import annotations

from typing import Any

import httpx
from support import Browser

from mapsrv.core.history import agent_actor, person_actor
from mapsrv.core.parse import parse_ops
from mapsrv.server import Server

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
PIN = {"op": "add_feature", "id": "pin", "type": "marker", "coords": [38.72, -9.14], "label": "Pin"}


def person(server: Server) -> Browser:
    browser = Browser(server.url)
    browser.client.headers["User-Agent"] = UA
    return browser


async def post(browser: Browser, path: str, body: Any = None, **headers: str) -> httpx.Response:
    return await browser.client.post(path, json=body if body is not None else {}, headers=headers)


async def test_the_page_writes_as_the_person_and_says_who_it_is(server: Server) -> None:
    alice = person(server)
    map_id = await alice.new_map()
    page = (await alice.client.get(f"/m/{map_id}")).text
    cookie = alice.client.cookies["mapsrv_user"]
    actor = person_actor(UA, cookie)
    assert f'data-actor="{actor.id}"' in page and cookie not in page.split("data-actor", 1)[1][:80]
    assert (await alice.ops(map_id, PIN)).status_code == 200
    [change] = (await alice.state(map_id))["activity"]
    assert change["by"] == {"id": actor.id, "name": "Chrome on Linux"}
    view_key = page.split('data-view-url="', 1)[1].split('"', 1)[0].rsplit("/", 1)[1]
    view_page = (await httpx.AsyncClient(base_url=server.url).get(f"/v/{view_key}")).text
    assert 'data-actor=""' in view_page and 'data-map-id=""' in view_page
    await alice.aclose()


async def test_an_edit_based_on_an_old_version_is_a_conflict_that_says_what_changed(server: Server) -> None:
    alice = person(server)
    map_id = await alice.new_map()
    base = (await alice.ops(map_id, PIN)).json()["version"]
    edit = {"op": "update_feature", "id": "pin", "label": "First"}
    assert (await alice.ops(map_id, edit, base_version=base)).status_code == 200
    late = await alice.ops(
        map_id, {"op": "update_feature", "id": "pin", "label": "Second"}, base_version=base
    )
    assert late.status_code == 409
    error = late.json()["error"]
    assert error["code"] == "edit_conflict" and error["current_version"] == base + 1
    assert [c["summary"] for c in error["changes"]] and error["changes"][0]["by"]["name"] == "Chrome on Linux"
    other = {"op": "add_feature", "id": "other", "type": "marker", "coords": [1, 2]}
    assert (await alice.ops(map_id, other, base_version=base)).status_code == 200, "other features go through"
    for bad in (-1, "3", True, 1.5):
        response = await alice.ops(map_id, edit, base_version=bad)
        assert response.status_code == 400 and "base_version" in response.json()["error"]["message"], bad
    labels = {f["id"]: f["label"] for f in (await alice.state(map_id))["features"]}
    assert labels["pin"] == "First"
    await alice.aclose()


async def test_undo_and_redo_are_the_persons_own(server: Server) -> None:
    alice = person(server)
    map_id = await alice.new_map()
    assert (await alice.ops(map_id, PIN)).status_code == 200
    ops, _ = parse_ops(
        {"op": "add_feature", "id": "road", "type": "polyline", "coords": [[1, 1], [2, 2]]}, server.hub.limits
    )
    await server.hub.apply(map_id, ops, actor=agent_actor("claude-ai", "s1"))
    undone = await post(alice, f"/m/{map_id}/undo")
    assert undone.status_code == 200, undone.text
    assert [f["id"] for f in (await alice.state(map_id))["features"]] == ["road"], "the agent's change stays"
    nothing = await post(alice, f"/m/{map_id}/undo")
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "nothing_to_undo"
    assert (await post(alice, f"/m/{map_id}/redo")).status_code == 200
    assert sorted(f["id"] for f in (await alice.state(map_id))["features"]) == ["pin", "road"]
    await alice.aclose()


async def test_the_map_as_it_was_at_a_version(server: Server) -> None:
    alice = person(server)
    map_id = await alice.new_map()
    first = (await alice.ops(map_id, PIN)).json()["version"]
    await alice.ops(map_id, {"op": "update_feature", "id": "pin", "label": "Moved on"})
    past = (await alice.client.get(f"/m/{map_id}/state", params={"at": first})).json()
    assert past["version"] == first and past["current_version"] == first + 1
    assert [f["label"] for f in past["features"]] == ["Pin"]
    empty = await alice.client.get(f"/m/{map_id}/state", params={"at": 0})
    assert empty.json()["features"] == []
    for bad in ("x", "-1", "1e3"):
        response = await alice.client.get(f"/m/{map_id}/state", params={"at": bad})
        assert response.status_code == 400, bad
    await alice.aclose()


async def test_writes_are_refused_to_strangers_foreign_pages_and_the_view_link(server: Server) -> None:
    alice, stranger = person(server), person(server)
    map_id = await alice.new_map()
    await alice.ops(map_id, PIN)
    page = (await alice.client.get(f"/m/{map_id}")).text
    view_key = page.split('data-view-url="', 1)[1].split('"', 1)[0].rsplit("/", 1)[1]
    for path in ("undo", "redo", "ops"):
        foreign = await post(alice, f"/m/{map_id}/{path}", {"ops": [PIN]}, Origin="http://evil.example")
        assert foreign.status_code == 403, path
        assert (await post(stranger, f"/m/{map_id}/{path}", {"ops": [PIN]})).status_code == 404, path
        assert (await post(stranger, f"/v/{view_key}/{path}", {"ops": [PIN]})).status_code in (404, 405), path
        assert (await post(stranger, f"/m/{view_key}/{path}", {"ops": [PIN]})).status_code == 404, path
    same_origin = await post(alice, f"/m/{map_id}/undo", Origin=server.url.rstrip("/"))
    assert same_origin.status_code == 200
    await alice.aclose()
    await stranger.aclose()
