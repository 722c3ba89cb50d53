"""A person's maps: ``GET /maps`` (a page: each map with its thumbnail, title, size, last change
and who made it), ``GET /maps.json`` (the same for scripts), and the owner's actions on one map:
``POST /maps/<id>/rename`` (``{"title": ...}``), ``POST /maps/<id>/duplicate`` and ``POST
/maps/<id>/delete``.

The list is this browser's maps: those its cookie owns and those it opened through an edit link
(``hub.maps_of(owner=...)``); in a private ``mapsrv stdio`` every map in the store, since the one
person at this computer owns them all (``hub.private``). A map opened through an edit link is
listed by that link, never by its id (the owner's capability). Only the owner renames, copies or
deletes a map: anyone else, as for an unknown map, gets 404. Thumbnails are the view link's
image (``/v/<key>/image.png``), fetched by the page as each card scrolls into view and answered
304 while the map has not changed: the list itself never draws a map.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from quart import Blueprint, Response, request

from mapsrv.core.changes import Actor, person_actor
from mapsrv.core.codec import dumps
from mapsrv.core.ids import looks_like_token
from mapsrv.core.model import check_text
from mapsrv.core.ops import SetTitle
from mapsrv.errors import InvalidInput, NotFound
from mapsrv.http.identity import name_from_cookies
from mapsrv.http.templates import render
from mapsrv.hub import MapEntry
from mapsrv.store import MapSummary
from mapsrv.web.context import WebContext, account, current_user, web_context
from mapsrv.web.static import MAPS_TEMPLATE

__all__ = ["delete", "duplicate", "list_json", "list_page", "maps", "rename"]

THUMBNAIL = (320, 200)
maps = Blueprint("maps", __name__)


def _ago(seconds: float) -> str:
    for unit, size in (("year", 365 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


async def _listed(ctx: WebContext) -> list[MapSummary]:
    user = current_user()
    if ctx.hub.private:
        return await ctx.hub.maps_of()
    if user is None:
        return []
    return await ctx.hub.maps_of_user(user)


def _line(ctx: WebContext, summary: MapSummary, owners: list[str], now: float) -> dict[str, Any]:
    meta = summary.meta
    mine = ctx.hub.private or meta.owner in owners
    url = f"/m/{meta.id}" if mine else f"/e/{meta.edit_key}"
    line: dict[str, Any] = {
        "title": summary.title,
        "url": url,
        "view_url": f"/v/{meta.view_key}",
        "role": "owner" if mine else "editor",
        "version": summary.version,
        "features": summary.features,
        "updated": datetime.fromtimestamp(summary.updated, UTC).isoformat(timespec="seconds"),
        "updated_unix": round(summary.updated, 3),
        "updated_by": summary.updated_by,
        "ago": _ago(max(0.0, now - summary.updated)),
        "thumbnail": f"/v/{meta.view_key}/image.png?w={THUMBNAIL[0]}&h={THUMBNAIL[1]}",
    }
    if mine:
        line["id"] = meta.id
    return line


async def _lines(ctx: WebContext) -> list[dict[str, Any]]:
    user = current_user()
    now = datetime.now(UTC).timestamp()
    owners = await ctx.hub.people.owners_of(user)
    # A map opened through a link that is turned off since no longer opens: leave it out.
    return [
        _line(ctx, s, owners, now)
        for s in await _listed(ctx)
        if ctx.hub.private or s.meta.owner in owners or s.meta.edit_key
    ]


@maps.get("/maps")
async def list_page() -> Response:
    ctx = web_context()
    page = render(
        "mapsrv.web", MAPS_TEMPLATE, maps=await _lines(ctx), account=await account(ctx, current_user())
    )
    return Response(page, content_type="text/html")


@maps.get("/maps.json")
async def list_json() -> Response:
    return Response(dumps({"maps": await _lines(web_context())}), content_type="application/json")


async def _owned(map_id: str) -> tuple[WebContext, MapEntry]:
    """The map, when this browser owns it (or the server is one person's); else 404."""
    ctx = web_context()
    if not looks_like_token(map_id):
        raise NotFound("map not found")
    user = current_user()
    entry = await ctx.hub.get(map_id)
    if not ctx.hub.private and not await ctx.hub.people.owns(entry, user):
        raise NotFound("map not found")
    return ctx, entry


async def _json_object() -> dict[str, Any]:
    body = await request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise InvalidInput('body must be a JSON object such as {"title": "Trip to Porto"}')
    return body


def _actor(user: str | None) -> Actor:
    name = name_from_cookies(request.headers.get("Cookie"))
    return person_actor(request.headers.get("User-Agent"), user or "", name)


@maps.post("/maps/<map_id>/rename")
async def rename(map_id: str) -> Response:
    ctx, entry = await _owned(map_id)
    title = (await _json_object()).get("title")
    if not isinstance(title, str):
        raise InvalidInput(f"title must be text, got {type(title).__name__}")
    title = check_text("title", " ".join(title.split()), ctx.hub.limits.max_title)
    written = await ctx.hub.apply(entry.id, [SetTitle(title)], actor=_actor(current_user()))
    return Response(dumps({"title": title, "version": written.version}), content_type="application/json")


@maps.post("/maps/<map_id>/duplicate")
async def duplicate(map_id: str) -> Response:
    ctx, entry = await _owned(map_id)
    user = current_user()
    copy = await ctx.hub.duplicate_map(entry, owner=entry.owner or user, actor=_actor(user))
    out = {"id": copy.id, "url": f"/m/{copy.id}", "title": copy.state.title, "version": copy.state.version}
    return Response(dumps(out), status=201, content_type="application/json")


@maps.post("/maps/<map_id>/delete")
async def delete(map_id: str) -> Response:
    ctx, entry = await _owned(map_id)
    await ctx.hub.delete_map(entry)
    return Response(dumps({"deleted": True}), content_type="application/json")
