"""Reading an uploaded file: the read step of the one door for files (``mapsrv.hub.file_door``,
under the ``import`` tool, the page's import and upload links) and of ``add_layer``'s data
fetched from a URL, both through ``read_upload``.

Whatever the file, its bytes are read by a sandboxed process with hard limits
(``mapsrv.hub.reader``): a file spooled to a private folder (the page's upload already is), the
reader bounded in memory, CPU, time and writes, its features coming back in checked pieces. What
needs the server is done here after it, in a worker thread: a CSV's place names resolved by the
gazetteer (its index built there the first time, ~2 s) or its rows joined to outlines (decoded
there the first time, ~1 s). A big file the page spooled counts its rows in ``progress``; a read
whose client left is killed at once, its process and all.

At most ``PARSERS`` files are read at once, and one per person (``owner``) of them: two hostile
files of one stranger cannot hold every reader while someone else's one-point file waits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from typing import Any

import trio

from mapsrv.core.model import Limits
from mapsrv.errors import CrsNeeded, InvalidInput
from mapsrv.formats import Imported, Join, Progress, read_table
from mapsrv.formats.sandbox import Table
from mapsrv.hub.projections import sea_notes, utm_candidates
from mapsrv.hub.reader import ReadLimits, reader, spooled_bytes
from mapsrv.places import point_of, resolve_country
from mapsrv.places.boundaries import Boundary, find_boundary, nearest_boundary
from mapsrv.workers import run, stop_if_cancelled

__all__ = ["PARSERS", "read_rows_upload", "read_upload"]

PARSERS = 2  # files read at once, each by a process of its own
_PARSERS = trio.CapacityLimiter(PARSERS)
_OWNED: dict[str, trio.Lock] = {}  # one read at a time per person


async def read_upload(
    data: bytes | Path,
    fmt: str | None,
    limits: Limits,
    *,
    filename: str | None = None,
    layer: str | None = None,
    simplify: float | None = None,
    join: Join | None = None,
    key: str | None = None,
    country: str | None = None,
    file_layer: str | None = None,
    crs: str | None = None,
    areas: Callable[[str], Boundary | None] | None = None,
    progress: Progress | None = None,
    read_limits: ReadLimits | None = None,
    owner: str | None = None,
) -> Imported:
    """``data``: the file's bytes, or its path alone in a private folder (the page's spooled
    upload). ``areas``: an imported extract's area by name (``PlaceService.join_area``), for a
    row joined by regions that names no region (a city, a district, a park). ``join``, ``key``
    and ``country`` as ``file_door.FileAsk`` checked them; an unknown country is refused before
    the file is read. ``read_limits``: what the read may cost (the server's flags); ``owner``: who
    sent it, read one file at a time."""
    if country is not None:
        await run("index", resolve_country, country)  # unknown: the caller's mistake, with a hint
    request = {
        "format": fmt,
        "filename": filename,
        "layer": layer,
        "simplify": simplify,
        "file_layer": file_layer,
        "crs": crs,
        "limits": dataclasses.asdict(limits),
    }
    try:
        read = await _sandboxed(data, request, read_limits, owner, progress)
    except CrsNeeded as exc:  # UTM metres fit every zone: those where its points lie on land
        zones = await run("index", utm_candidates, exc.sample) if exc.sample else []
        if not zones:
            raise
        listed = ", ".join(f"{z['crs']}{z['name'].partition(',')[2]}" for z in zones)
        raise CrsNeeded(
            f"{exc.message}; as UTM metres they lie on land in {listed}: give the one of their place",
            zones + exc.candidates,
        ) from None
    if isinstance(read, Imported):
        if join is not None:
            raise InvalidInput(f"join takes a CSV table, got a {read.format} file; send the table as CSV")
        if read.projections:  # checked against the land, which the reader cannot see
            said = await run("index", sea_notes, read.projections)
            read = dataclasses.replace(read, notes=(*read.notes, *said))
        return _checked(read)
    table: Table = read
    finish = partial(
        read_table,
        (table.header, table.rows, table.comma),
        table.notes,
        limits,
        layer=layer,
        lookup=point_of,
        simplify=simplify,
        join=join,
        find=find_boundary if areas is None else partial(_find, areas),
        key=key,
        country=country or "",
        near=nearest_boundary,
        check=stop_if_cancelled,  # a read whose client left stops within CHECK_EVERY features
    )
    return _checked(await run("encode", finish))


async def read_rows_upload(
    data: bytes | Path,
    fmt: str | None,
    limits: Limits,
    *,
    filename: str | None = None,
    read_limits: ReadLimits | None = None,
    owner: str | None = None,
) -> Table:
    """A CSV's header and rows, read as ``read_upload`` reads any file (its sandbox, its limits,
    one read per ``owner``), for a join to a layer (``mapsrv.hub.layer_joins``); another format is
    refused."""
    request = {"format": fmt, "filename": filename, "limits": dataclasses.asdict(limits)}
    read = await _sandboxed(data, request, read_limits, owner, None)
    if isinstance(read, Imported):
        raise InvalidInput(f"join: layer takes a CSV table, got a {read.format} file; send the table as CSV")
    return read


async def _sandboxed(
    data: bytes | Path,
    request: dict[str, Any],
    read_limits: ReadLimits | None,
    owner: str | None,
    progress: Progress | None,
) -> Imported | Table:
    """The file read by the sandboxed reader: at most ``PARSERS`` at once, one per ``owner``."""
    lock = None if owner is None else _OWNED.setdefault(owner, trio.Lock())
    try:
        async with AsyncExitStack() as stack:
            if lock is not None:
                await stack.enter_async_context(lock)
            await stack.enter_async_context(_PARSERS)
            path = data if isinstance(data, Path) else await stack.enter_async_context(spooled_bytes(data))
            return await reader().read(path, request, read_limits or ReadLimits(), progress)
    finally:
        if (
            owner is not None
            and lock is not None
            and not lock.locked()
            and not lock.statistics().tasks_waiting
        ):
            _OWNED.pop(owner, None)


def _checked(imported: Imported) -> Imported:
    """``imported``, refused when it holds no feature."""
    if not imported.features:
        raise InvalidInput(
            f"file must hold at least one feature, got none in this {imported.format}"
            + (f" ({'; '.join(imported.notes)})" if imported.notes else "")
            + "; check that it is the file you meant"
        )
    return imported


def _find(
    areas: Callable[[str], Boundary | None], join: str, value: str, country: str = ""
) -> Boundary | str:
    """A region, country or, joined by regions and naming none of those, an extract's area."""
    found = find_boundary(join, value, country)
    if join == "regions" and isinstance(found, str):
        return areas(value) or found
    return found
