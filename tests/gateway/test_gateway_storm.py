"""A storm of clients that go away mid-call, over every transport at once: legacy SSE streams
dropped with a call in flight, Streamable HTTP sessions whose POSTs are cut and then abandoned,
stateless requests cut mid-call. Every child of a session that ended is gone, nothing is owed to
anyone, no zombie is left, and the gateway serves the next client as if nothing happened."""

from __future__ import annotations

from typing import Any

import httpx
import trio
from gateway_support import processes_in, start_gateway, text_of
from mcp import Client
from support import wait_until
from support.procfs import no_zombies
from test_gateway_limits import HEADERS, INIT, call
from test_gateway_stateless import call_headers, stateless_call

CLIENTS = 20  # of each kind


async def sse_then_drop(http: httpx.AsyncClient, url: str, pids: list[int], gateway: Any) -> None:
    async with http.stream("GET", url + "/sse") as stream:
        lines = stream.aiter_lines()
        async for line in lines:
            if line.startswith("data: "):
                endpoint = line[len("data: ") :]
                break
        session_id = endpoint.rsplit("=", 1)[1]
        pids.append(gateway.sessions.open[session_id].child.pid)
        posted = await http.post(url + endpoint, json=call(1, "slow", seconds=5))
        assert posted.status_code == 202, (posted.text, gateway.sessions.ended_by_reason)
    # the stream is closed here, with the call in flight


async def session_then_cut(http: httpx.AsyncClient, url: str, pids: list[int], gateway: Any) -> None:
    opened = await http.post(url + "/mcp", json=INIT, headers=HEADERS)
    session_id = opened.headers["mcp-session-id"]
    pids.append(gateway.sessions.open[session_id].child.pid)
    with trio.move_on_after(0.05):  # the POST is cut mid-call; the client never comes back
        await http.post(
            url + "/mcp", json=call(2, "slow", seconds=0.3), headers={**HEADERS, "mcp-session-id": session_id}
        )


async def stateless_then_cut(http: httpx.AsyncClient, url: str) -> None:
    with trio.move_on_after(0.05):
        body = stateless_call(3, "slow", seconds=0.1)
        await http.post(url + "/mcp", json=body, headers=call_headers("slow"))


async def test_clients_that_vanish_mid_call_leave_nothing_behind(nursery: trio.Nursery) -> None:
    # idle_timeout: long enough for an SSE client to POST after its endpoint event on a loaded
    # machine (at 2 s, 5 of 20 were idled out first there), short enough to end the cut sessions
    gateway = await start_gateway(nursery, warm=4, idle_timeout=6, stateless_children=2)
    url = gateway.url
    pids: list[int] = []
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=20, limits=limits) as http:
        with trio.fail_after(60):
            async with trio.open_nursery() as storm:
                for _ in range(CLIENTS):
                    storm.start_soon(sse_then_drop, http, url, pids, gateway)
                    storm.start_soon(session_then_cut, http, url, pids, gateway)
                    storm.start_soon(stateless_then_cut, http, url)
    assert len(pids) == 2 * CLIENTS
    ended = gateway.sessions.ended_by_reason  # counted once a session's child is gone
    await wait_until(lambda: sum(ended.values()) == 2 * CLIENTS, timeout=30)  # dropped, then idle
    assert not gateway.sessions.open
    await wait_until(lambda: all(processes_in(pid) == [] for pid in pids), timeout=10)
    assert ended == {"client gone": CLIENTS, "idle": CLIENTS}, ended
    await wait_until(lambda: not any(s.busy for s in gateway.sessions.shared["default"].live), timeout=10)
    await no_zombies()
    async with Client(url + "/mcp", mode="legacy") as client:
        assert text_of(await client.call_tool("echo", {"text": "calm"})) == "calm"
    async with Client(url + "/mcp", mode="2026-07-28") as client:
        assert text_of(await client.call_tool("echo", {"text": "calm"})) == "calm"
