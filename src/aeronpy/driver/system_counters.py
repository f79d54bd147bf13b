"""The driver's system counters (ids 0-45, counters.md §2), allocated first at start-up."""

from __future__ import annotations

import enum
from typing import Any

from aeronpy.concurrent import counters as ctr
from aeronpy.concurrent.counters import AtomicCounter, CountersManager

AERON_VERSION = (1, 53, 0)
CONTROL_PROTOCOL_VERSION = 0x010000


class SystemCounterId(enum.IntEnum):
    BYTES_SENT = 0
    BYTES_RECEIVED = 1
    RECEIVER_PROXY_FAILS = 2
    SENDER_PROXY_FAILS = 3
    CONDUCTOR_PROXY_FAILS = 4
    NAK_MESSAGES_SENT = 5
    NAK_MESSAGES_RECEIVED = 6
    STATUS_MESSAGES_SENT = 7
    STATUS_MESSAGES_RECEIVED = 8
    HEARTBEATS_SENT = 9
    HEARTBEATS_RECEIVED = 10
    RETRANSMITS_SENT = 11
    FLOW_CONTROL_UNDER_RUNS = 12
    FLOW_CONTROL_OVER_RUNS = 13
    INVALID_PACKETS = 14
    ERRORS = 15
    SHORT_SENDS = 16
    FREE_FAILS = 17
    SENDER_FLOW_CONTROL_LIMITS = 18
    UNBLOCKED_PUBLICATIONS = 19
    UNBLOCKED_COMMANDS = 20
    POSSIBLE_TTL_ASYMMETRY = 21
    CONTROLLABLE_IDLE_STRATEGY = 22
    LOSS_GAP_FILLS = 23
    CLIENT_TIMEOUTS = 24
    RESOLUTION_CHANGES = 25
    CONDUCTOR_MAX_CYCLE_TIME = 26
    CONDUCTOR_CYCLE_TIME_THRESHOLD_EXCEEDED = 27
    SENDER_MAX_CYCLE_TIME = 28
    SENDER_CYCLE_TIME_THRESHOLD_EXCEEDED = 29
    RECEIVER_MAX_CYCLE_TIME = 30
    RECEIVER_CYCLE_TIME_THRESHOLD_EXCEEDED = 31
    NAME_RESOLVER_MAX_TIME = 32
    NAME_RESOLVER_TIME_THRESHOLD_EXCEEDED = 33
    AERON_VERSION = 34
    BYTES_CURRENTLY_MAPPED = 35
    RETRANSMITTED_BYTES = 36
    RETRANSMIT_OVERFLOW = 37
    ERROR_FRAMES_RECEIVED = 38
    ERROR_FRAMES_SENT = 39
    PUBLICATIONS_REVOKED = 40
    PUBLICATION_IMAGES_REVOKED = 41
    IMAGES_REJECTED = 42
    CONTROL_PROTOCOL_VERSION = 43
    STATUS_MESSAGES_REJECTED = 44
    NATIVE_RESOURCE_AGENT_PROXY_FAILS = 45


def allocate_system_counters(
    manager: CountersManager, threading_mode: str, version: str, commit: str, **label_settings: Any
) -> dict[int, AtomicCounter]:
    """Allocate ids 0..45 in order (so counter id == system counter id), owner -1.
    ``label_settings`` (``resolver_name``, ``conductor_threshold_ns``, ...) go to
    :func:`~aeronpy.concurrent.counters.system_counter_label`, as the C driver labels them."""
    result: dict[int, AtomicCounter] = {}
    for counter_id in SystemCounterId:
        label = ctr.system_counter_label(int(counter_id), threading_mode, version, commit, **label_settings)
        counter = manager.new_counter(
            label,
            ctr.SYSTEM_COUNTER_TYPE_ID,
            ctr.system_counter_key(int(counter_id)),
            registration_id=int(counter_id),
            owner_id=-1,
        )
        if counter.id != int(counter_id):
            raise RuntimeError(f"system counter {counter_id.name} got id {counter.id}")
        result[int(counter_id)] = counter
    major, minor, patch = AERON_VERSION
    result[SystemCounterId.AERON_VERSION].set((major << 16) | (minor << 8) | patch)
    result[SystemCounterId.CONTROL_PROTOCOL_VERSION].set(CONTROL_PROTOCOL_VERSION)
    return result
