"""ManyToOneRingBuffer: layout, claim protocol, wrap, full, unblock, concurrency."""

from __future__ import annotations

import random
import struct
import threading
import time
from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.atomic_buffer import HAVE_C_EXTENSION, AtomicBuffer, PyAtomicBuffer
from aeronpy.concurrent.bit_util import align
from aeronpy.concurrent.ringbuffer import (
    CONSUMER_HEARTBEAT_OFFSET,
    CORRELATION_COUNTER_OFFSET,
    HEAD_POSITION_OFFSET,
    PADDING_MSG_TYPE_ID,
    RECORD_HEADER_LENGTH,
    TAIL_POSITION_OFFSET,
    TRAILER_LENGTH,
    ControlledReadAction,
    ManyToOneRingBuffer,
)
from tests.concurrent.buffer_impls import FAST_PHASES, IMPLS



def make_rb(impl: Any, capacity: int = 1024) -> ManyToOneRingBuffer:
    return ManyToOneRingBuffer(impl(bytearray(capacity + TRAILER_LENGTH)))


def drain(rb: ManyToOneRingBuffer, limit: int = 2**31 - 1) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []

    def handler(msg_type_id: int, buffer: Any, offset: int, length: int) -> None:
        out.append((msg_type_id, buffer.get_bytes(offset, length)))

    rb.read(handler, limit)
    return out


def drain_all(rb: ManyToOneRingBuffer) -> list[tuple[int, bytes]]:
    """Read until empty (a read never crosses the end of the buffer)."""
    out: list[tuple[int, bytes]] = []
    for _ in range(4):  # one read to the end of the buffer, one from the start, one empty
        before = rb.consumer_position()
        out.extend(drain(rb))
        if rb.consumer_position() == before:
            return out
    raise AssertionError("ring buffer did not drain")


def test_constructor_validates_capacity(impl: Any) -> None:
    with pytest.raises(ValueError):
        ManyToOneRingBuffer(impl(bytearray(1000 + TRAILER_LENGTH)))
    with pytest.raises(ValueError):
        ManyToOneRingBuffer(impl(bytearray(TRAILER_LENGTH)))
    rb = make_rb(impl, 1024)
    assert rb.capacity == 1024
    assert rb.max_msg_length == 128


def test_write_read_round_trip_and_layout(impl: Any) -> None:
    rb = make_rb(impl)
    assert rb.write(7, b"hello")
    assert rb.write(8, bytearray(b"world!!!!"), 0, 5)
    assert rb.write(9, memoryview(b"xxabcxx"), 2, 3)
    assert rb.write(10, b"")
    buf = rb.buffer
    # record layout: int32 length (header + payload), int32 type, payload
    assert buf.get_int32(0) == 8 + 5
    assert buf.get_int32(4) == 7
    assert buf.get_bytes(8, 5) == b"hello"
    assert buf.get_int32(16) == 8 + 5
    expected_tail = align(13, 8) * 3 + 8
    assert buf.get_int64(rb.capacity + TAIL_POSITION_OFFSET) == expected_tail
    assert rb.producer_position() == expected_tail
    assert rb.size() == expected_tail

    assert drain(rb) == [(7, b"hello"), (8, b"world"), (9, b"abc"), (10, b"")]
    assert buf.get_int64(rb.capacity + HEAD_POSITION_OFFSET) == expected_tail
    assert rb.consumer_position() == expected_tail
    assert rb.size() == 0
    assert buf.get_bytes(0, expected_tail) == bytes(expected_tail)  # consumed bytes zeroed
    assert drain(rb) == []


def test_write_from_atomic_buffer_source(impl: Any) -> None:
    rb = make_rb(impl)
    src = impl(bytearray(b"0123456789"))
    assert rb.write(3, src, 2, 4)
    assert rb.write(4, src)
    assert drain(rb) == [(3, b"2345"), (4, b"0123456789")]


