"""Tool calls per core (issue 47): mapsrv against the MCP SDK's own ``MCPServer`` on uvicorn (its
default deployment; httptools parses HTTP when installed), in one run, each server pinned to one
core and wrk on another, 50 connections calling ``read`` on a map of 3 markers: once in the
stateless 2026-07-28 era (every POST stands alone) and once in a 2025-11-25 session (one
``Mcp-Session-Id`` shared by every connection).

mapsrv runs with everything it checks switched on: an API key on every call, the per-client MCP
rate limit (set high enough that it is checked but not hit), Host and Origin checks, argument
validation and attribution. The servers run one after the other, so they never share the core.

    python -m tests.bench.tool_calls_per_core [SECONDS] [CONNECTIONS]

Needs ``wrk`` and ``taskset`` and two cores. Prints a Markdown table and writes
``artifacts/bench/tool_calls_per_core.json``: calls a second, p50 and p99 as wrk measured them,
and calls per second of the server's own CPU time (user + system), which moves less than the rest
when something else shares the machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import trio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from support import open_server

from mapsrv.mcp.sdk import http_client

from .harness import cpu_seconds, open_peer, settled

SECRET = "bench-secret-47"
MODERN, SESSION_ERA = "2026-07-28", "2025-11-25"
MARKERS = [
    {"at": [38.72, -9.14], "label": "Lisbon"},
    {"at": [40.4, -3.7], "label": "Madrid"},
    {"at": [48.85, 2.35], "label": "Paris"},
]
MAPSRV_ARGS = (
    "--store", "memory://", "--api-keys", f"bench:{SECRET}",
    # checked on every call, never reached: the load comes from one client
    "--rate-mcp", "10000", "--burst-mcp", "10000000",
)  # fmt: skip
SERVER_CORE, LOAD_CORE = 0, 1
CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    CLIENT_INFO: {"name": "bench", "version": "1"},
}


def call(map_id: str, *, stateless: bool) -> dict[str, Any]:
    params: dict[str, Any] = {"name": "read", "arguments": {"map_id": map_id}}
    if stateless:
        params["_meta"] = META
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}


def base_headers(auth: dict[str, str], version: str) -> dict[str, str]:
    return {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": version,
        **auth,
    }


async def three_markers(url: str, auth: dict[str, str]) -> str:
    """A map of 3 markers, drawn with the SDK's client: its id."""
    async with Client(streamable_http_client(url, http_client=http_client(auth))) as client:
        drawn = await client.call_tool("draw", {"title": "bench", "items": MARKERS})
        assert not drawn.is_error, drawn.content
        return str(drawn.structured_content["map_id"])  # type: ignore[index]


async def open_session(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> str:
    """A 2025-11-25 session, initialized: its id."""
    hello = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": SESSION_ERA, "capabilities": {}, "clientInfo": META[CLIENT_INFO]},
    }
    opened = await http.post(url, json=hello, headers=headers)
    assert opened.status_code == 200, opened.text
    session = opened.headers["mcp-session-id"]
    done = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    acknowledged = await http.post(url, json=done, headers={**headers, "mcp-session-id": session})
    assert acknowledged.status_code == 202, acknowledged.text
    return session


