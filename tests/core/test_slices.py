"""``mapsrv.core.slices``: long numpy and shapely calls made in slices give what one call gives."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from mapsrv.core.slices import by_parts, running_sum


def square_rings(sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Closed rings of ``sizes`` points each (at least 4: shapely's smallest ring)."""
    rows = []
    for k, size in enumerate(sizes):
        angles = np.linspace(0, 2 * np.pi, size, endpoint=False)
        ring = np.column_stack([k + np.cos(angles), np.sin(angles)])
        rows.append(np.vstack([ring, ring[:1]]))  # closed: the first point again
    return np.vstack(rows), np.repeat(np.arange(len(sizes)), [size + 1 for size in sizes])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(3, 40), min_size=1, max_size=60), st.integers(1, 200))
def test_rings_made_in_slices_are_the_rings_made_at_once(sizes: list[int], per_call: int) -> None:
    xy, indices = square_rings(sizes)
    at_once = shapely.linearrings(xy, indices=indices)
    sliced = by_parts(shapely.linearrings, xy, indices, per_call)
    assert len(sliced) == len(at_once) == len(sizes)
    assert shapely.equals_exact(sliced, at_once, tolerance=0).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=40), st.integers(1, 10))
def test_polygons_and_multipolygons_made_in_slices_are_those_made_at_once(
    parts: list[int], per_call: int
) -> None:
    xy, indices = square_rings([4] * sum(parts))
    polygons = shapely.polygons(shapely.linearrings(xy, indices=indices))
    owner = np.repeat(np.arange(len(parts)), parts)
    at_once = shapely.multipolygons(polygons, indices=owner)
    sliced = by_parts(shapely.multipolygons, polygons, owner, per_call)
    assert shapely.equals_exact(sliced, at_once, tolerance=0).all()


def test_parts_not_numbered_in_order_are_refused_as_shapely_refuses_them() -> None:
    xy, indices = square_rings([4, 4, 4])
    gap = np.where(indices == 2, 3, indices)  # no ring 2: shapely would not make a shorter array
    with pytest.raises(ValueError) as whole:
        shapely.linearrings(xy, indices=gap)
    with pytest.raises(ValueError) as sliced:
        by_parts(shapely.linearrings, xy, gap, per_call=5)
    assert str(sliced.value) == str(whole.value)


def test_a_call_within_its_size_is_made_at_once() -> None:
    xy, indices = square_rings([5, 6])
    calls: list[int] = []

    def build(rows: np.ndarray, indices: np.ndarray) -> np.ndarray:
        calls.append(len(rows))
        return shapely.linearrings(rows, indices=indices)

    by_parts(build, xy, indices, per_call=len(xy))
    assert calls == [len(xy)]
    calls.clear()
    by_parts(build, xy, indices, per_call=3)  # cut between the rings, never inside one
    assert calls == [6, 7]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-1000, 1000), st.integers(-1000, 1000)), min_size=1, max_size=300),
    st.integers(1, 50),
)
def test_a_running_sum_in_slices_is_numpys(steps: list[tuple[int, int]], per_call: int) -> None:
    array = np.array(steps, dtype=np.int64)
    assert np.array_equal(running_sum(array, per_call), np.cumsum(array, axis=0))
