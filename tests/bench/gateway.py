"""``mapsrv gateway`` against supergateway 4.0 (npm), in the same run, on the same machine, with the
same small Python stdio server behind both (tests/gateway/fixtures/misbehave.py) and the same raw
HTTP client in front (Streamable HTTP sessions: supergateway --stateful).

    python -m tests.bench.gateway [--quick]     # tox -e bench runs it after the map's benchmarks

Measures session start (one at a time, and 20 at once), call latency against talking to the
child over its pipes directly (from httpx, the SDK's HTTP client, and from a raw keep-alive
socket, whose own cost is near nothing; and the bridge's CPU per call, which the machine's other
load does not inflate as much as latency), a 32 MiB argument through (and over the pipes
directly: the floor the child and the client set), memory per session, and the processes
left 2 s after ``kill -9`` of the bridge with sessions open (their servers are wrappers that
start a background child, as npx/uvx do). Results: artifacts/bench/gateway.json and gateway.md.
scripts/gateway-node.sh installs Node 22 and supergateway (GATEWAY_NODE_HOME).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import trio
from support import free_port, wait_for_port
from support.procfs import descendants_of
from support.raw_http import RawConnection

from mapsrv.gateway.procs import set_child_subreaper

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = [sys.executable, "-I", str(ROOT / "tests" / "gateway" / "fixtures" / "misbehave.py")]
NODE_HOME = Path(os.environ.get("GATEWAY_NODE_HOME") or ROOT / ".tox" / "gateway-node")
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
CLIENT = {"name": "bench", "version": "1"}
INIT = {
    "jsonrpc": "2.0", "id": 0, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": CLIENT},
}  # fmt: skip


def call(request_id: int, text: str) -> dict[str, Any]:
    params = {"name": "echo", "arguments": {"text": text}}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


@asynccontextmanager
async def bridge(name: str, command: list[str]) -> AsyncIterator[tuple[str, trio.Process]]:
    port = free_port()
    if name == "mapsrv":
        argv = [sys.executable, "-m", "mapsrv", "gateway", "--port", str(port), "--warm", "4",
                "--log-level", "error", "--shell", "--", shlex.join(command)]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
    else:
        node = NODE_HOME / "node_modules" / ".bin" / "node"
        script = NODE_HOME / "node_modules" / "supergateway" / "dist" / "index.js"
        argv = [str(node), str(script), "--stdio", shlex.join(command), "--outputTransport", "streamableHttp",
                "--stateful", "--port", str(port), "--logLevel", "none"]  # fmt: skip
        env = dict(os.environ)
    process = await trio.lowlevel.open_process(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await wait_for_port(port)
        yield f"http://127.0.0.1:{port}/mcp", process
    finally:
        if process.returncode is None:
            process.terminate()
            with trio.move_on_after(10):
                await process.wait()
            process.kill()
            await process.wait()


async def rpc(
    http: httpx.AsyncClient, url: str, sid: str | None, body: dict[str, Any]
) -> tuple[Any, str | None]:
    headers = {**HEADERS, **({"mcp-session-id": sid} if sid else {})}
    response = await http.post(url, json=body, headers=headers)
    if response.status_code >= 400:
        return {"http": response.status_code}, None
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        text = next(line[6:] for line in text.splitlines() if line.startswith("data: "))
    return json.loads(text) if text else None, response.headers.get("mcp-session-id")


async def open_session(http: httpx.AsyncClient, url: str) -> str:
    _, sid = await rpc(http, url, None, INIT)
    assert sid, "no session id"
    await http.post(
        url,
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        headers={**HEADERS, "mcp-session-id": sid},
    )
    return sid


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def direct_ms(n: int, text: str = "x") -> float:
    """p50 of an echo call over the child's own pipes: the floor a bridge adds to. The client's
    encoding and decoding are counted, as they are through a bridge."""
    process = await trio.lowlevel.open_process(FIXTURE, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    times = []
    for i in range(n):
        started = time.perf_counter()
        await process.stdin.send_all(json.dumps(call(i, text)).encode() + b"\n")
        pieces = [await process.stdout.receive_some()]
        while not pieces[-1].endswith(b"\n"):
            pieces.append(await process.stdout.receive_some())
        json.loads(b"".join(pieces))
        times.append(time.perf_counter() - started)
    await process.stdin.aclose()
    await process.wait()
    return pct(times, 0.5)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def raw_calls(url: str, sid: str, n: int, pid: int) -> tuple[float, float]:
    """p50 of calls from a raw keep-alive socket (the client's own cost near nothing), and the
    bridge's CPU milliseconds per call (its process only, not its child's)."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    connection = await RawConnection.open(host, int(port))
    times = []
    used = cpu_seconds(pid)
    for i in range(n):
        body = json.dumps(call(20_000 + i, "x")).encode()
        head = (
            f"POST /mcp HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
            f"accept: application/json, text/event-stream\r\nmcp-session-id: {sid}\r\n"
            f"mcp-protocol-version: 2025-11-25\r\ncontent-length: {len(body)}\r\n\r\n"
        )
        started = time.perf_counter()
        await connection.send(head.encode() + body)
        response = await connection.read_response()
        times.append(time.perf_counter() - started)
        assert response.status == 200 and b'"x"' in response.body, response
    used = cpu_seconds(pid) - used
    await connection.aclose()
    return pct(times, 0.5), round(1000 * used / n, 2)


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


