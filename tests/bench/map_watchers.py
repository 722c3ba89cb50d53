"""Watchers of many maps for minutes, in a process of their own: the load generator of the
10,000-watcher soak (issue 15; ``soak10k.py``). Like watchers.py, plain non-blocking sockets on
one epoll loop, because a Trio reader per stream would cost the machine as much as the server;
unlike it, built for a long run against a server that may drop viewers:

- Every delivery is timed on its own. The writer puts the ``time.monotonic()`` at which it began
  the write into the marker's label (``@<seconds>@``); a watcher subtracts it from the time the
  frame's bytes came out of ``recv``. Every process on the machine shares that clock.
- A stream the server ends (its chunked body finishes, or the connection closes or resets) is a
  drop. The watcher does what a browser's EventSource does: it waits the ``retry:`` hint the
  server gave (2 s by default), reconnects with ``Last-Event-ID`` and counts the reconnect. The
  events it gets again after that are deliveries too, late by however long the drop took.
- Each delivery is also timed from the moment the first watcher of its map had that event:
  the fan-out's share, without the time the write itself took in the server.
- Each stream's ids must follow each other one by one from its snapshot's: a gap is counted as
  missed events (so is a snapshot on resume that skips events), an id that is not above the
  last one as out of order.

    python -m tests.bench.map_watchers HOST PORT COUNT COOKIE PATH [PATH ...]

Stream ``i`` watches ``PATH[i % len(PATHS)]``. On stdout, one JSON object a line: ``{"ready":
COUNT}`` once every stream has its snapshot; ``{"status": {...}}`` every second (cumulative
counts, and the last second's latencies); and ``{"report": {...}}`` at the end, after which the
process exits. The end comes from stdin: one line ``{"final": {PATH: VERSION}, "grace": S}``
once the writes are over; the report follows as soon as every stream has its map's final
version, or after S seconds with whatever is still missing counted as missed. The process also
ends when stdin closes (its benchmark went away).
"""

from __future__ import annotations

import errno
import gc
import heapq
import itertools
import json
import os
import resource
import selectors
import socket
import sys
import time
from collections import Counter
from typing import Any

BUCKET_S = 0.0001  # latencies are counted in 0.1 ms steps
OPENING_AT_ONCE = 100  # connections being set up at the same time while the streams open
RETRY_AFTER_ERROR_S = 0.5  # a connection that could not be made is tried again after this
DEFAULT_RETRY_S = 2.0  # mapsrv's default hint, until the server sends one

CONNECTING, HEAD, BODY, WAITING = range(4)


