"""The retry policy's backoff, as a pure function: doubling from the base, capped, and with full
jitter a uniform draw below the ceiling."""

from __future__ import annotations

import random
from datetime import timedelta

from app.jobs import DEFAULT_RETRY, RetryPolicy, backoff
from app.webhooks import RETRY


def test_without_jitter_the_wait_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=30, base_seconds=1.0, cap_seconds=3600.0)
    waits = [backoff(policy, n).total_seconds() for n in range(1, 16)]
    assert waits[:12] == [2.0**n for n in range(1, 12)] + [3600.0]
    assert waits[11:] == [3600.0] * 4
    assert backoff(DEFAULT_RETRY, 3) == timedelta(seconds=8)  # the queue's former behaviour
    assert backoff(policy, 10_000) == timedelta(seconds=3600)  # no overflow


def test_full_jitter_draws_below_a_growing_ceiling() -> None:
    assert backoff(RETRY, 5, lambda: 0.0) == timedelta(0)
    assert backoff(RETRY, 5, lambda: 0.5) == timedelta(seconds=16)
    assert backoff(RETRY, 40, lambda: 0.999) < timedelta(seconds=3600)
    draws = random.Random(10)
    for attempt in range(1, RETRY.max_attempts + 1):
        ceiling = min(RETRY.cap_seconds, RETRY.base_seconds * 2**attempt)
        waits = [backoff(RETRY, attempt, draws.random).total_seconds() for _ in range(200)]
        assert all(0 <= w < ceiling for w in waits)
        assert max(waits) > 0.8 * ceiling and min(waits) < 0.2 * ceiling  # spread over the range
        assert len(set(waits)) > 190  # jittered, not one value
    means = [
        sum(backoff(RETRY, n, draws.random).total_seconds() for _ in range(400)) / 400
        for n in (1, 4, 8)
    ]
    assert means[0] < means[1] < means[2]  # the waits grow with the attempts
