"""A place's rows by time (issue 76): the row a series shows under a window is the same in the page
(static/style.js ``propsAt``, run in Node) and on the server (``mapsrv.core.series.props_at``) for
thousands of generated series and windows (years, dates, instants, times that are none, ties,
lists of another length); a series keeps its lists through an edit that moves it, is written as
its rows for a table, and is refused where it cannot be one."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from support.node import run_in_node

import mapsrv.web
from mapsrv.core import Limits, MapState
from mapsrv.core.apply import apply
from mapsrv.core.model import build_feature
from mapsrv.core.ops import AddFeature, UpdateFeature
from mapsrv.core.series import as_rows, props_at, rows_of
from mapsrv.core.times import time_ms
from mapsrv.errors import InvalidInput

STATIC = Path(mapsrv.web.__file__).resolve().parent / "static"
SCRIPT = """
globalThis.L = { Layer: { extend: (o) => o } };
const style = await import(%s);
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(cases.map(([f, win]) => style.propsAt(f, win))));
"""
SQUARE = [[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]]


def a_time(rng: random.Random) -> Any:
    kind = rng.randrange(6)
    year = rng.randrange(1900, 2030)
    if kind == 0:
        return year
    if kind == 1:
        return f"{year}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    if kind == 2:
        return f"{year}-06-30T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z"
    if kind == 3:
        return rng.choice([None, "soon", "June 2007", True])  # no time
    return rng.choice([1990, 2000, 2007])  # ties


def a_case(rng: random.Random) -> tuple[dict[str, Any], dict[str, Any] | None]:
    n = rng.randrange(1, 8)
    times = [a_time(rng) for _ in range(n)]
    props: dict[str, Any] = {"year": times, "value": [rng.random() for _ in range(n)], "name": "X"}
    if rng.random() < 0.5:
        props["other"] = [1, 2, 3, 4, 5, 6, 7, 8, 9][: rng.randrange(1, 10)]  # maybe not as long
    window = None
    if rng.random() < 0.8:
        window = {"property": "year"}
        for end in ("from", "to"):
            if rng.random() < 0.7:
                window[end] = rng.choice([rng.randrange(1900, 2030), f"{rng.randrange(1900, 2030)}-07-01"])
    return props, window


def test_the_page_and_the_server_show_the_same_row_of_a_series() -> None:
    rng = random.Random(76)
    cases = [a_case(rng) for _ in range(3000)]
    features = [
        build_feature(
            id="f1", type="polygon", coords=SQUARE, properties=props, series="year", limits=Limits()
        )
        for props, _ in cases
    ]
    python = [props_at(f, window) for f, (_, window) in zip(features, cases, strict=True)]
    page_cases = [
        [
            {"series": "year", "properties": f.to_json()["properties"]},
            None if window is None else [time_ms(window.get("from")), time_ms(window.get("to"))],
        ]
        for f, (_, window) in zip(features, cases, strict=True)
    ]
    page = run_in_node(SCRIPT % json.dumps((STATIC / "style.js").as_uri()), page_cases, timeout=60)
    as_json = [
        json.loads(json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in p.items()}))
        for p in python
    ]
    assert page == as_json
    chosen = sum(1 for p, (props, _) in zip(python, cases, strict=True) if not isinstance(p["value"], list))
    assert chosen > 2500, "most cases pick a row (some hold no time at all)"


def test_the_row_shown_is_the_latest_inside_the_window() -> None:
    props = {"year": [1952, 1957, 2007, 1997], "pop": [1, 2, 4, 3], "continent": "Asia"}
    f = build_feature(
        id="f1", type="polygon", coords=SQUARE, properties=props, series="year", limits=Limits()
    )
    assert props_at(f, {"property": "year", "from": 1990, "to": 1999}) == {
        "year": 1997,
        "pop": 3,
        "continent": "Asia",
    }
    assert props_at(f, None)["year"] == 2007, "no window: the latest"
    assert props_at(f, {"property": "year", "from": 1800, "to": 1900})["year"] == 2007, (
        "none inside: the latest"
    )
    assert [dict(r.properties)["pop"] for r in rows_of(f)] == [1, 2, 4, 3]


def test_an_edit_that_moves_a_series_keeps_its_rows_and_a_table_export_writes_them() -> None:
    limits = Limits()
    props = {"year": [2000, 2001, 2002, 2003], "pop": [1, 2, 3, 4]}  # as long as its points
    f = build_feature(id="p", type="polygon", coords=SQUARE, properties=props, series="year", limits=limits)
    state, _ = apply(MapState(id="m"), AddFeature(f), limits)
    moved = [[lat + 1, lon] for lat, lon in SQUARE]
    state, _ = apply(state, UpdateFeature(id="p", coords=moved, label="Moved"), limits)
    kept = state.features["p"]
    assert kept.series == "year" and list(dict(kept.properties)["pop"]) == [1, 2, 3, 4]
    rows = as_rows(state)
    assert sorted(rows.features) == ["p.1", "p.2", "p.3", "p.4"]
    assert [dict(r.properties)["year"] for r in rows.features.values()] == [2000, 2001, 2002, 2003]
    assert all(r.series == "" and r.label == "Moved" for r in rows.features.values())


@pytest.mark.parametrize(
    ("type_", "coords", "props", "series", "says"),
    [
        ("polygon", SQUARE, {"year": 2007}, "year", "a list of times"),
        ("polygon", SQUARE, {"pop": [1]}, "year", "a list of times"),
        ("polyline", SQUARE, {"year": [2007]}, "year", "a line's lists are one value a point"),
    ],
)
def test_a_series_that_cannot_be_one_is_refused(
    type_: str, coords: Any, props: dict[str, Any], series: str, says: str
) -> None:
    with pytest.raises(InvalidInput, match=says):
        build_feature(id="f", type=type_, coords=coords, properties=props, series=series, limits=Limits())


def test_rows_of_a_table_export_never_take_another_features_id() -> None:
    limits = Limits()
    props = {"year": [2000, 2010], "pop": [1, 2]}
    series = build_feature(
        id="f7", type="polygon", coords=SQUARE, properties=props, series="year", limits=limits
    )
    plain = build_feature(id="f7.1", type="marker", coords=[0.5, 0.5], limits=limits)
    state, _ = apply(MapState(id="m"), AddFeature(series), limits)
    state, _ = apply(state, AddFeature(plain), limits)
    rows = as_rows(state)
    assert len(rows.features) == 3, "both rows and the marker"
    assert rows.features["f7.1"].type == "marker"
    assert sorted(dict(f.properties)["pop"] for f in rows.features.values() if f.type == "polygon") == [1, 2]


def test_a_series_reshaped_into_a_line_is_a_series_no_more() -> None:
    limits = Limits()
    props = {"year": [2000, 2010], "pop": [1, 2]}
    f = build_feature(id="p", type="polygon", coords=SQUARE, properties=props, series="year", limits=limits)
    state, _ = apply(MapState(id="m"), AddFeature(f), limits)
    state, _ = apply(state, UpdateFeature(id="p", type="polyline"), limits)
    assert state.features["p"].type == "polyline" and state.features["p"].series == ""
