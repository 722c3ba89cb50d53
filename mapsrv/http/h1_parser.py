"""What httptools parses of an HTTP/1.1 connection, as the stream events ``mapsrv.http.h1``
hands on: its callbacks, queued, and the size of the head being read."""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["RequestEvents"]


class RequestEvents:
    """httptools' callbacks, queued as the stream events they make (``H1Protocol`` hands them on
    one at a time, so a pipelined request waits for the answer before it), and the size of the
    request line and headers being read (``head``: httptools keeps an unfinished header itself,
    so the bytes fed while a head is unfinished are counted too)."""

    __slots__ = ("events", "head", "head_size", "headers", "limit", "parser", "too_big", "url")

    def __init__(self, limit: int) -> None:
        self.events: deque[tuple[str, Any]] = deque()
        self.limit = limit
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head = True  # between requests, or reading a request line and headers
        self.head_size = 0  # bytes fed while a head was unfinished
        self.too_big = False
        self.parser: Any = None  # the parser calling back: what it says of a request is read as it ends

    def fed(self, size: int) -> None:
        if self.head:
            self.head_size += size

    def on_message_begin(self) -> None:
        self.url, self.headers = b"", []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value.strip(b" \t")))

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        self.too_big = self.too_big or size > self.limit
        self.head, self.head_size = False, 0
        parser = self.parser  # asked now: once the message is over it describes the next one
        method = parser.get_method().decode("ascii").upper()
        request = (self.url, self.headers, method, parser.get_http_version(), parser.should_keep_alive())
        self.events.append(("request", request))

    def on_body(self, body: bytes) -> None:
        self.events.append(("body", body))

    def on_message_complete(self) -> None:
        self.head = True
        self.events.append(("end", None))

    @property
    def over(self) -> bool:
        """Whether the request line and headers read are past the limit."""
        return self.too_big or (self.head and self.head_size > self.limit)