def test_invalid_messages_rejected(impl: Any) -> None:
    rb = make_rb(impl)
    with pytest.raises(ValueError):
        rb.write(0, b"x")
    with pytest.raises(ValueError):
        rb.write(-1, b"x")
    with pytest.raises(ValueError):
        rb.write(1, bytes(rb.max_msg_length + 1))
    with pytest.raises(ValueError):
        rb.try_claim(0, 4)
    with pytest.raises(ValueError):
        rb.try_claim(1, rb.max_msg_length + 1)
    assert rb.write(1, bytes(rb.max_msg_length))
    position = rb.producer_position()
    with pytest.raises(ValueError):
        rb.write(1, b"abc", 2, 5)  # source too short: rejected before claiming
    with pytest.raises(ValueError):
        rb.write(1, b"abc", 4)
    assert rb.producer_position() == position


def test_read_message_count_limit(impl: Any) -> None:
    rb = make_rb(impl)
    for i in range(5):
        assert rb.write(1, bytes([i]))
    assert [p for _, p in drain(rb, 2)] == [b"\x00", b"\x01"]
    assert [p for _, p in drain(rb)] == [b"\x02", b"\x03", b"\x04"]


def test_try_claim_commit_abort(impl: Any) -> None:
    rb = make_rb(impl)
    index = rb.try_claim(5, 4)
    assert index == RECORD_HEADER_LENGTH
    assert rb.buffer.get_int32(0) == -(4 + 8)  # in progress
    assert drain(rb) == []  # not visible until committed
    rb.buffer.put_bytes(index, b"abcd")
    rb.commit(index)
    with pytest.raises(ValueError):
        rb.commit(index)
    aborted = rb.try_claim(6, 10)
    rb.abort(aborted)
    with pytest.raises(ValueError):
        rb.abort(aborted)
    assert rb.buffer.get_int32(aborted - 8 + 4) == PADDING_MSG_TYPE_ID
    assert rb.write(7, b"z")
    assert drain(rb) == [(5, b"abcd"), (7, b"z")]
    with pytest.raises(ValueError):
        rb.commit(3)
    with pytest.raises(ValueError):
        rb.commit(rb.capacity + 8)


def test_wrap_around_inserts_padding(impl: Any) -> None:
    rb = make_rb(impl, 256)
    # advance to position 224 so that 32 bytes remain before the end
    for _ in range(7):
        assert rb.write(1, bytes(24))  # 32 bytes each
    assert rb.producer_position() == 224
    assert len(drain(rb)) == 7
    assert rb.write(2, b"A" * 30)  # needs 40 > 32 left: pad then wrap
    buf = rb.buffer
    assert buf.get_int32(224) == 32
    assert buf.get_int32(228) == PADDING_MSG_TYPE_ID
    assert buf.get_int32(0) == 38
    assert buf.get_int32(4) == 2
    assert rb.producer_position() == 224 + 32 + 40
    assert drain(rb) == []  # first read consumes only the padding up to the end
    assert rb.consumer_position() == 256
    assert drain(rb) == [(2, b"A" * 30)]
    assert rb.size() == 0


def test_full_detection(impl: Any) -> None:
    rb = make_rb(impl, 256)
    written = 0
    while rb.write(1, bytes(24)):  # 32 bytes per record
        written += 1
    assert written == 8
    assert rb.size() == 256
    assert rb.try_claim(1, 0) == -1
    assert len(drain(rb, 1)) == 1
    assert rb.write(1, bytes(24))  # space at the start after wrap
    assert not rb.write(1, bytes(24))
    assert len(drain_all(rb)) == 8


def test_full_when_wrap_needs_space_at_head(impl: Any) -> None:
    rb = make_rb(impl, 256)
    for _ in range(7):
        assert rb.write(1, bytes(24))  # 224 bytes
    assert len(drain(rb, 1)) == 1  # head at 32
    # 32 left at the end, 32 free at the start: a 40-byte record fits neither
    assert not rb.write(1, bytes(32))
    assert rb.write(1, bytes(24))  # exactly the 32 at the end


