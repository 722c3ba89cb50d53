"""Child processes that listen on a port: started, waited for on a deadline, stopped by PID."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import trio

__all__ = ["ServerProcess", "free_port", "open_listener", "open_server", "wait_for_port", "wait_for_status"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for_port(port: int, host: str = "127.0.0.1", *, timeout: float = 20) -> None:  # noqa: ASYNC109
    """Until something accepts connections on ``port``; fails after ``timeout`` seconds."""
    with trio.fail_after(timeout):
        while True:
            try:
                stream = await trio.open_tcp_stream(host, port)
            except OSError:
                await trio.sleep(0.02)
                continue
            await stream.aclose()
            return


@asynccontextmanager
async def open_listener(command: list[str], port: int) -> AsyncIterator[trio.Process]:
    """A child process that serves on ``port``: started, waited for until it accepts connections,
    and stopped by its PID at the end."""
    process = await trio.lowlevel.open_process(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_for_port(port)
        yield process
    finally:
        process.terminate()
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            await process.wait()
        process.kill()


@dataclass
class ServerProcess:
    url: str
    pid: int
    process: trio.Process
    log: bytearray = field(default_factory=bytearray)  # everything it wrote to stderr so far

    @property
    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or 80


@asynccontextmanager
async def open_server(
    *args: str,
    env: dict[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> AsyncIterator[ServerProcess]:
    """``python -m mapsrv serve --port 0 ARGS`` in a child process, stopped by its PID at the end:
    in ``cwd`` (this process's by default), with ``env`` laid over ``base_env`` (this process's
    environment by default)."""
    command = [sys.executable, "-m", "mapsrv", "serve", "--port", "0", "--log-level", "warning", *args]
    environment = {**(os.environ if base_env is None else base_env), **(env or {})}
    async with trio.open_nursery() as nursery:
        run = partial(
            trio.run_process, command, stderr=subprocess.PIPE, check=False, env=environment, cwd=cwd
        )
        process: trio.Process = await nursery.start(run)
        assert process.stderr is not None
        buffer, match = b"", None
        with trio.move_on_after(20):
            while (match := re.search(rb"open (http://\S+/) in your browser", buffer)) is None:
                chunk = await process.stderr.receive_some()
                if not chunk:
                    raise RuntimeError(f"mapsrv exited: {buffer.decode(errors='replace')}")
                buffer += chunk
        if match is None:
            said = buffer.decode(errors="replace")
            raise trio.TooSlowError(f"mapsrv did not say where it listens within 20 s; it said: {said}")
        server = ServerProcess(
            url=match.group(1).decode(), pid=process.pid, process=process, log=bytearray(buffer)
        )

        async def drain() -> None:  # keep the pipe from filling up
            assert process.stderr is not None
            while chunk := await process.stderr.receive_some():
                server.log += chunk

        nursery.start_soon(drain)
        try:
            yield server
        finally:
            process.terminate()
            with trio.move_on_after(10):
                await process.wait()
            process.kill()
            nursery.cancel_scope.cancel()


async def wait_for_status(
    url: str,
    process: trio.Process,
    log: Path,
    name: str,
    *,
    timeout: float = 20,  # noqa: ASYNC109
) -> None:
    """Until ``url``/status answers 200; a ``process`` that exits first fails with its log's tail."""
    async with httpx.AsyncClient(timeout=2, trust_env=False) as http:
        with trio.fail_after(timeout):
            while True:
                if process.returncode is not None:
                    tail = (await trio.Path(log).read_text(errors="replace"))[-2000:]
                    raise RuntimeError(f"{name} exited with {process.returncode}: {tail}")
                try:
                    if (await http.get(f"{url}/status")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await trio.sleep(0.02)
