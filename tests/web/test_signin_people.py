"""Sign-in and sign-out as a person meets them, in real Chromium against a real OpenID provider
(oidc-provider, tests/support/openid.py) that gives the person's name and email at userinfo only
and has an ``end_session_endpoint``: the map page's header shows the whole long name beside the
title and "Sign out" (nothing cut, nothing wrapped mid-word, a tooltip with the email); /maps and
the attribution of their edits name them; sign-out goes through the issuer's sign-out, clears
every cookie that names them and says what happened, so that the next edit in that browser names
nobody and "Sign in" asks for the password again. Screenshots: signin-header.png,
signin-maps-long-name.png, signed-out.png."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import trio
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context
from support.openid import open_provider
from support.processes import free_port

from mapsrv.server import Server

pytestmark = pytest.mark.browser

CLIENT_ID = "mapsrv-web"
CLIENT_SECRET = secrets.token_urlsafe(24)
LONG_NAME = "Maria da Conceição Vasconcelos Ferreira"  # 39 characters: every one must show
PEOPLE = {
    "maria": {"password": "maria-" + secrets.token_hex(8), "name": LONG_NAME, "email": "maria@example.org"},
}
TITLE = "Walking tour of the old town, the river and the hills"
PERSON_COOKIES = {"mapsrv_name", "mapsrv_email", "mapsrv_id_token"}
HEADER = """() => {
  const box = (id) => document.getElementById(id).getBoundingClientRect();
  const who = document.getElementById('account');
  const out = document.getElementById('sign-out');
  const title = document.getElementById('map-title');
  const panel = box('panel');
  const inside = (r) => r.left >= panel.left - 0.5 && r.right <= panel.right + 0.5;
  const apart = (a, b) => a.bottom <= b.top + 0.5 || b.bottom <= a.top + 0.5
    || a.right <= b.left + 0.5 || b.right <= a.left + 0.5;
  return {
    name: who.textContent, tooltip: who.title,
    name_fits: who.scrollWidth <= who.clientWidth && who.scrollHeight <= who.clientHeight,
    name_inside: inside(box('account')),
    name_lines: Math.round(box('account').height / parseFloat(getComputedStyle(who).lineHeight || 16)),
    sign_out_one_line: out.getClientRects().length === 1 && box('sign-out').height < 24,
    sign_out_inside: inside(box('sign-out')),
    title: title.textContent,
    title_shown: box('map-title').width > 100 && title.scrollWidth <= title.clientWidth
      && getComputedStyle(title).visibility === 'visible',
    apart: apart(box('map-title'), box('account')) && apart(box('account'), box('sign-out'))
      && apart(box('map-title'), box('sign-out')),
  };
}"""


async def people_server(nursery: trio.Nursery, tmp_path: Path, port: int | None = None) -> tuple[Server, int]:
    port = port or free_port()
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


def web_client(server: Server, secret: str = CLIENT_SECRET) -> dict[str, Any]:
    return {
        "client_id": CLIENT_ID,
        "client_secret": secret,
        "redirect_uris": [server.url + "auth/callback"],
        "post_logout_redirect_uris": [server.url + "signed-out"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }


def log_in(page: Any, login: str) -> None:
    """On the provider's login form."""
    page.locator("#login").fill(login)
    page.locator("#password").fill(PEOPLE[login]["password"])
    page.locator("#submit").click()


def updated_by(context: Any, map_id: str) -> str:
    listed = context.request.get("/maps.json").json()["maps"]
    return str(next(m for m in listed if m.get("id") == map_id)["updated_by"])


