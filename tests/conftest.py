"""Fixtures that start real servers on port 0 inside the test's own nursery."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import trio
from support import IN_CI, EventStream, RedisServer, open_stream, require, wait_until

from mapsrv.config import Config
from mapsrv.server import Server, serve

if os.environ.get("MAPSRV_MUTATION"):  # tox -e mutation: a failing example is enough, unshrunk
    from hypothesis import Phase, settings

    settings.register_profile("mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate], database=None)
    settings.load_profile("mutation")

# Tests import these from here as well as from support.
__all__ = [
    "IN_CI",
    "Browser",
    "EventStream",
    "RedisServer",
    "make_config",
    "open_stream",
    "require",
    "start_server",
    "wait_until",
]


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


@pytest.fixture
async def redis_server(tmp_path) -> AsyncIterator[RedisServer]:
    server = RedisServer(str(tmp_path), persist=True)
    await server.start()
    try:
        yield server
    finally:
        with trio.CancelScope(shield=True):
            await server.stop()
