"""What every benchmark needs: a mapsrv server in its own process, raw SSE readers, and stats.

The load generator (this process) and the server never share a process or an event loop, so a
number measured here includes the real HTTP, the real sockets and the server's own scheduling.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx
import trio
from support import ServerProcess, SseReader, free_port, open_listener, open_redis, wait_until
from support import open_server as open_limited_server

# ServerProcess, SseReader, free_port, open_listener and open_redis live in tests/support (tests
# use them too) and are re-exported for the scenarios.

# The benchmarks measure the stack, from one load-generating client: per-client rate limits and
# the open-stream cap would measure the limits instead (tests/http/test_throttle.py covers those).
UNLIMITED = (
    "--rate-maps", "0", "--rate-maps-global", "0", "--rate-writes", "0", "--rate-writes-person", "0",
    "--rate-mcp", "0",
    "--rate-streams", "0", "--max-streams-per-client", "10000000",
    "--max-mcp-sessions-per-client", "10000000",
)  # fmt: skip


@asynccontextmanager
async def open_server(*args: str, env: dict[str, str] | None = None) -> AsyncIterator[ServerProcess]:
    """``support.open_server`` without the per-client limits; memory:// unless a store is given,
    so that the numbers compare with earlier runs (``sqlite_store`` measures the default store).
    Yielded once ``/ready`` says the places loaded at start are warm (seconds of CPU in workers
    that are no call's: the first scenario of a run measured them); a server too old to say so
    at once."""
    store = () if "--store" in args else ("--store", "memory://")
    async with open_limited_server(*UNLIMITED, *store, *args, env=env) as server:
        async with httpx.AsyncClient(timeout=10) as http:

            async def warm() -> bool:
                return bool((await http.get(server.url + "ready")).json().get("places", "warm") == "warm")

            await wait_until(warm, timeout=120)
        yield server


__all__ = [
    "ServerProcess",
    "new_watched_map",
    "SseReader",
    "Watchers",
    "cpu_seconds",
    "free_port",
    "open_listener",
    "open_peer",
    "open_watchers",
    "open_redis",
    "open_server",
    "percentiles",
    "rss_kib",
    "write_steadily",
]


async def new_watched_map(http: httpx.AsyncClient) -> tuple[str, str]:
    """A new map (as a browser makes one, ``http``'s base URL the server's) and the path of its
    view link's event stream, as a viewer's page reads it."""
    origin = str(http.base_url).rstrip("/")
    made = await http.post("/new", headers={"origin": origin}, follow_redirects=False)
    map_id = made.headers["location"].rsplit("/", 1)[1]
    view = (await http.get(f"/m/{map_id}/state")).json()["view_url"]
    return map_id, "/" + view.split("://", 1)[1].split("/", 1)[1] + "/events"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def settled(pid: int, *, quiet: float = 0.05, every: float = 0.5, within: float = 60) -> float:
    """Wait until the process uses less than ``quiet`` CPU-seconds in ``every`` seconds (a new
    server warms its places and outlines in the background: seconds of CPU that are no call's);
    the CPU-seconds it used meanwhile."""
    start = cpu_seconds(pid)
    with trio.fail_after(within):
        while True:
            before = cpu_seconds(pid)
            await trio.sleep(every)
            if cpu_seconds(pid) - before < quiet:
                return before - start


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


@asynccontextmanager
async def open_peer(module: str, *args: str) -> AsyncIterator[tuple[str, int]]:
    """A peer server, ``python -m tests.bench.MODULE PORT ARGS`` (peer_sse, peer_raw,
    peer_server), on a free port: (its base URL, PID)."""
    port = free_port()
    command = [sys.executable, "-m", f"tests.bench.{module}", str(port), *args]
    async with open_listener(command, port) as process:
        yield f"http://127.0.0.1:{port}", process.pid


class Watchers:
    """``count`` SSE streams read by a process of their own (tests/bench/watchers.py)."""

    def __init__(self, stdout: trio.abc.ReceiveStream, pid: int = 0) -> None:
        self.stdout = stdout
        self.pid = pid  # the watcher process's
        self.complete: dict[int, list[float]] = {}  # event id -> monotonic time at 0, 10, ... 100 %
        self.ready = trio.Event()
        self.new = trio.Event()

    async def run(self) -> None:
        buffer = b""
        while chunk := await self.stdout.receive_some():
            *lines, buffer = (buffer + chunk).split(b"\n")
            for line in lines:
                message = json.loads(line)
                if "ready" in message:
                    self.ready.set()
                elif "closed" in message:
                    raise RuntimeError("the server closed a watcher's stream (a dropped slow viewer?)")
                elif "out_of_order" in message:
                    previous, got = message["out_of_order"]
                    raise RuntimeError(f"a watcher got event {got} right after {previous}: lost or reordered")
                else:
                    self.complete[message["id"]] = message["at"]
            self.new.set()
            self.new = trio.Event()
        raise RuntimeError("the watcher process ended")

    async def wait_for(self, event_id: int, timeout: float = 120) -> list[float]:  # noqa: ASYNC109
        """When 0, 10, ..., 100 % of the streams had ``event_id`` (``time.monotonic()``); fails
        after ``timeout`` seconds rather than hang a benchmark run."""
        with trio.fail_after(timeout):
            while event_id not in self.complete:
                await self.new.wait()
        return self.complete.pop(event_id)


@asynccontextmanager
async def open_watchers(
    host: str, port: int, path: str, count: int, cookie: str | None = None
) -> AsyncIterator[Watchers]:
    """Start the watcher process, wait until all ``count`` streams are open, stop it by PID."""
    command = [sys.executable, "-m", "tests.bench.watchers", host, str(port), path, str(count), cookie or ""]
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    watchers = Watchers(process.stdout, process.pid)
    async with watcher_process(process, watchers, count):
        yield watchers


class WatcherLines(Protocol):
    ready: trio.Event

    async def run(self) -> None: ...


@asynccontextmanager
async def watcher_process(process: trio.Process, lines: WatcherLines, count: int) -> AsyncIterator[None]:
    """Read a watcher process's lines (``lines.run``) until its ``count`` streams are open, and
    stop the process by its PID at the end."""
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lines.run)
            with trio.fail_after(60 + count / 50):
                await lines.ready.wait()
            yield
            nursery.cancel_scope.cancel()
    finally:
        process.terminate()
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            await process.wait()
        process.kill()


async def new_browser_map(client: httpx.AsyncClient) -> tuple[str, str]:
    """A map owned by ``client``'s cookie jar: (map id, cookie header)."""
    response = await client.get("/")
    map_id = response.headers["location"].rsplit("/", 1)[1]
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    return map_id, cookie


async def write_steadily(
    http: httpx.AsyncClient,
    map_id: str,
    origin: str,
    writes: list[tuple[float, float]],
    sent: dict[int, float],
    every: float = 0.05,
) -> None:
    """An agent writing to one map at a steady pace (a marker each ``every`` seconds, a clear each
    hundredth write) until cancelled; each write's (start, seconds) goes in ``writes`` and the
    version it made in ``sent`` (version -> start, trio's clock)."""
    n = 0
    while True:
        n += 1
        op: dict[str, Any] = {"op": "add_feature", "type": "marker", "coords": [n % 80, n % 170]}
        if n % 100 == 0:
            op = {"op": "clear"}
        start = trio.current_time()
        answer = await http.post(f"/m/{map_id}/ops", json={"ops": [op]}, headers={"origin": origin})
        took = trio.current_time() - start
        writes.append((start, took))
        sent[answer.json()["version"]] = start
        await trio.sleep(max(0.0, every - took))


def percentiles(samples: Sequence[float], scale: float = 1000.0) -> dict[str, Any]:
    """p50/p90/p99/max in milliseconds (by default) from samples in seconds."""
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * scale, 3)

    return {
        "n": len(ordered),
        "p50": pick(0.50),
        "p90": pick(0.90),
        "p99": pick(0.99),
        "max": round(ordered[-1] * scale, 3),
        "mean": round(statistics.fmean(ordered) * scale, 3),
    }


def emit(name: str, result: dict[str, Any]) -> None:
    """One result as a JSON line on stdout; the runner collects them."""
    print(json.dumps({"bench": name, **result}), flush=True)
