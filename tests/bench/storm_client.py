"""Many browsers at once, for tests/bench/storm.py: ``python -m tests.bench.storm_client HOST PORT
PATH COUNT``. On ``open`` (a line on stdin) it connects COUNT sockets at once and asks each for
the event stream at PATH; it prints ``{"open": seconds}`` once every one has its response head and
first bytes. On ``close`` it closes them all at once and prints ``{"closed": seconds}``. It reads
whatever the streams send meanwhile (and throws it away), as browsers would. Plain sockets and
epoll in one thread: the client must not be what is slow."""

from __future__ import annotations

import json
import resource
import selectors
import socket
import sys
import time


def main(host: str, port: int, path: str, count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 1000)), hard))
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()
    selector = selectors.EpollSelector()
    selector.register(sys.stdin, selectors.EVENT_READ, "stdin")
    sockets: dict[int, socket.socket] = {}
    got: dict[int, int] = {}  # fd -> bytes read so far
    started = 0.0
    opened = False
    first = 0  # streams that had their first bytes
    while True:
        for key, _events in selector.select(timeout=1.0):
            if key.data == "stdin":
                command = sys.stdin.readline().strip()
                if command == "open":
                    started = time.monotonic()
                    for _ in range(count):
                        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                        s.setblocking(False)
                        s.connect_ex((host, port))
                        sockets[s.fileno()] = s
                        got[s.fileno()] = 0
                        selector.register(s, selectors.EVENT_WRITE, "connecting")
                elif command == "close":
                    started = time.monotonic()
                    for s in sockets.values():
                        selector.unregister(s)
                        s.close()
                    sockets.clear()
                    print(json.dumps({"closed": time.monotonic() - started}), flush=True)
                elif command in ("", "quit"):
                    return
                continue
            s = key.fileobj
            assert isinstance(s, socket.socket)
            if s.fileno() < 0:
                continue  # closed by a "close" read earlier in this batch of events
            if key.data == "connecting":
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    raise SystemExit(
                        f"a stream could not connect: {s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)}"
                    )
                s.send(request)
                selector.modify(s, selectors.EVENT_READ, "reading")
                continue
            try:
                data = s.recv(65536)
            except ConnectionError:
                data = b""
            if not data:
                raise SystemExit("the server closed a stream")
            if got[s.fileno()] == 0:
                first += 1
            got[s.fileno()] += len(data)
        if sockets and not opened and first == len(sockets):
            opened = True
            print(json.dumps({"open": time.monotonic() - started}), flush=True)
        if not sockets:
            opened = False
            got.clear()
            first = 0


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
