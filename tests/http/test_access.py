"""mapsrv.http.identity, mapsrv.http.guards and mapsrv.hub.access without a server: the user
cookie, API keys, who a client is behind a proxy, and the edges of the Host and Origin checks
(the routes that apply them: tests/http/test_guards.py)."""

from __future__ import annotations

from typing import Any

import pytest

from mapsrv.config import Config
from mapsrv.errors import NotFound
from mapsrv.http.guards import host_allowed, origin_allowed, origin_of, parse_host
from mapsrv.http.identity import USER_COOKIE, ApiKeys, ClientIdentity, user_cookie_header, user_from_cookies
from mapsrv.hub import MapHub
from mapsrv.hub.access import resolve, unclaimed

USER = "u" * 22


@pytest.mark.parametrize(
    ("header", "user"),
    [
        (None, None),
        ("", None),
        (f"{USER_COOKIE}={USER}", USER),
        (f"theme=dark; {USER_COOKIE}={USER}; lang=en", USER),
        (f"{USER_COOKIE}={'a' * 16}", "a" * 16),
        (f"{USER_COOKIE}={'a' * 64}", "a" * 64),
        (f"{USER_COOKIE}={'a' * 15}", None),
        (f"{USER_COOKIE}={'a' * 65}", None),
        (f"{USER_COOKIE}=abcdefghijklmnop!", None),
        (f"other={USER}", None),
        ('mapsrv_user="unterminated', None),
    ],
)
def test_the_user_cookie_is_a_token_or_nothing(header: str | None, user: str | None) -> None:
    assert user_from_cookies(header) == user


def test_the_user_cookie_header() -> None:
    plain = f"{USER_COOKIE}={USER}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"
    assert user_cookie_header(USER, secure=False) == plain
    assert user_cookie_header(USER, secure=True) == plain + "; Secure"


def test_api_keys_name_their_principal() -> None:
    keys = ApiKeys(["alice:s3cret-a", "unnamed-secret", "bob:with:colon"])
    assert keys.enabled and not ApiKeys([]).enabled
    assert keys.principal({"X-API-Key": "s3cret-a"}) == "alice"
    assert keys.principal({"x-api-key": "unnamed-secret"}) == "key2", "named by its place, from 1"
    assert keys.principal({"Authorization": "Bearer with:colon "}) == "bob"
    assert keys.principal({"authorization": "bEARER s3cret-a"}) == "alice"
    assert keys.principal({"Authorization": "Bearer s3cret-a", "X-API-Key": "wrong"}) == "alice"
    refused = [{"X-API-Key": "wrong"}, {"Authorization": "Bearer "}, {"X-API-Key": ""},
               {"Authorization": "Basic s3cret-a"}, {"X-API-Key": "s3cret"},
               {"X-API-Key": "alice"}]  # fmt: skip
    for headers in (None, {}, *refused):
        assert keys.principal(headers) is None, headers
    assert ApiKeys([]).principal({"X-API-Key": "s3cret-a"}) is None


