"""Children that one server's stateless (2026-07-28) requests share, and the id rewriting that
keeps every client's answers its own.

The MCP SDK's stdio servers (mcp >= 2.3) decide their era from the first request they read: one
that has only ever read enveloped requests serves each one on its own. So up to
``stateless_children`` children per server are taken from the warm pool on demand and shared:

- the first one is asked ``server/discover``; a server that names no 2026-07-28 version serves
  sessions only (``NotModern`` from then on, and no child is spawned for this era);
- each request goes down under a token of the gateway's own (128 random bits) as its id, and as
  its ``progressToken`` if it has one; its answer comes back under the client's id. A
  notification a shared child sends reaches a client only when it names that client's request:
  progress by its token, a ``subscriptions/listen`` stream's events by their subscription id
  (the listen request's id). Anything else names no client and is dropped;
- a request goes to the shared child with the fewest requests in flight (one child by default:
  a server that keeps state between requests, as ``mapsrv stdio`` keeps maps, must see them all);
- a request whose client went away is cancelled (``notifications/cancelled`` to the child);
- a shared child that exits fails its requests in flight at once and is replaced on demand; its
  exits are counted by a breaker of its own, so a server that cannot serve this era never stops
  sessions from opening.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from dataclasses import dataclass
from typing import Any

import trio
from mcp_types import CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, PROTOCOL_VERSION_META_KEY
from mcp_types.version import LATEST_MODERN_VERSION, MODERN_PROTOCOL_VERSIONS

from mapsrv import __version__
from mapsrv.gateway.jsonrpc import SERVER_GONE, error_body, restore_id, with_id
from mapsrv.gateway.pool import CrashBreaker, WarmPool
from mapsrv.gateway.session import Session, SessionEnded, SessionStats

__all__ = ["NotModern", "SharedChildren"]

log = logging.getLogger("mapsrv.gateway.shared")

GONE = "the MCP server process that took this request has exited"
PROBE_TIMEOUT = 30.0  # seconds for a new server to answer server/discover (npx may fetch first)
SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
MODERN = "modern"
SESSIONS_ONLY = "sessions only"


class NotModern(Exception):
    """The server behind this path speaks only the session era."""


@dataclass(frozen=True)
class _Stream:
    """Where the notifications that name one request go, and the client's names for it."""

    request_id: Any  # the client's id: listen-stream events carry it as their subscription id
    progress_token: Any  # the client's progress token, if it gave one
    channel: trio.MemorySendChannel[bytes]


