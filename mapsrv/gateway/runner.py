"""One stdio child: spawned in its own process group with a parent-death signal, its stdout framed
into lines, its stderr logged (bounded) under the session's tag, and its whole group stopped with
TERM, then KILL after a grace, however it ends.

Its stdout is read by the task that routes its lines (``Child.frames``), not by a pump of its own
that hands them on: one task switch fewer per message. Reads are 64 KiB until one comes back full,
then 1 MiB while they keep coming back full: a read of up to 1 MiB allocates 1 MiB (measured
alone, 71 us for a 200-byte answer against 4 us for a 64 KiB read), while a large message wants
few, large reads.

``Children`` owns what all children share: how they are forked (``procs``), the watchdog, the
set of groups to reap adopted orphans from, and the nursery their tasks run in.
"""

from __future__ import annotations

import collections
import errno
import fcntl
import fnmatch
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from mapsrv.gateway.framing import Line, LineSplitter, Oversize
from mapsrv.gateway.procs import (
    Spawner,
    group_members,
    kill_group,
    live_group_members,
    reap_adopted,
    set_child_subreaper,
    set_parent_death_signal,
    setpriv,
    with_parent_death_signal,
)
from mapsrv.gateway.watchdog import Watchdog

__all__ = ["Child", "ChildSpec", "Children", "ExitReason", "Frames", "child_environment"]

log = logging.getLogger("mapsrv.gateway.child")

SMALL_READ = 64 * 1024
LARGE_READ = 1024 * 1024
PIPE_SIZE = 1024 * 1024  # Linux's default pipe-max-size: 16x fewer wake-ups for a large message than 64 KiB
STDERR_LINE = 2048  # longest stderr line logged; the rest is cut
STDERR_BUDGET = 256 * 1024  # stderr bytes logged per child before the rest is only counted
REAP_INTERVAL = 1.0  # seconds between scans of /proc for adopted zombies


@dataclass(frozen=True)
class ChildSpec:
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)  # set for the child, on top of the allowlist
    cwd: str | None = None
    shell: bool = False  # run ``command`` (joined) through /bin/sh -c


def child_environment(spec: ChildSpec, environ: Mapping[str, str], allow: Sequence[str]) -> dict[str, str]:
    """The gateway's variables named by ``allow`` (shell patterns), then the server's own."""
    env = {k: v for k, v in environ.items() if any(fnmatch.fnmatchcase(k, pat) for pat in allow)}
    env.update(spec.env)
    return env


class ExitReason:
    STOPPED = "stopped"  # we ended it (session over, idle, gateway stopping)
    EXITED = "exited"  # it ended itself with status 0
    CRASHED = "crashed"  # non-zero status or a signal we did not send
    SPAWN_FAILED = "spawn_failed"


class Frames:
    """A child's stdout as lines and oversize markers, read in the receiving task. Iterate it, or
    ``receive()`` (``trio.EndOfChannel`` once stdout has ended or been closed), from one task."""

    def __init__(self, stream: trio.lowlevel.FdStream, max_line: int) -> None:
        self._stream = stream
        self._splitter = LineSplitter(max_line)
        self._ready: collections.deque[Line | Oversize] = collections.deque()
        self._read_size = SMALL_READ
        self._ended = False

    async def receive(self) -> Line | Oversize:
        while not self._ready:
            if self._ended:
                raise trio.EndOfChannel
            data = await _read(self._stream, self._read_size)
            if not data:
                self._ended = True
                raise trio.EndOfChannel
            self._read_size = LARGE_READ if len(data) == self._read_size else SMALL_READ
            self._ready.extend(self._splitter.feed(data))
        return self._ready.popleft()

    def __aiter__(self) -> Frames:
        return self

    async def __anext__(self) -> Line | Oversize:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None


async def _read(stream: trio.lowlevel.FdStream, size: int) -> bytes:
    """Up to ``size`` bytes; b"" at the end, or once the stream is closed under us."""
    try:
        return await stream.receive_some(size)
    except (trio.ClosedResourceError, OSError):
        return b""


