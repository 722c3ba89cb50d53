"""The tests' real OpenID provider (``support.openid``) behind a proxy that is its public address,
for the answers a well-behaved provider never gives: an ID token for another client or another
sign-in, metadata that names another issuer, an issuer that fails. The provider names itself
``http://127.0.0.1:<port>`` (the proxy) and listens on a port of its own; the proxy passes every
request on unchanged unless told to change something, and notes each path it was asked for.

The test holds the provider's key, so a changed ID token is signed as the provider would sign it:
only the claim the test changed differs.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypercorn.config
import hypercorn.trio
import jwt
import trio

from .hypercorn_app import lifespan, read_body
from .openid import NODE, NODE_HOME, OIDC_PROVIDER, SCRIPT, USERS, Provider, new_key, private_jwk
from .processes import free_port, wait_for_port
from .waiting import require

__all__ = ["IssuerProxy", "open_failing_issuer", "open_proxied_provider"]

_HOP = {b"host", b"content-length", b"connection", b"transfer-encoding", b"accept-encoding"}
_DROPPED = {"content-length", "transfer-encoding", "content-encoding", "connection"}


@dataclass
class IssuerProxy:
    """The issuer's public address. ``id_token``: changes the claims of the ID token the token
    endpoint answers (re-signed with the provider's key); ``metadata``: changes the discovery
    document; ``failing``: every request answered 500 (the issuer is down)."""

    upstream: str
    provider: Provider | None = None
    id_token: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    metadata: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    failing: bool = False
    paths: list[str] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        self.paths.append(scope["path"])
        body = await read_body(receive)
        if self.failing:
            await self._answer(send, 500, [(b"content-type", b"text/plain")], b"down")
            return
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k not in _HOP]
        url = self.upstream + scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode("latin-1")
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.request(
                scope["method"], url, headers=[*headers, ("host", host)], content=body
            )
        content = answer.content
        if answer.status_code == 200 and "json" in answer.headers.get("content-type", ""):
            content = self._changed(scope["path"], content)
        out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.multi_items()
               if k.lower() not in _DROPPED]  # fmt: skip
        await self._answer(send, answer.status_code, out, content)

    def _changed(self, path: str, content: bytes) -> bytes:
        parsed = json.loads(content)
        if path.endswith("/openid-configuration") and self.metadata is not None:
            return json.dumps(self.metadata(parsed)).encode()
        if isinstance(parsed, dict) and "id_token" in parsed and self.id_token is not None:
            assert self.provider is not None
            claims = jwt.decode(parsed["id_token"], options={"verify_signature": False})
            parsed["id_token"] = jwt.encode(
                self.id_token(claims),
                self.provider.key,
                algorithm="RS256",
                headers={"kid": self.provider.kid},
            )
            return json.dumps(parsed).encode()
        return content

    @staticmethod
    async def _answer(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def open_proxied_provider(
    port: int, resource: str, *, clients: list[dict[str, Any]] | None = None
) -> AsyncIterator[tuple[Provider, IssuerProxy]]:
    """The provider, public at ``http://127.0.0.1:<port>`` (the proxy), for ``resource``."""
    require(NODE.exists() and OIDC_PROVIDER.exists(), "Node 22 and oidc-provider (scripts/gateway-node.sh)")
    issuer, inner = f"http://127.0.0.1:{port}", free_port()
    key, kid = new_key(), "proxied-" + os.urandom(4).hex()
    config = {
        "port": inner,
        "issuer": issuer,
        "resource": resource,
        "jwks": {"keys": [private_jwk(key, kid)]},
        "clients": clients or [],
        "users": USERS,
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
    stop = trio.Event()
    try:
        await wait_for_port(inner)
        provider = Provider(issuer, resource, key, kid, process)
        proxy = IssuerProxy(f"http://127.0.0.1:{inner}", provider)
        settings = hypercorn.config.Config()
        settings.bind = [f"127.0.0.1:{port}"]
        settings.accesslog = settings.errorlog = None
        async with trio.open_nursery() as nursery:
            await nursery.start(lambda task_status: hypercorn.trio.serve(
                proxy, settings, shutdown_trigger=stop.wait, task_status=task_status))  # fmt: skip
            yield provider, proxy
            stop.set()
    finally:
        process.terminate()
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            await process.wait()
        process.kill()


@asynccontextmanager
async def open_failing_issuer(port: int) -> AsyncIterator[IssuerProxy]:
    """An issuer at ``http://127.0.0.1:<port>`` that answers every request with 500 and notes it."""
    proxy = IssuerProxy("http://127.0.0.1:1", failing=True)
    settings = hypercorn.config.Config()
    settings.bind = [f"127.0.0.1:{port}"]
    settings.accesslog = settings.errorlog = None
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: hypercorn.trio.serve(
            proxy, settings, shutdown_trigger=stop.wait, task_status=task_status))  # fmt: skip
        yield proxy
        stop.set()
