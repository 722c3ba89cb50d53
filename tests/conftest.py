"""Fixtures that start real servers on port 0 inside the test's own nursery."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable

import pytest
import trio
from support import (
    IN_CI,
    Browser,
    EventStream,
    RedisServer,
    make_config,
    open_stream,
    require,
    start_server,
    wait_until,
)
from support.aio import use_plain_asyncio

from mapsrv.server import Server

use_plain_asyncio()  # the browser tests run Playwright in the main thread

if os.environ.get("MUTATION_RUN"):  # tox -e mutation: a failing example is enough, unshrunk
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


@pytest.fixture
async def server(nursery: trio.Nursery) -> Server:
    return await start_server(nursery)


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
