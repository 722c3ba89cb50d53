"""The reader's side of the sandbox: one file from a stranger read in a process of its own, under
hard limits set before the first byte of it is looked at (issue 72).

GDAL, SQLite, Arrow, zlib and the JSON and XML parsers are C code that hold the interpreter while
they count, decode or inflate, and each has one more shape of bomb than any check before it can
see: a GeoPackage view over a recursive CTE counts for ever, a 323-byte Parquet file decodes to
gigabytes through a dictionary page. So the server never runs them: it starts
``python -m mapsrv.formats.sandbox`` (``mapsrv.hub.reader``), whose first acts are to take its
request from standard input and to bound itself (``confine``):

- ``RLIMIT_AS``: the address space the libraries had mapped once imported, plus ``memory`` (a
  flag, 1 GiB by default): past it an allocation fails, the read ends with "more than N MiB";
- ``RLIMIT_CPU``: ``cpu`` seconds (a flag), then SIGXCPU, and SIGKILL a second later;
- ``RLIMIT_FSIZE``: no file written bigger than ``MAX_WRITTEN``; its working and temporary
  folder is the upload's own spool folder;
- ``RLIMIT_CORE`` 0, and its own network namespace where the kernel lets it make one (nothing
  to reach: no SRS grid, no URL).

The parent adds a wall-clock deadline and kills it on any of these, or when the client leaves.

What comes back are frames on standard output, each ``kind`` (one byte), a 4-byte big-endian
length and the payload: ``P`` rows read and rows declared (the page's percentage), ``F`` a piece
of features (a pickle of at most ``PIECE_BYTES`` or so), ``T`` a CSV's parsed table (its place
names and joins are resolved by the server, which holds the gazetteer), ``R`` the file read,
without its features, and ``E`` a refusal, as JSON. The parent checks each frame's size as it
comes and unpickles only mapsrv's own model classes (``ALLOWED``): a reader subverted by its file
can send garbage, never code.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import io
import json
import os
import pickle
import resource
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from mapsrv.limits import confine_memory
from mapsrv.observability.collector import for_one_job

__all__ = [
    "ALLOWED",
    "FRAME",
    "GIS_MODULES",
    "MAX_FRAME",
    "MAX_WRITTEN",
    "NICE",
    "PIECE_BYTES",
    "Table",
    "confine",
    "confine_memory",
    "frame",
    "main",
    "safe_loads",
]

FRAME = struct.Struct(">cI")  # kind, payload length
MAX_FRAME = 64 << 20  # the longest frame the parent accepts: one feature of a million points fits
PIECE_BYTES = 1 << 18  # a features frame is cut once its pickle passes this
# The most features in a frame: unpickling is one call of C that holds the interpreter while the
# event loop waits; 8,192 points took 25-41 ms, 1,024 take 3-5.
PIECE_FEATURES = 1_024
MAX_WRITTEN = 64 << 20  # the biggest file the reader may write (SQLite's or GDAL's temporary files)
GIS_MODULES = ("pyogrio", "pyarrow.parquet", "pyproj", "shapely")  # what GIS files are read with
NICE = 10  # a reader's priority below the server's: on 2 cores a spare's start slowed a write
_GIS_NAMES = frozenset(
    {"shp", "gpkg", "fgb", "parquet", "shapefile", "geopackage", "flatgeobuf", "geoparquet"}
)
_PROGRESS_EVERY = 0.1  # s between progress frames, at most
_RESERVE = 4 << 20  # bytes set aside at start, freed to say "out of memory" once it runs out
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000

# What the parent unpickles: core's model, the collector's answer, and a CSV table's plain values
ALLOWED = frozenset(
    {
        ("mapsrv.core.model", "Feature"),
        ("mapsrv.core.model", "Layer"),
        ("mapsrv.core.model", "View"),
        ("mapsrv.core.model", "Style"),
        ("mapsrv.formats.collect", "Imported"),
        ("mapsrv.formats.sandbox", "Table"),
        ("builtins", "frozenset"),
        ("builtins", "set"),
        ("builtins", "complex"),
        ("copyreg", "_reconstructor"),
        ("builtins", "object"),
    }
)


@dataclasses.dataclass(frozen=True)
class Table:
    """A CSV as read by the sandbox: its header, its rows (each with its line number; they come in
    pieces before it), whether its numbers may have a decimal comma, and what reading it said;
    the server turns it into features
    (``mapsrv.formats.read_table``), resolving its place names or joining it to outlines."""

    header: list[str]
    rows: list[tuple[int, list[str]]]
    comma: bool
    notes: tuple[str, ...] = ()


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"the reader sent a {module}.{name}, which is not allowed")
        return super().find_class(module, name)


def safe_loads(data: bytes) -> Any:
    """A pickle from the reader, admitting none but ``ALLOWED`` classes."""
    return _Unpickler(io.BytesIO(data)).load()


def frame(kind: bytes, payload: bytes) -> bytes:
    return FRAME.pack(kind, len(payload)) + payload


# The child ------------------------------------------------------------------------------------


def _libc() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no C library to ask: the limits below still hold
        return None


def confine(cpu: int) -> bool:
    """Bound this process but for its memory (the module's docstring): ``cpu`` seconds, its
    writes, no core file. Answers whether it has a network namespace of its own (the kernel may
    refuse one). No ``PR_SET_PDEATHSIG``: it fires when the *thread* that started the process
    ends, and trio starts processes from a worker thread that ends when idle (readers were killed
    16 s into a read). A reader whose server died ends at its next frame (a broken pipe) or at
    its CPU limit."""
    libc = _libc()
    isolated = False
    if libc is not None:
        flags = _CLONE_NEWNET if os.geteuid() == 0 else _CLONE_NEWUSER | _CLONE_NEWNET
        isolated = libc.unshare(flags) == 0
    try:  # in a container short of memory, the kernel kills a reader before the server
        with open("/proc/self/oom_score_adj", "w", encoding="ascii") as adjust:
            adjust.write("1000")
    except OSError:
        pass
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_WRITTEN, MAX_WRITTEN))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return isolated


def _is_gis(path: Path, fmt: str | None, filename: str | None) -> bool:
    """Whether the file will be read through GDAL or pyarrow, told from its first bytes, its
    name, or (a zip) a ``.shp`` named in its directory: those are loaded before the memory
    limit is set. A wrong guess costs only time (or refuses the file for memory), never safety."""
    if fmt is not None:
        return fmt.lower() in _GIS_NAMES
    with path.open("rb") as file:
        head = file.read(16)
        if head.startswith(b"PK"):
            file.seek(max(0, path.stat().st_size - (1 << 20)))
            return b".shp" in file.read().lower()
    from mapsrv.formats.detect import BINARY_MAGIC  # zips are told above: the rest are GIS files

    if head.startswith(BINARY_MAGIC):
        return True
    return (filename or "").rpartition(".")[2].lower() in _GIS_NAMES


class _Out:
    """Frames to the parent, on the descriptor standard output had: nothing a library prints can
    fall between them (its prints go to standard error)."""

    def __init__(self) -> None:
        self.fd = os.dup(1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self.last = 0.0

    def send(self, kind: bytes, payload: bytes) -> None:
        data = memoryview(frame(kind, payload))
        while data:
            data = data[os.write(self.fd, data) :]

    def progress(self, done: int, total: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= _PROGRESS_EVERY:
            self.last = now
            self.send(b"P", struct.pack(">QQ", done, total))


def _pieces(features: Any, out: _Out) -> None:
    """The features (or a table's rows) in frames of about ``PIECE_BYTES``: the piece's length
    adapts to what the last one weighed, so a file of big shapes sends few features a frame and
    one of points many."""
    at, n = 0, 256
    while at < len(features):
        body = pickle.dumps(list(features[at : at + n]), protocol=pickle.HIGHEST_PROTOCOL)
        while len(body) > MAX_FRAME and n > 1:  # one frame too heavy: fewer features in it
            n = max(1, n // 4)
            body = pickle.dumps(list(features[at : at + n]), protocol=pickle.HIGHEST_PROTOCOL)
        out.send(b"F", body)
        at += n
        n = max(1, min(PIECE_FEATURES, n * PIECE_BYTES // max(1, len(body))))


def _read(request: dict[str, Any], out: _Out) -> None:
    from mapsrv.core.model import Limits
    from mapsrv.formats import Progress, check_gis_arguments, load_file, read_file, read_rows
    from mapsrv.formats.collect import Collector

    limits = Limits(**request["limits"])
    data, fmt = load_file(Path(request["path"]), request.get("format"), request.get("filename"))
    check_gis_arguments(fmt, request.get("file_layer"), request.get("crs"))
    if fmt == "csv":  # its place names and joins need the server's gazetteer: the rows go back
        collector = Collector(fmt, limits)
        header, rows, comma = read_rows(data, collector)  # type: ignore[arg-type]
        _pieces(rows, out)  # in pieces as features go: a 64 MiB table is more than one frame
        table = Table(header, [], comma, collector.result().notes)
        out.send(b"T", pickle.dumps(table, protocol=pickle.HIGHEST_PROTOCOL))
        return
    progress = Progress()
    progress.check = lambda: out.progress(progress.done, progress.total)
    imported = read_file(
        data,
        fmt,
        limits,
        filename=request.get("filename"),
        layer=request.get("layer"),
        simplify=request.get("simplify"),
        file_layer=request.get("file_layer"),
        crs=request.get("crs"),
        progress=progress,
    )
    if progress.total:
        out.progress(progress.done, progress.total, force=True)
    _pieces(imported.features, out)
    out.send(b"R", pickle.dumps(dataclasses.replace(imported, features=()), protocol=pickle.HIGHEST_PROTOCOL))


def _refusal(exc: BaseException, memory: int) -> dict[str, Any]:
    from mapsrv.errors import CrsNeeded, MapsrvError

    mib = memory >> 20
    if isinstance(exc, MemoryError) or type(exc).__name__ == "ArrowMemoryError":
        return {
            "status": 413,
            "kind": "too_large",
            "message": f"the file took more than {mib} MiB of memory to read (the reader's limit,"
            " --import-memory); send a smaller file or split it",
        }
    if isinstance(exc, MapsrvError):
        extra = {"candidates": exc.candidates, "sample": exc.sample} if isinstance(exc, CrsNeeded) else {}
        return {"status": exc.status, "kind": exc.code, "message": exc.message, **extra}
    text = str(exc)
    if "memory" in text.lower() and ("alloc" in text.lower() or "out of" in text.lower()):
        return _refusal(MemoryError(), memory)
    return {
        "status": 400,
        "kind": "invalid",
        "message": f"the file cannot be read: {type(exc).__name__}: {text[:200]}; export it again",
    }


def main(stdin: IO[bytes] | None = None) -> None:
    """The sandbox process: one request (a JSON line), its limits, its read, its frames."""
    line = (stdin or sys.stdin.buffer).readline(1 << 16)
    if not line:  # the server let this spare go, or ended
        os._exit(0)
    request = json.loads(line)
    out = _Out()
    folder = str(Path(request["path"]).parent)  # the upload's own folder: its only place to write
    os.chdir(folder)
    os.environ["TMPDIR"] = os.environ["CPL_TMPDIR"] = os.environ["HOME"] = folder
    tempfile.tempdir = folder
    memory, cpu = int(request["memory"]), int(request["cpu"])
    confine(cpu)
    path, fmt, filename = Path(request["path"]), request.get("format"), request.get("filename")
    if _is_gis(path, fmt, filename):
        for name in GIS_MODULES:
            __import__(name)
    # as the server collects, and every pass freezes what it leaves, as the server's builds do
    # (``Collector.keeping``): the read's features are visited once, not by every later pass
    # (100,000 points read 5-14 % faster)
    for_one_job()
    confine_memory(memory)
    reserve = bytearray(_RESERVE)
    try:
        _read(request, out)
    except BaseException as exc:
        del reserve
        gc.collect()
        out.send(b"E", json.dumps(_refusal(exc, memory)).encode())
    os._exit(0)  # no interpreter teardown: its frames are out, and a hostile file's objects need no freeing


def _warm(gis: bool) -> Callable[[], None]:
    """What every read needs, imported while the process waits for its request (a spare): with
    ``gis``, GDAL and pyarrow too (~0.6 s more, and ~180 MB: only after a GIS file came)."""
    import mapsrv.formats  # noqa: F401

    if gis:
        for name in GIS_MODULES:
            __import__(name)
    return main


if __name__ == "__main__":  # run as a module: its classes pickled by their own name, not __main__'s
    os.nice(NICE)  # the server's loop and its writes come first, a spare's warm-up last
    from mapsrv.formats import sandbox

    sandbox._warm("--gis" in sys.argv[1:])()
