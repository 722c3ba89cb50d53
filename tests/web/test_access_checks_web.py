"""Every access check of the web side, each pinned by a caller it must refuse (issue 44's audit):
the owner's actions on a map (``/maps/<id>/...``, ``/m/<id>/...``) against another signed-in
person with their own sign-in cookie, an anonymous browser and another anonymous browser; the
links (an editor cannot manage them or reach the owner's page, a turned-off edit link no longer
writes, a view link never writes); a claim of a map someone owns; a cookie kept after signing
out; and the sign-in itself (an ID token for another client, another sign-in, another issuer, or
expired; a sign-in cookie too old). Each refusal is asserted with its status, and the map read
back to show that nothing changed. Real servers on port 0, httpx browsers, the SDK's client for
agents, the tests' real OpenID provider (behind ``support.issuer_proxy`` where it must lie)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import httpx2
import pytest
import trio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from support import Browser, start_server
from support.agents import call, failing
from support.issuer_proxy import open_proxied_provider
from support.openid import Provider, open_provider, sign_in
from support.processes import free_port

from mapsrv.server import Server

CLIENT_ID = "mapsrv-web"
CLIENT_SECRET = secrets.token_urlsafe(24)
LOGIN_COOKIE = "mapsrv_login"
MARKER = {"op": "add_feature", "type": "marker", "coords": [38.72, -9.14], "label": "Lisbon"}
LISBON = {"type": "marker", "at": [38.72, -9.14], "label": "Lisbon"}
RW = "maps:read maps:write"


async def signin_server(nursery: trio.Nursery, port: int) -> Server:
    return await start_server(
        nursery,
        oidc_issuer=f"http://127.0.0.1:{port}",
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        rate_writes=0,
        rate_writes_person=0,
    )


def web_client(server: Server) -> dict[str, Any]:
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [server.url + "auth/callback"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }


async def begin_sign_in(browser: Browser, login: str) -> str:
    """Through /login and the provider's form: the callback URL's query, not yet opened."""
    started = await browser.client.get("/login")
    assert started.status_code == 303, (started.status_code, started.text[:300])
    return urlsplit(await sign_in(started.headers["location"], login)).query


async def signed_in(server: Server, login: str, browser: Browser | None = None) -> Browser:
    browser = browser or Browser(server.url)
    finished = await browser.client.get(f"/auth/callback?{await begin_sign_in(browser, login)}")
    assert finished.status_code == 303, (finished.status_code, finished.text[:300])
    assert (await browser.client.get("/me")).json()["signed_in"] is True
    return browser


async def agent_draws_for(server: Server, provider: Provider, sub: str) -> str:
    token = provider.mint({"sub": sub, "scope": RW})
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=10)
    async with Client(streamable_http_client(server.url + "mcp", http_client=http)) as agent:
        return str((await call(agent, "draw", items=[LISBON], title=f"{sub}'s trip"))["map_id"])


async def snapshot(server: Server, map_id: str) -> tuple[int, str, int, str | None, str | None]:
    """What must not change: version, title, features, owner and edit link (a deleted map fails)."""
    entry = await server.hub.get(map_id)
    state = entry.state
    return state.version, state.title, len(state.features), entry.owner, entry.edit_key


async def listed(browser: Browser) -> list[str]:
    answer = await browser.client.get("/maps.json")
    assert answer.status_code == 200
    return [m.get("id") or m["url"] for m in answer.json()["maps"]]


async def owners_actions_refused(server: Server, browser: Browser, map_id: str) -> None:
    """Every action of the map's owner, tried by ``browser``: each the 404 of an unknown map."""
    origin = {"origin": server.url.rstrip("/")}
    attempts = {
        "delete": await browser.client.post(f"/maps/{map_id}/delete", headers=origin),
        "rename": await browser.client.post(
            f"/maps/{map_id}/rename", json={"title": "Taken"}, headers=origin
        ),
        "duplicate": await browser.client.post(f"/maps/{map_id}/duplicate", headers=origin),
        "state": await browser.client.get(f"/m/{map_id}/state"),
        "ops": await browser.ops(map_id, MARKER),
        "undo": await browser.client.post(f"/m/{map_id}/undo", headers=origin),
        "links": await browser.client.post(f"/m/{map_id}/links", json={"edit": "off"}, headers=origin),
        "claim": await browser.client.post(f"/m/{map_id}/claim", headers=origin),
    }
    for read in ("geojson", "export.gpx", "image.png?w=64&h=64", "places?q=Lisbon", "state?at=1"):
        attempts[read] = await browser.client.get(f"/m/{map_id}/{read}")
    async with browser.client.stream("GET", f"/m/{map_id}/events") as stream:  # the live stream
        attempts["events"] = stream
    for action, answer in attempts.items():
        assert answer.status_code == 404, (action, answer.status_code)
    assert map_id not in await listed(browser)


