"""A source that goes down and comes back, for the tests of sources remembered as down: a real
server on 127.0.0.1 that counts the connections it accepts and, as the test says, hangs (accepts
and never answers), answers each request, or is gone (its port closed: the connection refused);
and a clock for the memory (``mapsrv.core.origins``) that the test turns instead of waiting."""

from __future__ import annotations

import contextlib

import trio

from .sources import read_request

__all__ = ["Flaky", "TurnedClock"]


class TurnedClock:
    """Monotonic seconds that move only when the test moves them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    """``mode``: "hang", "answer" (``answer`` bytes for every request) or "gone"."""

    def __init__(self, answer: bytes, mode: str = "hang") -> None:
        self.answer, self.mode = answer, mode
        self.accepted = 0
        self.port = 0
        self._stop: trio.CancelScope | None = None

    async def serve(self, nursery: trio.Nursery) -> int:
        """Listening on a free port (the same one again after ``gone``); the port."""
        self._stop = trio.CancelScope()
        listeners = await nursery.start(self._serve, self._stop)
        self.port = int(listeners[0].socket.getsockname()[1])
        return self.port

    async def _serve(self, scope: trio.CancelScope, *, task_status: trio.TaskStatus[object]) -> None:
        with scope:
            await trio.serve_tcp(self._one, self.port, host="127.0.0.1", task_status=task_status)

    def gone(self) -> None:
        """The listener closed and every connection cut: connections are refused."""
        assert self._stop is not None
        self.mode = "gone"
        self._stop.cancel()

    async def _one(self, stream: trio.SocketStream) -> None:
        self.accepted += 1
        if self.mode == "hang":
            await trio.sleep_forever()
        async with stream:
            with contextlib.suppress(trio.BrokenResourceError):  # a client that gave up first
                if await read_request(stream) is None:
                    return
                await stream.send_all(self.answer)
