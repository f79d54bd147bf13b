from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.atomic_buffer import AtomicBuffer, PyAtomicBuffer
from aeronpy.logbuffer import descriptor as d

I32 = st.integers(-(2**31), 2**31 - 1)
TERM_LENGTHS = st.sampled_from([1 << n for n in range(16, 31)])


def i32(v: int) -> int:
    return ((v + 2**31) % 2**32) - 2**31


def test_constants() -> None:
    assert (d.PARTITION_COUNT, d.TERM_MIN_LENGTH, d.TERM_MAX_LENGTH) == (3, 65536, 1 << 30)
    assert (d.PAGE_MIN_SIZE, d.PAGE_MAX_SIZE, d.LOG_META_DATA_LENGTH) == (4096, 1 << 30, 4096)
    assert d.LOG_DEFAULT_FRAME_HEADER_OFFSET == 320 and d.LOG_TYPE_OFFSET == 497
    assert d.LOG_UNTETHERED_LINGER_TIMEOUT_NS_OFFSET == 500 and d.LOG_ACTIVE_TRANSPORT_COUNT == 140


@pytest.mark.parametrize(
    "term, page, expected",
    [(64 * 1024, 4096, 200704), (16 << 20, 4096, 50335744), (64 << 20, 4096, 201330688),
     (64 * 1024, 1 << 20, 1 << 20)],
)
def test_compute_log_length(term: int, page: int, expected: int) -> None:
    assert d.compute_log_length(term, page) == expected


def test_max_message_and_bits() -> None:
    assert d.max_message_length(64 * 1024) == 8192
    assert d.max_message_length(16 << 20) == 2 << 20
    assert d.max_message_length(1 << 30) == 16 << 20
    assert d.position_bits_to_shift(16 << 20) == 24
    assert d.position_bits_to_shift(64 << 20) == 26


@pytest.mark.parametrize("bad", [0, 32768, 65535, 65536 * 3, 1 << 31])
def test_check_term_length_rejects(bad: int) -> None:
    with pytest.raises(ValueError, match="term length"):
        d.check_term_length(bad)


@pytest.mark.parametrize("bad", [0, 2048, 4097, 1 << 31])
def test_check_page_size_rejects(bad: int) -> None:
    with pytest.raises(ValueError, match="page size"):
        d.check_page_size(bad)
    d.check_page_size(4096)
    d.check_term_length(1 << 30)


@settings(max_examples=200)
@given(TERM_LENGTHS, I32, st.integers(0, 2**31 - 1), st.data())
def test_position_round_trip(term_length: int, initial: int, term_count: int, data: st.DataObject) -> None:
    bits = d.position_bits_to_shift(term_length)
    offset = data.draw(st.integers(0, term_length - 1))
    term_id = i32(initial + term_count)
    pos = d.compute_position(term_id, offset, bits, initial)
    assert pos == term_count * term_length + offset
    assert 0 <= pos < term_length << 31
    assert d.compute_term_id_from_position(pos, bits, initial) == term_id
    assert d.compute_term_offset_from_position(pos, bits) == offset
    assert d.index_by_position(pos, bits) == term_count % 3 == d.index_by_term(initial, term_id)
    assert d.index_by_term_count(term_count) == term_count % 3
    raw = d.pack_tail(term_id, offset)
    assert -(2**63) <= raw < 2**63
    assert d.term_id(raw) == term_id and d.term_offset(raw, term_length) == offset


@given(I32, st.integers(0, 2**32 - 1))
def test_raw_tail_clamps_offset(term_id: int, low: int) -> None:
    raw = d.pack_tail(term_id, low)
    assert d.term_id(raw) == term_id
    assert d.term_offset(raw, 65536) == min(low, 65536)


def test_wrapping_term_id_positions() -> None:
    initial = 2**31 - 2
    bits = 16
    # two terms later the term id has wrapped negative
    assert d.compute_term_id_from_position(2 << 16, bits, initial) == -(2**31)
    assert d.compute_position(-(2**31), 32, bits, initial) == (2 << 16) + 32
    assert d.compute_position(-5, 0, bits, -7) == 2 << 16


@settings(deadline=None)  # the reference loop over 16 MiB messages is slow on a loaded machine
@given(st.integers(0, 16 << 20), st.sampled_from([32, 96, 1376, 8160, 65504 - 32]))
def test_fragmented_length(length: int, max_payload: int) -> None:
    total = 0
    remaining = length
    while remaining > 0:
        n = min(remaining, max_payload)
        total += (n + 32 + 31) & ~31
        remaining -= n
    assert d.compute_fragmented_length(length, max_payload) == total


