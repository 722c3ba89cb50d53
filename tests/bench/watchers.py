"""Many SSE watchers in a process of their own, on plain non-blocking sockets and one epoll loop:
the load generator for the fan-out and frames/s benchmarks. With a Trio reader per stream in the
benchmark's own process, reading 1,000 streams cost about as much as sending them, and its tail
was the reader's, not the server's.

    python -m tests.bench.watchers HOST PORT PATH COUNT [COOKIE]

It opens COUNT streams, prints ``{"ready": COUNT}`` once each has its first frame, and then, for
every event id that all COUNT streams have received, one line ``{"id": N, "at": [...]}``: the
``time.monotonic()`` at which 0, 10, ..., 100 % of the streams had it (a clock every process on
the machine shares). A stream the server closes is reported as ``{"closed": 1}``, and a stream
whose event ids do not follow each other one by one from its snapshot's (an event lost,
repeated or out of order) as ``{"out_of_order": [PREVIOUS, ID]}``: the benchmark then fails
instead of waiting for it. It runs until it is stopped.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import time
from typing import Any

DECILES = [i / 10 for i in range(11)]


def open_stream(host: str, port: int, path: str, cookie: str) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection((host, port), timeout=30)
    head = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
    if cookie:
        head += f"Cookie: {cookie}\r\n"
    sock.sendall((head + "\r\n").encode())
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("stream closed before its headers")
        buffer += chunk
    status, rest = buffer.split(b"\r\n\r\n", 1)
    if not status.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"stream refused: {status[:80]!r}")
    sock.setblocking(False)
    return sock, rest


def event_ids(frames: list[bytes]) -> list[int]:
    """The ``id:`` of each complete frame (chunked framing lines in between are ignored)."""
    ids = []
    for frame in frames:
        start = frame.find(b"id: ")
        if start != -1:
            end = frame.find(b"\n", start)
            ids.append(int(frame[start + 4 : end if end != -1 else None]))
    return ids


class Crowd:
    """What the streams have had: each one's partial frame and latest event id, and when each
    event reached each stream (kept until every stream has it)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.waiting_first = count
        self.buffers: dict[int, bytes] = {}  # fd -> the start of a frame still arriving
        self.last: dict[int, int] = {}  # fd -> the latest event id that stream had
        self.arrivals: dict[int, list[float]] = {}

    def note(self, fd: int, data: bytes, now: float) -> None:
        held = self.buffers.pop(fd, b"")
        if fd not in self.last:
            self._first(fd, held + data, now)
            return
        if held or not data.endswith(b"\n\n"):
            *frames, rest = (held + data).split(b"\n\n")
            if rest:
                self.buffers[fd] = rest
        else:  # the usual read: whole frames, nothing held
            frames = data.split(b"\n\n")
            frames.pop()
        for event_id in event_ids(frames):
            self._had(fd, event_id, now)

    def _first(self, fd: int, data: bytes, now: float) -> None:
        *frames, rest = data.split(b"\n\n")
        if not frames:
            self.buffers[fd] = rest
            return
        if rest:
            self.buffers[fd] = rest
        ids = event_ids(frames)
        if not ids:
            raise RuntimeError(f"a stream began without a snapshot id: {frames!r}")
        self.last[fd] = ids[0]  # the snapshot, not an event under test
        self.waiting_first -= 1
        if self.waiting_first == 0:
            print(json.dumps({"ready": self.count}), flush=True)
        for event_id in ids[1:]:
            self._had(fd, event_id, now)

    def _had(self, fd: int, event_id: int, now: float) -> None:
        if event_id != self.last[fd] + 1:
            print(json.dumps({"out_of_order": [self.last[fd], event_id]}), flush=True)
        self.last[fd] = event_id
        times = self.arrivals.get(event_id)
        if times is None:
            times = self.arrivals[event_id] = []
        times.append(now)
        if len(times) == self.count:
            del self.arrivals[event_id]
            count = self.count
            at = [times[min(count - 1, int(q * count))] for q in DECILES]
            print(json.dumps({"id": event_id, "at": at}), flush=True)


def main(host: str, port: int, path: str, count: int, cookie: str = "") -> None:
    # epoll and each socket's recv directly: selectors' key objects per ready socket cost this
    # process as much again as the reads, and its CPU per event is part of what a run reports
    poller = select.epoll()
    crowd = Crowd(count)
    streams: dict[int, socket.socket] = {}
    receivers: dict[int, Any] = {}  # fd -> its socket's recv
    for _ in range(count):
        sock, rest = open_stream(host, port, path, cookie)
        streams[sock.fileno()] = sock
        receivers[sock.fileno()] = sock.recv
        poller.register(sock.fileno(), select.EPOLLIN)
        if rest:
            crowd.note(sock.fileno(), rest, time.monotonic())
    monotonic, note = time.monotonic, crowd.note
    while True:
        for fd, _ in poller.poll(-1, count):
            data = receivers[fd](262144)
            now = monotonic()
            if not data:
                poller.unregister(fd)
                del receivers[fd]
                streams.pop(fd).close()
                print(json.dumps({"closed": 1}), flush=True)
                continue
            note(fd, data, now)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), *sys.argv[5:6])
