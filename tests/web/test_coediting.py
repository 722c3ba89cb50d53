"""Many people on one map, over real sockets: the owner's edit link lets a second person edit
(attributed by the name they chose, undo their own), never shows the map id, and never manages
the links; the owner turns it off or makes new links, and an open editor's stream is told while
its writes are refused, saying why; a viewer cannot write. Presence: who has the map open, with
names and roles, on every stream; an agent watching the map is listed, reads who is there, and is
notified when someone comes. Across two ``mapsrv serve`` processes on a real redis-server in
``test_coediting_redis.py``."""

from __future__ import annotations

from typing import Any

import httpx
import trio
from support import Browser, open_stream, start_server
from support.agents import Notified, agent, call, get_stream_open, subscribe
from support.waiting import wait_until

from mapsrv.server import Server

MARKER = {"op": "add_feature", "id": "cafe", "type": "marker", "coords": [38.7, -9.1]}


async def owner_with_map(server: Server) -> tuple[Browser, str, dict[str, Any]]:
    owner = Browser(server.url)
    map_id = await owner.new_map()
    return owner, map_id, await owner.owner_state(map_id)


async def editor_at(server: Server, edit_url: str, name: str | None = None) -> tuple[Browser, str]:
    """A second browser that opened the edit link (and chose ``name``): its client, and its path."""
    path = httpx.URL(edit_url).path
    person = Browser(server.url)
    page = await person.client.get(path)
    assert page.status_code == 200, page.text
    if name is not None:
        answer = await person.client.post("/name", json={"name": name})
        assert answer.status_code == 200 and answer.json()["name"] == " ".join(name.split()), answer.text
    return person, path


async def test_an_edit_link_lets_a_second_person_edit_as_themself_but_not_manage_the_map(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery)
    owner, map_id, state = await owner_with_map(server)
    assert state["edit_url"].startswith(server.url.rstrip("/") + "/e/") and "/v/" in state["view_url"]
    bob, path = await editor_at(server, state["edit_url"], "  Bob \n ")  # kept as "Bob"
    assert (await bob.client.get("/")).status_code == 303  # Bob's own maps are his own
    page = (await bob.client.get(path)).text
    assert map_id not in page, "the edit page never holds the map id (the owner's capability)"
    assert 'data-role="editor"' in page and 'data-name="Bob"' in page

    written = await bob.client.post(f"{path}/ops", json={"ops": [MARKER]})
    assert written.status_code == 200, written.text
    await owner.ops(map_id, {"op": "set_title", "title": "Trip"})
    changes = (await owner.client.get(f"/m/{map_id}/state")).json()["activity"]
    names = [change["by"]["name"] for change in changes]
    assert "Bob" in names, changes
    # Undo is per person: Bob's undo takes back his marker, not the owner's title.
    assert (await bob.client.post(f"{path}/undo")).status_code == 200
    now = await owner.state(map_id)
    assert now["features"] == [] and now["title"] == "Trip"
    # Bob cannot reach what is the owner's: the id's routes, the links.
    assert (await bob.client.get(f"/m/{map_id}/state")).status_code == 404
    assert (await bob.client.post(f"/m/{map_id}/links", json={"edit": "off"})).status_code == 404
    # A viewer reads and never writes, whatever path it tries.
    view_key = httpx.URL(state["view_url"]).path.rsplit("/", 1)[1]
    viewer = Browser(server.url)
    assert (await viewer.client.get(f"/v/{view_key}/state")).status_code == 200
    assert (await viewer.client.post(f"/v/{view_key}/ops", json={"ops": [MARKER]})).status_code in (404, 405)
    assert (await viewer.client.post(f"/e/{view_key}/ops", json={"ops": [MARKER]})).status_code == 404
    for client in (owner, bob, viewer):
        await client.aclose()


