"""The ASGI shapes every raw handler in mapsrv uses (``serve``'s and the gateway's), written once,
the one way to read a request header, and the one way to hand on a request whose first messages
were read already (``replaying``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["App", "Message", "Receive", "Scope", "Send", "header", "replaying"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (``name`` in lowercase, as ASGI gives them)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def replaying(read: list[Message], receive: Receive) -> Receive:
    """``receive`` as if nothing had been read from it: ``read`` first, then the rest."""
    pending = list(reversed(read))

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
