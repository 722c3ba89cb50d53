"""``mapsrv gateway`` against supergateway 4.0 (npm), in the same run, on the same machine, with the
same small Python stdio server behind both (tests/gateway/fixtures/misbehave.py) and the same raw
HTTP client in front (Streamable HTTP sessions: supergateway --stateful).

    python -m tests.bench.gateway [--quick]     # tox -e bench runs it after the map's benchmarks
    python -m tests.bench.gateway --only calls,big --bridges mapsrv --gateway-src /tmp/before

Measures session start (one at a time, and 20 at once), call latency against talking to the
child over its pipes directly (from httpx, the SDK's HTTP client, and from a raw keep-alive
socket, whose own cost is near nothing; and the bridge's CPU per call, which the machine's other
load does not inflate as much as latency), a 32 MiB argument through (and over the pipes
directly: the floor the child and the client set), twice: behind the SDK's HTTP client to a
Python server that decodes and encodes it, and, for the bridge's own share, from a raw socket to
a child that echoes it without parsing (tests/gateway/fixtures/raw_echo.py); memory per
session, and the processes left 2 s after ``kill -9`` of the bridge with sessions open (their
servers are wrappers that start a background child, as npx/uvx do). Results:
artifacts/bench/gateway.json and gateway.md. scripts/gateway-node.sh installs Node 22 and
supergateway (GATEWAY_NODE_HOME).
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
RAW_ECHO = [sys.executable, "-I", str(ROOT / "tests" / "gateway" / "fixtures" / "raw_echo.py")]
BIG = 32 * 1024 * 1024 - 200  # the argument: the message is just under 32 MiB
SCENARIOS = ("start", "open20", "calls", "big", "raw_big", "memory", "kill9")
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
async def bridge(
    name: str, command: list[str], source: Path = ROOT
) -> AsyncIterator[tuple[str, trio.Process]]:
    """``source``: the mapsrv tree whose gateway runs (another checkout, for before/after)."""
    port = free_port()
    if name == "mapsrv":
        argv = [sys.executable, "-m", "mapsrv", "gateway", "--port", str(port), "--warm", "4",
                "--log-level", "error", "--shell", "--", shlex.join(command)]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(source)}
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


def echoed(answer: bytes | bytearray, size: int) -> bool:
    """An echo answer of ``size`` x's, checked without parsing it (the client's cost is not the
    bridge's): its length and its ends."""
    whole = len(answer) == size + 77  # raw_echo.py's answer to id 10001
    return whole and answer.endswith(b'xxxx"}]}}') and b'"id":10001' in answer[:40]


