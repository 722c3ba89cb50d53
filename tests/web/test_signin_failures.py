"""Every way a sign-in can fail in the browser is a page in mapsrv's style, in real Chromium: a
sign-in cancelled at the provider (its hostile ``error_description`` shown as text), a callback
that does not match the sign-in this browser began, one that is stale or another browser's, an
answer from the issuer that fails the checks (the provider refuses the client's secret), and an
issuer that is down. Each says what happened and what to do, with a "Try again" link to /login
and one back to the map or /maps that work; a program still gets JSON. Screenshots:
signin-cancelled.png, signin-stale.png, signin-token.png, signin-down.png."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import trio
from support.chromium import Chromium, Tab, artifact, in_chromium, new_context
from support.openid import open_provider
from test_signin_people import PEOPLE, log_in, people_server, web_client

pytestmark = pytest.mark.browser

HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">End-User aborted'
PAGE = """() => ({
  kind: document.querySelector('main').dataset.kind,
  title: document.getElementById('signin-title').textContent,
  what: document.getElementById('signin-what').textContent,
  said: document.getElementById('signin-said')?.textContent ?? null,
  todo: document.getElementById('signin-todo').textContent,
  try_again: document.getElementById('try-again')?.getAttribute('href') ?? null,
  back: ((a) => [a.getAttribute('href'), a.textContent])(document.getElementById('go-back')),
  pwned: window.__pwned ?? null,
  scripts: document.scripts.length,
})"""


def failure(page: Any, url: str, shot: str, tmp_path: Path) -> dict[str, Any]:
    response = page.goto(url)
    seen: dict[str, Any] = page.evaluate(PAGE)
    seen["status"] = response.status if response else 0
    seen["type"] = response.headers.get("content-type", "") if response else ""
    page.screenshot(path=str(artifact(shot, tmp_path)))
    return seen


async def test_each_failed_sign_in_is_a_page_with_a_way_on(nursery: trio.Nursery, tmp_path: Path) -> None:
    server, port = await people_server(nursery, tmp_path)
    # the provider knows the client by another secret: its token endpoint refuses the exchange
    client = web_client(server, secret=secrets.token_urlsafe(24))
    async with open_provider(port, server.url + "mcp", clients=[client], users=PEOPLE):

        def body(chromium: Chromium) -> dict[str, Any]:
            seen: dict[str, Any] = {}
            context = new_context(chromium, server, viewport={"width": 1000, "height": 700})
            tab = Tab.open(context)
            map_id, page = tab.map_id, tab.page
            seen["map_id"] = map_id
            # begun from the map, cancelled at the provider: back to the map, or try again
            assert context.request.get(f"/login?next=/m/{map_id}", max_redirects=0).status == 303
            cancelled = f"/auth/callback?error=access_denied&error_description={quote(HOSTILE)}"
            seen["cancelled"] = failure(page, cancelled, "signin-cancelled.png", tmp_path)
            page.locator("#go-back").click()
            page.wait_for_url(f"**/m/{map_id}")
            seen["back_role"] = page.locator("body").get_attribute("data-role")
            page.goto(cancelled)
            page.locator("#try-again").click()
            page.locator("#login").wait_for()  # the provider's form: a new sign-in began
            seen["try_again_at"] = page.url.split("?")[0]
            # a callback this browser did not begin (state mismatch), and one with no sign-in at all
            seen["mismatch"] = failure(
                page, "/auth/callback?code=x&state=forged", "signin-stale.png", tmp_path
            )
            stranger = new_context(chromium, server).new_page()
            seen["stale"] = failure(stranger, "/auth/callback?code=x&state=y", "signin-stale-2.png", tmp_path)
            stranger.locator("#go-back").click()
            stranger.wait_for_url("**/maps")
            # the issuer will not exchange the code for this client: the checks fail
            page.goto(f"/login?next=/m/{map_id}")
            log_in(page, "maria")
            page.locator("#signin-title").wait_for()
            seen["token"] = page.evaluate(PAGE)
            page.screenshot(path=str(artifact("signin-token.png", tmp_path)))
            seen["me"] = context.request.get("/me").json()["signed_in"]
            seen["errors"] = tab.errors
            return seen

        seen = await in_chromium(body)
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as program:
            as_json = await program.get("/auth/callback?error=access_denied&error_description=x")
    map_id = seen["map_id"]
    cancelled = seen["cancelled"]
    assert (cancelled["status"], cancelled["kind"], cancelled["title"]) == (
        400,
        "cancelled",
        "Sign-in cancelled",
    )
    assert cancelled["type"].startswith("text/html")
    assert cancelled["said"] == HOSTILE, "the provider's text is shown as text"
    assert cancelled["what"] == "The sign-in was stopped at the sign-in provider before it finished."
    assert cancelled["pwned"] is None and cancelled["scripts"] == 0, "and never runs"
    assert cancelled["try_again"] == f"/login?next=/m/{map_id}"
    assert cancelled["back"] == [f"/m/{map_id}", "Back to the map"]
    assert seen["back_role"] == "owner" and "/interaction/" in seen["try_again_at"]
    for name in ("mismatch", "stale"):
        assert (seen[name]["status"], seen[name]["kind"]) == (400, "stale"), seen[name]
        assert seen[name]["title"] == "This sign-in is out of date"
    assert "does not match" in seen["mismatch"]["what"] and seen["mismatch"]["back"][0] == f"/m/{map_id}"
    assert (
        seen["stale"]["back"] == ["/maps", "Your maps"] and seen["stale"]["try_again"] == "/login?next=/maps"
    )
    assert seen["token"]["kind"] == "token" and "did not exchange" in seen["token"]["what"]
    assert seen["token"]["try_again"] == f"/login?next=/m/{map_id}"
    assert seen["me"] is False, "a sign-in that failed its checks signs nobody in"
    assert seen["errors"] == []
    assert as_json.status_code == 400 and as_json.json()["error"]["code"] == "sign_in_failed"


async def test_an_issuer_that_is_down_is_a_page_then_json_for_programs(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server, _ = await people_server(nursery, tmp_path)  # nothing ever answers at the issuer's port

    def body(chromium: Chromium) -> dict[str, Any]:
        page = new_context(chromium, server, viewport={"width": 1000, "height": 700}).new_page()
        seen = failure(page, "/login?next=/maps", "signin-down.png", tmp_path)
        page.locator("#try-again").click()
        page.locator("#signin-title").wait_for()
        seen["again"] = page.url
        return seen

    seen = await in_chromium(body)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as program:
        as_json = await program.get("/login")
    assert (seen["status"], seen["kind"]) == (503, "down"), seen
    assert seen["title"] == "The sign-in provider cannot be reached"
    assert seen["try_again"] == "/login?next=/maps" and seen["back"] == ["/maps", "Your maps"]
    assert seen["again"].endswith("/login?next=/maps")
    assert as_json.status_code == 503 and as_json.headers["retry-after"] == "5"
    assert as_json.json()["error"]["code"] == "unavailable"
