"""Classification for styles by value, checked against independent computations: quantiles by the
standard library, equal intervals by arithmetic, Jenks natural breaks on a known example and
against an exhaustive search of every grouping; and the ColorBrewer schemes. (The reference's own
breaks and counts: tests/core/test_classes_reference.py, against mapclassify.)"""

from __future__ import annotations

import itertools
import random
import statistics
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapsrv.core.classify import JENKS_SAMPLE, breaks, class_of, jenks
from mapsrv.core.colorbrewer import QUALITATIVE, RAMPS, palette
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
    assert _groups(sorted(values), 4) == [[1, 2, 4, 5, 7, 9, 10], [20, 22, 24], [50, 51, 53], [90, 94]]
    # edges: the lowest value, then each class's largest (mapclassify's bins): a value on a break
    # is in the class below it
    assert breaks(values, "jenks", 4) == [1, 10, 24, 53, 94]


def _groups(ordered: list[float], k: int) -> list[list[float]]:
    ends = jenks(np.asarray(ordered, dtype=float), k)
    return [ordered[a:b] for a, b in itertools.pairwise([0, *ends])]


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
    groups = _groups(ordered, k)
    assert [v for g in groups for v in g] == ordered
    assert _sse(groups) == pytest.approx(_brute_force(ordered, k), abs=1e-6)


def test_jenks_on_many_values_is_sampled_and_quick() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(0, 2) for _ in range(100_000)]
    started = time.perf_counter()
    edges = breaks(values, "jenks", 9)
    assert time.perf_counter() - started < 2.0
    assert JENKS_SAMPLE == 10_000
    assert len(edges) == 10 and edges[0] == min(values) and edges[-1] == max(values)
    assert edges == sorted(edges)


def test_repeated_values_merge_classes_and_one_value_makes_one_class() -> None:
    assert breaks([1, 1, 1, 1, 2], "quantiles", 4) == [1, 1, 2]  # the 1s, then the 2
    assert breaks([5, 5, 5], "jenks", 3) == [5, 5]
    assert class_of(5, [5, 5]) == 0


def test_class_of_follows_the_edges_and_clamps_outside_them() -> None:
    edges = [0, 10, 20, 30]
    assert [class_of(v, edges) for v in (0, 9.99, 10, 10.01, 20, 30)] == [0, 0, 0, 1, 1, 2]
    assert class_of(-5, edges) == 0 and class_of(99, edges) == 2
    assert class_of(float("nan"), edges) is None


def test_wrong_arguments_are_named() -> None:
    with pytest.raises(InvalidInput, match="classes must be from 3 to 9, got 12"):
        breaks([1, 2, 3], "quantiles", 12)
    with pytest.raises(InvalidInput, match="one of quantiles, equal, jenks, std_mean, manual, got 'median'"):
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


# natural breaks: every value, or the documented sample of JENKS_SAMPLE


def _textbook_jenks(ordered: list[float], k: int) -> list[list[float]]:
    """Fisher's grouping by the textbook O(k n^2) programme (every start of every run, with numpy),
    independent of classify's divide and conquer."""
    x = np.asarray(ordered, dtype=float)
    n = len(x)
    s1 = np.concatenate(([0.0], np.cumsum(x)))
    s2 = np.concatenate(([0.0], np.cumsum(x * x)))

    def costs(j: int, starts: np.ndarray) -> np.ndarray:  # values starts..j-1, for each start
        total = s1[j] - s1[starts]
        return np.maximum(0.0, s2[j] - s2[starts] - total * total / (j - starts))

    best = np.array([0.0] + [float(costs(j, np.array([0]))[0]) for j in range(1, n + 1)])
    splits = []
    for runs in range(2, k + 1):
        current = np.full(n + 1, np.inf)
        split = np.zeros(n + 1, dtype=int)
        for j in range(runs, n + 1):
            starts = np.arange(runs - 1, j)
            total = best[starts] + costs(j, starts)
            split[j] = starts[int(np.argmin(total))]
            current[j] = total.min()
        best = current
        splits.append(split)
    ends = [n]
    for split in reversed(splits):
        ends.append(int(split[ends[-1]]))
    ends = [0, *reversed(ends)]
    return [ordered[a:b] for a, b in itertools.pairwise(ends) if b > a]


def _grouped(values: list[float], edges: list[float]) -> list[list[float]]:
    """The values as the edges class them."""
    out: list[list[float]] = [[] for _ in range(len(edges) - 1)]
    for v in sorted(values):
        index = class_of(v, edges)
        assert index is not None
        out[index].append(v)
    return [g for g in out if g]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-20, 20) | st.floats(-100, 100), min_size=3, max_size=11), st.integers(3, 5))
def test_natural_breaks_class_every_value_as_the_optimal_grouping_does(values: list[float], k: int) -> None:
    edges = breaks(values, "jenks", k)
    assert _sse(_grouped(values, edges)) == pytest.approx(_brute_force(sorted(values), min(k, len(values))))


@pytest.mark.parametrize("k", [3, 5, 7])
def test_natural_breaks_use_every_value_up_to_the_sample_size(k: int) -> None:
    rng = random.Random(k)
    values = [rng.lognormvariate(0, 1.5) for _ in range(1_000)]
    groups = _textbook_jenks(sorted(values), k)
    assert breaks(values, "jenks", k) == [min(values)] + [g[-1] for g in groups]


def test_past_the_sample_size_the_breaks_are_the_even_samples_and_keep_each_cluster_whole() -> None:
    """Past JENKS_SAMPLE values the groups are those of JENKS_SAMPLE values evenly spaced through
    the sorted ones (the first and the last among them), and every value, sampled or not, is in
    its cluster's class: a cluster's smallest values are not left in the class below."""
    rng = random.Random(11)
    clusters = [(0, 10, 3_001), (100, 110, 5_003), (1_000, 1_010, 2_999), (5_000, 5_010, 1_234)]
    values = [rng.uniform(low, high) for low, high, n in clusters for _ in range(n)]
    rng.shuffle(values)
    ordered = sorted(values)
    n = len(ordered)
    sample = [ordered[round(i * (n - 1) / (JENKS_SAMPLE - 1))] for i in range(JENKS_SAMPLE)]
    edges = breaks(values, "jenks", 4)
    assert edges[0] == ordered[0] and edges[-1] == ordered[-1]
    for index, group in enumerate(_textbook_jenks(sample, 4)):
        assert {class_of(v, edges) for v in group} == {index}, "the sample's groups"
    for value in values:
        cluster = next(i for i, (low, high, _) in enumerate(clusters) if low <= value <= high)
        assert class_of(value, edges) == cluster, (value, edges)
