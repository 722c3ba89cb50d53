"""``mapsrv.http.h1_exchange`` runs a request's ASGI app as hypercorn's own ``HTTPStream`` does:
each case below is served twice in a real hypercorn, once by mapsrv's HTTP/1.1 protocol and once
by hypercorn's own (h11 and ``HTTPStream``), and both must give the app and the client the same:
the scope, the body, a 500 for an app that answers nothing or raises, an error in the app for a
message out of order, ``http.disconnect`` after the answer, and the answer's framing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import h11
import hypercorn.protocol
import hypercorn.protocol.h11
import hypercorn.trio
import pytest
import trio
import trio.testing
from support.hypercorn_app import lifespan, read_body
from support.raw_http import RawConnection, RawResponse

from mapsrv.http.h1 import H1Protocol
from mapsrv.http.h1_exchange import H1Exchange
from mapsrv.http.hypercorn import hypercorn_config

PROTOCOLS = {"mapsrv": H1Protocol, "hypercorn": hypercorn.protocol.h11.H11Protocol}


@dataclass
class Cases:
    """``/scope`` answers with nothing and keeps its scope; ``/silent`` returns without answering;
    ``/raise`` raises; ``/body-first`` sends a body before the start; ``/twice`` sends a second
    start; ``/after`` answers, then waits for what ``receive`` gives next; ``/echo`` answers with
    its body; ``/head`` answers a HEAD with a body."""

    scopes: list[dict[str, Any]] = field(default_factory=list)
    raised: list[str] = field(default_factory=list)  # what a send out of order raised in the app
    after: list[str] = field(default_factory=list)  # what receive gave after the answer

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        path = scope["path"]
        body = await read_body(receive)
        if path == "/silent":
            return
        if path == "/raise":
            raise RuntimeError("a bug in the app")
        if path in ("/body-first", "/twice"):
            try:
                if path == "/twice":
                    await send({"type": "http.response.start", "status": 200, "headers": []})
                    await send({"type": "http.response.start", "status": 200, "headers": []})
                else:
                    await send({"type": "http.response.body", "body": b"x"})
            except Exception as exc:
                self.raised.append(type(exc).__name__)
                raise
            return
        if path == "/scope":
            self.scopes.append(dict(scope))
        said = body if path == "/echo" else b"ok"
        headers = [(b"content-length", str(len(said)).encode()), (b"x-case", path.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": said})
        if path == "/after":
            self.after.append((await receive())["type"])


@asynccontextmanager
async def served(protocol: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Cases, int]]:
    config = hypercorn_config("127.0.0.1", 0, graceful_timeout=5, log="tests.h1_exchange", keep_alive=30)
    monkeypatch.setattr(hypercorn.protocol, "H11Protocol", PROTOCOLS[protocol])
    app, stop = Cases(), trio.Event()
    async with trio.open_nursery() as nursery:
        run = partial(hypercorn.trio.serve, app, config, shutdown_trigger=stop.wait)
        [bound] = await nursery.start(lambda task_status: run(task_status=task_status))
        yield app, int(bound.rsplit(":", 1)[1])
        stop.set()


def request(method: str, path: str, body: bytes = b"", *headers: str) -> bytes:
    lines = [f"{method} {path}?a=1&b=%20 HTTP/1.1", "Host: x", f"Content-Length: {len(body)}", *headers]
    return "\r\n".join([*lines, "", ""]).encode() + body


async def exchange(port: int, *requests: bytes) -> tuple[list[Any], bool]:
    """The answers to ``requests`` on one connection (or how reading one failed: then the rest
    are not sent), and whether the server then closed it."""
    conn = await RawConnection.open("127.0.0.1", port)
    answers: list[Any] = []
    closed = False
    with trio.fail_after(10):
        for sent in requests:
            await conn.send(sent)
            try:
                answer = await conn.read_response()
            except (EOFError, h11.RemoteProtocolError) as exc:
                answers.append(type(exc).__name__)
                break
            answers.append(comparable(answer))
            if answer.headers.get("connection") == "close":
                closed = await conn.closed_by_server()
                break
    await conn.stream.aclose()
    return answers, closed


def comparable(answer: RawResponse) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted((k, v) for k, v in answer.headers.items() if k not in ("date", "server"))
    return answer.status, headers, answer.body


async def both(monkeypatch: pytest.MonkeyPatch, *requests: bytes) -> dict[str, Any]:
    seen = {}
    for protocol in PROTOCOLS:
        async with served(protocol, monkeypatch) as (app, port):
            answers, closed = await exchange(port, *requests)
            seen[protocol] = (answers, closed, app)
    return seen


async def test_the_app_gets_the_scope_hypercorn_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = await both(monkeypatch, request("POST", "/scope", b"{}", "X-Two: a", "X-Two: b"))
    ours, theirs = (seen[p][2].scopes[0] for p in PROTOCOLS)
    for scope in (ours, theirs):
        assert scope["client"][0] == "127.0.0.1"
        scope["client"] = scope["server"] = None  # the ports differ from one server to the other
    assert ours == theirs
    assert list(ours) == list(theirs)  # the keys in the same order too
    assert ours["query_string"] == b"a=1&b=%20" and (b"x-two", b"b") in ours["headers"]


@pytest.mark.parametrize(
    "path", ["/silent", "/raise", "/body-first", "/twice", "/echo", "/after"], ids=lambda p: p[1:]
)
async def test_the_client_gets_what_hypercorns_own_stream_gives(
    path: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="tests.h1_exchange"):
        seen = await both(monkeypatch, request("POST", path, b'{"n": 1}'), request("GET", "/echo"))
    assert seen["mapsrv"][:2] == seen["hypercorn"][:2]
    answers, _, app = seen["mapsrv"]
    if path == "/twice":  # the answer began: it cannot become a 500, the connection ends
        assert answers == ["RemoteProtocolError"]
    elif path in ("/silent", "/raise", "/body-first"):
        assert answers[0][0] == 500 and ("connection", "close") in answers[0][1]
        assert len(answers) == 1 and seen["mapsrv"][1]  # the connection ended with the 500
    else:
        assert answers == [(200, answers[0][1], b'{"n": 1}' if path == "/echo" else b"ok"), answers[1]]
    if path in ("/body-first", "/twice"):
        assert app.raised == seen["hypercorn"][2].raised == ["UnexpectedMessageError"]
    if path == "/after":
        assert app.after == seen["hypercorn"][2].after == ["http.disconnect"]
    errors = [r for r in caplog.records if "Error in ASGI Framework" in r.getMessage()]
    assert len(errors) == (2 if path in ("/raise", "/body-first", "/twice") else 0)  # once by each


async def test_a_head_is_answered_without_its_body_as_hypercorn_does(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = await both(monkeypatch, request("HEAD", "/echo"), request("GET", "/echo"))
    assert seen["mapsrv"][:2] == seen["hypercorn"][:2]
    assert seen["mapsrv"][0][0][2] == b""


async def test_a_client_gone_mid_request_is_a_disconnect_to_the_app() -> None:
    """The app waiting for the rest of a body hears ``http.disconnect`` when the client leaves."""
    heard: list[str] = []
    gone = trio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        while (message := await receive())["type"] == "http.request":
            pass
        heard.append(message["type"])
        gone.set()

    config = hypercorn_config("127.0.0.1", 0, graceful_timeout=5, log="tests.h1_exchange", keep_alive=30)
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        run = partial(hypercorn.trio.serve, app, config, shutdown_trigger=stop.wait)
        [bound] = await nursery.start(lambda task_status: run(task_status=task_status))
        conn = await RawConnection.open("127.0.0.1", int(bound.rsplit(":", 1)[1]))
        await conn.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf")
        await conn.stream.aclose()
        with trio.fail_after(10):
            await gone.wait()
        stop.set()
    assert heard == ["http.disconnect"]


async def test_two_tasks_waiting_on_receive_get_one_message_each() -> None:
    """As on hypercorn's channel: a message goes to one of the tasks waiting, the next to the
    other, and neither waits for ever."""

    class Connection:
        async def respond(self, status: int, headers: list[tuple[bytes, bytes]]) -> None: ...
        async def body(self, data: bytes) -> None: ...
        async def end(self) -> None: ...
        async def recycle(self) -> None: ...

    exchange = H1Exchange(Connection(), hypercorn_config("127.0.0.1", 0, graceful_timeout=5, log="t"), {})
    got: list[str] = []

    async def waiter() -> None:
        got.append((await exchange.receive())["type"])

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            nursery.start_soon(waiter)
            await trio.testing.wait_all_tasks_blocked()
            exchange.put({"type": "http.request", "body": b"", "more_body": False})
            await trio.testing.wait_all_tasks_blocked()
            assert got == ["http.request"]
            await exchange.close()
    assert got == ["http.request", "http.disconnect"]


async def test_a_body_faster_than_the_app_reads_waits_in_tcp_not_in_memory() -> None:
    """A client sending 16 MB to an app that does not read yet: at most ``max_app_queue_size``
    parts wait for the app (the connection is not read further meanwhile); once the app reads,
    the whole body arrives."""
    release, holding = trio.Event(), []
    size = 16 * 1024 * 1024

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        holding.append(receive.__self__)
        await release.wait()
        said = str(len(await read_body(receive))).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(said))],
            }
        )
        await send({"type": "http.response.body", "body": said})

    config = hypercorn_config("127.0.0.1", 0, graceful_timeout=5, log="tests.h1_exchange", keep_alive=30)
    stop, sent = trio.Event(), trio.Event()
    async with trio.open_nursery() as nursery:
        run = partial(hypercorn.trio.serve, app, config, shutdown_trigger=stop.wait)
        [bound] = await nursery.start(lambda task_status: run(task_status=task_status))
        conn = await RawConnection.open("127.0.0.1", int(bound.rsplit(":", 1)[1]))

        async def send_body() -> None:
            await conn.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
            await conn.send(b"x" * size)
            sent.set()

        with trio.fail_after(30):
            nursery.start_soon(send_body)
            await trio.testing.wait_all_tasks_blocked()
            [exchange] = holding
            assert len(exchange._inbox) <= config.max_app_queue_size
            assert not sent.is_set()  # held back: the server stopped reading
            release.set()
            answer = await conn.read_response()
            assert (answer.status, answer.body) == (200, str(size).encode())
        stop.set()
