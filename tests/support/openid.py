"""A real OpenID provider for tests: ``oidc-provider`` from npm (OpenID-certified), run on the
Node 22 scripts/gateway-node.sh installs, by ``tests/support/openid/provider.mjs``.

``open_provider`` starts it on a port chosen beforehand (mapsrv needs the issuer's URL before
the provider needs mapsrv's), with an RSA signing key made here: the test holds the provider's
key, so it can mint tokens the provider could have made (expired ones, for another audience) as
well as foreign ones. ``sign_in`` goes through the provider's login form with httpx, as a browser
would, and answers where the provider sends the browser back.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import jwt
import trio
from cryptography.hazmat.primitives.asymmetric import rsa

from .processes import wait_for_port
from .waiting import require

__all__ = ["USERS", "Provider", "new_key", "open_provider", "private_jwk", "sign_in"]

ROOT = Path(__file__).resolve().parents[2]
NODE_HOME = Path(os.environ.get("GATEWAY_NODE_HOME") or ROOT / ".tox" / "gateway-node")
NODE = NODE_HOME / "node_modules" / ".bin" / "node"
OIDC_PROVIDER = NODE_HOME / "node_modules" / "oidc-provider" / "package.json"
SCRIPT = Path(__file__).with_name("openid") / "provider.mjs"

# the provider's people: login -> password, name, email
USERS = {
    "ana": {"password": "ana-" + secrets.token_hex(8), "name": "Ana Lima", "email": "ana@example.org"},
    "ben": {"password": "ben-" + secrets.token_hex(8), "name": "Ben Okafor", "email": "ben@example.org"},
}


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
    jwk.pop("key_ops", None)  # PyJWT says ["sign"]: the provider could not verify its own ID tokens
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


@dataclass
class Provider:
    issuer: str
    resource: str
    key: rsa.RSAPrivateKey
    kid: str
    process: trio.Process

    def mint(
        self, claims: dict[str, Any], *, key: rsa.RSAPrivateKey | None = None, kid: str | None = None
    ) -> str:
        """A JWT access token: this provider's by default (its key and kid, its issuer, the
        resource as audience, an hour to live), with ``claims`` over those."""
        now = int(time.time())
        body = {"iss": self.issuer, "aud": self.resource, "iat": now, "exp": now + 3600, "sub": "ana"}
        body.update(claims)
        headers = {"kid": kid or self.kid, "typ": "at+jwt"}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers=headers)


@asynccontextmanager
async def open_provider(
    port: int,
    resource: str,
    *,
    clients: list[dict[str, Any]] | None = None,
    also: tuple[str, ...] = (),
    client_name_claim: bool = False,
    name_at: str = "id_token",
    end_session: bool = False,
    users: dict[str, dict[str, str]] | None = None,
) -> AsyncIterator[Provider]:
    """The provider on ``port`` for ``resource`` (mapsrv's MCP URL) and the resources ``also``
    (the same server's other names), stopped by its PID at the end. With ``client_name_claim``,
    its access tokens name the registered client (``client_name``). ``name_at="userinfo"``: the
    person's name and email at userinfo only, none in the ID token; ``end_session``: RP-initiated
    logout (``end_session_endpoint``); ``users``: its people (``USERS`` by default)."""
    require(NODE.exists() and OIDC_PROVIDER.exists(), "Node 22 and oidc-provider (scripts/gateway-node.sh)")
    issuer = f"http://127.0.0.1:{port}"
    key, kid = new_key(), "test-" + secrets.token_hex(4)
    config = {
        "port": port,
        "issuer": issuer,
        "resource": resource,
        "resources": [resource, *also],
        "clientNameClaim": client_name_claim,
        "jwks": {"keys": [private_jwk(key, kid)]},
        "clients": clients or [],
        "users": USERS if users is None else users,
        "nameAt": name_at,
        "endSession": end_session,
    }
    env = {
        **os.environ,
        "OIDC_TEST_CONFIG": json.dumps(config),
        "OIDC_NODE_MODULES": str(NODE_HOME / "node_modules"),
        "NODE_ENV": "test",
    }
    process = await trio.lowlevel.open_process(
        [str(NODE), str(SCRIPT)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await wait_for_port(port)
        yield Provider(issuer, resource, key, kid, process)
    finally:
        process.terminate()
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            await process.wait()
        process.kill()


class _Form(HTMLParser):
    """The first form of a page: its action and its inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.inputs: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
        elif tag == "input" and values.get("name"):
            self.inputs[values["name"]] = values.get("value", "")


async def sign_in(authorization_url: str, login: str, password: str | None = None) -> str:
    """Follow an authorization URL as a browser would, sign in as ``login`` on the provider's
    form, and answer the URL the provider sends the browser back to (with ``code`` and
    ``state``), without opening it."""
    password = USERS[login]["password"] if password is None else password
    provider = urlsplit(authorization_url).netloc
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as http:
        url = authorization_url
        for _ in range(12):
            response = await http.get(url)
            if response.status_code in (302, 303):
                url = urljoin(url, response.headers["location"])
                if urlsplit(url).netloc != provider:
                    return url  # back to the client: its redirect_uri, with code and state
                continue
            form = _Form()
            form.feed(response.text)
            assert form.action, (response.status_code, response.text[:500])
            filled = {**form.inputs, "login": login, "password": password}
            posted = await http.post(urljoin(url, form.action), data=filled)
            if posted.status_code == 401:
                raise PermissionError(f"the provider refused {login}'s password")
            assert posted.status_code in (302, 303), (posted.status_code, posted.text[:500])
            url = urljoin(url, posted.headers["location"])
        raise AssertionError("the provider never sent the browser back")
