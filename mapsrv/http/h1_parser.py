"""What httptools parses of an HTTP/1.1 connection, as the stream events ``mapsrv.http.h1``
hands on: its callbacks, queued, and the size of the head being read.

A chunked body may end with trailer fields. llhttp (httptools) reports them through the same
``on_header`` callback as the head's, after the head is complete; they are counted against the
head's limit (head and trailers together, as h11 bounds its trailer section) and never reach the
request's headers: what a front proxy checks, strips or sets (``Origin``, ``Authorization``,
``X-Forwarded-For``) cannot be overridden from behind the body. mapsrv has no use for them, so
they are dropped.
"""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["MAX_FIELDS", "RequestEvents"]

# Header fields in a head (Apache's LimitRequestFields is 100; room here for what proxies add):
# a head is parsed as it comes, each field a tuple of two bytes objects, so 64 KiB of short fields
# would be ~8,000 tuples (1.2 MB) where the bytes were 64 KiB.
MAX_FIELDS = 200


class RequestEvents:
    """httptools' callbacks, queued as the stream events they make (``H1Protocol`` hands them on
    one at a time, so a pipelined request waits for the answer before it), and the size of the
    request line and headers being read (``head``: httptools keeps an unfinished header itself,
    so the bytes fed while a head is unfinished are counted too).

    A request whose head (with its trailers) is past the limit becomes an ``("error", 431)``
    event in its place in the queue, and nothing after it is queued: its answer, like a parse
    error's, comes after the answers to the requests before it."""

    __slots__ = (
        "chunk_open",
        "events",
        "failed",
        "head",
        "head_size",
        "headers",
        "limit",
        "parser",
        "trailer_size",
        "unframed",
        "url",
    )

    def __init__(self, limit: int) -> None:
        self.events: deque[tuple[str, Any]] = deque()
        self.limit = limit
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head = True  # between requests, or reading a request line and headers
        self.head_size = 0  # bytes fed while a head was unfinished
        self.trailer_size = 0  # the request's head, then its trailer fields as they come
        # Bytes fed while a body's framing is read (a chunk's size line, a trailer field), not
        # its data: while it grows past the limit the client is sending an endless chunk line or
        # trailer field, which httptools would keep whole until it ends.
        self.chunk_open = False
        self.unframed = 0
        self.failed = False  # an error is queued: nothing more is parsed or queued
        self.parser: Any = None  # the parser calling back: what it says of a request is read as it ends

    def fed(self, size: int) -> None:
        if self.head:
            self.head_size += size
        elif self.chunk_open:
            self.unframed += size  # less what the feed brings of the chunk's data (``on_body``)

    def fail(self, status: int) -> None:
        """The connection cannot be read further: ``status`` is its last answer."""
        if not self.failed:
            self.failed = True
            self.events.append(("error", status))

    def on_message_begin(self) -> None:
        self.url, self.headers = b"", []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.failed:
            return  # nothing after an error is kept
        if self.head:
            self.headers.append((name.lower(), value.strip(b" \t")))
            if len(self.headers) > MAX_FIELDS:
                self.fail(431)
            return
        self.trailer_size += len(name) + len(value) + 4  # a trailer field: counted, not kept
        if self.trailer_size > self.limit:
            self.fail(431)

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        self.head, self.head_size, self.trailer_size, self.unframed = False, 0, size, 0
        self.chunk_open = True  # a body's first chunk line, if chunked
        parser = self.parser  # asked now: once the message is over it describes the next one
        version = parser.get_http_version()
        if size > self.limit:
            self.fail(431)
        elif (refused := _refusal(self.headers, version)) is not None:
            self.fail(refused)
        if self.failed:
            return
        method = parser.get_method().decode("ascii").upper()
        request = (self.url, self.headers, method, version, parser.should_keep_alive())
        self.events.append(("request", request))

    def on_chunk_header(self) -> None:
        self.chunk_open, self.unframed = True, 0

    def on_chunk_complete(self) -> None:
        self.chunk_open, self.unframed = True, 0  # the next chunk's size line

    def on_body(self, body: bytes) -> None:
        self.chunk_open, self.unframed = False, 0
        if not self.failed:
            self.events.append(("body", body))

    def on_message_complete(self) -> None:
        self.head, self.head_size = True, 0
        self.chunk_open = False
        if not self.failed:
            self.events.append(("end", None))

    def check_size(self) -> None:
        """After a feed: a request line and headers, or a chunk line or trailer field, still
        unfinished past the limit fail."""
        if self.head and self.head_size > self.limit:
            self.fail(431)
        elif self.chunk_open and self.trailer_size + self.unframed > self.limit:
            self.fail(431)


def _refusal(headers: list[tuple[bytes, bytes]], version: str) -> int | None:
    """What h11 refuses of a parsed head that llhttp lets through: an HTTP/1.1 request without
    exactly one Host (RFC 9112 section 3.2: 400), and a transfer coding other than chunked alone
    (section 6.1: 501; llhttp would hand on a gzipped body undecoded, or read none)."""
    hosts = codings = 0
    chunked_only = True
    for name, value in headers:
        if name == b"host":
            hosts += 1
        elif name == b"transfer-encoding":
            for coding in value.split(b","):
                codings += 1
                chunked_only = chunked_only and coding.strip(b" \t").lower() == b"chunked"
    if hosts > 1 or (hosts == 0 and version == "1.1"):
        return 400
    if codings and not (codings == 1 and chunked_only):
        return 501
    return None