def test_write_log_metadata_raw_offsets() -> None:
    raw = bytearray(4096)
    m = AtomicBuffer(raw)
    d.write_log_metadata(
        m, correlation_id=-99, initial_term_id=-3, mtu_length=1408, term_length=65536, page_size=4096,
        session_id=0x11223344, stream_id=1001, publication_window_length=32768, receiver_window_length=5,
        socket_sndbuf_length=6, os_default_socket_sndbuf_length=7, os_max_socket_sndbuf_length=8,
        socket_rcvbuf_length=9, os_default_socket_rcvbuf_length=10, os_max_socket_rcvbuf_length=11,
        max_resend=12, entity_tag=13, response_correlation_id=-2, linger_timeout_ns=14,
        untethered_window_limit_timeout_ns=15, untethered_linger_timeout_ns=16,
        untethered_resting_timeout_ns=17, group=True, is_response=True, rejoin=False, reliable=False,
        sparse=False, signal_eos=False, spies_simulate_connection=True, tether=False, log_type=1,
    )
    u = struct.unpack_from
    assert u("<q", raw, 128)[0] == 2**63 - 1
    assert u("<ii", raw, 136) == (0, 0)
    assert u("<q", raw, 256)[0] == -99
    assert u("<14i", raw, 264) == (-3, 32, 1408, 65536, 4096, 32768, 5, 6, 7, 8, 9, 10, 11, 12)
    assert u("<iBBhiiiiq", raw, 320) == (0, 0, 0xC0, 1, 0, 0x11223344, 1001, -3, 0)
    assert bytes(raw[352:448]) == bytes(96)
    assert u("<5q", raw, 448) == (13, -2, 14, 15, 17)
    assert bytes(raw[488:498]) == bytes([1, 1, 0, 0, 0, 0, 1, 0, 0, 1])
    assert u("<q", raw, 500)[0] == 16
    assert bytes(raw[0:28]) == bytes(28)  # tails untouched
    assert bytes(raw[508:]) == bytes(4096 - 508)


def test_write_log_metadata_defaults() -> None:
    raw = bytearray(4096)
    d.write_log_metadata(
        AtomicBuffer(raw), correlation_id=1, initial_term_id=0, mtu_length=1408, term_length=65536,
        page_size=4096, session_id=1, stream_id=2,
    )
    assert struct.unpack_from("<i", raw, 316)[0] == 16
    assert struct.unpack_from("<qq", raw, 448) == (-1, -1)
    assert struct.unpack_from("<q", raw, 500)[0] == -1
    assert bytes(raw[488:498]) == bytes([0, 0, 1, 1, 1, 1, 0, 1, 0, 0])


@pytest.mark.parametrize("py", [False, True])
def test_initialize_tail_counters_default(py: bool) -> None:
    raw = bytearray(4096)
    m = PyAtomicBuffer(raw) if py else AtomicBuffer(raw)
    d.initialize_tail_counters(m, -5)
    assert struct.unpack_from("<qqqi", raw, 0) == ((-5) << 32, (-7) << 32, (-6) << 32, 0)
    assert d.producer_position(m, 65536, -5) == 0


@given(I32, st.integers(0, 2**31 - 1), st.integers(0, 2047))
def test_initialize_tail_counters_with_term_id(initial: int, count: int, slot: int) -> None:
    raw = bytearray(4096)
    m = AtomicBuffer(raw)
    term_id = i32(initial + count)
    offset = slot * 32
    d.initialize_tail_counters(m, initial, term_id, offset)
    idx = count % 3
    tails = struct.unpack_from("<qqq", raw, 0)
    assert tails[idx] == d.pack_tail(term_id, offset)
    assert tails[(idx + 1) % 3] == d.pack_tail(i32(term_id - 2), 0)
    assert tails[(idx + 2) % 3] == d.pack_tail(i32(term_id - 1), 0)
    assert d.active_term_count(m) == i32(count)
    assert d.producer_position(m, 65536, initial) == count * 65536 + offset


def test_rotate_log() -> None:
    m = AtomicBuffer(bytearray(4096))
    d.initialize_tail_counters(m, 10)
    d.initialise_tail_with_term_id(m, 0, 10)
    assert d.rotate_log(m, 0, 10) is True
    assert d.active_term_count(m) == 1
    assert d.raw_tail_volatile(m, 1) == 11 << 32
    assert d.raw_tail_volatile(m) == 11 << 32
    # a second rotation attempt from the same term is a no-op
    assert d.rotate_log(m, 0, 10) is False
    assert d.raw_tail_volatile(m, 1) == 11 << 32 and d.active_term_count(m) == 1
    # rotate around all partitions; tails hold the expected term ids
    for count, tid in ((1, 11), (2, 12), (3, 13)):
        assert d.rotate_log(m, count, tid)
    assert d.active_term_count(m) == 4
    assert [d.term_id(d.raw_tail_volatile(m, i)) for i in range(3)] == [13, 14, 12]


def test_rotate_log_wraps_term_id() -> None:
    m = AtomicBuffer(bytearray(4096))
    initial = 2**31 - 1
    d.initialize_tail_counters(m, initial)
    assert d.rotate_log(m, 0, initial)
    assert d.term_id(d.raw_tail_volatile(m)) == -(2**31)
    assert d.producer_position(m, 65536, initial) == 65536


def test_flags_accessors() -> None:
    m = AtomicBuffer(bytearray(4096))
    assert not d.is_connected(m)
    d.set_is_connected(m, True)
    assert d.is_connected(m)
    d.set_end_of_stream_position(m, 77)
    assert d.end_of_stream_position(m) == 77