def test_controlled_read_actions(impl: Any) -> None:
    rb = make_rb(impl)
    for i in range(6):
        assert rb.write(i + 1, bytes([i]))
    seen: list[int] = []

    def abort_on_3(msg_type_id: int, buffer: Any, offset: int, length: int) -> int:
        if msg_type_id == 3:
            return ControlledReadAction.ABORT
        seen.append(msg_type_id)
        return ControlledReadAction.CONTINUE

    assert rb.controlled_read(abort_on_3) == 2
    assert seen == [1, 2]
    assert rb.consumer_position() == 32  # record 3 left unread

    def brk(msg_type_id: int, buffer: Any, offset: int, length: int) -> int:
        seen.append(msg_type_id)
        return ControlledReadAction.BREAK

    assert rb.controlled_read(brk) == 1
    assert seen == [1, 2, 3]

    positions: list[int] = []

    def commit(msg_type_id: int, buffer: Any, offset: int, length: int) -> int:
        positions.append(rb.consumer_position())
        seen.append(msg_type_id)
        return ControlledReadAction.COMMIT

    assert rb.controlled_read(commit) == 3
    assert seen == [1, 2, 3, 4, 5, 6]
    assert positions == [48, 64, 80]  # head released after each commit
    assert rb.consumer_position() == 96
    assert rb.buffer.get_bytes(0, 96) == bytes(96)


def test_handler_exception_still_consumes(impl: Any) -> None:
    rb = make_rb(impl)
    rb.write(1, b"a")
    rb.write(2, b"b")

    def boom(msg_type_id: int, buffer: Any, offset: int, length: int) -> None:
        raise RuntimeError("x")

    with pytest.raises(RuntimeError):
        rb.read(boom)
    assert drain(rb) == [(2, b"b")]


def test_correlation_and_heartbeat(impl: Any) -> None:
    rb = make_rb(impl)
    assert [rb.next_correlation_id() for _ in range(3)] == [0, 1, 2]
    assert rb.buffer.get_int64(rb.capacity + CORRELATION_COUNTER_OFFSET) == 3
    assert rb.consumer_heartbeat_time() == 0
    rb.set_consumer_heartbeat_time(123456)
    assert rb.consumer_heartbeat_time() == 123456
    assert rb.buffer.get_int64(rb.capacity + CONSUMER_HEARTBEAT_OFFSET) == 123456


def test_unblock_abandoned_claim(impl: Any) -> None:
    rb = make_rb(impl)
    assert not rb.unblock()  # empty
    index = rb.try_claim(3, 12)  # producer dies here
    assert rb.write(4, b"after")
    assert drain(rb) == []  # blocked behind the claim
    assert rb.unblock()
    assert rb.buffer.get_int32(index - 8 + 4) == PADDING_MSG_TYPE_ID
    assert drain(rb) == [(4, b"after")]
    assert not rb.unblock()


def test_unblock_zero_length_hole(impl: Any) -> None:
    rb = make_rb(impl)
    buf = rb.buffer
    tail_at = rb.capacity + TAIL_POSITION_OFFSET
    # a producer that won the CAS for 24 bytes but died before writing the header
    assert buf.compare_and_set_int64(tail_at, 0, 24)
    assert rb.write(5, b"next")
    assert drain(rb) == []
    assert rb.unblock()
    assert buf.get_int32(0) == 24
    assert buf.get_int32(4) == PADDING_MSG_TYPE_ID
    assert drain(rb) == [(5, b"next")]


def test_unblock_committed_record_is_noop(impl: Any) -> None:
    rb = make_rb(impl)
    rb.write(1, b"x")
    assert not rb.unblock()
    assert drain(rb) == [(1, b"x")]


def test_unblock_hole_without_following_record(impl: Any) -> None:
    rb = make_rb(impl)
    buf = rb.buffer
    assert buf.compare_and_set_int64(rb.capacity + TAIL_POSITION_OFFSET, 0, 24)
    assert not rb.unblock()  # nothing after the hole yet: cannot tell it from a slow writer


def check_interleaving(impl: Any, capacity: int, ops: list[tuple[str, int]]) -> int:
    """Run writes/reads against a FIFO model; returns how many times the buffer wrapped."""
    rb = make_rb(impl, capacity)
    model: deque[tuple[int, bytes]] = deque()
    counter = 0
    for op, arg in ops:
        if op == "w":
            counter += 1
            size = arg % (rb.max_msg_length + 1)
            payload = bytes((counter * 7 + i) & 0xFF or 1 for i in range(size))
            type_id = (counter % 1000) + 1
            used = rb.producer_position() - rb.consumer_position()
            need = align(size + 8, 8)
            to_end = rb.capacity - (rb.producer_position() & (rb.capacity - 1))
            if rb.write(type_id, payload):
                model.append((type_id, payload))
            else:
                # full is only allowed when the record truly does not fit
                assert used + need > rb.capacity or need > to_end
        else:
            for item in drain(rb, arg):
                assert item == model.popleft()
        assert 0 <= rb.size() <= rb.capacity
    for item in drain_all(rb):
        assert item == model.popleft()
    assert not model
    assert rb.size() == 0
    return rb.producer_position() // rb.capacity


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("w"), st.integers(0, 1 << 12)),
        st.tuples(st.just("r"), st.integers(1, 10)),
    ),
    min_size=60,
    max_size=400,
)


