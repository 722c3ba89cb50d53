"""The keep-alive timer that replaces hypercorn's (``mapsrv.http.hypercorn.KeepAliveTimer``), in a
real hypercorn on real sockets: an idle connection closes after the keep-alive timeout and not
before, a long request is never cut, requests closer together than the timeout keep a
connection open, and a shutdown closes idle connections at once while requests in flight finish.
Sleeps here are the scenario (a handler that takes its time, a client that pauses), never a wait
for the server: every wait on the server is on a condition under ``trio.fail_after``."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio
import trio.testing
from hypercorn.trio import tcp_server
from support import wait_until
from support.hypercorn_app import App, answered, serving

from mapsrv.http.hypercorn import KeepAliveTimer

TIMEOUT = 0.3


async def test_an_idle_connection_closes_after_the_timeout_and_not_before() -> None:
    app = App()
    async with serving(app, keep_alive=TIMEOUT) as server:
        connection = await server.connect()
        with trio.fail_after(10):
            await answered(connection, server.get())
            idle_from = trio.current_time()
            assert await connection.closed_by_server()
        # not closed at once (the timer starts as the response goes out, a moment before the
        # client has read it: hence the margin)
        assert trio.current_time() - idle_from >= TIMEOUT / 2
        assert all(isinstance(timer, KeepAliveTimer) for timer in app.timers) and app.timers


async def test_requests_closer_together_than_the_timeout_keep_the_connection_open() -> None:
    app = App()
    async with serving(app, keep_alive=TIMEOUT) as server:
        connection = await server.connect()
        with trio.fail_after(10):
            started = trio.current_time()
            while trio.current_time() - started < 3 * TIMEOUT:
                assert await answered(connection, server.get()) == b"done"
                await trio.sleep(TIMEOUT / 3)  # the client's pause between requests
            assert await connection.closed_by_server()  # and once it stops, it closes
        assert len({id(timer) for timer in app.timers}) == 1, "one timer per connection"


def task_count() -> int:
    """Every task of this test's Trio run (the server's included)."""

    def under(task: trio.lowlevel.Task) -> int:
        return 1 + sum(under(child) for nursery in task.child_nurseries for child in nursery.child_tasks)

    return under(trio.lowlevel.current_root_task())


async def test_a_connection_starts_no_task_per_request_and_its_tasks_end_when_its_client_leaves() -> None:
    app = App()
    async with serving(app, keep_alive=75) as server:
        await trio.testing.wait_all_tasks_blocked()
        before = task_count()
        connection = await server.connect()
        with trio.fail_after(10):
            await answered(connection, server.get())
            await trio.testing.wait_all_tasks_blocked()
            with_connection = task_count()
            for _ in range(10):
                await answered(connection, server.get())
            await trio.testing.wait_all_tasks_blocked()
            assert task_count() == with_connection, "a task more per request"
            await connection.aclose()
            await wait_until(lambda: task_count() == before)  # not 75 s later


async def test_a_request_longer_than_the_timeout_is_not_cut() -> None:
    app = App(slow=3 * TIMEOUT)
    async with serving(app, keep_alive=TIMEOUT) as server:
        connection = await server.connect()
        with trio.fail_after(10):
            assert await answered(connection, server.get("/slow")) == b"done"
            assert await answered(connection, server.get()) == b"done"  # still open after it
            assert await connection.closed_by_server()


@pytest.mark.parametrize("grace", [0.05, 60.0])
async def test_a_busy_connection_keeps_its_timer_task_for_the_busy_grace_only(
    monkeypatch: pytest.MonkeyPatch, grace: float
) -> None:
    """An event stream is a request that lasts: past the busy grace its connection keeps no
    timer task; within it the task stays (not ended and started again for every request). Idle
    again, the connection is timed again."""
    monkeypatch.setattr(KeepAliveTimer, "BUSY_GRACE", grace)
    app = App(slow=None)
    async with serving(app, keep_alive=TIMEOUT) as server:
        connection = await server.connect()
        with trio.fail_after(10):
            await connection.send(server.get("/slow"))
            await app.slow_started.wait()
            [timer] = app.timers
            assert isinstance(timer, KeepAliveTimer)
            if grace < 1:
                await wait_until(lambda: not timer.has_task)  # no event marks a task's end
            else:
                await trio.testing.wait_all_tasks_blocked()
                assert timer.has_task
            app.release.set()
            assert (await connection.read_response()).body == b"done"
            idle_from = trio.current_time()
            await wait_until(lambda: timer.has_task)
            assert await connection.closed_by_server()
        # not closed at once (the timer starts as the response goes out, a moment before the
        # client has read it: hence the margin)
        assert trio.current_time() - idle_from >= TIMEOUT / 2


async def test_a_shutdown_closes_idle_connections_at_once_and_lets_requests_finish() -> None:
    app = App(slow=None)
    async with serving(app, keep_alive=75) as server:  # the timeout plays no part here
        idle, busy = await server.connect(), await server.connect()
        with trio.fail_after(10):
            await answered(idle, server.get())
            await busy.send(server.get("/slow"))
            await app.slow_started.wait()
            server.stop.set()
            assert await idle.closed_by_server()  # at once: the slow request is still held
            assert not app.release.is_set()
            app.release.set()
            response = await busy.read_response()
            assert (response.status, response.body) == (200, b"done")
            await server.stopped.wait()


def test_hypercorn_still_has_what_the_timer_relies_on() -> None:
    """The timer stands in for ``TCPServer.idle_task`` and closes as ``_idle_timeout`` did: when
    hypercorn changes those, this fails rather than the timer silently not running."""
    source = inspect.getsource(tcp_server)  # hypercorn's own, whatever mapsrv has patched
    assert "self.idle_task = TrioSingleTask()" in source
    assert "await self.idle_task.restart(self._task_group, self._idle_timeout)" in source
    assert "await self.idle_task.stop()" in source
    assert "await self.context.terminated.wait()" in source
    assert callable(tcp_server.TCPServer._initiate_server_close)


class _ServerEnding:
    """hypercorn's server-wide "shutting down" event, never set here. Its wait, when the timer's
    deadline cancels it, runs ``on_cancel`` first: a request's stop and restart landing in the
    one scheduler tick between the wait's end and the timer's task running again."""

    def __init__(self) -> None:
        self.on_cancel: Any = None

    def is_set(self) -> bool:
        return False

    async def wait(self) -> None:
        try:
            await trio.sleep_forever()
        finally:
            on_cancel, self.on_cancel = self.on_cancel, None
            if on_cancel is not None:
                await on_cancel()


@dataclass
class _Connection:
    """What ``KeepAliveTimer`` asks of hypercorn's ``TCPServer``: its config's timeout, the
    server's context, and a way to close the connection (noted here, with the time)."""

    ending: _ServerEnding = field(default_factory=_ServerEnding)
    closed_at: list[float] = field(default_factory=list)

    @property
    def config(self) -> Any:
        return type("Config", (), {"keep_alive_timeout": 75.0})

    @property
    def context(self) -> Any:
        return type("Context", (), {"terminated": self.ending})

    async def _initiate_server_close(self) -> None:
        self.closed_at.append(trio.current_time())


async def test_a_request_in_the_tick_where_the_timeout_ends_moves_it_instead_of_ending_the_timer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The one race a real connection cannot place: the deadline passes, and before the timer's
    task runs again a request comes and goes (``stop``, ``restart``). The connection is not closed
    then (it was just used), and the timer goes on: closed one timeout after that request."""
    connection = _Connection()
    timer = KeepAliveTimer(connection)
    async with trio.open_nursery() as nursery:
        spawner = type("TaskGroup", (), {"spawn": staticmethod(nursery.start_soon)})
        started = trio.current_time()

        async def request() -> None:
            await timer.stop()
            await timer.restart(spawner, None)

        connection.ending.on_cancel = request
        await timer.restart(spawner, None)
        with trio.fail_after(1000):
            await wait_until(lambda: bool(connection.closed_at), timeout=1000)
        assert connection.closed_at == [started + 150.0]
        assert not timer.has_task
