"""The commit writer: how ``RedisLink.send`` gets packed commits to Redis and their replies back
to the Trio tasks waiting for them.

A commit is the hot path of every write with a Redis store, and through redis-py's client it paid
for machinery it does not need: an asyncio task per call, a trip through the connection pool (its
lock, its observability hooks), redis-py's command packer, and, on Python 3.11, the
``asyncio.wait_for`` task that ``send_packed_command`` starts for every write; plus a crossing of
the trio-asyncio bridge each, which costs about as much as a Redis round trip (DESIGN.md). Here the
store packs its commands itself (``pack``), and one asyncio task per process (``Writer``), with a
connection of its own, sends every commit queued since its last write in one write, reads the
replies in order and wakes each waiting Trio task directly (``Job``): one crossing per commit and
none of redis-py's command machinery, and under load commits share round trips
(docs/benchmarks.md, "The commit writer": a third less CPU per write).

``Waiter`` is what a Trio task waiting on the asyncio side has in common, here and in the link's
own calls (``mapsrv.store.redis.link``): whoever comes first wakes it (the work finishing, the
link's deadline, or Trio's cancellation). The breaker and the deadlines stay with the link.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any

import outcome
import redis.exceptions
import trio

__all__ = ["Job", "Waiter", "Writer", "pack"]


def pack(*args: bytes | str | int) -> bytes:
    """One command in Redis's protocol (RESP), packed here: cheaper than redis-py's packer."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class Waiter:
    """A Trio task waiting for work on the asyncio side. Whoever comes first wakes it: the work
    finishing, the deadline (``expire``), or Trio's cancellation; the others find it woken."""

    __slots__ = ("started", "waiter", "woken")

    def __init__(self, started: float) -> None:
        self.started = started
        self.waiter = trio.lowlevel.current_task()
        self.woken = False

    def _wake(self, result: outcome.Outcome[Any]) -> None:
        if not self.woken:
            self.woken = True
            trio.lowlevel.reschedule(self.waiter, result)

    def expire(self, after: float) -> None:
        """The deadline passed: end the wait now, whatever the asyncio side does."""
        self._wake(outcome.Error(redis.exceptions.TimeoutError(f"no reply from redis within {after:.1f} s")))

    def _abort(self, raise_cancel: Any) -> trio.lowlevel.Abort:
        self.woken = True
        return trio.lowlevel.Abort.SUCCEEDED

    async def wait(self) -> Any:
        return await trio.lowlevel.wait_task_rescheduled(self._abort)


class Job(Waiter):
    """Packed commands for the writer, and how many replies they get. The replies come back as a
    list, a ``ResponseError`` in place of each error reply."""

    __slots__ = ("count", "packed")

    def __init__(self, packed: bytes, count: int, started: float) -> None:
        super().__init__(started)
        self.packed = packed
        self.count = count

    def finish(self, result: outcome.Outcome[Any]) -> None:
        self._wake(result)


async def _send(connection: Any, data: bytes) -> None:
    """Write to a connected redis-py connection, straight to its asyncio stream (redis-py's
    ``send_packed_command`` wraps every write in ``asyncio.wait_for``, an asyncio task per write
    on Python 3.11); waiting for the socket only when its buffer is full. A redis-py that no
    longer keeps the stream as ``_writer`` fails every commit (and the store's tests) at once."""
    stream = connection._writer
    stream.write(data)
    if stream.transport.get_write_buffer_size() > _HIGH_WATER:
        try:
            await asyncio.wait_for(stream.drain(), connection.socket_timeout)
        except TimeoutError as exc:  # Redis stopped reading: a timeout, so the write is not sent again
            raise redis.exceptions.TimeoutError(f"writing to redis timed out: {exc!r}") from exc
        except OSError as exc:
            raise redis.exceptions.ConnectionError(f"writing to redis failed: {exc!r}") from exc


_HIGH_WATER = 1 << 16


class Writer:
    """Commits' way to Redis: one asyncio task with a connection of its own. It takes every job
    queued since its last write, sends them in one write, reads their replies in order and wakes
    each job's Trio task directly. A commit costs one crossing and no asyncio task, pool or
    redis-py command machinery of its own; under load, commits share round trips.

    A connection that fails fails the jobs it was sending (the link opens its breaker); the next
    job connects again (under Sentinel, by asking the Sentinels). A job whose connection had sat
    idle, and failed before any reply, is sent once more on a fresh one (after Redis restarted,
    an old connection's first write fails): safe, because commits carry batch ids."""

    def __init__(self, make_connection: Callable[[], Any]) -> None:
        self.make_connection = make_connection
        self.queue: collections.deque[Job] = collections.deque()
        self.connection: Any = None
        self.reset = False  # drop the connection before the next write (a demoted primary)
        self._wakeup: asyncio.Event | None = None
        self._idle = False  # until ``run`` starts, it looks at the queue first anyway

    def submit(self, job: Job) -> None:
        self.queue.append(job)
        if self._idle and self._wakeup is not None:
            self._idle = False
            self._wakeup.set()

    async def run(self) -> None:
        wakeup = self._wakeup = asyncio.Event()
        try:
            while True:
                if not self.queue:
                    self._idle = True
                    wakeup.clear()
                    await wakeup.wait()
                jobs = list(self.queue)
                self.queue.clear()
                await self._write(jobs, retry=True)
        finally:
            if self.connection is not None:
                await self.connection.disconnect(nowait=True)

    async def _write(self, jobs: list[Job], *, retry: bool) -> None:
        done = 0
        fresh = False
        try:
            connection = self.connection
            if connection is None or self.reset:
                if connection is not None:
                    await connection.disconnect(nowait=True)
                connection = self.connection = self.make_connection()
                self.reset = False
            if not connection.is_connected:
                fresh = True
                await connection.connect()
            await _send(connection, b"".join(job.packed for job in jobs))
            for job in jobs:
                replies: list[Any] = []
                for _ in range(job.count):
                    try:
                        replies.append(await connection.read_response())
                    except redis.exceptions.ResponseError as exc:
                        replies.append(exc)
                job.finish(outcome.Value(replies))
                done += 1
        except Exception as exc:
            if self.connection is not None:
                await self.connection.disconnect(nowait=True)
            if retry and not fresh and done == 0 and isinstance(exc, redis.exceptions.ConnectionError):
                await self._write(jobs, retry=False)
                return
            for job in jobs[done:]:
                job.finish(outcome.Error(exc))
