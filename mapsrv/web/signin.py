"""People sign in with an OpenID Connect provider (Keycloak, Entra ID, Google, Auth0, Dex...):
``GET /login`` sends the browser to the issuer (authorization code with PKCE, a ``state`` and a
``nonce``), ``GET /auth/callback`` takes it back, exchanges the code for tokens (Authlib's OAuth
client), checks the ID token (the issuer's keys, issuer, audience, expiry, nonce) and signs this
browser in as the person (``mapsrv.hub.people``); ``POST /logout`` signs it out. ``GET /me`` says
who this browser is.

What the round trip needs is kept in a short-lived cookie of its own (HttpOnly, SameSite=Lax,
ten minutes), never on the server, so the callback may land on any process. The name others see
(presence, changes) becomes the ID token's name; the person can change it as before.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from quart import Blueprint, Response, redirect, request

from mapsrv.core.changes import clean_name
from mapsrv.core.codec import dumps
from mapsrv.errors import InvalidInput, MapsrvError, NotFound
from mapsrv.http.identity import name_cookie_header, name_from_cookies, user_cookie_header
from mapsrv.http.tokens import ALGORITHMS, LEEWAY_S, Issuer, IssuerUnreachable, principal_of
from mapsrv.hub import new_token
from mapsrv.web.context import WebContext, current_user, web_context

__all__ = ["LOGIN_COOKIE", "SCOPES", "SignInFailed", "callback", "login", "logout", "me", "signin"]

signin = Blueprint("signin", __name__)

LOGIN_COOKIE = "mapsrv_login"
LOGIN_TTL_S = 600
SCOPES = "openid profile email"
CALLBACK = "/auth/callback"
TIMEOUT_S = 10.0


class SignInFailed(MapsrvError):
    status = 400
    code = "sign_in_failed"


def _enabled(ctx: WebContext) -> Issuer:
    if ctx.issuer is None or not ctx.config.oidc_client_id:
        raise NotFound("sign-in is not configured on this server (--oidc-issuer, --oidc-client-id)")
    return ctx.issuer


def _base_url(ctx: WebContext) -> str:
    return ctx.config.public_url.rstrip("/") or request.host_url.rstrip("/")


def _secure(ctx: WebContext) -> bool:
    return ctx.config.secure_cookies or request.scheme == "https"


def _local(path: str | None) -> str:
    """Where to go after signing in: a path on this server, never another site."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/maps"
    parts = urlsplit(path)
    return path if not parts.scheme and not parts.netloc else "/maps"


def _client(ctx: WebContext) -> AsyncOAuth2Client:
    secret = ctx.config.oidc_client_secret
    return AsyncOAuth2Client(
        client_id=ctx.config.oidc_client_id,
        client_secret=secret or None,
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        scope=SCOPES,
        redirect_uri=_base_url(ctx) + CALLBACK,
        code_challenge_method="S256",
        timeout=TIMEOUT_S,
    )


