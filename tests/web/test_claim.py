"""An agent-made map becomes a person's by a button, never by a GET: link previews, prefetchers
and a second look at the link claim nothing."""

from __future__ import annotations

import httpx
import trio
from mcp import Client
from support import Browser, open_stream, start_server

from mapsrv.server import Server


async def agent_map(server: Server) -> str:
    async with Client(server.url + "mcp") as agent:
        created = await agent.call_tool("create_map", {"title": "Trip <b>plan</b>"})
    return str(created.structured_content["map_id"])


async def test_a_get_claims_nothing_and_the_button_does(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    map_id = await agent_map(server)
    preview, person, other = Browser(server.url), Browser(server.url), Browser(server.url)
    for bot in (preview, person):  # a link preview first, then the person: both see the button
        page = await bot.client.get(f"/m/{map_id}", headers={"purpose": "prefetch"})
        assert page.status_code == 200
        assert f'action="/m/{map_id}/claim"' in page.text
        assert "Trip &lt;b&gt;plan&lt;/b&gt;" in page.text and "<b>" not in page.text
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["cache-control"] == "no-store"
    assert (await server.hub.get(map_id)).owner is None
    # Another site's page cannot press the button for the person.
    forged = await person.client.post(f"/m/{map_id}/claim", headers={"origin": "http://evil.example"})
    assert forged.status_code == 403
    assert (await server.hub.get(map_id)).owner is None
    opened = await person.client.post(f"/m/{map_id}/claim", headers={"origin": server.url.rstrip("/")})
    assert opened.status_code == 303 and opened.headers["location"] == f"/m/{map_id}"
    edit = await person.client.get(f"/m/{map_id}")
    assert edit.status_code == 200 and "data-events=" in edit.text
    stream = await open_stream(nursery, person.client, f"/m/{map_id}/events")
    assert stream.status == 200
    # Now it is the person's: everyone else gets "not found", button or not.
    for browser in (preview, other):
        assert (await browser.client.get(f"/m/{map_id}")).status_code == 404
        assert (await browser.client.post(f"/m/{map_id}/claim")).status_code == 404
    for browser in (preview, person, other):
        await browser.aclose()


async def test_templates_are_not_served_as_files(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        for path in ("/static/claim.html", "/static/./claim.html", "/static/index.html"):
            assert (await http.get(path)).status_code in (400, 404), path


async def test_a_second_browser_is_told_the_truth_and_what_to_ask_for(nursery: trio.Nursery) -> None:
    """An agent makes a map, a person's browser opens it (the button), and the link reaches a
    second browser: its page does not open there (the owner's only), and the page says so and
    what to ask for, not that the map no longer exists. A map that is gone gets the very same
    page (nothing tells a stranger whether a map exists); a view link works in any browser."""
    server = await start_server(nursery)
    map_id = await agent_map(server)
    person, second = Browser(server.url), Browser(server.url)
    html = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    opened = await person.client.post(f"/m/{map_id}/claim", headers={"origin": server.url.rstrip("/")})
    assert opened.status_code == 303 and (await person.client.get(f"/m/{map_id}")).status_code == 200
    page = await second.client.get(f"/m/{map_id}", headers=html)
    assert page.status_code == 404
    text = " ".join(page.text.split())
    assert (
        "This map does not open in this browser" in text and "no longer exists" not in text.split("Or it")[0]
    )
    assert "opens only in the browser that owns it" in text
    assert "ask them, or the assistant that made the map, for its edit link" in text and "view link" in text
    unknown = await second.client.get("/m/" + "B" * 22, headers=html)
    assert unknown.status_code == 404 and unknown.text == page.text
    view_key = (await server.hub.get(map_id)).view_key
    assert (await second.client.get(f"/v/{view_key}", headers=html)).status_code == 200
    for browser in (person, second):
        await browser.aclose()
