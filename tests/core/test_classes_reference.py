"""Classes as the reference computes them: a layer's breaks and its counts per class are
mapclassify's (PySAL) on the same values, for quantiles, equal intervals, natural breaks
(FisherJenks), standard deviations (StdMean) and breaks one gives (UserDefined), on a real table
(Natural Earth's 177 countries, GDP per head, one feature per country) and on generated values
with ties, few distinct values, nulls and text among them."""

from __future__ import annotations

import warnings
from fractions import Fraction
from typing import Any

import mapclassify
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.natural_earth import countries_table

from mapsrv.core import Feature
from mapsrv.core.classify import breaks, class_of, manual_breaks
from mapsrv.core.layer_style import check_layer_style, style_counts

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # "Numba not installed", k reduced


def reference(values: list[float], method: str, k: int, given: list[float] | None = None) -> Any:
    """mapclassify's classifier for ``method``; natural breaks with at most as many classes as
    there are distinct values (mapclassify refuses more)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "quantiles":
            return mapclassify.Quantiles(values, k=k)
        if method == "equal":
            return mapclassify.EqualInterval(values, k=k)
        if method == "jenks":
            return mapclassify.FisherJenks(values, k=min(k, len(set(values))))
        if method == "std_mean":
            return mapclassify.StdMean(values)
        assert given is not None
        return mapclassify.UserDefined(values, given[1:])


def counts(values: list[float], edges: list[float]) -> list[int]:
    out = [0] * (len(edges) - 1)
    for value in values:
        index = class_of(value, edges)
        assert index is not None
        out[index] += 1
    return out


def countries() -> list[Feature]:
    """The table's countries as features of layer "countries" (their properties as imported;
    the geometry is the MCP test's business: tests/mcp/test_style_classes.py)."""
    out = []
    for row in countries_table()["features"]:
        props = tuple(sorted(row["properties"].items()))
        out.append(Feature(row["id"], "marker", (0.0, 0.0), layer="countries", properties=props))
    return out


GDP = [dict(f.properties)["gdp_per_head"] for f in countries()]


def test_the_table_is_natural_earths_countries_one_row_each() -> None:
    names = [dict(f.properties)["name"] for f in countries()]
    assert len(names) == len(set(names)) == 177 and "Canada" in names and "Fiji" in names


@pytest.mark.parametrize("method", ["quantiles", "equal", "jenks"])
@pytest.mark.parametrize("k", range(3, 10))
def test_gdp_per_head_of_the_countries_is_classed_as_mapclassify_classes_it(method: str, k: int) -> None:
    asked = {"by": "gdp_per_head", "method": method, "classes": k}
    style = check_layer_style(asked, countries(), "countries")
    ref = reference(GDP, method, k)
    assert style["breaks"] == [min(GDP), *ref.bins.tolist()]
    found = style_counts(style, countries())
    assert [c["count"] for c in found["classes"]] == ref.counts.tolist()
    assert sum(ref.counts) == 177 and "other" not in found


def test_natural_breaks_of_the_countries_are_the_published_groups() -> None:
    """The 5 natural classes of GDP per head: the upper bounds mapclassify finds, each class
    closed at its richest country, counted once per country (Canada once, however many islands)."""
    style = check_layer_style({"by": "gdp_per_head", "method": "jenks", "classes": 5}, countries(), "c")
    ref = mapclassify.FisherJenks(GDP, k=5)
    assert style["breaks"][1:] == ref.bins.tolist()
    richest = {dict(f.properties)["gdp_per_head"]: dict(f.properties)["name"] for f in countries()}
    assert [richest.get(b) for b in style["breaks"][1:]] == [richest[b] for b in ref.bins.tolist()]
    assert sum(c["count"] for c in style_counts(style, countries())["classes"]) == 177


def test_standard_deviations_and_manual_breaks_of_the_countries() -> None:
    style = check_layer_style({"by": "gdp_per_head", "method": "std_mean"}, countries(), "c")
    ref = mapclassify.StdMean(GDP)
    assert style["breaks"][1:] == ref.bins.tolist()
    assert [c["count"] for c in style_counts(style, countries())["classes"]] == ref.counts.tolist()
    # breaks one gives, below the richest: a class up to it is added, as UserDefined adds it
    given = [0, 1_000, 5_000, 20_000, 50_000]
    style = check_layer_style({"by": "gdp_per_head", "breaks": given}, countries(), "c")
    ref = mapclassify.UserDefined(GDP, given[1:])
    assert style["method"] == "manual" and style["breaks"] == [0, *ref.bins.tolist()]
    assert style["breaks"][-1] == max(GDP) and len(style["colors"]) == 5
    assert [c["count"] for c in style_counts(style, countries())["classes"]] == ref.counts.tolist()


def test_a_value_on_a_break_is_counted_in_the_class_below_as_the_reference_counts_it() -> None:
    values = [float(v) for v in range(101)]  # 20, 40, 60, 80 are breaks of equal intervals
    edges = breaks(values, "equal", 5)
    assert edges == [0, 20, 40, 60, 80, 100]
    reference_counts = mapclassify.EqualInterval(values, k=5).counts.tolist()
    assert counts(values, edges) == reference_counts == [21, 20, 20, 20, 20]


# --- generated values ------------------------------------------------------------------------------

