"""How far the read of a big file is, for the page that waits on it ("Reading rivers.gpkg… 40 %").

The reader (a worker thread) counts the rows it has read against the rows the file declares (a
GeoPackage's or FlatGeobuf's feature counts, a Parquet footer's row count), known before the first
row is read; the event loop looks at the two numbers when it wants to, so the reader never waits
for the loop. Two plain integers written by one thread and read by another need no lock: each
assignment is atomic under the interpreter's lock, and a reading one batch stale is harmless.

``check`` runs between batches: the hub gives ``workers.stop_if_cancelled``, so a read whose
client went away stops at the next batch instead of reading the rest of a 100 MB file for nobody.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress"]


class Progress:
    def __init__(self, check: Callable[[], None] = lambda: None) -> None:
        self.total = 0  # rows the file declares, in all its layers read
        self.done = 0  # rows read so far
        self.check = check

    def advance(self, rows: int) -> None:
        self.done += rows
        self.check()

    def fraction(self) -> float | None:
        """Read so far, 0 to 1; None before the file's size in rows is known."""
        return min(1.0, self.done / self.total) if self.total else None
