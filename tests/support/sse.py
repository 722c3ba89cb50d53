"""Two SSE readers, both failing on a deadline instead of hanging:

- ``open_stream``: httpx + httpx-sse in the background of a test's nursery, parsed events
  (``snapshot``/``change``) and every ``retry:`` hint, in order;
- ``SseReader``: a raw socket, cheap enough to open thousands, that also sees comments
  (heartbeats), which httpx-sse drops.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import trio
from httpx_sse import aconnect_sse

__all__ = ["EventStream", "SseReader", "open_stream"]

WAIT = 10.0  # seconds a single wait on a raw stream may take before the test fails
STREAM_WAIT = 30.0  # the same for EventStream.wait_for: a backstop under the callers' own fail_after


class EventStream:
    """Reads one SSE stream into a list, in the background, for assertions under fail_after."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []  # (event, id, data)
        self.retry: int | None = None
        self.retries: list[int] = []  # every retry: field, in order (the last is a shutdown hint)
        self.last: str | None = None  # what the latest message was: "snapshot", "change" or "retry"
        self.status: int | None = None
        self.ended = trio.Event()
        self.error: Exception | None = None
        self.changed = trio.Event()
        self.presence: list[dict[str, Any]] = []  # each "presence" frame: who is on the map
        self.presence_bytes = 0  # the data of those frames (a benchmark's wire cost)
        self.access: list[dict[str, Any]] = []  # each "access" frame: this stream's link changed
        self.pointers: list[dict[str, Any]] = []  # each "pointers" frame: where people point
        self.pointer_bytes = 0

    def present(self) -> list[tuple[str, str]]:
        """Who the latest presence frame lists: (name, role) pairs."""
        return [(m["name"], m["role"]) for m in self.presence[-1]["present"]] if self.presence else []

    async def wait_for(
        self,
        predicate: Callable[[list[tuple[str, str, dict[str, Any]]]], bool],
        timeout: float = STREAM_WAIT,  # noqa: ASYNC109
    ) -> None:
        with trio.fail_after(timeout):
            while not predicate(self.events):
                if self.ended.is_set():
                    raise AssertionError(f"the stream ended first, after {self.events!r}")
                await self.changed.wait()


async def open_stream(
    nursery: trio.Nursery, client: httpx.AsyncClient, path: str, *, last_event_id: str | None = None
) -> EventStream:
    stream = EventStream()
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}

    async def run(task_status: trio.TaskStatus[None]) -> None:
        try:
            async with aconnect_sse(client, "GET", path, headers=headers, timeout=None) as source:
                stream.status = source.response.status_code
                task_status.started()
                async for sse in source.aiter_sse():
                    if sse.retry is not None:
                        stream.retry = sse.retry
                        stream.retries.append(sse.retry)
                        stream.last = "retry"
                    if sse.event in ("snapshot", "change"):
                        stream.events.append((sse.event, sse.id, json.loads(sse.data)))
                        stream.last = sse.event
                    elif sse.event == "presence":
                        stream.presence.append(json.loads(sse.data))
                        stream.presence_bytes += len(sse.data)
                    elif sse.event == "pointers":
                        stream.pointers.append(json.loads(sse.data))
                        stream.pointer_bytes += len(sse.data)
                    elif sse.event == "access":
                        stream.access.append(json.loads(sse.data))
                    stream.changed.set()
                    stream.changed = trio.Event()
        except httpx.TransportError as exc:  # the client was closed, or the server went away
            stream.error = exc
        finally:
            stream.ended.set()
            stream.changed.set()

    with trio.fail_after(WAIT):
        await nursery.start(run)
    return stream


class SseReader:
    """A minimal SSE client on a raw socket. It notes the arrival time of each event id the
    moment its frame is complete, the ids in arrival order, every comment (``: hb``) and every
    ``retry:`` hint, and what the last complete frame was."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""
        self.arrived: dict[int, float] = {}
        self.ids: list[int] = []
        self.comments: list[bytes] = []
        self.retries: list[int] = []
        self.last_frame = b""
        self.new = trio.Event()
        self.closed = trio.Event()

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        path: str,
        cookie: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = WAIT,  # noqa: ASYNC109
    ) -> SseReader:
        with trio.fail_after(timeout):
            stream = await trio.open_tcp_stream(host, port)
            fields = {"Host": f"{host}:{port}", "Accept": "text/event-stream", **(headers or {})}
            if cookie:
                fields["Cookie"] = cookie
            request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
            await stream.send_all((request + "\r\n").encode())
            reader = cls(stream)
            while b"\r\n\r\n" not in reader.buffer:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    raise RuntimeError("stream closed before its headers")
                reader.buffer += chunk
        head, reader.buffer = reader.buffer.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 200"):
            await stream.aclose()
            raise RuntimeError(f"stream refused: {head[:80]!r}")
        return reader

    async def run(self) -> None:
        """Read until the server closes. Chunked transfer framing needs no decoding here: each
        chunk holds whole SSE frames, and only the field lines inside complete frames are read
        (a chunk-size line never starts with ``id:``, ``retry:`` or ``:``)."""
        try:
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
        finally:
            self.closed.set()
            self.new.set()

    def _parse(self) -> None:
        now = trio.current_time()
        *frames, self.buffer = self.buffer.split(b"\n\n")
        for frame in frames:
            lines = [line for line in frame.split(b"\n") if not line.endswith(b"\r")]  # chunk framing
            if not lines:
                continue
            self.last_frame = b"\n".join(lines)
            for line in lines:
                if line.startswith(b"id: "):
                    event_id = int(line[4:])
                    self.ids.append(event_id)
                    self.arrived.setdefault(event_id, now)
                elif line.startswith(b"retry: "):
                    self.retries.append(int(line[7:]))
                elif line.startswith(b":"):
                    self.comments.append(line)
        if frames:
            self.new.set()
            self.new = trio.Event()

    async def wait(self, predicate: Callable[[SseReader], bool], timeout: float = WAIT) -> None:  # noqa: ASYNC109
        """Until ``predicate(self)`` holds; fails after ``timeout`` seconds or if the stream ends
        first."""
        with trio.fail_after(timeout):
            while not predicate(self):
                if self.closed.is_set():
                    raise AssertionError(f"the stream ended first; last frame {self.last_frame!r}")
                await self.new.wait()

    async def wait_for(self, version: int, timeout: float = WAIT) -> float:  # noqa: ASYNC109
        """When the event with id ``version`` arrived (``trio.current_time()``)."""
        await self.wait(lambda reader: version in reader.arrived, timeout)
        return self.arrived[version]

    async def aclose(self) -> None:
        await self.stream.aclose()
