"""Classification for styles by value, checked against independent computations: quantiles by the
standard library, equal intervals by arithmetic, Jenks natural breaks on a known example and
against an exhaustive search of every grouping; and the ColorBrewer schemes."""

from __future__ import annotations

import itertools
import random
import statistics
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapsrv.core.classify import JENKS_SAMPLE, QUALITATIVE, RAMPS, breaks, class_of, jenks, palette
from mapsrv.errors import InvalidInput


def test_quantiles_are_the_inclusive_quantiles_of_the_sorted_values() -> None:
    rng = random.Random(3)
    values = [rng.uniform(-50, 500) for _ in range(101)]
    for k in range(3, 10):
        expected = [min(values), *statistics.quantiles(values, n=k, method="inclusive"), max(values)]
        assert breaks(values, "quantiles", k) == pytest.approx(expected)


def test_quantile_classes_hold_about_as_many_values_each() -> None:
    values = list(range(1000))
    edges = breaks(values, "quantiles", 4)
    counts = [0] * 4
    for v in values:
        index = class_of(v, edges)
        assert index is not None
        counts[index] += 1
    assert counts == [250, 250, 250, 250]


def test_equal_intervals_split_the_range_evenly() -> None:
    assert breaks([3, 7, 13], "equal", 5) == pytest.approx([3, 5, 7, 9, 11, 13])
    assert breaks([-10, 10], "equal", 4) == pytest.approx([-10, -5, 0, 5, 10])


def test_jenks_finds_the_natural_groups_of_a_known_example() -> None:
    values = [1, 2, 4, 5, 7, 9, 10, 20, 22, 24, 50, 51, 53, 90, 94]
    assert jenks(sorted(values), 4) == [[1, 2, 4, 5, 7, 9, 10], [20, 22, 24], [50, 51, 53], [90, 94]]
    # edges: each class starts at its smallest value, so every value stays in its group
    assert breaks(values, "jenks", 4) == [1, 20, 50, 90, 94]


def _sse(groups: list[list[float]]) -> float:
    return sum(sum((x - sum(g) / len(g)) ** 2 for x in g) for g in groups)


def _brute_force(values: list[float], k: int) -> float:
    best = float("inf")
    for cuts in itertools.combinations(range(1, len(values)), k - 1):
        edges = [0, *cuts, len(values)]
        best = min(best, _sse([values[a:b] for a, b in itertools.pairwise(edges)]))
    return best


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-20, 20) | st.floats(-100, 100), min_size=3, max_size=10), st.integers(2, 5))
def test_jenks_is_the_optimal_grouping(values: list[float], k: int) -> None:
    ordered = sorted(values)
    k = min(k, len(ordered))
    groups = jenks(ordered, k)
    assert [v for g in groups for v in g] == ordered
    assert _sse(groups) == pytest.approx(_brute_force(ordered, k), abs=1e-6)


def test_jenks_on_many_values_is_sampled_and_quick() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(0, 2) for _ in range(100_000)]
    started = time.perf_counter()
    edges = breaks(values, "jenks", 9)
    assert time.perf_counter() - started < 2.0
    assert JENKS_SAMPLE == 1_000
    assert len(edges) == 10 and edges[0] == min(values) and edges[-1] == max(values)
    assert edges == sorted(edges)


def test_repeated_values_merge_classes_and_one_value_makes_one_class() -> None:
    assert breaks([1, 1, 1, 1, 2], "quantiles", 4) == [1, 2]
    assert breaks([5, 5, 5], "jenks", 3) == [5, 5]
    assert class_of(5, [5, 5]) == 0


def test_class_of_follows_the_edges_and_clamps_outside_them() -> None:
    edges = [0, 10, 20, 30]
    assert [class_of(v, edges) for v in (0, 9.99, 10, 20, 30)] == [0, 0, 1, 2, 2]
    assert class_of(-5, edges) == 0 and class_of(99, edges) == 2
    assert class_of(float("nan"), edges) is None


def test_wrong_arguments_are_named() -> None:
    with pytest.raises(InvalidInput, match="classes must be from 3 to 9, got 12"):
        breaks([1, 2, 3], "quantiles", 12)
    with pytest.raises(InvalidInput, match="method must be one of quantiles, equal, jenks, got 'median'"):
        breaks([1, 2, 3], "median", 3)
    with pytest.raises(InvalidInput, match="at least one number"):
        breaks([], "equal", 3)


def test_the_colorbrewer_schemes_are_the_published_ones() -> None:
    assert palette("YlOrRd", 5) == ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
    assert palette("Blues", 3) == ["#deebf7", "#9ecae1", "#3182bd"]
    assert palette("RdBu", 3) == ["#ef8a62", "#f7f7f7", "#67a9cf"]
    assert palette("Dark2", 3) == ["#1b9e77", "#d95f02", "#7570b3"]
    for name, by_n in RAMPS.items():
        top = 8 if name in ("Set2", "Dark2") else 9
        assert sorted(by_n) == list(range(3, top + 1)), name
        assert all(len(colors) == n and len(set(colors)) == n for n, colors in by_n.items()), name
    assert set(QUALITATIVE) <= set(RAMPS)
    with pytest.raises(InvalidInput, match="ramp must be one of"):
        palette("Rainbow", 5)
    with pytest.raises(InvalidInput, match="ramp Set2 must have 3 to 8 classes, got 9"):
        palette("Set2", 9)
