"""A big file read in a worker process, its features sent back in pieces (issue 60).

Reading is pure Python: a 6 MB GeoJSON of 23,000 features is ~0.7 s of it. In a worker thread it
shares the server's one interpreter with the event loop, which waits for it at every hand-over,
and the collector's passes that its allocations start hold the interpreter for their whole
length: the loop's longest wait during such a read was 51-70 ms on a quiet machine. Read in a
worker process, the file costs the server's interpreter only the features coming back: pickled
there in pieces of ``PIECE``, each unpickled here in ~1 ms by a thread that lets the loop go
between pieces (``unpack``, 50-60 ms in all). The loop's longest wait was then 7-8 ms, and the
read took as long: 0.79-0.91 s against 0.69-0.94 (docs/benchmarks.md, "issue 60, fifth round").

One piece, not all of it: ``pickle.loads`` is one C call, and the whole read's features are
~50 ms of it. Small files stay in a thread (``reads_apart``): under ``APART_BYTES`` a read is
short, and a process's start (~0.3 s the first time) and the round trip would cost more than
they save. A format whose reading asks the server (a CSV's place names, a table joined to
outlines) or reports its progress (GIS files) is read in a thread too, and so is a KMZ spooled to
disk (a zip, told by its members). A file on disk (the page's upload) is read from there by the
worker process.
"""

from __future__ import annotations

import dataclasses
import gc
import pickle
from collections.abc import Callable
from pathlib import Path

from mapsrv.core.model import Feature, Limits
from mapsrv.errors import InvalidInput
from mapsrv.formats import Imported, read_file
from mapsrv.formats.archive import is_zip
from mapsrv.formats.detect import detect_format
from mapsrv.observability.collector import GC_THRESHOLDS

__all__ = ["APART_BYTES", "APART_FORMATS", "PIECE", "read_apart", "reads_apart", "settle", "unpack"]

APART_BYTES = 1 << 20  # files this big or bigger are read in a worker process
APART_FORMATS = frozenset({"geojson", "kml", "kmz", "gpx"})  # read from their bytes alone
PIECE = 500  # features per pickle sent back: ~1 ms to unpickle
_HEAD = 4096  # bytes of a file on disk that tell its format, as ``read_file`` reads them

_settled = False


def reads_apart(data: bytes | Path, fmt: str | None, filename: str | None) -> bool:
    """Whether to read ``data`` (its bytes, or a file on disk: the page's spooled upload) in a
    worker process: big, and in a format read from its bytes alone. A format the first bytes do
    not tell for sure goes to a thread, whose read says what is wrong."""
    try:
        if isinstance(data, Path):
            if data.stat().st_size < APART_BYTES:
                return False
            with data.open("rb") as file:
                head = file.read(_HEAD)
            return not is_zip(head) and detect_format(head, filename, given=fmt) in APART_FORMATS
        return len(data) >= APART_BYTES and detect_format(data, filename, given=fmt) in APART_FORMATS
    except (InvalidInput, OSError):
        return False


def read_apart(
    data: bytes | Path,
    fmt: str | None,
    limits: Limits,
    filename: str | None,
    layer: str | None,
    simplify: float | None,
) -> tuple[Imported, tuple[bytes, ...]]:
    """In a worker process: ``read_file`` (as a thread would call it: the caller's ``fmt``, and a
    path read from disk here), answered as the file read without its features and the features
    pickled ``PIECE`` at a time."""
    settle()
    imported = read_file(data, fmt, limits, filename=filename, layer=layer, simplify=simplify)
    features = imported.features
    pieces = tuple(
        pickle.dumps(features[at : at + PIECE], protocol=pickle.HIGHEST_PROTOCOL)
        for at in range(0, len(features), PIECE)
    )
    return dataclasses.replace(imported, features=()), pieces


def unpack(imported: Imported, pieces: tuple[bytes, ...], check: Callable[[], None]) -> Imported:
    """``read_apart``'s answer as ``read_file``'s, ``check`` run before each piece (a worker
    thread's ``stop_if_cancelled``: it lets the event loop go first, and stops once the caller
    left). The pieces come from our own worker process, never from a client."""
    features: list[Feature] = []
    for piece in pieces:
        check()
        features.extend(pickle.loads(piece))
    return dataclasses.replace(imported, features=tuple(features))


def settle() -> None:
    """A worker process collects as the server does (``mapsrv.observability.collector``): the
    modules it imported frozen once, young passes every ``GC_THRESHOLDS[0]`` allocations. With
    Python's defaults, the collector's full passes made the read 1.3x as long. The server calls
    it at start in a worker (``mapsrv.server.warm_reader``): the process is then up, and the first
    big file does not wait ~0.5 s for it."""
    global _settled
    if not _settled:
        gc.set_threshold(*GC_THRESHOLDS)
        gc.freeze()
        _settled = True
