"""HTTP content codings (RFC 9110 section 8.4) undone within a cap, for bodies from elsewhere.

A ``Content-Encoding`` lists the codings in the order they were applied; they are undone in
reverse, each a zlib stream fed a step at a time: no call makes more than ``STEP`` bytes, and
every layer, from the bytes off the wire to the body, is held to the cap while it flows. So a
small answer that would inflate to gigabytes (a decompression bomb, stacked or not) costs at most
the cap and one step, and its CPU comes in steps the caller can let other tasks run between.
gzip, deflate (zlib-wrapped, as RFC 9110 says, or raw, as some servers send it) and identity
are undone, at most ``MAX_CODINGS`` of them; any other coding (br, zstd, compress) is refused by
name.

Sans-IO: bytes in, bytes out. The fetcher (``mapsrv.http.fetch``) and the map images' tile
client (``mapsrv.image.service``) read the wire and let other tasks run between the pieces.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable, Iterator

from mapsrv.errors import InvalidInput, PayloadTooLarge

__all__ = ["MAX_CODINGS", "STEP", "Decoding"]

STEP = 64 * 2**10  # the most one decompress call makes
MAX_CODINGS = 3
GZIP = ("gzip", "x-gzip")  # x-gzip: the same coding (RFC 9110 section 8.4.1.3)
KNOWN = (*GZIP, "deflate", "identity")


class Decoding:
    """One body's content codings undone, the body and every layer under it held to ``cap``
    bytes: past it, ``too_large(size)`` is raised (by default a PayloadTooLarge)."""

    def __init__(
        self, content_encoding: str, cap: int, too_large: Callable[[int], Exception] | None = None
    ) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        for coding in codings:
            if coding not in KNOWN:
                raise InvalidInput(
                    f"content encoding must be gzip, deflate or identity, got {coding!r:.40};"
                    " the source must send the file as it is or gzipped"
                )
        applied = [c for c in codings if c != "identity"]
        if len(applied) > MAX_CODINGS:
            raise InvalidInput(
                f"content encoding must be at most {MAX_CODINGS} codings, got {len(applied)}"
                f" ({content_encoding!r:.60}); the source must send the file as it is or gzipped"
            )
        self._layers = [_Layer(c) for c in reversed(applied)]
        self._sizes = [0] * (len(self._layers) + 1)  # bytes into each layer, then out of the last
        self._cap = cap
        self._too_large = too_large or functools.partial(_too_large, cap)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The body that the next bytes off the wire decode to, a step at a time: each piece at
        most ``STEP`` bytes (or ``data`` itself, with no coding to undo), and an empty one for a
        step that made nothing of the body yet."""
        return self._through(0, data)

    def end(self) -> None:
        """After the last bytes: every coding's stream must have come to its end."""
        for layer in self._layers:
            if not layer.done:
                raise InvalidInput(
                    f"body ends inside its {layer.coding} stream; the source sent part of its file, try again"
                )

    def _through(self, i: int, data: bytes) -> Iterator[bytes]:
        self._sizes[i] += len(data)
        if self._sizes[i] > self._cap:
            raise self._too_large(self._sizes[i])
        if i == len(self._layers):
            yield data
            return
        for out in self._layers[i].steps(data):
            if out:
                yield from self._through(i + 1, out)
            else:
                yield b""


class _Layer:
    """One coding's zlib stream; deflate's form is known by its first two bytes."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._head = b""
        self._inflate: zlib._Decompress | None = None

    @property
    def done(self) -> bool:
        """At the stream's end, or never given a byte (an empty body)."""
        return self._inflate.eof if self._inflate is not None else not self._head

    def steps(self, data: bytes) -> Iterator[bytes]:
        if self._inflate is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            self._inflate = zlib.decompressobj(wbits=31 if self.coding in GZIP else _deflate_wbits(data))
        # Bytes after the stream's end are let go, as httpx does. A full step may leave output
        # inside zlib with every byte of input taken (64 KiB and one of zeros, deflated, is 80
        # bytes): it is asked for again until a step comes back short.
        full = False
        while (data or full) and not self._inflate.eof:
            try:
                out = self._inflate.decompress(data, STEP)
            except zlib.error:
                raise InvalidInput(
                    f"body is not {self.coding} as its content encoding says; check the source"
                ) from None
            data = self._inflate.unconsumed_tail
            full = len(out) == STEP
            yield out


def _deflate_wbits(head: bytes) -> int:
    """zlib-wrapped (RFC 1950: method 8, header a multiple of 31) or raw deflate."""
    wrapped = head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0
    return zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS


def _too_large(cap: int, size: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"body must be at most {cap} bytes, got more than {size}; use a smaller file")
