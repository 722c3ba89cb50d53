"""What MCP authorization costs a tool call (issue 36: token checks add <= 0.2 ms p50, keys
cached): the same ``read`` called over one Streamable HTTP session with an API key, then with an
access token from a real OpenID provider (oidc-provider; Node from scripts/gateway-node.sh), on a
server in its own process; and, in this process, what checking a token costs the first time
(signature) and every time after (the cache):

    python -m tests.bench.token_check 2000
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import httpx2
import trio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mapsrv.http.tokens import AccessTokens, Issuer, Resource
from tests.support.openid import open_provider

from .harness import free_port, open_server, percentiles

DRAW = {"items": [{"at": [38.72, -9.14], "label": "Lisbon"}], "title": "Bench"}


async def calls(url: str, bearer: str, n: int) -> dict[str, Any]:
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {bearer}"}, timeout=10)
    async with Client(streamable_http_client(url + "mcp", http_client=http)) as client:
        drawn = await client.call_tool("draw", DRAW)
        map_id = drawn.structured_content["map_id"]
        for _ in range(50):  # warm up
            await client.call_tool("read", {"map_id": map_id})
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            result = await client.call_tool("read", {"map_id": map_id})
            samples.append(time.perf_counter() - start)
            assert not result.is_error
    return percentiles(samples)


async def checks(issuer: str, resource: str, token: str, n: int) -> dict[str, Any]:
    tokens, at = AccessTokens(Issuer(issuer)), Resource(resource, resource + "/meta")
    await tokens.check(token, at)  # discovery and keys
    first, cached = [], []
    for _ in range(n):
        tokens._checked.clear()
        start = time.perf_counter()
        await tokens.check(token, at)
        first.append(time.perf_counter() - start)
        start = time.perf_counter()
        await tokens.check(token, at)
        cached.append(time.perf_counter() - start)
    return {"first_check": percentiles(first), "cached_check": percentiles(cached)}


async def main(n: int) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    async with open_server("--oidc-issuer", issuer, "--api-keys", "bench:bench-key-0123456789") as server:
        resource = server.url + "mcp"
        async with open_provider(port, resource) as provider:
            token = provider.mint({"scope": "maps:read maps:write", "sub": "bench"})
            key = await calls(server.url, "bench-key-0123456789", n)
            with_token = await calls(server.url, token, n)
            inside = await checks(issuer, resource, token, n)
    out = {
        "calls": n,
        "api_key": key,
        "access_token": with_token,
        "added_p50_ms": round(with_token["p50"] - key["p50"], 3),
        **inside,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    trio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
