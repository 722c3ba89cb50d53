"""A file on the machine mapsrv runs on, named by its path instead of sent through the model
(issue 73): an agent and mapsrv on one computer (``mapsrv stdio``, a local ``mapsrv serve``) pass
a path of a few bytes where the file's content would cost the model 130,000 tokens.

Only files inside the folders the operator allows (``--files-dir``; ``mapsrv stdio`` allows the
folder it starts in) are read, and only regular files: the path is resolved to its real path
(``..`` and every symbolic link followed) and must lie inside an allowed folder's real path; the
file is opened without following a last link (``O_NOFOLLOW``), without blocking on a FIFO
(``O_NONBLOCK``), and refused unless ``fstat`` says it is a regular file; ``/proc``, ``/sys`` and
``/dev`` are never read, whatever is allowed (their files lie about their size). What is read is
read from that descriptor, copied into the upload's private spool folder, where the sandboxed
reader takes it (``mapsrv.hub.reader``): the file may change or move after, the copy does not.
"""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.hub.reader import spool_file

__all__ = ["allowed_folders", "open_file", "resolve_path", "spooled_path"]

_NEVER = ("/proc", "/sys", "/dev")
_CHUNK = 1 << 20


def allowed_folders(folders: Sequence[str]) -> tuple[Path, ...]:
    """The folders files may be read from, as real paths."""
    return tuple(Path(os.path.realpath(os.path.expanduser(f))) for f in folders)


def _inside(path: str, folder: Path) -> bool:
    try:
        return os.path.commonpath([path, str(folder)]) == str(folder)
    except ValueError:
        return False


def resolve_path(given: str, allowed: Sequence[Path]) -> str:
    """``given`` (absolute, or relative to the first allowed folder) as a real path inside an
    allowed folder; refused, naming the flag to set, otherwise."""
    if not allowed:
        raise InvalidInput(
            "import by path is off on this server: it reads files only inside folders its operator"
            " allows (start it with --files-dir FOLDER; mapsrv stdio allows the folder it starts in)"
        )
    if not isinstance(given, str) or not given.strip() or "\x00" in given:
        raise InvalidInput(f"path must be a file's path, got {given!r:.60}")
    expanded = os.path.expanduser(given.strip())
    candidate = expanded if os.path.isabs(expanded) else os.path.join(allowed[0], expanded)
    real = os.path.realpath(candidate)
    if real.startswith(_NEVER) or not any(_inside(real, folder) for folder in allowed):
        folders = ", ".join(str(f) for f in allowed[:3])
        raise InvalidInput(
            f"path {given!r:.80} is outside the folders this server may read ({folders}); move the file"
            " there, or have the operator add its folder with --files-dir"
        )
    return real


def open_file(real: str, given: str, limit: int) -> tuple[int, int]:
    """The file's descriptor and size, a regular file of at most ``limit`` bytes."""
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InvalidInput(f"path {given!r:.80} names no file; check the name and its folder") from None
    except OSError as exc:
        raise InvalidInput(f"path {given!r:.80} cannot be opened: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a FIFO, socket or device)"
        raise InvalidInput(f"path {given!r:.80} is {kind}; name a file")
    if info.st_size > limit:
        os.close(fd)
        raise PayloadTooLarge(
            f"file {given!r:.80} must be at most {limit >> 20} MiB, got {info.st_size / 2**20:,.1f} MiB"
            " (--max-file-size); split it"
        )
    return fd, info.st_size


def _copy(fd: int, target: Path, limit: int) -> None:
    """The descriptor's bytes into ``target``, at most ``limit`` (a file that grows is cut there
    and refused)."""
    copied = 0
    with target.open("wb") as out:
        while chunk := os.read(fd, _CHUNK):
            copied += len(chunk)
            if copied > limit:
                raise PayloadTooLarge(
                    f"file must be at most {limit >> 20} MiB, and it grew past that as it was read"
                )
            out.write(chunk)


@asynccontextmanager
async def spooled_path(given: str, allowed: Sequence[Path], limit: int) -> AsyncIterator[Path]:
    """The file at ``given`` (``resolve_path``) copied alone into a private folder (mode 0700),
    removed when the block ends."""
    real = resolve_path(given, allowed)
    fd, _ = await trio.to_thread.run_sync(open_file, real, given, limit)
    try:
        async with spool_file("path") as target:
            await trio.to_thread.run_sync(_copy, fd, target, limit)
            os.close(fd)
            fd = -1
            yield target
    finally:
        if fd >= 0:
            os.close(fd)
