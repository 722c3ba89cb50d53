"""The stateless 2026-07-28 era: requests that carry their own envelope, without a session, are
answered by children that all such requests to one server share.

A 2026-07-28 request is self-contained (``_meta`` names the protocol version and the client's
capabilities; no ``initialize``, no ``Mcp-Session-Id``), so nothing ties it to one child. The
MCP SDK's stdio servers (mcp >= 2.3) decide their era from the first request they read: one
that has only ever seen enveloped requests serves each on its own. So up to
``stateless_children`` children per server are taken from the warm pool on demand and shared:

- each request goes down under an id of the gateway's own (128 random bits), and its answer
  comes back under the client's id, so two clients that both chose id 1 never get each other's
  answer; a line from a shared child that answers no request in flight is dropped;
- a request is sent to the shared child with the fewest requests in flight (one child by default:
  a server that keeps state between requests, as ``mapsrv stdio`` keeps maps, must see them all);
- a client that goes away cancels its request (``notifications/cancelled`` to the child);
- a shared child that exits fails its requests in flight at once and is replaced on demand;
  exits at start are counted by a breaker of its own (a server that cannot serve this era does
  not stop sessions from opening).

Stateless answers are JSON bodies, with the HTTP status the SDK gives each JSON-RPC error code.
Notifications a shared child sends (progress, logs) name no client and are dropped; a
``subscriptions/listen`` stream is refused. Servers that speak only the session era answer the
probe of an ``auto`` client with an error, and the client then opens a session, as it would
with ``--stateless-children 0``.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

import trio
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
)
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    HEADER_MISMATCH,
    METHOD_NOT_FOUND,
    PROTOCOL_VERSION_META_KEY,
    UNSUPPORTED_PROTOCOL_VERSION,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_MODERN_VERSION, MODERN_PROTOCOL_VERSIONS

from mapsrv import __version__
from mapsrv.gateway.asgi_io import Receive, Scope, Send, header, respond
from mapsrv.gateway.jsonrpc import SERVER_GONE, error_body, error_code, restore_id, with_id
from mapsrv.gateway.pool import CrashBreaker, WarmPool
from mapsrv.gateway.session import Session, SessionEnded, SessionStats

__all__ = ["SharedChildren", "handle_stateless", "is_stateless"]

log = logging.getLogger("mapsrv.gateway.stateless")

GONE = "the MCP server process that took this request has exited"
PROBE_TIMEOUT = 30.0  # seconds for a new server to answer server/discover (npx may fetch first)
MODERN = "modern"
SESSIONS_ONLY = "sessions only"


class NotModern(Exception):
    """The server behind this path speaks only the session era."""


class SharedChildren:
    """The children one server's stateless requests share, and the requests in flight on them."""

    def __init__(self, pool: WarmPool, size: int, breaker: CrashBreaker, max_line: int) -> None:
        self.pool = pool
        self.size = size
        self.breaker = breaker
        self.max_line = max_line
        self.live: list[Session] = []
        self.requests = 0
        self.ended = SessionStats()  # what ended shared children relayed
        self._spawning = trio.Lock()
        self._nursery: trio.Nursery | None = None
        self._none_left = trio.Event()
        self._none_left.set()
        self.era: str | None = None  # MODERN or SESSIONS_ONLY once the first child is asked

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def retry_after(self) -> float:
        return self.breaker.retry_after()

    async def _pick(self) -> Session:
        """The least busy live child; a new one while there are fewer than ``size`` and every
        one has work."""
        async with self._spawning:
            live = [s for s in self.live if not s.ended.is_set()]
            if live and (len(live) >= self.size or min(s.in_flight for s in live) == 0):
                return min(live, key=lambda s: s.in_flight)
            assert self._nursery is not None
            if self.era == SESSIONS_ONLY:
                raise NotModern
            child = await self.pool.take("shared")
            session = Session(self.pool.server.name, child, "shared", self.max_line)
            self.live.append(session)
            self._none_left = trio.Event()
            await self._nursery.start(self._run, session)
            if self.era is None:
                await self._probe(session)
            return session

    async def _probe(self, session: Session) -> None:
        """Ask the first shared child ``server/discover``: a server that names no 2026-07-28
        version in its answer (or answers with an error) serves sessions only, and every
        stateless request is told so from then on. A child that exits or stays silent decides
        nothing."""
        meta = {
            PROTOCOL_VERSION_META_KEY: LATEST_MODERN_VERSION,
            CLIENT_CAPABILITIES_META_KEY: {},
            CLIENT_INFO_META_KEY: {"name": "mapsrv-gateway", "version": __version__},
        }
        ours = secrets.token_urlsafe(16)
        key = json.dumps(ours)
        probe = {"jsonrpc": "2.0", "id": ours, "method": "server/discover", "params": {"_meta": meta}}
        answer = None
        with trio.move_on_after(PROBE_TIMEOUT):
            try:
                answer = await session.request(key, json.dumps(probe).encode())
            except SessionEnded:
                pass
        if answer is None or session.ended.is_set():
            session.forget(key)
            session.close("no answer to server/discover")
            raise SessionEnded(session.id)
        versions = (json.loads(answer).get("result") or {}).get("supportedVersions") or []
        if any(v in MODERN_PROTOCOL_VERSIONS for v in versions):
            self.era = MODERN
            return
        self.era = SESSIONS_ONLY
        log.info("the %s server serves sessions only", self.pool.server.name)
        session.close("serves sessions only")
        raise NotModern

    async def _run(self, session: Session, *, task_status: trio.TaskStatus[None]) -> None:
        try:
            await session.run(task_status=task_status)
        finally:
            with trio.CancelScope(shield=True):
                await session.child.gone.wait()
            self.live.remove(session)
            self.ended.add(session.stats)
            if not self.live:
                self._none_left.set()
            if session.end_reason is None and session.child.reason in ("crashed", "exited"):
                self.breaker.record(session.child)
                log.warning("a shared child ended by itself", extra={"session": session.ref})

    async def ask(self, message: dict[str, Any], theirs: str) -> bytes:
        """Send one request under an id of our own and return its answer under ``theirs``."""
        self.requests += 1
        try:
            session = await self._pick()
        except SessionEnded:
            return error_body(theirs, SERVER_GONE, "the MCP server did not answer server/discover")
        ours = secrets.token_urlsafe(16)
        answered = False
        try:
            answer = await session.request(json.dumps(ours), with_id(message, ours))
            answered = True
        except SessionEnded:
            return error_body(theirs, SERVER_GONE, GONE)
        finally:
            if not answered:  # the client went away: tell the child, which may stop working on it
                session.forget(json.dumps(ours))
                params = {"requestId": ours, "reason": "the client went away"}
                cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params}
                with trio.CancelScope(shield=True), trio.move_on_after(1):
                    try:
                        await session.send(json.dumps(cancel).encode())
                    except SessionEnded:
                        pass
        return restore_id(answer, ours, theirs)

    def close(self, reason: str) -> None:
        for session in self.live:
            session.close(reason)

    async def wait_answered(self) -> None:
        for session in list(self.live):
            await session.wait_answered()

    async def wait_gone(self) -> None:
        await self._none_left.wait()


