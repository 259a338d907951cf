"""Rate limiting: a token bucket for a provider's per-second limit, and per-number daily limits (R22)."""
from __future__ import annotations

import pytest

from services.notification.domain.ratelimit import TokenBucket, under_daily_limit


def test_a_burst_up_to_the_bucket_size_goes_at_once() -> None:
    bucket = TokenBucket(rate=5, burst=5)
    assert [bucket.reserve(0.0) for _ in range(5)] == [0.0] * 5


def test_calls_beyond_the_burst_queue_at_the_rate() -> None:
    bucket = TokenBucket(rate=5, burst=5)
    for _ in range(5):
        bucket.reserve(0.0)
    waits = [bucket.reserve(0.0) for _ in range(5)]
    assert waits == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])


def test_tokens_come_back_with_time_but_never_beyond_the_burst() -> None:
    bucket = TokenBucket(rate=10, burst=2)
    bucket.reserve(0.0)
    bucket.reserve(0.0)
    assert bucket.reserve(0.1) == 0.0
    assert bucket.reserve(100.0) == 0.0 and bucket.reserve(100.0) == 0.0
    assert bucket.reserve(100.0) == pytest.approx(0.1)


def test_a_queue_of_reservations_is_served_at_the_rate_after_the_burst() -> None:
    bucket = TokenBucket(rate=50, burst=50)
    waits = [bucket.reserve(0.0) for _ in range(150)]
    assert waits[49] == 0.0 and waits[50] > 0
    assert waits[-1] == pytest.approx(2.0), "100 beyond the burst at 50 per second"


def test_a_bucket_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)


def test_the_daily_limit_allows_up_to_the_limit_and_none_means_no_limit() -> None:
    assert under_daily_limit(49, 50) and not under_daily_limit(50, 50)
    assert under_daily_limit(10_000, None)
