"""What a person sees when a sign-in does not work: a page in mapsrv's style that says what
happened, what to do, and links to try again (``/login``) and back to where they were (the map,
or ``/maps``). A program (it does not ask for ``text/html`` first) gets the usual JSON error.

The failures a browser can meet: the person cancelled at the provider (``?error=access_denied``),
the provider refused for another reason, a callback that is stale or not this browser's, an issuer
that is down, an answer from the issuer that fails mapsrv's checks, and a server without sign-in.
The provider's ``error_description`` is its text, not ours: shown as text (the template escapes
every value), folded to one line and cut to ``MAX_SAID`` characters.
"""

from __future__ import annotations

from urllib.parse import quote

from quart import Response, g, request

from mapsrv.errors import MapsrvError, NotFound, Unavailable
from mapsrv.http.responses import error_body, error_headers
from mapsrv.http.templates import render
from mapsrv.web.static import SIGNIN_FAILED_TEMPLATE

__all__ = ["KINDS", "MAX_SAID", "STOPPED", "SignInFailed", "failure_page", "provider_said", "wants_html"]

MAX_SAID = 200

# kind: (title, what to do)
KINDS = {
    "cancelled": (
        "Sign-in cancelled",
        "Try again when you are ready. You can also go on without signing in: the maps you make"
        " stay in this browser, and become yours when you sign in.",
    ),
    "refused": (
        "The sign-in provider did not sign you in",
        "Try again. If it says the same again, ask whoever runs this server or the provider.",
    ),
    "stale": (
        "This sign-in is out of date",
        "Start again: a sign-in must finish within ten minutes, in the browser where it began,"
        " and each one can be used once.",
    ),
    "token": (
        "The sign-in could not be checked",
        "Try again. If it keeps happening, whoever runs this server should check its OpenID"
        " settings (--oidc-issuer, --oidc-client-id) and its clock.",
    ),
    "down": (
        "The sign-in provider cannot be reached",
        "Try again in a minute. Your maps are safe meanwhile, and you can keep drawing without signing in.",
    ),
    "off": (
        "Sign-in is not set up on this server",
        "Maps on this server belong to the browser that made them. Whoever runs it can turn"
        " sign-in on with --oidc-issuer and --oidc-client-id.",
    ),
}

# what happened, when the provider's own words follow (its error_description)
STOPPED = {
    "cancelled": "The sign-in was stopped at the sign-in provider before it finished.",
    "refused": "The sign-in provider ended the sign-in without signing you in.",
}


class SignInFailed(MapsrvError):
    """A sign-in that cannot go on; ``kind`` (one of ``KINDS``) picks the page a browser sees,
    ``said`` is what the provider said about it, if anything."""

    status = 400
    code = "sign_in_failed"

    def __init__(self, message: str, *, kind: str = "stale", said: str = "") -> None:
        super().__init__(message)
        self.kind = kind if kind in KINDS else "stale"
        self.said = said


def provider_said(text: object) -> str:
    """The provider's own words about a failure, as one line of at most ``MAX_SAID`` characters."""
    folded = " ".join("".join(c if c.isprintable() else " " for c in str(text or "")).split())
    return folded if len(folded) <= MAX_SAID else folded[: MAX_SAID - 1] + "…"


def wants_html() -> bool:
    return request.accept_mimetypes.best_match(("application/json", "text/html")) == "text/html"


def _kind(exc: MapsrvError) -> str:
    if isinstance(exc, SignInFailed):
        return exc.kind
    if isinstance(exc, Unavailable):
        return "down"
    return "off" if isinstance(exc, NotFound) else "token"


def failure_page(exc: MapsrvError) -> Response:
    """The error as a page for a browser, as JSON for anyone else."""
    if not wants_html():
        response = Response(error_body(exc), status=exc.status)
        for name, value in error_headers(exc):
            response.headers[name] = value
        return response
    kind = _kind(exc)
    title, todo = KINDS[kind]
    said = exc.said if isinstance(exc, SignInFailed) else ""
    back = str(getattr(g, "signin_back", "") or "/maps")
    on_map = back.startswith(("/m/", "/e/"))
    page = render(
        "mapsrv.web",
        SIGNIN_FAILED_TEMPLATE,
        kind=kind,
        title=title,
        what=STOPPED.get(kind, "") if said else exc.message[:1].upper() + exc.message[1:],
        said=said,
        todo=todo,
        try_url="" if kind == "off" else "/login?next=" + quote(back, safe="/"),
        back_url=back,
        back_label="Back to the map" if on_map else "Your maps",
    )
    response = Response(page, status=exc.status, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    for name, value in exc.headers():
        response.headers[name] = value
    return response