class Child:
    """A running child. Frames from its stdout arrive on ``frames``; ``stop()`` ends it."""

    def __init__(self, process: subprocess.Popen[bytes], tag: str, max_line: int) -> None:
        self.process = process
        self.pid = process.pid
        self.tag = tag
        self.max_line = max_line
        self.returncode: int | None = None
        self.reason: str | None = None
        self.exited = trio.Event()  # the leader exited
        self.gone = trio.Event()  # the whole group is gone and reaped
        self._stop_requested = trio.Event()
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        self._stdin = trio.lowlevel.FdStream(os.dup(process.stdin.fileno()))
        self._stdout = trio.lowlevel.FdStream(os.dup(process.stdout.fileno()))
        self._stderr = trio.lowlevel.FdStream(os.dup(process.stderr.fileno()))
        for pipe in (process.stdin, process.stdout, process.stderr):
            pipe.close()
        for fd in (self._stdin.fileno(), self._stdout.fileno()):
            _enlarge_pipe(fd)
        self.frames = Frames(self._stdout, max_line)
        self._write_lock = trio.Lock()
        self.stderr_bytes = 0
        self._group_ended = False

    async def send(self, line: bytes) -> None:
        """Write one message (a line without its newline). Raises BrokenResourceError once the
        child's stdin is closed."""
        if not line.endswith(b"\n") and len(line) < PIPE_SIZE:
            line += b"\n"
        written = 0
        if line.endswith(b"\n") and not self._write_lock.locked():
            # Straight into the pipe when it has room, as most messages find it: no lock and no
            # checkpoint, each of which costs a pass of trio's scheduler (an epoll) per call
            written = self._write_now(line)
            if written == len(line):
                return
            self._write_lock.acquire_nowait()  # before any await: the rest follows at once
        else:
            await self._write_lock.acquire()
        try:  # a large message: two writes rather than a copy of it
            await self._stdin.send_all(memoryview(line)[written:])
            if not line.endswith(b"\n"):
                await self._stdin.send_all(b"\n")
        finally:
            self._write_lock.release()

    def _write_now(self, line: bytes) -> int:
        """What a non-blocking write takes of ``line`` now (0 when the pipe is full)."""
        fd = self._stdin.fileno()
        if fd < 0:
            raise trio.ClosedResourceError("the child's stdin is closed")
        try:
            return os.write(fd, line)
        except BlockingIOError:
            return 0
        except BrokenPipeError as exc:
            raise trio.BrokenResourceError("the child's stdin is closed") from exc

    def stop(self) -> None:
        if self.reason is None and not self.exited.is_set():  # the first end decides the reason
            self.reason = ExitReason.STOPPED
        self._stop_requested.set()

    async def _pump_stderr(self) -> None:
        splitter = LineSplitter(STDERR_LINE)
        logged = 0
        while data := await _read(self._stderr, SMALL_READ):
            self.stderr_bytes += len(data)
            for frame in splitter.feed(data):
                if logged >= STDERR_BUDGET:
                    continue
                text = frame.data if isinstance(frame, Line) else frame.prefix[:STDERR_LINE] + b"..."
                logged += len(text)
                log.info("%s", text.decode("utf-8", "replace"), extra={"session": self.tag, "pid": self.pid})
                if logged >= STDERR_BUDGET:
                    log.warning("stderr budget spent; not logging more", extra={"session": self.tag})

    async def _wait_exit(self) -> None:
        fd = os.pidfd_open(self.pid)
        try:
            await trio.lowlevel.wait_readable(fd)
        finally:
            os.close(fd)
        self.returncode = self.process.wait()
        if self.reason is None:
            self.reason = ExitReason.EXITED if self.returncode == 0 else ExitReason.CRASHED
        self.exited.set()


def _enlarge_pipe(fd: int) -> None:
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:  # over a lowered /proc/sys/fs/pipe-max-size: keep the default
        pass


