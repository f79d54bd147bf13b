"""DriverResources: what the conductor's IPC and network parts share, owned in one place.

Counters (system counters and per-stream counters with Aeron's keys and labels), the distinct
error log, log storage (checks and mapped bytes), the client proxy, the clocks, correlation
and session ids.  The conductor builds one and hands it to each part as a constructor
argument, so neither part needs the other.
"""

from __future__ import annotations

import random
from typing import Callable

from aeronpy.concurrent import counters as ctr
from aeronpy.concurrent.bit_util import int32
from aeronpy.concurrent.counters import AtomicCounter, CountersManager
from aeronpy.concurrent.error_log import DistinctErrorLog
from aeronpy.concurrent.ringbuffer import ManyToOneRingBuffer
from aeronpy.driver.client_proxy import ClientProxy
from aeronpy.driver.context import DriverContext
from aeronpy.driver.log_storage import LogStorage
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.protocol import control as cp


class DriverResources:
    """Shared services of the driver conductor (conductor thread, except :meth:`record_error`)."""

    def __init__(
        self,
        ctx: DriverContext,
        to_driver: ManyToOneRingBuffer,
        client_proxy: ClientProxy,
        counters: CountersManager,
        error_log: DistinctErrorLog,
        system_counters: dict[int, AtomicCounter],
        nano_clock: Callable[[], int],
        epoch_clock: Callable[[], int],
    ) -> None:
        self.ctx = ctx
        self.to_driver = to_driver
        self.client_proxy = client_proxy
        self.counters = counters
        self.error_log = error_log
        self.system_counters = system_counters
        self.nano_clock = nano_clock
        self.epoch_clock = epoch_clock
        self.log_storage = LogStorage(
            ctx.aeron_dir, ctx.file_page_size, ctx.perform_storage_checks,
            ctx.low_file_store_warning_threshold,
            lambda message: self.record_error(cp.ErrorCode.GENERIC_ERROR, message),
            system_counters.get(SystemCounterId.BYTES_CURRENTLY_MAPPED),
        )
        self.next_session_id = int32(random.getrandbits(32))

    # ------------------------------------------------------------------ errors and counters
    def record_error(self, code: int, message: str) -> None:
        """Write to the distinct error log and count it in system counter ERRORS (thread-safe)."""
        self.error_log.record(-int(code) if int(code) > 0 else int(code), message)
        self.increment(SystemCounterId.ERRORS)

    def increment(self, counter_id: int) -> None:
        counter = self.system_counters.get(counter_id)
        if counter is not None:
            counter.increment()

    def new_counter(
        self, label: str, type_id: int, key: bytes, registration_id: int, owner_id: int, reference_id: int = 0
    ) -> AtomicCounter:
        return self.counters.new_counter(
            label, type_id, key, registration_id=registration_id, owner_id=owner_id, reference_id=reference_id
        )

    def new_stream_counter(
        self, name: str, registration_id: int, session_id: int, stream_id: int, channel: str,
        owner_id: int, type_id: int, suffix: str = "", reference_id: int = 0,
    ) -> AtomicCounter:
        """A per-stream counter (pub-pos, sub-pos, rcv-hwm, ...) with Aeron's stream key and label."""
        return self.counters.new_counter(
            ctr.stream_counter_label(name, registration_id, session_id, stream_id, channel, suffix),
            type_id,
            ctr.stream_counter_key(registration_id, session_id, stream_id, channel),
            registration_id=registration_id,
            owner_id=owner_id,
            reference_id=reference_id,
        )

    def free_counter(self, counter: AtomicCounter) -> None:
        counter.close()

    def on_publication_unblocked(self, publication: object) -> None:
        self.increment(SystemCounterId.UNBLOCKED_PUBLICATIONS)

    # ------------------------------------------------------------------ ids
    def next_correlation_id(self) -> int:
        return self.to_driver.next_correlation_id()

    def allocate_session_id(self, stream_id: int, used: set[int]) -> int:
        """Next session id outside the reserved range and not in ``used``."""
        low = self.ctx.publication_reserved_session_id_low
        high = self.ctx.publication_reserved_session_id_high
        candidate = self.next_session_id
        for _ in range(1 << 16):
            if low <= candidate <= high:
                candidate = int32(high + 1)
            if candidate not in used:
                break
            candidate = int32(candidate + 1)
        self.next_session_id = int32(candidate + 1)
        return candidate


__all__ = ["DriverResources"]
