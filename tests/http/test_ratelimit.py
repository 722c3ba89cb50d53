"""GCRA, the rate-limit rule (``mapsrv.http.ratelimit``), as properties: a burst is allowed at once and
no more, the sustained rate holds over any sequence of request times, and a refusal's
``retry_after`` is exactly when the same request would go through."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapsrv.config import MAX_RATE
from mapsrv.http.ratelimit import Decision, LocalLimiter, Rate, gcra

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
        assert decision.tat == pytest.approx(tat, rel=1e-12), "a refusal leaves the bucket as it was"
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
    limiter = LocalLimiter()
    assert [limiter.acquire("c", off, 5.0) for _ in range(1000)] == [Decision(True, 5.0, 0.0)] * 1000
    assert len(limiter) == 0, "no bucket kept for a limit that is off"
    with pytest.raises(ValueError, match="burst must be >= 1, got 0"):
        Rate(1, 0)
    with pytest.raises(ValueError, match="per_second must be >= 0, got -1"):
        Rate(-1, 1)


def test_a_refusal_leaves_the_bucket_as_it_was() -> None:
    """The property above, on one case it always meets (its random times seldom refuse)."""
    rate = Rate(1, 2)  # two at once, then one a second
    assert gcra(2.0, 0.5, rate) == Decision(False, 2.0, 0.5)  # 1.5 s of backlog: 0.5 s early


def test_a_request_costing_more_spends_more() -> None:
    limiter, rate = LocalLimiter(), Rate(1, 3)
    assert limiter.acquire("c", rate, 0, cost=2).allowed
    refused = limiter.acquire("c", rate, 0, cost=2)
    assert not refused.allowed and refused.retry_after == pytest.approx(1)
    assert limiter.acquire("c", rate, 0).allowed


def test_a_request_at_most_the_slack_early_is_allowed() -> None:
    """The microsecond of slack is inclusive: at a million per second it is one whole interval,
    and the second request, exactly that early, passes (why ``MAX_RATE`` is far below that)."""
    rate = Rate(1_000_000, 1)
    first = gcra(None, 0.0, rate)
    assert first.tat == 1e-6
    assert gcra(first.tat, 0.0, rate).allowed
    assert not gcra(first.tat, 0.0, rate, cost=2).allowed


def test_at_the_most_a_rate_can_be_configured_a_burst_is_exact() -> None:
    """At ``MAX_RATE`` the slack is a hundredth of an interval: a burst of one is one request,
    on a clock as large as a monotonic clock's after weeks of uptime, whatever the rounding."""
    rate = Rate(MAX_RATE, 1)
    limiter = LocalLimiter()
    start = 3_000_000.123456
    assert limiter.acquire("c", rate, start).allowed
    assert not limiter.acquire("c", rate, start).allowed
    early = limiter.acquire("c", rate, start + rate.interval * 0.98)
    assert not early.allowed and early.retry_after == pytest.approx(rate.interval * 0.02, rel=1e-3)
    assert limiter.acquire("c", rate, start + rate.interval).allowed


def test_the_limiter_prunes_past_its_most_entries_and_forgets_full_buckets() -> None:
    rate = Rate(1, 1)  # each bucket is full again a second after its request
    limiter = LocalLimiter(max_entries=2)
    limiter.acquire("a", rate, 0.0)
    limiter.acquire("b", rate, 5.0)  # "a" is full again, but two entries are not too many
    assert len(limiter) == 2
    limiter.acquire("c", rate, 5.5)  # three are: "a" goes, "b" and "c" are still spent
    assert len(limiter) == 2
    limiter.prune(6.0)  # "b" is full again exactly now
    assert len(limiter) == 1
    default = LocalLimiter()
    for n in range(100_000):
        default.acquire(str(n), rate, 0.0)
    assert len(default) == 100_000
    default.acquire("later", rate, 2.0)
    assert len(default) == 1, "by default, 100,001 entries are too many: every full bucket forgotten"
