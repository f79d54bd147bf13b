"""Shared helpers for log-buffer tests: in-file logs, fake counters, a cleaning reader."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.logbuffer import descriptor as d
from aeronpy.logbuffer.log_buffers import LogBuffers

SESSION_ID = 0x1234567
STREAM_ID = 1001


class FakeCounter:
    """A position counter (pub-lmt / sub-pos) backed by a bytearray."""

    def __init__(self, value: int = 0) -> None:
        self.buffer = AtomicBuffer(bytearray(8))
        self.buffer.put_int64_ordered(0, value)
        self.counter_id = 7
        # where the C kernels find the value (as for an AtomicCounter)
        self.values_buffer = self.buffer
        self.offset = 0

    def get(self) -> int:
        return int(self.buffer.get_int64_volatile(0))

    def set(self, value: int) -> None:
        self.buffer.put_int64_ordered(0, value)


_counter = [0]


def make_log(
    directory: Path | str,
    term_length: int = 64 * 1024,
    mtu: int = 1408,
    initial_term_id: int = 7,
    term_id: int | None = None,
    term_offset: int | None = None,
    connected: bool = True,
    factory: Any = None,
    log_type: int = d.LOG_TYPE_CONCURRENT,
) -> LogBuffers:
    """Create a log like the driver does (metadata + tails) and map it with ``factory``."""
    _counter[0] += 1
    path = os.path.join(str(directory), f"{os.getpid()}-{_counter[0]}.logbuffer")
    lb = LogBuffers.create(path, term_length)
    d.write_log_metadata(
        lb.metadata, correlation_id=42, initial_term_id=initial_term_id, mtu_length=mtu,
        term_length=term_length, page_size=4096, session_id=SESSION_ID, stream_id=STREAM_ID,
        log_type=log_type,
    )
    d.initialize_tail_counters(lb.metadata, initial_term_id, term_id, term_offset)
    d.set_is_connected(lb.metadata, connected)
    if factory is None:
        return lb
    lb.close()
    return LogBuffers.map(path, buffer_factory=factory)


def payload(rng: random.Random, n: int) -> bytes:
    return rng.randbytes(n)


class Cleaner:
    """Zeroes terms behind the reader (as the driver does) and moves pub-lmt = sub-pos + window."""

    def __init__(self, lb: LogBuffers, sub_pos: FakeCounter, pub_lmt: FakeCounter, window: int) -> None:
        self.lb = lb
        self.sub_pos = sub_pos
        self.pub_lmt = pub_lmt
        self.window = window
        self.bits = d.position_bits_to_shift(lb.term_length)
        self.cleaned_below = 0  # term counts < this are cleaned (or never used)
        pub_lmt.set(sub_pos.get() + window)
        self.cleaned_below = sub_pos.get() >> self.bits

    def update(self) -> None:
        current = self.sub_pos.get() >> self.bits
        while self.cleaned_below < current:
            tb = self.lb.term_buffers[self.cleaned_below % 3]
            tb.set_memory(0, tb.capacity, 0)
            self.cleaned_below += 1
        self.pub_lmt.set(self.sub_pos.get() + self.window)


def test_fake_counter_and_make_log(tmp_path: Path) -> None:
    c = FakeCounter(5)
    c.set(c.get() + 1)
    assert c.get() == 6
    lb = make_log(tmp_path)
    try:
        assert lb.term_length == 64 * 1024 and lb.mtu_length == 1408 and lb.initial_term_id == 7
        assert d.is_connected(lb.metadata)
    finally:
        lb.close()
