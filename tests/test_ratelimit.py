"""GCRA, the rate-limit rule (``mapsrv.ratelimit``), as properties: a burst is allowed at once and
no more, the sustained rate holds over any sequence of request times, and a refusal's
``retry_after`` is exactly when the same request would go through."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapsrv.ratelimit import LocalLimiter, Rate, gcra

rates = st.builds(
    Rate,
    per_second=st.floats(min_value=0.01, max_value=1000, allow_nan=False),
    burst=st.integers(min_value=1, max_value=200),
)
times = st.lists(st.floats(min_value=0, max_value=1000, allow_nan=False), min_size=1, max_size=300)


@given(rates, st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_a_full_bucket_allows_its_burst_at_once_and_no_more(rate: Rate, now: float) -> None:
    limiter = LocalLimiter()
    allowed = [limiter.acquire("c", rate, now).allowed for _ in range(rate.burst + 1)]
    assert allowed == [True] * rate.burst + [False]


@given(rates, times)
def test_no_sequence_of_requests_beats_burst_plus_rate(rate: Rate, when: list[float]) -> None:
    limiter = LocalLimiter()
    when = sorted(when)
    allowed = sum(limiter.acquire("c", rate, t).allowed for t in when)
    span = when[-1] - when[0]
    assert allowed <= rate.burst + span * rate.per_second + 1e-6 * len(when) + 1


@given(rates, times)
def test_retry_after_is_when_the_request_goes_through(rate: Rate, when: list[float]) -> None:
    tat = None
    for t in sorted(when):
        decision = gcra(tat, t, rate)
        if decision.allowed:
            tat = decision.tat
            continue
        assert decision.retry_after > 0
        later = t + decision.retry_after
        assert gcra(tat, later + 1e-9 * max(1.0, later), rate).allowed
        assert not gcra(tat, t + decision.retry_after * 0.5, rate).allowed or decision.retry_after < 1e-9


@given(rates, times)
def test_pruning_forgets_only_what_no_longer_matters(rate: Rate, when: list[float]) -> None:
    pruned, kept = LocalLimiter(), LocalLimiter()
    for t in sorted(when):
        pruned.prune(t)
        assert pruned.acquire("c", rate, t).allowed == kept.acquire("c", rate, t).allowed


def test_a_zero_rate_is_no_limit_and_bad_rates_say_why() -> None:
    off = Rate(0, 1)
    assert all(gcra(None, 0, off).allowed for _ in range(1000))
    with pytest.raises(ValueError, match="burst must be >= 1, got 0"):
        Rate(1, 0)
    with pytest.raises(ValueError, match="per_second must be >= 0, got -1"):
        Rate(-1, 1)