async def test_bad_names_and_link_requests_get_a_clear_error(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    owner, map_id, _ = await owner_with_map(server)
    for body, says in (
        ({"name": ""}, "visible"),
        ({"name": "x" * 41}, "at most 40"),
        ({"name": 7}, "text"),
        ([], "JSON object"),
    ):
        answer = await owner.client.post("/name", json=body)
        assert answer.status_code == 400 and says in answer.json()["error"]["message"], answer.text
    for body, says in (
        ({"edit": "maybe"}, 'edit must be "new" or "off"'),
        ({"view": "off"}, 'view must be "new"'),
        ({"owner": "x"}, "unknown field"),
        ({}, '{"edit": "new"}'),
    ):
        answer = await owner.client.post(f"/m/{map_id}/links", json=body)
        assert answer.status_code == 400 and says in answer.json()["error"]["message"], answer.text
    assert (
        await owner.client.post("/name", content=b"{", headers={"content-type": "text/plain"})
    ).status_code == 400
    await owner.aclose()


async def test_the_owner_turns_the_edit_link_off_and_makes_new_links(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    owner, map_id, state = await owner_with_map(server)
    bob, path = await editor_at(server, state["edit_url"], "Bob")
    stream = await open_stream(nursery, bob.client, f"{path}/events")
    await stream.wait_for(lambda events: bool(events))

    answer = (await owner.client.post(f"/m/{map_id}/links", json={"edit": "off"})).json()
    assert answer["edit_url"] is None and answer["view_url"] == state["view_url"]
    with trio.fail_after(5):
        await stream.ended.wait()
    [told] = stream.access
    assert told["role"] == "viewer" and told["view_url"] == httpx.URL(state["view_url"]).path
    assert "turned this edit link off" in told["message"]
    refused = await bob.client.post(f"{path}/ops", json={"ops": [MARKER]})
    assert refused.status_code == 403 and "turned this edit link off" in refused.json()["error"]["message"]
    assert (await bob.client.get(path)).status_code == 403
    page = await bob.client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 403 and "turned this edit link off" in page.text  # a page that says why
    assert (await owner.owner_state(map_id))["edit_url"] is None

    # A new edit link works; the old one stays off. A new view link: the old one is unknown.
    fresh = (await owner.client.post(f"/m/{map_id}/links", json={"edit": "new"})).json()["edit_url"]
    carol, carol_path = await editor_at(server, fresh)
    assert (await carol.client.post(f"{carol_path}/ops", json={"ops": [MARKER]})).status_code == 200
    assert (await bob.client.post(f"{path}/ops", json={"ops": [MARKER]})).status_code == 403
    old_view = httpx.URL(state["view_url"]).path
    watching = await open_stream(nursery, carol.client, f"{old_view}/events")
    await watching.wait_for(lambda events: bool(events))
    new_view = (await owner.client.post(f"/m/{map_id}/links", json={"view": "new"})).json()["view_url"]
    with trio.fail_after(5):
        await watching.ended.wait()
    assert watching.access[-1]["role"] == "none"
    assert (await carol.client.get(f"{old_view}/state")).status_code == 404
    assert (await carol.client.get(f"{httpx.URL(new_view).path}/state")).status_code == 200
    for client in (owner, bob, carol):
        await client.aclose()


async def test_every_page_sees_who_is_there_and_an_agent_is_listed_and_told(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    owner, map_id, state = await owner_with_map(server)
    mine = await open_stream(nursery, owner.client, f"/m/{map_id}/events")
    await mine.wait_for(lambda _: bool(mine.presence))
    [(me, role)] = mine.present()
    assert role == "owner" and me  # a friendly default name, until one is chosen

    bob, path = await editor_at(server, state["edit_url"], "Bob")
    bobs = await open_stream(nursery, bob.client, f"{path}/events")
    await bobs.wait_for(lambda _: ("Bob", "editor") in bobs.present() and (me, "owner") in bobs.present())
    await mine.wait_for(lambda _: ("Bob", "editor") in mine.present())

    notified = Notified()
    async with agent(server.url + "mcp", "claude-ai", message_handler=notified) as claude:
        await subscribe(claude, f"map://{map_id}")
        await wait_until(lambda: get_stream_open(server))
        await mine.wait_for(lambda _: ("claude-ai", "agent") in mine.present())
        summary = await call(claude, "read", map_id=map_id)
        assert {"Bob (editor)", f"{me} (owner)", "claude-ai (agent)"} <= set(summary["present"]), summary
        before = len(notified.uris)
        viewer = Browser(server.url)
        view_path = httpx.URL(state["view_url"]).path
        watching = await open_stream(nursery, viewer.client, f"{view_path}/events")
        await notified.wait_for(before + 1)  # someone came: the agent's map:// changed
        await mine.wait_for(lambda _: ("Viewer", "viewer") in mine.present())
        await viewer.aclose()  # the tab closes: gone from every page
        with trio.fail_after(5):
            await watching.ended.wait()
        await mine.wait_for(lambda _: ("Viewer", "viewer") not in mine.present())
    await mine.wait_for(lambda _: ("claude-ai", "agent") not in mine.present())
    assert all("key" not in m and "Bob" != m.get("key") for frame in mine.presence for m in frame["present"])
    for client in (owner, bob):
        await client.aclose()


async def test_presence_is_escaped_text_and_never_a_capability(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    owner, map_id, state = await owner_with_map(server)
    hostile = '<img src=x onerror="alert(1)">'
    bob, path = await editor_at(server, state["edit_url"], hostile)
    stream = await open_stream(nursery, bob.client, f"{path}/events")
    await stream.wait_for(lambda _: (hostile, "editor") in stream.present())
    edit_key = path.rsplit("/", 1)[1]
    view_key = httpx.URL(state["view_url"]).path.rsplit("/", 1)[1]
    text = repr(stream.presence)
    assert map_id not in text and edit_key not in text and view_key not in text
    page = (await bob.client.get(path)).text
    assert hostile not in page and "&lt;img src=x" in page  # the template escapes it
    for client in (owner, bob):
        await client.aclose()


async def test_where_people_point_reaches_the_others_and_bad_pointers_are_refused(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery)
    owner, map_id, state = await owner_with_map(server)
    bob, path = await editor_at(server, state["edit_url"], "Bob")
    mine = await open_stream(nursery, owner.client, f"/m/{map_id}/events")
    await mine.wait_for(lambda _: bool(mine.presence))
    bobs = await open_stream(nursery, bob.client, f"{path}/events")
    await mine.wait_for(lambda _: ("Bob", "editor") in mine.present())
    [bob_actor] = [m["actor"] for m in mine.presence[-1]["present"] if m["name"] == "Bob"]

    view = [[38.6, -9.3], [38.8, -9.0]]
    moved = await bob.client.post(f"{path}/pointer", json={"at": [38.71234567, -9.1], "view": view})
    assert moved.status_code == 200 and moved.json() == {"shown": True}
    await mine.wait_for(lambda _: any(p.get("p") for p in mine.pointers))
    told = next(p for p in mine.pointers if p.get("p"))
    assert told["p"] == [[bob_actor, 38.71235, -9.1]] and told["v"] == [[bob_actor, 38.6, -9.3, 38.8, -9.0]]

    for body, says in (
        ({"at": [91, 0]}, "at must be [lat, lon]"),
        ({"at": [1]}, "at must be"),
        ({"at": ["1", 2]}, "at must be"),
        ({"view": [[1, 2]]}, "view [[south, west], [north, east]]"),
        ({"where": [1, 2]}, "send {"),
        ([], "send {"),
    ):
        answer = await bob.client.post(f"{path}/pointer", json=body)
        assert answer.status_code == 400 and says in answer.json()["error"]["message"], (body, answer.text)
    view_key = httpx.URL(state["view_url"]).path.rsplit("/", 1)[1]
    assert (await bob.client.post(f"/v/{view_key}/pointer", json={"at": [1, 2]})).status_code in (404, 405)

    await bob.aclose()  # Bob's page closes: his pointer goes from the others' pages
    with trio.fail_after(5):
        await bobs.ended.wait()
    await mine.wait_for(lambda _: any(bob_actor in p.get("gone", ()) for p in mine.pointers))
    await owner.aclose()


async def test_each_person_has_their_own_write_budget(nursery: trio.Nursery) -> None:
    """Two people behind one address (one client): the one who writes too fast is refused, saying
    so, and the other goes on."""
    server = await start_server(nursery, rate_writes_person=0.01, burst_writes_person=3)
    owner, map_id, state = await owner_with_map(server)
    bob, path = await editor_at(server, state["edit_url"], "Bob")
    for i in range(3):
        step = {"op": "set_title", "title": f"t{i}"}
        assert (await bob.client.post(f"{path}/ops", json={"ops": [step]})).status_code == 200
    refused = await bob.client.post(f"{path}/ops", json={"ops": [MARKER]})
    assert refused.status_code == 429 and "too many changes from you" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) >= 1
    assert (await owner.ops(map_id, MARKER)).status_code == 200  # the owner's budget is their own
    assert (await bob.client.post(f"{path}/pointer", json={"at": [1, 2]})).status_code == 200  # not a write
    assert server.throttle.statistics().refused == {"writes_person": 1}
    for client in (owner, bob):
        await client.aclose()
