"""MCP authorization: mapsrv as an OAuth 2.1 resource server for its MCP endpoints.

With an OpenID Connect issuer configured, an MCP client presents an access token the issuer
made for this server (RFC 8707: its ``aud`` is mapsrv's MCP URL, the *resource*). A token is a
JWT checked here for its signature (the issuer's published keys, JWKS), issuer, audience, expiry
and scopes (``maps:read`` to use the maps, ``maps:write`` to change them); it is never passed on.
The token's subject is the person the agent acts for: ``oidc:<sub>`` is the principal that owns
what the agent makes.

The issuer's metadata (OpenID discovery, else RFC 8414) and keys are fetched on first use and
kept: a token signed with a key id not seen yet refetches the keys (the issuer rotated them), at
most once per ``REFETCH_S``, so a stream of made-up key ids cannot make mapsrv hammer the issuer;
the keys are refetched anyway after ``KEYS_TTL_S``. A token already checked is remembered until it
expires (at most ``CACHE_SIZE`` of them, each for the one resource it was checked for), so a
session's every request costs a dictionary lookup; past its ``exp`` (and the leeway) it is refused.
``/.well-known/oauth-protected-resource/mcp`` (RFC 9728) tells clients where to get tokens; a
request without a token gets 401 with ``WWW-Authenticate: Bearer resource_metadata=...`` and no
error code (RFC 6750 section 3.1), one with a bad token ``error="invalid_token"``, one with too
few scopes 403 ``error="insufficient_scope"`` and the ``scope`` it needs.

The resource is a ``Resource``: which of mapsrv's names it is (the host the client used, or the
public URL) is decided by ``mapsrv.mcp.authorization``; a token is accepted only for the resource
its ``aud`` names (RFC 8707), never for another name of the same server.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import jwt
import trio

from mapsrv.errors import MapsrvError, Unavailable
from mapsrv.http.bearer import READ, SCOPES, WRITE, bearer_challenge

log = logging.getLogger("mapsrv.auth")
T = TypeVar("T")

__all__ = [
    "ALGORITHMS",
    "PERSON_PREFIX",
    "READ",
    "SCOPES",
    "WRITE",
    "AccessTokens",
    "Grant",
    "Issuer",
    "IssuerUnreachable",
    "Resource",
    "TokenRefused",
    "is_person",
    "principal_of",
]

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_S = 30  # clocks differ
REFETCH_S = 30.0  # at most one key refetch per this long for an unknown key id
KEYS_TTL_S = 3600.0  # the keys are fetched again after this long, rotation or not
FETCH_TIMEOUT_S = 5.0  # for the issuer's metadata or keys, in all
RETRY_S = 5.0  # after a failed fetch, the issuer counts as down for this long
DISCOVERY_MAX_DELAY_S = 300.0  # the longest wait between tries of the discovery at start
CACHE_SIZE = 4096  # tokens already checked, kept until they expire
MAX_TOKEN = 16 * 1024  # longer is not a token


class TokenRefused(MapsrvError):
    """No usable token: 401 (no token: no error code; a bad one: ``invalid_token``) or 403
    (``insufficient_scope``), each with the ``WWW-Authenticate`` challenge that tells the client
    what to do."""

    status = 401
    jsonrpc_code = -32001
    code = "unauthorized"

    def __init__(self, message: str, *, metadata_url: str, error: str | None = "invalid_token") -> None:
        super().__init__(message)
        self.error = error
        self.metadata_url = metadata_url
        if error == "insufficient_scope":
            self.status, self.code, self.jsonrpc_code = 403, "forbidden", -32003

    def headers(self) -> list[tuple[str, str]]:
        return [("WWW-Authenticate", bearer_challenge(self.metadata_url, self.error, str(self)))]


class IssuerUnreachable(Unavailable):
    """The issuer's metadata or keys could not be fetched: 503, try again in 5 s."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=5)


@dataclass(frozen=True)
class Resource:
    """One name of mapsrv's MCP endpoint as a protected resource: its URL (what a token's ``aud``
    must be) and where its RFC 9728 metadata is (what a challenge points to)."""

    url: str
    metadata_url: str

    def refuse(self, message: str, error: str | None = "invalid_token") -> TokenRefused:
        return TokenRefused(message, metadata_url=self.metadata_url, error=error)


PERSON_PREFIX = "oidc:"


def principal_of(subject: str) -> str:
    """The principal a person is to the store: never an API key's name (those have no ``:``)."""
    return PERSON_PREFIX + subject


def is_person(principal: str | None) -> bool:
    """Whether a principal is a person (signed in, or acted for with an access token)."""
    return principal is not None and principal.startswith(PERSON_PREFIX)


