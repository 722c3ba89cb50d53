"""What one hostile client gets out of a mapsrv process with its default limits, and how long a
well-behaved client waits meanwhile (issue 12's figures).

    python -m tests.bench.abuse [--seconds 5]

The server runs in its own process (``mapsrv serve --trusted-proxies 127.0.0.1``), so every
client can claim its own address with X-Forwarded-For. Prints one JSON object:

- ``map_flood``: one client fetching ``/`` without a cookie as fast as it can (8 connections):
  requests sent and maps created per second, and how many were refused (429);
- ``mcp_flood``: one client sending MCP messages as fast as it can: passed per second;
- ``session_flood_one_client`` / ``session_flood_many_clients``: bare ``initialize`` requests
  from one address, or from a new address each time (a botnet), while a polite client opens an
  MCP session with the SDK every half second: how long each of its connects took.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from typing import Any

import httpx
import httpx2
import trio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from support.mcp import INITIALIZE
from support.mcp import MCP_ACCEPT as ACCEPT

from .harness import open_limited_server, percentiles

CONNECTIONS = 8


async def _flood(seconds: float, request: Any) -> dict[str, int]:
    """``request(http, n)`` from CONNECTIONS connections for ``seconds``: statuses counted."""
    counts: dict[int, int] = {}
    numbers = itertools.count()
    with trio.move_on_after(seconds):
        async with trio.open_nursery() as nursery:
            for _ in range(CONNECTIONS):

                async def one() -> None:
                    async with httpx.AsyncClient(timeout=10) as http:
                        while True:
                            status = (await request(http, next(numbers))).status_code
                            counts[status] = counts.get(status, 0) + 1
                            http.cookies.clear()

                nursery.start_soon(one)
    return {str(k): v for k, v in sorted(counts.items())}


def _rates(counts: dict[str, int], seconds: float) -> dict[str, Any]:
    """Requests sent, and those that passed the limits (anything but 429), per second."""
    sent = sum(counts.values())
    return {
        "statuses": counts,
        "sent_per_s": round(sent / seconds, 1),
        "passed_per_s": round((sent - counts.get("429", 0)) / seconds, 1),
    }


async def _polite_connects(url: str, seconds: float) -> list[float]:
    """A well-behaved client opening a session (and listing tools) every half second."""
    waits: list[float] = []
    with trio.move_on_after(seconds):
        while True:
            started = time.perf_counter()
            headers = {"x-forwarded-for": "198.51.100.9"}
            try:
                http = httpx2.AsyncClient(headers=headers)
                async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
                    await client.list_tools()
                waits.append(time.perf_counter() - started)
            except Exception:  # a refusal counts as a failed connect
                waits.append(float("inf"))
            await trio.sleep(0.5)
    return waits


async def _session_flood(base: str, seconds: float, many: bool) -> dict[str, Any]:
    async def initialize(http: httpx.AsyncClient, n: int) -> httpx.Response:
        address = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" if many else "203.0.113.7"
        return await http.post(base + "mcp", json=INITIALIZE, headers={**ACCEPT, "x-forwarded-for": address})

    async with trio.open_nursery() as nursery:
        flood: dict[str, dict[str, int]] = {}

        async def run_flood() -> None:
            flood["counts"] = await _flood(seconds, initialize)

        nursery.start_soon(run_flood)
        await trio.sleep(1)  # the flood is in full swing first
        waits = await _polite_connects(base + "mcp", seconds - 1)
    finite = [w for w in waits if w != float("inf")]
    return {
        **_rates(flood["counts"], seconds),
        "polite_connects": len(waits),
        "polite_failed": len(waits) - len(finite),
        "polite_seconds": percentiles(finite) if finite else None,
    }


async def main(seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with open_limited_server("--trusted-proxies", "127.0.0.1") as server:
        base = server.url

        async def new_map(http: httpx.AsyncClient, n: int) -> httpx.Response:
            return await http.get(base, headers={"x-forwarded-for": "203.0.113.7"})

        out["map_flood"] = _rates(await _flood(seconds, new_map), seconds)

        async def ping(http: httpx.AsyncClient, n: int) -> httpx.Response:
            body = {"jsonrpc": "2.0", "id": n, "method": "ping"}
            headers = {**ACCEPT, "x-forwarded-for": "203.0.113.8", "mcp-protocol-version": "2026-07-28"}
            return await http.post(base + "mcp", json=body, headers=headers)

        out["mcp_flood"] = _rates(await _flood(seconds, ping), seconds)
    for many in (False, True):
        async with open_limited_server("--trusted-proxies", "127.0.0.1") as server:
            key = "session_flood_many_clients" if many else "session_flood_one_client"
            out[key] = await _session_flood(server.url, seconds, many)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(json.dumps(trio.run(main, args.seconds), indent=2))
