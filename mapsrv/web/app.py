"""The Quart-Trio app: pages, the ops endpoint, exports, health and static files.

The SSE streams are not here: they are raw ASGI handlers in ``mapsrv.asgi`` (see DESIGN.md).
"""

from __future__ import annotations

import html
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import xstatic.pkg.leaflet
from quart import Response, redirect, request, send_from_directory
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from mapsrv.access import origin_allowed, resolve, user_cookie_header, user_from_cookies
from mapsrv.config import Config
from mapsrv.core.codec import dumps, parse_ops, to_geojson
from mapsrv.errors import Forbidden, InvalidInput, MapsrvError
from mapsrv.hub import MapHub, new_token
from mapsrv.metrics import route_of

__all__ = ["create_app", "find_static_dir", "security_headers"]


def find_static_dir() -> Path:
    """``static/`` beside the package in a checkout, or under ``share/mapsrv`` when installed."""
    candidates = [
        Path(__file__).resolve().parent.parent / "static",
        Path(sys.prefix) / "share" / "mapsrv" / "static",
    ]
    for candidate in candidates:
        if (candidate / "index.html").is_file():
            return candidate
    raise RuntimeError(f"mapsrv's static files are missing; looked in {', '.join(map(str, candidates))}")


def _tile_source(tile_url: str) -> str:
    parts = urlsplit(tile_url.replace("{s}", "*"))
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""


def security_headers(config: Config) -> list[tuple[str, str]]:
    img = " ".join(filter(None, ["'self'", "data:", _tile_source(config.tile_url)]))
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'; object-src 'none'"
    )
    return [
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),  # map URLs are capabilities
        ("X-Frame-Options", "DENY"),
    ]


