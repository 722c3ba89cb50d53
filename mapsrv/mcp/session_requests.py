"""Requests in a Streamable HTTP session, after the one that opened it: a tool call mapsrv answers
itself (``DirectCalls.in_session``) where it can, everything else the SDK's transport answers, and
the session book (``mapsrv.mcp.sessions``) kept up either way.

A call is answered by mapsrv only in a session that is

- in the book, with its ``initialize`` read (the version it settled, its client's name);
- live in the SDK's manager, its transport neither terminated nor past its idle time;
- bound to the credential this request presents, compared as the SDK compares it
  (``authorization_context``): another credential is handed to the SDK, which answers 404 as for
  an unknown session.

An answered call keeps its session alive as a request the SDK serves does: in the book (``used``),
and on the transport's idle countdown (``idle_scope``), which restarts from the answer; never
made sooner than it stood, and left alone while another request (a GET stream) holds it, as the
transport leaves it while one is in flight.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import trio
from mcp.server.auth.middleware.bearer_auth import (
    AuthenticatedUser,
    AuthorizationContext,
    authorization_context,
)

from mapsrv.http.types import Message, Receive, Scope, Send
from mapsrv.mcp.direct import DirectCalls, InSession
from mapsrv.mcp.sdk import http_session_transport
from mapsrv.mcp.sessions import Asgi, Peek, SessionBook, called_tool, cancelled_ids, is_real_request

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

__all__ = ["SessionRequests"]


class SessionRequests:
    """Answers requests that carry an ``Mcp-Session-Id``."""

    def __init__(self, manager: StreamableHTTPSessionManager, book: SessionBook, idle_timeout: float) -> None:
        self.manager, self.book, self.idle_timeout = manager, book, idle_timeout
        self.answered = 0  # POSTs in a session that mapsrv answered itself
        self.handed_on = 0  # ... and those the SDK answered

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, session_id: str, direct: DirectCalls | None
    ) -> None:
        found = self._answerable(scope, session_id) if direct is not None else None
        if found is None or direct is None:
            await self._by_sdk(scope, receive, send, session_id)
            return
        handed_on = partial(self._by_sdk, send=send, session_id=session_id, direct=direct)
        await direct.in_session(scope, receive, send, found, handed_on, partial(self._answering, session_id))

    def _answering(self, session_id: str) -> None:
        """A call in the session is answered by mapsrv: counted, and the session kept alive
        (before the answer is written, so that its client sees a session already kept)."""
        self.answered += 1
        self.book.used(session_id, real=True)
        self._idle_from_now(session_id)

    def _answerable(self, scope: Scope, session_id: str) -> InSession | None:
        """The session, if a POST in it may be answered by mapsrv (see the module's docstring)."""
        session = self.book.sessions.get(session_id)
        if scope["method"] != "POST" or session is None or session.version is None:
            return None
        transport = http_session_transport(self.manager, session_id)
        if transport is None or transport.is_terminated:
            return None
        if transport.idle_scope is not None and transport.idle_scope.cancel_called:
            return None
        if _requestor(scope.get("user")) != _requestor(session.user):
            return None
        return InSession(session_id, session.version, session.client_name or "")

    def _idle_from_now(self, session_id: str) -> None:
        transport = http_session_transport(self.manager, session_id)
        idle = transport.idle_scope if transport is not None else None
        if idle is not None and idle.deadline != math.inf:  # inf: a request in flight holds it
            idle.deadline = max(idle.deadline, trio.current_time() + self.idle_timeout)

    async def _by_sdk(
        self, scope: Scope, receive: Receive, send: Send, session_id: str, direct: DirectCalls | None = None
    ) -> None:
        """The SDK answers; ``direct``, the calls mapsrv runs in this session (given when the
        request is the session's own, ``_answerable``), is told of a ``notifications/cancelled``
        the SDK took, for a call it never saw (issue 60)."""
        self.handed_on += scope["method"] == "POST"
        peek = Peek(receive, send)
        if scope["method"] == "POST":
            await self._watched(scope, peek, session_id)
        else:
            await self.manager.handle_request(scope, peek.receive, peek.send)
        if direct is not None and direct.leavable and peek.status < 300:
            for request_id in cancelled_ids(bytes(peek.request)):
                direct.cancel(session_id, request_id)
        ended = peek.status == 404 and http_session_transport(self.manager, session_id) is None
        if ended or (scope["method"] == "DELETE" and peek.status < 300):
            # (a 404 for a live session is another credential's: the session is still its owner's)
            self.book.ended(session_id)
        elif peek.status < 400:
            # Once answered, a session's every message counts the same: its body is not read again.
            session = self.book.sessions.get(session_id)
            answered = session is not None and session.answered
            self.book.used(session_id, real=answered or is_real_request(bytes(peek.request)))

    async def _watched(self, scope: Scope, peek: Peek, session_id: str) -> None:
        """The SDK answers a POST; a long call in it (``leavable``) whose client leaves before
        the answer is cancelled as its client would cancel it, by a ``notifications/cancelled``
        in the session (issue 60): the SDK's transport in JSON mode never reads the POST's
        connection again once it has the body, so it cannot see the client go."""
        request = _Watched(peek.receive, lambda: called_tool(bytes(peek.request)))
        async with trio.open_nursery() as nursery:

            async def cancel_when_left() -> None:
                request_id = await request.left()
                notice = {"jsonrpc": "2.0", "method": "notifications/cancelled"}
                body = json.dumps({**notice, "params": {"requestId": request_id, "reason": "client left"}})
                await _post(self.manager.handle_request, scope, body.encode())

            nursery.start_soon(cancel_when_left)
            await self.manager.handle_request(scope, request.receive, peek.send)
            nursery.cancel_scope.cancel()


class _Watched:
    """A POST's ``receive``, read by the SDK until the body's end; then, if ``watched()`` names
    a request id, by ``left`` alone, which returns that id once the client is gone (the SDK, if
    it reads again, is told ``http.disconnect`` then too)."""

    def __init__(self, receive: Receive, watched: Callable[[], int | str | None]) -> None:
        self._receive, self._watched = receive, watched
        self._request_id: int | str | None = None
        self._decided, self._gone = trio.Event(), trio.Event()

    async def receive(self) -> Message:
        if self._request_id is not None:
            await self._gone.wait()
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            self._request_id = self._watched()
            self._decided.set()
        return message

    async def left(self) -> int | str:
        await self._decided.wait()
        if self._request_id is None:
            await trio.sleep_forever()  # not a long call: nothing to watch
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self._gone.set()
        return self._request_id


async def _post(handle: Asgi, scope: Scope, body: bytes) -> None:
    """``body`` POSTed to the SDK as if by the client of ``scope`` (its session, credential and
    headers), the answer dropped."""
    headers = [(name, value) for name, value in scope["headers"] if name.lower() != b"content-length"]
    post = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def discard(message: Message) -> None:
        pass

    with trio.CancelScope(shield=True):
        await handle(post, receive, discard)


def _requestor(user: Any) -> AuthorizationContext | None:
    """Who ``user`` is to the SDK's session binding (``StreamableHTTPSessionManager``)."""
    return authorization_context(user) if isinstance(user, AuthenticatedUser) else None
