"""Processes as /proc sees them: the zombies a test process has not reaped, a process's
descendants, and this process's resident memory and its peak."""

from __future__ import annotations

import os

__all__ = [
    "descendants_of",
    "no_zombies",
    "peak_rss",
    "proc_stats",
    "reset_peak_rss",
    "rss",
    "rss_of",
    "zombies_of",
]


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
