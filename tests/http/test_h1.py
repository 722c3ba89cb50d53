"""``mapsrv.http.h1``: HTTP/1.1 parsed by httptools in a real hypercorn, keeping what h11 did for
the rest of hypercorn and for clients: one request at a time, limits on the head, 100-continue,
framing by version and status, and when a connection may be used again. Responses are read with
h11 (a strict parser), requests written by hand so that each test controls every byte."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import h11
import hypercorn.trio
import pytest
import trio
from support.hypercorn_app import lifespan, read_body
from support.raw_http import RawConnection

from mapsrv.http.h1 import H1Protocol
from mapsrv.http.hypercorn import _CONNECTION, hypercorn_config

SPLITTING = {
    "/value-crlf": (b"x-title", b"a\r\nset-cookie: session=stolen"),
    "/value-lf": (b"x-title", b"a\nset-cookie: session=stolen"),
    "/value-nul": (b"x-title", b"a\x00b"),
    "/name-crlf": (b"x-a\r\nset-cookie", b"session=stolen"),
    "/name-colon": (b":status", b"204"),
    "/name-space": (b"set-cookie x", b"1"),
}


@dataclass
class Echo:
    """Answers each request with what it saw; ``/hold`` waits for ``release``; ``/stream`` answers
    in two parts without a Content-Length; ``/early`` answers before reading its body; ``/empty``
    is a 204. ``seen`` is the paths in the order their requests began."""

    release: trio.Event = field(default_factory=trio.Event)
    seen: list[str] = field(default_factory=list)
    heads: list[list[tuple[bytes, bytes]]] = field(default_factory=list)  # each request's headers
    protocols: list[str] = field(default_factory=list)
    shortcuts: list[tuple[str, bool]] = field(default_factory=list)  # timer, spawn direct

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        self.seen.append(scope["path"])
        self.heads.append(scope["headers"])
        protocol = _CONNECTION.get().protocol.protocol
        self.protocols.append(type(protocol).__name__)
        self.shortcuts.append((type(protocol._timer).__name__, isinstance(protocol._spawn, partial)))
        body = await read_body(receive) if scope["path"] != "/early" else b""
        if scope["path"] == "/hold":
            await self.release.wait()
        if scope["path"] == "/short":  # declares 10 bytes, sends 5: the connection must end
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]}
            )
            await send({"type": "http.response.body", "body": b"short"})
            return
        if scope["path"] in SPLITTING:  # a header that would split the head if written as given
            await send({"type": "http.response.start", "status": 200, "headers": [SPLITTING[scope["path"]]]})
            await send({"type": "http.response.body", "body": b"<script>stolen()</script>"})
            return
        if scope["path"] == "/empty":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        said = f"{scope['method']} {scope['path']} {scope['http_version']} {len(body)}".encode() + body
        if scope["path"] == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": said, "more_body": True})
            await send({"type": "http.response.body", "body": b"|end"})
            return
        headers = [(b"content-length", str(len(said)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": said})


@dataclass
class Served:
    app: Echo
    host: str
    port: int

    async def connect(self) -> RawConnection:
        return await RawConnection.open(self.host, self.port)


@asynccontextmanager
async def served(max_requests: int | None = None, **timeouts: float) -> AsyncIterator[Served]:
    config = hypercorn_config(
        "127.0.0.1", 0, graceful_timeout=5, log="tests.h1", **({"keep_alive": 30} | timeouts)
    )
    if max_requests is not None:
        config.keep_alive_max_requests = max_requests
    app, stop = Echo(), trio.Event()
    async with trio.open_nursery() as nursery:
        run = partial(hypercorn.trio.serve, app, config, shutdown_trigger=stop.wait)
        [bound] = await nursery.start(lambda task_status: run(task_status=task_status))
        host, port = bound.split("://", 1)[1].rsplit(":", 1)
        yield Served(app, host, int(port))
        stop.set()


def get(path: str, *headers: str, version: str = "1.1") -> bytes:
    return "\r\n".join([f"GET {path} HTTP/{version}", "Host: x", *headers, "", ""]).encode()


async def until_closed(conn: RawConnection) -> bytes:
    data = b""
    try:
        while part := await conn.stream.receive_some(65536):
            data += part
    except trio.BrokenResourceError:  # a reset after the last bytes
        pass
    return data


async def ended(conn: RawConnection) -> bytes:
    """What the server says to one more request on the connection: nothing, when it has ended it
    (an answer here means the connection was kept)."""
    try:
        await conn.send(get("/after"))
    except trio.BrokenResourceError:
        return b""
    with trio.move_on_after(5):
        return await until_closed(conn)
    return b"(the connection is still open)"


async def test_every_connection_is_served_by_h1() -> None:
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(get("/"))
            assert (await conn.read_response()).body == b"GET / 1.1 0"
    assert server.app.protocols == ["H1Protocol"]


async def test_the_keep_alive_timer_is_told_and_the_task_started_without_hypercorns_layers() -> None:
    """In a real hypercorn, ``H1Protocol`` finds mapsrv's keep-alive timer behind ``send`` and
    hypercorn's nursery behind its task group (both private: a hypercorn that moves them would
    leave mapsrv correct but slower, and this says so)."""
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(get("/"))
            assert (await conn.read_response()).status == 200
    assert server.app.shortcuts == [("KeepAliveTimer", True)]


async def test_pipelined_requests_wait_for_the_answer_before_them() -> None:
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(get("/hold") + get("/second"))
            while not server.app.seen:
                await trio.lowlevel.checkpoint()
            for _ in range(50):
                await trio.lowlevel.checkpoint()
            assert server.app.seen == ["/hold"], "the second request waits for the first's answer"
            server.app.release.set()
            assert (await conn.read_response()).body == b"GET /hold 1.1 0"
            assert (await conn.read_response()).body == b"GET /second 1.1 0"
        assert server.app.seen == ["/hold", "/second"]


@pytest.mark.parametrize("split", [False, True])
async def test_a_head_past_the_limit_is_refused_431_and_the_connection_closed(split: bool) -> None:
    """A whole head too long, or one unfinished header growing past the limit (never ended: the
    server must not wait for its end)."""
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            if split:  # just past the limit, then no more: the server has read it all when it refuses
                await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: ")
                for _ in range(16):
                    await conn.send(b"a" * 4096)
            else:
                await conn.send(get("/", f"X-Long: {'a' * 70_000}"))
            await conn.stream.send_eof()  # no more: without the limit the server closes, unanswered
            answer = await until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    assert server.app.seen == []


async def test_a_head_just_under_the_limit_in_several_reads_is_served() -> None:
    async with served() as server:
        conn = await server.connect()
        request = get("/", f"X-Long: {'a' * 60_000}")
        with trio.fail_after(10):
            for start in range(0, len(request), 7000):
                await conn.send(request[start : start + 7000])
            assert (await conn.read_response()).body == b"GET / 1.1 0"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    ],
    ids=["garbage", "two lengths", "bad chunk"],
)
async def test_a_request_that_cannot_be_read_is_refused_400_and_closed(request_bytes: bytes) -> None:
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(request_bytes)
            answer = await until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 400 ") or b"HTTP/1.1 400 " in answer, answer[:200]


async def test_expect_100_continue_is_answered_before_the_body_is_sent() -> None:
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(
                b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
            )
            interim = b""
            with trio.move_on_after(5):  # a client waits a while for it, then sends the body anyway
                interim = await conn.stream.receive_some(65536)
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            await conn.send(b"hello")
            assert (await conn.read_response()).body == b"POST /up 1.1 5hello"


async def test_a_chunked_request_body_arrives_whole() -> None:
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
            await conn.send(b"2\r\nde\r\n0\r\n\r\n")
            assert (await conn.read_response()).body == b"POST /up 1.1 5abcde"
            await conn.send(get("/again"))
            assert (await conn.read_response()).body == b"GET /again 1.1 0"


async def test_an_answer_without_a_length_is_chunked_to_http_1_1_and_the_connection_stays() -> None:
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(get("/stream"))
            streamed = await conn.read_response()
            assert streamed.headers["transfer-encoding"] == "chunked"
            assert streamed.body == b"GET /stream 1.1 0|end"
            await conn.send(get("/again"))
            assert (await conn.read_response()).body == b"GET /again 1.1 0"


async def test_http_1_0_keep_alive_is_not_kept_unless_the_server_chose_to() -> None:
    """HTTP/1.0's ``Connection: keep-alive`` asks; h11 and mapsrv answer and close all the same."""
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(get("/", "Connection: keep-alive", version="1.0"))
            answer = await conn.read_response()
            assert answer.body == b"GET / 1.0 0"
            assert answer.headers.get("connection") == "close", answer.headers
            assert await ended(conn) == b""


