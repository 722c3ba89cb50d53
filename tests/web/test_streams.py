"""The event stream end to end, on raw sockets (which see comments): heartbeats reach every
viewer whatever heartbeat slot it landed in, and a shutdown ends every stream with a ``retry:``
hint after its last event."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator

import httpx
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families
from support import Browser, SseReader, require, start_server, wait_until

from mapsrv.core import Limits, Op
from mapsrv.core.parse import parse_op
from mapsrv.core.sse import chunk
from mapsrv.hub import MapHub
from mapsrv.hub.fanout import FrameLog, snapshot_json
from mapsrv.server import Server
from mapsrv.web.stream import pump

HEARTBEAT_SLOTS = 10  # mapsrv spreads heartbeats over this many ticks per interval
STREAMS = 2 * HEARTBEAT_SLOTS + 3  # every slot served by at least two streams, of both kinds


@pytest.fixture
async def viewers(nursery: trio.Nursery) -> AsyncIterator[tuple[Server, Browser, str, list[SseReader]]]:
    """A server with a short heartbeat and ``STREAMS`` raw streams on one map, alternately by its
    edit link (with the owner's cookie) and by its view link (with none)."""
    server = await start_server(nursery, heartbeat_interval=0.3)
    owner = Browser(server.url)
    map_id = await owner.new_map()
    page = (await owner.client.get(f"/m/{map_id}")).text
    view_key = page.split('data-view-url="', 1)[1].split('"', 1)[0].rsplit("/", 1)[1]
    cookie = "; ".join(f"{name}={value}" for name, value in owner.client.cookies.items())
    host, port = server.binds[0].removeprefix("http://").rsplit(":", 1)
    readers = []
    for i in range(STREAMS):
        if i % 2:
            reader = await SseReader.open(host, int(port), f"/v/{view_key}/events")
        else:
            reader = await SseReader.open(host, int(port), f"/m/{map_id}/events", cookie)
        nursery.start_soon(reader.run)
        readers.append(reader)
    for reader in readers:
        await reader.wait(lambda r: len(r.ids) >= 1)  # the snapshot
    assert server.hub.statistics().subscribers == STREAMS
    assert await stream_counts(owner) == {"socket": STREAMS, "asgi": 0}, "HTTP/1.1: written on the socket"
    yield server, owner, map_id, readers
    await owner.aclose()


async def test_every_stream_gets_heartbeats(viewers) -> None:
    server, _, _, readers = viewers
    # 0.3 s per round of all slots: 5 s is over 15 rounds, so a starved slot cannot pass by luck
    with trio.fail_after(5):
        for i, reader in enumerate(readers):
            await reader.wait(lambda r: len(r.comments) >= 2, timeout=5)
            assert set(reader.comments) == {b": hb"}, i
    assert server.hub.statistics().subscribers == STREAMS, "no stream was dropped on the way"


async def test_shutdown_ends_every_stream_with_a_retry_hint_after_its_last_event(viewers) -> None:
    server, owner, map_id, readers = viewers
    response = await owner.ops(map_id, {"op": "set_title", "title": "last words"})
    version = response.json()["version"]
    for reader in readers:
        await reader.wait_for(version)
    server.shutdown()
    retry_ms = round(server.config.sse_retry * 1000)
    with trio.fail_after(10):
        for i, reader in enumerate(readers):
            await reader.closed.wait()
            # the first hint opens the stream; the last one is the shutdown's, after every event
            assert reader.retries[0] == retry_ms and len(reader.retries) >= 2, (i, reader.retries)
            assert reader.last_frame == f"retry: {retry_ms}".encode(), (i, reader.last_frame)
            assert reader.ids[-1] == version, i


async def test_the_pump_writes_what_is_queued_at_once_then_a_retry_hint_when_the_channel_ends() -> None:
    send, receive = trio.open_memory_channel[bytes](10)
    writes: list[bytes] = []

    async def write(data: bytes) -> None:
        writes.append(data)

    for data in (b"id: 1\n\n", b"id: 2\n\n", b"id: 3\n\n"):
        send.send_nowait(data)
    send.close()  # the hub ended this viewer with frames still queued: none is lost
    await pump(write, receive, retry_ms=1500)
    assert writes == [b"id: 1\n\nid: 2\n\nid: 3\n\n", b"retry: 1500\n\n"]


async def test_a_stream_is_neither_cached_nor_buffered_and_carries_the_page_headers(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery)
    alice = Browser(server.url)
    map_id = await alice.new_map()
    page = await alice.client.get(f"/m/{map_id}")
    async with alice.client.stream("GET", f"/m/{map_id}/events") as stream:
        headers = stream.headers
        assert headers["content-type"] == "text/event-stream; charset=utf-8"
        assert headers["cache-control"] == "no-cache, no-store" and headers["x-accel-buffering"] == "no"
        for name in ("x-content-type-options", "referrer-policy"):
            assert headers[name] == page.headers[name], name
    await alice.aclose()


# --- streams written through the pump (HTTP/2, HTTP/1.0): frames in order, then a retry hint ----


class Body:
    """A response body as it arrives, read in the background of the test's nursery; ``error``
    says how it ended when it did not end cleanly (a reset, a connection closed mid-body)."""

    def __init__(self) -> None:
        self.data = b""
        self.error: Exception | None = None
        self.ended = trio.Event()
        self._new = trio.Event()

    async def read(self, parts: AsyncIterator[bytes]) -> None:
        try:
            async for part in parts:
                self.data += part
                self._new.set()
                self._new = trio.Event()
        except (httpx.TransportError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self.error = exc
        finally:
            self.ended.set()
            self._new.set()

    async def wait_for(self, wanted: bytes) -> None:
        with trio.fail_after(10):
            while wanted not in self.data:
                assert not self.ended.is_set(), f"the body ended before {wanted!r}: {self.data!r}"
                await self._new.wait()

    async def wait_end(self) -> None:
        with trio.fail_after(10):
            await self.ended.wait()
        assert self.error is None, f"the body ended badly: {self.error!r} after {self.data[-200:]!r}"

    def frames(self) -> list[bytes]:
        """The SSE frames received whole, in order."""
        return self.data.split(b"\n\n")[:-1]

    def ids(self) -> list[int]:
        return [int(f.split(b"\n", 1)[0][4:]) for f in self.frames() if f.startswith(b"id: ")]


async def socket_parts(stream: trio.SocketStream) -> AsyncIterator[bytes]:
    while part := await stream.receive_some(65536):
        yield part


def http2_client(server: Server, owner: Browser) -> httpx.AsyncClient:
    """An HTTP/2 client with prior knowledge (h2c), as a proxy that speaks HTTP/2 to mapsrv is."""
    require(importlib.util.find_spec("h2") is not None, "h2 (httpx's HTTP/2)")
    return httpx.AsyncClient(base_url=server.url, http1=False, http2=True, cookies=owner.client.cookies)


async def open_http2_stream(
    nursery: trio.Nursery, client: httpx.AsyncClient, path: str, **headers: str
) -> tuple[httpx.Response, Body]:
    body = Body()

    async def run(task_status: trio.TaskStatus[httpx.Response]) -> None:
        async with client.stream("GET", path, headers=headers, timeout=None) as response:
            task_status.started(response)
            await body.read(response.aiter_raw())

    with trio.fail_after(10):
        response: httpx.Response = await nursery.start(run)
    return response, body


async def stream_counts(owner: Browser) -> dict[str, float]:
    for family in text_string_to_metric_families((await owner.client.get("/metrics")).text):
        if family.name == "mapsrv_sse_streams":
            return {s.labels["writer"]: s.value for s in family.samples if s.name.endswith("_total")}
    raise AssertionError("no mapsrv_sse_streams in the metrics")


@pytest.fixture
async def one_map(nursery: trio.Nursery) -> AsyncIterator[tuple[Server, Browser, str]]:
    server = await start_server(nursery, heartbeat_interval=0.3)
    owner = Browser(server.url)
    map_id = await owner.new_map()
    yield server, owner, map_id
    await owner.aclose()


async def test_an_http2_stream_gets_every_frame_in_order_then_a_retry_hint_and_its_end(
    one_map, nursery: trio.Nursery
) -> None:
    server, owner, map_id = one_map
    async with http2_client(server, owner) as client:
        response, body = await open_http2_stream(nursery, client, f"/m/{map_id}/events")
        assert response.http_version == "HTTP/2" and response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache, no-store"
        assert response.headers["x-accel-buffering"] == "no"
        await body.wait_for(b"event: snapshot")
        assert body.data.startswith(b"retry: 2000\n\nid: 0\nevent: snapshot\n")
        for title in ("one", "two"):  # one frame at a time, each written as it comes
            version = (await owner.ops(map_id, {"op": "set_title", "title": title})).json()["version"]
            await body.wait_for(b"id: %d\n" % version)
        two = {"op": "set_title", "title": "three"}, {"op": "set_title", "title": "four"}
        assert (await owner.ops(map_id, *two)).json()["version"] == 4  # two frames queued at once
        await body.wait_for(b"id: 4\n")
        await body.wait_for(b": hb\n\n")  # the hub's heartbeats reach a pumped stream too
        assert server.hub.statistics().subscribers == 1
        server.hub.close_all_subscribers()  # as a shutdown does
        await body.wait_end()
    assert body.ids() == [0, 1, 2, 3, 4], "every frame once, in order"
    assert body.data.endswith(b"\n\nretry: 2000\n\n"), "the hint comes last"
    assert [f for f in body.frames() if f.startswith(b"retry")] == [b"retry: 2000"] * 2
    # (and who is here: a person's stream starts with a presence frame, which has no id)
    assert all(f.startswith((b"id: ", b"retry: ", b": hb", b"event: presence")) for f in body.frames()), (
        body.data
    )
    assert await stream_counts(owner) == {"socket": 0, "asgi": 1}
    await wait_until(lambda: server.hub.statistics().subscribers == 0)


async def test_an_http2_stream_resumes_from_the_frame_log(one_map, nursery: trio.Nursery) -> None:
    server, owner, map_id = one_map
    for title in ("one", "two", "three"):
        await owner.ops(map_id, {"op": "set_title", "title": title})
    async with http2_client(server, owner) as client:
        _, body = await open_http2_stream(nursery, client, f"/m/{map_id}/events", **{"Last-Event-ID": "1"})
        await body.wait_for(b"id: 3\n")
        assert body.data.startswith(b"retry: 2000\n\nid: 2\nevent: change\n"), body.data
        assert body.ids() == [2, 3] and b"snapshot" not in body.data
        server.hub.close_all_subscribers()
        await body.wait_end()
    assert body.ids() == [2, 3] and body.data.endswith(b"\n\nretry: 2000\n\n")


async def test_http_1_0_streams_get_live_frames_then_a_hint_and_a_close_and_leaving_is_noticed(
    one_map, nursery: trio.Nursery
) -> None:
    """HTTP/1.0 has no chunks: the pump writes the body, which ends when the connection does."""
    server, owner, map_id = one_map
    host, port = server.binds[0].removeprefix("http://").rsplit(":", 1)
    cookie = "; ".join(f"{k}={v}" for k, v in owner.client.cookies.items())
    request = f"GET /m/{map_id}/events HTTP/1.0\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n\r\n"
    staying, leaving = Body(), Body()
    connections = []
    for body in (staying, leaving):
        conn = await trio.open_tcp_stream(host, int(port))
        await conn.send_all(request.encode())
        nursery.start_soon(body.read, socket_parts(conn))
        connections.append(conn)
        await body.wait_for(b"event: snapshot")
    head, _ = staying.data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding" not in head.lower()
    assert server.hub.statistics().subscribers == 2
    await connections[1].aclose()  # this one goes away: the stream notices and lets go
    await wait_until(lambda: server.hub.statistics().subscribers == 1)
    for title in ("one", "two"):
        version = (await owner.ops(map_id, {"op": "set_title", "title": title})).json()["version"]
        await staying.wait_for(b"id: %d\n" % version)
    server.hub.close_all_subscribers()
    await staying.wait_end()  # the server closed the connection: the body's end
    assert staying.ids() == [0, 1, 2] and staying.data.endswith(b"\n\nretry: 2000\n\n")
    assert server.hub.statistics().subscribers_dropped == 0
    assert await stream_counts(owner) == {"socket": 0, "asgi": 2}
    await connections[0].aclose()


async def test_a_last_event_id_of_digits_that_are_not_ascii_gets_a_snapshot(one_map) -> None:
    """``²³`` (latin-1 bytes B2 B3, as a header arrives) reads as digits to ``str.isdigit`` but is
    no version: the stream starts with a snapshot instead of failing."""
    server, owner, map_id = one_map
    await owner.ops(map_id, {"op": "set_title", "title": "one"})
    host, port = server.binds[0].removeprefix("http://").rsplit(":", 1)
    cookie = "; ".join(f"{k}={v}" for k, v in owner.client.cookies.items())
    request = f"GET /m/{map_id}/events HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n".encode()
    conn = await trio.open_tcp_stream(host, int(port))
    await conn.send_all(request + b"Last-Event-ID: \xb2\xb3\r\n\r\n")
    body = Body()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(body.read, socket_parts(conn))
        await body.wait_for(b"event: snapshot")
        assert body.data.startswith(b"HTTP/1.1 200 "), body.data[:100]
        assert b"id: 1\nevent: snapshot\n" in body.data
        await conn.aclose()


# --- fan-out on a hub alone ---------------------------------------------------------------------


def title(text: str) -> Op:
    return parse_op({"op": "set_title", "title": text}, Limits())


async def test_slow_viewers_are_dropped_and_counted_and_a_viewer_whose_reader_left_is_not() -> None:
    hub = MapHub(subscriber_buffer=2)
    entry = await hub.create_map()
    async with (
        hub.subscribe(entry) as slow,
        hub.subscribe(entry) as slower,
        hub.subscribe(entry) as gone,
        hub.subscribe(entry) as reading,
    ):
        gone.receive.close()  # its reader went away without leaving
        await hub.apply(entry.id, [title("one")])
        assert entry.subscribers == {slow, slower, reading}, "the one nobody reads is let go at once"
        assert hub.statistics().subscribers_dropped == 0, "leaving is not falling behind"
        read = [reading.receive.receive_nowait()]
        for text in ("two", "three"):
            await hub.apply(entry.id, [title(text)])
            read.append(reading.receive.receive_nowait())
        assert entry.subscribers == {reading}
        assert hub.statistics().subscribers_dropped == 2, "each slow viewer counts"
        assert [f.split(b"\n", 1)[0] for f in read] == [b"id: 1", b"id: 2", b"id: 3"]
        for sub in (slow, slower):  # what each took before it was dropped, then its end
            took = [sub.receive.receive_nowait(), sub.receive.receive_nowait()]
            assert [f.split(b"\n", 1)[0] for f in took] == [b"id: 1", b"id: 2"]
            with pytest.raises(trio.EndOfChannel):
                sub.receive.receive_nowait()
    async with hub.subscribe(entry, last_event_id="2") as again:  # the browser resumes
        assert [f.split(b"\n", 1)[0] for f in again.initial] == [b"id: 3"]


def test_a_chunk_is_the_frame_in_http_1_1_chunked_framing_and_no_data_is_no_chunk() -> None:
    data = b"id: 1\nevent: change\ndata: {}\n\n"
    assert len(data) == 30 and chunk(data) == b"1e\r\n" + data + b"\r\n"  # the size in hex
    assert chunk(b"x" * 4096) == b"1000\r\n" + b"x" * 4096 + b"\r\n"
    assert chunk(b"") == b"", "an empty chunk would end the body"


async def test_a_snapshot_without_a_history_is_the_state_alone() -> None:
    hub = MapHub()
    entry = await hub.create_map()
    await hub.apply(entry.id, [title("one")])
    assert snapshot_json(entry.state, None) == entry.state.to_json()
    assert snapshot_json(entry.state, entry.history)["activity"][0]["summary"] == "set the title to 'one'"
    assert FrameLog(4).snapshot_frame(entry.state).startswith(b"id: 1\nevent: snapshot\n")
