"""The pages: ``/`` (this browser's last map, or a new one), ``/new``, a map's owner page
``/m/<id>``, its editors' page ``/e/<edit key>`` and its read-only page ``/v/<view key>``; the
owner's links (``POST /m/<id>/links``) and a person's display name (``POST /name``).

An agent-made map belongs to nobody until a person opens it: its ``/m/<id>`` shows a button
that POSTs to ``/m/<id>/claim`` (Origin-checked, like every cookie-bearing write), never a claim
on GET, so a link preview or a prefetch cannot take the map from the person it was made for.

A page for a map that does not exist (unknown, expired, another browser's: one answer) is a
404 in either form: an HTML page with a "Start a new map" button for a browser (it asks for
``text/html`` first), the usual JSON error for a program. Its words are true of every map it
answers for: ``/m/<id>`` says that a map's own page opens only in its owner's browser and what
to ask the owner for, or that the map may be gone; a view or edit link, that it may have been
replaced, or the map gone.

The pages are Jinja2 templates in ``mapsrv/web/templates``, every value escaped
(``mapsrv.http.templates``)."""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, Response, redirect, request

from mapsrv.core.changes import clean_name, suggested_name
from mapsrv.core.codec import dumps
from mapsrv.core.history import person_actor
from mapsrv.errors import Forbidden, Gone, InvalidInput, NotFound
from mapsrv.http.identity import name_cookie_header, name_from_cookies, user_cookie_header
from mapsrv.http.responses import error_body, error_headers
from mapsrv.http.templates import render
from mapsrv.hub import MapEntry, new_token
from mapsrv.hub.access import resolve, unclaimed
from mapsrv.store import MapMeta
from mapsrv.web.context import WebContext, account, current_user, web_context
from mapsrv.web.static import CLAIM_TEMPLATE, GONE_TEMPLATE, TEMPLATE

__all__ = [
    "PACKAGE",
    "claim_map",
    "edit_page",
    "editor_page",
    "links",
    "links_json",
    "set_name",
    "index",
    "new_map",
    "not_found",
    "pages",
    "render_claim",
    "render_gone",
    "render_page",
    "view_page",
]

PACKAGE = "mapsrv.web"  # whose templates/ the pages are
pages = Blueprint("pages", __name__)


def _user() -> tuple[str, bool]:
    """This browser's user id, and whether it is new (and needs its cookie set)."""
    user = current_user()
    return (user, False) if user else (new_token(), True)


def _with_cookie(response: Response, user: str, fresh: bool) -> Response:
    if fresh:
        secure = web_context().config.secure_cookies or request.scheme == "https"
        response.headers.add("Set-Cookie", user_cookie_header(user, secure=secure))
    return response


def _redirect_to(map_id: str) -> Response:
    return redirect(f"/m/{map_id}", 303)  # type: ignore[return-value]


PREVIEW = (1200, 630)  # the size chat apps show link previews at


def render_page(
    ctx: WebContext,
    entry: MapEntry,
    mode: str,
    base_url: str,
    actor: str = "",
    *,
    role: str = "",
    name: str = "",
    suggested: str = "",
    signed: dict[str, Any] | None = None,
) -> str:
    """index.html with this map's values, each escaped (a title is an agent's untrusted text).
    ``actor`` is the id the person's writes are attributed to (a hash, not a secret): the page
    shows its own changes as "you". ``role``: "owner" (``/m/<id>``, the default in edit mode),
    "editor" (``/e/<edit key>``: the page never holds the map id) or "viewer"."""
    role = role or ("owner" if mode == "edit" else "viewer")
    values: dict[str, str] = {"map_id": "", "view_url": "", "edit_url": "", "actor": actor}
    if role == "owner":
        prefix = f"/m/{entry.id}"
        values.update(map_id=entry.id, view_url=f"{base_url}/v/{entry.view_key}")
        values.update(edit_url=f"{base_url}/e/{entry.edit_key}" if entry.edit_key else "")
    elif role == "editor":
        prefix = f"/e/{entry.edit_key}"
        values.update(view_url=f"{base_url}/v/{entry.view_key}")
    else:
        prefix = f"/v/{entry.view_key}"
        values.update(actor="")
    values.update(
        role=role,
        name=name,
        suggested_name=suggested,
        mcp_url=f"{base_url}/mcp",
        events=f"{prefix}/events",
        geojson=f"{prefix}/geojson",
        mode=mode,
        tile_url=ctx.config.online_tiles(),
        basemaps=json.dumps([m.describe() for m in ctx.basemaps.known()] if ctx.basemaps else []),
        tile_attribution=ctx.config.tile_attribution,
        router="1" if ctx.config.router not in ("", "none") else "",  # the import offers snap
        title=entry.state.title or "mapsrv",
        # a link preview (og:image): the view key's image, so unfurling never reveals the edit id
        image_url=f"{base_url}/v/{entry.view_key}/image.png?w={PREVIEW[0]}&h={PREVIEW[1]}",
    )
    signed = signed or {"sign_in": False, "signed_in": False, "name": "", "email": ""}  # a view link: nobody
    return render(PACKAGE, TEMPLATE, account=signed, here=request.path, **values)