# --- the owner's actions ----------------------------------------------------------------------


async def test_another_signed_in_person_cannot_act_on_a_persons_map(nursery: trio.Nursery) -> None:
    port = free_port()
    server = await signin_server(nursery, port)
    async with open_provider(port, server.url + "mcp", clients=[web_client(server)]) as provider:
        ana = await signed_in(server, "ana")
        map_id = await ana.new_map()
        assert (await ana.ops(map_id, MARKER)).status_code == 200
        agents_map = await agent_draws_for(server, provider, "ana")  # hers at once
        ben = await signed_in(server, "ben")  # a real second person, with their own sign-in cookie
        anonymous = Browser(server.url)  # no cookie at all
        stranger = Browser(server.url)
        await stranger.new_map()  # a cookie of its own, and a map of its own
        maps_before = len(await server.hub.maps_of())
        for target in (map_id, agents_map):
            before = await snapshot(server, target)
            for intruder in (ben, anonymous, stranger):
                await owners_actions_refused(server, intruder, target)
            assert await snapshot(server, target) == before
        assert len(await server.hub.maps_of()) == maps_before, "no copy was made"

        # Ana, in another browser signed in as her, is the owner: she renames, copies, deletes
        again = await signed_in(server, "ana")
        origin = {"origin": server.url.rstrip("/")}
        assert sorted(await listed(again)) == sorted([map_id, agents_map])
        renamed = await again.client.post(f"/maps/{map_id}/rename", json={"title": "Ana's"}, headers=origin)
        assert renamed.status_code == 200, renamed.text
        assert (await again.client.post(f"/maps/{map_id}/duplicate", headers=origin)).status_code == 201
        assert (await again.client.post(f"/maps/{agents_map}/delete", headers=origin)).status_code == 200
        assert (await ana.client.get(f"/m/{agents_map}/state")).status_code in (404, 410)
        for browser in (ana, ben, anonymous, stranger, again):
            await browser.aclose()


async def test_a_cookie_kept_after_signing_out_is_nobody(nursery: trio.Nursery) -> None:
    port = free_port()
    server = await signin_server(nursery, port)
    async with open_provider(port, server.url + "mcp", clients=[web_client(server)]) as provider:
        ana = await signed_in(server, "ana")
        agents_map = await agent_draws_for(server, provider, "ana")
        assert (await ana.client.get(f"/m/{agents_map}/state")).status_code == 200
        kept = Browser(server.url, cookies=httpx.Cookies(ana.client.cookies))  # a copy of the cookie
        out = await ana.client.post("/logout", headers={"origin": server.url.rstrip("/")})
        assert out.status_code == 303
        before = await snapshot(server, agents_map)
        assert (await kept.client.get("/me")).json()["signed_in"] is False
        await owners_actions_refused(server, kept, agents_map)
        assert await snapshot(server, agents_map) == before
        again = await signed_in(server, "ana")  # her map is kept for her
        assert (await again.client.get(f"/m/{agents_map}/state")).status_code == 200
        for browser in (ana, kept, again):
            await browser.aclose()