@dataclass(frozen=True)
class Grant:
    """What a checked token lets its bearer do, and for whom."""

    principal: str  # oidc:<sub>
    subject: str
    scopes: frozenset[str]
    client_id: str  # the OAuth client the person authorized (azp or client_id), if the token says
    name: str  # the person's name if the token carries one
    expires_at: float
    client_name: str = ""  # the client's name as the person approved it (``client_name``), if any

    @property
    def can_write(self) -> bool:
        return WRITE in self.scopes


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, list):
        return frozenset(s for s in scp if isinstance(s, str))
    if isinstance(scp, str):
        return frozenset(scp.split())
    return frozenset()


class Issuer:
    """One OpenID Connect issuer: its metadata (OpenID discovery, else RFC 8414) and its signing
    keys, fetched on first use and kept (see the module's docstring), or at start by ``discover``.
    MCP's token checks and the people's sign-in (``mapsrv.web.signin``) share one."""

    def __init__(self, url: str, *, http: httpx.AsyncClient | None = None, leeway: float = LEEWAY_S) -> None:
        self.url = url.rstrip("/")
        self.leeway = leeway  # seconds of clock difference allowed on exp, iat, nbf (--oidc-leeway)
        self._http = http
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._keys_at = float("-inf")
        self._refetched_at = float("-inf")
        self._fetching = trio.Lock()
        self._down_until = float("-inf")  # after a failed fetch, answer at once until then
        self._down_reason = ""
        self.refetches = 0  # key fetches, for tests and metrics

    async def identifier(self) -> str:
        """The issuer exactly as its metadata and tokens name it (``iss``; some end in ``/``)."""
        return str((await self.metadata())["issuer"])

    async def metadata(self) -> dict[str, Any]:
        """The issuer's metadata (``authorization_endpoint``, ``token_endpoint``, ``jwks_uri``...)."""
        if self._metadata is None:
            self._metadata = await self._fetching_bounded(self._discover)
        return self._metadata

    async def _fetching_bounded(self, fetch: Callable[[], Awaitable[T]]) -> T:
        """``fetch()`` within ``FETCH_TIMEOUT_S`` in all; a failure is remembered for
        ``RETRY_S``, so that while the issuer is down or hung every request is answered at once
        rather than each waiting out the timeout."""
        if time.monotonic() < self._down_until:
            raise IssuerUnreachable(self._down_reason)
        try:
            with trio.fail_after(FETCH_TIMEOUT_S):
                return await fetch()
        except (IssuerUnreachable, trio.TooSlowError) as exc:
            reason = (
                str(exc)
                if isinstance(exc, IssuerUnreachable)
                else f"the issuer {self.url} did not answer within {FETCH_TIMEOUT_S:g} s: try again later"
            )
            self._down_until, self._down_reason = time.monotonic() + RETRY_S, reason
            raise IssuerUnreachable(reason) from None

    async def key(self, kid: Any) -> jwt.PyJWK | None:
        """The issuer's signing key ``kid``, or None when it publishes no such key. Keys older
        than ``KEYS_TTL_S`` are fetched again; while the issuer cannot be reached the ones known
        stay in use."""
        now = time.monotonic()
        if now - self._keys_at > KEYS_TTL_S:
            try:
                await self._fetch_keys(now)
            except IssuerUnreachable:
                if not self._keys:
                    raise
                log.warning("the issuer %s cannot be reached: its keys known so far stay in use", self.url)
        key = self._find(kid)
        if key is None and now - self._refetched_at > REFETCH_S:
            self._refetched_at = now
            await self._fetch_keys(now)  # the issuer may have rotated its keys
            key = self._find(kid)
        return key

    def _find(self, kid: Any) -> jwt.PyJWK | None:
        if isinstance(kid, str):
            return self._keys.get(kid)
        return next(iter(self._keys.values())) if len(self._keys) == 1 else None

    async def _fetch_keys(self, now: float) -> None:
        async with self._fetching:
            if self._keys_at >= now:  # fetched while this task waited
                return
            uri = (await self.metadata()).get("jwks_uri")
            if not isinstance(uri, str) or not uri:
                raise IssuerUnreachable(f"the issuer {self.url} publishes no keys (jwks_uri)")
            jwks = await self._fetching_bounded(lambda: self._get_json(uri))
            keys: dict[str, jwt.PyJWK] = {}
            for index, entry in enumerate(jwks.get("keys") or []):
                if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                    continue
                try:
                    key = jwt.PyJWK(entry)
                except jwt.PyJWTError:
                    continue  # a key type this library cannot use: not one tokens are signed with
                keys[str(entry.get("kid", index))] = key
            self._keys, self._keys_at = keys, time.monotonic()
            self.refetches += 1

    async def _discover(self) -> dict[str, Any]:
        for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
            try:
                found = await self._get_json(self.url + path)
            except IssuerUnreachable:
                continue
            if str(found.get("issuer", "")).rstrip("/") != self.url:
                raise IssuerUnreachable(
                    f"the issuer's metadata names another issuer: {found.get('issuer')!r}"
                )
            return found
        raise IssuerUnreachable(f"cannot read the metadata of the issuer {self.url}: try again later")

    async def _get_json(self, url: str) -> dict[str, Any]:
        http = self._http or httpx.AsyncClient(timeout=FETCH_TIMEOUT_S)
        try:
            response = await http.get(url, headers={"accept": "application/json"})
            response.raise_for_status()
            body = json.loads(response.content)
        except (httpx.HTTPError, ValueError) as exc:
            raise IssuerUnreachable(
                f"cannot reach the issuer {self.url} ({type(exc).__name__}): try again later"
            ) from None
        finally:
            if self._http is None:
                await http.aclose()
        if not isinstance(body, dict):
            raise IssuerUnreachable(f"the issuer's {url} is not a JSON object")
        return body

    async def discover(
        self, *, first_delay: float = RETRY_S, max_delay: float = DISCOVERY_MAX_DELAY_S
    ) -> None:
        """Fetch the metadata and keys now (``mapsrv serve`` runs this at start), so that a typo in
        ``--oidc-issuer`` or an issuer that is down shows in the log at once, not as a 503 at the
        first sign-in. Each failure logs a warning and is tried again, the wait doubling from
        ``first_delay`` to ``max_delay``; returns once both are had."""
        delay = first_delay
        while True:
            try:
                with trio.fail_after(FETCH_TIMEOUT_S):
                    metadata = await self._discover()
                self._metadata, self._down_until = metadata, float("-inf")
                await self._fetch_keys(time.monotonic())
            except (IssuerUnreachable, trio.TooSlowError) as exc:
                reason = str(exc) or f"the issuer {self.url} did not answer within {FETCH_TIMEOUT_S:g} s"
                log.warning(
                    "OpenID issuer %s cannot be used (%s): sign-in and MCP tokens fail until it can;"
                    " trying again in %g s",
                    self.url,
                    reason,
                    delay,
                )
            else:
                log.info("OpenID issuer %s: metadata and %d signing keys fetched", self.url, len(self._keys))
                return
            await trio.sleep(delay)
            delay = min(delay * 2, max_delay)


