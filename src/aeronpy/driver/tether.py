"""Tetherable subscriber positions and the untethered-subscription state machine.

Shared by IPC publications, publication images and spies on network publications
(driver-behaviour.md §7 "Tethering").  Runs on the conductor timer; the owner supplies the
consumer position the window is measured from and how to notify clients.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Iterable

from aeronpy.concurrent.counters import AtomicCounter


class TetherState(enum.Enum):
    ACTIVE = "ACTIVE"
    LINGER = "LINGER"
    RESTING = "RESTING"
    CLOSED = "CLOSED"


@dataclass
class SubscriberPosition:
    """A subscriber's ``sub-pos`` counter linked to a publication or image (a tetherable position)."""

    subscription_registration_id: int
    counter: AtomicCounter
    is_tether: bool
    is_rejoin: bool
    state: TetherState = TetherState.ACTIVE
    time_of_last_update_ns: int = 0

    @property
    def counter_id(self) -> int:
        return int(self.counter.id)

    @property
    def is_active(self) -> bool:
        return self.state is TetherState.ACTIVE


@dataclass(frozen=True)
class UntetheredTimeouts:
    """Window-limit, linger (``< 0``: follows the window limit) and resting timeouts in ns."""

    window_limit_ns: int
    linger_ns: int
    resting_ns: int


def check_untethered(
    subscribers: Iterable[SubscriberPosition],
    now_ns: int,
    consumer_position: int,
    window_length: int,
    timeouts: UntetheredTimeouts,
    *,
    on_unavailable: Callable[[SubscriberPosition], None],
    on_available: Callable[[SubscriberPosition], None],
    join_position: Callable[[], int],
    free_counter: Callable[[AtomicCounter], None],
) -> None:
    """One timer tick of the tether state machine for each subscriber.

    ACTIVE untethered subscribers behind ``consumer - window + window/4`` for the window-limit
    timeout go LINGER (image unavailable); after the linger timeout RESTING (``rejoin``) or
    CLOSED (counter freed); after the resting timeout their position is reset to
    ``join_position()`` and they are ACTIVE again (image available, same counter).
    Tethered subscribers are only refreshed.
    """
    untethered_limit = (consumer_position - window_length) + window_length // 4
    linger_ns = timeouts.linger_ns if timeouts.linger_ns >= 0 else timeouts.window_limit_ns
    for sub in subscribers:
        if sub.is_tether:
            sub.time_of_last_update_ns = now_ns
            continue
        state = sub.state
        if state is TetherState.ACTIVE:
            if sub.counter.get() > untethered_limit:
                sub.time_of_last_update_ns = now_ns
            elif now_ns > sub.time_of_last_update_ns + timeouts.window_limit_ns:
                on_unavailable(sub)
                sub.state = TetherState.LINGER
                sub.time_of_last_update_ns = now_ns
        elif state is TetherState.LINGER:
            if now_ns > sub.time_of_last_update_ns + linger_ns:
                if sub.is_rejoin:
                    sub.state = TetherState.RESTING
                else:
                    sub.state = TetherState.CLOSED
                    free_counter(sub.counter)
                sub.time_of_last_update_ns = now_ns
        elif state is TetherState.RESTING:
            if now_ns > sub.time_of_last_update_ns + timeouts.resting_ns:
                sub.counter.set(join_position())
                on_available(sub)
                sub.state = TetherState.ACTIVE
                sub.time_of_last_update_ns = now_ns
