"""The page's writes (``POST /m/<id>/ops``, ``/undo``, ``/redo``, ``/import``), as a raw ASGI
handler.

These are every person's edits and the one request a busy map gets for each event it fans out;
through Quart each cost about 0.55 ms of CPU on top of hypercorn's (two tasks per request, the
request and app contexts, the response object and its after-request hooks: docs/benchmarks.md,
"The page's writes"). Here a write is read, applied and answered in the connection's own task.
The answers are Quart's, byte for byte where a client could tell: the same JSON bodies and
errors (``mapsrv.http.responses``), the page's security headers, a 413 with ``Connection: close``
for a body over ``max_body_size``, a 405 with ``Allow`` for any other method. An import's file is
spooled to disk as it arrives, and its read's progress answered as it goes when the page asks
(``mapsrv.web.upload``).

The Host and Origin checks and the write budget ran before (``mapsrv.dispatch``); the request body's
deadline and an answer sent before the body was read are ``mapsrv.http.hygiene``'s.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs

from mapsrv.core.changes import Actor
from mapsrv.core.codec import dumps
from mapsrv.core.geojson import to_geojson
from mapsrv.core.history import person_actor
from mapsrv.core.measure import bbox
from mapsrv.core.model import MapState, check_id, check_number
from mapsrv.core.parse import parse_ops
from mapsrv.errors import BodyTooLarge, HttpError, InvalidInput, MapsrvError
from mapsrv.formats import Imported, Join, Progress
from mapsrv.formats.batch import report
from mapsrv.http.identity import name_from_cookies, user_from_cookies
from mapsrv.http.responses import send_error
from mapsrv.http.types import Receive, Scope, Send
from mapsrv.hub import MapEntry, MapHub, Written
from mapsrv.hub.access import resolve
from mapsrv.hub.imports import read_rows_upload, read_upload
from mapsrv.hub.layer_joins import layer_join_ops
from mapsrv.hub.pointers import check_pointer
from mapsrv.places.boundaries import Boundary
from mapsrv.web.upload import add_to_map, answer_with_progress, body_parts, spooled
from mapsrv.workers import run

__all__ = ["PageWrites", "preview"]

log = logging.getLogger("mapsrv.web")

_IMPORT_ARGS = frozenset(
    {"format", "filename", "layer", "simplify", "preview", "file_layer", "crs", "join", "key", "country"}
)
_FIELDS = 16  # an import's query: its arguments, progress, and room for a few unknown ones


ACTIONS = ("ops", "undo", "redo", "import", "pointer")
POINTER_SHAPE = '{"at": [lat, lon] or null, "view": [[south, west], [north, east]] or null}'
PREVIEW = 2_000  # features an import's preview draws; its counts and box cover the whole file


def _reject_constant(value: str) -> Any:
    raise InvalidInput(f"body is not valid JSON: {value} is not a JSON number")


def _float(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(f"{name} must be a number of metres, got {text!r:.40}; e.g. 5") from None


def _parse_json(data: str | bytes) -> Any:
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"body is not valid JSON: {str(exc)[:120]}") from None


class PageWrites:
    """Answers the three write routes of one map's page (``action``: "ops", "undo" or "redo")."""

    def __init__(
        self,
        hub: MapHub,
        headers: list[tuple[str, str]],
        max_body_size: int,
        max_file_size: int = 0,
        person_refusal: Callable[[str], MapsrvError | None] = lambda person: None,
        areas: Callable[[str], Boundary | None] | None = None,
    ) -> None:
        self.hub = hub
        self.areas = areas  # an imported extract's areas, for a table joined by regions (PlaceService's)
        self.person_refusal = person_refusal  # each person's own write budget (Throttle's)
        self.max_body_size = max_body_size
        self.max_file_size = max_file_size or max_body_size
        self._headers = [
            (b"content-type", b"application/json"),
            (b"cache-control", b"no-store"),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers),
        ]

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, map_id: str, action: str, kind: str = "m"
    ) -> None:
        """``kind`` "m": ``map_id`` is the map's id (its owner's page); "e": an edit key."""
        try:
            result = await self._write(scope, receive, send, map_id, action, kind)
            if result is None:  # answered as it went (an import with its progress)
                return
        except MapsrvError as exc:
            await send_error(send, exc)
            return
        except Exception:
            log.exception("exception on %s /m/{id}/%s", scope["method"], action)
            await send_error(send, HttpError(500, "internal server error"))
            return
        if isinstance(result, dict):
            body = dumps(result).encode()
        else:
            # A write held while the store is away says so: its version may still move (docs/scaling.md).
            provisional = b',"provisional":true' if result.provisional else b""
            body = b'{"version":%d%s}' % (result.version, provisional)
        headers = [*self._headers, (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _write(
        self, scope: Scope, receive: Receive, send: Send, map_id: str, action: str, kind: str
    ) -> Written | dict[str, Any] | None:
        if scope["method"] != "POST":
            raise HttpError(405, "method not allowed", headers=(("Allow", "POST"),))
        cookie = user_agent = content_type = None
        declared = 0  # the body's Content-Length, when it has one
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                declared = int(value)
            elif name == b"cookie":
                cookie = cookie or value.decode("latin-1")
            elif name == b"user-agent":
                user_agent = user_agent or value.decode("latin-1")
            elif name == b"content-type":
                content_type = content_type or value.decode("latin-1")
        user = user_from_cookies(cookie)
        hub = self.hub
        entry = await resolve(hub, kind, map_id, user)
        if kind == "e" and user is None:
            raise InvalidInput("an edit needs this browser's cookie: open the edit link first")
        actor = person_actor(user_agent, user or "", name_from_cookies(cookie))
        if action != "pointer" and (refusal := self.person_refusal(actor.id)) is not None:
            raise refusal
        if action == "pointer":
            return self._point(entry, actor.id, _parse_json(await self._body(receive, declared)))
        if action == "undo":
            return await hub.undo(entry.id, actor)
        if action == "redo":
            return await hub.redo(entry.id, actor)
        if action == "import":
            async with spooled(receive, declared, self.max_file_size) as path:
                query = parse_qs(scope.get("query_string", b"").decode("latin-1"), max_num_fields=_FIELDS)
                progress = Progress()  # counted always: its read stops once the request is cancelled
                if query.get("progress") != ["1"]:
                    return await self._import(entry, actor, scope, path, progress)
                work = lambda: self._import(entry, actor, scope, path, progress)  # noqa: E731
                headers = [h for h in self._headers if h[0] != b"content-type"]
                await answer_with_progress(send, headers, progress, work)
                return None
        if (content_type or "").split(";", 1)[0].strip().lower() != "application/json":
            raise InvalidInput("send the ops as application/json")
        body = _parse_json(await self._body(receive, declared))
        base = body.pop("base_version", None) if isinstance(body, dict) else None
        if base is not None and (isinstance(base, bool) or not isinstance(base, int) or base < 0):
            raise InvalidInput(f"base_version must be a version (an integer >= 0), got {base!r:.40}")
        parsed, expected = parse_ops(body, hub.limits)
        return await hub.apply(entry.id, parsed, expected_version=expected, base_version=base, actor=actor)

    def _point(self, entry: MapEntry, actor: str, body: Any) -> dict[str, Any]:
        """``{"at": [lat, lon] or null, "view": [[south, west], [north, east]] or null}``: where
        the person points and what they have in view, shown on the others' pages."""
        if not isinstance(body, dict) or set(body) - {"at", "view"}:
            raise InvalidInput(
                'send {"at": [lat, lon] or null, "view": [[south, west], [north, east]] or null}'
            )
        try:
            at, view = check_pointer(body.get("at"), body.get("view"))
        except ValueError:
            raise InvalidInput(
                "at must be [lat, lon] (lat -90..90, lon -180..180) and view [[south, west], [north, east]]"
            ) from None
        return {"shown": self.hub.point(entry, actor, at, view)}

    async def _import(
        self, entry: MapEntry, actor: Actor, scope: Scope, data: Path, progress: Progress | None = None
    ) -> dict[str, Any]:
        """A file sent as the body (spooled at ``data``), read as the ``import`` tool reads it.
        ``?preview=1`` answers what would be added (its first ``PREVIEW`` features as GeoJSON) and
        commits nothing; otherwise it is committed as one batch. ``format``, ``filename``, ``layer``,
        ``simplify`` (metres), ``file_layer``, ``crs``, and ``join``, ``key`` and ``country`` (a
        table joined to outlines, docs/joins.md) as the tool's arguments; ``progress`` counts the
        rows read. A joined table's answer says what it ``joined``: by which column, of which
        columns, how many rows matched."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), max_num_fields=_FIELDS)
        args = {name: values[0] for name, values in query.items() if name in _IMPORT_ARGS}
        layer = check_id("layer", args["layer"]) if args.get("layer") else None
        if args.get("join") == "layer":
            return await self._join_to_layer(entry, actor, data, args, layer)
        simplify = None
        if args.get("simplify"):
            simplify = check_number("simplify", _float("simplify", args["simplify"]), 0.01, 10_000)
        imported = await read_upload(
            data,
            args.get("format") or None,
            self.hub.limits,
            filename=args.get("filename"),
            layer=layer,
            simplify=simplify,
            file_layer=args.get("file_layer") or None,
            crs=args.get("crs") or None,
            join=cast("Join | None", args.get("join") or None),  # read_upload checks it
            key=args.get("key") or None,
            country=args.get("country") or None,
            areas=self.areas,
            progress=progress,
            read_limits=self.hub.read_limits,
            owner=actor.id,
        )
        joined = {"joined": imported.joined} if imported.joined else {}
        if args.get("preview") in ("1", "true"):  # 100,000 rows gone through: off the loop
            return await run("encode", preview, entry.id, imported) | joined
        return await add_to_map(self.hub, entry, imported, actor) | joined

    async def _join_to_layer(
        self, entry: MapEntry, actor: Actor, data: Path, args: dict[str, str], layer: str | None
    ) -> dict[str, Any]:
        """A table joined to the map's ``layer`` (docs/joins.md), as the tool's ``join: layer``:
        ``?preview=1`` answers what it would join; otherwise it is written, at the version read."""
        if layer is None:
            raise InvalidInput(
                "join 'layer' needs layer, got none; give the id of the map's layer to join to"
            )
        table = await read_rows_upload(
            data,
            args.get("format") or None,
            self.hub.limits,
            filename=args.get("filename"),
            read_limits=self.hub.read_limits,
            owner=actor.id,
        )
        state = entry.state
        ops, joined = await layer_join_ops(state, layer, table, args.get("key") or None, self.hub.limits)
        out: dict[str, Any] = {"format": "csv", "joined": joined.report() | {"columns": table.header[:200]}}
        if table.notes:
            out["notes"] = list(table.notes)
        if args.get("preview") in ("1", "true"):
            return out
        written = await self.hub.apply(entry.id, ops, expected_version=state.version, actor=actor)
        return out | {"version": written.version}

    async def _body(self, receive: Receive, declared: int) -> bytes:
        """The whole request body, at most ``max_body_size`` bytes: a 413 past that, at once when
        its Content-Length (``declared``) says so."""
        limit = self.max_body_size
        if declared > limit:
            raise BodyTooLarge(limit)
        return b"".join([part async for part in body_parts(receive, limit)])


def preview(map_id: str, imported: Imported) -> dict[str, Any]:
    """What a file would add, without adding it: the counts, its extent and its first features."""
    out = report(imported, [])
    del out["ids"]
    shown = imported.features[:PREVIEW]
    out["bbox"] = [list(corner) for corner in bbox(list(imported.features))]
    out["preview"] = to_geojson(MapState(map_id, features={str(i): f for i, f in enumerate(shown)}))
    return out
