"""Processes as /proc sees them: the zombies a test process has not reaped, a process's
descendants, its state and signals, and this process's resident memory and its peak; and a
command started with its signals as a shell's user would start it."""

from __future__ import annotations

import os
import signal
import sys

__all__ = [
    "described",
    "descendants_of",
    "no_zombies",
    "peak_rss",
    "proc_stats",
    "reset_peak_rss",
    "rss",
    "rss_of",
    "with_default_signals",
    "zombies_of",
]

_SIGNAL_FIELDS = ("SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt")
_DEFAULTS = (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ)


def with_default_signals(argv: list[str]) -> list[str]:
    """``argv`` run with no signal blocked and the usual ones at their default action, as from a
    terminal. A child inherits the signal mask of the thread that forks it (trio's
    ``open_process`` forks from a worker thread) and every signal its parent ignores; a bash
    script can neither trap a signal ignored when it started nor ever see one blocked. The
    wrapper execs, so the PID is the command's."""
    reset = ", ".join(str(int(s)) for s in _DEFAULTS)
    code = (
        "import os, signal, sys\n"
        "signal.pthread_sigmask(signal.SIG_SETMASK, ())\n"
        f"for s in ({reset},):\n"
        "    signal.signal(s, signal.SIG_DFL)\n"
        "os.execvp(sys.argv[1], sys.argv[1:])\n"
    )
    return [sys.executable, "-c", code, *argv]


def described(pid: int) -> str:
    """A process's state and its signals (pending, blocked, ignored, caught), as /proc tells
    them, for a failure's message: why a process did not answer a signal."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/status") as status:
            masks = [line.strip() for line in status if line.startswith(_SIGNAL_FIELDS)]
        with open(f"/proc/{pid}/wchan") as wchan:
            waiting = wchan.read()
    except OSError as exc:
        return f"pid {pid}: {exc}"
    return f"pid {pid}: state {state}, waiting in {waiting or '-'}, " + ", ".join(masks)


def proc_stats() -> dict[int, list[bytes]]:
    """Every process's /proc stat fields after its name: state first, then the parent's pid."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                found[int(name)] = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
    return found


def zombies_of(pid: int = 0) -> list[int]:
    """Zombie children of ``pid`` (default: this process)."""
    parent = pid or os.getpid()
    return [p for p, fields in proc_stats().items() if fields[0] == b"Z" and int(fields[1]) == parent]


def descendants_of(root: int) -> list[int]:
    """Processes whose ancestry reaches ``root`` (read once from /proc)."""
    parents = {pid: int(fields[1]) for pid, fields in proc_stats().items()}
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


async def no_zombies(timeout: float = 5) -> None:  # noqa: ASYNC109
    """Until this process has no zombie children: a child that just exited is reaped by the
    gateway's reaper within its interval (1 s); one still there after ``timeout`` is a leak."""
    from support.waiting import wait_until

    await wait_until(lambda: zombies_of() == [], timeout=timeout)


def rss() -> int:
    """This process's resident memory now, in bytes."""
    return _status_kib("VmRSS:") * 1024


def rss_of(pids: list[int]) -> int:
    """The resident memory of ``pids`` together now, in bytes (one that has exited: 0)."""
    total = 0
    for pid in pids:
        try:
            total += _status_kib("VmRSS:", f"/proc/{pid}/status") * 1024
        except (OSError, StopIteration):  # gone, or a zombie (no VmRSS)
            continue
    return total


def peak_rss() -> int:
    """This process's most resident memory since it started or ``reset_peak_rss``, in bytes: a
    spike a sampler would miss (one call that inflates a gigabyte, then lets it go) shows here."""
    return _status_kib("VmHWM:") * 1024


def reset_peak_rss() -> None:
    """The peak starts again from now (Linux 4.0+: "5" to clear_refs, proc(5))."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _status_kib(field: str, path: str = "/proc/self/status") -> int:
    with open(path) as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))
