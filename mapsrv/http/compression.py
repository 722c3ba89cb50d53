"""gzip for what grows with a map, when the client accepts it: its state and its GeoJSON (a
10,000-point map's state is 1.3 MB of JSON, about 140 KB gzipped), and its event stream (below).

Only bodies of ``MIN_SIZE`` bytes or more are worth it; bodies of ``THREAD_SIZE`` or more are
compressed in a worker thread (zlib lets go of the interpreter while it works), so a 100,000-
feature map's state never stops the event loop while it is packed. Level 5: the size within a
few per cent of level 9 for JSON like ours, in a third of the time.
"""

from __future__ import annotations

import gzip
import zlib
from collections import OrderedDict

import trio

from mapsrv.core.sse import chunk

__all__ = [
    "COMPRESSIBLE",
    "GZIP_HEADER",
    "LEVEL",
    "MIN_SIZE",
    "THREAD_SIZE",
    "Deflated",
    "accepts_gzip",
    "deflated",
    "gzip_body",
]

MIN_SIZE = 1024  # below this, the header and a round trip cost more than gzip saves
THREAD_SIZE = 256 * 1024  # from this size on, compressed off the event loop
LEVEL = 5
COMPRESSIBLE = frozenset(
    {
        "application/json",
        "application/geo+json",
        "application/gpx+xml",
        "application/vnd.google-earth.kml+xml",
        "text/csv",
    }
)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value admits gzip (``gzip`` or ``*``, with a q-value
    above zero; ``gzip;q=0`` refuses it even after ``*``)."""
    star = False
    for item in accept_encoding.lower().split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip()
        if name not in ("gzip", "x-gzip", "*"):
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name == "*":
            star = q > 0
        else:
            return q > 0
    return star


async def gzip_body(body: bytes) -> bytes:
    """``body`` gzipped; in a worker thread when it is large. mtime 0: the same body always
    gives the same bytes (so an ETag can stay per version)."""
    if len(body) < THREAD_SIZE:
        return gzip.compress(body, LEVEL, mtime=0)
    return await trio.to_thread.run_sync(lambda: gzip.compress(body, LEVEL, mtime=0))


# --- gzip event streams -------------------------------------------------------------------------
#
# A gzip body is a header, deflate blocks, and a trailer with the CRC of everything. An event
# stream never ends on purpose, so it gets no trailer (a stream cut short is how every event stream
# ends; browsers reconnect as they would anyway). Its deflate blocks are made per frame, not per
# stream: each frame is deflated on its own, from an empty window, and ends with a sync flush
# (byte-aligned, not final), so any sequence of such pieces after the header is a valid deflate
# stream. The fan-out offers the same frame object to every viewer in turn, so each frame is
# deflated once in the process however many gzip streams take it (``Deflated``): a snapshot once
# per version, a change once per event.

GZIP_HEADER = bytes((0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF))  # deflate, no name, mtime 0, OS unknown
FAST_LEVEL = 1  # for a big frame deflated on the event loop (a 1 MB change: ~6 ms)
CACHE_BYTES = 64 * 1024 * 1024  # deflated frames kept (with the frames they come from)


def deflated(data: bytes, level: int = LEVEL) -> bytes:
    """``data`` as raw deflate blocks from an empty window, ending byte-aligned, not final."""
    packer = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush(zlib.Z_SYNC_FLUSH)


class Deflated:
    """Each frame's deflated HTTP/1.1 chunk, made once and shared by every gzip stream. Keyed by
    the frame object itself (kept alive beside its chunk, so its id cannot be reused), at most
    ``max_bytes`` of frames and chunks, the least recently used dropped first."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._chunks: OrderedDict[int, tuple[bytes, bytes]] = OrderedDict()
        self._size = 0
        self._making: dict[int, trio.Event] = {}

    def chunked(self, frame: bytes) -> bytes:
        """On the event loop (the fan-out's path): a big frame at the fast level."""
        found = self._chunks.get(id(frame))
        if found is not None and found[0] is frame:
            self._chunks.move_to_end(id(frame))
            return found[1]
        level = LEVEL if len(frame) < THREAD_SIZE else FAST_LEVEL
        return self._keep(frame, chunk(deflated(frame, level)))

    async def chunked_async(self, frame: bytes) -> bytes:
        """For a stream's first frames (a snapshot): a big one deflated in a worker thread, once
        however many streams ask for it at the same time."""
        if len(frame) < THREAD_SIZE:
            return self.chunked(frame)
        key = id(frame)
        while (making := self._making.get(key)) is not None:
            await making.wait()
        found = self._chunks.get(key)
        if found is not None and found[0] is frame:
            return found[1]
        self._making[key] = making = trio.Event()
        try:
            packed = await trio.to_thread.run_sync(deflated, frame)
            return self._keep(frame, chunk(packed))
        finally:
            del self._making[key]
            making.set()

    def _keep(self, frame: bytes, chunked: bytes) -> bytes:
        old = self._chunks.pop(id(frame), None)
        if old is not None:
            self._size -= len(old[0]) + len(old[1])
        self._chunks[id(frame)] = (frame, chunked)
        self._size += len(frame) + len(chunked)
        while self._size > self.max_bytes and len(self._chunks) > 1:
            _, (dropped, dropped_chunk) = self._chunks.popitem(last=False)
            self._size -= len(dropped) + len(dropped_chunk)
        return chunked
