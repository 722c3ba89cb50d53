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
import selectors
import socket
import sys
import time

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


def main(host: str, port: int, path: str, count: int, cookie: str = "") -> None:
    selector = selectors.EpollSelector()
    buffers: dict[int, bytes] = {}
    waiting_first = count
    arrivals: dict[int, list[float]] = {}
    last: dict[int, int] = {}  # fd -> the latest event id that stream had

    def note(fd: int, data: bytes, now: float) -> None:
        nonlocal waiting_first
        first = fd not in buffers
        *frames, buffers[fd] = (buffers.get(fd, b"") + data).split(b"\n\n")
        if first and not frames:
            del buffers[fd]
            return
        ids = event_ids(frames)
        if first:
            if not ids:
                raise RuntimeError(f"a stream began without a snapshot id: {frames!r}")
            last[fd], ids = ids[0], ids[1:]  # the snapshot, not an event under test
            waiting_first -= 1
            if waiting_first == 0:
                print(json.dumps({"ready": count}), flush=True)
        for event_id in ids:
            if event_id != last[fd] + 1:
                print(json.dumps({"out_of_order": [last[fd], event_id]}), flush=True)
            last[fd] = event_id
            times = arrivals.setdefault(event_id, [])
            times.append(now)
            if len(times) == count:
                del arrivals[event_id]
                at = [times[min(count - 1, int(q * count))] for q in DECILES]
                print(json.dumps({"id": event_id, "at": at}), flush=True)

    socks = []
    for _ in range(count):
        sock, rest = open_stream(host, port, path, cookie)
        socks.append(sock)
        selector.register(sock, selectors.EVENT_READ)
        if rest:
            note(sock.fileno(), rest, time.monotonic())
    while True:
        for key, _ in selector.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            data = sock.recv(262144)
            now = time.monotonic()
            if not data:
                selector.unregister(sock)
                sock.close()
                print(json.dumps({"closed": 1}), flush=True)
                continue
            note(key.fd, data, now)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), *sys.argv[5:6])
