"""Backoff: yields first, then sleeps that double up to the maximum; reset starts over."""

from __future__ import annotations

import asyncio

import pytest

from aeronpy.aio import Backoff


def test_delays_yield_then_double_to_the_maximum() -> None:
    backoff = Backoff(yields=3, min_sleep=0.001, max_sleep=0.004, spin_s=0)

    async def delays() -> list[float]:
        seen = []
        for _ in range(7):
            seen.append(backoff.next_delay)
            await backoff.idle()
        return seen

    assert asyncio.run(delays()) == [0.0, 0.0, 0.0, 0.001, 0.002, 0.004, 0.004]
    backoff.reset()
    assert backoff.next_delay == 0.0


def test_idle_lets_other_tasks_run() -> None:
    async def main() -> int:
        ran = 0

        async def other() -> None:
            nonlocal ran
            ran += 1

        backoff = Backoff(yields=1)
        task = asyncio.create_task(other())
        await backoff.idle()  # a sleep(0): the other task runs
        await task
        return ran

    assert asyncio.run(main()) == 1


def test_yields_for_the_spin_window_before_the_first_sleep() -> None:
    now = [0.0]
    backoff = Backoff(yields=2, min_sleep=0.001, max_sleep=0.002, spin_s=100e-6, clock=lambda: now[0])

    async def delays() -> list[float]:
        seen = []
        for step in range(6):
            seen.append(backoff.next_delay)
            await backoff.idle()
            now[0] += 40e-6  # each wait takes 40 us of the window
        return seen

    # 2 counted yields, then yields while under 100 us since the first wait, then sleeps
    assert asyncio.run(delays()) == [0.0, 0.0, 0.0, 0.001, 0.002, 0.002]
    backoff.reset()
    assert backoff.next_delay == 0.0


@pytest.mark.parametrize("args", [(-1, 0.001, 0.002), (1, 0.0, 0.002), (1, 0.003, 0.002), (1, 0.001, 0.002, -1)])
def test_invalid_settings(args: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        Backoff(*args)
