"""A person's maps over HTTP, with a real server and two browsers' cookie jars: ``/maps`` and
``/maps.json`` list what this browser owns and what it opened through an edit link (never
another browser's maps, never an editor's map by its id); the owner renames, copies and deletes,
anyone else gets the 404 an unknown map gets; a deleted map's links answer 410 with a page that
says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import trio
from support import Browser, start_server

from mapsrv.server import Server

MARKER = {"op": "add_feature", "type": "marker", "coords": [38.7, -9.1], "label": "Lisbon"}


async def listed(browser: Browser) -> list[dict[str, Any]]:
    response = await browser.client.get("/maps.json")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    return list(response.json()["maps"])


async def state(browser: Browser, map_id: str) -> dict[str, Any]:
    return dict((await browser.client.get(f"/m/{map_id}/state")).json())


async def serve(nursery: trio.Nursery, tmp_path: Path) -> Server:
    return await start_server(
        nursery, store=f"sqlite://{tmp_path}/maps.db", rate_writes_person=0, rate_writes=0
    )


async def test_a_browser_lists_its_own_and_opened_maps_only(nursery: trio.Nursery, tmp_path: Path) -> None:
    server = await serve(nursery, tmp_path)
    ana, bob = Browser(server.url), Browser(server.url)
    trip = await ana.new_map()
    await ana.ops(trip, MARKER, {"op": "set_title", "title": "<img src=x onerror=alert(1)>"})
    bobs = await bob.new_map()
    await bob.ops(bobs, MARKER)
    edit_url = (await state(bob, bobs))["edit_url"]
    assert (await ana.client.get(httpx.URL(edit_url).path)).status_code == 200  # Ana opens Bob's link

    mine = await listed(ana)
    by_role = {m["role"]: m for m in mine}
    assert set(by_role) == {"owner", "editor"}
    own = by_role["owner"]
    assert own["id"] == trip and own["url"] == f"/m/{trip}" and own["features"] == 1
    assert own["title"] == "<img src=x onerror=alert(1)>" and own["updated_by"]
    shared = by_role["editor"]
    assert "id" not in shared and bobs not in str(shared), "an editor's list never holds the map id"
    assert shared["url"] == httpx.URL(edit_url).path
    assert [m["role"] for m in await listed(bob)] == ["owner"], "Bob sees only his own map"

    page = await ana.client.get("/maps")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text and "<img src=x" not in page.text
    assert f"/m/{bobs}" not in page.text
    thumb = await ana.client.get(own["thumbnail"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
    again = await ana.client.get(own["thumbnail"], headers={"If-None-Match": thumb.headers["etag"]})
    assert again.status_code == 304, "an unchanged map's thumbnail is not drawn again"
    stranger = Browser(server.url)
    assert await listed(stranger) == []
    for browser in (ana, bob, stranger):
        await browser.aclose()


async def test_the_owner_renames_copies_and_deletes_and_nobody_else_can(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await serve(nursery, tmp_path)
    ana, bob = Browser(server.url), Browser(server.url)
    trip = await ana.new_map()
    await ana.ops(trip, MARKER, {"op": "add_layer", "id": "food", "name": "Food"})
    links = await state(ana, trip)

    for action, body in (("rename", {"title": "x"}), ("duplicate", {}), ("delete", {})):
        refused = await bob.client.post(f"/maps/{trip}/{action}", json=body)
        assert refused.status_code == 404, (action, refused.text)
    bad = await ana.client.post(f"/maps/{trip}/rename", json={"title": 5})
    assert bad.status_code == 400 and "title must be text" in bad.text
    renamed = await ana.client.post(f"/maps/{trip}/rename", json={"title": "  Porto   trip "})
    assert renamed.status_code == 200 and renamed.json()["title"] == "Porto trip"
    assert (await state(ana, trip))["title"] == "Porto trip"

    copied = await ana.client.post(f"/maps/{trip}/duplicate", json={})
    assert copied.status_code == 201
    copy = copied.json()
    copy_state = await state(ana, copy["id"])
    assert copy["id"] != trip and copy_state["title"] == "Porto trip (copy)"
    assert [f["label"] for f in copy_state["features"]] == ["Lisbon"]
    assert {layer["id"] for layer in copy_state["layers"]} == {"default", "food"}
    assert copy_state["view_url"] != links["view_url"] and copy_state["edit_url"] != links["edit_url"]
    assert len(copy_state["activity"]) == 1, "a copy has no history but its making"

    deleted = await ana.client.post(f"/maps/{trip}/delete", json={})
    assert deleted.status_code == 200
    assert [m["id"] for m in await listed(ana)] == [copy["id"]]
    for path in (f"/m/{trip}", httpx.URL(links["view_url"]).path, httpx.URL(links["edit_url"]).path):
        page = await bob.client.get(path, headers={"accept": "text/html"})
        assert page.status_code == 410 and "This map was deleted" in page.text, path
        for tail in ("/state", "/events", "/image.png"):
            data = await bob.client.get(path + tail)
            assert data.status_code == 410 and data.json()["error"]["code"] == "gone", path + tail
    for browser in (ana, bob):
        await browser.aclose()


async def test_a_new_edit_link_is_not_listed_for_who_had_the_old_one(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await serve(nursery, tmp_path)
    ana, bob = Browser(server.url), Browser(server.url)
    trip = await ana.new_map()
    old = httpx.URL((await state(ana, trip))["edit_url"]).path
    assert (await bob.client.get(old)).status_code == 200
    relinked = await ana.client.post(f"/m/{trip}/links", json={"edit": "new"})
    new = httpx.URL(relinked.json()["edit_url"]).path
    assert new != old and new not in str(await listed(bob)), "Bob was shut out: the list lets him back in"
    for browser in (ana, bob):
        await browser.aclose()
