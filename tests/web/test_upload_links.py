"""Upload links (issue 73, item 3): an agent asks ``import`` for a link with ``upload: true``, a
person opens it in a real Chromium and drops the file (or a client PUTs it), and ``import`` with the
handle answers what was added. A second use, an expired link, another caller's handle and a file
over the limit are each refused with a clear message, and leave the map as it was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import trio
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitCompleteNotification, ElicitRequestParams, ElicitRequestURLParams, ElicitResult
from support import Browser, start_server, wait_until
from support.agents import call, failing
from support.chromium import TILES, Chromium, in_chromium, new_context

from mapsrv.hub.upload_slots import upload_slots
from mapsrv.server import Server

KEYS = ("alice:alice-secret-1", "bob:bob-secret-2")
GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <wpt lat="46.5197" lon="6.6323"><name>Lausanne &lt;gare&gt;</name></wpt>
  <wpt lat="46.2044" lon="6.1432"><name>Genève</name></wpt>
  <trk><name>Lakeside</name><trkseg>
    <trkpt lat="46.5197" lon="6.6323"></trkpt>
    <trkpt lat="46.3800" lon="6.2400"></trkpt>
    <trkpt lat="46.2044" lon="6.1432"></trkpt>
  </trkseg></trk>
</gpx>
"""
UNKNOWN = "upload link not found: it was used, it expired, or it never existed"


def keyed(server: Server, key: str) -> Client:
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {key}"}, timeout=70)
    return Client(streamable_http_client(server.url + "mcp", http_client=http))


def plain(server: Server) -> httpx.AsyncClient:
    """A client with no cookie and no key: whoever holds the link."""
    return httpx.AsyncClient(base_url=server.url.rstrip("/"), timeout=10)


async def snapshot(server: Server, map_id: str) -> tuple[int, int]:
    state = (await server.hub.get(map_id)).state
    return state.version, len(state.features)


def path_of(url: str) -> str:
    return httpx.URL(url).raw_path.decode()


@pytest.mark.browser
async def test_a_person_drops_the_file_the_agent_asked_for(nursery: trio.Nursery, tmp_path: Path) -> None:
    server = await start_server(nursery, tile_url=TILES)
    ride = tmp_path / "lakeside ride.gpx"
    ride.write_text(GPX)
    async with Client(server.url + "mcp") as agent:
        link = await call(agent, "import", upload=True)
        assert set(link) >= {"map_id", "upload_url", "handle", "expires_in", "view_url", "url"}
        assert link["expires_in"] == 600 and len(json.dumps({"upload": link["handle"]})) < 40
        token = link["upload_url"].rsplit("/u/", 1)[1]
        assert len(token) >= 32, "at least 128 bits, base64"
        map_id = link["map_id"]
        heard: list[dict[str, Any]] = []
        answered = trio.Event()
        previewed: list[bool] = []

        async def redeem() -> None:  # asked before the file comes: the call waits for it
            heard.append(await call(agent, "import", upload=link["handle"]))
            answered.set()

        nursery.start_soon(redeem)

        def body(chromium: Chromium) -> dict[str, Any]:
            context = new_context(chromium, server, viewport={"width": 900, "height": 700})
            page = context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(path_of(link["upload_url"]))
            page.get_by_role("heading", name="Send a file to “Untitled map”").wait_for()
            page.locator("#upload-file").set_input_files(str(ride))
            # what it holds, before it is added: the counts and the shapes sketched
            page.get_by_text("It holds 2 markers, 1 line").wait_for()
            sketch = page.locator("#upload-sketch")
            assert sketch.locator("circle").count() == 2 and sketch.locator("polyline").count() == 1
            page.screenshot(path=str(tmp_path / "upload-preview.png"))
            previewed.append(True)
            page.locator("#upload-layer").fill("rides")
            page.get_by_role("button", name="Add to map").click()
            result = page.locator("#upload-result")
            result.get_by_text("Added 2 markers, 1 line from lakeside ride.gpx.").wait_for()
            view = page.locator("#upload-view").get_attribute("href")
            assert problems == [] and page.evaluate("window.__csp") == [], (problems, "CSP")
            again = context.new_page()
            gone = again.goto(path_of(link["upload_url"]))
            assert gone is not None and gone.status == 404
            again.get_by_role("heading", name="This upload link does not take a file").wait_for()
            return {"view": view, "version": page.evaluate("document.body.dataset.uploaded")}

        seen = await in_chromium(body)
        with trio.fail_after(10):
            await answered.wait()
        assert previewed == [True]
        answer = heard[0]
        state = (await server.hub.get(map_id)).state
        assert seen["view"] == f"/v/{(await server.hub.get(map_id)).view_key}"
        assert int(seen["version"]) == state.version == answer["version"]
        assert answer["map_id"] == map_id and answer["added"] == 3 and answer["layers"] == ["rides"]
        assert answer["kinds"] == {"marker": 2, "polyline": 1}
        assert answer["view_url"] == link["view_url"]
        assert {f.label for f in state.features.values()} == {"Lausanne <gare>", "Genève", "Lakeside"}
        change = (await server.hub.get(map_id)).history.activity()[-1]
        assert change["by"]["id"].startswith("agent:"), "the change is the agent's that asked for the file"


