"""gzip for the answers that grow with a map: its state and its GeoJSON (a 10,000-point map's
state is about 1 MB of JSON and a fifth of that gzipped), when the client accepts it.

Only bodies of ``MIN_SIZE`` bytes or more are worth it; bodies of ``THREAD_SIZE`` or more are
compressed in a worker thread (zlib lets go of the interpreter while it works), so a 100,000-
feature map's state never stops the event loop while it is packed. Level 5: the size within a
few per cent of level 9 for JSON like ours, in a third of the time.
"""

from __future__ import annotations

import gzip

import trio

__all__ = ["COMPRESSIBLE", "LEVEL", "MIN_SIZE", "THREAD_SIZE", "accepts_gzip", "gzip_body"]

MIN_SIZE = 1024  # below this, the header and a round trip cost more than gzip saves
THREAD_SIZE = 256 * 1024  # from this size on, compressed off the event loop
LEVEL = 5
COMPRESSIBLE = frozenset({"application/json", "application/geo+json"})


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
