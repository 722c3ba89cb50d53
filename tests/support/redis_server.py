"""A private ``redis-server`` per test or benchmark: foreground, free port, stopped by its PID."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from .processes import free_port
from .waiting import require, wait_until

__all__ = ["RedisServer", "open_redis"]


class RedisServer:
    """A private ``redis-server`` in the foreground on a free port, stopped by its PID. ``start``
    again after ``stop`` comes back on the same port and data directory."""

    def __init__(self, directory: str, *, persist: bool = False) -> None:
        self.binary = shutil.which("redis-server")
        require(self.binary is not None, "redis-server")
        self.port = free_port()
        self.directory = directory
        self.persist = persist
        self.process: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else ["--appendonly", "no"]
        )
        command = [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--dir", self.directory, *persistence]  # fmt: skip
        self.process = await trio.lowlevel.open_process(command, stdout=subprocess.DEVNULL)
        await wait_until(self.answers_ping, timeout=10)

    async def answers_ping(self) -> bool:
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", self.port)
        except OSError:
            return False
        async with stream:
            await stream.send_all(b"PING\r\n")
            return (await stream.receive_some(64)).startswith(b"+PONG")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            with trio.move_on_after(10):
                await self.process.wait()
            self.process.kill()
        self.process = None


@asynccontextmanager
async def open_redis() -> AsyncIterator[str]:
    """A private redis-server on a free port (no persistence); yields its URL."""
    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(directory)
        await server.start()
        try:
            yield server.url
        finally:
            with trio.CancelScope(shield=True):
                await server.stop()
