"""The pages: ``/`` (this browser's last map, or a new one), ``/new``, a map's edit page
``/m/<id>`` and its read-only page ``/v/<view key>``.

An agent-made map belongs to nobody until a person opens it: its ``/m/<id>`` shows a button
that POSTs to ``/m/<id>/claim`` (Origin-checked, like every cookie-bearing write), never a claim
on GET, so a link preview or a prefetch cannot take the map from the person it was made for.

A page for a map that does not exist (unknown, expired, another browser's: one answer) is a
404 in either form: an HTML page with a "Start a new map" button for a browser (it asks for
``text/html`` first), the usual JSON error for a program.

The pages are Jinja2 templates in ``mapsrv/web/templates``, every value escaped
(``mapsrv.http.templates``)."""

from __future__ import annotations

from quart import Blueprint, Response, redirect, request

from mapsrv.core.history import person_actor
from mapsrv.errors import NotFound
from mapsrv.http.identity import user_cookie_header
from mapsrv.http.responses import error_body, error_headers
from mapsrv.http.templates import render
from mapsrv.hub import MapEntry, new_token
from mapsrv.hub.access import resolve, unclaimed
from mapsrv.web.context import WebContext, current_user, web_context
from mapsrv.web.static import CLAIM_TEMPLATE, GONE_TEMPLATE, TEMPLATE

__all__ = [
    "PACKAGE",
    "claim_map",
    "edit_page",
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


def render_page(ctx: WebContext, entry: MapEntry, mode: str, base_url: str, actor: str = "") -> str:
    """index.html with this map's values, each escaped (a title is an agent's untrusted text).
    ``actor`` is the id the person's writes are attributed to (a hash, not a secret): the page
    shows its own changes as "you"."""
    if mode == "edit":
        prefix = f"/m/{entry.id}"
        values = {"map_id": entry.id, "view_url": f"{base_url}/v/{entry.view_key}", "actor": actor}
    else:
        prefix = f"/v/{entry.view_key}"
        values = {"map_id": "", "view_url": "", "actor": ""}
    values.update(
        mcp_url=f"{base_url}/mcp",
        events=f"{prefix}/events",
        geojson=f"{prefix}/geojson",
        mode=mode,
        tile_url=ctx.config.tile_url,
        tile_attribution=ctx.config.tile_attribution,
        title=entry.state.title or "mapsrv",
        # a link preview (og:image): the view key's image, so unfurling never reveals the edit id
        image_url=f"{base_url}/v/{entry.view_key}/image.png?w={PREVIEW[0]}&h={PREVIEW[1]}",
    )
    return render(PACKAGE, TEMPLATE, **values)


def render_claim(entry: MapEntry) -> str:
    title = entry.state.title or "mapsrv"
    return render(PACKAGE, CLAIM_TEMPLATE, title=title, claim_url=f"/m/{entry.id}/claim")


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{round(seconds)} seconds"


def render_gone(ctx: WebContext) -> str:
    return render(PACKAGE, GONE_TEMPLATE, idle=_duration(ctx.config.idle_timeout))


@pages.errorhandler(NotFound)
async def not_found(exc: NotFound) -> Response:
    """A browser gets a page that says what happened and how to go on; a program, JSON."""
    if request.accept_mimetypes.best_match(("application/json", "text/html")) == "text/html":
        return Response(render_gone(web_context()), status=404, content_type="text/html")
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
        actor = person_actor(request.headers.get("User-Agent"), user).id
        page = render_page(ctx, entry, "edit", _base_url(ctx), actor)
    return _with_cookie(Response(page, content_type="text/html"), user, fresh)


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
    return Response(render_page(ctx, entry, "view", _base_url(ctx)), content_type="text/html")
