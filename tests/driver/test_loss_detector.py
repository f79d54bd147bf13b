"""Gap scanner, loss detector timers and gap filler (driver-behaviour.md §7, log-buffer.md §7)."""

from __future__ import annotations

import random
import struct
from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.atomic_buffer import AtomicBuffer, PyAtomicBuffer
from aeronpy.driver.feedback_delay import OptimalMulticastDelayGenerator, StaticDelayGenerator
from aeronpy.driver.gap_filler import try_fill_gap
from aeronpy.driver.loss_detector import (
    Gap,
    LossDetector,
    new_rebuild_position,
    scan_for_gap,
    scan_for_gap_offset,
)
from aeronpy.logbuffer import descriptor as d
from aeronpy.protocol.data_header import BEGIN_AND_END_FLAGS, HDR_TYPE_DATA, HDR_TYPE_PAD, HEADER_STRUCT

BUFFERS: list[Callable[[bytearray], Any]] = [AtomicBuffer, PyAtomicBuffer]
TERM_LENGTH = 64 * 1024
MASK = TERM_LENGTH - 1
BITS = d.position_bits_to_shift(TERM_LENGTH)
SESSION_ID, STREAM_ID = 0x1234, 1001


def align32(n: int) -> int:
    return (n + 31) & ~31


def put_frame(buf: Any, offset: int, length: int, term_id: int = 0, fill: int = 0xAB) -> None:
    """A received DATA frame of (unaligned) ``length`` bytes; payload non-zero on purpose."""
    buf.set_memory(offset + 32, align32(length) - 32, fill)
    buf.put_bytes(offset + 4, HEADER_STRUCT.pack(length, 0, BEGIN_AND_END_FLAGS, HDR_TYPE_DATA,
                                                 offset, SESSION_ID, STREAM_ID, term_id, 0)[4:])
    buf.put_int32_ordered(offset, length)


def fresh(factory: Callable[[bytearray], Any], length: int = TERM_LENGTH) -> Any:
    return factory(bytearray(length))


# ---------------------------------------------------------------------------------- scanner

