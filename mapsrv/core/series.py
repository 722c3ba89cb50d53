"""A place's rows by time on one feature (issue 76): a table of countries by year joins to one
outline per country whose ``series`` names the property holding its times (``year``: ``[1952,
1957, ... 2007]``); each other property holding a list as long is one value per time (``lifeExp``:
``[28.8, 30.3, ... 43.8]``), and the rest are the place's own (``continent``: ``"Asia"``).

What a series shows under a time window is its row at the latest of its times inside it (every
time is 1952-2007: 2007's; the window on 1990-1999: 1997's); with no window, its latest row. The
feature is shown when any of its times is inside the window, as any feature with a list of times
(``style_rules.in_time``). The page applies the same rule (static/style.js ``propsAt``); the image,
the counts and the classes apply this one. Times are read by ``mapsrv.core.times``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from mapsrv.core.model import Feature, MapState
from mapsrv.core.times import time_ms

__all__ = ["as_rows", "at_time", "props_at", "row_index", "rows_of"]


def _times(props: Mapping[str, Any], series: str) -> tuple[Any, ...] | None:
    value = props.get(series)
    return tuple(value) if isinstance(value, (tuple, list)) and value else None


def row_index(props: Mapping[str, Any], series: str, window: Mapping[str, Any] | None) -> int | None:
    """The row a series shows under ``window`` (a style's time: property, from, to): the latest of
    its times inside it, the last such row on a tie; with no window, the latest of all. None
    when no time of it is inside, or it holds no list of times."""
    times = _times(props, series)
    if times is None:
        return None
    start = end = None
    if window is not None:
        start, end = time_ms(window.get("from")), time_ms(window.get("to"))
    best: tuple[float, int] | None = None
    for index, value in enumerate(times):
        moment = time_ms(value)
        if moment is None or (start is not None and moment < start) or (end is not None and moment > end):
            continue
        if best is None or moment >= best[0]:
            best = (moment, index)
    return None if best is None else best[1]


def _row(props: Mapping[str, Any], n: int, index: int) -> dict[str, Any]:
    return {
        key: value[index] if isinstance(value, (tuple, list)) and len(value) == n else value
        for key, value in props.items()
    }


def props_at(feature: Feature, window: Mapping[str, Any] | None) -> dict[str, Any]:
    """The feature's properties as shown under ``window``: a series' row at its time (its latest
    row when no time is inside), any other feature's properties as they are."""
    props = dict(feature.properties)
    if not feature.series:
        return props
    times = _times(props, feature.series)
    if times is None:
        return props
    index = row_index(props, feature.series, window)
    if index is None:
        index = row_index(props, feature.series, None)
    return props if index is None else _row(props, len(times), index)


def at_time(feature: Feature, window: Mapping[str, Any] | None) -> Feature:
    """The feature as shown under ``window``: a series is its row then, a feature of one time."""
    if not feature.series:
        return feature
    return dataclasses.replace(feature, properties=tuple(props_at(feature, window).items()), series="")


def rows_of(feature: Feature) -> list[Feature]:
    """A series as its rows, one feature of one time each (classes over all times, a table's
    export); any other feature as it is."""
    props = dict(feature.properties)
    times = _times(props, feature.series) if feature.series else None
    if times is None:
        return [feature]
    return [
        dataclasses.replace(feature, properties=tuple(_row(props, len(times), i).items()), series="")
        for i in range(len(times))
    ]


def as_rows(state: MapState) -> MapState:
    """``state`` with each series as its rows (``f7.1`` to ``f7.12``, each the place's outline at
    one time): for a file with no lists by time (a GeoPackage, a CSV, KML), the table as it came."""
    if not any(f.series for f in state.features.values()):
        return state
    taken = {fid for fid, f in state.features.items() if not f.series}
    features: dict[str, Feature] = {}
    for feature in state.features.values():
        rows = rows_of(feature)
        if len(rows) == 1 and not feature.series:
            features[feature.id] = feature
            continue
        for n, row in enumerate(rows, 1):
            fid, more = f"{feature.id[:56]}.{n}", 1
            while fid in taken:  # a feature of that id already, or another series' row
                more += 1
                fid = f"{feature.id[:50]}.{n}_{more}"
            taken.add(fid)
            features[fid] = dataclasses.replace(row, id=fid)
    return dataclasses.replace(state, features=features)