async def test_an_agent_for_a_person_deletes_their_maps_and_not_anothers(nursery: trio.Nursery) -> None:
    port = free_port()
    server = await signin_server(nursery, port)
    async with open_provider(port, server.url + "mcp", clients=[web_client(server)]) as provider:
        ana = await signed_in(server, "ana")
        map_id = await ana.new_map()  # her browser's map: hers as a person
        assert (await ana.ops(map_id, MARKER)).status_code == 200
        before = await snapshot(server, map_id)
        token = provider.mint({"sub": "ben", "scope": RW})
        http = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=10)
        async with Client(streamable_http_client(server.url + "mcp", http_client=http)) as bens:
            text, _ = await failing(bens, "delete_map", map_id=map_id)
            assert text.startswith("forbidden:"), text
            assert [m["map_id"] for m in (await call(bens, "list_maps"))["maps"]] == []
        assert await snapshot(server, map_id) == before
        token = provider.mint({"sub": "ana", "scope": RW})
        http = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=10)
        async with Client(streamable_http_client(server.url + "mcp", http_client=http)) as anas:
            assert [m["map_id"] for m in (await call(anas, "list_maps"))["maps"]] == [map_id]
            assert (await call(anas, "delete_map", map_id=map_id))["deleted"] is True
        await ana.aclose()


# --- links and claims -------------------------------------------------------------------------


@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_edit_and_view_links_reach_only_what_they_give(
    nursery: trio.Nursery, tmp_path: Path, store: str
) -> None:
    url = f"sqlite://{tmp_path}/maps.db" if store == "sqlite" else "memory://"
    server = await start_server(nursery, rate_writes=0, rate_writes_person=0, store=url)
    origin = {"origin": server.url.rstrip("/")}
    owner = Browser(server.url)
    map_id = await owner.new_map()
    assert (await owner.ops(map_id, MARKER)).status_code == 200
    links = await owner.owner_state(map_id)
    edit_key = links["edit_url"].rsplit("/", 1)[1]
    view_key = links["view_url"].rsplit("/", 1)[1]
    editor, viewer = Browser(server.url), Browser(server.url)
    assert (await editor.client.get(f"/e/{edit_key}")).status_code == 200
    assert (await editor.client.post(f"/e/{edit_key}/ops", json={"ops": [MARKER]})).status_code == 200
    before = await snapshot(server, map_id)
    # the editor edits, but is not the owner: not their page, links, copies or deletion
    await owners_actions_refused(server, editor, map_id)
    assert map_id not in json.dumps((await editor.client.get(f"/e/{edit_key}/state")).json())
    # a view link only reads
    assert (await viewer.client.get(f"/v/{view_key}/state")).status_code == 200
    for path in ("ops", "undo", "links"):
        answer = await viewer.client.post(f"/v/{view_key}/{path}", json={"ops": [MARKER]}, headers=origin)
        assert answer.status_code in (404, 405), (path, answer.status_code)
    assert (await viewer.client.get(f"/e/{view_key}/state")).status_code == 404
    assert (await viewer.client.get(f"/m/{view_key}/state")).status_code == 404
    assert await snapshot(server, map_id) == before
    # new links: the old ones open nothing
    renewed = await owner.client.post(
        f"/m/{map_id}/links", json={"edit": "new", "view": "new"}, headers=origin
    )
    assert renewed.status_code == 200
    for old_link in (f"/v/{view_key}/state", f"/v/{view_key}/image.png?w=64&h=64"):
        assert (await viewer.client.get(old_link)).status_code == 404, old_link
    assert (await editor.client.get(f"/e/{edit_key}/state")).status_code == 403  # "turned off"
    stale = await editor.client.post(f"/e/{edit_key}/ops", json={"ops": [MARKER]})
    assert stale.status_code == 403, stale.text
    assert (await snapshot(server, map_id))[:4] == before[:4], "a stale link wrote nothing"
    edit_key = renewed.json()["edit_url"].rsplit("/", 1)[1]
    assert (await editor.client.get(f"/e/{edit_key}/state")).status_code == 200
    # the owner turns the edit link off: it no longer writes, nor reads
    off = await owner.client.post(f"/m/{map_id}/links", json={"edit": "off"}, headers=origin)
    assert off.status_code == 200 and off.json()["edit_url"] is None
    after_off = await snapshot(server, map_id)
    refused = await editor.client.post(f"/e/{edit_key}/ops", json={"ops": [MARKER]})
    assert refused.status_code == 403, refused.text
    assert (await editor.client.get(f"/e/{edit_key}/state")).status_code == 403
    assert await snapshot(server, map_id) == after_off
    assert (await owner.ops(map_id, MARKER)).status_code == 200, "the owner still writes"
    for browser in (owner, editor, viewer):
        await browser.aclose()


