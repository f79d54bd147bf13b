"""Feedback delay generators (driver-behaviour.md §7)."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.driver.feedback_delay import (
    FeedbackDelayGenerator,
    OptimalMulticastDelayGenerator,
    StaticDelayGenerator,
    expected_optimal_mean_ns,
    unicast_nak_delay_generator,
)


def test_static_generator_returns_delay_and_retry() -> None:
    g = StaticDelayGenerator(1_000, 100_000)
    assert isinstance(g, FeedbackDelayGenerator)
    assert [g.generate_delay_ns() for _ in range(3)] == [1_000] * 3
    assert [g.retry_delay_ns() for _ in range(3)] == [100_000] * 3
    assert not g.should_feedback_immediately()


def test_static_generator_retry_defaults_to_delay() -> None:
    assert StaticDelayGenerator(5).retry_delay_ns() == 5


def test_zero_static_delay_feeds_back_immediately() -> None:
    assert StaticDelayGenerator(0, 0).should_feedback_immediately()


def test_unicast_nak_generator_defaults() -> None:
    g = unicast_nak_delay_generator()
    assert g.generate_delay_ns() == 1_000 and g.retry_delay_ns() == 100_000


def test_negative_static_delay_rejected() -> None:
    with pytest.raises(ValueError):
        StaticDelayGenerator(-1)


def test_optimal_generator_never_immediate() -> None:
    assert not OptimalMulticastDelayGenerator(10_000_000, 10, random.Random(1)).should_feedback_immediately()


def test_optimal_delay_matches_formula_for_given_uniform() -> None:
    class FixedRandom(random.Random):
        def __init__(self, u: float) -> None:
            super().__init__(0)
            self.u = u

        def random(self) -> float:
            return self.u

    t, n = 10_000_000.0, 10.0
    lam = math.log(n) + 1
    for u in (0.0, 0.25, 0.5, 0.999):
        x = u * (lam / t) + lam / (t * (math.exp(lam) - 1))
        expected = (t / lam) * math.log(x * (math.exp(lam) - 1) * t / lam)
        g = OptimalMulticastDelayGenerator(t, n, FixedRandom(u))
        assert g.generate_delay_ns() == int(expected)
        assert g.retry_delay_ns() == int(expected)
    assert OptimalMulticastDelayGenerator(t, n, FixedRandom(0.0)).generate_delay_ns() == 0


def test_optimal_mean_over_many_seeded_samples() -> None:
    t, n = 10_000_000, 10
    g = OptimalMulticastDelayGenerator(t, n, random.Random(42))
    samples = [g.generate_delay_ns() for _ in range(50_000)]
    mean = sum(samples) / len(samples)
    expected = expected_optimal_mean_ns(t, n)
    assert 0.73 * t < expected < 0.74 * t  # sanity of the analytic mean for N=10
    assert abs(mean - expected) < 0.01 * t
    assert all(0 <= s <= t for s in samples)
    # skewed towards T: more than half the samples above T/2
    assert sum(1 for s in samples if s > t / 2) > len(samples) * 0.6


def test_optimal_retries_are_fresh_random_draws() -> None:
    g = OptimalMulticastDelayGenerator(10_000_000, 10, random.Random(7))
    assert len({g.retry_delay_ns() for _ in range(100)}) > 90


def test_optimal_seeded_generators_are_reproducible() -> None:
    a = OptimalMulticastDelayGenerator(1_000_000, 5, random.Random(3))
    b = OptimalMulticastDelayGenerator(1_000_000, 5, random.Random(3))
    assert [a.generate_delay_ns() for _ in range(20)] == [b.generate_delay_ns() for _ in range(20)]


@settings(max_examples=50, deadline=None)
@given(
    max_backoff=st.integers(min_value=1, max_value=10**10),
    group_size=st.integers(min_value=1, max_value=10_000),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_optimal_delay_always_within_bounds(max_backoff: int, group_size: int, seed: int) -> None:
    g = OptimalMulticastDelayGenerator(max_backoff, group_size, random.Random(seed))
    for _ in range(50):
        assert 0 <= g.generate_delay_ns() <= max_backoff
        assert 0 <= g.retry_delay_ns() <= max_backoff


def test_optimal_invalid_parameters_rejected() -> None:
    with pytest.raises(ValueError):
        OptimalMulticastDelayGenerator(0, 10, random.Random(1))
    with pytest.raises(ValueError):
        OptimalMulticastDelayGenerator(10, 0, random.Random(1))
