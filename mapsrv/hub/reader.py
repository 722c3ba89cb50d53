"""The server's side of the sandbox: every file from a stranger read by a process of its own
(``mapsrv.formats.sandbox``), whatever its format, size and arguments, so that whatever the file
does costs only that process (issue 72).

The reader is bounded from inside (address space, CPU seconds, file writes, no network: see
``mapsrv.formats.sandbox``) and from here: a wall-clock deadline, and a kill when the client
leaves. Its answer comes as frames the server checks as they come: none longer than
``MAX_FRAME``, the features' pickles at most the reader's memory in all, and nothing unpickled but
mapsrv's own model classes. Any end but a clean one is a refusal that says which limit the file
broke ("the file took more than 1024 MiB of memory to read ..."); nothing is stored, and the
server and every other read go on.

A process costs its start: ~0.3 s to import the readers, ~0.6 s more for GDAL and pyarrow. So
after a read one process is started ahead, waiting for the next file with those modules loaded
(a spare, ``SPARE_IDLE`` at most: a server that reads no file keeps no process). Measured
(docs/benchmarks.md, issue 72): the 1:10m countries imported as fast as before, a 100,000-point
GeoParquet 3-11 % slower (its pieces pickled in the reader), a small file ~10 ms more.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

import mapsrv
from mapsrv.core.model import Feature
from mapsrv.errors import CrsNeeded, InvalidInput, MapsrvError, PayloadTooLarge, Unavailable
from mapsrv.formats import GIS_FORMATS, Imported, Progress
from mapsrv.formats.sandbox import FRAME, MAX_FRAME, Table, safe_loads
from mapsrv.observability import collector
from mapsrv.workers import run, stop_if_cancelled

__all__ = ["ReadLimits", "Reader", "SPARE_IDLE", "reader", "serve_reader", "spool_file", "spooled_bytes"]

log = logging.getLogger("mapsrv.reader")

SPARE_IDLE = 300.0  # s a spare reader waits for a file before it is let go
_RECEIVE = 1 << 20  # bytes asked of the pipe at once


@dataclass(frozen=True)
class ReadLimits:
    """What reading one file may cost: ``memory`` bytes of address space beyond the libraries the
    reader maps, ``cpu`` seconds of CPU, ``wall`` seconds in all (flags --import-memory,
    --import-cpu, --import-timeout)."""

    memory: int = 1 << 30
    cpu: int = 60
    wall: float = 120.0


class _Child:
    """One reader process, started ahead (a spare) or for the file at hand."""

    def __init__(self, process: trio.Process, gis: bool) -> None:
        self.process = process
        self.gis = gis
        self.born = time.monotonic()

    @classmethod
    async def start(cls, gis: bool) -> _Child:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join([str(Path(mapsrv.__file__).parent.parent), *sys.path[1:]]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "random",
            "ARROW_DEFAULT_MEMORY_POOL": "system",  # jemalloc's reservations would count as address space
            "OMP_NUM_THREADS": "1",
            "PROJ_NETWORK": "OFF",
            "GDAL_HTTP_TIMEOUT": "1",
            "LANG": "C.UTF-8",
        }
        args = [sys.executable, "-m", "mapsrv.formats.sandbox"]
        if gis:
            args.append("--gis")
        process = await trio.lowlevel.open_process(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        return cls(process, gis)

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


class Reader:
    """The reader processes of one server: ``read`` runs one; a spare waits for the next file."""

    def __init__(self) -> None:
        self.spare: _Child | None = None
        self.running: set[_Child] = set()
        self.nursery: trio.Nursery | None = None  # where spares start (``serve_reader``)
        self._starting = False

    async def read(
        self, path: Path, request: dict[str, Any], limits: ReadLimits, progress: Progress | None
    ) -> Imported | Table:
        """The file at ``path`` (alone in its folder) read as ``request`` says, within ``limits``."""
        # a GIS file (by its format or name) warms the next spare with GDAL and pyarrow; what the
        # reader loads for this one it finds itself (``sandbox._is_gis``)
        named = str(request.get("format") or request.get("filename") or "").rpartition(".")[2].lower()
        gis = named in GIS_FORMATS
        child, self.spare = self.spare, None
        if child is None or child.process.returncode is not None:
            try:
                child = await _Child.start(gis)
            except OSError as exc:  # out of processes or memory: the server goes on, the client retries
                log.warning("a file's reader did not start: %s", exc)
                raise Unavailable(
                    "the server cannot start a file reader now; retry in a few seconds"
                ) from None
        self.running.add(child)
        try:
            return await self._run(child, path, request, limits, progress)
        finally:
            self.running.discard(child)
            child.kill()
            with trio.CancelScope(shield=True):
                await child.process.wait()
                if self.nursery is not None:  # the next file's process, started off this read's path
                    self.nursery.start_soon(self._start_spare, child.gis or gis)
                else:
                    await self._start_spare(child.gis or gis)

    async def _start_spare(self, gis: bool) -> None:
        if self.spare is not None or self._starting:
            return
        self._starting = True
        try:
            self.spare = await _Child.start(gis)
        except OSError as exc:  # the next read starts its own, and says why if it cannot
            log.warning("a spare reader did not start: %s", exc)
        finally:
            self._starting = False

    async def _run(
        self,
        child: _Child,
        path: Path,
        request: dict[str, Any],
        limits: ReadLimits,
        progress: Progress | None,
    ) -> Imported | Table:
        process = child.process
        assert process.stdin is not None and process.stdout is not None
        line = dict(request, path=str(path), memory=limits.memory, cpu=limits.cpu)
        answer: Any = None
        failed: MapsrvError | None = None  # raised past the nursery, not as an exception group
        async with trio.open_nursery() as nursery:
            unpacker = _Unpacker(nursery)
            try:
                with trio.move_on_after(limits.wall) as deadline:
                    answer = await self._frames(process, line, limits, progress, unpacker)
            except MapsrvError as exc:
                failed = exc
                nursery.cancel_scope.cancel()
            finally:
                unpacker.close()  # the worker thread ends once it has what came
        if failed is not None or unpacker.failed is not None:
            raise failed or unpacker.failed  # type: ignore[misc]
        if deadline.cancelled_caught:
            raise PayloadTooLarge(
                f"the file took more than {limits.wall:g} s to read (the reader's limit, --import-timeout);"
                " send a smaller file, or one layer of it (file_layer)"
            )
        if answer is None:
            raise self._died(process.returncode, limits)
        kind, payload = answer
        if kind == b"E":
            raise _refused(payload)
        told = safe_loads(payload)
        if kind == b"T" and isinstance(told, Table) and unpacker.rows:
            return dataclasses.replace(told, rows=unpacker.items)
        if kind == b"R" and isinstance(told, Imported) and unpacker.features:
            return dataclasses.replace(told, features=tuple(unpacker.items))
        raise _garbled("its answer")

    async def _frames(
        self,
        process: trio.Process,
        line: dict[str, Any],
        limits: ReadLimits,
        progress: Progress | None,
        unpacker: _Unpacker,
    ) -> tuple[bytes, bytes] | None:
        """The request sent, the reader's frames taken as they come (pieces to ``unpacker``)
        until its answer (``R``, ``T`` or ``E``); None when it ended without one."""
        assert process.stdin is not None and process.stdout is not None
        try:
            await process.stdin.send_all(json.dumps(line).encode() + b"\n")
            await process.stdin.aclose()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the reader died at once: its end says why
        got = 0
        async for kind, payload in _frames(process.stdout):
            if kind == b"P" and progress is not None:
                progress.reached(*_progress(payload))
            elif kind == b"F":
                got += len(payload)
                if got > limits.memory:
                    raise PayloadTooLarge(
                        f"the file's features (or rows) take more than {limits.memory >> 20} MiB (the"
                        " reader's limit, --import-memory); send a smaller file or split it"
                    )
                unpacker.put(payload)
            elif kind in (b"R", b"T", b"E"):
                return kind, payload
        await process.wait()
        return None

    def _died(self, code: int | None, limits: ReadLimits) -> PayloadTooLarge | InvalidInput:
        """Why a reader ended without an answer, in the user's terms."""
        if code in (-signal.SIGXCPU, -signal.SIGKILL):
            return PayloadTooLarge(
                f"the file took more than {limits.cpu} s of CPU to read (the reader's limit, --import-cpu);"
                " send a smaller file, or one layer of it (file_layer)"
            )
        how = signal.Signals(-code).name if code is not None and code < 0 else f"exit status {code}"
        log.warning("a file's reader ended without an answer (%s)", how)
        return InvalidInput(
            f"the file could not be read: its reader stopped ({how}) before it finished; the file is"
            f" malformed, or needs more than the reader's {limits.memory >> 20} MiB of memory; export it"
            " again, or send a smaller file"
        )

    async def retire_spare(self, idle: float = SPARE_IDLE) -> None:
        """Let the spare go when it waited ``idle`` seconds (or at once, with 0), and reap it: a
        process killed and never waited for stays in the process table (a zombie) as long as the
        server runs, one more for every spare let go."""
        spare = self.spare
        if spare is not None and time.monotonic() - spare.born >= idle:
            self.spare = None
            spare.kill()
            with trio.CancelScope(shield=True):  # SIGKILL: it ends at once, also at shutdown
                await spare.process.wait()


