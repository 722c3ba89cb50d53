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
from typing import Any
from urllib.parse import parse_qs

from mapsrv.core.changes import Actor
from mapsrv.core.codec import dumps
from mapsrv.core.history import person_actor
from mapsrv.core.parse import parse_ops
from mapsrv.errors import BodyTooLarge, HttpError, InvalidInput, MapsrvError
from mapsrv.formats import Progress
from mapsrv.http.identity import name_from_cookies, user_from_cookies
from mapsrv.http.responses import send_error
from mapsrv.http.types import Receive, Scope, Send
from mapsrv.hub import MapEntry, MapHub, Written
from mapsrv.hub.access import resolve
from mapsrv.hub.file_door import FileAsk, add_file, preview_file, read_file
from mapsrv.hub.pointers import check_pointer
from mapsrv.places.boundaries import Boundary
from mapsrv.routing import Router
from mapsrv.web.upload import answer_with_progress, body_parts, spooled

__all__ = ["PageWrites"]

log = logging.getLogger("mapsrv.web")

_FIELDS = 16  # an import's query: its arguments, progress, and room for a few unknown ones


ACTIONS = ("ops", "undo", "redo", "import", "pointer")
POINTER_SHAPE = '{"at": [lat, lon] or null, "view": [[south, west], [north, east]] or null}'


def _reject_constant(value: str) -> Any:
    raise InvalidInput(f"body is not valid JSON: {value} is not a JSON number")


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
        router: Router | None = None,
    ) -> None:
        self.hub = hub
        self.router = router  # for an import's snap: the tool's
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
        """A file sent as the body (spooled at ``data``), read and added as the ``import`` tool
        reads and adds it (``mapsrv.hub.file_door``): its query asks in the tool's words
        (``FileAsk.from_query``: ``format``, ``filename``, ``layer``, ``simplify``, ``join`` with
        ``key`` and ``country``, ``file_layer``, ``crs``, ``snap``, ``fit``); ``?preview=1``
        answers what would be added (its first features as GeoJSON, or what a table would join)
        and commits nothing; ``progress`` counts the rows read."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), max_num_fields=_FIELDS)
        ask = FileAsk.from_query({name: values[0] for name, values in query.items()})
        read = await read_file(
            self.hub, data, ask, owner=actor.id, areas=self.areas, router=self.router, progress=progress
        )
        if query.get("preview", [""])[0] in ("1", "true"):
            return await preview_file(self.hub, entry, read, ask)
        return await add_file(self.hub, entry, read, ask, actor)

    async def _body(self, receive: Receive, declared: int) -> bytes:
        """The whole request body, at most ``max_body_size`` bytes: a 413 past that, at once when
        its Content-Length (``declared``) says so."""
        limit = self.max_body_size
        if declared > limit:
            raise BodyTooLarge(limit)
        return b"".join([part async for part in body_parts(receive, limit)])
