"""Rings as real files draw them: Natural Earth's own files hold rings that cross themselves and
rings left open. Both are kept as drawn (closing a ring is what RFC 7946 asks of it anyway), and
an import's notes say which features have them, so that an area or a buffer of one is not
trusted blindly. Found cheaply: a ring's ends compared, and shapely's validity per polygon (in
the import's worker thread, never on the event loop)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import shapely

from mapsrv.core.geometry import parts

__all__ = ["Rings"]

_LISTED = 10  # features named in a note; a count says how many more


class Rings:
    """What one file's polygons hold that a valid polygon does not, counted as they are read."""

    def __init__(self) -> None:
        self.unclosed = 0
        self.crossing: list[str] = []

    def look(self, where: str, type_: str, coords: Any) -> None:
        """Count ``coords``' open rings and note ``where`` when one of its polygons is not valid
        (a ring crossing itself or another); ``coords`` as the file wrote them."""
        if type_ not in ("polygon", "multipolygon", "collection"):
            return
        invalid = ""
        try:
            for rings in _polygons(type_, coords):
                self.unclosed += sum(len(r) > 1 and tuple(r[0]) != tuple(r[-1]) for r in rings)
                if not invalid and len(rings[0]) >= 3:
                    holes = [shapely.linearrings(_array(r)) for r in rings[1:] if len(r) >= 3]
                    shape = shapely.polygons(shapely.linearrings(_array(rings[0])), holes=holes or None)
                    if not shape.is_valid:
                        invalid = shapely.is_valid_reason(shape)
        except (TypeError, ValueError, IndexError, KeyError, shapely.errors.GEOSException):
            return  # not rings of points: build_feature says what is wrong
        if invalid:
            self.crossing.append(f"{where} ({invalid.lower()})")

    def notes(self) -> list[str]:
        out = []
        if self.crossing:
            n = len(self.crossing)
            listed = "; ".join(self.crossing[:_LISTED]) + (f" and {n - _LISTED} more" if n > _LISTED else "")
            out.append(
                f"{n} feature{'s' * (n > 1)} whose rings cross themselves or each other (or have too"
                f" few points), kept as drawn: areas and buffers of them may be off: {listed}"
            )
        if self.unclosed:
            n = self.unclosed
            out.append(f"{n} unclosed ring{'s' * (n > 1)} closed")
        return out


def _array(ring: Sequence[Any]) -> Any:
    """A ring's points as an array of (lat, lon), fast when each is a pair."""
    try:
        return np.asarray(ring, dtype=float)
    except ValueError:  # some positions carry an altitude
        return np.asarray([(p[0], p[1]) for p in ring], dtype=float)


def _polygons(type_: str, coords: Any) -> Iterator[Sequence[Any]]:
    if type_ == "collection":
        for member in coords:
            mtype, mcoords = (member["type"], member["coords"]) if isinstance(member, Mapping) else member
            yield from _polygons(mtype, mcoords)
        return
    for kind, rings in parts(type_, coords):
        if kind == "polygon":
            yield rings