async def _frames(stream: trio.abc.ReceiveStream) -> AsyncIterator[tuple[bytes, bytes]]:
    """The reader's frames as they come; one longer than ``MAX_FRAME`` ends the read."""
    buffer = bytearray()
    head = FRAME.size
    while True:
        while len(buffer) >= head:
            kind, size = FRAME.unpack_from(buffer)
            if size > MAX_FRAME:
                raise PayloadTooLarge(
                    f"the file's reader sent a piece of {size / 2**20:,.0f} MiB, more than {MAX_FRAME >> 20}"
                    " MiB: a single feature that big cannot be on a map; send a smaller file"
                )
            if len(buffer) < head + size:
                break
            payload = bytes(buffer[head : head + size])
            del buffer[: head + size]
            yield kind, payload
        chunk = await stream.receive_some(_RECEIVE)
        if not chunk:
            return
        buffer += chunk


def _progress(payload: bytes) -> tuple[int, int]:
    done, total = int.from_bytes(payload[:8], "big"), int.from_bytes(payload[8:16], "big")
    return done, total


def _refused(payload: bytes) -> InvalidInput:
    try:
        said = json.loads(payload)
        message, status = str(said["message"])[:2_000], int(said["status"])
        if said.get("kind") == CrsNeeded.code:
            candidates = [
                {"crs": str(c["crs"])[:40], "name": str(c["name"])[:120]} for c in said["candidates"][:20]
            ]
            sample = [(float(x), float(y)) for x, y in said.get("sample", [])[:64]]
            return CrsNeeded(message, candidates, [p for p in sample if math.isfinite(p[0] + p[1])])
    except (ValueError, KeyError, TypeError):
        return _garbled("its refusal")
    return PayloadTooLarge(message) if status == 413 else InvalidInput(message)