def _pack(values: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def _unpack(text: str | None) -> dict[str, Any] | None:
    if not text or len(text) > 4096:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except ValueError:
        return None
    return values if isinstance(values, dict) else None


def _login_cookie(value: str, *, secure: bool, max_age: int = LOGIN_TTL_S) -> str:
    flags = "; Secure" if secure else ""
    return f"{LOGIN_COOKIE}={value}; Path={CALLBACK}; Max-Age={max_age}; HttpOnly; SameSite=Lax{flags}"


@signin.get("/login")
async def login() -> Response:
    """To the issuer's sign-in page; back to ``?next=`` (a path here) afterwards."""
    ctx = web_context()
    issuer = _enabled(ctx)
    endpoint = (await issuer.metadata()).get("authorization_endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise IssuerUnreachable(f"the issuer {issuer.url} names no authorization_endpoint")
    verifier, nonce = generate_token(48), secrets.token_urlsafe(24)
    async with _client(ctx) as client:
        url, state = client.create_authorization_url(endpoint, code_verifier=verifier, nonce=nonce)
    pending = {"state": state, "verifier": verifier, "nonce": nonce, "next": _local(request.args.get("next"))}
    response: Response = redirect(url, 303)  # type: ignore[assignment]
    response.headers.add(
        "Set-Cookie", _login_cookie(_pack({**pending, "at": time.time()}), secure=_secure(ctx))
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@signin.get(CALLBACK)
async def callback() -> Response:
    """The issuer sends the browser back here with a code: exchange it, check the ID token, and
    sign this browser in as the person."""
    ctx = web_context()
    issuer = _enabled(ctx)
    pending = _unpack(request.cookies.get(LOGIN_COOKIE))
    if request.args.get("error"):
        said = " ".join(str(request.args.get("error_description") or request.args["error"]).split())[:200]
        raise SignInFailed(f"the sign-in was not completed: {said}. Try again from /login")
    state, code = request.args.get("state"), request.args.get("code")
    if pending is None or time.time() - float(pending.get("at", 0)) > LOGIN_TTL_S:
        raise SignInFailed("this sign-in took too long or began in another browser: start again from /login")
    if not state or not code or not secrets.compare_digest(str(pending.get("state")), state):
        raise SignInFailed("this sign-in does not match the one this browser began: start again from /login")
    metadata = await issuer.metadata()
    async with _client(ctx) as client:
        try:
            tokens = await client.fetch_token(
                metadata["token_endpoint"], code=code, code_verifier=pending["verifier"], state=state
            )
        except (OAuthError, httpx.HTTPError, ValueError, KeyError) as exc:
            raise SignInFailed(f"the issuer did not exchange the sign-in code: {exc}"[:300]) from None
    claims = await _id_token_claims(ctx, issuer, tokens.get("id_token"), str(pending["nonce"]))
    person = principal_of(claims["sub"])
    user = current_user() or new_token()
    await ctx.hub.people.sign_in(user, person)
    secure = _secure(ctx)
    response: Response = redirect(_local(pending.get("next")), 303)  # type: ignore[assignment]
    response.headers.add("Set-Cookie", user_cookie_header(user, secure=secure))
    name = claims.get("name") or claims.get("preferred_username") or claims.get("email")
    try:
        response.headers.add("Set-Cookie", name_cookie_header(clean_name(name), secure=secure))
    except InvalidInput:
        pass  # no usable name in the token: the browser keeps the one it has
    response.headers.add("Set-Cookie", _login_cookie("", secure=secure, max_age=0))
    return response


async def _id_token_claims(ctx: WebContext, issuer: Issuer, id_token: Any, nonce: str) -> dict[str, Any]:
    if not isinstance(id_token, str):
        raise SignInFailed("the issuer sent no ID token: is 'openid' among the client's scopes?")
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError:
        raise SignInFailed("the issuer's ID token is not a JWT") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise SignInFailed(f"the ID token's algorithm {alg!r} is not accepted")
    key = await issuer.key(header.get("kid"))
    if key is None:
        raise SignInFailed("the ID token is signed by a key the issuer does not publish")
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key=key.key,
            algorithms=[alg],
            audience=ctx.config.oidc_client_id,
            issuer=await issuer.identifier(),
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise SignInFailed(f"the issuer's ID token is not valid: {exc}") from None
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise SignInFailed("the ID token was not made for this sign-in (nonce): start again from /login")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise SignInFailed("the ID token names nobody (sub)")
    return claims


@signin.post("/logout")
async def logout() -> Response:
    """Sign this browser out: it gets a new anonymous id (the maps it made stay the person's)."""
    ctx = web_context()
    user = current_user()
    if user is not None:
        await ctx.hub.people.sign_out(user)
    response: Response = redirect("/maps", 303)  # type: ignore[assignment]
    response.headers.add("Set-Cookie", user_cookie_header(new_token(), secure=_secure(ctx)))
    return response


@signin.get("/me")
async def me() -> Response:
    """Who this browser is: ``{"signed_in": bool, "name": ..., "sign_in": bool}``."""
    ctx = web_context()
    person = await ctx.hub.people.person_of(current_user())
    out = {
        "signed_in": person is not None,
        "name": name_from_cookies(request.headers.get("Cookie")) if person is not None else None,
        "sign_in": ctx.issuer is not None and bool(ctx.config.oidc_client_id),
    }
    return Response(dumps(out), content_type="application/json")
