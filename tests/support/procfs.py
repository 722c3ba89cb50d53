"""Processes as /proc sees them: the zombies a test process has not reaped."""

from __future__ import annotations

import os

__all__ = ["zombies_of"]


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
