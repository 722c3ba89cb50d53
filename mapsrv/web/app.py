"""The Quart-Trio app: pages, the JSON API, probes and static files, one blueprint each.

The event streams and MCP are not here: they are raw ASGI handlers (see DESIGN.md), and the
Host and Origin checks run before any request reaches this app (``mapsrv.dispatch``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from mapsrv.config import Config
from mapsrv.errors import BodyTooLarge, HttpError, MapsrvError
from mapsrv.http.basemaps import Basemaps
from mapsrv.http.compression import COMPRESSIBLE, MIN_SIZE, accepts_gzip, gzip_body
from mapsrv.http.fetch import SourcePolicy
from mapsrv.http.guards import origin_of
from mapsrv.http.responses import error_body, error_headers
from mapsrv.http.routes import route_of
from mapsrv.http.templates import environment
from mapsrv.http.tokens import Issuer
from mapsrv.hub import MapHub
from mapsrv.image.service import MapImages
from mapsrv.places.service import PlaceService
from mapsrv.web.api import api
from mapsrv.web.context import WebContext
from mapsrv.web.hosts import to_public_name
from mapsrv.web.maps import maps
from mapsrv.web.pages import PACKAGE, pages
from mapsrv.web.places import places as place_search
from mapsrv.web.probes import probes
from mapsrv.web.signin import signin
from mapsrv.web.signout import signout
from mapsrv.web.static import TEMPLATES

__all__ = ["create_app", "error_response", "security_headers"]


def security_headers(config: Config) -> list[tuple[str, str]]:
    # The tile server and the hosts --allowed-sources lists, no wider: each image source the page
    # may load from learns every viewer's address. The page fetch()es PMTiles archives from the
    # same hosts (range requests), so connect-src names them too.
    listed = SourcePolicy.from_config(config).page_sources()
    tiles = origin_of(config.online_tiles())
    img = " ".join(dict.fromkeys(filter(None, ["'self'", "data:", tiles, *listed])))
    connect = " ".join(dict.fromkeys(["'self'", *listed]))
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'; object-src 'none'"
    )
    return [
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        # Map URLs are capabilities: no other origin (a tile server) ever sees one. Not
        # "no-referrer": under it a browser sends `Origin: null` with a form POST, and our own
        # claim button would fail the Origin check.
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
    ]


def error_response(exc: MapsrvError) -> Response:
    """The one error writer (``mapsrv.http.responses``), as a Quart response."""
    response = Response(error_body(exc), status=exc.status)
    for name, value in error_headers(exc):
        response.headers[name] = value
    return response


def _from_http(exc: HTTPException, config: Config) -> MapsrvError:
    status = exc.code or 500
    if status == 413:
        return BodyTooLarge(config.max_body_size)
    return HttpError(status, (exc.name or "error").lower())


def create_app(
    config: Config,
    hub: MapHub,
    draining: Callable[[], bool] = lambda: False,
    images: MapImages | None = None,
    issuer: Issuer | None = None,
    places: PlaceService | None = None,
    basemaps: Basemaps | None = None,
) -> QuartTrio:
    app = QuartTrio(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_size
    policy = SourcePolicy.from_config(config)  # what map images fetch from elsewhere
    streets = basemaps if basemaps is not None else Basemaps.from_config(config, policy)
    for name in TEMPLATES:  # compiled now: a missing or broken template fails the start, not a page
        environment(PACKAGE).get_template(name)
    WebContext(
        config=config,
        hub=hub,
        draining=draining,
        images=images if images is not None else MapImages(config.online_tiles()),  # the server gives its own
        issuer=issuer,
        places=places if places is not None else PlaceService(),
        basemaps=streets,
    ).install(app.extensions)
    headers = security_headers(config)

    def log_exception(exc_info: Any) -> None:
        # Quart's own version logs the request path, and a map's path is its capability.
        app.logger.error("exception on %s %s", request.method, route_of(request.path), exc_info=exc_info)

    app.log_exception = log_exception  # type: ignore[method-assign,assignment]
    app.before_request(to_public_name)  # a page under another name: to --public-url, to sign in

    @app.after_request
    async def add_headers(response: Response) -> Response:
        for name, value in headers:
            response.headers.setdefault(name, value)
        if response.mimetype in ("text/html", "application/json", "application/geo+json"):
            response.headers.setdefault("Cache-Control", "no-store")
        if response.mimetype in COMPRESSIBLE:
            await _compress(response)
        return response

    async def _compress(response: Response) -> None:
        response.vary.add("Accept-Encoding")
        if "Content-Encoding" in response.headers or not accepts_gzip(
            request.headers.get("Accept-Encoding", "")
        ):
            return
        body = await response.get_data(as_text=False)
        if len(body) < MIN_SIZE:
            return
        response.set_data(await gzip_body(body))
        response.headers["Content-Encoding"] = "gzip"

    @app.errorhandler(MapsrvError)
    async def on_map_error(exc: MapsrvError) -> Response:
        return error_response(exc)

    @app.errorhandler(HTTPException)
    async def on_http_error(exc: HTTPException) -> Response:
        return error_response(_from_http(exc, config))

    for blueprint in (pages, maps, api, place_search, probes, signin, signout):
        app.register_blueprint(blueprint)
    return app