def test_api_keys_name_a_requests_principal_once() -> None:
    """``principal_of`` reads an ASGI request's raw headers as ``principal`` reads a mapping, and
    remembers the answer in the request's scope (the throttle, the endpoint and the tools ask)."""
    keys = ApiKeys(["alice:s3cret-a", "unnamed-secret", "bob:with:colon"])

    def scope(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
        return {"type": "http", "headers": [(b"host", b"x"), *headers]}

    assert keys.principal_of(scope((b"x-api-key", b"s3cret-a"))) == "alice"
    assert keys.principal_of(scope((b"authorization", b"bEARER with:colon "))) == "bob"
    both = scope((b"authorization", b"Bearer s3cret-a"), (b"x-api-key", b"wrong"))
    assert keys.principal_of(both) == "alice"
    for refused in [(b"x-api-key", b"wrong"), (b"authorization", b"Basic s3cret-a"), (b"x-api-key", b"")]:
        assert keys.principal_of(scope(refused)) is None, refused
    assert ApiKeys([]).principal_of(scope((b"x-api-key", b"s3cret-a"))) is None
    asked = scope((b"x-api-key", b"unnamed-secret"))
    assert keys.principal_of(asked) == "key2"
    asked["headers"] = [(b"x-api-key", b"s3cret-a")]  # a request's headers never change: not read again
    assert keys.principal_of(asked) == "key2"


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("10.0.0.1", "203.0.113.7", "203.0.113.7"),
        ("10.0.0.1", "198.51.100.1, 203.0.113.7, 10.0.0.5", "203.0.113.7"),  # rightmost untrusted
        ("10.0.0.1", " 203.0.113.7 ,10.0.0.5 ", "203.0.113.7"),
        ("10.0.0.1", "10.0.0.2, 10.0.0.3", "10.0.0.2"),  # all proxies: the first
        ("10.0.0.1", " , ", "10.0.0.1"),
        ("10.0.0.1", "", "10.0.0.1"),
        ("10.0.0.1", None, "10.0.0.1"),
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not from a proxy: its header is its own
        ("::1", "2001:db8::7", "2001:db8::7"),
        ("not-an-address", "198.51.100.1", "not-an-address"),
    ],
)
def test_a_client_behind_a_trusted_proxy_is_the_address_it_forwarded(
    peer: str, forwarded: str | None, client: str
) -> None:
    assert ClientIdentity(["10.0.0.0/8", "::1"]).of(peer, forwarded) == client


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert ClientIdentity([]).of("10.0.0.1", "203.0.113.7") == "10.0.0.1"


def test_a_trusted_network_may_be_written_with_host_bits() -> None:
    assert ClientIdentity(["10.1.2.3/8"]).of("10.9.9.9", "203.0.113.7") == "203.0.113.7"


def test_host_edges() -> None:
    assert parse_host("example.org:65535") == ("example.org", 65535)
    assert parse_host("example.org:65536") is None
    assert parse_host("a" * 253) == ("a" * 253, None) and parse_host("a" * 254) is None
    config = Config(allowed_hosts=("Maps.Example",))
    assert host_allowed(config, "maps.example:443") and host_allowed(config, "MAPS.example")
    assert not host_allowed(config, "evil.example") and not host_allowed(config, None)


def test_origin_edges() -> None:
    config = Config(allowed_hosts=("maps.example",))
    assert origin_allowed(config, "HTTPS://maps.example", "maps.example")
    assert origin_allowed(config, "https://maps.example:8443", "MAPS.example:8443")
    assert not origin_allowed(config, "https://maps.example:8443", "maps.example")
    assert not origin_allowed(config, "https://other.example:1", "maps.example", any_port=True)
    assert origin_allowed(config, "https://maps.example:1", "maps.example", any_port=True)
    assert not origin_allowed(config, "https://", "maps.example", any_port=True)
    assert origin_allowed(Config(allowed_origins=("*",)), "https://anything.example", "maps.example")


async def test_a_map_is_reached_by_its_owner_or_its_view_key_and_otherwise_not_found() -> None:
    hub = MapHub()
    owned = await hub.create_map()
    await hub.claim(owned, USER)
    agents = await hub.create_map()
    assert await resolve(hub, "m", owned.id, USER) is owned
    assert await resolve(hub, "v", owned.view_key, None) is owned
    for kind, key, user in (("m", owned.id, None), ("m", owned.id, "x" * 22), ("m", "short", USER),
                            ("v", "short", None), ("m", agents.id, USER), ("m", "z" * 22, USER)):  # fmt: skip
        with pytest.raises(NotFound, match=r"^map not found$"):
            await resolve(hub, kind, key, user)
    assert await unclaimed(hub, agents.id) is agents
    for key in (owned.id, "short", "z" * 22):
        with pytest.raises(NotFound, match=r"^map not found$"):
            await unclaimed(hub, key)
    assert await resolve(hub, "m", agents.id, USER, claim=True) is agents and agents.owner == USER
    with pytest.raises(NotFound):
        await resolve(hub, "m", agents.id, "y" * 22, claim=True)  # the first claim wins


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", "https://*.tile.openstreetmap.org"),
        ("http://127.0.0.1:8080/tiles/{z}/{x}/{y}.png", "http://127.0.0.1:8080"),
        ("http://[::1]:8000/", "http://[::1]:8000"),
        ("/tiles/{z}/{x}/{y}.png", ""),
    ],
)
def test_origin_of_is_a_csp_source(url: str, origin: str) -> None:
    assert origin_of(url) == origin
