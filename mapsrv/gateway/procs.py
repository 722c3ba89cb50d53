"""Linux process hygiene: parent-death signals, the gateway as subreaper, process groups read
from /proc, and how children are forked.

``PR_SET_PDEATHSIG`` fires when the *thread* that forked the child exits, not the process. Trio's
``open_process`` forks from its worker-thread cache, whose threads exit after idling, which would
kill healthy children at random. So children are forked from trio's own thread, which lives as
long as the gateway, and set the signal themselves: ``with_parent_death_signal`` runs them as
``setpriv --pdeathsig KILL -- sh -c CHECK`` (util-linux), where CHECK execs the command only if
the gateway is still the parent, so a gateway killed before the signal was set leaves nothing
behind. No Python runs between fork and exec, which lets ``subprocess`` use vfork: a spawn is
2-3 ms, where forking the whole gateway to run a ``preexec_fn`` took 13-16 ms with the GIL held,
and 100-300 ms each when 16 were spawned at once from spawner threads (which also handed the GIL
back and forth with the event loop).

Without setpriv (or with one older than util-linux 2.33, which lacks ``--pdeathsig``), children
are forked with a ``preexec_fn`` that sets the signal, from the
``Spawner``'s long-lived threads.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import queue
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Container, Iterator
from typing import Any

import trio

__all__ = [
    "Spawner",
    "group_members",
    "kill_group",
    "live_group_members",
    "reap_adopted",
    "set_child_subreaper",
    "set_parent_death_signal",
    "setpriv",
    "with_parent_death_signal",
]

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_libc: Any = None


def _prctl(option: int, value: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def set_parent_death_signal(signum: int = signal.SIGKILL) -> None:
    """In a forked child before exec: die with ``signum`` when the forking thread dies."""
    _prctl(PR_SET_PDEATHSIG, signum)


@functools.cache
def setpriv() -> str | None:
    """util-linux's setpriv, if it is installed and knows ``--pdeathsig`` (2.33 and later)."""
    path = shutil.which("setpriv")
    if path is None:
        return None
    try:
        check = subprocess.run(
            [path, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", ":"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if check.returncode == 0 else None


# $0 is the gateway's pid: a parent that died before the signal was set is not there any more
_CHECK_PARENT = '[ "$PPID" = "$0" ] || exit 125; '
_SHELL_VARIABLES = ("PWD", "OLDPWD", "SHLVL", "_")  # what sh adds to the environment it passes on


def with_parent_death_signal(argv: list[str], env: dict[str, str], cwd: str | None) -> list[str] | None:
    """``argv`` run so that it dies with SIGKILL when the thread that forks it exits, with no
    code run between fork and exec; None when setpriv is not installed. Raises as ``Popen``
    would for a command that cannot be run (the wrapper itself always can)."""
    wrapper = setpriv()
    if wrapper is None:
        return None
    program = argv[0]
    if "/" in program:
        path: str | None = os.path.join(cwd or "", program)
    else:
        path = shutil.which(program, mode=os.F_OK, path=os.pathsep.join(os.get_exec_path(env)))
    if path is None or not os.path.isfile(path):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
    if not os.access(path, os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), program)
    added = " ".join(name for name in _SHELL_VARIABLES if name not in env)
    script = _CHECK_PARENT + (f"unset {added}; " if added else "") + 'exec "$@"'
    return [wrapper, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", script, str(os.getpid()), *argv]


def set_child_subreaper(on: bool = True) -> None:
    """Orphaned descendants are re-parented to this process rather than to init, so a wrapper's
    background children stay ours to reap and to kill (``on=False``: to init again)."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0)


def _stat_fields(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgrp) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    rest = raw[raw.rfind(b")") + 2 :].split()  # the command name may contain spaces and ')'
    return rest[0].decode(), int(rest[1]), int(rest[2])


def _pids() -> Iterator[int]:
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, state) of every process in group ``pgid``, zombies included."""
    found = []
    for pid in _pids():
        fields = _stat_fields(pid)
        if fields is not None and fields[2] == pgid:
            found.append((pid, fields[0]))
    return found


def live_group_members(pgid: int) -> list[int]:
    return [pid for pid, state in group_members(pgid) if state not in ("Z", "X")]


def reap_adopted(groups: Container[int], skip: Container[int]) -> list[int]:
    """Reap zombie children of this process in ``groups`` (orphans adopted as subreaper), except
    ``skip``: the direct children whose own waiters reap them. Other children of this process
    (a test's, a library's) are left alone."""
    me = os.getpid()
    reaped = []
    for pid in _pids():
        fields = _stat_fields(pid)
        if fields is None or fields[1] != me or fields[0] != "Z" or fields[2] not in groups or pid in skip:
            continue
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                reaped.append(pid)
        except ChildProcessError:
            pass
    return reaped


def kill_group(pgid: int, signum: int) -> bool:
    """Signal a whole group; False when it no longer exists."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError as exc:  # a member changed credentials (setuid): not ours to signal
        return exc.errno != errno.EPERM
    return True


class Spawner:
    """Runs ``subprocess.Popen`` on ``threads`` threads of its own, until ``close()``: only once
    every child they started is gone, since a thread's exit sends its children their death
    signal."""

    def __init__(self, threads: int = 4) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._loop, name=f"mapsrv-spawner-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()
        self._closed = False

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    def close(self) -> None:
        """End the thread (it is idle or about to be: nothing waits on a job once we stop)."""
        self._closed = True
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    async def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        if self._closed:
            raise OSError(errno.ESHUTDOWN, "the gateway is stopping")
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        box: list[Any] = []

        def job() -> None:
            try:
                box.append(subprocess.Popen(argv, **kwargs))
            except BaseException as exc:
                box.append(exc)
            token.run_sync_soon(done.set)

        self._jobs.put(job)
        with trio.CancelScope(shield=True):  # a started child must reach an owner who stops it
            await done.wait()
        if isinstance(box[0], BaseException):
            raise box[0]
        process: subprocess.Popen[bytes] = box[0]
        return process