async def test_a_client_puts_the_file_once_and_the_handle_answers_only_its_caller(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery, api_keys=KEYS)
    async with (
        keyed(server, "alice-secret-1") as alice,
        keyed(server, "bob-secret-2") as bob,
        plain(server) as http,
    ):
        link = await call(alice, "import", upload=True, layer="rides")
        map_id, put = link["map_id"], path_of(link["upload_url"])
        page = await http.get(put)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        for name in (
            "content-security-policy",
            "x-frame-options",
            "x-content-type-options",
            "referrer-policy",
        ):
            assert name in page.headers, name
        assert page.headers["cache-control"] == "no-store"
        assert 'value="rides"' in page.text, "what the agent gave is the page's default"

        text, _ = await failing(bob, "import", upload=link["handle"])
        assert "not found" in text and "another caller" in text

        added = await http.put(put, params={"filename": "ride.gpx"}, content=GPX.encode())
        assert added.status_code == 200, added.text
        report = added.json()
        assert report["added"] == 3 and report["layers"] == ["rides"] and report["map_id"] == map_id
        before = await snapshot(server, map_id)
        assert before == (report["version"], 3)

        again = await http.put(put, params={"filename": "ride.gpx"}, content=GPX.encode())
        unknown = await http.put("/u/" + "x" * 32, content=GPX.encode())
        assert again.status_code == unknown.status_code == 404
        assert again.json() == unknown.json() and UNKNOWN in again.json()["error"]["message"]
        assert await snapshot(server, map_id) == before, "a second use changed the map"

        answer = await call(alice, "import", upload=link["handle"])
        assert answer == report, "the handle answers what the upload added"
        text, _ = await failing(bob, "import", upload=link["handle"])
        assert "not found" in text
        assert await snapshot(server, map_id) == before


