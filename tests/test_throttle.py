"""Rate limits with real parts: a map-creation flood and a tool-call flood from one client while
another client keeps working, budgets shared by two processes through a real redis-server, the
open-stream cap, and a slow request body cut off."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import trio
from support import Browser, open_redis, open_stream, start_server, wait_until
from support.mcp import INITIALIZE
from support.raw_http import RawConnection

from mapsrv.server import Server

PROXIED = {"trusted_proxies": ("127.0.0.1/32",)}
FLOODER = {"x-forwarded-for": "203.0.113.7"}
POLITE = {"x-forwarded-for": "198.51.100.9"}


def port_of(server: Server) -> int:
    return int(server.binds[0].rsplit(":", 1)[1])


async def test_a_map_creation_flood_is_cut_off_and_others_still_get_maps(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, burst_maps=10, rate_maps=1.0, **PROXIED)
    statuses: list[int] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        for _ in range(40):  # cookie-less, as a flood is: every request makes a new browser
            statuses.append((await http.get("/", headers=FLOODER)).status_code)
            http.cookies.clear()
        refused = await http.get("/", headers=FLOODER)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert "new maps" in refused.json()["error"]["message"]
        assert (await http.get("/", headers=POLITE)).status_code == 303
    assert statuses.count(303) <= 10 + 2  # the burst, and what refilled meanwhile
    assert server.hub.statistics().maps <= 10 + 3


async def test_the_global_map_budget_holds_against_many_clients(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, rate_maps_global=1.0, burst_maps_global=5, **PROXIED)
    statuses = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        for n in range(12):
            statuses.append((await http.get("/", headers={"x-forwarded-for": f"203.0.113.{n}"})).status_code)
            http.cookies.clear()
    assert statuses.count(303) <= 6 and statuses.count(429) >= 6


async def test_mcp_messages_past_the_budget_get_a_json_rpc_error(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, rate_mcp=1.0, burst_mcp=5, **PROXIED)
    accept = {"accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient() as http:
        answers = [
            await http.post(server.url + "mcp", json=INITIALIZE, headers={**accept, **FLOODER})
            for _ in range(8)
        ]
        assert [a.status_code for a in answers[:5]] == [200] * 5
        refused = answers[-1]
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        error = refused.json()["error"]
        assert error["code"] == -32029 and "MCP messages" in error["message"]
        assert "1/s" in error["message"]
        polite = await http.post(server.url + "mcp", json=INITIALIZE, headers={**accept, **POLITE})
        assert polite.status_code == 200


async def test_budgets_are_shared_by_processes_through_redis(nursery: trio.Nursery) -> None:
    async with open_redis() as url:
        limits = {"store": url, "rate_maps": 0.01, "burst_maps": 3, **PROXIED}
        a = await start_server(nursery, **limits)
        b = await start_server(nursery, **limits)
        got = []
        async with httpx.AsyncClient() as http:
            for server in (a, b, a, b, a):
                got.append((await http.get(server.url, headers=FLOODER)).status_code)
                http.cookies.clear()
        assert got == [303, 303, 303, 429, 429]
        a.shutdown()
        b.shutdown()


async def test_writes_are_counted_by_each_process_even_with_redis(nursery: trio.Nursery) -> None:
    """The hot path pays no Redis round trip for its limit: each process keeps its own budget."""
    async with open_redis() as url:
        limits = {"store": url, "rate_writes": 0.01, "burst_writes": 2, **PROXIED}
        a = await start_server(nursery, **limits)
        b = await start_server(nursery, **limits)
        browser = Browser(a.url)
        map_id = await browser.new_map()
        body = {"ops": [{"op": "set_title", "title": "t"}]}
        path = f"/m/{map_id}/ops"
        on_a = [(await browser.client.post(path, json=body, headers=FLOODER)).status_code for _ in range(3)]
        other = Browser(b.url, browser.client.cookies)
        on_b = [(await other.client.post(path, json=body, headers=FLOODER)).status_code for _ in range(3)]
        assert on_a == on_b == [200, 200, 429]
        for each in (browser, other):
            await each.aclose()
        a.shutdown()
        b.shutdown()


async def test_open_streams_per_client_are_capped(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, max_streams_per_client=2)
    browser = Browser(server.url)
    map_id = await browser.new_map()
    streams = [await open_stream(nursery, browser.client, f"/m/{map_id}/events") for _ in range(2)]
    assert [s.status for s in streams] == [200, 200]
    third = await browser.client.get(f"/m/{map_id}/events")
    assert third.status_code == 429
    assert server.throttle.statistics().refused["streams_open"] == 1
    await browser.aclose()


async def test_new_streams_past_their_rate_are_refused_even_under_the_open_stream_cap(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery, rate_streams=0.01, burst_streams=2, max_streams_per_client=10)
    browser = Browser(server.url)
    map_id = await browser.new_map()
    statuses = []
    for _ in range(3):  # each closed before the next: never more than one open
        async with browser.client.stream("GET", f"/m/{map_id}/events") as response:
            statuses.append(response.status_code)
            if response.status_code == 429:
                body = json.loads(await response.aread())
    assert statuses == [200, 200, 429]
    assert "new streams" in body["error"]["message"]
    assert server.throttle.statistics().refused == {"streams": 1}
    await browser.aclose()


async def test_a_slow_body_on_mcp_is_cut_off(nursery: trio.Nursery, caplog: pytest.LogCaptureFixture) -> None:
    server = await start_server(nursery, body_timeout=0.3)
    conn = await RawConnection.open("127.0.0.1", port_of(server))
    head = (
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Accept: application/json, text/event-stream\r\nContent-Length: 200\r\n\r\n"
    )
    with trio.fail_after(10):
        await conn.send(head.encode() + b'{"jsonrpc": "2.0",')  # and then nothing more
        response = await conn.read_response()
        assert response.status == 408
        assert b"did not arrive within 0.3 s" in response.body
        assert response.headers["connection"] == "close"
        assert await conn.closed_by_server()
    await conn.aclose()
    await wait_until(lambda: server.connections.statistics().closed >= 1)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no traceback per slow client"
