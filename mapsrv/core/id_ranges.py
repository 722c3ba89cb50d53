"""Feature ids in runs: ``f1-f177`` for the 177 ids an import of 177 rows gets (core numbers the
ids it makes ``f1``, ``f2``... in order), so an answer names every feature of a big import in a
few bytes, and a tool given the run back takes it as those ids.

A run is written only for three ids or more in a row; a string that is a feature's own id is
always that id (an id may hold a ``-``), never a run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["expanded", "runs"]

_NUMBERED = re.compile(r"(.*?)(0|[1-9][0-9]*)")  # a prefix, then a number without leading zeros
_RUN = re.compile(r"(?P<prefix>.*?)(?P<first>0|[1-9][0-9]*)-(?P=prefix)(?P<last>0|[1-9][0-9]*)")


def runs(ids: Sequence[str]) -> list[str]:
    """``ids`` in order, each three or more numbered one after another (``f4``, ``f5``, ``f6``)
    written as one run (``f4-f6``)."""
    out: list[str] = []
    i = 0
    while i < len(ids):
        start = _NUMBERED.fullmatch(ids[i])
        j = i + 1
        if start is not None:
            prefix, number = start.group(1), int(start.group(2))
            while j < len(ids) and ids[j] == f"{prefix}{number + j - i}":
                j += 1
        out += [f"{ids[i]}-{ids[j - 1]}"] if j - i >= 3 else ids[i:j]
        i = j
    return out


def expanded(ids: Iterable[str], held: Mapping[str, object]) -> list[str]:
    """``ids`` with each run (``f1-f177``) put back as the ids in it that ``held`` (a map's
    features by id) has, in order; anything else, and a run none of whose ids is held, as it is
    (the tool then says it is not on the map)."""
    out: list[str] = []
    for fid in ids:
        run = None if not isinstance(fid, str) or fid in held else _RUN.fullmatch(fid)
        if run is None:
            out.append(fid)
            continue
        prefix, first, last = run["prefix"], int(run["first"]), int(run["last"])
        if last - first < len(held):
            numbers = [n for n in range(first, last + 1) if f"{prefix}{n}" in held]
        else:  # a run wider than the map: only the map's ids can be in it
            numbers = sorted(
                int(m.group(2))
                for m in map(_NUMBERED.fullmatch, held)
                if m is not None and m.group(1) == prefix and first <= int(m.group(2)) <= last
            )
        out += [f"{prefix}{n}" for n in numbers] or [fid]
    return out
