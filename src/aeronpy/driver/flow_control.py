"""Sender-side flow control strategies for network publications (sans-IO).

See ``driver-behaviour.md`` §8 (strategies), §5 (status message handling) and
``wire-protocol.md`` §4 (SM frame).  Every method takes the current time as ``now_ns``;
nothing here touches sockets or clocks.

Strategies:

* :class:`UnicastFlowControl` — plain unicast channels (``fc=`` is ignored):
  ``snd_lmt = max(snd_lmt, sm_pos + window)``.
* :class:`MaxMulticastFlowControl` — multicast / MDC default or ``fc=max``: same limit math.
* :class:`MinMulticastFlowControl` — ``fc=min``: tracks receivers by receiver id, limit is
  the minimum window edge over the tracked receivers; receivers time out, leave on EOS/ERR,
  and a group min size gates progress.
* :class:`TaggedMulticastFlowControl` — ``fc=tagged``: like min, but only SMs carrying the
  configured group tag are tracked.

:func:`flow_control_from_channel` selects and configures a strategy from a channel's
``fc=`` value and the driver context defaults.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from aeronpy.logbuffer.descriptor import compute_position
from aeronpy.uri import parse_flow_control

__all__ = [
    "DEFAULT_RECEIVER_TIMEOUT_NS",
    "DEFAULT_GROUP_TAG",
    "DEFAULT_GROUP_MIN_SIZE",
    "UNICAST_RRWM_DEFAULT",
    "MULTICAST_RRWM_DEFAULT",
    "BUILTIN_RECEIVER_WINDOW_LENGTH",
    "FlowControl",
    "UnicastFlowControl",
    "MaxMulticastFlowControl",
    "MinMulticastFlowControl",
    "TaggedMulticastFlowControl",
    "Receiver",
    "calculate_retransmission_length",
    "flow_control_from_channel",
]

DEFAULT_RECEIVER_TIMEOUT_NS = 5_000_000_000
"""``aeron.flow.control.receiver.timeout`` default (5 s)."""
DEFAULT_GROUP_TAG = -1
"""``aeron.flow.control.group.tag`` default."""
DEFAULT_GROUP_MIN_SIZE = 0
"""``aeron.flow.control.group.min.size`` default."""
UNICAST_RRWM_DEFAULT = 16
"""Retransmit receiver window multiple for unicast."""
MULTICAST_RRWM_DEFAULT = 4
"""Retransmit receiver window multiple for multicast / MDC."""
BUILTIN_RECEIVER_WINDOW_LENGTH = 128 * 1024
"""Built-in default initial receiver window (not the configured one) used for retransmit sizing."""

_NO_SETUP_LIMIT = -1
_INT64_MAX = (1 << 63) - 1


def calculate_retransmission_length(
    term_offset: int, resend_length: int, term_length: int, rrwm: int
) -> int:
    """``min(resend_length, term_length - term_offset, min(128 KiB, term_length/2) * rrwm)``."""
    to_end_of_term = term_length - term_offset
    receiver_window = min(BUILTIN_RECEIVER_WINDOW_LENGTH, term_length // 2)
    estimated = receiver_window * rrwm
    return min(resend_length, to_end_of_term, estimated)


class FlowControl(ABC):
    """Common interface of all sender flow-control strategies."""

    def __init__(self, rrwm: int) -> None:
        if rrwm <= 0:
            raise ValueError(f"rrwm must be positive, got {rrwm}")
        self.rrwm = rrwm

    @abstractmethod
    def on_status_message(
        self,
        receiver_id: int,
        group_tag: int | None,
        consumption_term_id: int,
        consumption_term_offset: int,
        receiver_window: int,
        is_eos: bool,
        snd_lmt: int,
        initial_term_id: int,
        bits: int,
        now_ns: int,
    ) -> int:
        """Process a (validated, non SEND_SETUP) SM; return the new sender limit."""

    @abstractmethod
    def on_idle(self, now_ns: int, snd_lmt: int, snd_pos: int, is_end_of_stream: bool) -> int:
        """Sender idle tick (nothing sent); return the new sender limit."""

    def on_setup(self, now_ns: int, snd_lmt: int, bits: int, snd_pos: int) -> int:
        """A SETUP frame was sent; return the sender limit."""
        return snd_lmt

    def on_trigger_send_setup(self, receiver_id: int, group_tag: int | None, now_ns: int) -> None:
        """An SM with the SEND_SETUP flag arrived (a receiver asks for a SETUP)."""

    def on_error(self, receiver_id: int, now_ns: int) -> None:
        """An ERR frame arrived from ``receiver_id``."""

    def has_required_receivers(self) -> bool:
        """True when enough receivers are tracked for the publication to be connected."""
        return True

    @property
    def receiver_count(self) -> int:
        """Tracked receivers (0 for strategies that do not track receivers)."""
        return 0

    def max_retransmission_length(
        self, term_offset: int, resend_length: int, term_length: int, mtu: int
    ) -> int:
        """Cap a NAK-requested resend (driver-behaviour §5 Retransmission)."""
        return calculate_retransmission_length(term_offset, resend_length, term_length, self.rrwm)


class _MaxFlowControl(FlowControl):
    """Limit = furthest window edge ever reported (never goes backwards)."""

    def on_status_message(
        self,
        receiver_id: int,
        group_tag: int | None,
        consumption_term_id: int,
        consumption_term_offset: int,
        receiver_window: int,
        is_eos: bool,
        snd_lmt: int,
        initial_term_id: int,
        bits: int,
        now_ns: int,
    ) -> int:
        position = compute_position(consumption_term_id, consumption_term_offset, bits, initial_term_id)
        return max(snd_lmt, position + receiver_window)

    def on_idle(self, now_ns: int, snd_lmt: int, snd_pos: int, is_end_of_stream: bool) -> int:
        return snd_lmt


def idle_is_noop(flow_control: FlowControl) -> bool:
    """Whether ``flow_control.on_idle`` leaves the sender limit as it is (max and unicast flow
    control): the sender's C path then skips the call."""
    return type(flow_control).on_idle is _MaxFlowControl.on_idle


