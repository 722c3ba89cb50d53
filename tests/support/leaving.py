"""A call whose client leaves: the call run inside a cancel scope the test cancels when it likes,
as a server cancels a request's task when its client goes away."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

__all__ = ["leaving"]


def leaving(
    fn: Callable[..., Awaitable[object]], *args: object
) -> tuple[trio.CancelScope, Callable[[], Awaitable[None]]]:
    """A call of ``fn(*args)`` to start in a nursery, and the scope that cancels it: a client
    that leaves."""
    client = trio.CancelScope()

    async def call() -> None:
        with client:
            await fn(*args)

    return client, call
