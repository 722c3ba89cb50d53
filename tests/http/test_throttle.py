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


def client(n: int) -> dict[str, str]:
    """The headers of the n-th client behind the trusted proxy."""
    return {"x-forwarded-for": f"203.0.113.{n}"}


def assert_retry_after(refused: httpx.Response, least: int, most: int) -> None:
    """The refusal says when to come back, in its header and its body alike."""
    assert refused.status_code == 429
    assert least <= int(refused.headers["retry-after"]) <= most
    assert refused.json()["error"]["retry_after"] == int(refused.headers["retry-after"])


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


async def test_a_global_wait_under_a_second_still_refuses(nursery: trio.Nursery) -> None:
    """At 1/s a refused map waits less than a second (its Retry-After rounds up to 1)."""
    server = await start_server(nursery, rate_maps_global=1.0, burst_maps_global=5, **PROXIED)
    statuses = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        for n in range(12):
            statuses.append((await http.get("/", headers=client(n))).status_code)
            http.cookies.clear()
    assert statuses.count(303) <= 6 and statuses.count(429) >= 6


async def test_the_global_map_budget_holds_against_many_clients(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, rate_maps_global=0.01, burst_maps_global=5, **PROXIED)
    answers = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        for n in range(12):
            answers.append(await http.get("/", headers=client(n)))
            http.cookies.clear()
    assert [a.status_code for a in answers] == [303] * 5 + [429] * 7
    refused = answers[-1]
    assert refused.json()["error"]["message"].startswith(
        "too many new maps on this server: at most 0.01/s; retry in "
    )
    assert_retry_after(refused, 90, 100)  # a map every 100 s
    assert server.throttle.statistics().refused == {"maps_global": 7}


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


@pytest.mark.parametrize("budget", ["per_client", "global"])
async def test_budgets_are_shared_by_processes_through_redis(nursery: trio.Nursery, budget: str) -> None:
    """One client's new maps, and the server's new maps from many clients, counted once for
    every process."""
    async with open_redis() as url:
        if budget == "per_client":
            limits = {"store": url, "rate_maps": 0.01, "burst_maps": 3, **PROXIED}
        else:
            limits = {"store": url, "rate_maps_global": 0.01, "burst_maps_global": 3, **PROXIED}
        a = await start_server(nursery, **limits)
        b = await start_server(nursery, **limits)
        got = []
        async with httpx.AsyncClient() as http:
            for n, server in enumerate((a, b, a, b, a)):
                who = FLOODER if budget == "per_client" else client(n)
                got.append((await http.get(server.url, headers=who)).status_code)
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
    assert server.throttle.statistics().open_streams_clients == 1
    for _ in range(2):
        refused = await browser.client.get(f"/m/{map_id}/events")
        assert_retry_after(refused, 5, 5)
        assert refused.json()["error"]["message"] == "this client has 2 streams open, its most; close one"
    assert server.throttle.statistics().refused == {"streams_open": 2}
    await browser.aclose()
    await wait_until(lambda: server.throttle.statistics().open_streams_clients == 0)


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


