"""A small ASGI app on a real hypercorn with mapsrv's configuration (``hypercorn_config``), for
tests of what mapsrv changes in hypercorn: the keep-alive timer, the head written with its body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import hypercorn.trio
import trio

from mapsrv.http.hypercorn import _CONNECTION, hypercorn_config

from .raw_http import RawConnection

__all__ = ["App", "Running", "answered", "lifespan", "read_body", "serving"]


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> bool:
    """Answer hypercorn's lifespan messages for a test app: True when ``scope`` was the lifespan
    (then it has been served), False for a request."""
    if scope["type"] != "lifespan":
        return False
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})
    return True


async def read_body(receive: Any) -> bytes:
    """A request's whole body, however many messages it came in."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


@dataclass
class App:
    """A small ASGI app: ``/`` answers at once, ``/slow`` after ``slow`` seconds or, when it is
    None, once ``release`` is set. It notes the timer of each request's connection."""

    slow: float | None = None
    release: trio.Event = field(default_factory=trio.Event)
    slow_started: trio.Event = field(default_factory=trio.Event)
    timers: list[object] = field(default_factory=list)
    body: bytes = b"done"  # every answer's, sent in one message with its Content-Length
    declared: int | None = None  # a Content-Length other than the body's (a broken app)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        self.timers.append(_CONNECTION.get().idle_task)
        if scope["path"] == "/slow":
            self.slow_started.set()
            if self.slow is None:
                await self.release.wait()
            else:
                await trio.sleep(self.slow)
        length = len(self.body) if self.declared is None else self.declared
        headers = [(b"content-length", str(length).encode()), (b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


@dataclass
class Running:
    host: str
    port: int
    stop: trio.Event
    stopped: trio.Event

    async def connect(self) -> RawConnection:
        return await RawConnection.open(self.host, self.port)

    def get(self, path: str = "/") -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode()


@asynccontextmanager
async def serving(app: App, keep_alive: float) -> AsyncIterator[Running]:
    config = hypercorn_config(
        "127.0.0.1", 0, graceful_timeout=5, log="tests.keep_alive", keep_alive=keep_alive
    )
    stop, stopped = trio.Event(), trio.Event()
    async with trio.open_nursery() as nursery:

        async def serve(*, task_status: trio.TaskStatus[list[str]]) -> None:
            try:
                await hypercorn.trio.serve(app, config, shutdown_trigger=stop.wait, task_status=task_status)
            finally:
                stopped.set()

        [bound] = await nursery.start(serve)
        host, port = bound.split("://", 1)[1].rsplit(":", 1)
        running = Running(host, int(port), stop, stopped)
        yield running
        stop.set()


async def answered(connection: RawConnection, request: bytes) -> bytes:
    await connection.send(request)
    response = await connection.read_response()
    assert response.status == 200
    return response.body