async def direct_raw_big_s(n: int) -> float:
    """p50 seconds of a 32 MiB echo over raw_echo.py's own pipes, encoded before the clock starts
    and not decoded: the floor with a child that does not parse it."""
    process = await trio.lowlevel.open_process(RAW_ECHO, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    line = json.dumps(call(10_001, "x" * BIG)).encode() + b"\n"
    times = []
    for _ in range(n):
        started = time.perf_counter()
        async with trio.open_nursery() as nursery:  # the child answers while it still reads
            nursery.start_soon(process.stdin.send_all, line)
            pieces = [await process.stdout.receive_some(1 << 20)]
            while not pieces[-1].endswith(b"\n"):
                pieces.append(await process.stdout.receive_some(1 << 20))
        answer = b"".join(pieces)[:-1]
        times.append(time.perf_counter() - started)
        assert echoed(answer, BIG), answer[:80]
    await process.stdin.aclose()
    await process.wait()
    return round(pct(times, 0.5) / 1000, 3)


async def raw_big_s(url: str, sid: str, body: bytes) -> tuple[float, bytes]:
    """Seconds for one POST of ``body`` from a raw socket, its answer read into one buffer
    (Content-Length answers only; anything else is returned as a failure)."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    head = (
        f"POST /mcp HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
        f"accept: application/json, text/event-stream\r\nmcp-session-id: {sid}\r\n"
        f"mcp-protocol-version: 2025-11-25\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    sock = trio.socket.socket()
    await sock.connect((host, int(port)))
    with sock:
        started = time.perf_counter()
        stream = trio.SocketStream(sock)
        await stream.send_all(head)
        await stream.send_all(body)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = await sock.recv(65536)
            if not chunk:
                return 0.0, received
            received += chunk
        head_end = received.index(b"\r\n\r\n") + 4
        fields = dict(
            line.split(b":", 1) for line in received[:head_end].lower().split(b"\r\n")[1:] if b":" in line
        )
        if not received.startswith(b"HTTP/1.1 200") or b"content-length" not in fields:
            return 0.0, received[:head_end]
        answer = bytearray(int(fields[b"content-length"]))
        view = memoryview(answer)
        got = len(received) - head_end
        view[:got] = received[head_end:]
        while got < len(answer):
            n = await sock.recv_into(view[got:])
            if not n:
                break
            got += n
        return time.perf_counter() - started, bytes(answer[:got])


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


async def measure(name: str, quick: bool, only: set[str], source: Path, bursts: int) -> dict[str, Any]:
    n = 5 if quick else 20
    out: dict[str, Any] = {}
    async with bridge(name, FIXTURE, source) as (url, process), httpx.AsyncClient(timeout=60) as http:
        await open_session(http, url)  # warm-up
        if "start" in only:
            starts = []
            for _ in range(n):
                await trio.sleep(0.2)  # the warm pool refills between sessions, as between real clients
                started = time.perf_counter()
                await open_session(http, url)
                starts.append(time.perf_counter() - started)
            out["session_start_p50_ms"] = pct(starts, 0.5)
        if "open20" in only:
            concurrent: list[float] = []

            async def timed_open() -> None:
                started = time.perf_counter()
                await open_session(http, url)
                concurrent.append(time.perf_counter() - started)

            p95s = []
            for _ in range(bursts):
                concurrent.clear()
                await trio.sleep(1.5)  # the pool is full (it refills once takes pause)
                async with trio.open_nursery() as opens:
                    for _ in range(20):
                        opens.start_soon(timed_open)
                p95s.append(pct(concurrent, 0.95))
            out["open_20_at_once_p95_ms"] = sorted(p95s)[len(p95s) // 2]
            if bursts > 1:
                out["open_20_at_once_p95_ms_each"] = p95s
        sid = await open_session(http, url)
        if "calls" in only:
            calls = []
            for i in range(10 if quick else 200):
                started = time.perf_counter()
                await rpc(http, url, sid, call(i + 1, "x"))
                calls.append(time.perf_counter() - started)
            out["call_p50_ms"] = pct(calls, 0.5)
            out["raw_call_p50_ms"], out["bridge_cpu_per_call_ms"] = await raw_calls(
                url, sid, 10 if quick else 500, process.pid
            )
        if "big" in only:
            big = "x" * BIG
            started = time.perf_counter()
            answer, _ = await rpc(http, url, sid, call(10_000, big))
            ok = (
                isinstance(answer, dict)
                and answer.get("result", {}).get("content", [{}])[0].get("text") == big
            )
            out["message_32mib_s"] = (
                round(time.perf_counter() - started, 2) if ok else f"failed: {str(answer)[:80]}"
            )
        if "memory" in only:
            before = rss_kib([process.pid, *descendants_of(process.pid)])
            for _ in range(n):
                await open_session(http, url)
            out["memory_per_session_mib"] = round(
                (rss_kib([process.pid, *descendants_of(process.pid)]) - before) / n / 1024, 1
            )
    if "raw_big" in only:
        async with bridge(name, RAW_ECHO, source) as (url, process), httpx.AsyncClient(timeout=60) as http:
            sid = await open_session(http, url)
            body = json.dumps(call(10_001, "x" * BIG)).encode()
            times, used = [], cpu_seconds(process.pid)
            for _ in range(1 if quick else 5):
                seconds, answer = await raw_big_s(url, sid, body)
                if not echoed(answer, BIG):
                    times = []
                    out["raw_32mib_s"] = f"failed: {answer[:80]!r}"
                    break
                times.append(seconds)
            if times:
                out["raw_32mib_s"] = round(pct(times, 0.5) / 1000, 3)
                out["bridge_cpu_per_32mib_s"] = round((cpu_seconds(process.pid) - used) / len(times), 3)
    if "kill9" in only:
        out["left_after_kill_9"] = await leftovers(name, n, source)
    return out


async def leftovers(name: str, n: int, source: Path) -> str:
    """Sessions whose server is a wrapper with a background child; kill -9 the bridge; count."""
    wrapper = ["sh", "-c", f"sleep 1000 & exec {shlex.join(FIXTURE)}"]
    async with bridge(name, wrapper, source) as (url, process), httpx.AsyncClient(timeout=60) as http:
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


async def main(quick: bool, only: set[str], bridges: list[str], source: Path, bursts: int) -> dict[str, Any]:
    set_child_subreaper()
    results: dict[str, Any] = {}
    if "calls" in only:
        results["direct_call_p50_ms"] = await direct_ms(10 if quick else 200)
    if "big" in only:
        results["direct_32mib_s"] = round(await direct_ms(3, "x" * BIG) / 1000, 2)
    if "raw_big" in only:
        results["direct_raw_32mib_s"] = await direct_raw_big_s(1 if quick else 5)
    for name in bridges:
        results[name] = await measure(name, quick, only, source, bursts)
    return results


def markdown(results: dict[str, Any], bridges: list[str]) -> str:
    titles = {"mapsrv": "mapsrv gateway", "supergateway": "supergateway 4.0"}
    rows = ["| metric | " + " | ".join(titles[b] for b in bridges) + " |", "|---" * (len(bridges) + 1) + "|"]
    for key in results[bridges[0]]:
        rows.append(f"| {key} | " + " | ".join(str(results[b].get(key, "")) for b in bridges) + " |")
    floors = {
        "direct_call_p50_ms": "direct call over pipes, p50 ms",
        "direct_32mib_s": "direct 32 MiB over pipes, s",
        "direct_raw_32mib_s": "direct 32 MiB over raw_echo.py's pipes, s",
    }
    for key, title in floors.items():
        if key in results:
            rows.append(f"| {title} | {results[key]} |" + " |" * (len(bridges) - 1))
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check that it runs")
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios (default all): {','.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--bridges", default="mapsrv,supergateway", help="comma-separated: mapsrv,supergateway"
    )
    parser.add_argument(
        "--gateway-src",
        type=Path,
        default=ROOT,
        help="the mapsrv tree to run the gateway from (before/after)",
    )
    parser.add_argument("--bursts", type=int, default=1, help="open20: this many bursts; the median p95")
    args = parser.parse_args()
    only = set(args.only.split(","))
    bridges = args.bridges.split(",")
    if only - set(SCENARIOS) or set(bridges) - {"mapsrv", "supergateway"}:
        sys.exit(
            f"unknown scenario or bridge: {only - set(SCENARIOS)} {set(bridges) - {'mapsrv', 'supergateway'}}"
        )
    if "supergateway" in bridges and not (NODE_HOME / "node_modules" / "supergateway").exists():
        sys.exit(f"supergateway is not installed in {NODE_HOME}: run scripts/gateway-node.sh")
    results = trio.run(main, args.quick, only, bridges, args.gateway_src.resolve(), args.bursts)
    target = ROOT / "artifacts" / "bench"
    target.mkdir(parents=True, exist_ok=True)
    (target / "gateway.json").write_text(json.dumps(results, indent=2))
    (target / "gateway.md").write_text(markdown(results, bridges))
    print(markdown(results, bridges))
