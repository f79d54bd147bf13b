"""Feedback (NAK / retransmit) delay generators (driver-behaviour.md §7 "Loss detection").

Sans-IO: generators only compute delays in nanoseconds; the caller adds them to its own
``now_ns``.  Two kinds exist, as in Aeron:

* :class:`StaticDelayGenerator` - a fixed initial delay and a fixed retry delay (unicast NAKs:
  ``nak.unicast.delay`` and ``delay * nak.unicast.retry.delay.ratio``; unreliable: 0/0; the
  sender's retransmit delay).
* :class:`OptimalMulticastDelayGenerator` - randomised backoff for group/multicast receivers
  so that not every receiver NAKs the same loss at once.  With ``T`` the max backoff and ``N``
  the group size: ``lambda = ln N + 1``, ``x = U[0,1) * lambda/T + lambda/(T(e^lambda - 1))``,
  ``delay = (T/lambda) * ln(x * (e^lambda - 1) * T/lambda)``; always in ``[0, T]``.  Retries draw
  a fresh delay from the same distribution.

``should_feedback_immediately``: Aeron 1.53 no longer has an explicit "immediate feedback"
flag (the Java constructor taking it is deprecated and ignores it, the C driver never had it).
Feedback is immediate exactly when the generated initial delay is 0, because the loss
detector checks its timer in the same scan that armed it.  The method reports that: ``True``
for a static generator whose initial delay is 0, ``False`` for the randomised one.
"""

from __future__ import annotations

import math
import random
from typing import Protocol, runtime_checkable

NAK_UNICAST_DELAY_DEFAULT_NS = 1_000
NAK_UNICAST_RETRY_DELAY_RATIO_DEFAULT = 100
NAK_MULTICAST_GROUP_SIZE_DEFAULT = 10
NAK_MULTICAST_MAX_BACKOFF_DEFAULT_NS = 10_000_000


@runtime_checkable
class FeedbackDelayGenerator(Protocol):
    """What the loss detector and the retransmit handler need from a delay generator."""

    def generate_delay_ns(self) -> int:
        """Delay before the first feedback for a newly seen event."""
        ...

    def retry_delay_ns(self) -> int:
        """Delay before repeating feedback for the same event."""
        ...

    def should_feedback_immediately(self) -> bool: ...


class StaticDelayGenerator:
    """Fixed delays: ``generate_delay_ns() == delay_ns``, ``retry_delay_ns() == retry_delay_ns``.

    ``retry_delay_ns`` defaults to ``delay_ns`` (Java's one-argument constructor).
    """

    __slots__ = ("_delay_ns", "_retry_delay_ns")

    def __init__(self, delay_ns: int, retry_delay_ns: int | None = None) -> None:
        if delay_ns < 0:
            raise ValueError(f"delay_ns must be >= 0: {delay_ns}")
        retry = delay_ns if retry_delay_ns is None else retry_delay_ns
        if retry < 0:
            raise ValueError(f"retry_delay_ns must be >= 0: {retry}")
        self._delay_ns = int(delay_ns)
        self._retry_delay_ns = int(retry)

    @property
    def delay_ns(self) -> int:
        return self._delay_ns

    def generate_delay_ns(self) -> int:
        return self._delay_ns

    def retry_delay_ns(self) -> int:
        return self._retry_delay_ns

    def should_feedback_immediately(self) -> bool:
        return self._delay_ns == 0

    def __repr__(self) -> str:
        return f"StaticDelayGenerator(delay_ns={self._delay_ns}, retry_delay_ns={self._retry_delay_ns})"


ZERO_DELAY_GENERATOR = StaticDelayGenerator(0, 0)


def unicast_nak_delay_generator(
    delay_ns: int = NAK_UNICAST_DELAY_DEFAULT_NS,
    retry_ratio: int = NAK_UNICAST_RETRY_DELAY_RATIO_DEFAULT,
) -> StaticDelayGenerator:
    """Static NAK generator for unicast: initial ``delay_ns``, retry ``delay_ns * retry_ratio``."""
    return StaticDelayGenerator(delay_ns, delay_ns * retry_ratio)


class OptimalMulticastDelayGenerator:
    """Randomised NAK backoff for group semantics (spec formula, see module docstring).

    ``rng`` supplies ``random()`` in ``[0, 1)``; pass a seeded ``random.Random`` for
    reproducibility.  Delays are truncated towards zero to whole nanoseconds, like the C cast.
    """

    __slots__ = ("_max_backoff_ns", "_group_size", "_rng", "_rand_max", "_base_x", "_constant_t", "_factor_t")

    def __init__(
        self,
        max_backoff_ns: float = NAK_MULTICAST_MAX_BACKOFF_DEFAULT_NS,
        group_size: float = NAK_MULTICAST_GROUP_SIZE_DEFAULT,
        rng: random.Random | None = None,
    ) -> None:
        if max_backoff_ns <= 0:
            raise ValueError(f"max_backoff_ns must be > 0: {max_backoff_ns}")
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1: {group_size}")
        t = float(max_backoff_ns)
        lam = math.log(float(group_size)) + 1.0
        e_lam_minus_1 = math.exp(lam) - 1.0
        self._max_backoff_ns = t
        self._group_size = float(group_size)
        self._rng = rng if rng is not None else random.Random()
        self._rand_max = lam / t
        self._base_x = lam / (t * e_lam_minus_1)
        self._constant_t = t / lam
        self._factor_t = e_lam_minus_1 * (t / lam)

    @property
    def max_backoff_ns(self) -> float:
        return self._max_backoff_ns

    @property
    def group_size(self) -> float:
        return self._group_size

    def generate_new_optimal_delay(self) -> float:
        """One sample of the delay as a float (nanoseconds)."""
        x = self._rng.random() * self._rand_max + self._base_x
        return self._constant_t * math.log(x * self._factor_t)

    def generate_delay_ns(self) -> int:
        delay = int(self.generate_new_optimal_delay())
        # guard floating point rounding at the ends of the range
        return min(max(delay, 0), int(self._max_backoff_ns))

    def retry_delay_ns(self) -> int:
        return self.generate_delay_ns()

    def should_feedback_immediately(self) -> bool:
        return False

    def __repr__(self) -> str:
        return (
            f"OptimalMulticastDelayGenerator(max_backoff_ns={self._max_backoff_ns}, "
            f"group_size={self._group_size})"
        )


def expected_optimal_mean_ns(max_backoff_ns: float, group_size: float) -> float:
    """Analytic mean of :class:`OptimalMulticastDelayGenerator` delays (before truncation).

    ``y = x * factor`` is uniform on ``[1, e^lambda)`` so the mean is
    ``(T/lambda) * (e^lambda*lambda - e^lambda + 1) / (e^lambda - 1)``.
    """
    lam = math.log(group_size) + 1.0
    e = math.exp(lam)
    return (max_backoff_ns / lam) * (e * lam - e + 1.0) / (e - 1.0)


__all__ = [
    "FeedbackDelayGenerator",
    "StaticDelayGenerator",
    "OptimalMulticastDelayGenerator",
    "ZERO_DELAY_GENERATOR",
    "unicast_nak_delay_generator",
    "expected_optimal_mean_ns",
    "NAK_UNICAST_DELAY_DEFAULT_NS",
    "NAK_UNICAST_RETRY_DELAY_RATIO_DEFAULT",
    "NAK_MULTICAST_GROUP_SIZE_DEFAULT",
    "NAK_MULTICAST_MAX_BACKOFF_DEFAULT_NS",
]
