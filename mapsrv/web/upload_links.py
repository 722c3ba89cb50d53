"""An upload link, ``/u/<token>`` (issue 73): where a person drops the file an agent asked for, or a
client PUTs its bytes, without the file passing through the model.

``GET`` answers a small page (``templates/upload.html``, ``static/upload.js``): the map's title,
a drop zone and file picker, a layer name and a ``crs``, the upload's and the read's progress, and
what was added with a link to the map's view page. ``PUT`` takes the file as the page's import
does (``mapsrv.web.writes``): spooled to disk up to ``max_file_size``, then read and added
through the one door for files (``mapsrv.hub.file_door``) to the link's map as one batch,
attributed to the agent that asked for it, and answered as the import's report (with
``?progress=1``, as progress lines then the report, ``mapsrv.web.upload``). Its query takes
the import's own words (``FileAsk``: the page's import takes the same); what the agent gave with
``upload: true`` fills in what the query leaves out.

A link takes one file (``mapsrv.hub.upload_slots``): an unknown, used or expired link is the same
404, as a page for a browser and as the JSON error for a program. A file refused (a 413, one the
reader cannot read) leaves the link open for another until it expires, and the map unchanged.

The Host and Origin checks ran before (``mapsrv.dispatch``): a PUT from the page is same-origin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import trio

from mapsrv.core.codec import dumps
from mapsrv.errors import HttpError, MapsrvError, NotFound
from mapsrv.formats import Imported, Progress
from mapsrv.formats.sandbox import Table
from mapsrv.http.responses import send_error
from mapsrv.http.templates import environment, render
from mapsrv.http.types import Receive, Scope, Send, header
from mapsrv.hub import MapHub
from mapsrv.hub.file_door import FileAsk, add_file, preview_file, read_file
from mapsrv.hub.upload_slots import UploadSlot, UploadSlots, upload_slots
from mapsrv.places.boundaries import Boundary
from mapsrv.routing import Router
from mapsrv.web.pages import PACKAGE
from mapsrv.web.upload import answer_with_progress, spooled

__all__ = ["ARGS", "UPLOAD_TEMPLATE", "UploadLinks"]

log = logging.getLogger("mapsrv.web")

UPLOAD_TEMPLATE = "upload.html"
ARGS = tuple(f.name for f in fields(FileAsk))  # a PUT's query: the import's own words (the page's import)
Read = tuple[FileAsk, Imported | Table]
_FIELDS = 16  # the query's fields read at most: its arguments, progress, and room for a few unknown ones


class UploadLinks:
    """Answers ``/u/<token>``: the page (GET, HEAD) and the file (PUT)."""

    def __init__(
        self,
        hub: MapHub,
        headers: list[tuple[str, str]],
        areas: Callable[[str], Boundary | None] | None = None,
        router: Router | None = None,
    ) -> None:
        self.hub = hub
        self.areas, self.router = areas, router  # the page's import's: the same door
        environment(PACKAGE).get_template(UPLOAD_TEMPLATE)  # compiled now: a broken one fails the start
        self._headers = [
            (b"cache-control", b"no-store"),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers),
        ]

    @property
    def slots(self) -> UploadSlots:
        return upload_slots(self.hub)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, token: str) -> None:
        method = scope["method"]
        try:
            if method in ("GET", "HEAD"):
                await self._page(send, token, head=method == "HEAD")
                return
            if method != "PUT":
                raise HttpError(405, "method not allowed", headers=(("Allow", "GET, PUT"),))
            answer = await self._put(scope, receive, send, token)
        except MapsrvError as exc:
            await send_error(send, exc)
            return
        except Exception:
            log.exception("exception on %s /u/{token}", method)
            await send_error(send, HttpError(500, "internal server error"))
            return
        if answer is not None:
            await self._send(send, 200, b"application/json", dumps(answer).encode())

    async def _send(self, send: Send, status: int, media: bytes, body: bytes, *, head: bool = False) -> None:
        headers = [*self._headers, (b"content-type", media), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else body})

    async def _page(self, send: Send, token: str, *, head: bool) -> None:
        """The page of an open link, or the page saying it is not (a 404, whatever the reason)."""
        values: dict[str, Any] = {"found": False, "title": "", "expires_in": 0, "max_file_size": 0}
        values |= {"layer": "", "crs": ""}
        status = 404
        try:
            slot = await self.slots.find(token)
            entry = await self.hub.get(slot.map_id)
        except NotFound:  # its map deleted (Gone) too: the link is as good as gone
            pass
        else:
            status = 200
            values |= {"found": True, "title": entry.state.title or "Untitled map"}
            values["expires_in"] = max(0, int(slot.expires - self.slots.clock()))
            values["max_file_size"] = self.hub.max_file_size
            values |= {"layer": slot.defaults.get("layer", ""), "crs": slot.defaults.get("crs", "")}
        body = render(PACKAGE, UPLOAD_TEMPLATE, **values).encode()
        await self._send(send, status, b"text/html; charset=utf-8", body, head=head)

    async def _put(self, scope: Scope, receive: Receive, send: Send, token: str) -> dict[str, Any] | None:
        """The file, imported into the link's map (or previewed: ``?preview=1``); None when
        answered as it went (``?progress=1``)."""
        declared = header(scope, b"content-length") or ""
        size = int(declared) if declared.isdigit() else 0
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), max_num_fields=_FIELDS)
        slots = self.slots
        slot = await slots.take(token)  # a second request finds nothing from here on
        # ?preview=1: read, not added (the page shows what the file holds first)
        previewing, streamed = query.get("preview") == ["1"], query.get("progress") == ["1"]
        act = self._preview if previewing else self._import
        outcome: list[dict[str, Any]] = []
        refusal = ["the last file did not arrive whole: send it again"]
        try:
            async with spooled(receive, size, self.hub.max_file_size) as path:
                progress = Progress()

                async def work() -> dict[str, Any]:
                    try:
                        outcome.append(await act(slot, query, path, progress))
                    except MapsrvError as exc:  # as streamed, it is a line of the answer
                        refusal[0] = exc.message
                        raise
                    return outcome[0]

                if streamed:
                    await answer_with_progress(send, [*self._headers], progress, work)
                else:
                    await work()
        except MapsrvError as exc:  # the body itself refused (too big)
            refusal[0] = exc.message
            raise
        finally:
            # previewed, refused, failed or cancelled: the map is unchanged, the link takes a file
            if previewing or not outcome:
                with trio.CancelScope(shield=True):
                    await slots.reopen(slot, None if outcome else refusal[0])
        return None if streamed else outcome[0]

    async def _read(
        self, slot: UploadSlot, query: dict[str, list[str]], data: Path, progress: Progress
    ) -> Read:
        """``data`` read through the one door (``mapsrv.hub.file_door``) as the agent asked with
        ``upload: true``, and as the query asks on top (the link's page: a layer, a ``crs``)."""
        asked = FileAsk.from_query(slot.defaults).merged(
            {name: query[name][0] for name in ARGS if name in query}
        )
        read = await read_file(
            self.hub, data, asked, owner=slot.owner, areas=self.areas, router=self.router, progress=progress
        )
        return asked, read

    async def _preview(
        self, slot: UploadSlot, query: dict[str, list[str]], data: Path, progress: Progress
    ) -> dict[str, Any]:
        """What the file would add (the page's import's preview: counts, extent, first features)."""
        asked, read = await self._read(slot, query, data, progress)
        return await preview_file(self.hub, await self.hub.get(slot.map_id), read, asked)

    async def _import(
        self, slot: UploadSlot, query: dict[str, list[str]], data: Path, progress: Progress
    ) -> dict[str, Any]:
        """Read ``data`` and add it to the slot's map as one batch; the answer is the slot's too."""
        entry = await self.hub.get(slot.map_id)
        asked, read = await self._read(slot, query, data, progress)
        with trio.CancelScope(shield=True):  # once it is being written, its answer is kept
            answer = await add_file(self.hub, entry, read, asked, slot.actor)
        answer["view_url"] = f"{slot.base_url}/v/{entry.view_key}"
        with trio.CancelScope(shield=True):
            await self.slots.finish(slot, answer)
        return answer
