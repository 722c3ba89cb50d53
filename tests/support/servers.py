"""mapsrv servers started inside a test's own nursery, and a browser as the server sees one."""

from __future__ import annotations

from typing import Any

import httpx
import trio

from mapsrv.config import Config
from mapsrv.server import Server, serve

__all__ = ["Browser", "make_config", "start_server"]


def make_config(**changes: Any) -> Config:
    """A server's settings for a test: memory:// unless the test gives a store (several servers
    run at once in one test, and one process owns a SQLite file)."""
    return Config(host="127.0.0.1", port=0, graceful_timeout=2.0, store="memory://").replace(**changes)


async def start_server(nursery: trio.Nursery, **changes: Any) -> Server:
    server: Server = await nursery.start(serve, make_config(**changes))
    return server


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
        """The map's state, without the owner's links (their host is each server's own)."""
        state = await self.owner_state(map_id)
        state.pop("edit_url", None)
        state.pop("view_url", None)
        return state

    async def owner_state(self, map_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/m/{map_id}/state")
        response.raise_for_status()
        return dict(response.json())

    async def aclose(self) -> None:
        await self.client.aclose()
