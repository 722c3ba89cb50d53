"""What every benchmark needs: a mapsrv server in its own process, raw SSE readers, and stats.

The load generator (this process) and the server never share a process or an event loop, so a
number measured here includes the real HTTP, the real sockets and the server's own scheduling.
"""

from __future__ import annotations

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import httpx
import trio

__all__ = [
    "ServerProcess",
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
]


@dataclass
class ServerProcess:
    url: str
    pid: int
    process: trio.Process

    @property
    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or 80


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


@asynccontextmanager
async def open_server(*args: str, env: dict[str, str] | None = None) -> AsyncIterator[ServerProcess]:
    """``python -m mapsrv serve --port 0 ARGS`` in a child process, stopped by its PID at the end."""
    command = [sys.executable, "-m", "mapsrv", "serve", "--port", "0", "--log-level", "warning", *args]
    async with trio.open_nursery() as nursery:
        run = partial(
            trio.run_process, command, stderr=subprocess.PIPE, check=False, env={**os.environ, **(env or {})}
        )
        process: trio.Process = await nursery.start(run)
        assert process.stderr is not None
        buffer = b""
        with trio.fail_after(20):
            while (match := re.search(rb"open (http://\S+/) in your browser", buffer)) is None:
                chunk = await process.stderr.receive_some()
                if not chunk:
                    raise RuntimeError(f"mapsrv exited: {buffer.decode(errors='replace')}")
                buffer += chunk
        url = match.group(1).decode()

        async def drain() -> None:  # keep the pipe from filling up
            assert process.stderr is not None
            while await process.stderr.receive_some():
                pass

        nursery.start_soon(drain)
        try:
            yield ServerProcess(url=url, pid=process.pid, process=process)
        finally:
            process.terminate()
            with trio.move_on_after(10):
                await process.wait()
            process.kill()
            nursery.cancel_scope.cancel()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def open_listener(command: list[str], port: int) -> AsyncIterator[trio.Process]:
    """A child process that serves on ``port``: started, waited for until it accepts connections,
    and stopped by its PID at the end."""
    process = await trio.lowlevel.open_process(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with trio.fail_after(20):
            while True:
                try:
                    stream = await trio.open_tcp_stream("127.0.0.1", port)
                except OSError:
                    await trio.sleep(0.02)
                    continue
                await stream.aclose()
                break
        yield process
    finally:
        process.terminate()
        with trio.CancelScope(shield=True):
            await process.wait()


@asynccontextmanager
async def open_peer(module: str, *args: str) -> AsyncIterator[tuple[str, int]]:
    """A peer server, ``python -m tests.bench.MODULE PORT ARGS`` (peer_sse, peer_raw,
    peer_server), on a free port: (its base URL, PID)."""
    port = free_port()
    command = [sys.executable, "-m", f"tests.bench.{module}", str(port), *args]
    async with open_listener(command, port) as process:
        yield f"http://127.0.0.1:{port}", process.pid


@asynccontextmanager
async def open_redis() -> AsyncIterator[str]:
    """A private redis-server on a free port (no persistence); yields its URL."""
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", directory]  # fmt: skip
        async with open_listener(command, port):
            yield f"redis://127.0.0.1:{port}/0"


class SseReader:
    """A minimal SSE client on a raw socket: cheap enough to open thousands, and it notes the
    arrival time of each event id the moment its frame is complete."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""
        self.arrived: dict[int, float] = {}
        self.new = trio.Event()

    @classmethod
    async def open(cls, host: str, port: int, path: str, cookie: str | None = None) -> SseReader:
        stream = await trio.open_tcp_stream(host, port)
        headers = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
        if cookie:
            headers += f"Cookie: {cookie}\r\n"
        await stream.send_all((headers + "\r\n").encode())
        reader = cls(stream)
        while b"\r\n\r\n" not in reader.buffer:
            chunk = await stream.receive_some(65536)
            if not chunk:
                raise RuntimeError("stream closed before its headers")
            reader.buffer += chunk
        head, reader.buffer = reader.buffer.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"stream refused: {head[:80]!r}")
        return reader

    async def run(self) -> None:
        """Read until the server closes. Chunked transfer framing needs no decoding here: each
        chunk holds whole SSE frames, and only ``id:`` lines inside complete frames are read."""
        self._parse()  # the first frames may have come in with the headers
        while True:
            try:
                chunk = await self.stream.receive_some(65536)
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                return  # closed by aclose() or reset by the server
            if not chunk:
                return
            self.buffer += chunk
            self._parse()

    def _parse(self) -> None:
        now = trio.current_time()
        *frames, self.buffer = self.buffer.split(b"\n\n")
        for frame in frames:
            for line in frame.split(b"\n"):
                if line.startswith(b"id: "):
                    self.arrived.setdefault(int(line[4:]), now)
        if frames:
            self.new.set()
            self.new = trio.Event()

    async def wait_for(self, version: int) -> float:
        while version not in self.arrived:
            await self.new.wait()
        return self.arrived[version]

    async def aclose(self) -> None:
        await self.stream.aclose()


class Watchers:
    """``count`` SSE streams read by a process of their own (tests/bench/watchers.py)."""

    def __init__(self, stdout: trio.abc.ReceiveStream) -> None:
        self.stdout = stdout
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
                else:
                    self.complete[message["id"]] = message["at"]
            self.new.set()
            self.new = trio.Event()
        raise RuntimeError("the watcher process ended")

    async def wait_for(self, event_id: int) -> list[float]:
        """When 0, 10, ..., 100 % of the streams had ``event_id`` (``time.monotonic()``); fails
        after two minutes rather than hang a benchmark run."""
        with trio.fail_after(120):
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
    watchers = Watchers(process.stdout)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watchers.run)
            with trio.fail_after(60 + count / 50):
                await watchers.ready.wait()
            yield watchers
            nursery.cancel_scope.cancel()
    finally:
        process.terminate()
        with trio.CancelScope(shield=True):
            await process.wait()


async def new_browser_map(client: httpx.AsyncClient) -> tuple[str, str]:
    """A map owned by ``client``'s cookie jar: (map id, cookie header)."""
    response = await client.get("/")
    map_id = response.headers["location"].rsplit("/", 1)[1]
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    return map_id, cookie


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