async def test_a_body_that_keeps_coming_is_not_cut_off(nursery: trio.Nursery) -> None:
    """A body that takes three times the body timeout but keeps coming (a big file over a slow
    uplink: here 640 KiB/s, the allowance is 64 KiB/s) is read whole and answered; the trickle
    above is still cut off."""
    server = await start_server(nursery, body_timeout=0.3)
    conn = await RawConnection.open("127.0.0.1", port_of(server))
    body = json.dumps(INITIALIZE).encode().ljust(600 * 1024)  # JSON with trailing spaces
    head = (
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    chunk = 32 * 1024
    with trio.fail_after(20):
        await conn.send(head.encode())
        started = trio.current_time()
        for at in range(0, len(body), chunk):
            await conn.send(body[at : at + chunk])
            await trio.sleep(0.05)  # the client's pace, not a wait for the server
        assert trio.current_time() - started > 3 * 0.3
        response = await conn.read_response()
    assert response.status == 200, response.body[:200]
    assert b'"serverInfo"' in response.body
    await conn.aclose()


async def test_each_request_spends_the_budget_of_its_kind_and_no_other(nursery: trio.Nursery) -> None:
    """A budget of one for each kind, and one client per check: new maps are cookie-less ``/``
    and ``/new`` (not ``/`` with the user cookie: that is the user's last map); writes are ops,
    undo and redo; MCP messages are POSTs to MCP paths; streams are GETs of stream paths."""
    slow = 0.01  # a request every 100 s: nothing refills during the test
    server = await start_server(
        nursery,
        **{f"rate_{kind}": slow for kind in ("maps", "writes", "mcp", "streams")},
        **{f"burst_{kind}": 1 for kind in ("maps", "writes", "mcp", "streams")},
        **PROXIED,
    )
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.post("/new", headers=client(1))).status_code == 303
        refused = await http.post("/new", headers=client(1))
        assert refused.json()["error"]["message"].startswith(
            "too many new maps from this client: at most 0.01/s (bursts of 1); retry in "
        )
        assert_retry_after(refused, 90, 100)
        http.cookies.clear()
        first = await http.get("/", headers=client(2))
        again = [await http.get("/", headers=client(2)) for _ in range(3)]  # with the cookie now
        assert [a.status_code for a in again] == [303] * 3
        assert {a.headers["location"] for a in again} == {first.headers["location"]}

    browser = Browser(server.url)
    map_id = await browser.new_map()
    title = {"ops": [{"op": "set_title", "title": "t"}]}
    for n, action in ((3, "undo"), (4, "redo")):
        written = await browser.client.post(f"/m/{map_id}/ops", json=title, headers=client(n))
        assert written.status_code == 200
        refused = await browser.client.post(f"/m/{map_id}/{action}", headers=client(n))
        assert refused.status_code == 429, action
        assert "too many writes from this client" in refused.json()["error"]["message"]

    accept = {"accept": "application/json, text/event-stream"}
    mcp = await browser.client.post("/mcp", json=INITIALIZE, headers={**accept, **client(5)})
    assert mcp.status_code == 200
    assert (await browser.client.post("/health", headers=client(5))).status_code == 405, "not an MCP message"

    async with browser.client.stream("GET", f"/m/{map_id}/events", headers=client(6)) as stream:
        assert stream.status_code == 200
    for path in ("/health", f"/m/{map_id}/state", f"/m/{map_id}"):
        assert (await browser.client.get(path, headers=client(6))).status_code == 200, path
    refused = await browser.client.get(f"/m/{map_id}/events", headers=client(6))
    assert refused.status_code == 429 and "new streams" in refused.json()["error"]["message"]

    assert server.throttle.statistics().refused == {"maps": 1, "writes": 2, "streams": 1}
    await browser.aclose()


async def test_a_rate_of_zero_is_no_limit(nursery: trio.Nursery) -> None:
    off = {"rate_maps": 0, "burst_maps": 1, "rate_maps_global": 0, "burst_maps_global": 1}
    server = await start_server(nursery, **off, rate_writes=0, burst_writes=1, **PROXIED)
    browser = Browser(server.url)
    for _ in range(3):  # cookie-less: a new map each
        browser.client.cookies.clear()
        map_id = await browser.new_map()
    for _ in range(3):  # the last one's owner
        assert (await browser.ops(map_id, {"op": "set_title", "title": "t"})).status_code == 200
    assert server.throttle.statistics().refused == {}
    await browser.aclose()


async def test_a_client_with_an_api_key_spends_its_keys_budget(nursery: trio.Nursery) -> None:
    """Every client here is 127.0.0.1: the key, when a valid one is sent, is who it is."""
    keys = ("alice:alice-secret-0123456789", "bob:bob-secret-0123456789")
    server = await start_server(nursery, api_keys=keys, rate_mcp=0.01, burst_mcp=1)
    accept = {"accept": "application/json, text/event-stream"}
    alice = {**accept, "x-api-key": "alice-secret-0123456789"}
    bob = {**accept, "authorization": "Bearer bob-secret-0123456789"}
    async with httpx.AsyncClient(base_url=server.url) as http:

        async def post(headers: dict[str, str]) -> int:
            return (await http.post("/mcp", json=INITIALIZE, headers=headers)).status_code

        assert [await post(alice), await post(alice)] == [200, 429]
        assert await post(bob) == 200
        assert [await post(accept), await post(accept)] == [401, 429], "no key: the address's budget"
        assert await post({**accept, "x-api-key": "wrong"}) == 429, "a wrong key: the address's too"
    assert server.throttle.statistics().refused == {"mcp": 3}
