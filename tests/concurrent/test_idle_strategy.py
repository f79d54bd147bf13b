"""Idle strategies: names, init args and back-off state progression."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aeronpy.concurrent.idle_strategy import (
    BackoffIdleStrategy,
    BusySpinIdleStrategy,
    IdleStrategy,
    NoOpIdleStrategy,
    SleepingIdleStrategy,
    SleepingMillisIdleStrategy,
    YieldingIdleStrategy,
    idle_strategy_from_name,
    parse_idle_strategy_name,
)
from aeronpy.errors import ConfigurationError


@pytest.mark.parametrize(
    ("name", "cls", "alias"),
    [
        ("noop", NoOpIdleStrategy, "noop"),
        ("org.agrona.concurrent.NoOpIdleStrategy", NoOpIdleStrategy, "noop"),
        ("spin", BusySpinIdleStrategy, "spin"),
        ("busy_spin", BusySpinIdleStrategy, "spin"),
        ("org.agrona.concurrent.BusySpinIdleStrategy", BusySpinIdleStrategy, "spin"),
        ("yield", YieldingIdleStrategy, "yield"),
        ("org.agrona.concurrent.YieldingIdleStrategy", YieldingIdleStrategy, "yield"),
        ("sleeping", SleepingIdleStrategy, "sleep-ns"),
        ("sleep-ns", SleepingIdleStrategy, "sleep-ns"),
        ("org.agrona.concurrent.SleepingIdleStrategy", SleepingIdleStrategy, "sleep-ns"),
        ("sleep-ms", SleepingMillisIdleStrategy, "sleep-ms"),
        ("backoff", BackoffIdleStrategy, "backoff"),
        ("org.agrona.concurrent.BackoffIdleStrategy", BackoffIdleStrategy, "backoff"),
        ("aeron_idle_strategy_backoff", BackoffIdleStrategy, "backoff"),
    ],
)
def test_from_name(name: str, cls: type, alias: str) -> None:
    strategy = idle_strategy_from_name(name)
    assert type(strategy) is cls
    assert strategy.alias == alias
    assert isinstance(strategy, IdleStrategy)
    strategy.idle(1)
    strategy.reset()


def test_driver_defaults() -> None:
    backoff = idle_strategy_from_name("backoff")
    assert isinstance(backoff, BackoffIdleStrategy)
    assert (backoff.max_spins, backoff.max_yields) == (10, 20)
    assert (backoff.min_park_period_ns, backoff.max_park_period_ns) == (1000, 1_000_000)
    sleeping = idle_strategy_from_name("sleep-ns")
    assert isinstance(sleeping, SleepingIdleStrategy) and sleeping.sleep_period_ns == 1
    # constructor defaults follow agrona
    b = BackoffIdleStrategy()
    assert (b.max_spins, b.max_yields, b.min_park_period_ns, b.max_park_period_ns) == (
        10, 5, 1000, 1_000_000
    )


@pytest.mark.parametrize(
    ("args", "ns"),
    [("1ms", 1_000_000), ("1MS", 1_000_000), ("250us", 250_000), ("2s", 2_000_000_000),
     ("17", 17), ("17ns", 17), ("0", 0), ("99999999999999999999s", 2**63 - 1)],
)
def test_sleeping_init_args(args: str, ns: int) -> None:
    s = idle_strategy_from_name("sleeping", args)
    assert isinstance(s, SleepingIdleStrategy) and s.sleep_period_ns == ns


@pytest.mark.parametrize("args", ["", "  "])
def test_blank_init_args_mean_default(args: str) -> None:
    s = idle_strategy_from_name("sleep-ns", args)
    assert isinstance(s, SleepingIdleStrategy) and s.sleep_period_ns == 1


def test_backoff_init_args() -> None:
    b = idle_strategy_from_name("backoff", "5-7-2us-3ms")
    assert isinstance(b, BackoffIdleStrategy)
    assert (b.max_spins, b.max_yields, b.min_park_period_ns, b.max_park_period_ns) == (
        5, 7, 2000, 3_000_000
    )
    b = idle_strategy_from_name("backoff", "1-2-100-200")
    assert isinstance(b, BackoffIdleStrategy)
    assert (b.min_park_period_ns, b.max_park_period_ns) == (100, 200)


@pytest.mark.parametrize("args", ["1-2-3", "a-b-1us-1ms", "1-2-1xs-1ms", "1,2,3,4", "-1-2-3-4", "1-2-3ms-1us"])
def test_backoff_bad_init_args(args: str) -> None:
    with pytest.raises(ConfigurationError, match="backoff"):
        idle_strategy_from_name("backoff", args)


@pytest.mark.parametrize("args", ["1 ms", "ms", "-1", "1.5ms", "1h"])
def test_sleeping_bad_init_args(args: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid duration"):
        idle_strategy_from_name("sleep-ns", args)


@pytest.mark.parametrize("name", ["", "Backoff", "park", "org.agrona.concurrent.Nope"])
def test_unknown_name(name: str) -> None:
    with pytest.raises(ConfigurationError, match="unknown idle strategy"):
        idle_strategy_from_name(name)


def test_others_ignore_init_args() -> None:
    assert isinstance(idle_strategy_from_name("yield", "whatever"), YieldingIdleStrategy)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def do_yield(self) -> None:
        self.events.append(("yield", 0))

    def park(self, ns: int) -> None:
        self.events.append(("park", ns))


def test_backoff_state_progression() -> None:
    r = Recorder()
    b = BackoffIdleStrategy(2, 3, 100, 450, yield_fn=r.do_yield, park_fn=r.park)
    assert b.state == b.NOT_IDLE
    b.idle(0)  # enter spinning
    assert (b.state, b.spins) == (b.SPINNING, 1)
    b.idle(0)
    assert (b.state, b.spins) == (b.SPINNING, 2)
    b.idle(0)  # spins 3 > 2 -> yielding
    assert (b.state, b.yields) == (b.YIELDING, 0)
    assert r.events == []
    for i in range(3):
        b.idle(0)
        assert (b.state, b.yields) == (b.YIELDING, i + 1)
    assert r.events == [("yield", 0)] * 3
    b.idle(0)  # yields 4 > 3 -> parking, no yield
    assert b.state == b.PARKING and b.park_period_ns == 100
    assert len(r.events) == 3
    for _ in range(4):
        b.idle(0)
    assert r.events[3:] == [("park", 100), ("park", 200), ("park", 400), ("park", 450)]
    assert b.park_period_ns == 450
    b.idle(1)  # work resets
    assert (b.state, b.spins, b.yields, b.park_period_ns) == (b.NOT_IDLE, 0, 0, 100)


@given(
    spins=st.integers(0, 20),
    yields=st.integers(0, 20),
    steps=st.integers(0, 80),
)
def test_backoff_counts(spins: int, yields: int, steps: int) -> None:
    r = Recorder()
    b = BackoffIdleStrategy(spins, yields, 1, 8, yield_fn=r.do_yield, park_fn=r.park)
    for _ in range(steps):
        b.idle_once()
    # 1 step enters SPINNING (spins = 1), SPINNING steps count on until spins > max (at least
    # one such step), then `yields` yielding steps, one transition step, then parks.
    n_yields = sum(1 for e in r.events if e[0] == "yield")
    n_parks = sum(1 for e in r.events if e[0] == "park")
    to_yielding = 1 + max(spins, 1)
    to_parking = to_yielding + yields + 1
    assert n_yields == max(0, min(steps, to_yielding + yields) - to_yielding)
    assert n_parks == max(0, steps - to_parking)
    assert all(1 <= e[1] <= 8 for e in r.events if e[0] == "park")


def test_backoff_rejects_bad_values() -> None:
    with pytest.raises(ConfigurationError):
        BackoffIdleStrategy(1, 1, 100, 10)
    with pytest.raises(ConfigurationError):
        BackoffIdleStrategy(-1, 1, 1, 10)


def test_sleeping_idles_only_without_work() -> None:
    r = Recorder()
    s = SleepingIdleStrategy(123, park_fn=r.park)
    s.idle(5)
    assert r.events == []
    s.idle(0)
    s.idle_once()
    assert r.events == [("park", 123), ("park", 123)]
    ms = SleepingMillisIdleStrategy(2, park_fn=r.park)
    ms.idle(0)
    assert r.events[-1] == ("park", 2_000_000)


def test_yielding_idles_only_without_work() -> None:
    r = Recorder()
    y = YieldingIdleStrategy(r.do_yield)
    y.idle(1)
    y.idle(0)
    y.idle_once()
    assert len(r.events) == 2


def test_real_idle_calls_return() -> None:
    for s in (NoOpIdleStrategy(), BusySpinIdleStrategy(), YieldingIdleStrategy(),
              SleepingIdleStrategy(1), BackoffIdleStrategy(0, 0, 1, 1)):
        for _ in range(5):
            s.idle(0)
        s.idle_once()


def test_backoff_deep_park_progression() -> None:
    r = Recorder()
    b = BackoffIdleStrategy(0, 0, 100, 400, deep_park_after=2, max_deep_park_period_ns=1600,
                            yield_fn=r.do_yield, park_fn=r.park)
    for _ in range(11):
        b.idle(0)
    # 1 step to spinning, 1 to yielding, 1 to parking, then the parks
    assert [ns for kind, ns in r.events if kind == "park"] == [100, 200, 400, 400, 400, 800, 1600, 1600]
    b.idle(1)  # work: back to the start, the deep park forgotten
    assert (b.state, b.park_period_ns, b.parks_at_max) == (b.NOT_IDLE, 100, 0)


def test_backoff_without_deep_park_stays_at_max() -> None:
    r = Recorder()
    b = BackoffIdleStrategy(0, 0, 100, 400, yield_fn=r.do_yield, park_fn=r.park)
    for _ in range(40):
        b.idle(0)
    assert max(ns for _, ns in r.events) == 400


def test_driver_default_backoff_parks_deeper_and_explicit_args_are_aerons() -> None:
    default = idle_strategy_from_name("backoff")
    assert isinstance(default, BackoffIdleStrategy)
    assert (default.deep_park_after, default.max_deep_park_period_ns) == (100, 8_000_000)
    exact = idle_strategy_from_name("backoff", "10-20-1us-1ms")
    assert isinstance(exact, BackoffIdleStrategy) and exact.deep_park_after == 0
    assert exact.max_deep_park_period_ns == exact.max_park_period_ns
    six = idle_strategy_from_name("backoff", "1-2-3us-1ms-4-8ms")
    assert isinstance(six, BackoffIdleStrategy)
    assert (six.deep_park_after, six.max_deep_park_period_ns) == (4, 8_000_000)
    assert "deep_park_after=4" in repr(six) and "deep" not in repr(exact)


@pytest.mark.parametrize("args", ["1-2-1us-1ms-5", "1-2-1us-1ms-5-10us", "1-2-1us-1ms-x-1ms"])
def test_backoff_bad_deep_park_args(args: str) -> None:
    with pytest.raises(ConfigurationError, match="backoff"):
        idle_strategy_from_name("backoff", args)


def test_default_backoff_idles_cheaply() -> None:
    """Parks 8 ms at a time once idle for ~0.1 s: about 8x fewer wake-ups than a 1 ms cap."""
    r = Recorder()
    b = idle_strategy_from_name("backoff")
    assert isinstance(b, BackoffIdleStrategy)
    b._park = r.park
    b._yield = r.do_yield
    for _ in range(200):
        b.idle(0)
    parks = [ns for kind, ns in r.events if kind == "park"]
    assert parks[-1] == 8_000_000 and parks.count(1_000_000) == 101


def test_idle_strategy_property_parser_keeps_known_names_and_names_the_property() -> None:
    assert parse_idle_strategy_name(" org.agrona.concurrent.BackoffIdleStrategy ", "aeron.x") == (
        "org.agrona.concurrent.BackoffIdleStrategy")
    with pytest.raises(ConfigurationError, match="aeron.x=lazy: unknown idle strategy"):
        parse_idle_strategy_name("lazy", "aeron.x")
