"""A joined table's rows as the places drawn (issue 76): without a time column each row is one
outline; with one (``year``), each place's rows are one outline whose properties hold lists by
time, a ``series`` (``mapsrv.core.series``), so that 1,692 country-years are 141 outlines, not
1,692 copies of them thinned to fit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mapsrv.core.times import time_ms

__all__ = ["Outline", "Place", "Row", "by_place"]


class Outline(Protocol):
    """A country's or region's outline: its code, its name, its polygons (each its outer ring,
    then its holes) as (lon, lat), biggest first."""

    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def polygons(self) -> Sequence[Sequence[Sequence[tuple[float, float]]]]: ...


@dataclass(frozen=True)
class Row:
    """A row that found its outline: its line, its cells, its time (the time column's text) and
    what it said (its key, and its name column's value when that differs)."""

    line: int
    outline: Outline
    props: dict[str, object]
    time: str
    said: str
    timed: bool
    time_key: str = ""


@dataclass(frozen=True)
class Place:
    """One outline to draw: a place's properties (a series: lists by time), its lines."""

    outline: Outline
    props: dict[str, object]
    series: str
    lines: list[int]


def _moment(row: Row) -> tuple[float, str]:
    moment = time_ms(row.props.get(row.time_key)) if row.time_key else None
    return (math.inf if moment is None else moment, row.time)


def by_place(matched: list[Row], time_key: str) -> list[Place]:
    """Each outline's rows as one place whose properties hold lists by time (``mapsrv.core.series``):
    a column the same in every row stays one value. Rows at a time the place already has (both
    Koreas KOR in 2007: ``stacked``) make a second place on the outline, drawn over the first."""
    lanes: dict[int, list[list[Row]]] = {}
    for row in matched:
        outline_lanes = lanes.setdefault(id(row.outline), [])
        lane = next((lane for lane in outline_lanes if all(r.time != row.time for r in lane)), None)
        if lane is None:
            outline_lanes.append(lane := [])
        lane.append(row)
    out: list[Place] = []
    for lane in (lane for outline_lanes in lanes.values() for lane in outline_lanes):
        if len(lane) == 1:
            out.append(Place(lane[0].outline, lane[0].props, "", [lane[0].line]))
            continue
        rows = sorted(lane, key=_moment)
        keys = list(dict.fromkeys(k for r in rows for k in r.props))
        props: dict[str, object] = {}
        for key in keys:
            values = [r.props.get(key) for r in rows]
            # a tuple: by time, each text cut to a list item's 64 characters as a track's are
            varies = key == time_key or any(v != values[0] for v in values)
            props[key] = tuple(values) if varies else values[0]
        out.append(Place(rows[0].outline, props, time_key, sorted(r.line for r in rows)))
    out.sort(key=lambda place: place.lines[0])
    return out
