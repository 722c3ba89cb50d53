"""What a process holds, part by part (issue 78): read when ``/metrics`` is scraped or ``/ready``
asked, never on a hot path.

Measured: the resident memory of this process and of its child processes (the sandboxed readers
of files from strangers and their spare, the process workers: ``mapsrv.workers``), from Linux's
``/proc`` (each process's ``statm``; its children from ``/proc/<pid>/task/*/children``); 0 and
none where there is no ``/proc``. Counted by the parts that keep them (``Held``): the features of
the maps held, the outlines kept prepared (the regions' borders by points, an imported extract's
areas by their WKB bytes), the join outlines (loaded or not), the street tiles cached. Python's
allocations cannot be told apart by owner without tracing them all; these are what each part
keeps, so an operator sees which one grew."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Held", "Resident", "child_pids", "resident", "resident_bytes"]

_PROC = Path("/proc")


def resident_bytes(pid: int | str = "self") -> int:
    """A process's resident memory in bytes (0 when it is gone, or there is no ``/proc``)."""
    try:
        pages = int((_PROC / str(pid) / "statm").read_bytes().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def child_pids(pid: int | str = "self") -> list[int]:
    """Every process below ``pid``: its children, theirs, and so on."""
    found: list[int] = []
    stack = [str(pid)]
    while stack:
        parent = stack.pop()
        try:
            tasks = list((_PROC / parent / "task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            found += children
            stack += [str(c) for c in children]
    return found


@dataclass(frozen=True)
class Resident:
    """Resident memory in bytes: this process's, and its child processes' together."""

    server: int
    workers: int
    worker_processes: int


def resident() -> Resident:
    children = child_pids()
    return Resident(resident_bytes(), sum(resident_bytes(c) for c in children), len(children))


@dataclass(frozen=True)
class Held:
    """What the parts of a server keep, counted by each (``mapsrv.server`` gathers them)."""

    features: int = 0  # of the maps held in memory
    border_points_kept: int = 0  # the regions' outlines kept prepared (``places.borders``)
    join_outlines_loaded: bool = False  # the outlines a table joins to (``places.boundaries``)
    cache_bytes: Mapping[str, int] = field(default_factory=dict)  # by cache: area outlines, street tiles