async def test_an_answer_shorter_than_its_length_ends_the_connection() -> None:
    async with served() as server:
        conn, answer = await server.connect(), b""
        with trio.move_on_after(10):
            await conn.send(get("/short"))
            answer = await until_closed(conn)
        assert answer.endswith(b"\r\n\r\nshort"), "the short answer is sent and the connection ends"


async def test_http_1_0_gets_an_answer_ended_by_the_connection() -> None:
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(get("/stream", version="1.0"))
            answer = await until_closed(conn)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower() and b"connection: close" in head.lower()
    assert body == b"GET /stream 1.0 0|end"


@pytest.mark.parametrize(("method", "path"), [("HEAD", "/"), ("GET", "/empty")])
async def test_head_and_204_answers_have_no_body(method: str, path: str) -> None:
    """The next answer on the connection is read whole right after: a stray body byte would
    have broken it."""
    async with served() as server:
        conn = await server.connect()
        client = h11.Connection(h11.CLIENT)
        answers: list[list[Any]] = []
        with trio.fail_after(10):
            await conn.send(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() + get("/next"))
            for request in (h11.Request(method=method, target=path, headers=[("Host", "x")]), None):
                if request is None:
                    client.start_next_cycle()
                    request = h11.Request(method="GET", target="/next", headers=[("Host", "x")])
                client.send(request)
                client.send(h11.EndOfMessage())
                events: list[Any] = []
                while not events or not isinstance(events[-1], h11.EndOfMessage):
                    event = client.next_event()
                    if event is h11.NEED_DATA:
                        client.receive_data(await conn.stream.receive_some(65536))
                    else:
                        events.append(event)
                answers.append(events)
    first, second = answers
    assert [type(e) for e in first] == [h11.Response, h11.EndOfMessage], first
    assert b"".join(e.data for e in second if isinstance(e, h11.Data)) == b"GET /next 1.1 0"


