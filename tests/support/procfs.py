"""Processes as /proc sees them: the zombies a test process has not reaped."""

from __future__ import annotations

import os

__all__ = ["no_zombies", "zombies_of"]


def zombies_of(pid: int = 0) -> list[int]:
    """Zombie children of ``pid`` (default: this process)."""
    parent = pid or os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == b"Z" and int(fields[1]) == parent:
            found.append(int(name))
    return found


async def no_zombies(timeout: float = 5) -> None:  # noqa: ASYNC109
    """Until this process has no zombie children: a child that just exited is reaped by the
    gateway's reaper within its interval (1 s); one still there after ``timeout`` is a leak."""
    from support.waiting import wait_until

    await wait_until(lambda: zombies_of() == [], timeout=timeout)
