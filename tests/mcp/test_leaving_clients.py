"""A client that leaves mid-``map_image`` frees its worker on every MCP path a real agent takes
(issue 60): a Streamable HTTP session (whether mapsrv's direct path or the SDK's answers the call)
when its client sends ``notifications/cancelled`` or its POST's connection closes, the legacy
HTTP+SSE transport when its client cancels or its stream closes, and ``mapsrv stdio`` relaying a
desktop client's ``notifications/cancelled``. Real parts: the SDK's own clients, or httpx, over
sockets to a server in the test's nursery, and ``mapsrv stdio`` as a child process. (The
stateless 2026-07-28 path and the page's image route: tests/image/test_image_cancel.py.)"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import httpx2
import pytest
import trio
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from support import start_server, wait_until
from support.mcp import INITIALIZE, MCP_ACCEPT
from support.raw_http import RawConnection
from support.slow_image import SlowDrawing, draw_lines

import mapsrv.formats.table as table
import mapsrv.hub.file_door as file_door
from mapsrv.formats.batch import import_ops
from mapsrv.server import Server
from mapsrv.workers import CHECK_EVERY, stop_if_cancelled, workers

DIRECT_OR_SDK = pytest.mark.parametrize("direct", [True, False], ids=["direct", "sdk"])
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def image_call(map_id: str) -> dict[str, Any]:
    """A 2025-11-25 ``tools/call`` of ``map_image`` on ``map_id`` (the slow drawing's size)."""
    arguments = {"map_id": map_id, "width": 400, "height": 300}
    return {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "map_image", "arguments": arguments},
    }


async def big_map(server: Server) -> str:
    async with Client(server.url + "mcp") as agent:
        return (await draw_lines(agent))[0]


@DIRECT_OR_SDK
async def test_a_session_agent_that_cancels_frees_the_worker(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, direct: bool
) -> None:
    """The SDK's client in a 2025-11-25 session gives up on the call: it sends
    ``notifications/cancelled`` in the session, which reaches the call whichever path runs it."""
    drawing = SlowDrawing(monkeypatch)
    server = await start_server(nursery, mcp_direct_calls=direct)
    map_id = await big_map(server)
    transport = streamable_http_client(server.url + "mcp", http_client=httpx2.AsyncClient())
    async with Client(transport, mode="legacy") as agent:
        with trio.fail_after(15):
            await drawing.leave(agent, map_id)
            drawing.fast()
            served = await agent.call_tool("map_image", {"map_id": map_id, "width": 200, "height": 100})
    assert not served.is_error


@DIRECT_OR_SDK
async def test_a_session_post_that_closes_frees_the_worker(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, direct: bool
) -> None:
    """A session's ``tools/call`` POST whose connection closes mid-drawing (the client died, or
    timed out without a word)."""
    drawing = SlowDrawing(monkeypatch)
    server = await start_server(nursery, mcp_direct_calls=direct)
    map_id = await big_map(server)
    async with httpx.AsyncClient(timeout=30) as http:
        headers = await open_session(http, server.url + "mcp")
        with trio.fail_after(15):
            async with trio.open_nursery() as inner:
                inner.start_soon(post, http, server.url + "mcp", image_call(map_id), headers)
                await drawing.started()
                inner.cancel_scope.cancel()  # httpx closes the connection
            await drawing.freed()
        assert server.mcp.statistics().http_sessions == 1  # the session itself lives on