class Children:
    """Spawns children and guarantees their end. Run ``serve`` in a nursery first."""

    def __init__(
        self,
        *,
        allow_env: Sequence[str],
        max_line: int,
        grace: float,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.allow_env = tuple(allow_env)
        self.max_line = max_line
        self.grace = grace
        self.environ = dict(os.environ if environ is None else environ)
        self.groups: dict[int, Child] = {}
        self._nursery: trio.Nursery | None = None
        self._spawner: Spawner | None = None
        self._watchdog: Watchdog | None = None
        self.spawns = 0
        self.exits: dict[str, int] = {}

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        set_child_subreaper()
        self._spawner = Spawner() if setpriv() is None else None
        self._watchdog = Watchdog()
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._reap_periodically)
                task_status.started()
                await trio.sleep_forever()
        finally:  # every child's own task has ended its group by now
            with trio.CancelScope(shield=True):
                await self._watchdog.aclose()
            if self._spawner is not None:
                self._spawner.close()

    async def _reap_periodically(self) -> None:
        """Grandchildren that die while their group lives are reaped here; groups that end are
        reaped as they end. Not on SIGCHLD: a trio signal receiver re-raises pending signals as
        it closes, which breaks a second gateway in the same process at shutdown."""
        while True:
            await trio.sleep(REAP_INTERVAL)
            self.reap()

    def reap(self) -> None:
        """Reap adopted orphans from our children's groups (their leaders are reaped by their
        own waiters)."""
        reap_adopted(self.groups.keys(), self.groups.keys())

    def on_exit(self, child: Child, callback: Callable[[Child], None]) -> None:
        """Call ``callback(child)`` once the child's leader has exited (its reason is known)."""
        assert self._nursery is not None

        async def watch() -> None:
            await child.exited.wait()
            callback(child)

        self._nursery.start_soon(watch)

    async def spawn(self, spec: ChildSpec, tag: str) -> Child:
        """Start a child and its pumps; it runs until ``stop()``, its own exit, or ours."""
        assert self._nursery is not None and self._watchdog is not None
        argv = ["/bin/sh", "-c", " ".join(spec.command)] if spec.shell else list(spec.command)
        env = child_environment(spec, self.environ, self.allow_env)
        options: dict[str, Any] = dict(
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=spec.cwd,
            start_new_session=True,
            bufsize=0,
        )
        wrapped = with_parent_death_signal(argv, env, spec.cwd)
        if wrapped is not None:  # vforked from trio's thread, which lives as long as we do: 2-3 ms
            process = subprocess.Popen(wrapped, **options)  # noqa: ASYNC220
        else:
            assert self._spawner is not None
            process = await self._spawner.popen(argv, preexec_fn=set_parent_death_signal, **options)
        self.spawns += 1
        child = Child(process, tag, self.max_line)
        self.groups[child.pid] = child
        self._watchdog.watch(child.pid)
        try:
            await self._nursery.start(self._run, child)
        except RuntimeError:  # we are stopping (our nursery is closed): it never gets an owner
            self._abandon(child)
            raise OSError(errno.ESHUTDOWN, "the gateway is stopping") from None
        return child

    def _abandon(self, child: Child) -> None:
        """Kill a child that was spawned as we stopped, before it could start anything."""
        kill_group(child.pid, signal.SIGKILL)
        child.process.wait()
        for stream in (child._stdin, child._stdout, child._stderr):
            stream.close()
        self.groups.pop(child.pid, None)
        if self._watchdog is not None:
            self._watchdog.forget(child.pid)

    async def _run(self, child: Child, *, task_status: trio.TaskStatus[None]) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(child._pump_stderr)
                nursery.start_soon(child._wait_exit)
                task_status.started()
                async with trio.open_nursery() as either:  # our stop, or its own exit

                    async def on(event: trio.Event) -> None:
                        await event.wait()
                        either.cancel_scope.cancel()

                    either.start_soon(on, child._stop_requested)
                    either.start_soon(on, child.exited)
                with trio.CancelScope(shield=True):
                    await self._end_group(child)
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await self._end_group(child)
                for stream in (child._stdin, child._stdout, child._stderr):
                    await stream.aclose()
                self.groups.pop(child.pid, None)
                if self._watchdog is not None:
                    self._watchdog.forget(child.pid)
                reason = child.reason or ExitReason.STOPPED
                self.exits[reason] = self.exits.get(reason, 0) + 1
                child.gone.set()
                log.info(
                    "child ended",
                    extra={
                        "session": child.tag,
                        "pid": child.pid,
                        "reason": reason,
                        "status": child.returncode,
                    },
                )

    async def _end_group(self, child: Child) -> None:
        """TERM the group (closing stdin too), KILL it after the grace, then wait until every
        member is gone and reaped."""
        if child._group_ended:
            return
        await child._stdin.aclose()
        if live_group_members(child.pid) or not child.exited.is_set():
            kill_group(child.pid, signal.SIGTERM)
            kill_group(child.pid, signal.SIGCONT)  # a stopped member would hold TERM until KILL
            with trio.move_on_after(self.grace):
                await _until_group_empty(child, self)
        kill_group(child.pid, signal.SIGKILL)
        with trio.move_on_after(5):
            await _until_group_empty(child, self, zombies_too=True)
        child._group_ended = True


async def _until_group_empty(child: Child, children: Children, *, zombies_too: bool = False) -> None:
    """Members other than the leader are not our children until orphaned, so no event says when
    they go: poll /proc, backing off from 2 ms to 50 ms."""
    delay = 0.002
    while True:
        if not child.exited.is_set() and child.process.poll() is not None:  # its waiter was cancelled
            child.returncode = child.process.returncode
            child.reason = child.reason or ExitReason.STOPPED
            child.exited.set()
        if child.exited.is_set():
            children.reap()
            members = (
                group_members(child.pid) if zombies_too else [(p, "") for p in live_group_members(child.pid)]
            )
            if not members:
                return
        await trio.sleep(delay)
        delay = min(delay * 2, 0.05)
