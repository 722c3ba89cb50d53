"""The SDK's stdio transport on trio-native pipes (``mapsrv stdio``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
from mcp.server.stdio import stdio_server

__all__ = ["open_stdio_streams"]


class _LineReader:
    """What the SDK's stdio server reads: ``async for line in stdin``, on a trio stream (so a
    cancel takes effect at once, unlike the SDK's default reader thread)."""

    def __init__(self, stream: trio.lowlevel.FdStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[str]:
        buffer = b""
        while chunk := await self._stream.receive_some(65536):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", "replace")
        if buffer:
            yield buffer.decode("utf-8", "replace")


class _Writer:
    def __init__(self, stream: trio.lowlevel.FdStream) -> None:
        self._stream = stream

    async def write(self, text: str) -> None:
        await self._stream.send_all(text.encode())

    async def flush(self) -> None:
        pass


@asynccontextmanager
async def open_stdio_streams() -> AsyncIterator[Any]:
    """The SDK's stdio transport on trio-native pipes. While it is open, fd 1 points at stderr so a
    stray print cannot corrupt the JSON-RPC stream on the real stdout."""
    wire_in, wire_out = os.dup(0), os.dup(1)
    saved_in, saved_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    try:
        async with trio.lowlevel.FdStream(wire_in) as stdin, trio.lowlevel.FdStream(wire_out) as stdout:
            async with stdio_server(stdin=_LineReader(stdin), stdout=_Writer(stdout)) as streams:  # type: ignore[arg-type]
                yield streams
    finally:
        os.dup2(saved_in, 0)
        os.dup2(saved_out, 1)
        os.close(saved_in)
        os.close(saved_out)