async def test_a_file_over_the_limit_is_refused_and_the_link_stays_open(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, max_file_size=64 * 1024)
    owner = Browser(server.url)
    try:
        map_id = await owner.new_map()
        await owner.ops(map_id, {"op": "set_title", "title": "<i>Rides</i>"})
        async with Client(server.url + "mcp") as agent, plain(server) as http:
            link = await call(agent, "import", upload=True, map_id=map_id)
            put = path_of(link["upload_url"])
            page = await http.get(put)
            assert "&lt;i&gt;Rides&lt;/i&gt;" in page.text and "<i>Rides" not in page.text
            before = await snapshot(server, map_id)
            big = GPX.replace("</gpx>", "<!--" + "x" * 70_000 + "--></gpx>").encode()
            refused = await http.put(put, params={"filename": "big.gpx"}, content=big)
            assert refused.status_code == 413
            message = refused.json()["error"]["message"]
            assert "65536 bytes" in message and "MAPSRV_MAX_FILE_SIZE" in message

            async def chunks() -> Any:
                for start in range(0, len(big), 8192):
                    yield big[start : start + 8192]

            streamed = await http.put(put, content=chunks())  # no Content-Length: refused as it comes
            assert streamed.status_code == 413
            broken = await http.put(put, params={"filename": "x.gpx"}, content=b"<gpx><wpt></gpx>")
            assert broken.status_code == 400
            assert await snapshot(server, map_id) == before, "a refused file changed the map"

            slots = upload_slots(server.hub)
            slots.wait = 0.2
            waiting = await call(agent, "import", upload=link["handle"])
            assert waiting["waiting"] is True and waiting["upload_url"] == link["upload_url"]
            assert "line 1" in waiting["refused"], "the agent hears why the last file was refused"

            fits = await http.put(put, params={"filename": "ride.gpx", "progress": "1"}, content=GPX.encode())
            assert fits.status_code == 200
            last = json.loads(fits.text.splitlines()[-1])
            assert last["added"] == 3, fits.text
            assert (await call(agent, "import", upload=link["handle"]))["version"] == last["version"]
    finally:
        await owner.aclose()


