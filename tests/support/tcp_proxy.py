"""A TCP proxy in front of a real server, for the faults a server does not make on demand, and on
one connection of several: replies held, passed a given number of bytes at a time, or cut after
them (both sides closed), and requests no longer read (a server that stops reading). The faulty
connection is the one whose client sends ``marker`` first after ``fault`` (a batch id, a key);
every other connection passes everything."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import trio

__all__ = ["TcpProxy"]


@dataclass
class _Fault:
    marker: bytes
    replies: int | None  # reply bytes the faulty connection may still pass; None: every one
    cut: bool  # close the connection once ``replies`` have passed
    reading: bool  # whether its requests are read


class TcpProxy:
    """``serve`` it in a nursery; clients connect to ``port``. ``receive_buffer`` fixes the
    proxy's socket receive buffer (no autotuning), so that a client's writes fill up soon once its
    requests are no longer read."""

    def __init__(self, target_port: int, *, receive_buffer: int | None = None) -> None:
        self.target_port = target_port
        self.receive_buffer = receive_buffer
        self.port = 0
        self.connections = 0
        self._fault: _Fault | None = None
        self._faulty: object | None = None
        self._changed = trio.Event()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def fault(
        self, marker: bytes, *, replies: int | None = None, cut: bool = False, reading: bool = True
    ) -> None:
        """The next connection whose client sends ``marker``: from then on, pass only ``replies``
        bytes of replies (then hold the rest, or close it when ``cut``), and pass its requests
        (from the one that holds the marker) and read more only while ``reading``."""
        self._fault = _Fault(marker, replies, cut, reading)
        self._faulty = None
        self._change()

    @property
    def found(self) -> bool:
        """Whether a connection has sent the marker."""
        return self._faulty is not None

    def allow(self, replies: int, *, cut: bool) -> None:
        """Let ``replies`` more bytes of replies through the faulty connection (then cut it?)."""
        assert self._fault is not None and self._fault.replies is not None
        self._fault.replies += replies
        self._fault.cut = cut
        self._change()

    def resume(self) -> None:
        """Read the faulty connection's requests again, and pass its replies."""
        assert self._fault is not None
        self._fault.reading = True
        self._fault.replies = None
        self._change()

    def _change(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        if self.receive_buffer is not None:  # accepted sockets inherit it
            for listener in listeners:
                listener.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, self._handle, listeners)
            task_status.started()

    async def _handle(self, client: trio.SocketStream) -> None:
        self.connections += 1
        connection = object()
        async with client:
            try:
                server = await trio.open_tcp_stream("127.0.0.1", self.target_port)
            except OSError:
                return
            async with server, trio.open_nursery() as nursery:
                nursery.start_soon(self._requests, connection, client, server, nursery.cancel_scope)
                nursery.start_soon(self._replies, connection, server, client, nursery.cancel_scope)

    async def _requests(
        self, connection: object, client: trio.abc.Stream, server: trio.abc.Stream, scope: trio.CancelScope
    ) -> None:
        try:
            while True:
                while self._faulty is connection and self._fault is not None and not self._fault.reading:
                    await self._changed.wait()
                data = await client.receive_some(65536)
                if not data:
                    return
                if self._fault is not None and self._faulty is None and self._fault.marker in data:
                    self._faulty = connection
                while self._faulty is connection and self._fault is not None and not self._fault.reading:
                    await self._changed.wait()
                await server.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            scope.cancel()

    async def _replies(
        self, connection: object, server: trio.abc.Stream, client: trio.abc.Stream, scope: trio.CancelScope
    ) -> None:
        try:
            while True:
                data = await server.receive_some(65536)
                if not data:
                    return
                while data:
                    fault = self._fault
                    if self._faulty is not connection or fault is None or fault.replies is None:
                        await client.send_all(data)
                        break
                    if fault.replies == 0:
                        if fault.cut:
                            return
                        await self._changed.wait()
                        continue
                    passed = data[: fault.replies]
                    fault.replies -= len(passed)
                    data = data[len(passed) :]
                    await client.send_all(passed)
                    if fault.replies == 0 and fault.cut:
                        return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            scope.cancel()