class AccessTokens:
    """Checks access tokens from ``issuer``, each for the ``Resource`` it is presented to (see the
    module's docstring). ``clock`` is the wall clock tokens' ``exp`` is read against."""

    def __init__(self, issuer: Issuer, *, clock: Callable[[], float] = time.time) -> None:
        self.issuer = issuer
        self._clock = clock
        self._checked: OrderedDict[bytes, Grant] = OrderedDict()

    async def check(self, token: str | None, resource: Resource) -> Grant:
        """The grant of a valid token for ``resource``, else ``TokenRefused`` saying why."""
        if not token:
            raise resource.refuse(
                "this server needs an access token: send Authorization: Bearer <token>", error=None
            )
        if len(token) > MAX_TOKEN:
            raise resource.refuse("the access token is too long to be one")
        # A grant is remembered for the resource it was checked for: the same token presented to
        # another name of this server is checked again (and refused: its audience is the other).
        digest = hashlib.sha256(resource.url.encode() + b"\0" + token.encode()).digest()
        known = self._checked.get(digest)
        if known is not None:
            if known.expires_at + self.issuer.leeway > self._clock():
                self._checked.move_to_end(digest)
                return known
            del self._checked[digest]
            raise resource.refuse("the access token expired: get a new one")
        grant = await self._verify(token, resource)
        self._checked[digest] = grant
        while len(self._checked) > CACHE_SIZE:
            self._checked.popitem(last=False)
        return grant

    async def _verify(self, token: str, resource: Resource) -> Grant:
        refuse = resource.refuse
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise refuse("the access token is not a JWT") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise refuse(f"the access token's algorithm {alg!r} is not accepted") from None
        key = await self.issuer.key(header.get("kid"))
        if key is None:
            raise refuse("the access token is signed by a key the issuer does not publish")
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=resource.url,
                issuer=await self.issuer.identifier(),
                leeway=self.issuer.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise refuse("the access token expired: get a new one") from None
        except jwt.InvalidAudienceError:
            raise refuse(
                f"the access token is for another resource: its audience must be {resource.url}"
            ) from None
        except jwt.InvalidIssuerError:
            raise refuse(
                f"the access token comes from another issuer: this server trusts {self.issuer.url}"
            ) from None
        except jwt.InvalidSignatureError:
            raise refuse("the access token's signature does not verify with the issuer's keys") from None
        except jwt.MissingRequiredClaimError as exc:
            raise refuse(f"the access token has no {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            raise refuse(f"the access token is not valid: {exc}") from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise refuse("the access token names nobody (sub)")
        scopes = _scopes(claims)
        if READ not in scopes and WRITE not in scopes:
            raise refuse(f"the access token grants neither {READ} nor {WRITE}", "insufficient_scope")
        return Grant(
            principal=principal_of(subject),
            subject=subject,
            scopes=scopes,
            client_id=_text(claims.get("azp") or claims.get("client_id")),
            name=_text(claims.get("name") or claims.get("preferred_username")),
            client_name=_text(claims.get("client_name")),
            expires_at=float(claims["exp"]),
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