class UnicastFlowControl(_MaxFlowControl):
    """Unicast (non-MDC) channels: max-of-window-edge, rrwm from the unicast default."""

    name = "max"

    def __init__(self, rrwm: int = UNICAST_RRWM_DEFAULT) -> None:
        super().__init__(rrwm)


class MaxMulticastFlowControl(_MaxFlowControl):
    """Multicast / MDC ``fc=max`` (the default multicast strategy)."""

    name = "max"

    def __init__(self, rrwm: int = MULTICAST_RRWM_DEFAULT) -> None:
        super().__init__(rrwm)


@dataclass
class Receiver:
    """A receiver tracked by min/tagged flow control."""

    receiver_id: int
    last_position: int
    last_position_plus_window: int
    time_of_last_status_message_ns: int
    eos_flagged: bool = False


class MinMulticastFlowControl(FlowControl):
    """``fc=min``: the slowest tracked receiver sets the limit.

    * A receiver is tracked from its first SM, provided it is not EOS and its window edge is
      not more than one window behind the current minimum (or it is the first receiver).
    * Receivers are dropped by :meth:`on_idle` when no SM arrived for ``receiver_timeout_ns``
      or when they flagged EOS (SM flag or ERR frame).
    * While fewer than ``group_min_size`` receivers are tracked the limit does not move.
    * When a SETUP elicited by a (matching) receiver is sent while receivers exist, the limit
      is capped at that SETUP's ``snd_lmt`` until a new receiver joins or the receiver
      timeout passes.
    """

    name = "min"

    def __init__(
        self,
        receiver_timeout_ns: int = DEFAULT_RECEIVER_TIMEOUT_NS,
        group_min_size: int = DEFAULT_GROUP_MIN_SIZE,
        group_tag: int = DEFAULT_GROUP_TAG,
        rrwm: int = MULTICAST_RRWM_DEFAULT,
    ) -> None:
        super().__init__(rrwm)
        if receiver_timeout_ns < 0:
            raise ValueError(f"receiver_timeout_ns must be >= 0, got {receiver_timeout_ns}")
        if group_min_size < 0:
            raise ValueError(f"group_min_size must be >= 0, got {group_min_size}")
        self.receiver_timeout_ns = receiver_timeout_ns
        self.group_min_size = group_min_size
        self.group_tag = group_tag
        self.receivers: list[Receiver] = []
        self._has_required_receivers = 0 >= group_min_size
        self._setup_triggered = False
        self._time_of_last_setup_ns = 0
        self._last_setup_snd_lmt = _NO_SETUP_LIMIT

    # -- tag matching (overridden by tagged) ---------------------------------------------

    def _matches(self, group_tag: int | None) -> bool:
        return True

    # -- helpers -----------------------------------------------------------------------------

    def _setup_limit(self, now_ns: int) -> int:
        """The cap left by an elicited SETUP, or int64 max when none applies (expires it)."""
        if self._last_setup_snd_lmt != _NO_SETUP_LIMIT:
            if self._time_of_last_setup_ns + self.receiver_timeout_ns - now_ns < 0:
                self._last_setup_snd_lmt = _NO_SETUP_LIMIT
            else:
                return self._last_setup_snd_lmt
        return _INT64_MAX

    def _update_required(self) -> None:
        self._has_required_receivers = len(self.receivers) >= self.group_min_size

    def _expired(self, receiver: Receiver, now_ns: int) -> bool:
        return receiver.time_of_last_status_message_ns + self.receiver_timeout_ns - now_ns < 0

    # -- interface ---------------------------------------------------------------------------

    def on_status_message(
        self,
        receiver_id: int,
        group_tag: int | None,
        consumption_term_id: int,
        consumption_term_offset: int,
        receiver_window: int,
        is_eos: bool,
        snd_lmt: int,
        initial_term_id: int,
        bits: int,
        now_ns: int,
    ) -> int:
        matches = self._matches(group_tag)
        position = compute_position(consumption_term_id, consumption_term_offset, bits, initial_term_id)
        edge = position + receiver_window
        min_edge = self._setup_limit(now_ns)
        is_existing = False

        for receiver in self.receivers:
            if matches and receiver.receiver_id == receiver_id:
                receiver.eos_flagged = is_eos
                receiver.last_position = max(receiver.last_position, position)
                receiver.last_position_plus_window = edge
                receiver.time_of_last_status_message_ns = now_ns
                is_existing = True
            min_edge = min(min_edge, receiver.last_position_plus_window)

        if (
            not is_existing
            and not is_eos
            and matches
            and (not self.receivers or edge >= min_edge - receiver_window)
        ):
            self.receivers.append(Receiver(receiver_id, position, edge, now_ns))
            min_edge = min(min_edge, edge)
            self._update_required()
            self._last_setup_snd_lmt = _NO_SETUP_LIMIT

        if len(self.receivers) < self.group_min_size:
            return snd_lmt
        if not self.receivers:
            return max(snd_lmt, edge)
        return max(snd_lmt, min_edge)

    def on_idle(self, now_ns: int, snd_lmt: int, snd_pos: int, is_end_of_stream: bool) -> int:
        min_edge = self._setup_limit(now_ns)
        before = len(self.receivers)
        kept: list[Receiver] = []
        for receiver in self.receivers:
            if receiver.eos_flagged or self._expired(receiver, now_ns):
                continue
            kept.append(receiver)
            min_edge = min(min_edge, receiver.last_position_plus_window)
        if len(kept) != before:
            self.receivers = kept
            self._update_required()
        if not self.receivers or len(self.receivers) < self.group_min_size:
            return snd_lmt
        return min_edge

    def on_setup(self, now_ns: int, snd_lmt: int, bits: int, snd_pos: int) -> int:
        if self._setup_triggered and self.receivers:
            self._time_of_last_setup_ns = now_ns
            self._last_setup_snd_lmt = snd_lmt
        self._setup_triggered = False
        return snd_lmt

    def on_trigger_send_setup(self, receiver_id: int, group_tag: int | None, now_ns: int) -> None:
        if not self._setup_triggered:
            self._setup_triggered = self._matches(group_tag)

    def on_error(self, receiver_id: int, now_ns: int) -> None:
        for receiver in self.receivers:
            if receiver.receiver_id == receiver_id:
                receiver.eos_flagged = True

    def has_required_receivers(self) -> bool:
        return self._has_required_receivers

    @property
    def receiver_count(self) -> int:
        return len(self.receivers)


