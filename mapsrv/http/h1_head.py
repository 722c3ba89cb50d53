"""Heads for ``mapsrv.http.h1``: an app's response headers checked, a response's head as bytes
(with its ``date``, formatted once a second), and the deadline of a request head that comes in
more than one read."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable
from typing import Any
from wsgiref.handlers import format_date_time

import trio

__all__ = ["DEFAULT_HEADER_TIMEOUT", "HeadDeadline", "checked_headers", "response_head"]

DEFAULT_HEADER_TIMEOUT = 10.0  # seconds for a request head that comes in more than one read
_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # a field name: a token (RFC 9110 section 5.1)
_BREAK = re.compile(rb"[\r\n\x00]")  # what a field value may not hold (section 5.5)


def checked_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """An app's response headers as hypercorn's ``build_and_validate_headers`` makes them (bytes,
    stripped), refused (``ValueError``, which ends in a 500) where one cannot be written as one
    field: a name that is not a token (a pseudo-header's colon among them), or a value holding
    CR, LF or NUL. h11 refused them; written as they came, a line break in a value (a title in a
    download's name, say) would begin header fields, or a body, of the writer's choosing."""
    checked = []
    for name, value in headers:
        name, value = bytes(name).strip(), bytes(value).strip()
        if _NAME.fullmatch(name) is None:
            raise ValueError(f"a response header's name is not a token: {name[:40]!r}")
        if _BREAK.search(value) is not None:
            raise ValueError(f"the response header {name.decode()} holds CR, LF or NUL")
        checked.append((name, value))
    return checked


class _Dates:
    """The ``date`` header, formatted once a second."""

    second = -1
    value = b""

    @classmethod
    def now(cls) -> bytes:
        second = int(time.time())
        if second != cls.second:
            cls.second, cls.value = second, format_date_time(second).encode("ascii")
        return cls.value


def response_head(
    config: Any,
    status: int,
    headers: list[tuple[bytes, bytes]],
    extra: list[tuple[bytes, bytes]] | None = None,
) -> bytes:
    lines = [b"HTTP/1.1 %d \r\n" % status]  # no reason phrase, as h11: clients read the code
    lines += [b"%s: %s\r\n" % pair for pair in headers]
    if config.include_date_header:
        lines.append(b"date: %s\r\n" % _Dates.now())
    if config.include_server_header:
        lines.append(b"server: hypercorn-h11\r\n")
    lines += [b"%s: %s\r\n" % pair for pair in extra or ()]
    lines.append(b"\r\n")
    return b"".join(lines)


class HeadDeadline:
    """A request head begun must be whole within ``header_timeout`` (``config``'s, else
    ``DEFAULT_HEADER_TIMEOUT``) of its first read, or the connection's ``timer``
    (``mapsrv.http.hypercorn.KeepAliveTimer``; None where the connection has hypercorn's own,
    which cannot be moved so) closes the connection: a client sending its head a byte a second
    held one until the keep-alive timeout, 75 s. A head that comes whole in one read costs
    nothing."""

    __slots__ = ("deadline", "timeout", "timer")

    def __init__(self, config: Any, timer: Any) -> None:
        self.timeout: float = getattr(config, "header_timeout", DEFAULT_HEADER_TIMEOUT)
        self.timer = timer
        self.deadline = math.inf  # when the head being read must be whole

    def after_read(self, unfinished: bool) -> None:
        """Whether a head is unfinished after a read: its deadline is set at its first."""
        if not unfinished:
            self.deadline = math.inf
        elif self.deadline == math.inf:
            self.deadline = trio.current_time() + self.timeout
            self.apply()

    def apply(self) -> None:
        """Move the connection's timer to the deadline, if it comes first (again after an answer,
        which restarts the timer: a pipelined head under way keeps its deadline)."""
        if self.deadline < math.inf and self.timer is not None:
            self.timer.expire_by(self.deadline)
