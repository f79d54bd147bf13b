"""IPC publication: one log shared by publishers and subscribers of ``aeron:ipc`` (driver side).

State machine ACTIVE -> DRAINING -> LINGER -> DONE as in Aeron's C driver
(driver-behaviour.md §6).  Time is a parameter: ``on_time_event(now_ns)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aeronpy.concurrent.bit_util import INT64_MAX, int32
from aeronpy.concurrent.counters import AtomicCounter
from aeronpy.driver.lifecycle import LifecycleState, change_state
from aeronpy.driver.tether import SubscriberPosition, TetherState, UntetheredTimeouts, check_untethered
from aeronpy.logbuffer import descriptor
from aeronpy.logbuffer.log_cleaner import clean_log
from aeronpy.logbuffer.log_buffers import LogBuffers
from aeronpy.logbuffer.term_unblocker import unblock_log

__all__ = ["IpcPublication", "PublicationState", "SubscriberPosition", "TetherState"]



PublicationState = LifecycleState
"""The shared lifecycle (:mod:`aeronpy.driver.lifecycle`), by this module's name for it."""


@dataclass
class IpcPublication:
    """Driver state of one IPC publication log."""

    registration_id: int
    session_id: int
    stream_id: int
    channel: str
    is_exclusive: bool
    log_buffers: LogBuffers
    pub_pos: AtomicCounter
    pub_lmt: AtomicCounter
    term_window_length: int
    unblock_timeout_ns: int
    untethered_window_limit_timeout_ns: int
    untethered_linger_timeout_ns: int
    untethered_resting_timeout_ns: int
    mtu_length: int
    start_position: int
    now_ns: int
    params: Any = None
    state: PublicationState = PublicationState.ACTIVE
    refcnt: int = 0
    subscribers: list[SubscriberPosition] = field(default_factory=list)
    consumer_position: int = 0
    last_consumer_position: int = 0
    clean_position: int = 0
    trip_limit: int = 0
    time_of_last_consumer_position_change_ns: int = 0
    time_of_last_state_change_ns: int = 0
    unblocked_count: int = 0
    in_cool_down: bool = False  # REJECT_IMAGE: subscribers unlinked, new ones not linked until expiry
    cool_down_expire_time_ns: int = 0

    def __post_init__(self) -> None:
        self.term_length = self.log_buffers.term_length
        self.initial_term_id = self.log_buffers.initial_term_id
        self.bits = descriptor.position_bits_to_shift(self.term_length)
        self.trip_gain = self.term_window_length // 8
        self.consumer_position = self.start_position
        self.last_consumer_position = self.start_position
        self.clean_position = self.start_position
        self.trip_limit = self.start_position
        self.time_of_last_consumer_position_change_ns = self.now_ns
        self.time_of_last_state_change_ns = self.now_ns
        self.metadata = self.log_buffers.metadata

    # ------------------------------------------------------------------ positions
    def producer_position(self) -> int:
        return int(descriptor.producer_position(self.metadata, self.term_length, self.initial_term_id))

    def join_position(self) -> int:
        position = self.consumer_position
        for sub in self.subscribers:
            if sub.is_active:
                p = sub.counter.get()
                if p < position:
                    position = p
        return position

    def is_drained(self) -> bool:
        producer = self.producer_position()
        return all(sub.counter.get() >= producer for sub in self.subscribers if sub.is_active)

    def is_accepting_subscriptions(self) -> bool:
        if self.in_cool_down:
            return False
        return self.state is PublicationState.ACTIVE or (
            self.state is PublicationState.DRAINING and not self.is_drained()
        )

    def has_working_positions(self) -> bool:
        return any(sub.is_active for sub in self.subscribers)

    # ------------------------------------------------------------------ duty cycle
    def update_pub_pos_and_lmt(self) -> int:
        """Every conductor duty cycle: publish pub-pos, raise pub-lmt from subscriber positions."""
        if self.state is not PublicationState.ACTIVE:
            return 0
        work = 0
        self.pub_pos.set(self.producer_position())
        if self.has_working_positions():
            min_sub = INT64_MAX
            max_sub = self.consumer_position
            for sub in self.subscribers:
                if sub.is_active:
                    p = sub.counter.get()
                    if p < min_sub:
                        min_sub = p
                    if p > max_sub:
                        max_sub = p
            new_limit = min_sub + self.term_window_length
            if new_limit > self.trip_limit:
                self.clean_buffer(min_sub)
                self.pub_lmt.set(new_limit)
                self.trip_limit = new_limit + self.trip_gain
                work += 1
            self.consumer_position = max_sub
        elif self.pub_lmt.get_plain() > self.consumer_position:
            self.pub_lmt.set(self.consumer_position)
            self.trip_limit = self.consumer_position
            self.clean_buffer(self.consumer_position)
            work += 1
        return work

    def clean_buffer(self, position: int) -> None:
        """Zero the log behind consumers (one term at most per call)."""
        self.clean_position = clean_log(
            self.log_buffers.term_buffers, self.term_length, self.bits, self.clean_position, position
        )

    def on_time_event(self, now_ns: int, conductor: Any) -> None:
        """Timer tick (``aeron.timer.interval``); conductor receives image notifications."""
        if self.state is PublicationState.ACTIVE:
            if descriptor.is_publication_revoked(self.metadata):
                self._revoke(now_ns, conductor)
                return
            self._check_untethered(now_ns, conductor)
            descriptor.set_is_connected(self.metadata, self.has_working_positions())
            producer = self.producer_position()
            self.pub_pos.set(producer)
            if not self.is_exclusive:
                self._check_for_blocked_publisher(producer, now_ns, conductor)
        elif self.state is PublicationState.DRAINING:
            self.pub_pos.set(self.producer_position())
            if self.is_drained():
                change_state(self, PublicationState.LINGER, now_ns)
                conductor.on_ipc_publication_unavailable(self)
            elif unblock_log(
                self.log_buffers.term_buffers, self.metadata, self.consumer_position
            ):
                self.unblocked_count += 1
                conductor.on_publication_unblocked(self)
        elif self.state is PublicationState.LINGER:
            if self.refcnt <= 0:
                change_state(self, PublicationState.DONE)

    def _revoke(self, now_ns: int, conductor: Any) -> None:
        """ACTIVE tick with the revoked flag set (REMOVE_PUBLICATION with REVOKE): stop at the
        producer position, disconnect, notify linked subscriptions once and go to LINGER."""
        revoked_position = self.producer_position()
        self.pub_lmt.set(revoked_position)
        self.trip_limit = revoked_position
        self.metadata.put_int64_ordered(descriptor.LOG_END_OF_STREAM_POSITION_OFFSET, revoked_position)
        self.pub_pos.set(revoked_position)
        descriptor.set_is_connected(self.metadata, False)
        change_state(self, PublicationState.LINGER, now_ns)
        conductor.on_ipc_publication_revoked(self)

    def _check_for_blocked_publisher(self, producer: int, now_ns: int, conductor: Any) -> None:
        consumer = self.consumer_position
        if consumer == self.last_consumer_position and self._is_possibly_blocked(producer, consumer):
            if now_ns > self.time_of_last_consumer_position_change_ns + self.unblock_timeout_ns:
                if unblock_log(self.log_buffers.term_buffers, self.metadata, consumer):
                    self.unblocked_count += 1
                    conductor.on_publication_unblocked(self)
        else:
            self.time_of_last_consumer_position_change_ns = now_ns
            self.last_consumer_position = consumer

    def _is_possibly_blocked(self, producer: int, consumer: int) -> bool:
        producer_term_count = descriptor.active_term_count(self.metadata)
        expected_term_count = int32(consumer >> self.bits)
        if producer_term_count != expected_term_count:
            return True
        return producer > consumer

    def _check_untethered(self, now_ns: int, conductor: Any) -> None:
        check_untethered(
            self.subscribers,
            now_ns,
            self.consumer_position,
            self.term_window_length,
            UntetheredTimeouts(
                self.untethered_window_limit_timeout_ns,
                self.untethered_linger_timeout_ns,
                self.untethered_resting_timeout_ns,
            ),
            on_unavailable=lambda sub: conductor.on_unavailable_image_for(self, sub.subscription_registration_id),
            on_available=lambda sub: conductor.on_available_image_for(self, sub),
            join_position=self.join_position,
            free_counter=conductor.free_counter,
        )

    # ------------------------------------------------------------------ references
    def incref(self) -> None:
        self.refcnt += 1

    def decref(self) -> None:
        self.refcnt -= 1
        if self.refcnt == 0:
            producer = self.producer_position()
            if self.pub_lmt.get_plain() > producer:
                self.pub_lmt.set(producer)
            self.metadata.put_int64_ordered(descriptor.LOG_END_OF_STREAM_POSITION_OFFSET, producer)
            if not descriptor.is_publication_revoked(self.metadata):
                change_state(self, PublicationState.DRAINING)
            # revoked: stays ACTIVE until the next timer tick performs the revoke (-> LINGER),
            # or is already LINGER and goes to DONE once refcnt <= 0

    def revoke(self) -> None:
        """REVOKE managed-resource event: only the flag; the next timer tick acts on it."""
        descriptor.set_publication_revoked(self.metadata)

    def add_subscriber(self, sub: SubscriberPosition) -> None:
        self.subscribers.append(sub)
        descriptor.set_is_connected(self.metadata, True)  # at once, not at the next timer tick

    def remove_subscriber(self, subscription_registration_id: int) -> SubscriberPosition | None:
        for i, sub in enumerate(self.subscribers):
            if sub.subscription_registration_id == subscription_registration_id:
                del self.subscribers[i]
                descriptor.set_is_connected(self.metadata, self.has_working_positions())
                return sub
        return None
