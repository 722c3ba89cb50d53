"""Event streams gzipped for clients that accept it (EventSource in every browser does): the
snapshot of a big map travels at a fraction of its size, every frame arrives as it is published
(each is deflated on its own and flushed), resuming by Last-Event-ID works, and a client that
does not ask for gzip gets the plain stream as before."""

from __future__ import annotations

import zlib
from typing import Any

import httpx
import trio
from support import Browser, start_server

from mapsrv.core.sse import retry

MARKERS = 3_000


class GzipEvents:
    """An event stream read through httpx's own gzip decoder: the raw bytes counted, the SSE
    frames parsed from what it decodes."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.raw_bytes = 0
        self.frames: list[dict[str, str]] = []
        self.new = trio.Event()
        self._text = ""
        self._unpack = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing

    async def run(self) -> None:
        async for piece in self.response.aiter_raw():
            self.raw_bytes += len(piece)
            self._text += self._unpack.decompress(piece).decode()
            while "\n\n" in self._text:
                block, self._text = self._text.split("\n\n", 1)
                fields: dict[str, str] = {}
                for line in block.split("\n"):
                    name, _, value = line.partition(": ")
                    fields[name] = fields.get(name, "") + value
                self.frames.append(fields)
                self.new.set()
                self.new = trio.Event()

    async def until(self, count: int) -> list[dict[str, str]]:
        with trio.fail_after(20):
            while len(self.events()) < count:
                await self.new.wait()
        return self.events()

    def events(self) -> list[dict[str, str]]:
        """The map's versions (a page's stream also says who is here: ``presence``)."""
        return [f for f in self.frames if f.get("event") in ("snapshot", "change")]


async def open_events(
    nursery: trio.Nursery, client: httpx.AsyncClient, path: str, **headers: str
) -> tuple[GzipEvents, Any]:
    request = client.build_request("GET", path, headers={"Accept-Encoding": "gzip", **headers})
    response = await client.send(request, stream=True)
    events = GzipEvents(response)
    nursery.start_soon(events.run)
    return events, response


async def test_a_big_maps_stream_is_gzipped_and_frames_arrive_as_published(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    owner = Browser(server.url)
    map_id = await owner.new_map()
    for first in range(0, MARKERS, 1000):
        ops = [
            {"op": "add_feature", "id": f"p{i}", "type": "marker", "coords": [i / 999, 1.0], "label": f"P{i}"}
            for i in range(first, first + 1000)
        ]
        assert (await owner.ops(map_id, *ops)).status_code == 200
    state = await owner.client.get(f"/m/{map_id}/state", headers={"Accept-Encoding": "identity"})
    version = state.json()["version"]
    async with (
        httpx.AsyncClient(base_url=server.url, cookies=owner.client.cookies, timeout=20) as client,
        trio.open_nursery() as readers,
    ):
        events, response = await open_events(readers, client, f"/m/{map_id}/events")
        assert response.headers["content-encoding"] == "gzip"
        assert "accept-encoding" in response.headers["vary"].lower()
        [snapshot] = await events.until(1)
        assert snapshot["event"] == "snapshot" and snapshot["id"] == str(version)
        assert snapshot["data"].count('"type":"marker"') == MARKERS
        assert events.raw_bytes < len(state.content) / 4, "the snapshot travelled gzipped"
        # a change arrives on its own, while the stream stays open: each frame is flushed
        await owner.ops(map_id, {"op": "update_feature", "id": "p7", "label": "moved"})
        change = (await events.until(2))[1]
        assert change["event"] == "change" and change["id"] == str(version + 1)
        assert '"moved"' in change["data"]
        # resuming gets only what was missed, gzipped too
        await owner.ops(map_id, {"op": "update_feature", "id": "p8", "label": "again"})
        since = {"Last-Event-ID": str(version + 1)}
        resumed, again = await open_events(readers, client, f"/m/{map_id}/events", **since)
        [missed] = await resumed.until(1)
        assert again.headers["content-encoding"] == "gzip"
        assert missed["event"] == "change" and missed["id"] == str(version + 2)
        readers.cancel_scope.cancel()
    await owner.aclose()


async def test_a_client_that_does_not_ask_for_gzip_gets_the_plain_stream(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    owner = Browser(server.url)
    map_id = await owner.new_map()
    host, port = server.url.split("//")[1].rstrip("/").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    cookie = "; ".join(f"{k}={v}" for k, v in owner.client.cookies.items())
    request = f"GET /m/{map_id}/events HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n\r\n"
    await stream.send_all(request.encode())
    received = b""
    with trio.fail_after(10):
        while b"event: snapshot" not in received:
            received += await stream.receive_some()
    head = received.split(b"\r\n\r\n", 1)[0].lower()
    assert b"content-encoding" not in head and b"vary: accept-encoding" in head
    assert retry(2000) in received
    await stream.aclose()
    await owner.aclose()
