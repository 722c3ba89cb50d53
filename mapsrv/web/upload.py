"""The page's import of a big file: its body spooled to disk as it arrives, and the read's
progress sent back while it runs.

To disk, not memory: a 100 MB GeoPackage held as one ``bytes`` is 100 MB more per upload, then
a copy for GDAL (``/vsimem/``) or SQLite (``deserialize``) on top. Spooled, the body costs at most
``CHUNK`` of memory on its way through, and GDAL and pyarrow read the file where it lies, a batch
of rows at a time. Each upload has a private folder (``mkdtemp``, mode 0700, under ``TMPDIR``)
removed with all in it when the request ends, whatever way it ends: answered, refused past the
limit, failed, or cancelled because the client went away. The writes run in a thread, a MiB at a
time: a disk's stall never stops the loop.

Progress as the answer itself, not as an event on the map's stream: the read's progress concerns
one request of one person, so the request carries it. With ``?progress=1`` (the page asks for it)
the import is answered ``200 application/x-ndjson``: ``{"progress": 0.4}`` lines at most every
``EVERY`` seconds while the file is read (the last of them 1 once every row is read), then one
last line, the import's usual answer or
``{"error": {...}, "status": 413}``. Nothing to correlate, nothing fanned out to the map's other
watchers, and it works behind any proxy that passes a streamed answer (``X-Accel-Buffering: no``
asks nginx to). Without the parameter the answer is the plain JSON it always was.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from mapsrv.core.codec import dumps
from mapsrv.errors import BodyTooLarge, HttpError, MapsrvError
from mapsrv.formats import Progress
from mapsrv.http.types import Receive, Send
from mapsrv.hub.reader import spool_file

__all__ = ["CHUNK", "EVERY", "answer_with_progress", "body_parts", "spooled"]

log = logging.getLogger("mapsrv.web")

CHUNK = 1 << 20  # bytes gathered before one write to the file: one thread hop per MiB
EVERY = 0.25  # seconds between progress lines, at most
_HEADERS = [
    (b"content-type", b"application/x-ndjson"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each line on as it comes
]


@asynccontextmanager
async def spooled(receive: Receive, declared: int, limit: int) -> AsyncIterator[Path]:
    """The request body in a file of its own, at most ``limit`` bytes (a 413 past that, at once
    when its Content-Length, ``declared``, says so), removed when the block ends."""
    if declared > limit:
        raise BodyTooLarge(limit, file=True)
    async with spool_file("upload") as path:  # removed even when the request was cancelled
        with path.open("wb", buffering=0) as file:
            parts: list[bytes] = []
            held = 0
            async for part in body_parts(receive, limit, file=True):
                parts.append(part)
                held += len(part)
                if held >= CHUNK:
                    data, parts, held = b"".join(parts), [], 0
                    await trio.to_thread.run_sync(file.write, data)
            if held:
                await trio.to_thread.run_sync(file.write, b"".join(parts))
        yield path


async def body_parts(receive: Receive, limit: int, *, file: bool = False) -> AsyncIterator[bytes]:
    """The request body's parts as they arrive, at most ``limit`` bytes in all (a 413 past it,
    ``file`` saying whether the limit is the file's); a client gone before the end is a 400."""
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise HttpError(400, "the client went away before its request body arrived")
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise BodyTooLarge(limit, file=file)
        yield part
        if not message.get("more_body", False):
            return


def _line(value: dict[str, Any]) -> bytes:
    return dumps(value).encode() + b"\n"


async def answer_with_progress(
    send: Send, headers: list[tuple[bytes, bytes]], progress: Progress, work: Callable[[], Awaitable[Any]]
) -> None:
    """``work()``'s answer as the last line of a stream of ``progress`` lines (the module's
    docstring); its error, if it fails, as that line, for the status has gone out already.
    ``headers``: the route's own, but its content type."""
    await send(
        {"type": "http.response.start", "status": 200, "headers": [*_HEADERS, *headers]},
    )

    shown = [-1.0]  # the last fraction sent

    async def say(fraction: float) -> None:
        shown[0] = fraction
        body = _line({"progress": round(fraction, 3)})
        await send({"type": "http.response.body", "body": body, "more_body": True})

    async def report() -> None:
        while True:
            moved = trio.Event()
            progress.moved = moved.set
            fraction = progress.fraction()
            if fraction is not None and fraction - shown[0] >= 0.01:
                await say(fraction)
                await trio.sleep(EVERY)  # a line at most every EVERY
            else:  # the next line as soon as the reader's numbers move
                with trio.move_on_after(EVERY):
                    await moved.wait()

    last: dict[str, Any]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(report)
        try:
            last = await work()
        except MapsrvError as exc:
            last = {"error": exc.to_json(), "status": exc.status}
        except Exception:
            log.exception("exception on an import answered with its progress")
            last = {"error": HttpError(500, "internal server error").to_json(), "status": 500}
        nursery.cancel_scope.cancel()
    if progress.fraction() == 1.0 and shown[0] < 1.0:  # a read quicker than EVERY still ends at 100 %
        await say(1.0)
    await send({"type": "http.response.body", "body": _line(last), "more_body": False})