def is_stateless(scope: Scope, message: Any) -> bool:
    """A request of the stateless era: a modern version in its header or in its envelope."""
    if header(scope, b"mcp-protocol-version") in MODERN_PROTOCOL_VERSIONS:
        return True
    params = message.get("params") if isinstance(message, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and PROTOCOL_VERSION_META_KEY in meta


async def handle_stateless(
    scope: Scope, receive: Receive, send: Send, shared: SharedChildren, message: dict[str, Any], key: str
) -> None:
    """One stateless request, checked as the SDK checks it, answered by a shared child."""
    raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    duplicated = find_duplicated_routing_header(raw_headers)
    verdict = (
        InboundLadderRejection(HEADER_MISMATCH, f"{duplicated} header appears more than once")
        if duplicated
        else classify_inbound_request(message, headers=dict(raw_headers))
    )
    if isinstance(verdict, InboundLadderRejection):
        body = error_body(key, verdict.code, verdict.message, verdict.data)
        await respond(send, ERROR_CODE_HTTP_STATUS.get(verdict.code, 400), body)
        return
    if message.get("method") == "subscriptions/listen":
        reason = "subscriptions/listen is not relayed: stateless requests share their server's children"
        await respond(send, 404, error_body(key, METHOD_NOT_FOUND, reason))
        return
    wait = shared.retry_after()
    if wait:
        reason = "the server keeps exiting on stateless requests; not starting another now"
        retry = str(max(1, round(wait))).encode()
        await respond(send, 503, error_body(key, SERVER_GONE, reason), [(b"retry-after", retry)])
        return
    answer: bytes | None = None
    async with trio.open_nursery() as nursery:

        async def until_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            nursery.cancel_scope.cancel()

        nursery.start_soon(until_disconnect)
        try:
            answer = await shared.ask(message, key)
        except NotModern:
            reason = "the MCP server behind this path serves sessions only: send initialize without a session"
            data = {"supported": list(HANDSHAKE_PROTOCOL_VERSIONS), "requested": _version(message)}
            answer = error_body(key, UNSUPPORTED_PROTOCOL_VERSION, reason, data)
        except OSError as exc:
            answer = error_body(key, SERVER_GONE, f"cannot start the server: {exc.strerror or exc}")
        nursery.cancel_scope.cancel()
    if answer is not None:
        code = error_code(answer)
        await respond(send, 200 if code is None else ERROR_CODE_HTTP_STATUS.get(code, 200), answer)


def _version(message: dict[str, Any]) -> Any:
    return ((message.get("params") or {}).get("_meta") or {}).get(PROTOCOL_VERSION_META_KEY)
