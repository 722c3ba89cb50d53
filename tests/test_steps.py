"""The long passes of big work take steps (``mapsrv.core.pace``), where a worker thread gives way
to the event loop and stops once its call is cancelled (issue 60): each pass over an import's
thousands of features, a spatial index's build, a ring thinned by Douglas-Peucker. A pass that
lost its steps went 40-600 ms at a time without one (the benchmark's probe, docs/benchmarks.md)
while 1,000 watchers waited on every socket write; here it is counted, not timed.

Pure code, no worker: a step bound to a counter, as ``mapsrv.workers`` binds its own."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from support.steps import counted_steps

from mapsrv.core import Feature, MapState, pace
from mapsrv.core.apply import apply_event
from mapsrv.core.events import FeaturesRemoved, FeaturesUpserted
from mapsrv.core.summary import after_of, effect_of, inverse_of
from mapsrv.formats.batch import camera, report
from mapsrv.formats.collect import Imported
from mapsrv.formats.held import held_notes
from mapsrv.formats.join import outline_shapes
from mapsrv.formats.simplify import simplify
from mapsrv.spatial.index import FeatureIndex

N = 4_000  # features: at 64 a step, at least 62 steps a pass


def polygons(n: int, start: int = 0) -> tuple[Feature, ...]:
    return tuple(
        Feature(
            id=f"p{i}",
            type="polygon",
            coords=((i / 100, 0.0), (i / 100, 1.0), (i / 100 + 0.5, 1.0), (i / 100 + 0.5, 0.0)),
        )
        for i in range(start, start + n)
    )


BEFORE = MapState(id="m", version=1, features={f.id: f for f in polygons(N)})
ADDED = FeaturesUpserted(2, polygons(N, start=N), seq=2 * N)
INVERSE = inverse_of(BEFORE, [ADDED])


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(lambda: apply_event(BEFORE, ADDED), id="apply-an-import"),
        pytest.param(
            lambda: apply_event(BEFORE, FeaturesRemoved(2, tuple(BEFORE.features))), id="apply-a-removal"
        ),
        pytest.param(lambda: inverse_of(BEFORE, [ADDED]), id="its-undo"),
        pytest.param(lambda: after_of(INVERSE, [ADDED]), id="what-it-left"),
        pytest.param(lambda: effect_of(INVERSE, [ADDED], {}), id="its-effect"),
        pytest.param(lambda: camera(ADDED.features), id="the-camera-on-it"),
        pytest.param(lambda: report(Imported("geojson", ADDED.features), []), id="its-report"),
        pytest.param(lambda: FeatureIndex(BEFORE.features.values()), id="a-spatial-index"),
        pytest.param(lambda: held_notes(BEFORE, "csv"), id="an-export-s-notes"),
    ],
)
def test_each_pass_over_thousands_of_features_takes_a_step_every_64(run: Callable[[], object]) -> None:
    with counted_steps() as steps:
        run()
    assert len(steps) >= N // pace.EVERY


def test_a_long_ring_is_thinned_in_steps() -> None:
    """Douglas-Peucker on a 1:10m coastline's worth of points (here a wavy ring of 50,000): a step
    every few thousand distances, however the ring splits."""
    ring = [
        (
            math.sin(2 * math.pi * i / 50_000) * 10 + math.sin(i / 7) * 0.01,
            math.cos(2 * math.pi * i / 50_000) * 10,
        )
        for i in range(50_000)
    ]
    with counted_steps() as steps:
        kept = simplify(ring, 1_000.0, closed=True)
    assert 3 <= len(kept) < len(ring)
    assert len(steps) >= 50_000 // 4_096


@dataclass(frozen=True)
class _Outline:
    code: str
    name: str
    polygons: tuple[tuple[tuple[tuple[float, float], ...], ...], ...]


def test_a_joined_outline_of_many_islands_is_read_in_steps() -> None:
    """An archipelago's hundreds of parts (Indonesia, Canada's Arctic): a step every 8 parts."""
    islands = tuple(
        (((float(i), 0.0), (i + 0.5, 0.0), (i + 0.5, 0.5), (float(i), 0.5), (float(i), 0.0)),)
        for i in range(400)
    )
    with counted_steps() as steps:
        shapes, dropped = outline_shapes(_Outline("IDN", "Indonesia", islands), 0)
    assert len(shapes) == 400 and dropped == 0
    assert len(steps) >= 400 // 8


def test_nothing_bound_nothing_stepped() -> None:
    """On the event loop (a small batch), a pass takes no step and gives the same answer."""
    assert pace._step.get() is None
    assert apply_event(BEFORE, ADDED).features.keys() == {f"p{i}" for i in range(2 * N)}
    with counted_steps() as steps:
        stepped = apply_event(BEFORE, ADDED)
    assert stepped.features.keys() == apply_event(BEFORE, ADDED).features.keys()
    assert stepped.points == apply_event(BEFORE, ADDED).points and steps
