"""What ``mapsrv.http.tokens`` remembers, and for how long (issue 44's audit): a token already
checked is taken from memory only until its ``exp`` plus the leeway, and only for the resource it
was checked for; an issuer that cannot be reached is remembered as down for its retry delay, so
the requests meanwhile are answered at once instead of each asking again; an issuer whose
metadata names another issuer is not used. The issuer here is an ``httpx.MockTransport`` that
counts what it is asked (the real provider runs in tests/mcp/test_authorization*.py)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import jwt
import pytest
from support.openid import new_key, private_jwk

from mapsrv.http.tokens import LEEWAY_S, AccessTokens, Issuer, IssuerUnreachable, Resource, TokenRefused

ISSUER = "https://issuer.example"
HERE = Resource("http://localhost:8000/mcp", "http://localhost:8000/.well-known/oauth-protected-resource/mcp")
KEY, KID = new_key(), "k1"


def mock_issuer(asked: list[str], *, metadata: dict[str, Any] | None = None, down: bool = False) -> Issuer:
    public = {k: v for k, v in private_jwk(KEY, KID).items() if k in ("kty", "n", "e", "kid", "use", "alg")}

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if down:
            return httpx.Response(503)
        if request.url.path == "/.well-known/openid-configuration":
            body = metadata or {"issuer": ISSUER, "jwks_uri": ISSUER + "/jwks"}
            return httpx.Response(200, content=json.dumps(body))
        if request.url.path == "/jwks":
            return httpx.Response(200, content=json.dumps({"keys": [public]}))
        return httpx.Response(404)

    return Issuer(ISSUER, http=httpx.AsyncClient(transport=httpx.MockTransport(answer)))


def token(**claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": HERE.url, "sub": "ana", "scope": "maps:read", "iat": now, "exp": now + 60}
    return jwt.encode({**body, **claims}, KEY, algorithm="RS256", headers={"kid": KID})


async def test_a_remembered_token_is_refused_once_past_its_exp_and_the_leeway() -> None:
    now = [time.time()]
    tokens = AccessTokens(mock_issuer([]), clock=lambda: now[0])
    bearer = token()
    grant = await tokens.check(bearer, HERE)
    assert grant.principal == "oidc:ana"

    now[0] = grant.expires_at + LEEWAY_S - 1  # within the leeway: still the remembered grant
    assert await tokens.check(bearer, HERE) is grant
    now[0] = grant.expires_at + LEEWAY_S + 1  # past it: refused, not taken from memory
    with pytest.raises(TokenRefused, match="expired") as refused:
        await tokens.check(bearer, HERE)
    assert refused.value.error == "invalid_token"


async def test_a_remembered_token_is_remembered_for_its_resource_only() -> None:
    tokens = AccessTokens(mock_issuer([]))
    bearer = token()
    await tokens.check(bearer, HERE)
    elsewhere = Resource("http://127.0.0.1:8000/mcp", "http://127.0.0.1:8000/meta")
    with pytest.raises(TokenRefused, match=re.escape("its audience must be http://127.0.0.1:8000/mcp")):
        await tokens.check(bearer, elsewhere)


async def test_an_unreachable_issuer_is_remembered_as_down_for_its_retry_delay() -> None:
    asked: list[str] = []
    tokens = AccessTokens(mock_issuer(asked, down=True))
    with pytest.raises(IssuerUnreachable, match="cannot read the metadata"):
        await tokens.check(token(), HERE)
    tried = len(asked)
    assert tried > 0
    for _ in range(3):
        with pytest.raises(IssuerUnreachable):
            await tokens.check(token(), HERE)
    assert len(asked) == tried, "asked the issuer again within its retry delay"


async def test_an_issuer_whose_metadata_names_another_issuer_is_not_used() -> None:
    asked: list[str] = []
    other = {"issuer": "https://evil.example", "jwks_uri": ISSUER + "/jwks"}
    tokens = AccessTokens(mock_issuer(asked, metadata=other))
    with pytest.raises(IssuerUnreachable, match=re.escape("names another issuer: 'https://evil.example'")):
        await tokens.check(token(iss="https://evil.example"), HERE)
    assert "/jwks" not in asked


async def test_a_request_without_a_token_is_refused_without_an_error_code() -> None:
    with pytest.raises(TokenRefused) as refused:
        await AccessTokens(mock_issuer([])).check(None, HERE)
    assert refused.value.status == 401
    assert refused.value.headers() == [
        ("WWW-Authenticate", f'Bearer resource_metadata="{HERE.metadata_url}", scope="maps:read maps:write"')
    ]