@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[tuple[int, int, bool]], int, int]:
    """Frames ``(offset, length, present)`` laid out from 0, a start frame index and a limit."""
    lengths = draw(st.lists(st.integers(min_value=32, max_value=300), min_size=1, max_size=40))
    present = draw(st.lists(st.booleans(), min_size=len(lengths), max_size=len(lengths)))
    frames, offset = [], 0
    for length, p in zip(lengths, present):
        frames.append((offset, length, p))
        offset += align32(length)
    start_index = draw(st.integers(min_value=0, max_value=len(frames) - 1))
    end = offset
    start = frames[start_index][0]
    limit = draw(st.integers(min_value=start // 32, max_value=end // 32)) * 32
    return frames, start_index, limit


def expected_gap(frames: list[tuple[int, int, bool]], start_index: int, limit: int, term_id: int
                 ) -> tuple[int, Gap | None]:
    """Oracle: skip present frames; the gap runs to the next present frame or the limit."""
    offset = frames[start_index][0]
    i = start_index
    while offset < limit and i < len(frames) and frames[i][2]:
        offset += align32(frames[i][1])
        i += 1
    if offset >= limit:
        return offset, None
    begin = offset
    while i < len(frames) and not frames[i][2]:
        i += 1
    next_present = frames[i][0] if i < len(frames) else 1 << 40
    return begin, Gap(term_id, begin, min(next_present, limit) - begin)


@pytest.mark.parametrize("factory", BUFFERS)
@settings(max_examples=150, deadline=None)
@given(layout=layouts(), term_id=st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_scan_for_gap_matches_oracle(factory: Callable[[bytearray], Any],
                                     layout: tuple[list[tuple[int, int, bool]], int, int],
                                     term_id: int) -> None:
    frames, start_index, limit = layout
    buf = fresh(factory, 16 * 1024)
    for offset, length, present in frames:
        if present:
            put_frame(buf, offset, length, term_id)
    start = frames[start_index][0]
    want_offset, want_gap = expected_gap(frames, start_index, limit, term_id)
    got_offset, got_gap = scan_for_gap_offset(buf, term_id, start, limit)
    assert got_gap == want_gap
    assert scan_for_gap(buf, term_id, start, limit) == want_gap
    if want_gap is not None:
        assert got_offset == want_offset == want_gap.term_offset
        assert want_gap.length > 0 and want_gap.length % 32 == 0
    else:
        assert got_offset >= limit


def test_scan_for_gap_simple_offsets() -> None:
    buf = fresh(AtomicBuffer, 4096)
    put_frame(buf, 0, 100)          # occupies [0, 128)
    put_frame(buf, 256, 64)         # gap [128, 256)
    put_frame(buf, 512, 32)         # gap [320, 512)
    assert scan_for_gap(buf, 5, 0, 544) == Gap(5, 128, 128)
    assert scan_for_gap(buf, 5, 256, 544) == Gap(5, 320, 192)
    assert scan_for_gap(buf, 5, 256, 400) == Gap(5, 320, 96)    # gap clipped at the limit
    assert scan_for_gap(buf, 5, 0, 128) is None
    assert scan_for_gap_offset(buf, 5, 512, 544) == (544, None)
    assert scan_for_gap(buf, 5, 544, 4096) == Gap(5, 544, 4096 - 544)


# ---------------------------------------------------------------------------------- detector

def gap_layout(factory: Callable[[bytearray], Any] = AtomicBuffer) -> Any:
    """Frames at [0, 64) and [128, 192); a 64-byte gap at 64."""
    buf = fresh(factory)
    put_frame(buf, 0, 64)
    put_frame(buf, 128, 64)
    return buf


INITIAL_TERM_ID = 7


def scan(det: LossDetector, buf: Any, now_ns: int, rebuild: int = 0, hwm: int = 192) -> tuple[int, Gap | None]:
    return det.scan(buf, rebuild, hwm, now_ns, MASK, BITS, INITIAL_TERM_ID)


@pytest.mark.parametrize("factory", BUFFERS)
def test_timer_fires_only_after_delay_then_retry_delay(factory: Callable[[bytearray], Any]) -> None:
    buf = gap_layout(factory)
    det = LossDetector(StaticDelayGenerator(1_000, 100_000))
    gap = Gap(INITIAL_TERM_ID, 64, 64)

    assert scan(det, buf, 0) == (64, None)
    assert det.loss_found and det.active_gap == gap and det.expiry_ns == 1_000
    assert scan(det, buf, 999) == (64, None)
    assert not det.loss_found
    assert scan(det, buf, 1_000) == (64, gap)                 # fires at expiry (>=)
    assert det.expiry_ns == 101_000
    assert scan(det, buf, 1_001) == (64, None)
    assert scan(det, buf, 100_999) == (64, None)
    assert scan(det, buf, 101_000) == (64, gap)               # retry delay
    assert scan(det, buf, 201_000 - 1) == (64, None)
    assert scan(det, buf, 250_000) == (64, gap)
    assert det.expiry_ns == 350_000


def test_late_scan_fires_once_and_rearms_from_now() -> None:
    buf = gap_layout()
    det = LossDetector(StaticDelayGenerator(1_000, 100_000))
    scan(det, buf, 0)
    assert scan(det, buf, 10_000_000)[1] is not None
    assert scan(det, buf, 10_000_000)[1] is None
    assert det.expiry_ns == 10_100_000


def test_filled_gap_cancels() -> None:
    buf = gap_layout()
    det = LossDetector(StaticDelayGenerator(1_000, 100_000))
    assert scan(det, buf, 0) == (64, None)
    put_frame(buf, 64, 64)                                    # retransmission arrives
    for now in (1_000, 5_000, 10**9):
        assert scan(det, buf, now) == (192, None)
        assert not det.loss_found


def test_changed_gap_rearms_initial_delay() -> None:
    buf = fresh(AtomicBuffer)
    put_frame(buf, 0, 64)
    put_frame(buf, 256, 64)                                   # gap [64, 256)
    det = LossDetector(StaticDelayGenerator(1_000, 100_000))
    assert scan(det, buf, 0, hwm=320) == (64, None)
    assert scan(det, buf, 1_000, hwm=320) == (64, Gap(INITIAL_TERM_ID, 64, 192))
    put_frame(buf, 64, 64)                                    # partially filled: gap [128, 256)
    assert scan(det, buf, 1_500, hwm=320) == (128, None)
    assert det.loss_found and det.expiry_ns == 2_500
    assert scan(det, buf, 2_499, hwm=320) == (128, None)
    assert scan(det, buf, 2_500, hwm=320) == (128, Gap(INITIAL_TERM_ID, 128, 128))


def test_zero_delay_reports_in_the_same_scan() -> None:
    buf = gap_layout()
    det = LossDetector(StaticDelayGenerator(0, 0))
    assert scan(det, buf, 5) == (64, Gap(INITIAL_TERM_ID, 64, 64))
    assert det.loss_found
    assert scan(det, buf, 5) == (64, Gap(INITIAL_TERM_ID, 64, 64))   # retry 0 → every scan
    assert not det.loss_found


def test_no_scan_when_rebuild_at_hwm() -> None:
    buf = gap_layout()
    det = LossDetector(StaticDelayGenerator(0, 0))
    assert det.scan(buf, TERM_LENGTH + 64, TERM_LENGTH + 64, 0, MASK, BITS, INITIAL_TERM_ID) == (64, None)
    assert det.active_gap is None and det.expiry_ns == -1


def test_hwm_in_later_term_scans_to_term_end_with_wrapped_term_id() -> None:
    initial = 2**31 - 1
    buf = fresh(AtomicBuffer)
    put_frame(buf, 0, 1024)
    det = LossDetector(StaticDelayGenerator(0, 0))
    rebuild = TERM_LENGTH                                     # term count 1
    hwm = 2 * TERM_LENGTH + 96                                # next term
    offset, gap = det.scan(buf, rebuild, hwm, 0, MASK, BITS, initial)
    assert offset == 1024
    assert gap == Gap(-(2**31), 1024, TERM_LENGTH - 1024)     # initial + 1 wraps
    assert new_rebuild_position(rebuild, offset, MASK) == TERM_LENGTH + 1024


def test_hwm_in_same_term_limits_scan() -> None:
    buf = fresh(AtomicBuffer)
    put_frame(buf, 0, 64)
    det = LossDetector(StaticDelayGenerator(0, 0))
    rebuild = 3 * TERM_LENGTH
    assert det.scan(buf, rebuild, rebuild + 256, 0, MASK, BITS, 0) == (64, Gap(3, 64, 192))


def test_contiguous_frames_advance_rebuild_offset() -> None:
    buf = gap_layout()
    put_frame(buf, 64, 64)
    det = LossDetector(StaticDelayGenerator(1, 1))
    assert scan(det, buf, 0, rebuild=64) == (192, None)
    assert new_rebuild_position(64, 192, MASK) == 192


def test_optimal_generator_delay_drives_timer() -> None:
    seed = 99
    expected_delay = OptimalMulticastDelayGenerator(10_000_000, 10, random.Random(seed)).generate_delay_ns()
    assert expected_delay > 0
    buf = gap_layout()
    det = LossDetector(OptimalMulticastDelayGenerator(10_000_000, 10, random.Random(seed)))
    scan(det, buf, 1_000)
    assert det.expiry_ns == 1_000 + expected_delay
    assert scan(det, buf, 1_000 + expected_delay - 1)[1] is None
    assert scan(det, buf, 1_000 + expected_delay)[1] == Gap(INITIAL_TERM_ID, 64, 64)
    assert 1_000 + expected_delay <= det.expiry_ns <= 1_000 + expected_delay + 10_000_000


# ---------------------------------------------------------------------------------- gap filler

def metadata(initial_term_id: int = INITIAL_TERM_ID) -> Any:
    m = AtomicBuffer(bytearray(d.LOG_META_DATA_LENGTH))
    d.write_log_metadata(m, correlation_id=1, initial_term_id=initial_term_id, mtu_length=1408,
                         term_length=TERM_LENGTH, page_size=4096, session_id=SESSION_ID,
                         stream_id=STREAM_ID, reliable=False)
    return m


@pytest.mark.parametrize("factory", BUFFERS)
def test_fill_gap_writes_pad_frame(factory: Callable[[bytearray], Any]) -> None:
    buf = gap_layout(factory)
    meta = metadata()
    det = LossDetector(StaticDelayGenerator(0, 0))
    _, gap = scan(det, buf, 0)
    assert gap == Gap(INITIAL_TERM_ID, 64, 64)
    assert try_fill_gap(meta, buf, gap.term_id, gap.term_offset, gap.length)
    fields = HEADER_STRUCT.unpack(buf.get_bytes(64, 32))
    assert fields == (64, 0, BEGIN_AND_END_FLAGS, HDR_TYPE_PAD, 64, SESSION_ID, STREAM_ID, INITIAL_TERM_ID, 0)
    assert scan(det, buf, 1) == (192, None)


def test_fill_gap_sets_term_id_and_offset_from_arguments() -> None:
    buf = fresh(AtomicBuffer)
    assert try_fill_gap(metadata(), buf, -5, 4096, 256)
    assert struct.unpack_from("<iBBhi", buf.get_bytes(4096, 12)) == (256, 0, BEGIN_AND_END_FLAGS, HDR_TYPE_PAD, 4096)
    assert buf.get_int32(4096 + 20) == -5
    assert buf.get_int32(4096 + 256) == 0


@pytest.mark.parametrize("slot", [0, 32, 96, 224])
def test_fill_gap_refuses_when_data_arrived(slot: int) -> None:
    buf = fresh(AtomicBuffer)
    put_frame(buf, 512 + slot, 32)
    before = bytes(buf.get_bytes(0, 1024))
    assert not try_fill_gap(metadata(), buf, 1, 512, 256)
    assert bytes(buf.get_bytes(0, 1024)) == before
