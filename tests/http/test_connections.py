"""Connection hygiene on real sockets: every answer sent before its request body was read leaves
the keep-alive connection usable (the body is drained) or closes it; a client's
``Connection: close`` is honoured; no server socket is left in CLOSE-WAIT. Directly against
mapsrv, and through the shipped nginx config's upstream keep-alive pool."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import httpx
import pytest
import trio
from support import Browser, start_server, wait_until
from support.nginx import open_nginx
from support.raw_http import RawConnection, server_sockets_in_close_wait

from mapsrv.server import Server

BODY = b'{"ops": [], "padding": "xxxxxxxxxxxxxxxxxx"}'
assert len(BODY) == 44


@dataclass(frozen=True)
class Early:
    """A request the server answers before reading its body."""

    name: str
    method: str
    path: str  # "{id}" stands for a map the cookie owns
    status: int
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)


EARLY = [
    Early("unknown map", "POST", "/m/AAAAAAAAAAAAAAAAAAAAAA/ops", 404),
    Early(
        "foreign origin",
        "POST",
        "/m/{id}/ops",
        403,
        (("Content-Type", "application/json"), ("Origin", "http://evil.example")),
    ),
    Early("wrong content type", "POST", "/m/{id}/ops", 400, (("Content-Type", "text/plain"),)),
    Early("method not allowed", "POST", "/health", 405),
    Early("redirect from /new", "POST", "/new", 303),
    Early("/messages without the slash", "POST", "/messages", 404),
    Early(
        "mcp foreign origin",
        "POST",
        "/mcp",
        403,
        (("Content-Type", "application/json"), ("Origin", "http://evil.example")),
    ),
]


def head(method: str, path: str, host: str, headers: tuple[tuple[str, str], ...], length: int) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers)]
    lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def port_of(server: Server) -> int:
    return int(server.binds[0].rsplit(":", 1)[1])


async def owned_map(server: Server) -> tuple[str, str]:
    """A map and the cookie of the browser that owns it."""
    browser = Browser(server.url)
    try:
        map_id = await browser.new_map()
        cookie = "; ".join(f"{k}={v}" for k, v in browser.client.cookies.items())
    finally:
        await browser.aclose()
    return map_id, cookie


async def early_then_normal(
    conn: RawConnection,
    host: str,
    map_id: str,
    cookie: str,
    early_seen: Callable[[int], object] | None,
) -> None:
    """Each early-answered request, its 44-byte body sent only once the server has its answer
    ready, then a normal request: all on one connection."""
    for number, case in enumerate(EARLY, 1):
        path = case.path.replace("{id}", map_id)
        headers = (*case.headers, ("Cookie", cookie))
        await conn.send(head(case.method, path, host, headers, len(BODY)))
        if early_seen is not None:
            await wait_until(partial(early_seen, number))
        await conn.send(BODY)
        response = await conn.read_response()
        assert response.status == case.status, (case.name, response)
        assert response.headers.get("connection") != "close", case.name
        await conn.send(f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        healthy = await conn.read_response()
        assert healthy.status == 200, (case.name, healthy)


async def test_early_answers_leave_the_connection_usable(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    map_id, cookie = await owned_map(server)
    start = server.connections.statistics().early_responses
    conn = await RawConnection.open("127.0.0.1", port_of(server))
    with trio.fail_after(20):
        await early_then_normal(
            conn,
            "127.0.0.1",
            map_id,
            cookie,
            lambda n: server.connections.statistics().early_responses >= start + n,
        )
        stats = server.connections.statistics()
        assert stats.drained == len(EARLY) and stats.closed == 0
    await conn.aclose()
    await wait_until(lambda: server_sockets_in_close_wait(port_of(server)) == 0)


async def test_a_late_body_on_a_normal_request(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    map_id, cookie = await owned_map(server)
    conn = await RawConnection.open("127.0.0.1", port_of(server))
    ops = b'{"ops": [{"op": "set_view", "center": [2, 48], "zoom": 5}]}'
    headers = (("Content-Type", "application/json"), ("Cookie", cookie))
    with trio.fail_after(10):
        for _ in range(3):
            await conn.send(head("POST", f"/m/{map_id}/ops", "127.0.0.1", headers, len(ops)))
            await trio.lowlevel.checkpoint()
            await conn.send(ops[:7])
            await conn.send(ops[7:])
            response = await conn.read_response()
            assert response.status == 200, response
    await conn.aclose()


async def test_connection_close_is_honoured(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    map_id, cookie = await owned_map(server)
    requests = [
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        head(
            "POST",
            f"/m/{map_id}/ops",
            "127.0.0.1",
            (("Content-Type", "application/json"), ("Cookie", cookie), ("Connection", "close")),
            len(BODY),
        )
        + BODY,
    ]
    with trio.fail_after(10):
        for request in requests:
            conn = await RawConnection.open("127.0.0.1", port_of(server))
            await conn.send(request)
            await conn.read_response()
            assert await conn.closed_by_server(), request
            await conn.aclose()
    await wait_until(lambda: server_sockets_in_close_wait(port_of(server)) == 0)


async def test_a_body_too_large_to_drain_closes_the_connection(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, max_body_size=4096)
    conn = await RawConnection.open("127.0.0.1", port_of(server))
    headers = (("Content-Type", "application/json"),)
    with trio.fail_after(10):
        await conn.send(head("POST", "/m/AAAAAAAAAAAAAAAAAAAAAA/ops", "127.0.0.1", headers, 1_000_000))
        await conn.send(b"x" * 10_000)
        response = await conn.read_response()
        assert response.status in (404, 413)
        assert response.headers["connection"] == "close"
        assert await conn.closed_by_server()
    await conn.aclose()
    await wait_until(lambda: server_sockets_in_close_wait(port_of(server)) == 0)


async def test_a_body_too_slow_to_drain_closes_the_connection(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, body_timeout=0.2)
    conn = await RawConnection.open("127.0.0.1", port_of(server))
    headers = (("Content-Type", "application/json"),)
    with trio.fail_after(10):
        await conn.send(head("POST", "/m/AAAAAAAAAAAAAAAAAAAAAA/ops", "127.0.0.1", headers, 44))
        await conn.send(BODY[:10])  # and never the rest
        response = await conn.read_response()
        assert response.status == 404
        assert response.headers["connection"] == "close"
        assert await conn.closed_by_server()
    assert server.connections.statistics().closed == 1
    await conn.aclose()


@pytest.mark.parametrize("rounds", [3])
async def test_early_answers_through_nginx_keepalive_pool(
    nursery: trio.Nursery, tmp_path: object, rounds: int
) -> None:
    """nginx hands each pooled upstream connection to the next request: one that mapsrv left
    hanging would make an innocent request wait for the proxy's read timeout."""
    server = await start_server(nursery)
    map_id, cookie = await owned_map(server)
    async with open_nginx(tmp_path, [port_of(server)]) as proxy:  # type: ignore[arg-type]
        host = proxy.address
        with trio.fail_after(30):
            for _ in range(rounds):
                conn = await RawConnection.open(*proxy.host_port)
                await early_then_normal(conn, host, map_id, cookie, None)
                await conn.aclose()
            # And innocent users, on whatever pooled connections nginx picks, are answered.
            async with httpx.AsyncClient(base_url=proxy.url, timeout=5) as client:
                for _ in range(20):
                    assert (await client.get("/health")).status_code == 200
    await wait_until(lambda: server_sockets_in_close_wait(port_of(server)) == 0)


async def test_a_client_closing_an_idle_connection_is_not_left_in_close_wait(nursery: trio.Nursery) -> None:
    """hypercorn 0.18 kept such a socket until its keep-alive timer ran out (75 s):
    ``mapsrv.http.hypercorn.close_idle_connections_on_eof`` closes it at once."""
    server = await start_server(nursery)
    conns = []
    with trio.fail_after(10):
        for _ in range(5):
            conn = await RawConnection.open("127.0.0.1", port_of(server))
            await conn.send(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert (await conn.read_response()).status == 200
            conns.append(conn)
        await wait_until(lambda: server.observer.in_flight == 0)  # each connection is idle now
        for conn in conns:
            await conn.aclose()
    await wait_until(lambda: server_sockets_in_close_wait(port_of(server)) == 0)
