"""Signing out: ``POST /logout`` ends this browser's session as the person and clears every
cookie that names them (``mapsrv.web.session``), then, when the issuer's metadata has an
``end_session_endpoint``, ends their session at the issuer too (OpenID Connect RP-Initiated Logout
1.0: ``id_token_hint``, ``post_logout_redirect_uri``, ``client_id``, ``state``), so that "Sign in"
on a shared computer asks for the password again. ``GET /signed-out`` is where the issuer sends
the browser back: a page that says what happened, since a signed-out browser no longer opens the
person's maps, and /maps alone would look like they were lost.

The page that answers ``POST /logout`` goes on to the issuer itself (a refresh, with a link):
a redirect would not do, since the map page's Content-Security-Policy (``form-action 'self'``)
stops a form's redirect to another site.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

from quart import Blueprint, Response, g, redirect, request

from mapsrv.errors import MapsrvError
from mapsrv.http.templates import render
from mapsrv.http.tokens import IssuerUnreachable
from mapsrv.web.context import WebContext, current_user, web_context
from mapsrv.web.session import ID_TOKEN_COOKIE, LOGOUT, SIGNED_OUT, base_url, forget_person, local
from mapsrv.web.signin_pages import failure_page, wants_html
from mapsrv.web.static import SIGNED_OUT_TEMPLATE

__all__ = ["logout", "signed_out", "signout"]

signout = Blueprint("signout", __name__)
signout.register_error_handler(MapsrvError, failure_page)

UNREACHABLE = "unreachable"


async def _end_session(ctx: WebContext, back: str) -> str | None:
    """The issuer's sign-out URL for this browser, None when it has none; ``IssuerUnreachable``
    when its metadata cannot be had."""
    if ctx.issuer is None or not ctx.config.oidc_client_id:
        return None
    endpoint = (await ctx.issuer.metadata()).get("end_session_endpoint")
    if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https"):
        return None
    params = {
        "client_id": ctx.config.oidc_client_id,
        "post_logout_redirect_uri": base_url(ctx) + SIGNED_OUT,
        "state": back,
    }
    hint = request.cookies.get(ID_TOKEN_COOKIE, "")
    if hint.count(".") == 2 and hint.isascii():
        params["id_token_hint"] = hint
    return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)


@signout.post(LOGOUT)
async def logout() -> Response:
    """Sign this browser out here and at the issuer (the maps it made stay the person's)."""
    ctx = web_context()
    user = current_user()
    if user is not None:
        await ctx.hub.people.sign_out(user)
    back = local((await request.form).get("next"))
    g.signin_back = back
    try:
        end = await _end_session(ctx, back)
    except IssuerUnreachable:
        end, note = None, UNREACHABLE
    else:
        note = ""
    response: Response
    if end is None:
        query = urlencode({"next": back, **({"provider": note} if note else {})})
        response = redirect(f"{SIGNED_OUT}?{query}", 303)  # type: ignore[assignment]
    elif wants_html():
        host = urlsplit(end).hostname or "the sign-in provider"
        page = render("mapsrv.web", SIGNED_OUT_TEMPLATE, continue_url=end, provider=host, provider_note="",
                      sign_in_url="")  # fmt: skip
        response = Response(page, content_type="text/html")
    else:
        response = redirect(end, 303)  # type: ignore[assignment]
    forget_person(response, ctx)
    response.headers["Cache-Control"] = "no-store"
    return response


@signout.get(SIGNED_OUT)
async def signed_out() -> Response:
    """After sign-out: what happened, and the way back in (to the map they were on)."""
    ctx = web_context()
    if await ctx.hub.people.person_of(current_user()) is not None:
        return redirect("/maps", 303)  # type: ignore[return-value]  # not signed out: nothing to say
    back = local(request.args.get("state") or request.args.get("next"))
    note = (
        "The sign-in provider could not be reached, so you may still be signed in there: on a shared"
        " computer, sign out on its site too."
        if request.args.get("provider") == UNREACHABLE
        else ""
    )
    page = render(
        "mapsrv.web",
        SIGNED_OUT_TEMPLATE,
        continue_url="",
        provider="",
        provider_note=note,
        sign_in_url="/login?next=" + quote(back, safe="/"),
    )
    return Response(page, content_type="text/html")
