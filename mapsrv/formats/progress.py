"""How far the read of a big file is, for the page that waits on it ("Reading rivers.gpkg… 40 %").

The reader (a worker thread) counts the rows it has read against the rows the file declares (a
GeoPackage's or FlatGeobuf's feature counts, a Parquet footer's row count), known before the first
row is read; the event loop looks at the two numbers when it wants to, so the reader never waits
for the loop. Two plain integers written by one thread and read by another need no lock: each
assignment is atomic under the interpreter's lock, and a reading one batch stale is harmless.

``check`` runs between batches: in the sandboxed reader it sends the numbers to the server (at
most every 0.1 s), whose ``hub.reader`` sets them here with ``reached`` on the event loop, which
tells ``moved`` (the page's progress lines are sent as the numbers move, not on a timer that a
quick read slips between). A read whose client went away ends with its reader process.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress"]


class Progress:
    def __init__(self, check: Callable[[], None] = lambda: None) -> None:
        self.total = 0  # rows the file declares, in all its layers read
        self.done = 0  # rows read so far
        self.check = check
        self.moved: Callable[[], None] = lambda: None  # told by ``reached``

    def reached(self, done: int, total: int) -> None:
        """The reader's numbers, as it sent them."""
        self.done, self.total = done, total
        self.moved()

    def advance(self, rows: int) -> None:
        self.done += rows
        self.check()

    def fraction(self) -> float | None:
        """Read so far, 0 to 1; None before the file's size in rows is known."""
        return min(1.0, self.done / self.total) if self.total else None