@settings(max_examples=80, deadline=None, phases=FAST_PHASES)
@given(ops=OPS, capacity=st.sampled_from([64, 256, 1024]), use_c=st.booleans())
def test_random_interleaving_never_loses_or_reorders(
    ops: list[tuple[str, int]], capacity: int, use_c: bool
) -> None:
    impl = AtomicBuffer if (use_c and HAVE_C_EXTENSION) else PyAtomicBuffer
    check_interleaving(impl, capacity, ops)


def test_long_seeded_interleaving_wraps_many_times(impl: Any) -> None:
    rng = random.Random(1234)
    ops = [("w", rng.randrange(1 << 16)) if rng.random() < 0.6 else ("r", rng.randint(1, 6))
           for _ in range(4000)]
    assert check_interleaving(impl, 256, ops) > 50


@pytest.mark.skipif(not HAVE_C_EXTENSION, reason="needs the C AtomicBuffer")
def test_concurrent_producers_exactly_once_in_order() -> None:
    producers = 3
    per_producer = 1500
    rb = ManyToOneRingBuffer(AtomicBuffer(bytearray(4096 + TRAILER_LENGTH)))
    start = threading.Barrier(producers + 1)
    errors: list[BaseException] = []

    def produce(pid: int) -> None:
        try:
            start.wait()
            for seq in range(per_producer):
                payload = struct.pack("<ii", pid, seq) + bytes(seq % 40)
                while not rb.write(pid + 1, payload):
                    time.sleep(0)  # yield while full; not used for synchronisation
        except BaseException as ex:  # pragma: no cover - reported below
            errors.append(ex)

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for t in threads:
        t.start()
    start.wait()
    next_seq = [0] * producers

    def handler(msg_type_id: int, buffer: Any, offset: int, length: int) -> None:
        pid, seq = struct.unpack("<ii", buffer.get_bytes(offset, 8))
        assert msg_type_id == pid + 1
        assert length == 8 + seq % 40
        assert seq == next_seq[pid], f"producer {pid}: got {seq}, expected {next_seq[pid]}"
        next_seq[pid] += 1

    deadline = time.monotonic() + 60
    total = producers * per_producer
    while sum(next_seq) < total and time.monotonic() < deadline and not errors:
        rb.read(handler)
    for t in threads:
        t.join(timeout=10)
    assert not errors
    assert next_seq == [per_producer] * producers
    assert rb.size() == 0


# ---------------------------------------------------------------------- corruption recovery
def _scribble(rb: ManyToOneRingBuffer, index: int, length: int) -> None:
    """Write a committed-looking record header with an arbitrary length, bypassing write()."""
    rb.buffer.put_int32(index + 4, 0x01)
    rb.buffer.put_int32_ordered(index, length)
    tail = rb.producer_position()
    rb.buffer.put_int64_ordered(rb.capacity + TAIL_POSITION_OFFSET, max(tail, index + align(max(length, 8), 8) if 0 < length < rb.capacity else tail + 8))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("length", [1, 7, 1025, 4096, 2**31 - 1])
def test_a_record_with_an_impossible_length_is_reported_and_dropped(impl: Any, length: int) -> None:
    reports: list[str] = []
    rb = ManyToOneRingBuffer(impl(bytearray(1024 + TRAILER_LENGTH)), corruption_handler=reports.append)
    assert rb.write(7, b"before")
    index = align(RECORD_HEADER_LENGTH + 6, 8)
    _scribble(rb, index, length)
    assert drain(rb) == [(7, b"before")]  # what came before the corruption is delivered
    assert len(reports) == 1 and f"invalid length {length}" in reports[0]
    assert rb.consumer_position() == rb.producer_position()
    for i in range(200):  # later commands flow, across wraps
        assert rb.write(9, i.to_bytes(4, "little") * 8)
        assert drain_all(rb) == [(9, i.to_bytes(4, "little") * 8)]
    assert rb.corruption_count == 1


