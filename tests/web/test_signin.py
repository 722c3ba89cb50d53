"""People sign in with a real OpenID provider (oidc-provider, tests/support/openid.py) in real
Chromium: through its login form, back to their maps. The map a person drew before signing in
becomes theirs; a map an agent made for them with an access token is theirs at once (no claim
page); a second browser signed in as the same person sees the same maps and opens them as their
owner; another person sees none of them; signing out leaves the browser anonymous. Bad sign-in
returns (a wrong state, an error from the provider, a stale cookie) get a clear 400. Screenshots:
signin-maps.png, signin-second-browser.png."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import trio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context
from support.openid import USERS, open_provider
from support.processes import free_port

from mapsrv.server import Server

pytestmark = pytest.mark.browser

CLIENT_ID = "mapsrv-web"
CLIENT_SECRET = secrets.token_urlsafe(24)
CARDS = "() => Array.from(document.querySelectorAll('.map-card'), (c) => c.dataset.id)"


async def signin_server(nursery: trio.Nursery, tmp_path: Path) -> tuple[Server, int]:
    port = free_port()
    server = await start_server(
        nursery,
        tile_url=TILES,
        store=f"sqlite://{tmp_path}/maps.db",
        oidc_issuer=f"http://127.0.0.1:{port}",
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        rate_writes=0,
        rate_writes_person=0,
    )
    return server, port


def web_client(server: Server) -> dict[str, Any]:
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [server.url + "auth/callback"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }


def sign_in(page: Any, login: str) -> None:
    """From /maps, through the provider's login form, and back."""
    page.goto("/maps")
    page.locator("#sign-in").click()
    page.locator("#login").fill(login)
    page.locator("#password").fill(USERS[login]["password"])
    page.locator("#submit").click()
    page.wait_for_url("**/maps")
    page.locator("#account[data-signed-in='true']").wait_for()


