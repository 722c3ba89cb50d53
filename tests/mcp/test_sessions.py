"""MCP sessions under abuse, over real sockets with the SDK's own clients: a session exists only
after a successful initialize, unanswered sessions and idle legacy streams end fast, no one client
or key can hold every session, and a session answers only the key that opened it."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import httpx2
import trio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from support import start_server, wait_until
from support.mcp import INITIALIZE
from support.mcp import MCP_ACCEPT as ACCEPT

from mapsrv.mcp.sessions import SessionBook, handshake
from mapsrv.server import Server

KEYS = ("alice:alice-secret-1", "bob:bob-secret-2")
ALICE = {"authorization": "Bearer alice-secret-1"}
BOB = {"x-api-key": "bob-secret-2"}


def http_sessions(server: Server) -> int:
    return server.mcp.statistics().http_sessions


async def initialize(http: httpx.AsyncClient, server: Server, **headers: str) -> httpx.Response:
    return await http.post(server.url + "mcp", json=INITIALIZE, headers={**ACCEPT, **headers})


async def call(
    http: httpx.AsyncClient, server: Server, session: str, body: dict[str, Any], **headers: str
) -> httpx.Response:
    headers = {**ACCEPT, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25", **headers}
    return await http.post(server.url + "mcp", json=body, headers=headers)


def sdk_client(server: Server, headers: dict[str, str]) -> Client:
    """The SDK's client in the 2025-11-25 era: the one with sessions."""
    http = httpx2.AsyncClient(headers=headers)
    return Client(streamable_http_client(server.url + "mcp", http_client=http), mode="legacy")