@pytest.mark.parametrize("impl", IMPLS)
def test_controlled_read_recovers_from_corruption_too(impl: Any) -> None:
    reports: list[str] = []
    rb = ManyToOneRingBuffer(impl(bytearray(1024 + TRAILER_LENGTH)), corruption_handler=reports.append)
    _scribble(rb, 0, 3)
    seen: list[int] = []
    rb.controlled_read(lambda t, b, o, n: seen.append(t) or ControlledReadAction.CONTINUE)
    assert seen == [] and len(reports) == 1
    assert rb.write(2, b"x")
    rb.controlled_read(lambda t, b, o, n: seen.append(t) or ControlledReadAction.CONTINUE)
    assert seen == [2]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("tail,head", [(-64, 0), (5000, 0), (2**62, 8), (0, 64)])
def test_an_inconsistent_trailer_is_reset(impl: Any, tail: int, head: int) -> None:
    reports: list[str] = []
    rb = ManyToOneRingBuffer(impl(bytearray(1024 + TRAILER_LENGTH)), corruption_handler=reports.append)
    rb.buffer.put_int64(rb.capacity + TAIL_POSITION_OFFSET, tail)
    rb.buffer.put_int64(rb.capacity + HEAD_POSITION_OFFSET, head)
    assert rb.check_trailer()
    assert len(reports) == 1
    assert rb.producer_position() == rb.consumer_position() == head
    assert not rb.check_trailer()
    assert rb.write(3, b"after") and drain_all(rb) == [(3, b"after")]


@pytest.mark.parametrize("impl", IMPLS)
def test_scrub_clears_a_late_writer_in_dropped_space(impl: Any) -> None:
    rb = ManyToOneRingBuffer(impl(bytearray(1024 + TRAILER_LENGTH)), corruption_handler=lambda _: None)
    rb.buffer.put_int32(4, 1)
    rb.buffer.put_int32_ordered(0, 3)  # a corrupt record at head...
    rb.buffer.put_int64_ordered(rb.capacity + TAIL_POSITION_OFFSET, 8)
    index = rb.try_claim(5, 16)  # ...and a producer behind it that has claimed but not committed
    assert index == 16
    drain(rb)
    assert rb.consumer_position() == rb.producer_position() == 32
    rb.buffer.put_int32(index - 4, 5)  # the late writer finishes into dropped space
    rb.buffer.put_int32_ordered(index - 8, 24)
    rb.scrub()
    assert rb.buffer.get_bytes(0, 64) == bytes(64)
    assert rb.write(2, b"ok") and drain_all(rb) == [(2, b"ok")]


@settings(max_examples=150, deadline=None, phases=FAST_PHASES)
@given(
    writes=st.lists(st.tuples(st.integers(0, 1024 + TRAILER_LENGTH - 8), st.binary(min_size=1, max_size=16)), max_size=8),
    good=st.lists(st.binary(max_size=100), max_size=20),
)
def test_no_scribble_stops_the_consumer(writes: list[tuple[int, bytes]], good: list[bytes]) -> None:
    """Whatever bytes a hostile process writes anywhere, reads never raise and later records flow."""
    buf = bytearray(1024 + TRAILER_LENGTH)
    rb = ManyToOneRingBuffer(PyAtomicBuffer(buf), corruption_handler=lambda _: None)
    for payload in good[:5]:
        rb.write(4, payload)
    for offset, data in writes:
        data = data[: len(buf) - offset]
        buf[offset:offset + len(data)] = data
    for _ in range(4):
        rb.check_trailer()
        drain(rb)
        rb.controlled_read(lambda t, b, o, n: ControlledReadAction.CONTINUE)
    for payload in good:
        # A scribble may look like a record still being written at head; the driver's unblocker
        # pads over it after the client liveness timeout, and a recovery may drop what was
        # written behind it. After at most one such loss, fresh records must flow.
        for _attempt in range(2):
            assert rb.write(6, payload)
            out: list[bytes] = []
            for _ in range(6):
                rb.check_trailer()
                out += [p for t, p in drain_all(rb) if t == 6]
                if out:
                    break
                rb.unblock()
            if out:
                break
        assert out == [payload]