async def test_an_expired_link_is_refused_like_an_unknown_one(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    slots = upload_slots(server.hub)
    slots.expiry = 0.5
    async with Client(server.url + "mcp") as agent, plain(server) as http:
        link = await call(agent, "import", upload=True)
        map_id, put = link["map_id"], path_of(link["upload_url"])
        before = await snapshot(server, map_id)

        async def expired() -> bool:
            return (await http.get(put)).status_code == 404

        await wait_until(expired)
        refused = await http.put(put, params={"filename": "ride.gpx"}, content=GPX.encode())
        assert refused.status_code == 404 and UNKNOWN in refused.json()["error"]["message"]
        assert await snapshot(server, map_id) == before
        with trio.fail_after(5):
            text, _ = await failing(agent, "import", upload=link["handle"])
        assert "expired before a file came" in text


async def test_arguments_and_bounds_of_an_upload_link(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        text, _ = await failing(agent, "import", upload=True, content="lat,lon\n1,2\n")
        assert "give the file one way, got content and upload: path" in text
        text, _ = await failing(agent, "import", upload=True, key="iso_a3")
        assert "key and country go with join" in text, "the link's arguments checked as any import's"
        text, _ = await failing(agent, "import", upload=True, join="layer", layer="parks")
        assert "got no map_id" in text
        text, _ = await failing(agent, "import", upload="nohandle")
        assert "upload 'nohandle' not found" in text
        first = await call(agent, "import", upload=True)
        for _ in range(9):
            await call(agent, "import", upload=True, map_id=first["map_id"])
        text, _ = await failing(agent, "import", upload=True, map_id=first["map_id"])
        assert "at most 10 upload links may be open at once" in text
        assert upload_slots(server.hub).statistics().open == 10


class PersonAtPage:
    """A client's person shown a URL elicitation: ``action`` is what they answer; on "accept" they
    go to the page and drop the file (a PUT, from their own browser: no cookie, no key), after
    answering, as a person does. What they were shown, and the completions heard, are kept."""

    def __init__(self, nursery: trio.Nursery, server: Server, action: str) -> None:
        self.nursery, self.server, self.action = nursery, server, action
        self.shown: list[ElicitRequestURLParams] = []
        self.completed: list[str] = []
        self.put: list[int] = []

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        assert isinstance(params, ElicitRequestURLParams), params
        self.shown.append(params)
        if self.action == "accept":
            self.nursery.start_soon(self.drop, params.url)
        return ElicitResult(action=self.action)  # type: ignore[arg-type]

    async def drop(self, url: str) -> None:
        async with plain(self.server) as http:
            put = await http.put(path_of(url), params={"filename": "ride.gpx"}, content=GPX.encode())
            self.put.append(put.status_code)

    async def heard(self, message: Any) -> None:
        if isinstance(message, ElicitCompleteNotification):
            self.completed.append(message.params.elicitation_id)


async def test_a_client_that_can_send_its_person_to_a_page_gets_the_file_in_one_call(
    nursery: trio.Nursery,
) -> None:
    """URL elicitation (MCP 2025-11-25, a session with a back channel: the legacy HTTP+SSE
    transport): ``import`` with ``upload: true`` sends the person to the link, waits for the file
    and answers what it added, in one call; the client hears that the elicitation completed."""
    server = await start_server(nursery)
    person = PersonAtPage(nursery, server, "accept")
    client = Client(
        sse_client(server.url + "sse"),
        mode="legacy",
        elicitation_callback=person,
        message_handler=person.heard,
    )
    async with client as agent:
        report = await call(agent, "import", upload=True, layer="rides")

        async def put() -> bool:  # the PUT's own answer may come after the call's
            return bool(person.put)

        await wait_until(put)
    assert len(person.shown) == 1 and person.put == [200]
    shown = person.shown[0]
    assert "/u/" in shown.url and "drop the file" in shown.message
    assert report["added"] == 3 and report["layers"] == ["rides"], report
    assert await snapshot(server, report["map_id"]) == (report["version"], 3)
    assert person.completed == [shown.elicitation_id]
    async with plain(server) as http:  # the link was spent by the file
        assert (await http.get(path_of(shown.url))).status_code == 404


@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_a_person_who_does_not_go_to_the_page_leaves_the_link_with_the_agent(
    nursery: trio.Nursery, action: str
) -> None:
    server = await start_server(nursery)
    person = PersonAtPage(nursery, server, action)
    async with Client(sse_client(server.url + "sse"), mode="legacy", elicitation_callback=person) as agent:
        link = await call(agent, "import", upload=True)
        assert len(person.shown) == 1 and person.shown[0].url == link["upload_url"]
        assert f"did not open the link ({action})" in link["note"] and link["handle"] in link["note"]
        assert (await snapshot(server, link["map_id"]))[1] == 0, "nothing added before a file came"
        await person.drop(link["upload_url"])  # the agent hands the link over itself, later
        answer = await call(agent, "import", upload=link["handle"])
    assert answer["added"] == 3 and person.put == [200]


async def test_a_session_without_a_back_channel_is_not_sent_to_the_page(nursery: trio.Nursery) -> None:
    # Streamable HTTP, 2025-11-25: mapsrv answers each call as one JSON body, so nothing can ask
    # the client meanwhile; the link comes back for the agent to hand over
    server = await start_server(nursery)
    person = PersonAtPage(nursery, server, "accept")
    async with Client(server.url + "mcp", mode="legacy", elicitation_callback=person) as agent:
        link = await call(agent, "import", upload=True)
    assert person.shown == [] and "upload_url" in link and "next" in link


async def test_a_link_made_by_one_process_takes_its_file_in_another(
    nursery: trio.Nursery, redis_server: Any
) -> None:
    """Several processes behind an ingress, one real Redis: the agent's ``import`` reaches
    process A, the person's browser reaches B with the link (no affinity: a browser that never
    saw A has no cookie to be sent there by). B takes the file into the map; A's handle answers
    what B added; the link is spent for both; another caller's handle finds nothing on either."""
    a = await start_server(nursery, store=redis_server.url, api_keys=KEYS)
    b = await start_server(nursery, store=redis_server.url, api_keys=KEYS)
    async with (
        keyed(a, "alice-secret-1") as alice,
        keyed(b, "bob-secret-2") as bob,
        plain(a) as http_a,
        plain(b) as http_b,
    ):
        link = await call(alice, "import", upload=True, layer="rides")
        put = path_of(link["upload_url"])
        page = await http_b.get(put)
        assert page.status_code == 200 and 'value="rides"' in page.text, "B knows A's link"
        added = await http_b.put(put, params={"filename": "ride.gpx"}, content=GPX.encode())
        assert added.status_code == 200, added.text
        report = added.json()
        assert report["added"] == 3 and report["layers"] == ["rides"]
        assert (await http_a.put(put, content=GPX.encode())).status_code == 404, "spent on A too"
        assert (await http_b.get(put)).status_code == 404
        with trio.fail_after(10):
            answer = await call(alice, "import", upload=link["handle"])
        assert answer == report, "A's handle hears what B added"
        text, _ = await failing(bob, "import", upload=link["handle"])
        assert "not found" in text
        assert await snapshot(a, link["map_id"]) == (report["version"], 3)


async def test_two_processes_given_one_link_at_once_take_one_file(
    nursery: trio.Nursery, redis_server: Any
) -> None:
    a = await start_server(nursery, store=redis_server.url)
    b = await start_server(nursery, store=redis_server.url)
    async with Client(a.url + "mcp") as agent, plain(a) as http_a, plain(b) as http_b:
        link = await call(agent, "import", upload=True)
        put = path_of(link["upload_url"])
        answers: list[int] = []

        async def send(http: httpx.AsyncClient) -> None:
            answers.append(
                (await http.put(put, params={"filename": "ride.gpx"}, content=GPX.encode())).status_code
            )

        async with trio.open_nursery() as both:
            both.start_soon(send, http_a)
            both.start_soon(send, http_b)
        assert sorted(answers) == [200, 404], answers
        assert (await snapshot(a, link["map_id"]))[1] == 3, "one file, once"


async def test_a_preview_reads_the_file_adds_nothing_and_leaves_the_link_open(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent, plain(server) as http:
        link = await call(agent, "import", upload=True)
        put = path_of(link["upload_url"])
        shown = await http.put(put, params={"filename": "ride.gpx", "preview": "1"}, content=GPX.encode())
        assert shown.status_code == 200, shown.text
        seen = shown.json()
        assert seen["added"] == 3 and seen["kinds"] == {"marker": 2, "polyline": 1}
        assert len(seen["preview"]["features"]) == 3 and len(seen["bbox"]) == 2
        assert await snapshot(server, link["map_id"]) == (0, 0), "a preview adds nothing"
        assert (await http.get(put)).status_code == 200, "and leaves the link open"
        broken = await http.put(put, params={"filename": "x.gpx", "preview": "1"}, content=b"<gpx")
        assert broken.status_code == 400 and (await http.get(put)).status_code == 200
        added = await http.put(put, params={"filename": "ride.gpx"}, content=GPX.encode())
        assert added.status_code == 200 and added.json()["added"] == 3
        assert (await http.get(put)).status_code == 404


async def test_a_refused_file_sent_from_the_page_the_client_opened_is_told_to_the_agent(
    nursery: trio.Nursery,
) -> None:
    """The person went to the page (URL elicitation) but their file was refused: the call
    answers, once its wait is over, that the file has not come and why the last one was
    refused; the link stays open for another."""
    server = await start_server(nursery)
    upload_slots(server.hub).wait = 1.0

    class Broken(PersonAtPage):
        async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
            assert isinstance(params, ElicitRequestURLParams), params
            self.shown.append(params)
            async with plain(self.server) as http:  # the page's file refused before they answer
                sent = await http.put(path_of(params.url), params={"filename": "x.gpx"}, content=b"<gpx")
                self.put.append(sent.status_code)
            return ElicitResult(action="accept")

    person = Broken(nursery, server, "accept")
    async with Client(sse_client(server.url + "sse"), mode="legacy", elicitation_callback=person) as agent:
        link = await call(agent, "import", upload=True)
    assert person.put == [400], person.put
    assert "has not come yet" in link["note"] and link["refused"], link
    async with plain(server) as http:
        assert (await http.get(path_of(link["upload_url"]))).status_code == 200, "still open"