async def test_a_person_named_at_userinfo_only_is_shown_whole_and_signs_out_everywhere(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server, port = await people_server(nursery, tmp_path)
    async with open_provider(
        port,
        server.url + "mcp",
        clients=[web_client(server)],
        name_at="userinfo",
        end_session=True,
        users=PEOPLE,
    ):

        def body(chromium: Chromium) -> dict[str, Any]:
            seen: dict[str, Any] = {}
            context = new_context(chromium, server, viewport={"width": 1280, "height": 800})
            tab = Tab.open(context)
            tab.ops({"op": "add_feature", "type": "marker", "coords": [38.71, -9.13], "label": "Alfama"})
            tab.ops({"op": "set_title", "title": TITLE})
            map_id, page = tab.map_id, tab.page
            seen["map_id"] = map_id
            page.locator("#sign-in").click()  # from the map's own page, and back to it
            log_in(page, "maria")
            page.wait_for_url(f"**/m/{map_id}")
            tab.wait_badge("live")
            page.wait_for_function("(t) => document.getElementById('map-title').textContent === t", arg=TITLE)
            seen["header"] = page.evaluate(HEADER)
            page.screenshot(path=str(artifact("signin-header.png", tmp_path)))
            tab.ops({"op": "add_feature", "type": "marker", "coords": [38.72, -9.14], "label": "Graça"})
            seen["attributed"] = updated_by(context, map_id)
            seen["me"] = context.request.get("/me").json()
            seen["id_token_cookie"] = [
                (c["path"], c["httpOnly"]) for c in context.cookies() if c["name"] == "mapsrv_id_token"
            ]
            user_before = {c["name"]: c["value"] for c in context.cookies()}["mapsrv_user"]
            maps = context.new_page()
            maps.goto("/maps")
            seen["maps_name"] = maps.locator("#account-name").inner_text()
            seen["maps_tooltip"] = maps.locator(".maps-who").get_attribute("title")
            maps.screenshot(path=str(artifact("signin-maps-long-name.png", tmp_path)))
            maps.close()

            ends: list[str] = []
            page.on("request", lambda r: ends.append(r.url) if "/session/end?" in r.url else None)
            page.locator("#sign-out").click()
            page.locator("#logout-yes").click()  # the provider's own "sign out of the provider?"
            page.wait_for_url("**/signed-out?*")
            seen["ends"] = ends
            seen["signed_out_text"] = page.locator("#signed-out-text").inner_text()
            seen["sign_in_again"] = page.locator("#sign-in").get_attribute("href")
            page.screenshot(path=str(artifact("signed-out.png", tmp_path)))
            cookies = {c["name"]: c["value"] for c in context.cookies()}
            seen["cookies_left"] = sorted(PERSON_COOKIES & set(cookies))
            seen["new_user"] = cookies.get("mapsrv_user") not in (None, user_before)
            seen["me_after"] = context.request.get("/me").json()
            anonymous = Tab.open(context)  # the next person at this browser draws
            anonymous.ops({"op": "add_feature", "type": "marker", "coords": [41.1, -8.6], "label": "Porto"})
            seen["anonymous_attributed"] = updated_by(context, anonymous.map_id)
            seen["anonymous_page_name"] = anonymous.page.locator("body").get_attribute("data-name")

            page.locator("#sign-in").click()  # the issuer's session is over: it asks again
            page.locator("#login").wait_for()
            log_in(page, "maria")
            page.wait_for_url(f"**/m/{map_id}")
            seen["back_as_owner"] = page.locator("body").get_attribute("data-role")
            seen["errors"] = tab.errors + anonymous.errors
            return seen

        seen = await in_chromium(body)
    header = seen["header"]
    assert header["name"] == LONG_NAME, "the name comes from userinfo, whole"
    assert header["name_fits"] and header["name_inside"], f"the name is cut: {header}"
    assert header["sign_out_one_line"] and header["sign_out_inside"], f"'Sign out' wraps: {header}"
    assert header["title"] == TITLE and header["title_shown"], f"the title is hidden: {header}"
    assert header["apart"], f"the title, name and 'Sign out' overlap: {header}"
    assert header["tooltip"].startswith(f"Signed in as {LONG_NAME} (maria@example.org)")
    assert seen["attributed"] == LONG_NAME, "their edit names them, not their browser"
    assert seen["me"] == {"signed_in": True, "name": LONG_NAME, "email": "maria@example.org", "sign_in": True}
    assert seen["id_token_cookie"] == [("/logout", True)], "the ID token goes nowhere but /logout"
    assert seen["maps_name"] == LONG_NAME and "maria@example.org" in seen["maps_tooltip"]

    assert len(seen["ends"]) == 1, "sign-out went through the issuer's end_session_endpoint"
    query = parse_qs(urlsplit(seen["ends"][0]).query)
    assert query["post_logout_redirect_uri"] == [server.url + "signed-out"]
    assert query["client_id"] == [CLIENT_ID] and query["id_token_hint"][0].count(".") == 2
    assert (
        seen["signed_out_text"] == "Signed out. Your maps are kept under your account; sign in to see them."
    )
    assert seen["sign_in_again"] == f"/login?next=/m/{seen['map_id']}", "back to the map she was on"
    assert seen["cookies_left"] == [] and seen["new_user"], "every cookie that named her is gone"
    assert seen["me_after"] == {"signed_in": False, "name": None, "email": None, "sign_in": True}
    assert "Maria" not in seen["anonymous_attributed"], seen["anonymous_attributed"]
    assert seen["anonymous_page_name"] == ""
    assert seen["back_as_owner"] == "owner", "signing in again opens the map she was on"
    assert seen["errors"] == []
