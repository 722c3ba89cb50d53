"""Newline framing for a child's stdout, sans-IO and linear in line length.

Each chunk is scanned once for newlines from where the last scan stopped, so a 32 MiB line costs
one pass (the SDK's ``stdio_client`` re-splits its whole buffer per chunk: ~13 s for 32 MB). A
line longer than ``max_line`` is not kept: its first bytes are (so the caller can find the
request id it answers) and the rest is skipped up to its newline.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Line", "LineSplitter", "Oversize"]

PREFIX_KEPT = 4096


@dataclass(frozen=True)
class Line:
    data: bytes  # without the newline (and without a trailing carriage return)


@dataclass(frozen=True)
class Oversize:
    prefix: bytes  # the first PREFIX_KEPT bytes of the dropped line
    size: int  # bytes dropped (at least max_line + 1)


class LineSplitter:
    def __init__(self, max_line: int) -> None:
        if max_line < 1:
            raise ValueError(f"max_line must be positive, got {max_line}")
        self.max_line = max_line
        self._pieces: list[bytes] = []  # of the unfinished line: joined once, at its newline
        self._size = 0
        self._skipping: bytes | None = None  # prefix of the oversize line being skipped
        self._skipped = 0

    def feed(self, data: bytes) -> list[Line | Oversize]:
        out: list[Line | Oversize] = []
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            piece = data[start:] if end < 0 else data[start:end]
            if self._skipping is not None:
                self._skipped += len(piece)
            elif self._size + len(piece) > self.max_line:
                self._skipping = self._prefix(piece)
                self._skipped = self._size + len(piece)
                self._pieces, self._size = [], 0
            elif piece:
                self._pieces.append(piece)
                self._size += len(piece)
            if end < 0:
                break
            out.append(self._finish())
            start = end + 1
        return out

    def _prefix(self, piece: bytes) -> bytes:
        kept = bytearray()
        for held in (*self._pieces, piece):
            kept += held[: PREFIX_KEPT - len(kept)]
            if len(kept) >= PREFIX_KEPT:
                break
        return bytes(kept)

    def _finish(self) -> Line | Oversize:
        if self._skipping is not None:
            event = Oversize(self._skipping, self._skipped)
            self._skipping, self._skipped = None, 0
            return event
        data = self._pieces[0] if len(self._pieces) == 1 else b"".join(self._pieces)
        self._pieces, self._size = [], 0
        return Line(data[:-1] if data.endswith(b"\r") else data)

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held (0 while skipping an oversize one)."""
        return self._size
