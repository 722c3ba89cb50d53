"""What the blueprints share: the configuration, the hub, the place resolver and the static files,
kept on the app (the page templates are Jinja's, ``mapsrv.http.templates``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from quart import current_app, request

from mapsrv.config import Config
from mapsrv.http.basemaps import Basemaps
from mapsrv.http.identity import email_from_cookies, name_from_cookies, user_from_cookies
from mapsrv.http.tokens import Issuer
from mapsrv.hub import MapHub
from mapsrv.image.service import MapImages
from mapsrv.places.service import PlaceService

__all__ = ["WebContext", "account", "current_user", "web_context"]

_KEY = "mapsrv"


@dataclass(frozen=True)
class WebContext:
    config: Config
    hub: MapHub
    draining: Callable[[], bool]
    images: MapImages  # the map as an image (/m/<id>/image.png)
    issuer: Issuer | None = None  # the OpenID provider people sign in with (``signin``)
    places: PlaceService = field(default_factory=PlaceService)  # the one resolver (``places``)
    basemaps: Basemaps | None = None  # the street basemaps the page draws (``mapsrv.http.basemaps``)

    def install(self, extensions: dict[str, object]) -> None:
        extensions[_KEY] = self


def web_context() -> WebContext:
    return cast(WebContext, current_app.extensions[_KEY])


def current_user() -> str | None:
    """The browser's user id from its cookie, if it has one."""
    return user_from_cookies(request.headers.get("Cookie"))


async def account(ctx: WebContext, user: str | None) -> dict[str, Any]:
    """Who this browser is, for a page's header: whether it may sign in, or who is signed in (the
    name from their provider, or the one they chose, and their email) so that they can sign out."""
    person = await ctx.hub.people.person_of(user)
    cookies = request.headers.get("Cookie")
    return {
        "sign_in": ctx.issuer is not None and bool(ctx.config.oidc_client_id),
        "signed_in": person is not None,
        "name": name_from_cookies(cookies) or "",
        "email": (email_from_cookies(cookies) or "") if person is not None else "",
    }
