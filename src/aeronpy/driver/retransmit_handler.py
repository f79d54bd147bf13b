"""Sender-side NAK handling: the retransmit action pool (driver-behaviour.md §5).

Sans-IO: ``now_ns`` is a parameter and the actual resend is a callback
``resend(term_id, term_offset, length, now_ns)`` supplied by the caller (the network publication,
which checks the resend window and scans the log into MTU-sized datagrams).

Behaviour, as in Aeron's C driver:

* A NAK is invalid (counted in :attr:`invalid_count`, ignored) if ``term_offset < 0``,
  ``term_offset > term_length - 32`` or ``length < 0``; a zero length is ignored.
* Retransmit length = ``min(nak length, L)``, ``L = min(term_length - term_offset,
  min(128 KiB, term_length / 2) * rrwm)`` (rrwm 16 unicast, 4 group by default).
* Pool: unicast has one slot, group semantics ``max_retransmits`` slots.  A NAK whose
  ``(term_id, term_offset)`` falls inside an active (delayed or lingering) action of the same
  term is ignored.  Unicast: a non-overlapping NAK replaces the single action.  Group: it takes
  a free slot, or is dropped and counted in :attr:`overflow_count` if none is free.
* Delay 0: resend immediately, then the action lingers ``linger_timeout_ns``; otherwise the
  action waits ``delay`` and resends from :meth:`process_timeouts`, then lingers.
* Timers expire strictly after their deadline (``now_ns > expiry_ns``).
"""

from __future__ import annotations

from aeronpy.driver.flow_control import calculate_retransmission_length

from enum import IntEnum
from typing import Callable

from aeronpy.driver.feedback_delay import FeedbackDelayGenerator, StaticDelayGenerator
from aeronpy.protocol.data_header import HEADER_LENGTH

MAX_RESEND_DEFAULT = 16
MAX_RESEND_MAX = 256
RETRANSMIT_UNICAST_LINGER_DEFAULT_NS = 10_000_000
#: built-in initial receiver window used for the retransmit length estimate (not configurable)
INITIAL_RECEIVER_WINDOW_LENGTH = 128 * 1024
UNICAST_RETRANSMIT_RECEIVER_WINDOW_MULTIPLE = 16
MULTICAST_RETRANSMIT_RECEIVER_WINDOW_MULTIPLE = 4

ResendFunc = Callable[[int, int, int, int], None]
"""``resend(term_id, term_offset, length, now_ns)``."""


class RetransmitActionState(IntEnum):
    DELAYED = 0
    LINGERING = 1
    INACTIVE = 2


class RetransmitAction:
    __slots__ = ("expiry_ns", "term_id", "term_offset", "length", "state")

    def __init__(self) -> None:
        self.expiry_ns = 0
        self.term_id = 0
        self.term_offset = 0
        self.length = 0
        self.state = RetransmitActionState.INACTIVE

    def __repr__(self) -> str:
        return (
            f"RetransmitAction(state={self.state.name}, term_id={self.term_id}, "
            f"term_offset={self.term_offset}, length={self.length}, expiry_ns={self.expiry_ns})"
        )


max_retransmission_length = calculate_retransmission_length