async def test_a_failed_initialize_keeps_no_session(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with httpx.AsyncClient() as http:
        for params in ({}, {"protocolVersion": 7}, None):
            bad = (
                {**INITIALIZE, "params": params}
                if params is not None
                else {"jsonrpc": "2.0", "id": 1, "method": "initialize"}
            )
            response = await http.post(server.url + "mcp", json=bad, headers=ACCEPT)
            assert "error" in response.json(), response.text
        await wait_until(lambda: http_sessions(server) == 0)
    assert server.mcp.statistics().sessions.closed_failed_initialize >= 1


async def test_unanswered_sessions_end_fast_answered_ones_stay(nursery: trio.Nursery) -> None:
    # 2 s: the busy session's first request must come within it, also on a loaded machine
    server = await start_server(nursery, mcp_handshake_timeout=2)
    async with httpx.AsyncClient() as http:
        silent = (await initialize(http, server)).headers["mcp-session-id"]
        busy = (await initialize(http, server)).headers["mcp-session-id"]
        notified = await call(http, server, busy, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert notified.status_code == 202
        listed = await call(http, server, busy, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        assert listed.status_code == 200
        await wait_until(lambda: http_sessions(server) == 1, timeout=10)
        assert (
            await call(http, server, silent, {"jsonrpc": "2.0", "id": 3, "method": "ping"})
        ).status_code == 404
        assert (
            await call(http, server, busy, {"jsonrpc": "2.0", "id": 3, "method": "ping"})
        ).status_code == 200
    assert server.mcp.statistics().sessions.closed_unanswered == 1


async def test_a_notification_alone_does_not_answer_initialize(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, mcp_handshake_timeout=0.3)
    async with httpx.AsyncClient() as http:
        session = (await initialize(http, server)).headers["mcp-session-id"]
        await call(http, server, session, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        await wait_until(lambda: http_sessions(server) == 0)


async def test_idle_legacy_sse_sessions_end(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, mcp_handshake_timeout=0.3, mcp_session_idle_timeout=0.6)
    async with httpx.AsyncClient(timeout=10) as http:
        with trio.fail_after(10):
            async with http.stream("GET", server.url + "sse") as stream:
                assert stream.status_code == 200
                assert stream.headers["x-content-type-options"] == "nosniff"
                received = b""
                async for chunk in stream.aiter_bytes():
                    received += chunk  # until the server ends the stream
                assert b"session_id=" in received
    await wait_until(lambda: server.mcp.statistics().sse_sessions == 0)


async def test_per_client_quota_refuses_only_the_greedy_client(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, max_mcp_sessions_per_client=3, trusted_proxies=("127.0.0.1/32",))
    greedy = {"x-forwarded-for": "203.0.113.7"}
    async with httpx.AsyncClient() as http:
        for _ in range(3):
            assert (await initialize(http, server, **greedy)).status_code == 200
        refused = await initialize(http, server, **greedy)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == -32029
        assert "3 MCP sessions" in refused.json()["error"]["message"]
        sse = await http.get(server.url + "sse", headers=greedy)
        assert sse.status_code == 429
    async with sdk_client(server, {"x-forwarded-for": "198.51.100.9"}) as polite:
        assert not (await polite.call_tool("create_map", {})).is_error


async def test_per_key_quota_and_sessions_bound_to_their_key(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, api_keys=KEYS, max_mcp_sessions_per_key=2)
    async with httpx.AsyncClient() as http:
        alices = [(await initialize(http, server, **ALICE)).headers["mcp-session-id"] for _ in range(2)]
        assert (await initialize(http, server, **ALICE)).status_code == 429
        bobs = (await initialize(http, server, **BOB)).headers["mcp-session-id"]
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        # Bob holds a valid key and has learnt Alice's session id: it is not a session for him.
        assert (await call(http, server, alices[0], ping, **BOB)).status_code == 404
        deleted = await http.delete(
            server.url + "mcp",
            headers={**ACCEPT, **BOB, "mcp-session-id": alices[0], "mcp-protocol-version": "2025-11-25"},
        )
        assert deleted.status_code == 404
        assert (await call(http, server, alices[0], ping, **ALICE)).status_code == 200
        assert (await call(http, server, bobs, ping, **BOB)).status_code == 200


async def test_legacy_sse_sessions_bound_to_their_key(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, api_keys=KEYS)
    async with httpx.AsyncClient(timeout=10) as http, trio.open_nursery() as inner:
        endpoint: list[str] = []
        got = trio.Event()

        async def listen() -> None:
            async with http.stream("GET", server.url + "sse", headers=ALICE) as stream:
                async for chunk in stream.aiter_bytes():
                    if found := re.search(rb"data: (/messages/\S+)", chunk):
                        endpoint.append(found.group(1).decode())
                        got.set()

        inner.start_soon(listen)
        with trio.fail_after(5):
            await got.wait()
        url = server.url.rstrip("/") + endpoint[0]
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        assert (await http.post(url, json=ping, headers=BOB)).status_code == 404
        assert (await http.post(url, json=INITIALIZE, headers=ALICE)).status_code == 202
        inner.cancel_scope.cancel()


async def test_a_session_flood_does_not_lock_out_a_polite_client(nursery: trio.Nursery) -> None:
    """One client opening bare sessions as fast as it can, from many connections; another
    client, meanwhile, connects with the SDK and works."""
    server = await start_server(
        nursery, max_mcp_sessions=64, max_mcp_sessions_per_client=16, trusted_proxies=("127.0.0.1/32",)
    )
    outcomes: dict[int, int] = {}
    done = trio.Event()

    async def flood() -> None:
        async with httpx.AsyncClient() as http:
            while not done.is_set():
                status = (await initialize(http, server, **{"x-forwarded-for": "203.0.113.7"})).status_code
                outcomes[status] = outcomes.get(status, 0) + 1

    async with trio.open_nursery() as flooders:
        for _ in range(8):
            flooders.start_soon(flood)
        await wait_until(lambda: outcomes.get(429, 0) > 50)
        with trio.fail_after(10):
            async with sdk_client(server, {"x-forwarded-for": "198.51.100.9"}) as polite:
                assert not (await polite.call_tool("create_map", {})).is_error
        done.set()
    assert outcomes.get(200, 0) <= 16  # its quota, even with 8 initializes in flight at once


def test_the_session_book_counts_reservations_and_deadlines() -> None:
    now = [0.0]
    book = SessionBook(handshake_timeout=10, idle_timeout=60, per_client=2, per_key=3, clock=lambda: now[0])
    book.reserve("a", "k")
    book.reserve("a", "k")
    assert book.refusal("a", "k") is not None  # two in flight fill the client's quota
    assert book.refusal("b", "k") is None
    book.released("a", "k")
    book.opened("s1", "http", "a", "k")
    now[0] = 9.9
    assert book.overdue() == []
    now[0] = 10.0
    assert [s.id for s in book.overdue()] == ["s1"]
    book.used("s1", real=False)  # a notification answers nothing
    assert [s.id for s in book.overdue()] == ["s1"]
    book.used("s1", real=True)
    assert book.overdue() == []
    book.ended("s1")
    assert book.refusal("a", "k") is None and not book.sessions
    assert book.statistics().refused_quota == 1


async def test_a_full_server_gives_a_newcomer_the_place_of_a_silent_session(nursery: trio.Nursery) -> None:
    """A flood from many addresses fills the global cap with sessions that never answer: a real
    client still gets in, in place of the oldest of them."""
    server = await start_server(nursery, max_mcp_sessions=3, **{"trusted_proxies": ("127.0.0.1/32",)})
    async with httpx.AsyncClient() as http:
        silent = [
            (await initialize(http, server, **{"x-forwarded-for": f"10.0.0.{n}"})).headers["mcp-session-id"]
            for n in range(3)
        ]
        async with sdk_client(server, {"x-forwarded-for": "198.51.100.9"}) as polite:
            assert not (await polite.call_tool("create_map", {})).is_error
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        assert (await call(http, server, silent[0], ping)).status_code == 404
        assert (await call(http, server, silent[2], ping)).status_code == 200


def test_a_handshake_is_read_only_from_one_plain_initialize_and_its_answer() -> None:
    """``handshake`` (pure): the version an initialize answer settled and the client's name, or
    nothing when either is missing or the exchange is anything else."""
    asked = json.dumps(INITIALIZE).encode()
    settled = json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": "2025-06-18"}}).encode()
    assert handshake(asked, settled) == ("2025-06-18", "t")
    nameless = {**INITIALIZE, "params": {**INITIALIZE["params"], "clientInfo": {"version": "1"}}}
    refused = json.dumps({"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "no"}}).encode()
    for request, answer in (
        (json.dumps(nameless).encode(), settled),
        (asked, refused),
        (json.dumps({**INITIALIZE, "method": "ping"}).encode(), settled),
        (json.dumps([INITIALIZE, INITIALIZE]).encode(), settled),
        (asked, json.dumps([json.loads(settled), json.loads(settled)]).encode()),
        (json.dumps(["initialize"]).encode(), settled),
        (asked, json.dumps(["result"]).encode()),
        (json.dumps({**INITIALIZE, "params": ["t"]}).encode(), settled),
        (b"not json", settled),
    ):
        assert handshake(request, answer) is None, (request, answer)
