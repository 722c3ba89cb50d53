"""The person a sign-in names: the ID token checked (OpenID Connect Core 3.1.3.7: the issuer's
keys, issuer, audience, expiry within ``--oidc-leeway``, nonce), and their name and email, from the
ID token, else from the issuer's userinfo endpoint.

Many providers put the name only at userinfo (oidc-provider, and Keycloak or Auth0 when the ID
token is kept small), so when the ID token has no name it is asked there with the sign-in's
access token; its answer counts only when its ``sub`` is the ID token's (Core 5.3.4), and a
userinfo that fails leaves the person signed in without a name from it, never signed out.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import trio

from mapsrv.core.changes import MAX_PERSON_NAME, clean_name
from mapsrv.errors import InvalidInput
from mapsrv.http.identity import clean_email
from mapsrv.http.tokens import ALGORITHMS, Issuer, IssuerUnreachable
from mapsrv.web.signin_pages import SignInFailed

__all__ = ["USERINFO_TIMEOUT_S", "Profile", "checked_claims", "display_name", "profile_of", "userinfo"]

log = logging.getLogger("mapsrv.auth")
USERINFO_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Profile:
    """Who signed in, as mapsrv shows them: a display name and an email, each if known."""

    name: str | None
    email: str | None


async def checked_claims(
    issuer: Issuer, id_token: Any, *, client_id: str, nonce: str, leeway: float
) -> dict[str, Any]:
    """The claims of a sign-in's ID token, once every check passed; ``SignInFailed`` saying which
    did not."""
    if not isinstance(id_token, str):
        raise SignInFailed(
            "the issuer sent no ID token: is 'openid' among the client's scopes?", kind="token"
        )
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError:
        raise SignInFailed("the issuer's ID token is not a JWT", kind="token") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise SignInFailed(f"the ID token's algorithm {alg!r} is not accepted", kind="token")
    key = await issuer.key(header.get("kid"))
    if key is None:
        raise SignInFailed("the ID token is signed by a key the issuer does not publish", kind="token")
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key=key.key,
            algorithms=[alg],
            audience=client_id,
            issuer=await issuer.identifier(),
            leeway=leeway,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise SignInFailed(f"the issuer's ID token is not valid: {exc}", kind="token") from None
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise SignInFailed("the ID token was not made for this sign-in (nonce)", kind="token")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise SignInFailed("the ID token names nobody (sub)", kind="token")
    return claims


def display_name(text: object) -> str | None:
    """A provider's name for the person as a display name: cleaned, and past ``MAX_PERSON_NAME``
    cut at a word (as many whole words as fit), rather than dropped."""
    if not isinstance(text, str):
        return None
    folded = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(folded) > MAX_PERSON_NAME:
        cut = folded[: MAX_PERSON_NAME + 1].rsplit(" ", 1)[0]
        folded = cut if 0 < len(cut) <= MAX_PERSON_NAME else folded[:MAX_PERSON_NAME]
    try:
        return clean_name(folded)
    except InvalidInput:
        return None


def _from(claims: dict[str, Any]) -> Profile:
    name = display_name(claims.get("name")) or display_name(
        " ".join(
            str(claims.get(k) or "") for k in ("given_name", "family_name") if isinstance(claims.get(k), str)
        )
    )
    return Profile(name=name, email=clean_email(claims.get("email")))


async def userinfo(
    issuer: Issuer, access_token: str, *, http: httpx.AsyncClient | None = None
) -> dict[str, Any]:
    """The person's claims from the issuer's userinfo endpoint (OpenID Connect Core 5.3), read
    with the access token of a sign-in; ``IssuerUnreachable`` when there is none or it fails (a
    failure here does not count the issuer as down: the sign-in goes on without them)."""
    endpoint = (await issuer.metadata()).get("userinfo_endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise IssuerUnreachable(f"the issuer {issuer.url} has no userinfo_endpoint")
    client = http or httpx.AsyncClient(timeout=USERINFO_TIMEOUT_S)
    headers = {"accept": "application/json", "authorization": f"Bearer {access_token}"}
    try:
        with trio.fail_after(USERINFO_TIMEOUT_S):
            response = await client.get(endpoint, headers=headers)
        response.raise_for_status()
        body = json.loads(response.content)
    except (httpx.HTTPError, ValueError, trio.TooSlowError) as exc:
        raise IssuerUnreachable(f"the issuer's userinfo failed ({type(exc).__name__})") from None
    finally:
        if http is None:
            await client.aclose()
    if not isinstance(body, dict):
        raise IssuerUnreachable("the issuer's userinfo is not a JSON object")
    return body


async def profile_of(
    issuer: Issuer, claims: dict[str, Any], access_token: object, *, http: httpx.AsyncClient | None = None
) -> Profile:
    """The person's name and email: the ID token's, else userinfo's, else their username or email
    as the name."""
    found = _from(claims)
    if (found.name is None or found.email is None) and isinstance(access_token, str) and access_token:
        try:
            info = await userinfo(issuer, access_token, http=http)
        except IssuerUnreachable as exc:
            log.warning("sign-in without the person's name from userinfo: %s", exc)
        else:
            if info.get("sub") == claims["sub"]:
                more = _from(info)
                found = Profile(name=found.name or more.name, email=found.email or more.email)
            else:
                log.warning("the issuer's userinfo names another subject than the ID token: not used")
    fallback = display_name(claims.get("preferred_username")) or display_name(found.email)
    return Profile(name=found.name or fallback, email=found.email)
