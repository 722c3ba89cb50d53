"""One HTTP/1.1 keep-alive connection on a raw socket, for tests that care what happens to the
connection itself (an early answer, a body sent late, ``Connection: close``). h11 parses the
answers; the requests are written by hand, so a test controls exactly when each byte goes out."""

from __future__ import annotations

from dataclasses import dataclass

import h11
import trio

__all__ = ["RawConnection", "RawResponse", "server_sockets_in_close_wait"]


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class RawConnection:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self._parser = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, host: str, port: int) -> RawConnection:
        return cls(await trio.open_tcp_stream(host, port))

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def read_response(self) -> RawResponse:
        """The next whole response on the connection (h11 checks its framing)."""
        if self._parser.our_state is h11.DONE and self._parser.their_state is h11.DONE:
            self._parser.start_next_cycle()
        # h11 parses a response only once it has seen a request go out: tell it about one.
        if self._parser.our_state is h11.IDLE:
            self._parser.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
            self._parser.send(h11.EndOfMessage())
        status, headers, body = 0, {}, b""
        while True:
            event = self._parser.next_event()
            if event is h11.NEED_DATA:
                self._parser.receive_data(await self.stream.receive_some(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode().lower(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return RawResponse(status, headers, body)
            elif isinstance(event, h11.ConnectionClosed):
                raise EOFError("the server closed the connection before answering")

    async def closed_by_server(self) -> bool:
        """Whether the server has closed its side (EOF) rather than sent more bytes."""
        try:
            return await self.stream.receive_some(65536) == b""
        except trio.BrokenResourceError:
            return True

    async def aclose(self) -> None:
        await self.stream.aclose()


def server_sockets_in_close_wait(port: int) -> int:
    """Sockets on the server's ``port`` whose peer has closed while the server has not
    (CLOSE-WAIT: TCP state 08 in /proc/net/tcp)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "08":
                count += 1
    return count