async def test_people_sign_in_and_find_their_maps_in_every_browser(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server, port = await signin_server(nursery, tmp_path)
    async with open_provider(port, server.url + "mcp", clients=[web_client(server)]) as provider:

        async def agent_draws_for_ana() -> str:
            token = provider.mint({"sub": "ana", "scope": "maps:read maps:write", "name": "Ana Lima"})
            http = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=10)
            async with Client(streamable_http_client(server.url + "mcp", http_client=http)) as agent:
                drawn = await agent.call_tool(
                    "draw", {"items": [{"at": [41.15, -8.61], "label": "Porto"}], "title": "Porto"}
                )
                assert not drawn.is_error, drawn.content
                return str(drawn.structured_content["map_id"])

        def body(chromium: Chromium) -> dict[str, Any]:
            seen: dict[str, Any] = {}
            first = new_context(chromium, server, viewport={"width": 1100, "height": 800})
            tab = Tab.open(first)  # an anonymous map, drawn before signing in
            tab.ops({"op": "add_feature", "type": "marker", "coords": [38.72, -9.14], "label": "Lisbon"})
            tab.ops({"op": "set_title", "title": "Lisbon"})
            before = tab.map_id
            page = first.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"/m/{before}")  # the map's own page offers to sign in, and comes back
            seen["page_sign_in"] = page.locator("#sign-in").get_attribute("href")
            page.goto("/maps")
            seen["anonymous_account"] = page.locator("#account").get_attribute("data-signed-in")
            sign_in(page, "ana")
            seen["name"] = page.locator("#account-name").inner_text()
            seen["first_cards"] = page.evaluate(CARDS)
            agent_map = trio.from_thread.run(agent_draws_for_ana)
            page.reload()
            seen["after_agent"] = page.evaluate(CARDS)
            seen["agent_map"], seen["before"] = agent_map, before
            page.screenshot(path=str(artifact("signin-maps.png", tmp_path)))
            # the agent's map opens as the owner's page, not a claim page
            owner_page = first.new_page()
            owner_page.goto(f"/m/{agent_map}")
            seen["agent_map_page"] = owner_page.locator("body").get_attribute("data-role")
            seen["page_account"] = (
                owner_page.locator("#account").inner_text(),
                owner_page.locator("#sign-out").count(),
                owner_page.locator("#sign-in").count(),
            )
            owner_page.screenshot(path=str(artifact("signin-map-page.png", tmp_path)))
            seen["me"] = first.request.get("/me").json()

            second = new_context(chromium, server, viewport={"width": 1100, "height": 800})
            other = second.new_page()
            sign_in(other, "ana")
            seen["second_cards"] = other.evaluate(CARDS)
            other.screenshot(path=str(artifact("signin-second-browser.png", tmp_path)))
            opened = second.new_page()
            response = opened.goto(f"/m/{before}")
            seen["second_opens"] = (
                response.status if response else 0,
                opened.locator("body").get_attribute("data-role"),
            )
            # signing out: anonymous again, no maps, and the map's owner page is out of reach
            other.locator("#sign-out").click()
            other.wait_for_url("**/signed-out?*")
            other.goto("/maps")
            seen["signed_out"] = (
                other.locator("#account").get_attribute("data-signed-in"),
                other.evaluate(CARDS),
            )
            seen["after_sign_out"] = second.request.get(f"/m/{before}/state").status

            third = new_context(chromium, server)
            ben = third.new_page()
            sign_in(ben, "ben")
            seen["ben_cards"] = ben.evaluate(CARDS)
            seen["ben_opens"] = third.request.get(f"/m/{before}/state").status
            seen["errors"] = errors + tab.errors
            return seen

        seen = await in_chromium(body)
    assert seen["anonymous_account"] == "false"
    assert seen["page_sign_in"] == f"/login?next=/m/{seen['before']}"
    assert seen["page_account"] == ("Ana Lima", 1, 0), "the map page shows who you are and signs you out"
    assert seen["name"] == "Ana Lima", "the name comes from the ID token"
    assert seen["first_cards"] == [seen["before"]], "the map drawn before signing in is the person's"
    assert seen["after_agent"] == [seen["agent_map"], seen["before"]], (
        "an agent's map for her is hers at once"
    )
    assert seen["agent_map_page"] == "owner"
    assert seen["me"] == {"signed_in": True, "name": "Ana Lima", "email": "ana@example.org", "sign_in": True}
    assert sorted(seen["second_cards"]) == sorted([seen["agent_map"], seen["before"]])
    assert seen["second_opens"] == (200, "owner")
    assert seen["signed_out"] == ("false", [])
    assert seen["after_sign_out"] == 404
    assert seen["ben_cards"] == [] and seen["ben_opens"] == 404
    assert seen["errors"] == []


async def test_a_sign_in_that_does_not_match_is_refused_clearly(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server, port = await signin_server(nursery, tmp_path)
    async with (
        open_provider(port, server.url + "mcp", clients=[web_client(server)]),
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
    ):
        started = await http.get("/login?next=//evil.example/")
        assert started.status_code == 303 and started.headers["location"].startswith(
            f"http://127.0.0.1:{port}/auth?"
        )
        assert "code_challenge_method=S256" in started.headers["location"]
        forged = await http.get("/auth/callback?code=x&state=not-the-one")
        assert forged.status_code == 400 and "does not match" in forged.json()["error"]["message"]
        denied = await http.get("/auth/callback?error=access_denied&error_description=End-User+aborted")
        assert denied.status_code == 400 and "End-User aborted" in denied.json()["error"]["message"]
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as stranger:
            stale = await stranger.get("/auth/callback?code=x&state=y")
            assert stale.status_code == 400 and "start again" in stale.json()["error"]["message"]
        assert (await http.get("/me")).json()["signed_in"] is False


async def test_without_an_issuer_sign_in_is_not_offered(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert (await http.get("/login")).status_code == 404
        assert (await http.get("/me")).json() == {
            "signed_in": False,
            "name": None,
            "email": None,
            "sign_in": False,
        }
        assert 'id="sign-in"' not in (await http.get("/maps")).text