def raise_fd_limit(need: int) -> None:
    """Allow this process (and the processes it starts) ``need`` open files, up to the hard
    limit; fails when even the hard limit is too low, rather than half-open the streams."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            raise RuntimeError(f"{need} open files needed, the hard limit is {hard} (ulimit -Hn)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


class Latencies:
    """A histogram of latencies in 0.1 ms buckets, with the exact count, sum and maximum."""

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.n = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        bucket = int(seconds / BUCKET_S)
        self.buckets[bucket] = self.buckets.get(bucket, 0) + 1
        self.n += 1
        self.total += seconds
        if seconds > self.max:
            self.max = seconds

    def summary(self) -> dict[str, Any]:
        """n, p50/p90/p99/max/mean in ms, like harness.percentiles; a percentile is the upper
        edge of its bucket (never above the maximum)."""
        if not self.n:
            return {"n": 0}
        wanted = {name: q * self.n for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}
        out: dict[str, Any] = {"n": self.n}
        seen = 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            for name, rank in list(wanted.items()):
                if seen > rank or seen == self.n:
                    out[name] = round(min((bucket + 1) * BUCKET_S, self.max) * 1000, 3)
                    del wanted[name]
            if not wanted:
                break
        out["max"] = round(self.max * 1000, 3)
        out["mean"] = round(self.total / self.n * 1000, 3)
        return out


class Stream:
    """One watcher: its connection, where it is in the HTTP response, and what it has seen."""

    __slots__ = (
        "chunk_left",
        "chunked",
        "crlf_left",
        "frames",
        "last",
        "path",
        "raw",
        "retry_s",
        "sock",
        "state",
    )

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock: socket.socket | None = None
        self.state = WAITING
        self.raw = b""  # bytes not yet decoded (headers, chunk size lines)
        self.frames = b""  # decoded SSE text not yet ending in a blank line
        self.chunked = False
        self.chunk_left = 0  # bytes of the current chunk still to come
        self.crlf_left = 0  # bytes of the CRLF after a chunk still to skip
        self.last: int | None = None  # the latest event id this stream had
        self.retry_s = DEFAULT_RETRY_S

    def decode(self, data: bytes) -> tuple[bytes, bool]:
        """The SSE text in ``data`` (chunked framing removed), and whether the body ended."""
        if not self.chunked:
            return data, False
        buf = self.raw + data if self.raw else data
        out = []
        i, size = 0, len(buf)
        while i < size:
            if self.chunk_left:
                piece = buf[i : i + self.chunk_left]
                out.append(piece)
                i += len(piece)
                self.chunk_left -= len(piece)
                if self.chunk_left:
                    break
                self.crlf_left = 2
            if self.crlf_left:
                skip = min(self.crlf_left, size - i)
                i += skip
                self.crlf_left -= skip
                continue
            end = buf.find(b"\r\n", i)
            if end == -1:
                break
            length = int(buf[i:end].split(b";", 1)[0], 16)
            i = end + 2
            if length == 0:
                self.raw = b""
                return b"".join(out), True
            self.chunk_left = length
        self.raw = buf[i:]
        return b"".join(out), False


class Watchers:
    def __init__(self, host: str, port: int, count: int, cookie: str, paths: list[str]) -> None:
        self.address = (host, port)
        self.host = f"{host}:{port}"
        self.cookie = cookie
        self.count = count
        self.streams = [Stream(paths[i % len(paths)]) for i in range(count)]
        self.selector = selectors.EpollSelector()
        self.by_fd: dict[int, Stream] = {}
        self.to_open = list(reversed(self.streams))  # first-time opens, OPENING_AT_ONCE at a time
        self.opening = 0
        self.retry_at: list[tuple[float, int, Stream]] = []  # a heap: reconnects waiting their time
        self.order = itertools.count()  # ties in the heap
        self.first: dict[int, int] = {}  # id(stream) -> its first snapshot's id
        self.ready = 0
        self.latency = Latencies()
        self.second = Latencies()  # this second's deliveries, for the status line
        # Each delivery after the map's first watcher had that event: the fan-out's share of the
        # latency, without the write's own time in the server.
        self.after_first = Latencies()
        self.watching = Counter(s.path for s in self.streams)
        self.first_had: dict[tuple[str, int], list[float]] = {}  # (path, id) -> [when, how many]
        self.missed = 0  # ids skipped by a gap or by a snapshot on resume
        self.out_of_order = 0
        self.drops = 0
        self.dropped: set[int] = set()  # id() of every stream dropped at least once
        self.reconnects = 0
        self.connect_errors = 0
        self.heartbeats = 0
        self.unlabelled = 0  # change frames without a write time in them (not from the soak)
        self.final: dict[str, int] | None = None
        self.give_up_at = float("inf")

    # connections

    def connect(self, stream: Stream) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        err = sock.connect_ex(self.address)
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            self.connect_errors += 1
            self.later(RETRY_AFTER_ERROR_S, stream)
            return
        stream.sock, stream.state = sock, CONNECTING
        stream.raw, stream.frames, stream.chunk_left, stream.crlf_left = b"", b"", 0, 0
        self.by_fd[sock.fileno()] = stream
        self.selector.register(sock, selectors.EVENT_WRITE)
        if stream.last is None:
            self.opening += 1

    def send_request(self, stream: Stream) -> None:
        assert stream.sock is not None
        err = stream.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.lost(stream, error=True)
            return
        head = f"GET {stream.path} HTTP/1.1\r\nHost: {self.host}\r\nAccept: text/event-stream\r\n"
        if self.cookie:
            head += f"Cookie: {self.cookie}\r\n"
        if stream.last is not None:
            head += f"Last-Event-ID: {stream.last}\r\n"
        stream.sock.send((head + "\r\n").encode())  # a few hundred bytes: an empty socket takes them
        stream.state = HEAD
        self.selector.modify(stream.sock, selectors.EVENT_READ)

    def lost(self, stream: Stream, *, error: bool = False) -> None:
        """The stream's connection is over: a drop if the server ended a stream that was open,
        a connection error if it never got that far. Either way, connect again later."""
        assert stream.sock is not None
        self.selector.unregister(stream.sock)
        del self.by_fd[stream.sock.fileno()]
        stream.sock.close()
        stream.sock = None
        if stream.last is None:
            self.opening -= 1
        if error or stream.state != BODY:
            self.connect_errors += 1
            delay = RETRY_AFTER_ERROR_S
        else:
            self.drops += 1
            self.dropped.add(id(stream))
            delay = stream.retry_s
        stream.state = WAITING
        self.later(delay, stream)

    def later(self, delay: float, stream: Stream) -> None:
        heapq.heappush(self.retry_at, (time.monotonic() + delay, next(self.order), stream))

    def open_more(self, now: float) -> None:
        while self.to_open and self.opening < OPENING_AT_ONCE:
            self.connect(self.to_open.pop())
        while self.retry_at and self.retry_at[0][0] <= now:
            stream = heapq.heappop(self.retry_at)[2]
            if stream.last is not None:
                self.reconnects += 1
            self.connect(stream)

    # reading

    def receive(self, stream: Stream, now: float) -> None:
        assert stream.sock is not None
        try:
            data = stream.sock.recv(262144)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.lost(stream)
            return
        if not data:
            self.lost(stream)
            return
        if stream.state == HEAD:
            data = stream.raw + data
            end = data.find(b"\r\n\r\n")
            if end == -1:
                stream.raw = data
                return
            head, data = data[:end].lower(), data[end + 4 :]
            stream.raw = b""
            if not head.startswith(b"http/1.1 200"):
                raise RuntimeError(f"stream refused: {head[:80]!r}")
            stream.chunked = b"transfer-encoding: chunked" in head
            stream.state = BODY
        text, ended = stream.decode(data)
        if text:
            self.frames(stream, text, now)
        if ended:
            self.lost(stream)

    def frames(self, stream: Stream, text: bytes, now: float) -> None:
        *frames, stream.frames = (stream.frames + text).split(b"\n\n")
        for frame in frames:
            if frame.startswith(b":"):
                self.heartbeats += 1
                continue
            event_id, event, data = None, b"", b""
            for line in frame.split(b"\n"):
                if line.startswith(b"id: "):
                    event_id = int(line[4:])
                elif line.startswith(b"event: "):
                    event = line[7:]
                elif line.startswith(b"data: "):
                    data = line[6:]
                elif line.startswith(b"retry: "):
                    stream.retry_s = int(line[7:]) / 1000
            if event_id is None:
                continue
            if event == b"snapshot":
                self.snapshot(stream, event_id)
            else:
                self.change(stream, event_id, data, now)

    def snapshot(self, stream: Stream, event_id: int) -> None:
        if stream.last is None:
            self.first[id(stream)] = event_id
            self.opening -= 1
            self.ready += 1
            if self.ready == self.count:
                # What lives from now on lives as long as the run: the collector would only walk
                # it (10,000 streams' state: a full pass here held every delivery up as long as
                # the server's used to). This process measures; it must not add its own pauses.
                gc.freeze()
                gc.disable()
                emit({"ready": self.count})
        elif event_id > stream.last:
            self.missed += event_id - stream.last  # resumed from a snapshot: those events never came
        stream.last = event_id

    def change(self, stream: Stream, event_id: int, data: bytes, now: float) -> None:
        if stream.last is None:
            raise RuntimeError(f"a stream began with event {event_id}, not a snapshot")
        if event_id <= stream.last:
            self.out_of_order += 1
            return
        self.missed += event_id - stream.last - 1
        stream.last = event_id
        start = data.find(b'"label":"@')
        if start == -1:
            self.unlabelled += 1
            return
        start += 10
        latency = max(0.0, now - float(data[start : data.index(b"@", start)]))
        self.latency.add(latency)
        key = (stream.path, event_id)
        first = self.first_had.get(key)
        if first is None:
            first = self.first_had[key] = [now, 0]
        self.after_first.add(now - first[0])
        first[1] += 1
        if first[1] == self.watching[stream.path]:
            del self.first_had[key]
        self.second.add(latency)

    # the end

    def behind(self) -> int:
        """Events the streams still lack of their maps' final versions."""
        assert self.final is not None
        final = self.final
        return sum(max(0, final[s.path] - (s.last or 0)) for s in self.streams)

    def report(self) -> dict[str, Any]:
        assert self.final is not None
        expected = sum(self.final[s.path] - self.first.get(id(s), self.final[s.path]) for s in self.streams)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "latency": self.latency.summary(),
            "after_first": self.after_first.summary(),
            "expected": expected,
            "deliveries": self.latency.n + self.unlabelled,
            "missed": self.missed + self.behind(),
            "not_arrived": self.behind(),
            "out_of_order": self.out_of_order,
            "drops": self.drops,
            "streams_dropped": len(self.dropped),
            "reconnects": self.reconnects,
            "connect_errors": self.connect_errors,
            "heartbeats": self.heartbeats,
            "unlabelled": self.unlabelled,
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        }

    def status(self) -> dict[str, Any]:
        out = {
            "open": sum(1 for s in self.streams if s.state == BODY),
            "deliveries": self.latency.n,
            "drops": self.drops,
            "missed": self.missed,
            "out_of_order": self.out_of_order,
            "second": self.second.summary(),
        }
        self.second = Latencies()
        return out

    def command(self, line: bytes) -> None:
        message = json.loads(line)
        self.final = {path: int(version) for path, version in message["final"].items()}
        self.give_up_at = time.monotonic() + float(message["grace"])

    def run(self) -> None:
        os.set_blocking(0, False)
        self.selector.register(0, selectors.EVENT_READ)
        commands = b""
        next_status = time.monotonic() + 1
        next_check = 0.0  # when to see again whether every stream has its final version
        while True:
            now = time.monotonic()
            self.open_more(now)
            wake = min(next_status, self.retry_at[0][0]) if self.retry_at else next_status
            for key, mask in self.selector.select(max(0.0, wake - now)):
                if key.fd == 0:
                    chunk = os.read(0, 65536)
                    if not chunk:
                        return  # the benchmark went away
                    *lines, commands = (commands + chunk).split(b"\n")
                    for line in lines:
                        self.command(line)
                    continue
                stream = self.by_fd.get(key.fd)
                if stream is None:
                    continue  # closed earlier in this batch
                if mask & selectors.EVENT_WRITE:
                    self.send_request(stream)
                else:
                    self.receive(stream, time.monotonic())
            now = time.monotonic()
            if now >= next_status:
                next_status = now + 1
                if self.ready == self.count:
                    emit({"status": self.status()})
            if self.final is not None and now >= next_check:
                next_check = now + 0.1
                if now >= self.give_up_at or not self.behind():
                    emit({"report": self.report()})
                    return


def emit(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


def main(host: str, port: int, count: int, cookie: str, paths: list[str]) -> None:
    raise_fd_limit(count + 100)
    Watchers(host, port, count, cookie, paths).run()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:])
