"""``mapsrv gateway`` against supergateway 4.0 (npm), in the same run, on the same machine, with the
same small Python stdio server behind both (tests/gateway/fixtures/misbehave.py) and the same raw
HTTP client in front (Streamable HTTP sessions: supergateway --stateful).

    python -m tests.bench.gateway [--quick]     # tox -e bench runs it after the map's benchmarks

Measures session start (one at a time, and 20 at once), call latency against talking to the
child over its pipes directly, a 32 MiB argument through, memory per session, and the processes
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


async def direct_call_ms(n: int) -> float:
    """p50 of an echo call over the child's own pipes: the floor a bridge adds to."""
    process = await trio.lowlevel.open_process(FIXTURE, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    times, buffer = [], b""
    for i in range(n):
        started = time.perf_counter()
        await process.stdin.send_all(json.dumps(call(i, "x")).encode() + b"\n")
        while b"\n" not in buffer:
            buffer += await process.stdout.receive_some()
        buffer = buffer.split(b"\n", 1)[1]
        times.append(time.perf_counter() - started)
    await process.stdin.aclose()
    await process.wait()
    return pct(times, 0.5)


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
    results: dict[str, Any] = {"direct_call_p50_ms": await direct_call_ms(10 if quick else 200)}
    for name in ("mapsrv", "supergateway"):
        results[name] = await measure(name, quick)
    return results


def markdown(results: dict[str, Any]) -> str:
    rows = ["| metric | mapsrv gateway | supergateway 4.0 |", "|---|---|---|"]
    for key in results["mapsrv"]:
        rows.append(f"| {key} | {results['mapsrv'][key]} | {results['supergateway'][key]} |")
    rows.append(f"| direct call over pipes, p50 ms | {results['direct_call_p50_ms']} | |")
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
