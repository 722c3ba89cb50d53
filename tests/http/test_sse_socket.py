"""Event streams written by the fan-out straight to their sockets (``mapsrv.http.socket_writer``).

Read here with h11, a strict HTTP/1.1 parser: a chunk the fan-out framed wrong, or a byte
written out of turn with hypercorn's head or end, fails the parse. The metrics say which writer
served each stream, so a hypercorn release that no longer lets a stream find its socket (the
internals ``mapsrv.http.hypercorn.expose_connections`` relies on) fails here, not silently slower.
"""

from __future__ import annotations

import os
import socket
import zlib
from collections.abc import AsyncIterator
from typing import Any

import h11
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families
from support import Browser, start_server, wait_until

from mapsrv.core.sse import chunk, frame
from mapsrv.http.compression import Deflated
from mapsrv.http.socket_writer import SocketViewer
from mapsrv.hub.registry import MapEntry
from mapsrv.server import Server


class Connection:
    """One client connection, parsed by h11: bodies arrive de-chunked, bad framing raises."""

    def __init__(self, stream: trio.SocketStream, host: str) -> None:
        self.stream = stream
        self.host = host
        self.h11 = h11.Connection(h11.CLIENT)
        self.body = b""

    @classmethod
    async def open(cls, server: Server, *, receive_buffer: int | None = None) -> Connection:
        host, port = server.binds[0].removeprefix("http://").rsplit(":", 1)
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_STREAM)
        if receive_buffer is not None:  # before connecting, so the window starts small
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        await sock.connect((host, int(port)))
        return cls(trio.SocketStream(sock), f"{host}:{port}")

    async def request(self, method: str, path: str, *headers: tuple[str, str]) -> h11.Response:
        fields = [("Host", self.host), *headers]
        await self.stream.send_all(self.h11.send(h11.Request(method=method, target=path, headers=fields)))
        await self.stream.send_all(self.h11.send(h11.EndOfMessage()))
        event = await self.next_event()
        assert isinstance(event, h11.Response), event
        return event

    async def next_event(self) -> h11.Event:
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                self.h11.receive_data(await self.stream.receive_some(65536))
                continue
            if isinstance(event, h11.Data):
                self.body += event.data
            return event

    async def read_until(self, wanted: bytes) -> None:
        while wanted not in self.body:
            event = await self.next_event()
            assert isinstance(event, h11.Data), f"the stream ended before {wanted!r}: {event}"

    async def read_to_end(self) -> None:
        while not isinstance(await self.next_event(), h11.EndOfMessage):
            pass


def marker(fid: str, lat: float, lon: float, label: str | None = None) -> dict[str, object]:
    return {"op": "add_feature", "type": "marker", "id": fid, "coords": [lat, lon], "label": label or fid}


def stream_counts(text: str) -> dict[str, float]:
    for family in text_string_to_metric_families(text):
        if family.name == "mapsrv_sse_streams":
            return {s.labels["writer"]: s.value for s in family.samples if s.name.endswith("_total")}
    raise AssertionError("no mapsrv_sse_streams in the metrics")


@pytest.fixture
async def served(nursery: trio.Nursery) -> AsyncIterator[tuple[Server, Browser, str]]:
    server = await start_server(nursery, heartbeat_interval=60, subscriber_buffer=8)
    owner = Browser(server.url)
    map_id = await owner.new_map()
    yield server, owner, map_id
    await owner.aclose()


async def counts(owner: Browser) -> dict[str, float]:
    return stream_counts((await owner.client.get("/metrics")).text)


def cookie_of(owner: Browser) -> tuple[str, str]:
    return ("Cookie", "; ".join(f"{k}={v}" for k, v in owner.client.cookies.items()))


async def test_a_stream_after_a_page_on_one_connection_is_written_to_the_socket_framed_right(served) -> None:
    """A browser reuses a keep-alive connection for its EventSource: the page first, then the
    stream, then (after the stream ended) another request on the same connection."""
    server, owner, map_id = served
    conn = await Connection.open(server)
    with trio.fail_after(10):
        page = await conn.request("GET", f"/m/{map_id}", cookie_of(owner))
        assert page.status_code == 200
        await conn.read_to_end()
        conn.h11.start_next_cycle()
        conn.body = b""
        head = await conn.request("GET", f"/m/{map_id}/events", cookie_of(owner))
        assert head.status_code == 200
        assert dict(head.headers)[b"transfer-encoding"] == b"chunked"
        await conn.read_until(b"event: snapshot")
        assert await counts(owner) == {"socket": 1, "asgi": 0}
        for i in range(30):
            response = await owner.ops(map_id, marker(f"m{i}", 1, i))
            assert response.status_code == 200
        await conn.read_until(b"id: 30\n")
        ids = [int(line[4:]) for line in conn.body.split(b"\n") if line.startswith(b"id: ")]
        assert ids == list(range(ids[0], 31)), "every event once, in order"
        assert b'"m29"' in conn.body
        server.hub.close_all_subscribers()  # as a shutdown does: a retry hint, then the end
        await conn.read_to_end()
        assert conn.body.endswith(b"retry: 2000\n\n")
        conn.h11.start_next_cycle()
        state = await conn.request("GET", f"/m/{map_id}/state", cookie_of(owner))
        assert state.status_code == 200, "the connection is still good for the next request"