def _error(exc: MapsrvError) -> Response:
    response = Response(dumps({"error": exc.to_json()}), status=exc.status, content_type="application/json")
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def create_app(config: Config, hub: MapHub, draining: Callable[[], bool] = lambda: False) -> QuartTrio:
    app = QuartTrio(__name__, static_folder=None)

    def log_exception(exc_info: Any) -> None:
        # Quart's own version logs the request path, and a map's path is its capability.
        app.logger.error("exception on %s %s", request.method, route_of(request.path), exc_info=exc_info)

    app.log_exception = log_exception  # type: ignore[method-assign,assignment]
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_size
    static_dir = find_static_dir()
    leaflet_dir = Path(xstatic.pkg.leaflet.BASE_DIR)
    template = (static_dir / "index.html").read_text(encoding="utf-8")
    headers = security_headers(config)

    def base_url() -> str:
        return config.public_url.rstrip("/") or request.host_url.rstrip("/")

    def current_user() -> tuple[str, bool]:
        user = user_from_cookies(request.headers.get("Cookie"))
        return (user, False) if user else (new_token(), True)

    def with_cookie(response: Any, user: str, fresh: bool) -> Any:
        if fresh:
            secure = config.secure_cookies or request.scheme == "https"
            response.headers.add("Set-Cookie", user_cookie_header(user, secure=secure))
        return response

    def page(entry: Any, mode: str) -> str:
        if mode == "edit":
            prefix = f"/m/{entry.id}"
            values = {"map_id": entry.id, "view_url": f"{base_url()}/v/{entry.view_key}"}
        else:
            prefix = f"/v/{entry.view_key}"
            values = {"map_id": "", "view_url": ""}
        values.update(
            events=f"{prefix}/events",
            geojson=f"{prefix}/geojson",
            mode=mode,
            tile_url=config.tile_url,
            tile_attribution=config.tile_attribution,
            title=entry.state.title or "mapsrv",
        )
        text = template
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", html.escape(value, quote=True))
        return text

    @app.after_request
    async def add_headers(response: Response) -> Response:
        for name, value in headers:
            response.headers.setdefault(name, value)
        if response.mimetype in ("text/html", "application/json", "application/geo+json"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(MapsrvError)
    async def on_map_error(exc: MapsrvError) -> Response:
        return _error(exc)

    @app.errorhandler(HTTPException)
    async def on_http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        if code == 413:
            message = f"request body is larger than {config.max_body_size} bytes"
        else:
            message = (exc.name or "error").lower()
        body = {"error": {"code": "too_large" if code == 413 else "http", "message": message}}
        response = Response(dumps(body), status=code, content_type="application/json")
        if code == 413:
            # The unread body is still on the wire: the connection cannot carry another request.
            response.headers["Connection"] = "close"
        return response

    @app.get("/")
    async def index() -> Any:
        user, fresh = current_user()
        entry = await hub.last_map_of(user) or await hub.create_map(owner=user)
        return with_cookie(redirect(f"/m/{entry.id}", 303), user, fresh)

    @app.post("/new")
    async def new_map() -> Any:
        if not origin_allowed(config, request.headers.get("Origin"), request.headers.get("Host")):
            raise Forbidden("cross-origin request refused")
        user, fresh = current_user()
        entry = await hub.create_map(owner=user)
        return with_cookie(redirect(f"/m/{entry.id}", 303), user, fresh)

    @app.get("/m/<map_id>")
    async def edit_page(map_id: str) -> Any:
        user, fresh = current_user()
        # An agent-made map belongs to the first browser that opens its link.
        entry = await resolve(hub, "m", map_id, user, claim=True)
        return with_cookie(Response(page(entry, "edit"), content_type="text/html"), user, fresh)

    @app.get("/v/<view_key>")
    async def view_page(view_key: str) -> Any:
        entry = await resolve(hub, "v", view_key, None)
        return Response(page(entry, "view"), content_type="text/html")

    @app.get("/<any(m, v):kind>/<key>/state")
    async def state(kind: str, key: str) -> Any:
        entry = await resolve(hub, kind, key, user_from_cookies(request.headers.get("Cookie")))
        return Response(dumps(entry.state.to_json()), content_type="application/json")

    @app.get("/<any(m, v):kind>/<key>/geojson")
    async def geojson(kind: str, key: str) -> Any:
        entry = await resolve(hub, kind, key, user_from_cookies(request.headers.get("Cookie")))
        response = Response(dumps(to_geojson(entry.state)), content_type="application/geo+json")
        response.headers["Content-Disposition"] = 'attachment; filename="map.geojson"'
        return response

    @app.post("/m/<map_id>/ops")
    async def ops(map_id: str) -> Any:
        if not origin_allowed(config, request.headers.get("Origin"), request.headers.get("Host")):
            raise Forbidden("cross-origin request refused")
        entry = await resolve(hub, "m", map_id, user_from_cookies(request.headers.get("Cookie")))
        if request.mimetype != "application/json":
            return _error(InvalidInput("send the ops as application/json"))
        body = _parse_json(await request.get_data(as_text=False, parse_form_data=False))
        parsed, expected = parse_ops(body, hub.limits)
        events = await hub.apply(entry.id, parsed, expected_version=expected)
        return Response(dumps({"version": events[-1].version}), content_type="application/json")

    @app.get("/health")
    async def health() -> Any:
        return Response(dumps({"status": "ok"}), content_type="application/json")

    @app.get("/ready")
    async def ready() -> Any:
        # Ready while the store answers and we are not draining: a load balancer sends new
        # work elsewhere otherwise, though held maps keep working (see the README).
        is_ready = hub.ready and not draining()
        body = {"ready": is_ready, "store": "ok" if hub.ready else "unreachable", "draining": draining()}
        return Response(dumps(body), status=200 if is_ready else 503, content_type="application/json")

    @app.get("/static/leaflet/<path:filename>")
    async def leaflet(filename: str) -> Any:
        response = await send_from_directory(leaflet_dir, filename)
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    @app.get("/static/<path:filename>")
    async def static_file(filename: str) -> Any:
        if filename == "index.html":
            return _error(InvalidInput("not a static file"))
        response = await send_from_directory(static_dir, filename)
        response.headers["Cache-Control"] = "no-cache"
        return response

    return app


def _reject_constant(value: str) -> Any:
    raise InvalidInput(f"body is not valid JSON: {value} is not a JSON number")


def _parse_json(data: str | bytes) -> Any:
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"body is not valid JSON: {str(exc)[:120]}") from None