class SharedChildren:
    """The children one server's stateless requests share, and the requests in flight on them."""

    def __init__(
        self,
        pool: WarmPool,
        size: int,
        breaker: CrashBreaker,
        max_line: int,
        *,
        call_timeout: float = math.inf,
    ) -> None:
        self.pool = pool
        self.call_timeout = call_timeout
        self.size = size
        self.breaker = breaker
        self.max_line = max_line
        self.live: list[Session] = []
        self.requests = 0
        self.ended = SessionStats()  # what ended shared children relayed
        self.era: str | None = None  # MODERN or SESSIONS_ONLY once the first child is asked
        self._streams: dict[str, _Stream] = {}  # by our token for the request
        self._spawning = trio.Lock()
        self._nursery: trio.Nursery | None = None
        self._none_left = trio.Event()
        self._none_left.set()

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
            if self.era == SESSIONS_ONLY:
                raise NotModern
            live = [s for s in self.live if not s.ended.is_set() and s.end_reason is None]  # not closing
            if live and (len(live) >= self.size or min(s.in_flight for s in live) == 0):
                return min(live, key=lambda s: s.in_flight)
            assert self._nursery is not None
            child = await self.pool.take("shared")
            session = Session(
                self.pool.server.name, child, "shared", self.max_line, call_timeout=self.call_timeout
            )
            session.on_notification = self._route
            self.live.append(session)
            self._none_left = trio.Event()
            await self._nursery.start(self._run, session)
            if self.era is None:
                await self._probe(session)
            return session

    async def _probe(self, session: Session) -> None:
        """Ask the first shared child ``server/discover``: a server that names no 2026-07-28
        version in its answer (or answers with an error) serves sessions only. A child that
        exits or stays silent decides nothing."""
        meta = {
            PROTOCOL_VERSION_META_KEY: LATEST_MODERN_VERSION,
            CLIENT_CAPABILITIES_META_KEY: {},
            CLIENT_INFO_META_KEY: {"name": "mapsrv-gateway", "version": __version__},
        }
        ours = secrets.token_urlsafe(16)
        probe = {"jsonrpc": "2.0", "id": ours, "method": "server/discover", "params": {"_meta": meta}}
        answer = None
        with trio.move_on_after(PROBE_TIMEOUT):
            try:
                answer = await session.request(json.dumps(ours), json.dumps(probe).encode())
            except SessionEnded:
                pass
        if answer is None or session.ended.is_set():
            session.forget(json.dumps(ours))
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

    async def _route(self, data: bytes) -> None:
        """A notification from a shared child: to the stream of the request it names, under
        that client's own token, or nowhere."""
        message = json.loads(data)
        params = message.get("params") if isinstance(message, dict) else None
        if not isinstance(params, dict):
            return
        meta = params.get("_meta")
        holders: list[tuple[dict[str, Any], str]] = [(params, "progressToken")]
        if isinstance(meta, dict):
            holders.insert(0, (meta, SUBSCRIPTION_ID))
        for holder, key in holders:
            token = holder.get(key)
            stream = self._streams.get(token) if isinstance(token, str) else None
            if stream is not None:
                holder[key] = stream.request_id if key == SUBSCRIPTION_ID else stream.progress_token
                try:
                    stream.channel.send_nowait(
                        json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
                    )
                except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                    pass  # a client that does not read its stream loses notifications, never answers
                return

    async def ask(
        self, message: dict[str, Any], theirs: str, stream: trio.MemorySendChannel[bytes] | None = None
    ) -> bytes:
        """Send one request under a token of our own and return its answer under ``theirs``;
        with ``stream``, the notifications that name this request go there first."""
        self.requests += 1
        try:
            session = await self._pick()
        except SessionEnded:
            return error_body(theirs, SERVER_GONE, "the MCP server did not answer server/discover")
        ours = secrets.token_urlsafe(16)
        key = json.dumps(ours)
        if stream is not None:  # its notifications carry our token: as progress, or as subscription
            message, progress = _with_progress_token(message, ours)
            self._streams[ours] = _Stream(json.loads(theirs), progress, stream)
        answered = False
        try:
            answer = await session.request(key, with_id(message, ours))
            answered = True
        except SessionEnded:
            return error_body(theirs, SERVER_GONE, GONE)
        finally:
            self._streams.pop(ours, None)
            if not answered:
                await _cancel(session, ours, key)
        return restore_id(answer, ours, theirs)

    def close(self, reason: str) -> None:
        for session in self.live:
            session.close(reason)

    async def wait_answered(self) -> None:
        for session in list(self.live):
            await session.wait_answered()

    async def wait_gone(self) -> None:
        await self._none_left.wait()


def _with_progress_token(message: dict[str, Any], ours: str) -> tuple[dict[str, Any], Any]:
    """The request with its progress token (client-chosen: clients may collide) replaced by
    ours, and the client's token."""
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    if not isinstance(params, dict) or not isinstance(meta, dict) or "progressToken" not in meta:
        return message, None
    changed = {**message, "params": {**params, "_meta": {**meta, "progressToken": ours}}}
    return changed, meta["progressToken"]


async def _cancel(session: Session, ours: str, key: str) -> None:
    """The client went away: owe it nothing, and tell the child, which may stop working on it."""
    session.forget(key)
    params = {"requestId": ours, "reason": "the client went away"}
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params}
    with trio.CancelScope(shield=True), trio.move_on_after(1):
        try:
            await session.send(json.dumps(cancel).encode())
        except SessionEnded:
            pass