def _garbled(what: str) -> InvalidInput:
    log.warning("a file's reader sent %s in a form the server does not take", what)
    return InvalidInput("the file could not be read: its reader answered garbage; export the file again")


class _Unpacker:
    """The reader's pieces unpickled in a worker thread as they come, while the reader pickles the
    next (``stop_if_cancelled`` before each: the loop goes first, and a client that left stops
    it): 100,000 points' pieces took ~0.5 s to unpickle after the reader had sent them all. Each
    piece's items are looked at there too (``features``, ``rows``): on the loop, 90,000 points'
    took 20-30 ms."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.pieces: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.items: list[Any] = []
        self.features = True  # whether every item so far is a Feature
        self.rows = True  # ... a table's row (``_is_row``)
        self.failed: MapsrvError | None = None
        self._nursery: trio.Nursery | None = nursery

    def put(self, piece: bytes) -> None:
        """A piece to unpickle; the first starts the thread (a GIS file's read holds no worker
        while the reader reads, only while its pieces come)."""
        self.pieces.put(piece)
        if self._nursery is not None:
            self._nursery.start_soon(self.serve)
            self._nursery = None

    def close(self) -> None:
        self.pieces.put(None)

    async def serve(self) -> None:
        try:
            with collector.PROCESS.keeping():  # the features live as long as their map (replica.write)
                await run("encode", self._work, refuse=False)  # bounded by the readers: one a read
        except MapsrvError as exc:  # told past the nursery, as the read's own refusals are
            self.failed = exc

    def _work(self) -> None:
        while (piece := self.pieces.get()) is not None:
            stop_if_cancelled()
            got = safe_loads(piece)
            if not isinstance(got, list):
                raise _garbled("a piece")
            self.features = self.features and all(isinstance(f, Feature) for f in got)
            self.rows = self.rows and all(_is_row(row) for row in got)
            self.items.extend(got)


def _is_row(row: object) -> bool:
    """A table's row as the reader sends it: its line number and its cells."""
    return (
        isinstance(row, tuple)
        and len(row) == 2
        and isinstance(row[0], int)
        and isinstance(row[1], list)
        and all(isinstance(cell, str) for cell in row[1])
    )


@asynccontextmanager
async def spool_file(kind: str) -> AsyncIterator[Path]:
    """Where a file from outside is put for its reader: ``upload`` alone in a private folder
    (``mkdtemp``: mode 0700, under ``TMPDIR``), removed with all in it when the block ends,
    whatever way it ends (cancelled too). ``kind`` names the folder (``mapsrv-<kind>-...``)."""
    folder = Path(await trio.to_thread.run_sync(lambda: tempfile.mkdtemp(prefix=f"mapsrv-{kind}-")))
    try:
        yield folder / "upload"
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))


@asynccontextmanager
async def spooled_bytes(data: bytes) -> AsyncIterator[Path]:
    """``data`` in a file of its own (``spool_file``), removed when the block ends."""
    async with spool_file("read") as path:
        await trio.to_thread.run_sync(path.write_bytes, data)
        yield path


_reader = Reader()


def reader() -> Reader:
    """The process's reader."""
    return _reader


async def serve_reader(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Starts spare readers off the reads' path, lets an idle one go after ``SPARE_IDLE``, and
    the spare at shutdown."""
    try:
        async with trio.open_nursery() as nursery:
            _reader.nursery = nursery
            task_status.started()
            while True:
                await trio.sleep(SPARE_IDLE / 10)
                await _reader.retire_spare()
    finally:
        _reader.nursery = None
        await _reader.retire_spare(0)
