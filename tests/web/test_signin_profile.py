"""The parts of sign-in a browser test cannot pin down, against an issuer served in memory
(httpx's MockTransport): the person's name from userinfo only when the ID token has none and only
when userinfo names the same subject; long names cut at a word; the ID token's nonce, audience and
clock leeway (``--oidc-leeway``); the issuer's discovery at start, its warnings and its backoff;
and where sign-out may send a browser back to."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import jwt
import pytest
import trio
from support import start_server
from support.openid import new_key

from mapsrv.config import Config, ConfigError
from mapsrv.http.tokens import Issuer
from mapsrv.web.idtoken import Profile, checked_claims, display_name, profile_of
from mapsrv.web.signin_pages import SignInFailed

ISSUER = "https://id.example"
KEY = new_key()
KID = "k1"


class FakeIssuer:
    """An issuer's discovery, keys and userinfo, in memory; ``down`` answers fail until cleared."""

    def __init__(self, userinfo: dict[str, Any] | None = None, *, down: int = 0, names: str = ISSUER) -> None:
        self.userinfo = userinfo
        self.down = down
        self.names = names
        self.asked: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url.path)
        if self.down:
            self.down -= 1
            return httpx.Response(503)
        if request.url.path == "/.well-known/openid-configuration":
            endpoints = {"jwks_uri": ISSUER + "/jwks", "userinfo_endpoint": ISSUER + "/userinfo"}
            return httpx.Response(200, json={"issuer": self.names, **endpoints})
        if request.url.path == "/jwks":
            public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
            return httpx.Response(200, json={"keys": [{**public, "kid": KID, "use": "sig"}]})
        if request.url.path == "/userinfo" and self.userinfo is not None:
            assert request.headers["authorization"] == "Bearer the-access-token"
            return httpx.Response(200, json=self.userinfo)
        return httpx.Response(404)

    def issuer(self) -> tuple[Issuer, httpx.AsyncClient]:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self))
        return Issuer(ISSUER, http=http), http


def id_token(**claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "mapsrv-web", "sub": "ana", "iat": now, "exp": now + 300, "nonce": "n1"}
    return jwt.encode({**body, **claims}, KEY, algorithm="RS256", headers={"kid": KID})


async def test_the_name_comes_from_userinfo_when_the_id_token_has_none() -> None:
    fake = FakeIssuer({"sub": "ana", "name": "Ana Lima", "email": "ana@example.org"})
    issuer, http = fake.issuer()
    got = await profile_of(issuer, {"sub": "ana"}, "the-access-token", http=http)
    assert got == Profile(name="Ana Lima", email="ana@example.org")
    fake.asked.clear()
    named = {"sub": "ana", "name": "Ana", "email": "a@example.org"}
    assert await profile_of(issuer, named, "the-access-token", http=http) == Profile("Ana", "a@example.org")
    assert "/userinfo" not in fake.asked, "the ID token said it all: userinfo is not asked"


