"""Fixtures that start real servers on port 0 inside the test's own nursery."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

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

from mapsrv.places.stored import places_file
from mapsrv.server import Server

use_plain_asyncio()  # the browser tests run Playwright in the main thread

if os.environ.get("MUTATION_RUN"):  # tox -e mutation: a failing example is enough, unshrunk
    from hypothesis import Phase, settings

    settings.register_profile("mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate], database=None)
    settings.load_profile("mutation")

# Every test's own waits have deadlines; this one is the backstop for a wait that has none (or a
# mutant that breaks one): a test still running after 300 s fails with TooSlowError, where it
# would otherwise hang the run. Trio's own cancellation, so the tests after it run as usual.
TEST_DEADLINE = 300


def _with_deadline(test: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(test)  # pytest reads the fixtures the test asks for through __wrapped__
    async def run(*args: Any, **kwargs: Any) -> Any:
        with trio.fail_after(TEST_DEADLINE):
            return await test(*args, **kwargs)

    return run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        test = getattr(item, "obj", None)
        virtual_time = "autojump_clock" in getattr(item, "fixturenames", ())  # idle jumps to it
        if inspect.iscoroutinefunction(test) and not virtual_time:
            item.obj = _with_deadline(test)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True, scope="session")
def _places_file() -> None:
    """The built-in places file, written before the first test if this machine has none yet
    (~6 s, once: ``mapsrv.places.stored``), so that no test's own deadline pays for it."""
    places_file()


@pytest.fixture(autouse=True)
def _data_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's own data directory: a mapsrv it starts with the default store (the SQLite file
    in $XDG_DATA_HOME/mapsrv) never touches the user's maps, nor another test's."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data-home")))


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