def render_claim(entry: MapEntry) -> str:
    title = entry.state.title or "mapsrv"
    return render(PACKAGE, CLAIM_TEMPLATE, title=title, claim_url=f"/m/{entry.id}/claim")


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{round(seconds)} seconds"


def render_gone(ctx: WebContext, reason: str = "", *, deleted: bool = False, owner_page: bool = False) -> str:
    """The page for a map that is not there, was ``deleted`` by its owner, or (``reason``) a
    link its owner turned off. ``owner_page``: asked by its id (``/m/<id>``), which opens only in
    the owner's browser: the page says so and what to ask for, since it cannot say (nothing leaks
    whether a map exists) whether the map is another browser's or gone."""
    retention = ctx.config.retention
    kept = f" or nobody opens it for {_duration(retention)}" if retention else ""
    sign_in = ctx.issuer is not None and bool(ctx.config.oidc_client_id)
    values = {"retention": kept, "reason": reason, "deleted": deleted, "owner_page": owner_page}
    return render(PACKAGE, GONE_TEMPLATE, sign_in=sign_in, **values)


@pages.errorhandler(NotFound)
@pages.errorhandler(Forbidden)
async def not_found(exc: NotFound | Forbidden) -> Response:
    """A browser gets a page that says what happened and how to go on; a program, JSON."""
    if request.accept_mimetypes.best_match(("application/json", "text/html")) == "text/html":
        reason = exc.message[:1].upper() + exc.message[1:] if isinstance(exc, Forbidden) else ""
        owner_page = request.path.startswith("/m/")  # by the map's id: another browser's, or gone
        page = render_gone(web_context(), reason, deleted=isinstance(exc, Gone), owner_page=owner_page)
        return Response(page, status=exc.status, content_type="text/html")
    response = Response(error_body(exc), status=exc.status)
    for name, value in error_headers(exc):
        response.headers[name] = value
    return response


def _base_url(ctx: WebContext) -> str:
    # request.host_url reflects the Host header, which the dispatcher has checked (strictly).
    return ctx.config.public_url.rstrip("/") or request.host_url.rstrip("/")


@pages.get("/")
async def index() -> Response:
    hub = web_context().hub
    user, fresh = _user()
    entry = await hub.last_map_of(user) or await hub.create_map(owner=user)
    return _with_cookie(_redirect_to(entry.id), user, fresh)


@pages.post("/new")
async def new_map() -> Response:
    user, fresh = _user()
    entry = await web_context().hub.create_map(owner=user)
    return _with_cookie(_redirect_to(entry.id), user, fresh)


@pages.get("/m/<map_id>")
async def edit_page(map_id: str) -> Response:
    ctx = web_context()
    user, fresh = _user()
    try:
        entry = await resolve(ctx.hub, "m", map_id, user)
    except NotFound:
        # An agent-made map nobody has opened: the person opens it with a button.
        page = render_claim(await unclaimed(ctx.hub, map_id))
    else:
        page = await _person_page(ctx, entry, "owner", user)
    return _with_cookie(Response(page, content_type="text/html"), user, fresh)


