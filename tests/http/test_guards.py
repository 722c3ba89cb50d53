"""The Host check on every browser route, the event streams included: a page or a stream asked
for under a foreign Host (DNS rebinding) is refused before anything is read or subscribed."""

from __future__ import annotations

import re

import httpx
import pytest
import trio
from support import Browser, SseReader, open_stream

from mapsrv.server import Server

FOREIGN = "attacker.example"


@pytest.fixture
async def owned(server: Server):
    owner = Browser(server.url)
    map_id = await owner.new_map()
    page = (await owner.client.get(f"/m/{map_id}")).text
    view_key = page.split('data-view-url="', 1)[1].split('"', 1)[0].rsplit("/", 1)[1]
    yield owner, map_id, view_key
    await owner.aclose()


def routes(map_id: str, view_key: str) -> list[str]:
    return [
        "/",
        f"/m/{map_id}",
        f"/m/{map_id}/state",
        f"/m/{map_id}/events",
        f"/v/{view_key}",
        f"/v/{view_key}/state",
        f"/v/{view_key}/geojson",
        f"/v/{view_key}/events",
    ]


def what(path: str) -> str:
    return "a stream" if path.endswith("/events") else "a page"


async def test_a_foreign_host_is_refused_on_every_browser_route(server: Server, owned) -> None:
    owner, map_id, view_key = owned
    for path in routes(map_id, view_key):
        # The status is read before the body: a stream answered 200 never ends, and reading it
        # whole would fail on a read timeout rather than on the status.
        headers = {"host": FOREIGN, "accept": "text/event-stream"}
        async with owner.client.stream("GET", path, headers=headers) as response:
            assert response.status_code == 421, (
                f"{what(path)} under a foreign Host was answered {response.status_code}, not 421: {path}"
            )
            await response.aread()
        assert map_id not in response.text and view_key not in response.text, path
    posted = await owner.client.post(
        f"/m/{map_id}/ops", json={"op": "set_title", "title": "x"}, headers={"host": FOREIGN}
    )
    assert posted.status_code == 421
    assert (await owner.state(map_id))["version"] == 0, "the refused write changed nothing"
    assert server.hub.statistics().subscribers == 0, "a refused stream subscribed anyway"


async def test_the_same_routes_answer_an_allowed_host(server: Server, owned, nursery: trio.Nursery) -> None:
    owner, map_id, view_key = owned
    for path in routes(map_id, view_key):
        if path.endswith("/events"):
            stream = await open_stream(nursery, owner.client, path)
            assert stream.status == 200, path
            await stream.wait_for(lambda events: len(events) >= 1)
            continue
        response = await owner.client.get(path, headers={"host": "localhost:1234"})
        assert response.status_code in (200, 303), path


async def test_a_raw_stream_request_with_a_foreign_host_gets_no_stream(server: Server, owned) -> None:
    """The same refusal as a browser's EventSource sees it on the wire: no 200, no frames."""
    owner, map_id, view_key = owned
    host, port = httpx.URL(server.url).host, httpx.URL(server.url).port
    assert port is not None
    cookie = "; ".join(f"{name}={value}" for name, value in owner.client.cookies.items())
    for path in (f"/m/{map_id}/events", f"/v/{view_key}/events"):
        try:
            reader = await SseReader.open(host, port, path, cookie, headers={"Host": FOREIGN})
        except RuntimeError as refused:  # what SseReader.open raises for any status but 200
            assert re.search(r"refused: b'HTTP/1\.1 421", str(refused)), (
                f"a stream under a foreign Host was not refused with 421 ({refused}): {path}"
            )
        else:
            await reader.aclose()
            raise AssertionError(f"a stream under a foreign Host was answered 200, not 421: {path}")
    assert server.hub.statistics().subscribers == 0, "a refused stream subscribed anyway"
