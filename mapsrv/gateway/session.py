"""One client session and its own child: requests go down as raw lines, and each answer comes
back to the request that asked (or, for the legacy SSE transport, onto that session's stream).

Nothing a child writes reaches another session: every session has its own child, and a line
from the child is routed only among that session's own waiters and stream.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from mapsrv.gateway.framing import Line, Oversize
from mapsrv.gateway.jsonrpc import INTERNAL_ERROR, SERVER_GONE, error_body, id_from_prefix, peek
from mapsrv.gateway.runner import Child

__all__ = ["Session", "SessionEnded", "SessionStats"]

log = logging.getLogger("mapsrv.gateway.session")

OUTBOUND_BUFFER = 256  # server-initiated messages held for a GET stream that is not open


class SessionEnded(Exception):
    """The session's child is gone; the client should start a new session."""


@dataclass
class SessionStats:
    messages_in: int = 0
    messages_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    dropped_lines: int = 0  # stdout lines that were not JSON-RPC
    dropped_outbound: int = 0  # server messages nobody was listening for
    oversize: int = 0
    counters: dict[str, int] = field(default_factory=dict)

    def add(self, other: SessionStats) -> None:
        for name in ("messages_in", "messages_out", "bytes_in", "bytes_out", "dropped_lines", "oversize"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


class _Waiter:
    """Where one request's answer is left (an Event rather than a channel per call)."""

    __slots__ = ("answer", "done")

    def __init__(self) -> None:
        self.answer: bytes | None = None
        self.done = trio.Event()


class Session:
    """``transport`` is "http" (answers return to the POST that asked), "sse" (everything goes
    to the one stream, in order, with backpressure down to the child) or "shared" (a child that
    stateless-era requests share: answers return to the POST that asked, nothing else goes
    anywhere)."""

    def __init__(
        self,
        server: str,
        child: Child,
        transport: str,
        max_line: int,
        session_id: str | None = None,
        *,
        call_timeout: float = math.inf,
    ) -> None:
        self.id = session_id or secrets.token_urlsafe(24)
        self.server = server
        self.child = child
        self.transport = transport
        self.max_line = max_line
        self.started = trio.current_time()
        self.last_active = self.started
        self.call_timeout = call_timeout
        self.last_heard = self.started  # the child's last line
        self._owing_since = self.started  # when the oldest stretch of owing an answer began
        self._owing = trio.Event()  # set while a request waits for its answer
        self.ended = trio.Event()
        self.end_reason: str | None = None
        self.stats = SessionStats()
        self.streaming = False  # a GET stream is open (Streamable HTTP)
        self.on_notification: Callable[[bytes], Awaitable[None]] | None = None  # "shared" only
        self._waiters: dict[str, _Waiter] = {}
        self._unanswered: set[str] = set()
        self._answered = trio.Event()  # set while nothing is in flight
        self._answered.set()
        blocking = transport == "sse"
        self._out_send, self.outbound = trio.open_memory_channel[bytes](0 if blocking else OUTBOUND_BUFFER)
        self.ref = hashlib.sha256(self.id.encode()).hexdigest()[:12]  # names it in logs; the id is a secret
        child.tag = self.ref

    @property
    def busy(self) -> bool:
        return bool(self._unanswered)

    @property
    def in_flight(self) -> int:
        """Requests sent down whose answers are still owed."""
        return len(self._unanswered)

    def touch(self) -> None:
        self.last_active = trio.current_time()

    async def request(self, key: str, line: bytes) -> bytes:
        """Send a request and wait for its answer (Streamable HTTP)."""
        if key in self._unanswered:
            return error_body(key, -32600, f"request id {key} is already in flight in this session")
        waiter = _Waiter()
        self._waiters[key] = waiter
        try:
            await self.send(line, key)
            await waiter.done.wait()
        finally:
            self._waiters.pop(key, None)
        if waiter.answer is None:
            return error_body(key, SERVER_GONE, "the MCP server process of this session has exited")
        return waiter.answer

    async def send(self, line: bytes, key: str | None = None) -> None:
        """Send one message; ``key`` marks a request whose answer we owe the client."""
        if self.ended.is_set():
            raise SessionEnded(self.id)
        self.touch()
        if key is not None:
            if not self._unanswered:
                self._answered = trio.Event()
                self._owing_since = trio.current_time()
                self._owing.set()
            self._unanswered.add(key)
        self.stats.messages_in += 1
        self.stats.bytes_in += len(line)
        try:
            await self.child.send(line)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            self._unanswered.discard(key or "")
            self._settle()
            raise SessionEnded(self.id) from None

    def forget(self, key: str) -> None:
        """Owe no answer to ``key`` any more (its client went away); a late one is dropped."""
        self._unanswered.discard(key)
        self._settle()

    def _settle(self) -> None:
        if not self._unanswered:
            self._answered.set()
            if self._owing.is_set():
                self._owing = trio.Event()

    def close(self, reason: str) -> None:
        if self.end_reason is None:
            self.end_reason = reason
        self.child.stop()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Route the child's output until it ends; then fail what is still unanswered."""
        task_status.started()
        try:
            async with trio.open_nursery() as nursery:
                if self.call_timeout < math.inf:
                    nursery.start_soon(self._watch_silence)
                async for frame in self.child.frames:
                    self.last_heard = trio.current_time()
                    if isinstance(frame, Oversize):
                        await self._oversize(frame)
                    else:
                        await self._route(frame)
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await self._fail_unanswered()
                for waiter in self._waiters.values():
                    waiter.done.set()  # no answer: the child is gone
                self.ended.set()
                self._out_send.close()
                if self.end_reason is None:  # its stdout ended: let its exit be seen as its own
                    with trio.move_on_after(1):
                        await self.child.exited.wait()
                self.child.stop()

    async def _watch_silence(self) -> None:
        """A child that sends nothing for ``call_timeout`` while it owes an answer is hung
        (stopped, deadlocked): what it owes fails with an error that says so, and the session
        ends, which kills its group. Any line (progress, a log message) shows it is alive."""
        while True:
            await self._owing.wait()
            deadline = max(self.last_heard, self._owing_since) + self.call_timeout
            if trio.current_time() < deadline:
                await trio.sleep_until(deadline)
                continue
            if not self._unanswered:
                continue
            log.warning(
                "the server sent nothing for %g s with a request waiting",
                self.call_timeout,
                extra={"session": self.child.tag},
            )
            self.end_reason = self.end_reason or "unresponsive"
            message = (
                f"the MCP server sent nothing for {self.call_timeout:g} s while this request waited;"
                " its session is ended"
            )
            await self._fail_unanswered(message)
            self.close("unresponsive")
            return

    async def _route(self, frame: Line) -> None:
        envelope = peek(frame.data)
        if envelope is None:
            self.stats.dropped_lines += 1
            log.warning(
                "dropped a non-JSON-RPC line of %d bytes from the server",
                len(frame.data),
                extra={"session": self.child.tag},
            )
            return
        self.stats.messages_out += 1
        self.stats.bytes_out += len(frame.data)
        if envelope.is_response and envelope.key in self._unanswered:
            await self._answer(envelope.key, frame.data)
        else:
            await self._deliver(frame.data)

    async def wait_answered(self) -> None:
        await self._answered.wait()

    async def _answer(self, key: str, data: bytes) -> None:
        self._unanswered.discard(key)
        self._settle()
        self.touch()
        waiter = self._waiters.get(key)
        if waiter is not None and not waiter.done.is_set():
            waiter.answer = data
            waiter.done.set()
        else:
            await self._deliver(data)

    async def _deliver(self, data: bytes) -> None:
        """A message for the client's stream: in order for SSE; dropped when a Streamable HTTP
        client has no GET stream open and the buffer is full."""
        if self.transport == "shared":  # the owner knows which client a notification names, if any
            if self.on_notification is not None:
                await self.on_notification(data)
            return
        if self.transport == "sse":
            try:
                await self._out_send.send(data)
            except trio.BrokenResourceError:
                pass
            return
        try:
            self._out_send.send_nowait(data)
        except trio.WouldBlock:
            self.stats.dropped_outbound += 1
        except trio.BrokenResourceError:
            pass

    async def _oversize(self, frame: Oversize) -> None:
        self.stats.oversize += 1
        key = id_from_prefix(frame.prefix)
        if key not in self._unanswered and len(self._unanswered) == 1:
            key = next(iter(self._unanswered))
        log.warning(
            "dropped a %d-byte message from the server (limit %d)",
            frame.size,
            self.max_line,
            extra={"session": self.child.tag},
        )
        if key is not None and key in self._unanswered:
            message = (
                f"the server's answer is {frame.size} bytes; this gateway passes at most {self.max_line}"
            )
            await self._answer(key, error_body(key, INTERNAL_ERROR, message))

    async def _fail_unanswered(
        self, reason: str = "the MCP server process of this session has exited"
    ) -> None:
        """Every request still in flight gets an error at once, not a timeout."""
        with trio.move_on_after(1):  # a legacy SSE stream may be gone, or not reading
            for key in sorted(self._unanswered):
                await self._answer(key, error_body(key, SERVER_GONE, reason))