async def test_a_map_someone_owns_is_claimed_by_nobody_else(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    origin = {"origin": server.url.rstrip("/")}
    first, second = Browser(server.url), Browser(server.url)
    async with Client(server.url + "mcp") as agent:
        made = await call(agent, "draw", items=[LISBON], title="Agent's")
    map_id = made["map_id"]
    assert (await first.client.post(f"/m/{map_id}/claim", headers=origin)).status_code == 303
    owner = (await server.hub.get(map_id)).owner
    before = await snapshot(server, map_id)
    taken = await second.client.post(f"/m/{map_id}/claim", headers=origin)
    assert taken.status_code == 404
    assert (await second.client.get(f"/m/{map_id}")).status_code == 404, "no claim button either"
    assert (await server.hub.get(map_id)).owner == owner and await snapshot(server, map_id) == before
    own = await first.new_map()  # a browser's own map is nobody else's to claim
    assert (await second.client.post(f"/m/{own}/claim", headers=origin)).status_code == 404
    assert (await first.client.get(f"/m/{own}/state")).status_code == 200
    for browser in (first, second):
        await browser.aclose()


# --- signing in -------------------------------------------------------------------------------


async def test_an_id_token_not_made_for_this_sign_in_signs_nobody_in(nursery: trio.Nursery) -> None:
    port = free_port()
    server = await signin_server(nursery, port)
    async with open_proxied_provider(port, server.url + "mcp", clients=[web_client(server)]) as (
        provider,
        proxy,
    ):
        anas = await agent_draws_for(server, provider, "ana")
        now = int(time.time())
        cases = {
            "for another client (aud)": lambda c: {**c, "aud": "another-client"},
            "for another sign-in (nonce)": lambda c: {**c, "nonce": "not-this-sign-in"},
            "without a nonce": lambda c: {k: v for k, v in c.items() if k != "nonce"},
            "from another issuer": lambda c: {**c, "iss": "http://127.0.0.1:1"},
            "expired an hour ago": lambda c: {**c, "exp": now - 3600, "iat": now - 7200},
        }
        for what, change in cases.items():
            proxy.id_token = change
            browser = Browser(server.url)
            own = await browser.new_map()
            answer = await browser.client.get(f"/auth/callback?{await begin_sign_in(browser, 'ana')}")
            assert answer.status_code == 400, (what, answer.status_code, answer.text[:300])
            assert (await browser.client.get("/me")).json()["signed_in"] is False, what
            assert await listed(browser) == [own], what
            assert (await browser.client.get(f"/m/{anas}/state")).status_code == 404, what
            await browser.aclose()
        proxy.id_token = None  # the provider's own ID token: Ana is signed in and finds her map
        browser = await signed_in(server, "ana")
        assert anas in await listed(browser)
        await browser.aclose()


async def test_a_sign_in_cookie_past_its_time_is_refused(nursery: trio.Nursery) -> None:
    port = free_port()
    server = await signin_server(nursery, port)
    async with open_provider(port, server.url + "mcp", clients=[web_client(server)]):
        for age, status in ((3600, 400), (0, 303)):
            browser = Browser(server.url)
            query = await begin_sign_in(browser, "ana")
            packed = browser.client.cookies[LOGIN_COOKIE]
            pending = json.loads(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)))
            pending["at"] = float(pending["at"]) - age
            aged = base64.urlsafe_b64encode(json.dumps(pending).encode()).decode().rstrip("=")
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                answer = await http.get(
                    f"/auth/callback?{query}", headers={"cookie": f"{LOGIN_COOKIE}={aged}"}
                )
                assert answer.status_code == status, (age, answer.status_code, answer.text[:300])
                assert (await http.get("/me")).json()["signed_in"] is (status == 303)
            await browser.aclose()
