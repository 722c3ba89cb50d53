"""Several gateway processes behind one address: a session lives in the process that holds its
child, its id names that process, and a request for it that lands on another process is
forwarded there, so a plain round-robin proxy in front works.

A session id is ``RANDOM.OWNER.MAC``: ``OWNER`` is the owning process's ``--peer-url``
(base64url), ``MAC`` an HMAC-SHA256 of both under ``--peer-key``, which every process shares. A
process forwards only to an owner whose MAC checks out, so a client cannot make it call an
address of its choosing. The owner checks Host, Origin and API keys again, sees the request as
the client sent it (its Host header included) and answers it; its answer, an event stream
included, is passed back as it comes. A request forwarded once is never forwarded again: a
session its owner no longer has is a 404, as is one whose owner cannot be reached (the client
then initialises a new session, wherever it lands).

An owner that accepts the connection but answers nothing (hung, SIGSTOP: the kernel still
accepts and buffers) cannot be told from a long tool call by the forwarded request alone, so
while nothing has come back for ``peer_timeout`` the owner's ``/health`` is asked, with the same
timeout. An owner that does not answer that either ends the request: 502 with a JSON-RPC error
if nothing was passed back yet, else the stream ends. The request may still be carried out when
the owner resumes (it sits in the owner's socket buffer): the error says so.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

import httpx
import trio

from mapsrv.gateway.asgi_io import read_body, respond
from mapsrv.gateway.jsonrpc import INVALID_REQUEST, SERVER_GONE, error_body, peek
from mapsrv.http.types import Receive, Scope, Send, header

__all__ = ["FORWARDED", "Forwarder", "Owners"]

log = logging.getLogger("mapsrv.gateway.forward")

FORWARDED = b"x-mapsrv-gateway-forwarded"
HOP_BY_HOP = {
    b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"te", b"trailer",
    b"upgrade", b"content-length",
}  # fmt: skip


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Owners:
    """Session ids that name their owner, signed so that no one else can name one."""

    def __init__(self, self_url: str, key: str) -> None:
        self.self_url = self_url.rstrip("/")
        self._key = key.encode()

    def _mac(self, nonce: str, owner: str) -> str:
        return _b64(hmac.new(self._key, f"{nonce}.{owner}".encode(), hashlib.sha256).digest()[:16])

    def new_id(self) -> str:
        nonce, owner = secrets.token_urlsafe(24), _b64(self.self_url.encode())
        return f"{nonce}.{owner}.{self._mac(nonce, owner)}"

    def owner_of(self, session_id: str | None) -> str | None:
        """The URL of another process that owns ``session_id``, or None (ours, or forged)."""
        parts = (session_id or "").split(".")
        if len(parts) != 3 or not hmac.compare_digest(parts[2], self._mac(parts[0], parts[1])):
            return None
        try:
            owner = _unb64(parts[1]).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return None if owner == self.self_url else owner


@dataclass
class _Progress:
    heard: float  # when the owner last sent something (or answered /health)
    started: bool = False  # the answer's head was passed back
    hung: bool = False


class Forwarder:
    """Passes a request to the process that owns its session, and its answer back."""

    def __init__(self, owners: Owners, max_body_size: int, peer_timeout: float = 5.0) -> None:
        self.owners = owners
        self.max_body_size = max_body_size
        self.peer_timeout = peer_timeout
        self.forwarded = 0
        self.unreachable = 0
        self.unresponsive = 0
        self._client = httpx.AsyncClient(
            # no read timeout: a tool call takes what it takes, and event streams stay open;
            # _watch_owner tells a hung owner from a busy one
            timeout=httpx.Timeout(peer_timeout, read=None),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def owner(self, scope: Scope, session_id: str | None) -> str | None:
        """Where to forward this request, if anywhere: never a request forwarded already."""
        if header(scope, FORWARDED) is not None:
            return None
        return self.owners.owner_of(session_id)

    async def forward(self, scope: Scope, receive: Receive, send: Send, owner: str) -> None:
        body = await read_body(receive, self.max_body_size)
        if body is None:
            await respond(send, 413, error_body(None, INVALID_REQUEST, "request body too large"))
            return
        query = scope.get("query_string", b"")
        url = owner + scope["path"] + ("?" + query.decode("latin-1") if query else "")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP] + [(FORWARDED, b"1")]
        self.forwarded += 1
        progress = _Progress(trio.current_time())
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_cancel_on_disconnect, receive, nursery.cancel_scope)
            nursery.start_soon(self._watch_owner, owner, progress, nursery.cancel_scope)
            try:
                request = self._client.build_request(scope["method"], url, headers=headers, content=body)
                response = await self._client.send(request, stream=True)
                progress.heard = trio.current_time()
                try:
                    response_headers = [
                        (k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP
                    ]
                    await send(
                        {
                            "type": "http.response.start",
                            "status": response.status_code,
                            "headers": response_headers,
                        }
                    )
                    progress.started = True
                    async for chunk in response.aiter_raw():
                        progress.heard = trio.current_time()
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                finally:
                    with trio.CancelScope(shield=True):
                        await response.aclose()
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except httpx.TransportError as exc:
                self.unreachable += 1
                log.warning("cannot reach the session's owner: %s", type(exc).__name__)
                if not progress.started:
                    message = "session not found (its gateway process is gone); initialize a new one"
                    await respond(send, 404, error_body(None, INVALID_REQUEST, message))
            nursery.cancel_scope.cancel()
        if progress.hung:
            await self._hung(send, owner, progress, body)

    async def _watch_owner(self, owner: str, progress: _Progress, scope: trio.CancelScope) -> None:
        while True:
            await trio.sleep_until(progress.heard + self.peer_timeout)
            if trio.current_time() < progress.heard + self.peer_timeout:
                continue
            try:
                with trio.fail_after(self.peer_timeout):
                    health = await self._client.get(owner + "/health", headers={FORWARDED.decode(): "1"})
                if health.status_code == 200:
                    progress.heard = trio.current_time()
                    continue
            except (httpx.TransportError, trio.TooSlowError):
                pass
            progress.hung = True
            scope.cancel()
            return

    async def _hung(self, send: Send, owner: str, progress: _Progress, body: bytes) -> None:
        self.unresponsive += 1
        log.warning("the session's owner does not answer (%g s)", self.peer_timeout)
        if progress.started:  # the stream was cut mid-way: end it; the client reconnects or re-initialises
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        envelope = peek(body.strip()) if body else None
        message = (
            f"the gateway process that holds this session does not answer (not within "
            f"{self.peer_timeout:g} s); the request may still be carried out if it recovers: "
            "retry later, or initialize a new session"
        )
        await respond(send, 502, error_body(envelope.key if envelope else None, SERVER_GONE, message))


async def _cancel_on_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()