async def check_answer(
    http: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]
) -> None:
    """One call as wrk will make it: answered, with the map's markers, and no tool error."""
    answer = await http.post(url, json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert "Paris" in answer.text and '"isError":true' not in answer.text.replace(" ", ""), answer.text


def lua(body: dict[str, Any], headers: dict[str, str]) -> str:
    """wrk's script: ``body`` with a JSON-RPC id of its own per request (a session answers
    requests by id: 50 connections sending the same id would wait for each other)."""
    head, tail = json.dumps({**body, "id": 999_999_999}).split("999999999")
    lines = ['wrk.method = "POST"', f"head, tail = [==[{head}]==], [==[{tail}]==]", "counter = 0"]
    lines += [f'wrk.headers["{name}"] = [==[{value}]==]' for name, value in headers.items()]
    lines += [
        "function request()",
        "  counter = counter + 1",
        "  return wrk.format(nil, nil, nil, head .. counter .. tail)",
        "end",
    ]
    return "\n".join(lines) + "\n"


def wrk(url: str, script: str, seconds: int, connections: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        command = ["taskset", "-c", str(LOAD_CORE), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
        command += ["--latency", "-s", file.name, url]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
    finally:
        os.unlink(file.name)
    return parse_wrk(out.stdout)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out: str) -> dict[str, Any]:
    found = {q: re.search(rf"^\s+{q}%\s+(\S+)", out, re.M) for q in ("50", "99")}
    calls = re.search(r"^\s+(\d+) requests in", out, re.M)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if not (calls and rate and all(found.values())):
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    return {
        "calls": int(calls.group(1)),
        "calls_per_s": float(rate.group(1)),
        "p50_ms": _ms(found["50"].group(1)),  # type: ignore[union-attr]
        "p99_ms": _ms(found["99"].group(1)),  # type: ignore[union-attr]
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


async def measure(url: str, pid: int, auth: dict[str, str], seconds: int, connections: int) -> dict[str, Any]:
    """Both eras against one server (pinned to SERVER_CORE): wrk's numbers and calls per CPU-s."""
    os.sched_setaffinity(pid, {SERVER_CORE})
    await settled(pid)  # mapsrv warms its places after start-up: not a call's CPU
    map_id = await three_markers(url, auth)
    results = {}
    async with httpx.AsyncClient(timeout=30) as http:
        for era in ("stateless", "session"):
            body = call(map_id, stateless=era == "stateless")
            if era == "stateless":
                headers = {**base_headers(auth, MODERN), "mcp-method": "tools/call", "mcp-name": "read"}
            else:  # opened just before it is used: a session silent after initialize is closed
                headers = base_headers(auth, SESSION_ERA)
                headers["mcp-session-id"] = await open_session(http, url, headers)
            await check_answer(http, url, body, headers)
            await trio.to_thread.run_sync(wrk, url, lua(body, headers), 2, connections)  # warm up
            before = cpu_seconds(pid)
            result = await trio.to_thread.run_sync(wrk, url, lua(body, headers), seconds, connections)
            result["calls_per_cpu_s"] = round(result["calls"] / max(cpu_seconds(pid) - before, 1e-9))
            results[era] = result
    return results


@asynccontextmanager
async def open_mapsrv() -> AsyncIterator[tuple[str, int, dict[str, str]]]:
    async with open_server(*MAPSRV_ARGS) as server:
        yield server.url + "mcp", server.pid, {"authorization": f"Bearer {SECRET}"}


@asynccontextmanager
async def open_sdk() -> AsyncIterator[tuple[str, int, dict[str, str]]]:
    async with open_peer("peer_server") as (url, pid):
        yield url + "/mcp", pid, {}


def table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    rows = [
        "| server | era | calls/s | calls per server CPU-s | p50 ms | p99 ms | non-2xx |",
        "|---|---|---|---|---|---|---|",
    ]
    for server, eras in results.items():
        for era, r in eras.items():
            rate, per_cpu = f"{r['calls_per_s']:,.0f}", f"{r['calls_per_cpu_s']:,}"
            rows.append(
                f"| {server} | {era} | {rate} | {per_cpu} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
                f"| {r['non_2xx']} |"
            )
    for era in ("stateless", "session"):
        ratio = results["mapsrv"][era]["calls_per_cpu_s"] / results["sdk"][era]["calls_per_cpu_s"]
        rows.append(f"\nmapsrv / SDK, {era}, calls per server CPU-second: {ratio:.2f}")
    return "\n".join(rows)


async def main(seconds: int, connections: int) -> None:
    if shutil.which("wrk") is None or shutil.which("taskset") is None or len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs wrk, taskset and two cores (apt-get install wrk)")
    results = {}
    for name, opener in (("mapsrv", open_mapsrv), ("sdk", open_sdk)):
        async with opener() as (url, pid, auth):
            results[name] = await measure(url, pid, auth, seconds, connections)
    print(table(results))
    write_results(results)


def write_results(results: dict[str, Any]) -> None:
    out = Path("artifacts/bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "tool_calls_per_core.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    trio.run(main, int(sys.argv[1]) if sys.argv[1:] else 10, int(sys.argv[2]) if sys.argv[2:] else 50)
