"""One door for files: what every way in asks of a file, and the steps every file goes through.

A file comes in four ways: the ``import`` tool's ``content``, ``path`` or ``url``; the page's
import (``POST /m/<id>/import``); and the upload link an agent hands a person (``/u/<token>``).
Each asks in the same words (``FileAsk``: the tool's arguments, or the same names in a URL's
query, checked by the same rules), and each file then goes through the same steps with the same
limits:

1. ``read_file``: its bytes read by the sandboxed reader (``mapsrv.hub.imports``: a process of
   its own with hard memory, CPU and time limits, at most ``PARSERS`` at once and one per
   person), a table's place names resolved or its rows joined to outlines, then its GPS tracks
   put on the roads (``snap``, ``mapsrv.hub.snapping``);
2. ``preview_file``: what it would add (counts, extent, first features; a join's matches), with
   nothing written;
3. ``add_file``: its features added as one batch with the camera fitted to them (``fit``), or a
   table's columns added to a layer's features (``join: layer``) at the version read, answered
   alike whatever the door: the version, the counts, the ids as runs, the notes, the climbs.

A step or a limit added here holds for every door; a door only says how the bytes arrive
(an argument, a path, a URL, a request body spooled to disk) and what it adds to the answer (the
tool its links, the page its progress lines, a link its answer kept for the agent who asked).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, cast

from mapsrv.core.events import feature_ids
from mapsrv.core.geojson import to_geojson
from mapsrv.core.history import Actor
from mapsrv.core.measure import bbox
from mapsrv.core.model import MapState, check_id
from mapsrv.core.routes import MODES, Mode
from mapsrv.core.values import check_number
from mapsrv.errors import InvalidInput
from mapsrv.formats import JOINS, Imported, Join, Progress
from mapsrv.formats.batch import import_ops, report
from mapsrv.formats.sandbox import Table
from mapsrv.hub.facade import MapHub
from mapsrv.hub.imports import read_rows_upload, read_upload
from mapsrv.hub.layer_joins import layer_join_ops
from mapsrv.hub.registry import MapEntry
from mapsrv.hub.snapping import TIMES_SAID, check_snap, climbs, points_as_track, snap_tracks
from mapsrv.places.boundaries import Boundary
from mapsrv.routing import Router
from mapsrv.workers import run

__all__ = ["PREVIEW", "FileAsk", "add_file", "check_router", "preview_file", "read_file"]

PREVIEW = 2_000  # features a preview draws; its counts and box cover the whole file
JOIN_TO = (*JOINS, "layer")  # a table's rows joined to outlines, or to a layer of the map
_WITHOUT_LAYER_JOIN = ("simplify", "country", "snap", "crs")  # a layer's features are what they are


@dataclass(frozen=True, kw_only=True)
class FileAsk:
    """What a person or an agent asks of a file, whatever the door (docs/tools.md's ``import``):
    ``format`` (else found from its bytes and ``filename``), ``layer`` (all its features in one),
    ``simplify`` (metres), ``join`` (``countries``, ``regions`` or ``layer``) with ``key`` and
    ``country``, ``file_layer`` (a GeoPackage's table), ``crs``, ``snap`` (``car``, ``bike`` or
    ``foot``: its tracks put on the roads) and ``fit`` (the camera moved to what was added).
    Made, it has been checked: a wrong value or a pair that does not go together is refused
    here, by the same words at every door."""

    format: str | None = None
    filename: str | None = None
    layer: str | None = None
    simplify: float | None = None
    join: str | None = None
    key: str | None = None
    country: str | None = None
    file_layer: str | None = None
    crs: str | None = None
    snap: str | None = None
    fit: bool = True

    def __post_init__(self) -> None:
        if self.layer is not None:
            check_id("layer", self.layer)
        if self.simplify is not None:
            check_number("simplify", self.simplify, 0.01, 10_000)
        if self.snap is not None and self.snap not in MODES:
            raise InvalidInput(
                f"snap must be one of {', '.join(MODES)} (how the track was travelled), got {self.snap!r:.40}"
            )
        if self.join is None:
            if self.key is not None or self.country is not None:
                raise InvalidInput(
                    "key and country go with join; pass join (countries, regions or layer) or leave them out"
                )
            return
        if self.join not in JOIN_TO:
            raise InvalidInput(f"join must be one of {', '.join(JOIN_TO)}, got {self.join!r:.40}")
        if self.snap is not None:
            raise InvalidInput(
                f"snap puts a file's tracks on the roads, and join {self.join!r} reads a table's rows;"
                " leave one of them out"
            )
        if self.join == "layer":
            if self.layer is None:
                raise InvalidInput(
                    "join 'layer' adds a table's columns to a layer of the map, got no layer;"
                    " give layer (the layer's id), and key (the table's column) unless it can be found"
                )
            if left := [name for name in _WITHOUT_LAYER_JOIN if getattr(self, name) is not None]:
                raise InvalidInput(
                    f"join 'layer' adds a table's columns to features drawn already, got {' and '.join(left)}"
                    "; leave them out"
                )

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> FileAsk:
        """The ask in a URL's query (the page's import, an upload link): the same names as the
        tool's arguments, as text; an empty value is no value, ``fit`` is ``0`` or ``1``."""
        args: dict[str, Any] = {f.name: query[f.name] or None for f in fields(cls) if f.name in query}
        if args.get("simplify") is not None:
            try:
                args["simplify"] = float(args["simplify"])
            except ValueError:
                raise InvalidInput(
                    f"simplify must be a number of metres, got {args['simplify']!r:.40}; e.g. simplify=5"
                ) from None
        if "fit" in args:
            if args["fit"] not in (None, "0", "1", "false", "true"):
                raise InvalidInput(f"fit must be 1 or 0, got {args['fit']!r:.20}")
            args["fit"] = args["fit"] in (None, "1", "true")
        return cls(**args)

    def as_query(self) -> dict[str, str]:
        """What was asked, as ``from_query`` reads it back (an upload link's defaults)."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "fit":
                if not value:
                    out["fit"] = "0"
            elif value is not None:
                out[f.name] = f"{value:g}" if isinstance(value, float) else str(value)
        return out

    def merged(self, over: Mapping[str, str]) -> FileAsk:
        """This ask with ``over`` (a query's own values) in place of its own."""
        return FileAsk.from_query(self.as_query() | {k: v for k, v in over.items() if v})


def check_router(ask: FileAsk, router: Router | None) -> None:
    """``ask`` refused when it needs a router (``snap``) and the server has none: before a file
    is read, or a link opened for one."""
    if ask.snap is not None and router is None:
        raise InvalidInput(
            f"snap {ask.snap!r} needs a routing engine and this server has none; import without snap"
            " (its operator starts mapsrv with --router valhalla+http://HOST:PORT)"
        )


async def read_file(
    hub: MapHub,
    data: bytes | Path,
    ask: FileAsk,
    *,
    owner: str,
    areas: Callable[[str], Boundary | None] | None = None,
    router: Router | None = None,
    progress: Progress | None = None,
) -> Imported | Table:
    """``data`` (the file's bytes, or its path alone in a private folder) read as ``ask`` says,
    by ``owner``: its features, or, for ``join: layer``, the table to join. ``areas``: an
    imported extract's area by name, for a table joined by regions; ``router``: for ``snap``
    (refused before the file is read when there is none)."""
    check_router(ask, router)
    limits, read_limits = hub.limits, hub.read_limits
    if ask.join == "layer":
        return await read_rows_upload(
            data, ask.format, limits, filename=ask.filename, read_limits=read_limits, owner=owner
        )
    imported = await read_upload(
        data,
        ask.format,
        limits,
        filename=ask.filename,
        layer=ask.layer,
        simplify=ask.simplify,
        join=cast("Join | None", ask.join),
        key=ask.key,
        country=ask.country,
        file_layer=ask.file_layer,
        crs=ask.crs,
        areas=areas,
        progress=progress,
        read_limits=read_limits,
        owner=owner,
    )
    if ask.snap is None or router is None:
        return imported
    mode = cast("Mode", ask.snap)
    imported = points_as_track(imported, limits)
    return await snap_tracks(check_snap(router, imported, mode), imported, mode, limits)


async def preview_file(hub: MapHub, entry: MapEntry, read: Imported | Table, ask: FileAsk) -> dict[str, Any]:
    """What ``read`` would add to ``entry``'s map, with nothing written: its counts, extent and
    first ``PREVIEW`` features, or what a table would join (and its columns, to pick a key)."""
    if isinstance(read, Table):
        assert ask.layer is not None  # FileAsk: join 'layer' names its layer
        _, joined = await layer_join_ops(entry.state, ask.layer, read, ask.key, hub.limits)
        out: dict[str, Any] = {"format": "csv", "joined": joined.report() | {"columns": read.header[:200]}}
        if read.notes:
            out["notes"] = list(read.notes)
        return out
    shown = await run("encode", _preview, entry.id, read)  # 100,000 rows gone through: off the loop
    return shown | ({"joined": read.joined} if read.joined else {})


async def add_file(
    hub: MapHub, entry: MapEntry, read: Imported | Table, ask: FileAsk, actor: Actor
) -> dict[str, Any]:
    """``read`` added to ``entry``'s map by ``actor`` as one change (all or none, one undo): the
    map, its version (``provisional`` while the store is away) and what was added."""
    if isinstance(read, Table):
        assert ask.layer is not None
        state = entry.state
        ops, joined = await layer_join_ops(state, ask.layer, read, ask.key, hub.limits)  # a match, or refused
        written = await hub.apply(entry.id, ops, expected_version=state.version, actor=actor)
        out = written.acknowledgement(entry.id) | {"joined": joined.report()}
        return out | ({"notes": list(read.notes)} if read.notes else {})
    state, most = entry.state, hub.limits.max_title
    framing: list[str] = []  # what the camera left out of the view
    ops = await run("encode", lambda: import_ops(state, read, fit=ask.fit, max_title=most, said=framing))
    written = await hub.apply(entry.id, ops, actor=actor)  # an import adds: nothing to conflict with
    out = written.acknowledgement(entry.id)
    out |= await run("encode", _added, read, feature_ids(written), framing)  # off the loop: 100,000 ids
    if read.joined:
        out["joined"] = read.joined
    if ask.snap is not None:
        out["times"] = TIMES_SAID
    return out


def _added(imported: Imported, ids: list[str], said: list[str]) -> dict[str, Any]:
    """What an import added (``report``) and the climbs of its lines with heights."""
    out = report(imported, ids, said)
    climbed = climbs(imported, ids)
    if climbed:
        out["climbs"] = climbed
    return out


def _preview(map_id: str, imported: Imported) -> dict[str, Any]:
    """What a file would add, without adding it: the counts, its extent and its first features."""
    out = report(imported, [])
    del out["ids"]
    shown = imported.features[:PREVIEW]
    out["bbox"] = [list(corner) for corner in bbox(list(imported.features))]
    out["preview"] = to_geojson(MapState(map_id, features={str(i): f for i, f in enumerate(shown)}))
    return out
