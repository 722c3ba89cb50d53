"""Fixtures that start real servers on port 0 inside the test's own nursery."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import trio
from bench.harness import free_port
from httpx_sse import aconnect_sse

from mapsrv.config import Config
from mapsrv.server import Server, serve

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


async def wait_until(predicate: Callable[[], Any], timeout: float = 5) -> None:  # noqa: ASYNC109
    """Poll a condition that has no event to wait on (a count inside the server or the SDK, a
    status only another process knows), failing after ``timeout`` seconds. ``predicate`` may be
    async."""
    with trio.fail_after(timeout):
        while True:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            await trio.sleep(0.05)


def require(condition: bool, what: str) -> None:
    """A missing dependency fails in CI and skips elsewhere."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not available")


def make_config(**changes: Any) -> Config:
    return Config(host="127.0.0.1", port=0, graceful_timeout=2.0).replace(**changes)


async def start_server(nursery: trio.Nursery, **changes: Any) -> Server:
    server: Server = await nursery.start(serve, make_config(**changes))
    return server


@pytest.fixture
async def server(nursery: trio.Nursery) -> Server:
    return await start_server(nursery)


class Browser:
    """An HTTP client with its own cookie jar: one browser, as the server sees it (or, given
    ``cookies``, the same browser talking to another server)."""

    def __init__(self, base: str, cookies: httpx.Cookies | None = None) -> None:
        self.base = base.rstrip("/")
        self.client = httpx.AsyncClient(base_url=self.base, cookies=cookies, timeout=10)

    async def new_map(self) -> str:
        response = await self.client.get("/")
        assert response.status_code == 303
        return str(response.headers["location"].rsplit("/", 1)[1])

    async def ops(self, map_id: str, *ops: dict[str, Any], **extra: Any) -> httpx.Response:
        return await self.client.post(f"/m/{map_id}/ops", json={"ops": list(ops), **extra})

    async def state(self, map_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/m/{map_id}/state")
        response.raise_for_status()
        return dict(response.json())

    async def aclose(self) -> None:
        await self.client.aclose()


@pytest.fixture
async def browser_factory(server: Server) -> AsyncIterator[Callable[[], Browser]]:
    made: list[Browser] = []

    def make() -> Browser:
        made.append(Browser(server.url))
        return made[-1]

    yield make
    for b in made:
        await b.aclose()


class EventStream:
    """Reads one SSE stream into a list, in the background, for assertions under fail_after."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []  # (event, id, data)
        self.retry: int | None = None
        self.retries: list[int] = []  # every retry: field, in order (the last is a shutdown hint)
        self.status: int | None = None
        self.ended = trio.Event()
        self.error: Exception | None = None
        self.changed = trio.Event()

    async def wait_for(self, predicate: Callable[[list[tuple[str, str, dict[str, Any]]]], bool]) -> None:
        while not predicate(self.events):
            await self.changed.wait()


async def open_stream(
    nursery: trio.Nursery, client: httpx.AsyncClient, path: str, *, last_event_id: str | None = None
) -> EventStream:
    stream = EventStream()
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}

    async def run(task_status: trio.TaskStatus[None]) -> None:
        try:
            async with aconnect_sse(client, "GET", path, headers=headers, timeout=None) as source:
                stream.status = source.response.status_code
                task_status.started()
                async for sse in source.aiter_sse():
                    if sse.retry is not None:
                        stream.retry = sse.retry
                        stream.retries.append(sse.retry)
                    if sse.event in ("snapshot", "change"):
                        stream.events.append((sse.event, sse.id, json.loads(sse.data)))
                        stream.changed.set()
                        stream.changed = trio.Event()
        except httpx.TransportError as exc:  # the client was closed, or the server went away
            stream.error = exc
        finally:
            stream.ended.set()
            stream.changed.set()

    await nursery.start(run)
    return stream


class RedisServer:
    """A private ``redis-server`` in the foreground on a free port, stopped by its PID."""

    def __init__(self, directory: str, *, persist: bool = False) -> None:
        import shutil

        self.binary = shutil.which("redis-server")
        require(self.binary is not None, "redis-server")
        self.port = free_port()
        self.directory = directory
        self.persist = persist
        self.process: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else ["--appendonly", "no"]
        )
        command = [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--dir", self.directory, *persistence]  # fmt: skip
        self.process = await trio.lowlevel.open_process(command, stdout=subprocess.DEVNULL)
        await wait_until(self.answers_ping, timeout=10)

    async def answers_ping(self) -> bool:
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", self.port)
        except OSError:
            return False
        async with stream:
            await stream.send_all(b"PING\r\n")
            return (await stream.receive_some(64)).startswith(b"+PONG")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            with trio.move_on_after(10):
                await self.process.wait()
            self.process.kill()
        self.process = None


@pytest.fixture
async def redis_server(tmp_path) -> AsyncIterator[RedisServer]:
    server = RedisServer(str(tmp_path), persist=True)
    await server.start()
    try:
        yield server
    finally:
        with trio.CancelScope(shield=True):
            await server.stop()
