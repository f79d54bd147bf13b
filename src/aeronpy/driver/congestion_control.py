"""Congestion control of a receiver's image: the window its status messages advertise.

Aeron's ``CongestionControl`` strategy, sans-IO (time is a parameter, nothing here sends or
reads a clock).  The image asks it, from the conductor, for the window after each rebuild step
(:meth:`CongestionControl.on_track_rebuild`) and, from the receiver, whether to originate an RTT
measurement (:meth:`~CongestionControl.should_measure_rtt`); it reports RTTM frames sent and the
RTT of each reply (:meth:`~CongestionControl.on_rttm_sent`, :meth:`~CongestionControl.on_rttm`).

* :class:`StaticWindowCongestionControl` (``cc=static``, the default): a fixed window of
  ``min(rcv-wnd or aeron.rcv.initial.window.length, term_length / 2)``; never measures RTT.
* :class:`CubicCongestionControl` (``cc=cubic``): CUBIC (RFC 8312) in whole MTUs, as Aeron's C
  and Java drivers do it: starts at 10 MTUs, backs off by ``B`` = 0.2 on loss and regrows along
  ``W(t) = C (t - K)^3 + W_max`` (``C`` = 0.4) at most once per initial RTT, never above the
  static window; optional TCP-friendly region.  RTT measurement (RTTM frames) only when
  ``aeron.CubicCongestionControl.measureRtt=true``, as in Aeron.

:func:`select_congestion_control` maps the driver's ``aeron.CongestionControl.supplier`` and a
channel's ``cc`` to a strategy name, :func:`new_congestion_control` builds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "CUBIC",
    "CUBIC_RTT_INDICATOR_NAME",
    "CUBIC_WINDOW_INDICATOR_NAME",
    "DEFAULT",
    "STATIC",
    "CongestionControl",
    "CubicCongestionControl",
    "CubicSettings",
    "Indicator",
    "StaticWindowCongestionControl",
    "new_congestion_control",
    "receiver_window_length",
    "select_congestion_control",
]

STATIC = "static"
CUBIC = "cubic"
DEFAULT = "default"
"""Supplier name meaning "the channel's ``cc`` parameter, else static" (Aeron's default supplier)."""

CUBIC_RTT_INDICATOR_NAME = "rcv-cc-cubic-rtt"
CUBIC_WINDOW_INDICATOR_NAME = "rcv-cc-cubic-wnd"

SECOND_NS = 1_000_000_000
INITIAL_CWND = 10
"""Initial congestion window in MTUs (RFC 6928's IW10, as Aeron)."""
CUBIC_C = 0.4
CUBIC_B = 0.2
RTT_TIMEOUT_MULTIPLE = 4
INITIAL_RTT_NS_DEFAULT = 100_000
"""``aeron.CubicCongestionControl.initialRtt`` default: 100 us."""


class Indicator(Protocol):
    """Where a strategy publishes a value (an :class:`~aeronpy.concurrent.counters.AtomicCounter`)."""

    def set(self, value: int) -> None: ...

    def close(self) -> None: ...


class CongestionControl(Protocol):
    """The strategy an image consults (Aeron's ``CongestionControl``)."""

    @property
    def initial_window_length(self) -> int:
        """Window of the first status message."""
        ...

    @property
    def max_window_length(self) -> int:
        """Largest window this strategy ever returns."""
        ...

    def should_measure_rtt(self, now_ns: int) -> bool:
        """Receiver: is an RTTM (with the reply flag) due now?"""
        ...

    def on_rttm_sent(self, now_ns: int) -> None:
        """Receiver: an RTTM was sent at ``now_ns``."""
        ...

    def on_rttm(self, now_ns: int, rtt_ns: int, source_address: Any) -> None:
        """Receiver: the reply to an RTTM arrived; ``rtt_ns`` is the measured round trip."""
        ...

    def on_track_rebuild(
        self,
        now_ns: int,
        new_consumption_position: int,
        last_sm_position: int,
        hwm_position: int,
        starting_rebuild_position: int,
        ending_rebuild_position: int,
        loss_occurred: bool,
    ) -> tuple[int, bool]:
        """Conductor, after each rebuild step: ``(window_length, force_status_message)``."""
        ...

    def close(self) -> None:
        """Free what the strategy holds (its counters)."""
        ...


def receiver_window_length(initial_window_length: int, term_length: int) -> int:
    """The receiver window for a term length: at most half a term (C ``aeron_receiver_window_length``)."""
    return min(initial_window_length, term_length // 2)


class StaticWindowCongestionControl:
    """``cc=static``: one fixed window, no RTT measurement."""

    __slots__ = ("_outcome", "window_length")

    def __init__(self, window_length: int) -> None:
        if window_length <= 0:
            raise ValueError(f"window_length must be > 0, got {window_length}")
        self.window_length = window_length
        self._outcome = (window_length, False)

    @property
    def initial_window_length(self) -> int:
        return self.window_length

    @property
    def max_window_length(self) -> int:
        return self.window_length

    def should_measure_rtt(self, now_ns: int) -> bool:
        return False

    def on_rttm_sent(self, now_ns: int) -> None:
        pass

    def on_rttm(self, now_ns: int, rtt_ns: int, source_address: Any) -> None:
        pass

    def on_track_rebuild(
        self,
        now_ns: int,
        new_consumption_position: int,
        last_sm_position: int,
        hwm_position: int,
        starting_rebuild_position: int,
        ending_rebuild_position: int,
        loss_occurred: bool,
    ) -> tuple[int, bool]:
        return self._outcome

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class CubicSettings:
    """The ``aeron.CubicCongestionControl.*`` properties."""

    measure_rtt: bool = False
    """``aeron.CubicCongestionControl.measureRtt``: originate RTTM frames (else RTT stays ``initial_rtt_ns``)."""
    initial_rtt_ns: int = INITIAL_RTT_NS_DEFAULT
    """``aeron.CubicCongestionControl.initialRtt``: RTT before any measurement; also the window update interval."""
    tcp_mode: bool = False
    """``aeron.CubicCongestionControl.tcpMode``: never grow slower than TCP Reno would after a loss."""

    def __post_init__(self) -> None:
        if self.initial_rtt_ns <= 0:
            raise ValueError(f"initial_rtt_ns must be > 0, got {self.initial_rtt_ns}")


class CubicCongestionControl:
    """``cc=cubic``: a CUBIC congestion window in MTUs (Aeron's ``CubicCongestionControl``).

    ``max_window_length`` is the static window; the congestion window ``cwnd`` (MTUs) stays in
    ``[1, max_cwnd]`` with ``max_cwnd = max(1, max_window_length // mtu)``.  On loss:
    ``W_max = cwnd``, ``cwnd = max(1, int(cwnd * (1 - B)))`` and an SM is forced.  Otherwise, at
    most once per ``initial_rtt_ns`` and while below ``max_cwnd``:
    ``cwnd = min(max_cwnd, W_max + int(C * (t - K)^3))`` with ``t`` the seconds since the last
    loss (or creation) and ``K = cbrt(W_max * B / C)``; in TCP mode ``cwnd`` is raised to
    ``int(W_max * (1 - B) + 3B / (2 - B) * t / RTT)`` when below ``W_max``.  At one MTU, an SM
    is forced whenever consumption moved past the last SM position.
    """

    __slots__ = (
        "settings", "mtu", "max_window_length", "max_cwnd", "cwnd", "w_max", "k", "initial_window_length",
        "window_length", "rtt_ns", "rtt_timeout_ns", "window_update_timeout_ns", "last_loss_timestamp_ns",
        "last_update_timestamp_ns", "last_rtt_timestamp_ns", "_rtt_indicator", "_window_indicator",
    )

    def __init__(
        self,
        *,
        max_window_length: int,
        mtu: int,
        now_ns: int,
        settings: CubicSettings = CubicSettings(),
        rtt_indicator: Indicator | None = None,
        window_indicator: Indicator | None = None,
    ) -> None:
        if mtu <= 0:
            raise ValueError(f"mtu must be > 0, got {mtu}")
        if max_window_length <= 0:
            raise ValueError(f"max_window_length must be > 0, got {max_window_length}")
        self.settings = settings
        self.mtu = mtu
        self.max_window_length = max_window_length
        # Aeron computes max_cwnd = window / mtu, which is 0 for a window below one MTU (then a
        # window of 0); one MTU is the least any receiver can take, so it is the floor here.
        self.max_cwnd = max(1, max_window_length // mtu)
        self.cwnd = min(INITIAL_CWND, self.max_cwnd)
        self.initial_window_length = self.cwnd * mtu
        self.window_length = self.initial_window_length
        # W_max starts at the largest window: the first growth steps are in the concave region
        self.w_max = self.max_cwnd
        self.k = math.cbrt(self.w_max * CUBIC_B / CUBIC_C)
        self.rtt_ns = settings.initial_rtt_ns
        self.window_update_timeout_ns = settings.initial_rtt_ns
        self.rtt_timeout_ns = settings.initial_rtt_ns * RTT_TIMEOUT_MULTIPLE
        self.last_loss_timestamp_ns = now_ns
        self.last_update_timestamp_ns = now_ns
        self.last_rtt_timestamp_ns = 0
        self._rtt_indicator = rtt_indicator
        self._window_indicator = window_indicator
        if rtt_indicator is not None:
            rtt_indicator.set(0)
        if window_indicator is not None:
            window_indicator.set(self.initial_window_length)

    def should_measure_rtt(self, now_ns: int) -> bool:
        return self.settings.measure_rtt and now_ns - (self.last_rtt_timestamp_ns + self.rtt_timeout_ns) > 0

    def on_rttm_sent(self, now_ns: int) -> None:
        self.last_rtt_timestamp_ns = now_ns

    def on_rttm(self, now_ns: int, rtt_ns: int, source_address: Any) -> None:
        self.last_rtt_timestamp_ns = now_ns
        self.rtt_ns = rtt_ns
        if self._rtt_indicator is not None:
            self._rtt_indicator.set(rtt_ns)
        self.rtt_timeout_ns = max(rtt_ns, self.settings.initial_rtt_ns) * RTT_TIMEOUT_MULTIPLE

    def on_track_rebuild(
        self,
        now_ns: int,
        new_consumption_position: int,
        last_sm_position: int,
        hwm_position: int,
        starting_rebuild_position: int,
        ending_rebuild_position: int,
        loss_occurred: bool,
    ) -> tuple[int, bool]:
        force = False
        cwnd = self.cwnd
        if loss_occurred:
            force = True
            self.w_max = cwnd
            self.k = math.cbrt(cwnd * CUBIC_B / CUBIC_C)
            cwnd = max(1, int(cwnd * (1.0 - CUBIC_B)))
            self.last_loss_timestamp_ns = now_ns
        elif cwnd < self.max_cwnd and now_ns - (self.last_update_timestamp_ns + self.window_update_timeout_ns) > 0:
            since_loss_s = (now_ns - self.last_loss_timestamp_ns) / SECOND_NS
            diff = since_loss_s - self.k
            # Python ints do not overflow: a long quiet spell just reaches max_cwnd (Aeron's int
            # arithmetic wraps there)
            cwnd = min(self.max_cwnd, self.w_max + int(CUBIC_C * diff * diff * diff))
            if self.settings.tcp_mode and cwnd < self.w_max:
                w_tcp = self.w_max * (1.0 - CUBIC_B) + (3.0 * CUBIC_B / (2.0 - CUBIC_B)) * (
                    since_loss_s / (max(1, self.rtt_ns) / SECOND_NS)
                )
                cwnd = max(cwnd, min(self.max_cwnd, int(w_tcp)))
            cwnd = max(1, cwnd)
            self.last_update_timestamp_ns = now_ns
        elif cwnd == 1 and new_consumption_position > last_sm_position:
            force = True  # at the minimum window every consumption step must reach the sender
        if cwnd != self.cwnd:
            self.cwnd = cwnd
            self.window_length = cwnd * self.mtu
            if self._window_indicator is not None:
                self._window_indicator.set(self.window_length)
        return self.window_length, force

    def close(self) -> None:
        for indicator in (self._rtt_indicator, self._window_indicator):
            if indicator is not None:
                indicator.close()


def select_congestion_control(supplier: str, channel_cc: str | None) -> str:
    """The strategy for an image: the driver's supplier, unless it is ``default``, which takes
    the channel's ``cc`` (``static`` when absent), as Aeron's default supplier does."""
    if supplier == DEFAULT:
        return channel_cc or STATIC
    return supplier


def new_congestion_control(
    name: str,
    *,
    window_length: int,
    mtu: int,
    now_ns: int,
    settings: CubicSettings = CubicSettings(),
    rtt_indicator: Indicator | None = None,
    window_indicator: Indicator | None = None,
) -> CongestionControl:
    """Build strategy ``name`` (``static`` or ``cubic``) for a receiver window of ``window_length``
    (already capped at half a term) and the sender's ``mtu``; ``ValueError`` for another name."""
    if name == STATIC:
        return StaticWindowCongestionControl(window_length)
    if name == CUBIC:
        return CubicCongestionControl(
            max_window_length=window_length, mtu=mtu, now_ns=now_ns, settings=settings,
            rtt_indicator=rtt_indicator, window_indicator=window_indicator,
        )
    raise ValueError(f"congestion control must be 'static' or 'cubic', got {name!r}")