async def open_session(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    """A 2025-11-25 session opened and initialized over ``http``: the headers of its requests."""
    opened = await http.post(url, json=INITIALIZE, headers=MCP_ACCEPT)
    headers = {**MCP_ACCEPT, "mcp-session-id": opened.headers["mcp-session-id"]}
    headers["mcp-protocol-version"] = "2025-11-25"
    assert (await http.post(url, json=INITIALIZED, headers=headers)).status_code == 202
    return headers


async def post(http: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    """A POST whose answer is never read (the test cancels it)."""
    await http.post(url, json=body, headers=headers)


async def test_a_legacy_sse_agent_that_cancels_frees_the_worker(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP+SSE: the SDK's client sends ``notifications/cancelled`` as a POST to its session; the
    SDK's server cancels the call's handler."""
    drawing = SlowDrawing(monkeypatch)
    server = await start_server(nursery)
    map_id = await big_map(server)
    async with Client(sse_client(server.url + "sse"), mode="legacy") as agent:
        with trio.fail_after(15):
            await drawing.leave(agent, map_id)


async def test_a_legacy_sse_stream_that_closes_frees_the_worker(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP+SSE: the client's event stream closes mid-drawing (the client went away): the
    session's calls in flight are cancelled with it."""
    drawing = SlowDrawing(monkeypatch)
    server = await start_server(nursery)
    map_id = await big_map(server)
    async with httpx.AsyncClient(timeout=30) as http:
        endpoint: list[str] = []
        got = trio.Event()

        async def listen() -> None:
            async with http.stream("GET", server.url + "sse") as stream:
                async for chunk in stream.aiter_bytes():
                    if found := re.search(rb"data: (/messages/\S+)", chunk):
                        endpoint.append(found.group(1).decode())
                        got.set()

        with trio.fail_after(15):
            async with trio.open_nursery() as inner:
                inner.start_soon(listen)
                await got.wait()
                url = server.url.rstrip("/") + endpoint[0]
                for message in (INITIALIZE, INITIALIZED, image_call(map_id)):
                    assert (await http.post(url, json=message)).status_code == 202
                await drawing.started()
                inner.cancel_scope.cancel()  # the stream closes
            await drawing.freed()


async def test_a_stdio_agent_that_cancels_frees_the_worker(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A desktop client on ``mapsrv stdio`` relaying to this server: its ``notifications/cancelled``
    goes on stdin, the relay carries it to the session, and the call ends."""
    drawing = SlowDrawing(monkeypatch)
    server = await start_server(nursery)
    map_id = await big_map(server)
    command = ["-m", "mapsrv", "stdio", "--server", server.url]
    params = StdioServerParameters(command=sys.executable, args=command, env={**os.environ})
    with (tmp_path / "stdio.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as agent:  # type: ignore[arg-type]
            with trio.fail_after(20):
                await drawing.leave(agent, map_id)


async def test_an_import_left_mid_way_stores_nothing(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``import`` is watched as ``map_image`` is: a client that leaves while its file is turned into
    changes (in an ``encode`` worker, here made 10 s long in steps that check for cancellation) has
    its call cancelled, the worker is freed, and nothing is written to the map."""
    steps = [0]

    def slow_import_ops(*args: Any, **kwargs: Any) -> Any:
        for _ in range(1000):
            steps[0] += 1
            stop_if_cancelled()
            time.sleep(0.01)
        return import_ops(*args, **kwargs)

    monkeypatch.setattr(file_door, "import_ops", slow_import_ops)
    server = await start_server(nursery)
    pool = workers().pools["encode"].stats
    async with Client(server.url + "mcp") as agent:
        map_id = (await agent.call_tool("create_map", {})).structured_content["map_id"]
        leaving = trio.CancelScope()
        csv = "lat,lon,name\n38.7,-9.1,Lisbon\n41.1,-8.6,Porto\n"

        async def call() -> None:
            with leaving:
                await agent.call_tool("import", {"map_id": map_id, "content": csv, "format": "csv"})

        with trio.fail_after(15):
            async with trio.open_nursery() as inner:
                inner.start_soon(call)
                await wait_until(lambda: steps[0] > 5)
                leaving.cancel()
            await wait_until(lambda: pool.running == 0)
            assert steps[0] < 500
            read = await agent.call_tool("read", {"map_id": map_id})
        assert read.structured_content["count"] == 0, read.structured_content


class SlowFile:
    """A map of ``FEATURES`` labelled points, and its CSV file slowed (each feature's two texts,
    its label and its popup, 5 ms each: the whole file would take 4 s) and counted, for one test."""

    FEATURES = 400

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.texts = 0
        self.monkeypatch = monkeypatch
        self.pool = workers().pools["encode"].stats

    async def draw(self, server: Server) -> dict[str, Any]:
        """The map, drawn by an agent; then its file is slowed: the draw's answer."""
        async with Client(server.url + "mcp") as agent:
            items = [{"at": [1, i / 100], "label": f"m{i}"} for i in range(self.FEATURES)]
            made = await agent.call_tool("draw", {"items": items})
            assert not made.is_error, made.content
        text = table._text

        def slow_text(value: str) -> str:
            self.texts += 1
            time.sleep(0.005)
            return text(value)

        self.monkeypatch.setattr(table, "_text", slow_text)
        return dict(made.structured_content or {})

    async def started(self) -> None:
        await wait_until(lambda: self.texts > 10)

    async def freed(self) -> None:
        """Once the encode pool runs nothing: the writer stopped within ``CHECK_EVERY`` features."""
        await wait_until(lambda: self.pool.running == 0)
        went_on_to = self.texts // 2
        assert went_on_to < 10 // 2 + 2 * CHECK_EVERY, f"the file went on to feature {went_on_to} of 400"


@DIRECT_OR_SDK
async def test_a_read_as_a_file_whose_post_closes_frees_the_worker(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, direct: bool
) -> None:
    """``read`` with a ``format`` writes the map as a file in an ``encode`` worker: watched like
    ``map_image``, its POST's connection closing mid-file cancels it, and the writer, which goes
    through the features ``checked``, stops within ``CHECK_EVERY`` of them."""
    file = SlowFile(monkeypatch)
    server = await start_server(nursery, mcp_direct_calls=direct)
    read = {"map_id": (await file.draw(server))["map_id"], "format": "csv"}
    call = {"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {"name": "read", "arguments": read}}
    async with httpx.AsyncClient(timeout=30) as http:
        headers = await open_session(http, server.url + "mcp")
        with trio.fail_after(15):
            async with trio.open_nursery() as inner:
                inner.start_soon(post, http, server.url + "mcp", call, headers)
                await file.started()
                inner.cancel_scope.cancel()  # httpx closes the connection
            await file.freed()


async def test_a_browser_that_leaves_mid_export_frees_the_worker(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's ``export.csv`` link asked on a raw socket that closes mid-file (a download
    cancelled): Quart-Trio cancels the route on the request's ``http.disconnect``, and the
    writer stops within ``CHECK_EVERY`` features."""
    file = SlowFile(monkeypatch)
    server = await start_server(nursery)
    view_url = (await file.draw(server))["view_url"]
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    assert host is not None and port is not None
    request = f"GET {urlsplit(view_url).path}/export.csv HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
    with trio.fail_after(15):
        browser = await RawConnection.open(host, port)
        await browser.send(request.encode())
        await file.started()
        await browser.stream.aclose()  # the download was cancelled
        await file.freed()