@pytest.mark.parametrize("why", ["client", "max requests"])
async def test_a_connection_that_must_end_says_so_and_ends(why: str) -> None:
    async with served(max_requests=1 if why == "max requests" else None) as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(get("/", "Connection: close") if why == "client" else get("/"))
            answer = await conn.read_response()
            assert answer.headers.get("connection") == "close"
            assert await ended(conn) == b""


async def test_an_answer_before_the_whole_body_ends_the_connection() -> None:
    """The rest of the body could be taken for a next request: the connection is not reused."""
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(b"POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf!")
            answer = await conn.read_response()
            assert answer.body == b"POST /early 1.1 0"
            assert answer.headers.get("connection") == "close", answer.headers
            assert await ended(conn) == b""


async def test_an_upgrade_is_answered_as_plain_http_and_ends_the_connection() -> None:
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(get("/ws", "Connection: Upgrade", "Upgrade: websocket") + b"\x81\x00garbage")
            assert (await conn.read_response()).body == b"GET /ws 1.1 0"
            assert await ended(conn) == b""


def test_the_protocol_is_what_hypercorn_makes_each_connection_with() -> None:
    import hypercorn.protocol

    hypercorn_config("127.0.0.1", 0, graceful_timeout=1, log="tests.h1")
    assert hypercorn.protocol.H11Protocol is H1Protocol


async def one_answer(conn: RawConnection) -> tuple[bytes, bytes]:
    """An answer's head and its Content-Length of body, however the head was written."""
    data = b""
    while b"\r\n\r\n" not in data and (part := await conn.stream.receive_some(65536)):
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    while length and len(body) < int(length.group(1)) and (part := await conn.stream.receive_some(65536)):
        body += part
    return head, body


@pytest.mark.parametrize("path", sorted(SPLITTING))
async def test_a_response_header_that_would_split_the_head_is_refused_500(path: str) -> None:
    """A name that is not a token or a value with CR, LF or NUL is never written: the app's
    answer becomes a 500 that ends the connection (h11 refused them too), and nothing of it
    reaches the client (no header of the writer's, no body)."""
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(get(path))
            head, body = await one_answer(conn)
        assert head.startswith(b"HTTP/1.1 500 "), head
        assert b"stolen" not in head and b"x-title" not in head and body == b"", (head, body)
        assert b"connection: close" in head.lower()
        assert await ended(conn) == b""
