"""Limits and faults over raw HTTP: big messages, caps, crash loops, idle sessions, 404s, DELETE,
heartbeats, access checks and the operations routes."""

from __future__ import annotations

import json
import sys
from typing import Any

import httpx
import pytest
import trio
from gateway_support import processes_in, start_gateway
from mcp import Client, MCPError
from support import wait_until

HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


async def open_session(http: httpx.AsyncClient, url: str) -> str:
    response = await http.post(url, json=INIT, headers=HEADERS)
    assert response.status_code == 200, response.text
    return str(response.headers["mcp-session-id"])


def call(request_id: int, name: str, **arguments: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


async def test_big_messages_pass_and_an_oversize_answer_fails_only_its_call(nursery: trio.Nursery) -> None:
    gateway = await start_gateway(nursery, max_line=16 * 1024 * 1024)
    async with Client(gateway.url + "/mcp", mode="legacy") as client:
        big = "é" * (2 * 1024 * 1024)  # 4 MiB of UTF-8 in, 12 MiB back (the fixture escapes it)
        assert (await client.call_tool("echo", {"text": big})).content[0].text == big
        with pytest.raises(MCPError, match="this gateway passes at most"):
            await client.call_tool("huge", {"size": 17 * 1024 * 1024})
        assert (await client.call_tool("echo", {"text": "after"})).content[0].text == "after"
    async with httpx.AsyncClient(timeout=10) as http:
        sid = await open_session(http, gateway.url + "/mcp")
        headers = {**HEADERS, "mcp-session-id": sid}
        too_big = await http.post(gateway.url + "/mcp", content=b" " * (33 * 1024 * 1024), headers=headers)
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == -32600


async def test_unknown_sessions_404_and_delete_kills_the_child(nursery: trio.Nursery) -> None:
    gateway = await start_gateway(nursery)
    url = gateway.url + "/mcp"
    async with httpx.AsyncClient(timeout=10) as http:
        gone = await http.post(url, json=call(1, "echo"), headers={**HEADERS, "mcp-session-id": "nope"})
        assert gone.status_code == 404
        no_session = await http.post(url, json=call(1, "echo"), headers=HEADERS)
        assert no_session.status_code == 400 and "initialize first" in no_session.json()["error"]["message"]
        sid = await open_session(http, url)
        pid = gateway.sessions.open[sid].child.pid
        deleted = await http.delete(url, headers={"mcp-session-id": sid})
        assert deleted.status_code == 200 and processes_in(pid) == []
        again = await http.post(
            url, json=call(2, "echo", text="x"), headers={**HEADERS, "mcp-session-id": sid}
        )
        assert again.status_code == 404


async def test_session_cap_and_crash_loop_answer_503_with_retry_after(nursery: trio.Nursery) -> None:
    gateway = await start_gateway(nursery, max_sessions=2)
    async with httpx.AsyncClient(timeout=10) as http:
        await open_session(http, gateway.url + "/mcp")
        await open_session(http, gateway.url + "/mcp")
        full = await http.post(gateway.url + "/mcp", json=INIT, headers=HEADERS)
        assert full.status_code == 503 and int(full.headers["retry-after"]) >= 1
    crashing = (sys.executable, "-c", "import sys; sys.exit(7)")
    broken = await start_gateway(nursery, crashing, crash_limit=3, warm=1)
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(10):
            response = await http.post(broken.url + "/mcp", json=INIT, headers=HEADERS)
            if response.status_code == 503:
                break
            assert response.json()["error"]["code"] == -32000  # the child exited before answering
        assert response.status_code == 503 and "keeps exiting" in response.json()["error"]["message"]
        assert int(response.headers["retry-after"]) >= 1
    assert broken.children.spawns <= 3 + 2  # the limit, then the warm pool's spawn in flight


async def test_an_idle_session_ends_even_with_a_get_stream_open(nursery: trio.Nursery) -> None:
    gateway = await start_gateway(nursery, idle_timeout=0.3, heartbeat_interval=0.05)
    async with httpx.AsyncClient(timeout=10) as http:
        sid = await open_session(http, gateway.url + "/mcp")
        pid = gateway.sessions.open[sid].child.pid
        async with http.stream("GET", gateway.url + "/mcp", headers={"mcp-session-id": sid}) as stream:
            assert stream.headers["x-accel-buffering"] == "no"
            chunks = []
            with trio.fail_after(5):
                async for chunk in stream.aiter_bytes():  # heartbeats, then the end of the stream
                    chunks.append(chunk)
        assert b": ping" in b"".join(chunks)
        await wait_until(lambda: gateway.sessions.ended_by_reason.get("idle") == 1)
        assert processes_in(pid) == []


async def test_access_checks_and_operations_routes(nursery: trio.Nursery) -> None:
    gateway = await start_gateway(nursery, api_keys=("ops:k-123456",))
    url = gateway.url
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(url + "/health")).status_code == 200
        assert (await http.get(url + "/ready")).json() == {"ready": True}
        assert (await http.post(url + "/mcp", json=INIT, headers=HEADERS)).status_code == 401
        keyed = {**HEADERS, "authorization": "Bearer k-123456"}
        assert (
            await http.post(url + "/mcp", json=INIT, headers={**keyed, "host": "evil.example"})
        ).status_code == 421
        evil = {**keyed, "origin": "https://evil.example"}
        assert (await http.post(url + "/mcp", json=INIT, headers=evil)).status_code == 403
        sid = (await http.post(url + "/mcp", json=INIT, headers=keyed)).headers["mcp-session-id"]
        status = (await http.get(url + "/status", headers=keyed)).json()
        assert len(status["sessions"]) == 1 and sid not in json.dumps(status)
        metrics = (await http.get(url + "/metrics")).text
        assert 'mapsrv_gateway_sessions{server="default",transport="http"} 1.0' in metrics
        assert "mapsrv_gateway_spawns_total" in metrics and sid not in metrics


async def test_an_answer_goes_out_in_one_write(nursery: trio.Nursery) -> None:
    """Head and body in one write (mapsrv.http.h1): the client wakes up
    once per answer, so the first bytes it reads hold the whole answer."""
    gateway = await start_gateway(nursery)
    async with httpx.AsyncClient(timeout=10) as http:
        sid = await open_session(http, gateway.url + "/mcp")
    host, port = gateway.url.split("//")[1].split(":")
    body = json.dumps(call(1, "echo", text="one write")).encode()
    head = (
        f"POST /mcp HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
        f"accept: application/json, text/event-stream\r\nmcp-session-id: {sid}\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        for _ in range(3):
            await stream.send_all(head + body)
            with trio.fail_after(10):
                first = await stream.receive_some(65536)
            assert first.startswith(b"HTTP/1.1 200") and first.endswith(b'"one write"}]}}'), first