async def _person_page(ctx: WebContext, entry: MapEntry, role: str, user: str) -> str:
    name = name_from_cookies(request.headers.get("Cookie"))
    actor = person_actor(request.headers.get("User-Agent"), user, name).id
    if ctx.basemaps is not None:
        await ctx.basemaps.maps()  # looked at again when it is time: render_page reads what was found
    return render_page(
        ctx,
        entry,
        "edit",
        _base_url(ctx),
        actor,
        role=role,
        name=name or "",
        suggested=suggested_name(user),
        signed=await account(ctx, user),
    )


@pages.get("/e/<edit_key>")
async def editor_page(edit_key: str) -> Response:
    """The edit link: a person edits the map as well as its owner, without its id (the owner's
    capability, which agents use) and without managing its links."""
    ctx = web_context()
    user, fresh = _user()
    entry = await resolve(ctx.hub, "e", edit_key, user)
    await ctx.hub.remember_opened(user, entry)  # in their list of maps from now on
    return _with_cookie(
        Response(await _person_page(ctx, entry, "editor", user), content_type="text/html"), user, fresh
    )


async def _json_body() -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise InvalidInput("send a JSON object as application/json")
    body = await request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


def links_json(ctx: WebContext, meta: MapMeta) -> dict[str, str | None]:
    base = _base_url(ctx)
    edit_url = f"{base}/e/{meta.edit_key}" if meta.edit_key else None
    return {"edit_url": edit_url, "view_url": f"{base}/v/{meta.view_key}"}


@pages.post("/m/<map_id>/links")
async def links(map_id: str) -> Response:
    """The owner's links: ``{"edit": "new"}`` makes a new edit link (the old one stops working),
    ``{"edit": "off"}`` turns it off, ``{"view": "new"}`` makes a new view link. Pages opened
    through an old link are told at once, on every process."""
    ctx = web_context()
    entry = await resolve(ctx.hub, "m", map_id, current_user())
    body = await _json_body()
    unknown = sorted(set(body) - {"edit", "view"})
    if unknown or not body:
        raise InvalidInput('send {"edit": "new"}, {"edit": "off"} or {"view": "new"}' + (
            f"; unknown field {unknown[0]!r:.40}" if unknown else ""))  # fmt: skip
    edit, view = body.get("edit"), body.get("view")
    if edit not in (None, "new", "off"):
        raise InvalidInput(f'edit must be "new" or "off", got {edit!r:.40}')
    if view not in (None, "new"):
        raise InvalidInput(f'view must be "new", got {view!r:.40}')
    meta = await ctx.hub.relink(entry, edit=edit, view=view == "new")
    return Response(dumps(links_json(ctx, meta)), content_type="application/json")


@pages.post("/name")
async def set_name() -> Response:
    """The display name this browser's edits and presence show, kept in a cookie beside its
    user id: ``{"name": "Ana"}``."""
    user, fresh = _user()
    name = clean_name((await _json_body()).get("name"))
    response = Response(dumps({"name": name}), content_type="application/json")
    secure = web_context().config.secure_cookies or request.scheme == "https"
    response.headers.add("Set-Cookie", name_cookie_header(name, secure=secure))
    return _with_cookie(response, user, fresh)


@pages.post("/m/<map_id>/claim")
async def claim_map(map_id: str) -> Response:
    """The person's explicit action: an agent-made map nobody owns becomes this browser's."""
    ctx = web_context()
    user, fresh = _user()
    await resolve(ctx.hub, "m", map_id, user, claim=True)
    return _with_cookie(_redirect_to(map_id), user, fresh)


@pages.get("/v/<view_key>")
async def view_page(view_key: str) -> Response:
    ctx = web_context()
    entry = await resolve(ctx.hub, "v", view_key, None)
    if ctx.basemaps is not None:
        await ctx.basemaps.maps()
    return Response(render_page(ctx, entry, "view", _base_url(ctx)), content_type="text/html")