numbers = st.one_of(
    st.integers(-50, 50),  # ties, and values on breaks
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 3)),
    st.floats(0.001, 1e9).map(lambda v: float(f"{v:.4g}")),  # skewed, like GDPs and populations
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(numbers, min_size=2, max_size=60),
    st.sampled_from(["quantiles", "equal", "jenks", "std_mean"]),
    st.integers(3, 9),
)
def test_breaks_and_counts_are_mapclassifys_on_generated_values(
    values: list[float], method: str, k: int
) -> None:
    values = [float(v) for v in values]
    edges = breaks(values, method, k)
    if len(set(values)) == 1:  # the reference refuses these (one class: the value itself)
        assert edges == [values[0], values[0]] and counts(values, edges) == [len(values)]
        return
    ref = reference(values, method, k)
    if method == "jenks" and edges[1:] != ref.bins.tolist():
        # mapclassify sums squares in float32: where that loses the values' differences (67,510,000
        # and 67,530,000 squared) it picks a worse grouping, even breaks out of order; and sums of
        # squares in float64 (mapsrv's) lose differences below 1e-16 of them. Where the two differ,
        # mapsrv's grouping is the better one, or as good to float64's precision (measured exactly).
        ours = squared_deviations(values, [class_of(v, edges) for v in values])
        theirs = squared_deviations(values, ref.yb.tolist())
        middle = sorted(values)[len(values) // 2]
        precision = Fraction(len(values) * sum((v - middle) ** 2 for v in values)) * Fraction(1, 2**50)
        assert ours <= theirs + precision, (ours, theirs)
        return
    assert edges[1:] == ref.bins.tolist()
    assert edges[0] == min(min(values), float(ref.bins[0]))
    assert counts(values, edges) == ref.counts.tolist()


def squared_deviations(values: list[float], classes: list[Any]) -> Fraction:
    """The sum of each value's squared deviation from its class's mean, in exact fractions."""
    groups: dict[Any, list[Fraction]] = {}
    for value, index in zip(values, classes, strict=True):
        groups.setdefault(index, []).append(Fraction(value))
    total = Fraction(0)
    for group in groups.values():
        mean = sum(group, Fraction(0)) / len(group)
        total += sum(((v - mean) ** 2 for v in group), Fraction(0))
    return total


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-100, 300), min_size=1, max_size=40),
    st.lists(st.integers(-150, 350), min_size=2, max_size=7, unique=True).map(sorted),
)
def test_manual_breaks_class_as_user_defined(values: list[int], given: list[int]) -> None:
    edges = manual_breaks([float(v) for v in values], [float(g) for g in given])
    ref = reference([float(v) for v in values], "manual", 0, [float(g) for g in given])
    assert edges[1:] == ref.bins.tolist()
    assert counts([float(v) for v in values], edges) == ref.counts.tolist()


def town(index: int, value: Any) -> Feature:
    props = (("name", f"t{index}"),) if value is None else (("name", f"t{index}"), ("pop", value))
    return Feature(f"t{index}", "marker", (1.0, 2.0), layer="towns", properties=props)


def test_nulls_missing_values_and_text_are_left_out_and_counted_as_other() -> None:
    raw: list[Any] = [120, None, "n/a", "4500", 98.5, None, 30, 30, 30, True, 77_000, "12e3"]
    features = [town(i, v) for i, v in enumerate(raw)]
    features.append(Feature("t99", "marker", (1.0, 2.0), layer="towns", properties=(("pop", None),)))
    numbers_only = [120.0, 4500.0, 98.5, 30.0, 30.0, 30.0, 77_000.0, 12_000.0]  # "4500" reads as one
    for method in ("quantiles", "equal", "jenks", "std_mean"):
        asked = {"by": "pop", "method": method} | ({} if method == "std_mean" else {"classes": 3})
        style = check_layer_style(asked, features, "towns")
        ref = reference(numbers_only, method, 3)
        assert style["breaks"][1:] == ref.bins.tolist(), method
        found = style_counts(style, features)
        assert [c["count"] for c in found["classes"]] == ref.counts.tolist(), method
        assert found["other"] == len(features) - len(numbers_only) == 5, method


def test_fewer_distinct_values_than_classes() -> None:
    values = [5.0, 5.0, 7.0, 7.0, 7.0, 9.0]
    # quantiles that repeat are merged, as the reference merges them
    assert breaks(values, "quantiles", 9)[1:] == mapclassify.Quantiles(values, k=9).bins.tolist()
    # natural breaks: each distinct value its own class (the reference refuses k above 3 here)
    assert breaks(values, "jenks", 9) == [5, 5, 7, 9]
    assert counts(values, [5, 5, 7, 9]) == mapclassify.FisherJenks(values, k=3).counts.tolist() == [2, 3, 1]
    # equal intervals keep their empty classes, as the reference keeps them
    equal = mapclassify.EqualInterval(values, k=4).counts.tolist()
    assert counts(values, breaks(values, "equal", 4)) == equal
    # one value: one class, whatever the method
    for method in ("quantiles", "equal", "jenks", "std_mean"):
        assert breaks([3.0, 3.0], method, 5) == [3, 3]


def test_the_percentiles_and_steps_are_numpys_to_the_last_bit() -> None:
    """The reference takes its percentiles and equal steps from numpy.arange, whose values are the
    first plus i times the difference of the first two: classify repeats that arithmetic."""
    from mapsrv.core.classify import _arange  # the arithmetic itself

    rng = np.random.default_rng(5)
    for start, width in [*((100 / k, 100 / k) for k in range(3, 10)), *rng.uniform(-1e6, 1e6, (300, 2))]:
        step = abs(width) or 1.0
        for count in (3, 5, 7, 9):
            stop = start + step * count
            assert _arange(float(start), float(stop), float(step)) == np.arange(start, stop, step).tolist()