async def test_userinfo_about_another_subject_is_not_used(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeIssuer({"sub": "mallory", "name": "Mallory", "email": "m@example.org"})
    issuer, http = fake.issuer()
    got = await profile_of(issuer, {"sub": "ana", "preferred_username": "ana"}, "the-access-token", http=http)
    assert got == Profile(name="ana", email=None)
    assert "another subject" in caplog.text


async def test_a_userinfo_that_fails_leaves_the_sign_in_going() -> None:
    issuer, http = FakeIssuer(None).issuer()  # userinfo answers 404
    assert await profile_of(
        issuer, {"sub": "ana", "email": "ana@example.org"}, "the-access-token", http=http
    ) == (Profile(name="ana@example.org", email="ana@example.org"))


def test_a_long_name_is_cut_at_a_word_and_a_bad_one_dropped() -> None:
    long = "Maria da Conceição Vasconcelos Ferreira de Albuquerque"
    assert display_name(long) == "Maria da Conceição Vasconcelos Ferreira"
    assert display_name("x" * 60) == "x" * 40
    assert display_name("Ana\u0000 \n Lima") == "Ana Lima"
    assert display_name("   ") is None and display_name(42) is None


@pytest.mark.parametrize(
    ("claims", "leeway", "refused"),
    [
        ({}, 30, None),
        ({"nonce": "another"}, 30, "nonce"),
        ({"aud": "another-client"}, 30, "(?i)audience"),
        ({"iss": "https://other.example"}, 30, "(?i)issuer"),
        ({"exp": -45}, 30, "(?i)expired"),  # exp 45 s ago
        ({"exp": -45}, 60, None),  # --oidc-leeway 60: a clock 45 s off is fine
    ],
)
async def test_the_id_token_is_checked_within_the_leeway(
    claims: dict[str, Any], leeway: float, refused: str | None
) -> None:
    issuer, _ = FakeIssuer().issuer()
    if "exp" in claims:
        claims = {**claims, "exp": int(time.time()) + claims["exp"]}
    check = checked_claims(issuer, id_token(**claims), client_id="mapsrv-web", nonce="n1", leeway=leeway)
    if refused is None:
        assert (await check)["sub"] == "ana"
        return
    with pytest.raises(SignInFailed, match=refused) as caught:
        await check
    assert caught.value.kind == "token"


async def test_discovery_at_start_warns_and_backs_off_until_the_issuer_answers(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeIssuer(down=3)
    issuer, _ = fake.issuer()
    started = trio.current_time()
    with trio.fail_after(60):
        await issuer.discover(first_delay=5, max_delay=8)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings  # the first try falls back to RFC 8414: two 503s, then one
    assert "trying again in 5 s" in warnings[0] and "trying again in 8 s" in warnings[1]
    assert trio.current_time() - started == pytest.approx(13)
    assert issuer.refetches == 1 and (await issuer.metadata())["jwks_uri"] == ISSUER + "/jwks"
    asked = len(fake.asked)
    await issuer.key(KID)
    assert len(fake.asked) == asked, "the sign-in after it asks nothing more"


async def test_discovery_names_an_issuer_that_is_not_this_one(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    issuer, _ = FakeIssuer(names="https://typo.example").issuer()
    with trio.move_on_after(20):
        await issuer.discover(first_delay=5, max_delay=5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) >= 3 and all("names another issuer" in w for w in warnings)


def test_the_leeway_is_a_setting_in_range() -> None:
    assert Config().oidc_leeway == 30
    assert Config.from_sources({"MAPSRV_OIDC_LEEWAY": "2m"}).oidc_leeway == 120
    assert Config.from_sources({}, {"oidc_leeway": "0"}).oidc_leeway == 0
    with pytest.raises(ConfigError, match=r"'oidc_leeway' has value 601\.0\. It must be between 0 and 600"):
        Config.from_sources({"MAPSRV_OIDC_LEEWAY": "601"})
    with pytest.raises(ConfigError, match=r"'oidc_leeway' has value '-1'\. Not a valid number or duration"):
        Config.from_sources({"MAPSRV_OIDC_LEEWAY": "-1"})


async def test_sign_out_sends_the_browser_back_only_to_this_server(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for back in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            page = (await http.get("/signed-out", params={"state": back})).text
            assert 'href="/login?next=/maps"' in page, back
        page = (await http.get("/signed-out", params={"state": "/m/abc"})).text
        assert 'href="/login?next=/m/abc"' in page
        out = await http.post(
            "/logout", data={"next": "//evil.example/"}, headers={"origin": server.url[:-1]}
        )
        assert out.status_code == 303 and out.headers["location"] == "/signed-out?next=%2Fmaps"
        cleared = out.headers.get_list("set-cookie")
        assert any(c.startswith("mapsrv_name=;") and "Max-Age=0" in c for c in cleared)
        assert any(c.startswith("mapsrv_id_token=;") and "Path=/logout" in c for c in cleared)