async def measure(name: str, quick: bool) -> dict[str, Any]:
    n = 5 if quick else 20
    out: dict[str, Any] = {}
    async with bridge(name, FIXTURE) as (url, process), httpx.AsyncClient(timeout=60) as http:
        await open_session(http, url)  # warm-up
        starts = []
        for _ in range(n):
            await trio.sleep(0.2)  # the warm pool refills between sessions, as between real clients
            started = time.perf_counter()
            await open_session(http, url)
            starts.append(time.perf_counter() - started)
        out["session_start_p50_ms"] = pct(starts, 0.5)
        concurrent: list[float] = []

        async def timed_open() -> None:
            started = time.perf_counter()
            await open_session(http, url)
            concurrent.append(time.perf_counter() - started)

        async with trio.open_nursery() as opens:
            for _ in range(20):
                opens.start_soon(timed_open)
        out["open_20_at_once_p95_ms"] = pct(concurrent, 0.95)
        sid = await open_session(http, url)
        calls = []
        for i in range(10 if quick else 200):
            started = time.perf_counter()
            await rpc(http, url, sid, call(i + 1, "x"))
            calls.append(time.perf_counter() - started)
        out["call_p50_ms"] = pct(calls, 0.5)
        out["raw_call_p50_ms"], out["bridge_cpu_per_call_ms"] = await raw_calls(
            url, sid, 10 if quick else 500, process.pid
        )
        big = "x" * (32 * 1024 * 1024 - 200)
        started = time.perf_counter()
        answer, _ = await rpc(http, url, sid, call(10_000, big))
        ok = isinstance(answer, dict) and answer.get("result", {}).get("content", [{}])[0].get("text") == big
        out["message_32mib_s"] = (
            round(time.perf_counter() - started, 2) if ok else f"failed: {str(answer)[:80]}"
        )
        before = rss_kib([process.pid, *descendants_of(process.pid)])
        for _ in range(n):
            await open_session(http, url)
        out["memory_per_session_mib"] = round(
            (rss_kib([process.pid, *descendants_of(process.pid)]) - before) / n / 1024, 1
        )
    out["left_after_kill_9"] = await leftovers(name, n)
    return out


async def leftovers(name: str, n: int) -> str:
    """Sessions whose server is a wrapper with a background child; kill -9 the bridge; count."""
    wrapper = ["sh", "-c", f"sleep 1000 & exec {shlex.join(FIXTURE)}"]
    async with bridge(name, wrapper) as (url, process), httpx.AsyncClient(timeout=60) as http:
        for _ in range(n):
            await open_session(http, url)
        before = [pid for pid in descendants_of(process.pid) if alive(pid)]
        process.send_signal(signal.SIGKILL)
        await process.wait()
        await trio.sleep(2)
        left = [pid for pid in before if alive(pid)]
        for pid in left:  # this process is a subreaper: the orphans are ours to clean up
            os.kill(pid, signal.SIGKILL)
        with trio.move_on_after(5):
            while any(alive(pid) for pid in left):  # noqa: ASYNC110 (only /proc knows)
                await trio.sleep(0.05)
        for pid in before:
            try:
                os.waitpid(pid, os.WNOHANG)  # noqa: ASYNC222 (WNOHANG: never blocks)
            except ChildProcessError:
                pass
    return f"{len(left)} of {len(before)}"


async def main(quick: bool) -> dict[str, Any]:
    set_child_subreaper()
    results: dict[str, Any] = {
        "direct_call_p50_ms": await direct_ms(10 if quick else 200),
        "direct_32mib_s": round(await direct_ms(3, "x" * (32 * 1024 * 1024 - 200)) / 1000, 2),
    }
    for name in ("mapsrv", "supergateway"):
        results[name] = await measure(name, quick)
    return results


def markdown(results: dict[str, Any]) -> str:
    rows = ["| metric | mapsrv gateway | supergateway 4.0 |", "|---|---|---|"]
    for key in results["mapsrv"]:
        rows.append(f"| {key} | {results['mapsrv'][key]} | {results['supergateway'][key]} |")
    rows.append(f"| direct call over pipes, p50 ms | {results['direct_call_p50_ms']} | |")
    rows.append(f"| direct 32 MiB over pipes, s | {results['direct_32mib_s']} | |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check that it runs")
    args = parser.parse_args()
    if not (NODE_HOME / "node_modules" / "supergateway").exists():
        sys.exit(f"supergateway is not installed in {NODE_HOME}: run scripts/gateway-node.sh")
    results = trio.run(main, args.quick)
    target = ROOT / "artifacts" / "bench"
    target.mkdir(parents=True, exist_ok=True)
    (target / "gateway.json").write_text(json.dumps(results, indent=2))
    (target / "gateway.md").write_text(markdown(results))
    print(markdown(results))