class TaggedMulticastFlowControl(MinMulticastFlowControl):
    """``fc=tagged``: min flow control over receivers whose SM group tag equals ``group_tag``.

    SMs without a tag (``None``) or with another tag are not tracked (they still see the
    current limit through the usual min computation).
    """

    name = "tagged"

    def _matches(self, group_tag: int | None) -> bool:
        return group_tag is not None and group_tag == self.group_tag


def flow_control_from_channel(
    fc_value: str | None,
    is_multicast_or_mdc: bool,
    receiver_timeout_ns: int = DEFAULT_RECEIVER_TIMEOUT_NS,
    group_tag: int = DEFAULT_GROUP_TAG,
    group_min_size: int = DEFAULT_GROUP_MIN_SIZE,
    *,
    multicast_strategy: str = "max",
    unicast_rrwm: int = UNICAST_RRWM_DEFAULT,
    multicast_rrwm: int = MULTICAST_RRWM_DEFAULT,
) -> FlowControl:
    """Choose a strategy for a network publication.

    Plain unicast always gets :class:`UnicastFlowControl` (``fc=`` ignored).  Multicast / MDC
    channels use ``fc=`` when given, else ``multicast_strategy`` (the context's
    ``aeron.multicast.FlowControl.supplier``, by short name).  ``fc=`` options override the
    context defaults.  Invalid ``fc=`` values raise :class:`~aeronpy.errors.InvalidChannelError`.
    """
    if not is_multicast_or_mdc:
        return UnicastFlowControl(unicast_rrwm)
    options = parse_flow_control(fc_value if fc_value is not None else multicast_strategy)
    rrwm = options.rrwm if options.rrwm is not None else multicast_rrwm
    if options.strategy == "max":
        return MaxMulticastFlowControl(rrwm)
    cls = MinMulticastFlowControl if options.strategy == "min" else TaggedMulticastFlowControl
    return cls(
        receiver_timeout_ns=options.timeout_ns if options.timeout_ns is not None else receiver_timeout_ns,
        group_min_size=options.group_min_size if options.group_min_size is not None else group_min_size,
        group_tag=options.group_tag if options.group_tag is not None else group_tag,
        rrwm=rrwm,
    )