async def test_head_and_http_1_0_streams_go_through_asgi(served) -> None:
    server, owner, map_id = served
    with trio.fail_after(10):
        conn = await Connection.open(server)
        head = await conn.request("HEAD", f"/m/{map_id}/events", cookie_of(owner))
        assert head.status_code == 200
        assert await counts(owner) == {"socket": 0, "asgi": 1}
        await conn.stream.aclose()
        host, port = server.binds[0].removeprefix("http://").rsplit(":", 1)
        old = await trio.open_tcp_stream(host, int(port))
        request = (
            f"GET /m/{map_id}/events HTTP/1.0\r\nHost: {host}:{port}\r\nCookie: {cookie_of(owner)[1]}\r\n"
        )
        await old.send_all(request.encode() + b"\r\n")
        received = b""
        while b"event: snapshot" not in received:
            received += await old.receive_some(65536)
        assert b"transfer-encoding" not in received.lower(), "HTTP/1.0 has no chunks"
        assert await counts(owner) == {"socket": 0, "asgi": 2}
        await old.aclose()


def waiting(viewer: object) -> int:
    """How many frames a stream's viewer holds because its socket would not take them."""
    assert isinstance(viewer, SocketViewer), viewer
    return len(viewer._backlog or ())


def check_backlog_cap(entry: MapEntry, limit: int, events: int) -> None:
    """Right after a write of ``events`` frames went out: a viewer takes a write whole only while
    fewer than ``limit`` frames (``--subscriber-buffer``) wait for it, so none holds ``limit +
    events`` or more, and one that was refused it must be gone."""
    for viewer in entry.subscribers:
        held = waiting(viewer)
        assert held < limit + events, (
            f"the viewer with {held} frames waiting was not dropped (subscriber_buffer={limit})"
        )
        assert isinstance(viewer, SocketViewer)
        assert not viewer.lagging, (
            f"the viewer with {held} frames waiting was refused a write but not dropped "
            f"(subscriber_buffer={limit})"
        )


async def test_a_viewer_that_stops_reading_is_dropped_and_the_others_get_everything(served) -> None:
    server, owner, map_id = served
    limit = server.hub.fanout.subscriber_buffer
    entry = server.hub.find(map_id)
    assert entry is not None
    stuck = await Connection.open(server, receive_buffer=4096)
    healthy = await Connection.open(server)
    try:
        with trio.fail_after(30):
            for conn in (stuck, healthy):
                assert (await conn.request("GET", f"/m/{map_id}/events", cookie_of(owner))).status_code == 200
            await healthy.read_until(b"event: snapshot")
            label = "x" * 200
            markers = [marker(f"f{i}", 0, i / 10, label) for i in range(50)]  # fits a healthy socket
            version = 0
            while server.hub.statistics().subscribers_dropped == 0:
                response = await owner.ops(map_id, *markers)
                assert response.status_code == 200, response.text
                version = response.json()["version"]
                check_backlog_cap(entry, limit, len(markers))
                assert (await owner.ops(map_id, {"op": "clear"})).status_code == 200
                version += 1
                check_backlog_cap(entry, limit, 1)
                await healthy.read_until(b"id: %d\n" % version)  # it keeps up
    except trio.TooSlowError:
        held = sorted(waiting(viewer) for viewer in entry.subscribers)
        raise AssertionError(
            f"no viewer was dropped in 30 s; frames waiting per viewer: {held} (subscriber_buffer={limit})"
        ) from None
    assert server.hub.statistics().subscribers == 1, "only the stuck viewer went"
    ids = [int(line[4:]) for line in healthy.body.split(b"\n") if line.startswith(b"id: ")]
    assert ids == list(range(ids[0], version + 1))
    await stuck.stream.aclose()
    await healthy.stream.aclose()


