"""People sign in with an OpenID Connect provider (Keycloak, Entra ID, Google, Auth0, Dex...):
``GET /login`` sends the browser to the issuer (authorization code with PKCE, a ``state`` and a
``nonce``), ``GET /auth/callback`` takes it back, exchanges the code for tokens (Authlib's OAuth
client), checks the ID token (``mapsrv.web.idtoken``), learns the person's name and email (from
the ID token, else the issuer's userinfo) and signs this browser in as the person
(``mapsrv.hub.people``). ``GET /me`` says who this browser is; ``mapsrv.web.signout`` signs out.

What the round trip needs is kept in a short-lived cookie of its own (HttpOnly, SameSite=Lax,
ten minutes), never on the server, so the callback may land on any process. The name others see
(presence, changes) becomes the provider's name for the person; they can change it as before.
Every failure a browser meets here is a page (``mapsrv.web.signin_pages``), JSON for programs.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from quart import Blueprint, Response, g, redirect, request

from mapsrv.core.codec import dumps
from mapsrv.errors import MapsrvError
from mapsrv.http.identity import email_from_cookies, name_from_cookies
from mapsrv.http.tokens import IssuerUnreachable, principal_of
from mapsrv.hub import new_token
from mapsrv.web.context import WebContext, current_user, web_context
from mapsrv.web.idtoken import checked_claims, profile_of
from mapsrv.web.session import base_url, enabled, local, remember_person, secure
from mapsrv.web.signin_pages import SignInFailed, failure_page, provider_said

__all__ = ["LOGIN_COOKIE", "SCOPES", "SignInFailed", "callback", "login", "me", "signin"]

signin = Blueprint("signin", __name__)
signin.register_error_handler(MapsrvError, failure_page)

LOGIN_COOKIE = "mapsrv_login"
LOGIN_TTL_S = 600
SCOPES = "openid profile email"
CALLBACK = "/auth/callback"
TIMEOUT_S = 10.0


def _client(ctx: WebContext) -> AsyncOAuth2Client:
    secret = ctx.config.oidc_client_secret
    return AsyncOAuth2Client(
        client_id=ctx.config.oidc_client_id,
        client_secret=secret or None,
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        scope=SCOPES,
        redirect_uri=base_url(ctx) + CALLBACK,
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


def _login_cookie(value: str, *, on_https: bool, max_age: int = LOGIN_TTL_S) -> str:
    flags = "; Secure" if on_https else ""
    return f"{LOGIN_COOKIE}={value}; Path={CALLBACK}; Max-Age={max_age}; HttpOnly; SameSite=Lax{flags}"


@signin.get("/login")
async def login() -> Response:
    """To the issuer's sign-in page; back to ``?next=`` (a path here) afterwards."""
    ctx = web_context()
    g.signin_back = local(request.args.get("next"))
    issuer = enabled(ctx)
    endpoint = (await issuer.metadata()).get("authorization_endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise IssuerUnreachable(f"the issuer {issuer.url} names no authorization_endpoint")
    verifier, nonce = generate_token(48), secrets.token_urlsafe(24)
    async with _client(ctx) as client:
        url, state = client.create_authorization_url(endpoint, code_verifier=verifier, nonce=nonce)
    pending = {"state": state, "verifier": verifier, "nonce": nonce, "next": g.signin_back}
    response: Response = redirect(url, 303)  # type: ignore[assignment]
    response.headers.add(
        "Set-Cookie", _login_cookie(_pack({**pending, "at": time.time()}), on_https=secure(ctx))
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _pending() -> dict[str, Any]:
    """The sign-in this browser began, if it is this one and still fresh; ``SignInFailed`` else."""
    pending = _unpack(request.cookies.get(LOGIN_COOKIE))
    if pending is not None:
        g.signin_back = local(pending.get("next"))
    error = request.args.get("error")
    if error:
        said = provider_said(request.args.get("error_description") or error)
        kind = "cancelled" if error in ("access_denied", "login_required", "consent_required") else "refused"
        raise SignInFailed(
            f"the sign-in was not completed: {said}. Try again from /login", kind=kind, said=said
        )
    state, code = request.args.get("state"), request.args.get("code")
    if pending is None or time.time() - float(pending.get("at", 0)) > LOGIN_TTL_S:
        raise SignInFailed("this sign-in took too long or began in another browser: start again from /login")
    if not state or not code or not secrets.compare_digest(str(pending.get("state")), state):
        raise SignInFailed("this sign-in does not match the one this browser began: start again from /login")
    return pending


@signin.get(CALLBACK)
async def callback() -> Response:
    """The issuer sends the browser back here with a code: exchange it, check the ID token, and
    sign this browser in as the person."""
    ctx = web_context()
    issuer = enabled(ctx)
    pending = _pending()
    metadata = await issuer.metadata()
    async with _client(ctx) as client:
        try:
            tokens = await client.fetch_token(
                metadata["token_endpoint"], code=request.args["code"], code_verifier=pending["verifier"],
                state=request.args["state"],
            )  # fmt: skip
        except httpx.HTTPError as exc:
            raise IssuerUnreachable(
                f"the issuer {issuer.url} did not answer ({type(exc).__name__})"
            ) from None
        except (OAuthError, ValueError, KeyError) as exc:
            raise SignInFailed(
                f"the issuer did not exchange the sign-in code: {exc}"[:300], kind="token"
            ) from None
    id_token = tokens.get("id_token")
    claims = await checked_claims(
        issuer, id_token, client_id=ctx.config.oidc_client_id, nonce=str(pending["nonce"]),
        leeway=ctx.config.oidc_leeway,
    )  # fmt: skip
    profile = await profile_of(issuer, claims, tokens.get("access_token"))
    user = current_user() or new_token()
    await ctx.hub.people.sign_in(user, principal_of(claims["sub"]))
    response: Response = redirect(g.signin_back, 303)  # type: ignore[assignment]
    remember_person(response, ctx, user, name=profile.name, email=profile.email, id_token=str(id_token))
    response.headers.add("Set-Cookie", _login_cookie("", on_https=secure(ctx), max_age=0))
    return response


@signin.get("/me")
async def me() -> Response:
    """Who this browser is: ``{"signed_in": bool, "name": ..., "email": ..., "sign_in": bool}``."""
    ctx = web_context()
    person = await ctx.hub.people.person_of(current_user())
    cookies = request.headers.get("Cookie")
    out = {
        "signed_in": person is not None,
        "name": name_from_cookies(cookies) if person is not None else None,
        "email": email_from_cookies(cookies) if person is not None else None,
        "sign_in": ctx.issuer is not None and bool(ctx.config.oidc_client_id),
    }
    return Response(dumps(out), content_type="application/json")
