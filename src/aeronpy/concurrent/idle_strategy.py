"""Idle strategies for agent duty cycles, selectable by their Aeron/agrona names.

``idle(work_count)`` idles only when a duty cycle did no work (``work_count <= 0``) and
resets any back-off state otherwise; ``idle_once()`` idles unconditionally one step.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from aeronpy.errors import ConfigurationError

if TYPE_CHECKING:
    from aeronpy.concurrent.activity_probe import ActivityProbe

_INT64_MAX = (1 << 63) - 1


def _park_ns(period_ns: int) -> None:
    time.sleep(period_ns / 1e9)


def _sched_yield() -> None:
    if hasattr(os, "sched_yield"):
        os.sched_yield()
    else:  # pragma: no cover - non-POSIX platforms
        time.sleep(0)


@runtime_checkable
class IdleStrategy(Protocol):
    """What an agent runner calls between duty cycles."""

    alias: str

    def idle(self, work_count: int) -> None:
        """Idle if ``work_count <= 0``, else reset back-off state."""
        ...

    def idle_once(self) -> None:
        """Idle one step regardless of work done."""
        ...

    def reset(self) -> None:
        """Return to the not-idle state."""
        ...


class NoOpIdleStrategy:
    """Never idles: the agent runs flat out without even a spin hint."""

    alias = "noop"

    def idle(self, work_count: int) -> None:
        """Do nothing."""

    def idle_once(self) -> None:
        """Do nothing."""

    def reset(self) -> None:
        """Do nothing."""

    def __repr__(self) -> str:
        return "NoOpIdleStrategy()"


class BusySpinIdleStrategy:
    """Busy spins (Python has no CPU pause hint, so this returns immediately)."""

    alias = "spin"

    def idle(self, work_count: int) -> None:
        """Spin once when idle."""

    def idle_once(self) -> None:
        """Spin once."""

    def reset(self) -> None:
        """Nothing to reset."""

    def __repr__(self) -> str:
        return "BusySpinIdleStrategy()"


class YieldingIdleStrategy:
    """Yields the CPU (``sched_yield``) when idle."""

    alias = "yield"

    def __init__(self, yield_fn: Callable[[], None] = _sched_yield) -> None:
        self._yield = yield_fn

    def idle(self, work_count: int) -> None:
        """Yield if no work was done."""
        if work_count <= 0:
            self._yield()

    def idle_once(self) -> None:
        """Yield once."""
        self._yield()

    def reset(self) -> None:
        """Nothing to reset."""

    def __repr__(self) -> str:
        return "YieldingIdleStrategy()"


class SleepingIdleStrategy:
    """Sleeps a fixed period (nanoseconds) when idle."""

    alias = "sleep-ns"

    def __init__(
        self, sleep_period_ns: int = 1000, park_fn: Callable[[int], None] = _park_ns
    ) -> None:
        if sleep_period_ns < 0:
            raise ConfigurationError(f"sleep period must be >= 0 ns: {sleep_period_ns}")
        self.sleep_period_ns = sleep_period_ns
        self._park = park_fn

    def idle(self, work_count: int) -> None:
        """Sleep if no work was done."""
        if work_count <= 0:
            self._park(self.sleep_period_ns)

    def idle_once(self) -> None:
        """Sleep once."""
        self._park(self.sleep_period_ns)

    def reset(self) -> None:
        """Nothing to reset."""

    def __repr__(self) -> str:
        return f"SleepingIdleStrategy(sleep_period_ns={self.sleep_period_ns})"


class SleepingMillisIdleStrategy(SleepingIdleStrategy):
    """Sleeps a fixed period in milliseconds when idle (agrona ``sleep-ms``)."""

    alias = "sleep-ms"

    def __init__(self, sleep_period_ms: int = 1, park_fn: Callable[[int], None] = _park_ns) -> None:
        super().__init__(sleep_period_ms * 1_000_000, park_fn)
        self.sleep_period_ms = sleep_period_ms

    def __repr__(self) -> str:
        return f"SleepingMillisIdleStrategy(sleep_period_ms={self.sleep_period_ms})"


HANDLED_RUNS_PER_IDLE = 64
"""Handled probe checks one probed ``idle()`` call goes on after (see
:meth:`BackoffIdleStrategy._probed_step`), so a steady stream of them still returns to the runner
(to see a stop) every few hundred microseconds at most."""


def _take_handled(probe: ActivityProbe, handled_runs: int) -> bool:
    """Whether the check that fired was handled by the eager data path and the idle step may
    go on probing (fewer than :data:`HANDLED_RUNS_PER_IDLE` so far): then ``handled`` is cleared."""
    if probe.handled and handled_runs < HANDLED_RUNS_PER_IDLE:
        probe.handled = False
        return True
    return False


class BackoffIdleStrategy:
    """Spin, then yield, then park with a doubling period capped at the maximum.

    The state machine matches agrona/Aeron C: from NOT_IDLE the first idle enters SPINNING;
    after ``max_spins`` spins it moves to YIELDING; after ``max_yields`` yields to PARKING,
    where each step parks ``park_period_ns`` and then doubles it up to ``max_park_period_ns``.
    Any work resets to NOT_IDLE.

    aeronpy's addition, off unless ``deep_park_after > 0``: after that many consecutive parks
    at ``max_park_period_ns`` the period doubles on up to ``max_deep_park_period_ns`` (the
    driver's default "backoff" does this; see :data:`DRIVER_BACKOFF_DEEP_PARK_AFTER`).  Each
    wake-up of a parked thread costs tens of microseconds of CPU on a virtual machine whatever
    the language, so a long-idle agent wakes less often; any work resets it at once.

    With a :attr:`probe` (:class:`~aeronpy.concurrent.activity_probe.ActivityProbe`, set by
    the driver for its agents) the spins and yields look at the probe instead of returning to
    a whole duty cycle: one ``idle()`` call spins up to ``max_spins`` probe checks, then yields
    up to ``max_yields`` times with a check after each, and returns as soon as a check sees
    activity (the state and counts stay, so the next idle step goes on from there).  Parking
    goes on as before, but a park returns to a duty cycle only when the probe sees activity or
    ``max_park_period_ns`` has passed since the last one -- or the longer ``quiet_ns`` that the
    probed agent's own timers allow: parks in between still return to the runner (so a stop is
    seen), but the agent skips its duty cycle (``probe.skip_duty_cycle``).
    """

    alias = "backoff"

    NOT_IDLE = 0
    SPINNING = 1
    YIELDING = 2
    PARKING = 3

    def __init__(
        self,
        max_spins: int = 10,
        max_yields: int = 5,
        min_park_period_ns: int = 1000,
        max_park_period_ns: int = 1_000_000,
        *,
        deep_park_after: int = 0,
        max_deep_park_period_ns: int = 0,
        yield_fn: Callable[[], None] = _sched_yield,
        park_fn: Callable[[int], None] = _park_ns,
    ) -> None:
        if max_spins < 0 or max_yields < 0 or min_park_period_ns < 0 or deep_park_after < 0:
            raise ConfigurationError(
                f"backoff values must be >= 0: spins={max_spins} yields={max_yields} "
                f"min_park={min_park_period_ns} deep_park_after={deep_park_after}"
            )
        if max_park_period_ns < min_park_period_ns:
            raise ConfigurationError(
                f"backoff max park period {max_park_period_ns} ns < min park period "
                f"{min_park_period_ns} ns"
            )
        if deep_park_after > 0 and max_deep_park_period_ns < max_park_period_ns:
            raise ConfigurationError(
                f"backoff max deep park period {max_deep_park_period_ns} ns < max park period "
                f"{max_park_period_ns} ns"
            )
        self.max_spins = max_spins
        self.max_yields = max_yields
        self.min_park_period_ns = min_park_period_ns
        self.max_park_period_ns = max_park_period_ns
        self.deep_park_after = deep_park_after
        self.max_deep_park_period_ns = max_deep_park_period_ns if deep_park_after > 0 else max_park_period_ns
        self._yield = yield_fn
        self._park = park_fn
        self.state = self.NOT_IDLE
        self.spins = 0
        self.yields = 0
        self.parks_at_max = 0
        self.park_period_ns = min_park_period_ns
        self.probe: ActivityProbe | None = None
        """Where spins and yields look for activity (``None``: they return to a duty cycle)."""

    def idle(self, work_count: int) -> None:
        """Reset on work, otherwise advance one back-off step."""
        if work_count > 0:
            if self.state != self.NOT_IDLE:
                self.reset()
        else:
            self.idle_once()

    def idle_once(self) -> None:
        """Advance one back-off step."""
        state = self.state
        probe = self.probe
        if probe is not None and probe.active:
            if state != self.PARKING:
                self._probed_step(probe)
            else:
                self._probed_park(probe)
            return
        if state == self.NOT_IDLE:
            self.state = self.SPINNING
            self.spins += 1
        elif state == self.SPINNING:
            self.spins += 1
            if self.spins > self.max_spins:
                self.state = self.YIELDING
                self.yields = 0
        elif state == self.YIELDING:
            self.yields += 1
            if self.yields > self.max_yields:
                self.state = self.PARKING
                self.park_period_ns = self.min_park_period_ns
                self.parks_at_max = 0
            else:
                self._yield()
        else:
            self._park_step()

    def _probed_step(self, probe: ActivityProbe) -> None:
        """Spin, then yield, on the probe until it sees activity or the yields run out.

        A check whose eager data path handled the duty cycle it fired for (``probe.handled``)
        is work done without one: the back-off starts again at its first spin within this call,
        as after any work, and the probe is watched on (up to :data:`HANDLED_RUNS_PER_IDLE`
        such checks; the last one leaves ``handled`` set for the agent to skip its cycle).
        Returning to the runner instead costs two duty cycles before the next check (the one
        the handled run stood in for is skipped, the next counts its work, the one after finds
        none), which a reply arriving meanwhile would wait out."""
        handled_runs = 0
        if self.state == self.NOT_IDLE:
            self.state = self.SPINNING
            self.spins = 0
        while True:
            if self.state == self.SPINNING:
                remaining = self.max_spins - self.spins
                if remaining > 0:
                    fired = probe.check(remaining)
                    if fired:
                        if _take_handled(probe, handled_runs):
                            handled_runs += 1
                            self.spins = 0
                            continue
                        self.spins += fired
                        return
                self.state = self.YIELDING
                self.yields = 0
            while self.yields < self.max_yields:
                self.yields += 1
                self._yield()
                if probe.check(1):
                    if _take_handled(probe, handled_runs):
                        handled_runs += 1
                        break
                    return
            else:
                self.state = self.PARKING
                self.park_period_ns = self.min_park_period_ns
                self.parks_at_max = 0
                return
            self.state = self.SPINNING  # a handled check in the yields: work, back to spinning
            self.spins = 0
            self.yields = 0

    def _probed_park(self, probe: ActivityProbe) -> None:
        """Park, doubling the period, until the probe sees activity or ``max_park_period_ns``
        has passed since the last duty cycle, or a deferrable word's deadline has come
        (``probe.deferred_due()``): timers keep at least that rate (the plain
        strategy's once it parks at its maximum), the short first parks skip the duty cycle.
        An agent whose timers allow longer (the probe's ``quiet_ns``) is not run until that
        has passed: the probe's ``skip_duty_cycle`` tells its agent to return 0 at once."""
        while True:
            self._park_step()
            if probe.check(1) or probe.deferred_due():
                return
            since_ns = probe.since_snapshot_ns()
            if since_ns >= self.max_park_period_ns:
                if since_ns < probe.quiet_ns:
                    probe.skip_duty_cycle = True
                return

    def _park_step(self) -> None:
        period = self.park_period_ns
        self._park(period)
        if period < self.max_park_period_ns:
            self.park_period_ns = min(period * 2, self.max_park_period_ns)
        elif self.deep_park_after > 0:
            if self.parks_at_max < self.deep_park_after:
                self.parks_at_max += 1
            else:
                self.park_period_ns = min(period * 2, self.max_deep_park_period_ns)

    def reset(self) -> None:
        """Back to NOT_IDLE with counters cleared."""
        self.spins = 0
        self.yields = 0
        self.parks_at_max = 0
        self.park_period_ns = self.min_park_period_ns
        self.state = self.NOT_IDLE

    def __repr__(self) -> str:
        deep = (
            f", deep_park_after={self.deep_park_after}, "
            f"max_deep_park_period_ns={self.max_deep_park_period_ns}"
            if self.deep_park_after else ""
        )
        return (
            f"BackoffIdleStrategy(max_spins={self.max_spins}, max_yields={self.max_yields}, "
            f"min_park_period_ns={self.min_park_period_ns}, "
            f"max_park_period_ns={self.max_park_period_ns}{deep})"
        )


# Defaults the C and Java media drivers use for a named "backoff" strategy.
DRIVER_BACKOFF_MAX_SPINS = 10
DRIVER_BACKOFF_MAX_YIELDS = 20
DRIVER_BACKOFF_MIN_PARK_PERIOD_NS = 1000
DRIVER_BACKOFF_MAX_PARK_PERIOD_NS = 1_000_000
DRIVER_BACKOFF_DEEP_PARK_AFTER = 100
"""aeronpy's default "backoff" (no init args): after 100 parks at 1 ms (about 0.1 s without any
work) the park period doubles on to 8 ms.  A parked thread's wake-up costs 20-30 us of CPU on
the virtual machines measured (a C loop of 1 ms ``nanosleep`` alone used 2.7 % of a core) and a
cache-cold Python duty cycle 10-80 us more, so Aeron's 1 ms cap cannot idle at <= 2 % there.
Only a driver with nothing to do for 0.1 s parks deeper: a live UDP stream's heartbeats (every
100 ms) and status messages keep it at 1 ms, and IPC traffic never waits for the driver; the
price is up to 8 ms more latency for the first datagram after a silence.  Explicit init args
(``10-20-1us-1ms``) give Aeron's exact strategy; a 6-field form sets the deep park:
``10-20-1us-1ms-100-8ms``."""
DRIVER_BACKOFF_MAX_DEEP_PARK_PERIOD_NS = 8_000_000
# The C driver's sleeping strategy sleeps 1 ns when no init args are given.
DRIVER_SLEEPING_DEFAULT_NS = 1

_DURATION = re.compile(r"\s*\+?(\d+)(s|ms|us|ns)?", re.IGNORECASE)
_DURATION_SCALE = {None: 1, "ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_BACKOFF_ARGS = re.compile(r"\s*(\d+)-(\d+)-(\w+)-(\w+)(?:-(\d+)-(\w+))?\s*")


def _parse_duration_ns(text: str, what: str) -> int:
    m = _DURATION.fullmatch(text)
    if m is None:
        raise ConfigurationError(f"{what}: invalid duration {text!r} (e.g. 1000, 1us, 1ms, 1s)")
    unit = m.group(2).lower() if m.group(2) else None
    return min(int(m.group(1)) * _DURATION_SCALE[unit], _INT64_MAX)


def _make_sleeping(init_args: str | None) -> IdleStrategy:
    if init_args is None:
        return SleepingIdleStrategy(DRIVER_SLEEPING_DEFAULT_NS)
    return SleepingIdleStrategy(_parse_duration_ns(init_args, "sleeping idle strategy init args"))


def _make_backoff(init_args: str | None) -> IdleStrategy:
    if init_args is None:
        return BackoffIdleStrategy(
            DRIVER_BACKOFF_MAX_SPINS,
            DRIVER_BACKOFF_MAX_YIELDS,
            DRIVER_BACKOFF_MIN_PARK_PERIOD_NS,
            DRIVER_BACKOFF_MAX_PARK_PERIOD_NS,
            deep_park_after=DRIVER_BACKOFF_DEEP_PARK_AFTER,
            max_deep_park_period_ns=DRIVER_BACKOFF_MAX_DEEP_PARK_PERIOD_NS,
        )
    m = _BACKOFF_ARGS.fullmatch(init_args)
    if m is None:
        raise ConfigurationError(
            f"backoff idle strategy init args {init_args!r} malformed: 4 values required as "
            "<max_spins>-<max_yields>-<min_park>-<max_park>, e.g. 10-20-1us-1ms (aeronpy also "
            "takes -<deep_park_after>-<max_deep_park> after them, e.g. 10-20-1us-1ms-100-8ms)"
        )
    what = f"backoff idle strategy init args {init_args!r}"
    deep_after = int(m.group(5)) if m.group(5) is not None else 0
    return BackoffIdleStrategy(
        int(m.group(1)),
        int(m.group(2)),
        _parse_duration_ns(m.group(3), what),
        _parse_duration_ns(m.group(4), what),
        deep_park_after=deep_after,
        max_deep_park_period_ns=_parse_duration_ns(m.group(6), what) if m.group(6) is not None else 0,
    )


_FACTORIES: dict[str, Callable[[str | None], IdleStrategy]] = {}


def _register(factory: Callable[[str | None], IdleStrategy], *names: str) -> None:
    for name in names:
        _FACTORIES[name] = factory


_register(
    lambda _a: NoOpIdleStrategy(),
    "noop",
    "aeron_idle_strategy_noop",
    "org.agrona.concurrent.NoOpIdleStrategy",
)
_register(
    lambda _a: BusySpinIdleStrategy(),
    "spin",
    "busy_spin",
    "aeron_idle_strategy_busy_spinning",
    "org.agrona.concurrent.BusySpinIdleStrategy",
)
_register(
    lambda _a: YieldingIdleStrategy(),
    "yield",
    "aeron_idle_strategy_yielding",
    "org.agrona.concurrent.YieldingIdleStrategy",
)
_register(
    _make_sleeping,
    "sleeping",
    "sleep-ns",
    "aeron_idle_strategy_sleeping",
    "org.agrona.concurrent.SleepingIdleStrategy",
)
_register(
    lambda _a: SleepingMillisIdleStrategy(),
    "sleep-ms",
    "org.agrona.concurrent.SleepingMillisIdleStrategy",
)
_register(
    _make_backoff,
    "backoff",
    "aeron_idle_strategy_backoff",
    "org.agrona.concurrent.BackoffIdleStrategy",
)

IDLE_STRATEGY_NAMES: tuple[str, ...] = tuple(_FACTORIES)

_named_strategy_hook: Callable[[IdleStrategy], IdleStrategy] | None = None


def set_named_strategy_hook(hook: Callable[[IdleStrategy], IdleStrategy] | None) -> None:
    """Have :func:`idle_strategy_from_name` pass every strategy it builds through ``hook``
    (``None`` removes it); :mod:`aeronpy.concurrent.doorbell` uses this."""
    global _named_strategy_hook
    _named_strategy_hook = hook


def idle_strategy_from_name(name: str, init_args: str | None = None) -> IdleStrategy:
    """Build an idle strategy from an Aeron name, C symbol or agrona class name.

    ``init_args`` (``AERON_*_IDLE_STRATEGY_INIT_ARGS``) is a duration for ``sleeping``/``sleep-ns``
    (bare number = ns, or ``s``/``ms``/``us``/``ns`` suffix; default 1 ns as in the C driver)
    and ``<spins>-<yields>-<min_park>-<max_park>`` for ``backoff`` (the driver defaults
    10-20-1us-1ms, plus aeronpy's deep park when no init args are given: see
    :data:`DRIVER_BACKOFF_DEEP_PARK_AFTER`; ``-<deep_park_after>-<max_deep_park>`` may follow);
    the other strategies ignore it, as the C driver does.
    """
    factory = _FACTORIES.get(name.strip())
    if factory is None:
        raise ConfigurationError(
            f"unknown idle strategy {name!r}; expected one of: {', '.join(IDLE_STRATEGY_NAMES)}"
        )
    if init_args is not None and not init_args.strip():
        init_args = None
    strategy = factory(init_args)
    hook = _named_strategy_hook
    return strategy if hook is None else hook(strategy)


def parse_idle_strategy_name(value: str, name: str) -> str:
    """Property parser: ``value`` stripped if :func:`idle_strategy_from_name` knows it, else a
    :class:`ConfigurationError` naming the property ``name``."""
    try:
        idle_strategy_from_name(value)
    except ConfigurationError as e:
        raise ConfigurationError(f"{name}={value}: {e}") from None
    return value.strip()


__all__ = [
    "IdleStrategy",
    "NoOpIdleStrategy",
    "BusySpinIdleStrategy",
    "YieldingIdleStrategy",
    "SleepingIdleStrategy",
    "SleepingMillisIdleStrategy",
    "BackoffIdleStrategy",
    "IDLE_STRATEGY_NAMES",
    "idle_strategy_from_name",
    "parse_idle_strategy_name",
    "set_named_strategy_hook",
]