async def test_a_write_is_taken_whole_so_a_batch_bigger_than_the_buffer_drops_no_viewer(served) -> None:
    """A batch of ops is one write of many events. Its frames reach a viewer whose socket is full
    for a moment together: taken whole unless ``--subscriber-buffer`` frames were already waiting.
    Offered one by one, a batch bigger than the buffer dropped it (a browser dropped comes back
    only after its ``retry``); a viewer that stays behind is still dropped at its next write."""
    server, owner, map_id = served
    limit = server.hub.fanout.subscriber_buffer
    entry = server.hub.find(map_id)
    assert entry is not None
    slow = await Connection.open(server, receive_buffer=4096)
    label = "x" * 200
    size = 4 * limit  # events a write

    async def batch(prefix: str) -> int:
        ops = [marker(f"{prefix}{i}", 0, i / 100, label) for i in range(size)]
        response = await owner.ops(map_id, *ops)
        assert response.status_code == 200, response.text
        return int(response.json()["version"])

    with trio.fail_after(30):
        assert (await slow.request("GET", f"/m/{map_id}/events", cookie_of(owner))).status_code == 200
        (viewer,) = entry.subscribers
        written = 0
        while not waiting(viewer):  # until its socket is full and frames wait
            version = await batch(f"w{written}-")
            written += 1
        before = waiting(viewer)
        assert before < limit, f"{before} frames waiting after a write that filled the socket"
        version = await batch("whole-")
        assert viewer in entry.subscribers, (
            f"a write of {size} events dropped a viewer {before} frames behind"
        )
        assert waiting(viewer) == before + size, "the write's frames wait, each once"
        assert server.hub.statistics().subscribers_dropped == 0
        await slow.read_until(b"id: %d\n" % version)
        ids = [int(line[4:]) for line in slow.body.split(b"\n") if line.startswith(b"id: ")]
        assert ids == list(range(ids[0], version + 1)), "every event once, in order"
        more = 0
        while viewer in entry.subscribers:  # it stops reading: dropped once it is behind
            held = waiting(viewer)
            more += 1
            await batch(f"more{more}-")
            assert viewer in entry.subscribers or held >= limit, f"dropped {held} frames behind"
    assert server.hub.statistics().subscribers_dropped == 1
    await slow.stream.aclose()


async def test_a_viewer_that_leaves_is_forgotten_without_counting_as_dropped(served) -> None:
    server, owner, map_id = served
    conn = await Connection.open(server)
    with trio.fail_after(10):
        await conn.request("GET", f"/m/{map_id}/events", cookie_of(owner))
        await conn.read_until(b"event: snapshot")
        await conn.stream.aclose()
        await wait_until(lambda: server.hub.statistics().subscribers == 0)
        assert (await owner.ops(map_id, {"op": "set_title", "title": "after"})).status_code == 200
    assert server.hub.statistics().subscribers_dropped == 0


# --- SocketViewer on a socket pair ------------------------------------------------------------


