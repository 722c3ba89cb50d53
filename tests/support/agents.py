"""An agent as the tests of a shared map need one: the SDK's client with a name, tool calls that
must succeed or must fail, and the change notifications it got on ``map://<id>`` in either era
(2025-11-25: ``resources/subscribe`` then ``notifications/resources/updated``; 2026-07-28: a
``subscriptions/listen`` stream); plus the bridge from a Playwright worker thread to the test's trio
run."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import trio
from mcp import Client
from mcp.server.streamable_http import GET_STREAM_KEY
from mcp.types import Implementation

__all__ = [
    "Notified",
    "TrioBridge",
    "agent",
    "call",
    "cookies_of",
    "failing",
    "followed",
    "get_stream_open",
    "subscribe",
]

UPDATED = "notifications/resources/updated"
T = TypeVar("T")


def agent(url: str, name: str, mode: str = "legacy", **options: Any) -> Client:
    """The SDK's client on ``url`` (an MCP endpoint, or a stdio transport), introducing itself as ``name``."""
    return Client(url, mode=mode, client_info=Implementation(name=name, version="1"), **options)  # type: ignore[arg-type]


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return await followed(dict(result.structured_content or {}))


async def followed(answer: dict[str, Any]) -> dict[str, Any]:
    """``answer``, or, when it is a GeoJSON too big to carry (past 64 KB: its counts and a link,
    issue 73), the GeoJSON at its download link, as a client that follows the link has it."""
    if answer.get("inline") is not False or answer.get("format") != "geojson":
        return answer
    async with httpx.AsyncClient(trust_env=False) as http:
        fetched = await http.get(answer["download"])
    assert fetched.status_code == 200, fetched.text
    return dict(fetched.json())


async def failing(client: Client, tool: str, **arguments: Any) -> tuple[str, dict[str, Any]]:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return str(result.content[0].text), dict(result.structured_content or {})  # type: ignore[union-attr]


async def subscribe(client: Client, uri: str) -> None:
    with warnings.catch_warnings():  # deprecated in the SDK for 2026-07-28; the 2025-11-25 way
        warnings.simplefilter("ignore")
        await client.subscribe_resource(uri)


class Notified:
    """The ``map://`` URIs an agent was told changed, in arrival order; a message handler for a
    2025-11-25 client, and a collector for a 2026-07-28 listen stream (``serve_listen``)."""

    def __init__(self) -> None:
        self.uris: list[str] = []
        self._changed = trio.Event()

    def _add(self, uri: str) -> None:
        self.uris.append(uri)
        self._changed.set()
        self._changed = trio.Event()

    async def __call__(self, message: Any) -> None:
        if getattr(message, "method", None) == UPDATED:
            self._add(str(message.params.uri))

    async def serve_listen(
        self, client: Client, uri: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        async with client.listen(resource_subscriptions=[uri]) as stream:
            task_status.started()
            async for event in stream:
                self._add(str(event.uri))

    async def wait_for(self, count: int, timeout: float = 5) -> list[str]:  # noqa: ASYNC109
        with trio.fail_after(timeout):
            while len(self.uris) < count:
                await self._changed.wait()
        return self.uris


def get_stream_open(server: Any) -> bool:
    """Whether an in-process server has a Streamable HTTP session whose client holds its GET
    stream open (where the standalone notifications go; the SDK drops them while none is): read
    from the SDK's private tables, as only tests need it."""
    transports = server.mcp.sessions._server_instances.values()
    return any(GET_STREAM_KEY in t._request_streams for t in transports)


class TrioBridge:
    """Calls from a Playwright worker thread into the test's trio run (where the agents are)."""

    def __init__(self) -> None:
        self.token = trio.lowlevel.current_trio_token()

    def run(self, afn: Callable[..., Awaitable[T]], *args: Any) -> T:
        return trio.from_thread.run(afn, *args, trio_token=self.token)


def cookies_of(context: Any) -> httpx.Cookies:
    """A Playwright browser context's cookies, for an HTTP client that is the same person."""
    jar = httpx.Cookies()
    for cookie in context.cookies():
        jar.set(cookie["name"], cookie["value"])
    return jar
