"""What sign-in (``mapsrv.web.signin``) and sign-out (``mapsrv.web.signout``) share: whether the
server has sign-in, its URLs, and the cookies that name a signed-in person.

A signed-in browser holds, beside its user id (``mapsrv_user``): the person's name
(``mapsrv_name``: what their edits and presence show), their email (``mapsrv_email``: the header's
tooltip) and the ID token of their sign-in (``mapsrv_id_token``, sent only to ``/logout``: the
``id_token_hint`` of the issuer's sign-out). All are HttpOnly and SameSite=Lax; sign-out clears
every one, so nothing names the person to whoever uses the browser next.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import Response, request

from mapsrv.errors import NotFound
from mapsrv.http.identity import (
    EMAIL_COOKIE,
    NAME_COOKIE,
    cleared_cookie_header,
    email_cookie_header,
    name_cookie_header,
    user_cookie_header,
)
from mapsrv.http.tokens import Issuer
from mapsrv.hub import new_token
from mapsrv.web.context import WebContext

__all__ = [
    "ID_TOKEN_COOKIE",
    "LOGOUT",
    "SIGNED_OUT",
    "base_url",
    "enabled",
    "forget_person",
    "local",
    "remember_person",
    "secure",
]

LOGOUT = "/logout"
SIGNED_OUT = "/signed-out"
ID_TOKEN_COOKIE = "mapsrv_id_token"
MAX_ID_TOKEN = 3800  # a cookie holds about 4 KiB: a longer ID token is not kept (sign-out then has no hint)


def enabled(ctx: WebContext) -> Issuer:
    """The issuer people sign in with, or 404 when the server has no sign-in."""
    if ctx.issuer is None or not ctx.config.oidc_client_id:
        raise NotFound("sign-in is not configured on this server (--oidc-issuer, --oidc-client-id)")
    return ctx.issuer


def base_url(ctx: WebContext) -> str:
    return ctx.config.public_url.rstrip("/") or request.host_url.rstrip("/")


def secure(ctx: WebContext) -> bool:
    return ctx.config.secure_cookies or request.scheme == "https"


def local(path: object, default: str = "/maps") -> str:
    """Where to go after signing in or out: a path on this server, never another site."""
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    parts = urlsplit(path)
    return path if not parts.scheme and not parts.netloc and len(path) <= 2000 else default


def remember_person(
    response: Response, ctx: WebContext, user: str, *, name: str | None, email: str | None, id_token: str
) -> None:
    """The cookies of a browser just signed in as a person."""
    on_https = secure(ctx)
    response.headers.add("Set-Cookie", user_cookie_header(user, secure=on_https))
    if name:
        response.headers.add("Set-Cookie", name_cookie_header(name, secure=on_https))
    if email:
        response.headers.add("Set-Cookie", email_cookie_header(email, secure=on_https))
    else:
        response.headers.add("Set-Cookie", cleared_cookie_header(EMAIL_COOKIE, secure=on_https))
    if len(id_token) <= MAX_ID_TOKEN and id_token.isascii() and ";" not in id_token:
        flags = "; Secure" if on_https else ""
        response.headers.add(
            "Set-Cookie",
            f"{ID_TOKEN_COOKIE}={id_token}; Path={LOGOUT}; Max-Age=31536000; HttpOnly; SameSite=Lax{flags}",
        )


def forget_person(response: Response, ctx: WebContext) -> None:
    """Every cookie that names the person cleared; the browser becomes a new anonymous user (the
    maps it made stay the person's)."""
    on_https = secure(ctx)
    response.headers.add("Set-Cookie", user_cookie_header(new_token(), secure=on_https))
    for name in (NAME_COOKIE, EMAIL_COOKIE):
        response.headers.add("Set-Cookie", cleared_cookie_header(name, secure=on_https))
    response.headers.add("Set-Cookie", cleared_cookie_header(ID_TOKEN_COOKIE, secure=on_https, path=LOGOUT))
