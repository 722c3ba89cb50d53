"""A page opened under another of the server's names goes to ``--public-url`` first, when people
sign in: sign-in keeps its round trip in a cookie of the name the browser used, and the issuer
sends the browser back to the public URL's callback, where a cookie of the other name is not sent
(the sign-in would fail as if it came too late). Ports do not matter: a cookie belongs to a name,
not a port. Only the pages a person opens are redirected; the JSON API, exports, images and
static files answer under any allowed name as before.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import Response, redirect, request

from mapsrv.http.guards import parse_host
from mapsrv.http.routes import route_of
from mapsrv.web.context import web_context

__all__ = ["PAGES", "to_public_name"]

# the route templates (``mapsrv.http.routes``) of the pages a person opens, where sign-in begins
PAGES = frozenset({"/", "/login", "/maps", "/m/{id}", "/e/{key}", "/v/{key}"})


async def to_public_name() -> Response | None:
    """Quart ``before_request``: a redirect to the same page under the public URL's name, or None."""
    ctx = web_context()
    config = ctx.config
    if not (config.public_url and ctx.issuer is not None and config.oidc_client_id):
        return None
    if request.method not in ("GET", "HEAD") or route_of(request.path) not in PAGES:
        return None
    public = urlsplit(config.public_url)
    used = parse_host(request.headers.get("Host"))
    if used is None or used[0].strip("[]") == (public.hostname or "").lower():
        return None
    query = request.query_string.decode("latin-1")
    target = config.public_url.rstrip("/") + request.path + (f"?{query}" if query else "")
    return redirect(target, 302)  # type: ignore[return-value]