class RetransmitHandler:
    """Action pool deciding when NAKed ranges are resent."""

    def __init__(
        self,
        delay_generator_or_delay_ns: FeedbackDelayGenerator | int = 0,
        linger_timeout_ns: int = RETRANSMIT_UNICAST_LINGER_DEFAULT_NS,
        max_retransmits: int = MAX_RESEND_DEFAULT,
        has_group_semantics: bool = False,
        retransmit_receiver_window_multiple: int | None = None,
    ) -> None:
        if isinstance(delay_generator_or_delay_ns, int):
            self._delay_generator: FeedbackDelayGenerator = StaticDelayGenerator(delay_generator_or_delay_ns)
        else:
            self._delay_generator = delay_generator_or_delay_ns
        if has_group_semantics and not 1 <= max_retransmits <= MAX_RESEND_MAX:
            raise ValueError(f"max_retransmits must be in [1, {MAX_RESEND_MAX}]: {max_retransmits}")
        self._linger_timeout_ns = linger_timeout_ns
        self._has_group_semantics = has_group_semantics
        self._rrwm = (
            retransmit_receiver_window_multiple
            if retransmit_receiver_window_multiple is not None
            else (MULTICAST_RETRANSMIT_RECEIVER_WINDOW_MULTIPLE if has_group_semantics
                  else UNICAST_RETRANSMIT_RECEIVER_WINDOW_MULTIPLE)
        )
        size = max_retransmits if has_group_semantics else 1
        self._pool = [RetransmitAction() for _ in range(size)]
        self._active_count = 0
        #: NAKs dropped because every group action slot was busy (system counter 37).
        self.overflow_count = 0
        #: NAKs rejected as invalid (offset/length out of range).
        self.invalid_count = 0

    @property
    def has_group_semantics(self) -> bool:
        return self._has_group_semantics

    @property
    def max_retransmits(self) -> int:
        return len(self._pool)

    @property
    def active_retransmit_count(self) -> int:
        return self._active_count

    @property
    def actions(self) -> tuple[RetransmitAction, ...]:
        """The pool (read-only view for inspection)."""
        return tuple(self._pool)

    def on_nak(
        self,
        term_id: int,
        term_offset: int,
        length: int,
        term_length: int,
        mtu: int,
        now_ns: int,
        resend: ResendFunc,
    ) -> bool:
        """Handle a NAK; returns True if an action was (re)armed for it.

        ``mtu`` is accepted for parity with Aeron's flow-control hook; the built-in strategies
        do not use it.
        """
        if term_offset > term_length - HEADER_LENGTH or term_offset < 0 or length < 0:
            self.invalid_count += 1
            return False
        if length == 0:
            return False
        retransmit_length = max_retransmission_length(term_offset, length, term_length, self._rrwm)
        action = self._scan_for_available(term_id, term_offset)
        if action is None:
            return False
        action.term_id = term_id
        action.term_offset = term_offset
        action.length = retransmit_length
        delay = self._delay_generator.generate_delay_ns()
        if delay == 0:
            resend(term_id, term_offset, retransmit_length, now_ns)
            action.state = RetransmitActionState.LINGERING
            action.expiry_ns = now_ns + self._linger_timeout_ns
        else:
            action.state = RetransmitActionState.DELAYED
            action.expiry_ns = now_ns + delay
        return True

    def process_timeouts(self, now_ns: int, resend: ResendFunc) -> int:
        """Resend expired delayed actions and retire expired lingering ones; returns work count."""
        work = 0
        if self._active_count > 0:
            for action in self._pool:
                if action.state is RetransmitActionState.DELAYED:
                    if now_ns > action.expiry_ns:
                        resend(action.term_id, action.term_offset, action.length, now_ns)
                        action.state = RetransmitActionState.LINGERING
                        action.expiry_ns = now_ns + self._linger_timeout_ns
                        work += 1
                elif action.state is RetransmitActionState.LINGERING:
                    if now_ns > action.expiry_ns:
                        self._remove(action)
                        work += 1
        return work

    def _remove(self, action: RetransmitAction) -> None:
        self._active_count -= 1
        action.state = RetransmitActionState.INACTIVE

    def _scan_for_available(self, term_id: int, term_offset: int) -> RetransmitAction | None:
        if self._active_count == 0:
            self._active_count += 1
            return self._pool[0]
        available: RetransmitAction | None = None
        for action in self._pool:
            if action.state is RetransmitActionState.INACTIVE:
                if available is None:
                    available = action
            else:
                if (
                    action.term_id == term_id
                    and action.term_offset <= term_offset < action.term_offset + action.length
                ):
                    return None
                if not self._has_group_semantics:
                    available = action  # unicast: a non-overlapping NAK reuses the single slot
        if self._has_group_semantics:
            if available is not None:
                self._active_count += 1
                return available
            self.overflow_count += 1
            return None
        return available


__all__ = [
    "RetransmitHandler",
    "RetransmitAction",
    "RetransmitActionState",
    "ResendFunc",
    "max_retransmission_length",
    "MAX_RESEND_DEFAULT",
    "MAX_RESEND_MAX",
    "RETRANSMIT_UNICAST_LINGER_DEFAULT_NS",
]
