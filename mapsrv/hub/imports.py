"""Reading an uploaded file off the event loop: the ``import`` tool and the page's import share
it. Parsing is pure CPU (a 50,000-point GPX track is a few hundred ms), so it runs in a worker
thread, and so does the gazetteer a CSV's place names need (its index is built there the first
time, ~2 s), and the outlines a joined table needs (decoded there the first time, ~1 s). GIS files
are read there too: GDAL and pyarrow release the GIL while they decode, the rows are pure Python
(100,000 points of a GeoParquet: about a second). A big file the page spooled to disk comes as its
path, and its read counts its rows in ``progress``. A read of any file stops once its caller is
cancelled (the client went away): within ``CHECK_EVERY`` features, or at a GIS file's next batch."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import trio

from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput
from mapsrv.formats import JOINS, Imported, Join, Progress, read_file
from mapsrv.formats.apart import read_apart, reads_apart, unpack
from mapsrv.places import point_of, resolve_country
from mapsrv.places.boundaries import Boundary, find_boundary, nearest_boundary
from mapsrv.workers import run, stop_if_cancelled

__all__ = ["read_upload"]

# At most two files parsed at once: each holds its whole tree in memory while it is read.
_PARSERS = trio.CapacityLimiter(2)


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
) -> Imported:
    """``areas``: an imported extract's area by name (``PlaceService.join_area``), for a row
    joined by regions that names no region (a city, a district, a park). ``key`` and ``country``
    go with ``join``, checked here for the tool and the page alike; an unknown country is refused
    before the file is read."""
    if join is None and (key is not None or country is not None):
        raise InvalidInput("key and country go with join; pass join (countries or regions) or leave them out")
    if join is not None and join not in JOINS:
        raise InvalidInput(f"join must be one of {', '.join(JOINS)}, got {join!r:.40}")
    if country is not None:
        await run("index", resolve_country, country)  # unknown: the caller's mistake, with a hint
    if progress is not None:
        progress.check = stop_if_cancelled
    # big, and nothing that asks the server (places, a file's layer, a projection): in a process
    if join is None and file_layer is None and crs is None and reads_apart(data, fmt, filename):
        async with _PARSERS:  # the loop's interpreter left alone (formats.apart)
            shipped, pieces = await run("read", read_apart, data, fmt, limits, filename, layer, simplify)
            imported = await run("encode", unpack, shipped, pieces, stop_if_cancelled)
        return _checked(imported)
    read = partial(
        read_file,
        data,
        fmt,
        limits,
        filename=filename,
        layer=layer,
        lookup=point_of,
        simplify=simplify,
        join=join,
        find=find_boundary if areas is None else partial(_find, areas),
        key=key,
        country=country or "",
        near=nearest_boundary,
        file_layer=file_layer,
        crs=crs,
        progress=progress,
        check=stop_if_cancelled,  # a read whose client left stops within CHECK_EVERY features
    )
    async with _PARSERS:
        return _checked(await run("encode", read))


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
