"""Many browsers through a proxy, for tests/bench/drain.py: ``python -m tests.bench.drain_client
HOST PORT PATH COUNT``. Each stream behaves as an EventSource does: it follows ``retry:`` hints,
comes back with ``Last-Event-ID`` when its stream ends, and carries an affinity cookie of its own
(so the proxy's hash spreads them over the upstreams). Commands on stdin, one JSON line each on
stdout:

- ``open``: connect every stream; answers once each has its first event (``{"open": seconds}``);
- ``report``: ``{"streams", "connected", "by_upstream", "moves", "gaps", "min_seen", "max_seen",
  "refused", "all_back_at"}``: how many are connected now and to which upstream, how many
  connections each needed, versions missed or out of order, the lowest and highest version
  seen, and when (monotonic seconds) every stream that had ended was connected again;
- ``quit``.

Plain sockets and epoll in one thread, HTTP/1.0 requests (no chunked framing to undo): the
client must not be what is slow."""

from __future__ import annotations

import json
import resource
import secrets
import selectors
import socket
import sys
import time
from dataclasses import dataclass, field


@dataclass
class Stream:
    key: str
    sock: socket.socket | None = None
    buffer: bytes = b""
    sent: bool = False  # the request went out
    head: bool = False  # its response head (200) came back
    upstream: str = ""
    last: int | None = None  # the last event id seen
    retry: float = 2.0
    reconnect_at: float = 0.0
    connections: int = 0
    gaps: int = 0
    refused: int = 0
    upstreams: list[str] = field(default_factory=list)


def main(host: str, port: int, path: str, count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 1000)), hard))
    selector = selectors.EpollSelector()
    selector.register(sys.stdin, selectors.EVENT_READ, None)
    streams = [Stream(secrets.token_hex(8)) for _ in range(count)]
    waiting_open: float | None = None
    pinned: str | None = None  # while opening with "open ADDR": every stream ends up on ADDR
    all_back_at: float | None = None
    heads = 0  # streams connected with their head back
    first = 0  # streams that had their first event
    pending: list[Stream] = []  # ended, to reconnect once their retry has passed

    def connect(s: Stream) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex((host, port))
        s.sock, s.buffer, s.sent, s.head, s.upstream = sock, b"", False, False, ""
        s.connections += 1
        selector.register(sock, selectors.EVENT_WRITE, s)

    def ended(s: Stream) -> None:
        nonlocal all_back_at, heads
        heads -= s.head
        s.head = False
        if s.sock is not None:
            selector.unregister(s.sock)
            s.sock.close()
            s.sock = None
        s.reconnect_at = time.monotonic() + s.retry
        pending.append(s)
        all_back_at = None

    def parse(s: Stream) -> None:
        nonlocal first
        *frames, s.buffer = s.buffer.split(b"\n\n")
        for frame in frames:
            kind = b""
            for line in frame.split(b"\n"):
                if line.startswith(b"retry: "):
                    s.retry = int(line[7:]) / 1000
                elif line.startswith(b"event: "):
                    kind = line[7:]
                elif line.startswith(b"id: "):
                    version = int(line[4:])
                    missed = kind == b"change" and version != (s.last or 0) + 1
                    behind = kind == b"snapshot" and version < (s.last or 0)
                    if s.last is not None and (missed or behind):
                        s.gaps += 1
                    first += s.last is None
                    s.last = version

    while True:
        now = time.monotonic()
        due = [s for s in pending if s.reconnect_at <= now]
        if due:
            pending[:] = [s for s in pending if s.reconnect_at > now]
            for s in due:
                connect(s)
        timeout = min((s.reconnect_at for s in pending), default=now + 0.2) - now
        for key, _events in selector.select(timeout=max(0.0, min(timeout, 0.2))):
            s = key.data
            if s is None:
                command = sys.stdin.readline().strip()
                if command.split(" ")[0] == "open":
                    waiting_open = time.monotonic()
                    pinned = command.partition(" ")[2] or None
                    for stream in streams:
                        connect(stream)
                elif command == "report":
                    by: dict[str, int] = {}
                    for stream in streams:
                        if stream.sock is not None and stream.head:
                            by[stream.upstream] = by.get(stream.upstream, 0) + 1
                    seen = [stream.last for stream in streams if stream.last is not None]
                    report = {
                        "streams": count,
                        "connected": sum(by.values()),
                        "by_upstream": by,
                        "moves": sum(stream.connections - 1 for stream in streams),
                        "gaps": sum(stream.gaps for stream in streams),
                        "refused": sum(stream.refused for stream in streams),
                        "min_seen": min(seen, default=None),
                        "max_seen": max(seen, default=None),
                        "all_back_at": all_back_at,
                    }
                    print(json.dumps(report), flush=True)
                elif command in ("", "quit"):
                    return
                continue
            sock = s.sock
            if not s.sent:
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    s.refused += 1
                    ended(s)
                    continue
                last = f"Last-Event-ID: {s.last}\r\n" if s.last is not None else ""
                request = (
                    f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
                    f"Cookie: mapsrv_affinity={s.key}\r\n{last}\r\n"
                )
                sock.send(request.encode())
                selector.modify(sock, selectors.EVENT_READ, s)
                s.sent = True
                continue
            try:
                data = sock.recv(65536)
            except ConnectionError:
                data = b""
            if not data:
                ended(s)
                continue
            if not s.head:
                s.buffer += data
                if b"\r\n\r\n" not in s.buffer:
                    continue
                head, s.buffer = s.buffer.split(b"\r\n\r\n", 1)
                if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                    s.refused += 1
                    ended(s)
                    continue
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"x-mapsrv-upstream:"):
                        s.upstream = line.split(b":", 1)[1].decode().split(",")[-1].strip()
                if pinned is not None and s.upstream != pinned:  # another cookie, another hash
                    selector.unregister(sock)
                    sock.close()
                    s.key, s.connections = secrets.token_hex(8), s.connections - 1
                    connect(s)
                    continue
                s.head = True
                heads += 1
                s.upstreams.append(s.upstream)
                if heads == count:
                    all_back_at = all_back_at or time.monotonic()
            else:
                s.buffer += data
            parse(s)
            if waiting_open is not None and first == count:
                print(json.dumps({"open": time.monotonic() - waiting_open}), flush=True)
                waiting_open = pinned = None


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