def pair() -> tuple[trio.socket.SocketType, socket.socket]:
    """A TCP connection on the loopback, as a stream has: the server's end for a viewer, and the
    client's. Small buffers, so a few frames fill them and writes come back partial."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        client.connect(listener.getsockname())
        server, _ = listener.accept()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    server.setblocking(False)
    return trio.socket.from_stdlib_socket(server), client


async def receive(peer: socket.socket, size: int) -> bytes:
    received = b""
    peer.setblocking(False)
    while len(received) < size:
        await trio.lowlevel.wait_readable(peer)
        part = peer.recv(65536)
        assert part, "the connection ended early"
        received += part
    return received


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size, data = data.split(b"\r\n", 1)
        n = int(size, 16)
        out += data[:n]
        assert data[n : n + 2] == b"\r\n"
        data = data[n + 2 :]
    return out


def read_all(peer: socket.socket) -> bytes:
    peer.setblocking(False)
    data = b""
    while True:
        try:
            part = peer.recv(65536)
        except BlockingIOError:
            return data
        if not part:
            return data
        data += part


async def start(nursery: trio.Nursery, viewer: SocketViewer, first: bytes, receive: Any) -> None:
    """Run the viewer as a stream's task would, once it has written ``first`` (it lets go of its
    initial frames then)."""
    nursery.start_soon(viewer.run, first, receive)
    await wait_until(lambda: viewer.initial == [])


class Client:
    """What ``SocketViewer.run`` waits on: the ASGI receive of a client that leaves when told."""

    def __init__(self) -> None:
        self.send, inbox = trio.open_memory_channel[dict[str, str]](1)
        self.receive = inbox.receive

    def leave(self) -> None:
        self.send.send_nowait({"type": "http.disconnect"})


async def test_socket_viewer_asks_the_standard_socket_for_its_descriptor_and_gets_minus_one_once_closed() -> (
    None
):
    """The fast path (no Python call of trio's per write) is taken; when trio stops keeping the
    standard socket, this fails rather than the fan-out quietly taking the slower path."""
    sock, peer = pair()
    viewer = SocketViewer(sock, [], 4, 0)
    fileno = viewer._fileno
    assert isinstance(getattr(fileno, "__self__", None), socket.socket)
    assert fileno() == sock.fileno() >= 0
    sock.close()
    assert fileno() == -1  # what every write checks first
    peer.close()


async def test_socket_viewer_holds_until_it_runs_then_writes_in_order() -> None:
    sock, peer = pair()
    viewer = SocketViewer(sock, [b"snap"], 4, 0)
    assert viewer.offer(b"e1", chunk(b"e1"))  # before the head is out: held
    assert read_all(peer) == b""
    client = Client()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await start(nursery, viewer, b"first", client.receive)
            assert viewer.offer(b"e2", chunk(b"e2"))
            assert dechunk(read_all(peer)) == b"firste1e2"
            client.leave()
    assert viewer.ended == "left"
    assert not viewer.offer(b"e3", chunk(b"e3")), "a viewer that left takes nothing more"
    sock.close()
    peer.close()


async def test_socket_viewer_backlog_drains_in_order_and_a_full_one_lags() -> None:
    sock, peer = pair()
    viewer = SocketViewer(sock, [b"snapshot"], 8, 0)
    big = frame("y" * 300, id=1)
    sent = chunk(b"x")
    client = Client()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await start(nursery, viewer, b"x", client.receive)
            offered = 0
            while viewer.offer(big, chunk(big)):  # the socket fills, then 8 frames wait
                sent += chunk(big)
                offered += 1
                assert waiting(viewer) <= 8, (
                    f"the viewer let {waiting(viewer)} frames wait, over its limit of 8"
                )
                assert offered < 10_000, "the socket never filled"
            assert viewer.lagging
            assert offered > 8, "frames went straight to the socket until it was full"
            # as the client reads, the stream's task drains (in partial writes: small buffers)
            assert await receive(peer, len(sent)) == sent, "the backlog went out whole and in order"
            await wait_until(
                lambda: viewer.offer(b"again", chunk(b"again"))
            )  # drained: it takes frames again
            client.leave()
    assert dechunk(await receive(peer, len(chunk(b"again")))) == b"again"
    sock.close()
    peer.close()


async def test_socket_viewer_drains_a_backlog_of_more_frames_than_one_writev_takes() -> None:
    """Thousands of frames waiting (more than a writev may name), written in pieces that end
    inside a frame as often as not."""
    sock, peer = pair()
    viewer = SocketViewer(sock, [b"snapshot"], 5000, 0)
    small = frame("z" * 200, id=2)
    sent = chunk(b"x")
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await start(nursery, viewer, b"x", Client().receive)
            for _ in range(3000):  # ~650 KB: the small socket takes a few; thousands wait
                assert viewer.offer(small, chunk(small))
                sent += chunk(small)
            assert await receive(peer, len(sent)) == sent
            assert not viewer.ended
            nursery.cancel_scope.cancel()
    sock.close()
    peer.close()


async def test_socket_viewer_writes_a_snapshot_bigger_than_the_socket_holds() -> None:
    """A big map's snapshot does not fit the socket's buffers: the stream's task writes the
    rest as the client reads, and frames offered meanwhile come after it."""
    sock, peer = pair()
    viewer = SocketViewer(sock, [b"snapshot"], 8, 0)
    snapshot = frame("s" * 1_000_000, event="snapshot", id=1)
    later = frame("after", id=2)
    client = Client()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await start(nursery, viewer, snapshot, client.receive)
            assert viewer.offer(later, chunk(later))
            received = await receive(peer, len(chunk(snapshot)) + len(chunk(later)))
            assert dechunk(received) == snapshot + later
            client.leave()
    assert viewer.ended == "left"
    sock.close()
    peer.close()


async def test_socket_viewer_takes_exactly_its_limit_of_frames_while_held() -> None:
    for limit in (1, 3):
        sock, peer = pair()
        viewer = SocketViewer(sock, [b"snapshot"], limit, 0)
        for _ in range(limit):
            assert viewer.offer(b"f", chunk(b"f"))
        assert not viewer.lagging
        assert not viewer.offer(b"f", chunk(b"f")), f"frame {limit + 1} is one too many"
        assert viewer.lagging
        sock.close()
        peer.close()


async def test_socket_viewer_takes_several_frames_at_once_in_order_each_counted_while_held() -> None:
    """``offer_many`` (a crowd's pump, frames queued behind each other): written together when
    nothing waits, gzip ones deflated frame by frame, and each frame counted against the limit
    when they must wait."""
    frames = [(f, chunk(f)) for f in (frame("a", id=1), frame("b", id=2), frame("c", id=3))]
    joined = b"".join(c for _, c in frames)
    for gzip in (None, Deflated()):
        sock, peer = pair()
        viewer = SocketViewer(sock, [b"snapshot"], 4, 0, gzip=gzip)
        client = Client()
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                await start(nursery, viewer, b"x" if gzip is None else (b"x", []), client.receive)
                assert viewer.offer_many(frames, joined)
                raw, body = b"", b""
                while not body.endswith(b"data: c\n\n"):  # the opening, then the three frames
                    raw += await receive(peer, 1)
                    if raw.endswith(b"\r\n"):  # whole chunks so far
                        body = dechunk(raw)
                        if gzip is not None:
                            body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body)
                assert body == b"x" + b"".join(f for f, _ in frames), body
                client.leave()
        sock.close()
        peer.close()
    sock, peer = pair()
    held = SocketViewer(sock, [b"snapshot"], 4, 0)  # before its head is out, every frame waits
    assert held.offer_many(frames, joined) and waiting(held) == 3, "three frames, three places"
    assert held.offer_many(frames[:2], b"") and waiting(held) == 5, "fewer than 4 waited: both taken"
    assert not held.lagging
    assert not held.offer(*frames[2]), "5 wait, the limit is 4: refused"
    assert held.lagging
    sock.close()
    peer.close()


async def test_socket_viewer_whose_client_resets_while_a_backlog_waits_ends_failed() -> None:
    sock, peer = pair()
    viewer = SocketViewer(sock, [b"snapshot"], 10_000, 0)
    big = frame("y" * 300, id=1)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await start(nursery, viewer, b"x", Client().receive)
            for _ in range(500):  # more than the socket holds: the stream's task drains the rest
                assert viewer.offer(big, chunk(big))
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            peer.close()  # with unread data and a zero linger: a reset
            # run returns by itself (the client never sent a disconnect)
    assert viewer.ended == "failed"
    assert not viewer.offer(big, chunk(big))
    sock.close()


async def test_socket_viewer_whose_client_reset_an_idle_stream_fails_at_its_next_frame() -> None:
    """The client resets a stream with nothing waiting: the next frame's write fails at once, the
    offer says so (the fan-out drops the viewer then, not one event later), and the stream's task
    ends without waiting for a disconnect that never comes."""
    sock, peer = pair()
    viewer = SocketViewer(sock, [b"snapshot"], 8, 0)
    late = frame("late", id=2)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await start(nursery, viewer, b"hello", Client().receive)
            assert dechunk(await receive(peer, len(chunk(b"hello")))) == b"hello"
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            peer.close()  # a zero linger: a reset
            await trio.lowlevel.wait_readable(sock)  # the reset has arrived
            assert viewer.offer(late, chunk(late)) is False
            assert viewer.ended == "failed" and viewer.lagging is False
        # run returned by itself
    sock.close()


async def test_socket_viewer_never_writes_to_a_descriptor_it_no_longer_owns() -> None:
    """Once hypercorn closed the connection, its descriptor number may go to another one at
    once: the viewer must not write there (it would be another user's stream)."""
    sock, peer = pair()
    viewer = SocketViewer(sock, [b"snapshot"], 8, 0)
    client = Client()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await start(nursery, viewer, b"hello", client.receive)
            number = sock.fileno()
            sock.close()
            other, other_peer = socket.socketpair()
            if number not in (other.fileno(), other_peer.fileno()):
                os.dup2(other.fileno(), number)  # the old number now names another connection
            assert not viewer.offer(b"late", chunk(b"late"))
            assert viewer.ended == "failed"
            assert viewer.lagging is False, "a failed write is not a slow viewer (not counted as dropped)"
        # run returned by itself: the client never left
    assert read_all(other_peer) == b"" and read_all(other) == b""
    assert dechunk(read_all(peer)) == b"hello"
    if number not in (other.fileno(), other_peer.fileno()):
        os.close(number)
    for s in (other, other_peer, peer):
        s.close()
