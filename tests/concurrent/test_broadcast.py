"""Broadcast buffer: transmit/receive, padding, lapping, copy receiver."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.atomic_buffer import HAVE_C_EXTENSION, AtomicBuffer, PyAtomicBuffer
from aeronpy.concurrent.bit_util import align
from aeronpy.concurrent.broadcast import (
    LATEST_COUNTER_OFFSET,
    PADDING_MSG_TYPE_ID,
    TAIL_COUNTER_OFFSET,
    TAIL_INTENT_COUNTER_OFFSET,
    TRAILER_LENGTH,
    BroadcastLappedError,
    BroadcastReceiver,
    BroadcastTransmitter,
    CopyBroadcastReceiver,
)
from aeronpy.errors import AeronError
from tests.concurrent.buffer_impls import FAST_PHASES



def make(impl: Any, capacity: int = 1024) -> tuple[Any, BroadcastTransmitter]:
    buf = impl(bytearray(capacity + TRAILER_LENGTH))
    return buf, BroadcastTransmitter(buf)


def receive_all(rx: BroadcastReceiver) -> list[tuple[int, bytes]]:
    out = []
    while rx.receive_next():
        item = (rx.type_id(), rx.buffer.get_bytes(rx.offset(), rx.length()))
        assert rx.validate()
        out.append(item)
    return out


def copy_all(crx: CopyBroadcastReceiver) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []

    def handler(msg_type_id: int, buffer: Any, offset: int, length: int) -> None:
        out.append((msg_type_id, buffer.get_bytes(offset, length)))

    while crx.receive(handler):
        pass
    return out


def test_capacity_validation(impl: Any) -> None:
    with pytest.raises(ValueError):
        BroadcastTransmitter(impl(bytearray(1000 + TRAILER_LENGTH)))
    with pytest.raises(ValueError):
        BroadcastReceiver(impl(bytearray(1000 + TRAILER_LENGTH)))
    _, tx = make(impl, 1024)
    assert tx.capacity == 1024
    assert tx.max_msg_length == 128


def test_transmit_layout_and_receive(impl: Any) -> None:
    buf, tx = make(impl)
    rx = BroadcastReceiver(buf)
    assert not rx.receive_next()
    tx.transmit(7, b"hello")
    tx.transmit(8, bytearray(b"xxworld"), 2, 5)
    tx.transmit(9, b"")
    cap = tx.capacity
    assert buf.get_int32(0) == 13
    assert buf.get_int32(4) == 7
    assert buf.get_bytes(8, 5) == b"hello"
    assert buf.get_int64(cap + TAIL_COUNTER_OFFSET) == 16 + 16 + 8
    assert buf.get_int64(cap + TAIL_INTENT_COUNTER_OFFSET) == 40
    assert buf.get_int64(cap + LATEST_COUNTER_OFFSET) == 32
    assert receive_all(rx) == [(7, b"hello"), (8, b"world"), (9, b"")]
    assert rx.lapped_count == 0


def test_invalid_transmit(impl: Any) -> None:
    _, tx = make(impl)
    with pytest.raises(ValueError):
        tx.transmit(0, b"x")
    with pytest.raises(ValueError):
        tx.transmit(1, bytes(tx.max_msg_length + 1))
    tx.transmit(1, bytes(tx.max_msg_length))


def test_new_receiver_starts_at_latest(impl: Any) -> None:
    buf, tx = make(impl)
    tx.transmit(1, b"old")
    tx.transmit(2, b"latest")
    rx = BroadcastReceiver(buf)
    tx.transmit(3, b"new")
    assert receive_all(rx) == [(2, b"latest"), (3, b"new")]


def test_wrap_with_padding(impl: Any) -> None:
    buf, tx = make(impl, 256)
    rx = BroadcastReceiver(buf)
    for i in range(7):
        tx.transmit(1, bytes([i]) * 24)  # 32 bytes each -> tail 224
    assert len(receive_all(rx)) == 7
    tx.transmit(2, b"W" * 30)  # 40 > 32 left
    assert buf.get_int32(224) == 32
    assert buf.get_int32(228) == PADDING_MSG_TYPE_ID
    assert buf.get_int32(0) == 38
    assert buf.get_int64(256 + LATEST_COUNTER_OFFSET) == 256
    assert buf.get_int64(256 + TAIL_COUNTER_OFFSET) == 296
    assert buf.get_int64(256 + TAIL_INTENT_COUNTER_OFFSET) == 296
    assert receive_all(rx) == [(2, b"W" * 30)]
    assert rx.lapped_count == 0


def test_lapped_receiver_resumes_at_latest(impl: Any) -> None:
    buf, tx = make(impl, 256)
    rx = BroadcastReceiver(buf)
    for i in range(20):  # 20 * 32 = 640 bytes > capacity
        tx.transmit(i + 1, bytes([i]) * 24)
    assert rx.receive_next()
    assert rx.lapped_count == 1
    assert rx.type_id() == 20  # jumped to the latest record
    assert rx.validate()
    assert not rx.receive_next()
    tx.transmit(99, b"after")
    assert receive_all(rx) == [(99, b"after")]
    assert rx.lapped_count == 1


def test_validate_detects_overwrite_after_receive_next(impl: Any) -> None:
    buf, tx = make(impl, 256)
    rx = BroadcastReceiver(buf)
    tx.transmit(1, b"a" * 24)
    assert rx.receive_next()
    assert rx.validate()
    for _ in range(8):
        tx.transmit(2, b"b" * 24)  # overwrites the record rx is looking at
    assert not rx.validate()


def test_copy_receiver(impl: Any) -> None:
    buf, tx = make(impl, 1024)
    crx = CopyBroadcastReceiver(BroadcastReceiver(buf), scratch_length=16)
    tx.transmit(1, b"x" * 100)  # grows the scratch buffer
    tx.transmit(2, b"small")
    assert copy_all(crx) == [(1, b"x" * 100), (2, b"small")]
    assert crx.scratch.capacity >= 100
    assert isinstance(crx.scratch, impl)
    assert crx.receive(lambda *a: None) == 0


def test_copy_receiver_raises_when_lapped(impl: Any) -> None:
    buf, tx = make(impl, 256)
    crx = CopyBroadcastReceiver(BroadcastReceiver(buf))
    for i in range(20):
        tx.transmit(i + 1, bytes(24))
    with pytest.raises(BroadcastLappedError, match="unable to keep up with broadcast"):
        crx.receive(lambda *a: None)
    assert issubclass(BroadcastLappedError, AeronError)
    tx.transmit(50, b"fresh")
    assert copy_all(crx) == [(50, b"fresh")]


def test_copy_receiver_raises_when_lapped_during_copy(impl: Any) -> None:
    buf, tx = make(impl, 256)
    rx = BroadcastReceiver(buf)
    crx = CopyBroadcastReceiver(rx)
    tx.transmit(1, b"a" * 24)
    original = rx.validate

    def lap_then_validate() -> bool:
        for _ in range(8):
            tx.transmit(2, b"b" * 24)
        return original()

    rx.validate = lap_then_validate  # type: ignore[method-assign]
    called: list[int] = []
    with pytest.raises(BroadcastLappedError):
        crx.receive(lambda t, b, o, n: called.append(t))
    assert called == []


@settings(max_examples=60, deadline=None, phases=FAST_PHASES)
@given(
    sizes=st.lists(st.integers(0, 64), min_size=30, max_size=300),
    batch=st.integers(1, 12),
    use_c=st.booleans(),
)
def test_random_sizes_received_in_order(sizes: list[int], batch: int, use_c: bool) -> None:
    impl = AtomicBuffer if (use_c and HAVE_C_EXTENSION) else PyAtomicBuffer
    capacity = 512
    buf = impl(bytearray(capacity + TRAILER_LENGTH))
    tx = BroadcastTransmitter(buf)
    crx = CopyBroadcastReceiver(BroadcastReceiver(buf), scratch_length=8)
    pending: list[tuple[int, bytes]] = []
    received: list[tuple[int, bytes]] = []
    for n, size in enumerate(sizes):
        payload = bytes((n + i) & 0xFF for i in range(size))
        tx.transmit(n % 100 + 1, payload)
        pending.append((n % 100 + 1, payload))
        # a receiver keeping up within capacity never laps
        if sum(align(len(p) + 8, 8) + 8 for _, p in pending) >= capacity // 2 or (
            n % batch == 0
        ):
            received.extend(copy_all(crx))
            pending.clear()
    received.extend(copy_all(crx))
    expected = [(n % 100 + 1, bytes((n + i) & 0xFF for i in range(s))) for n, s in enumerate(sizes)]
    assert received == expected
    assert crx.receiver.lapped_count == 0


# ---------------------------------------------------------------------- hostile records
@settings(max_examples=200, deadline=None, phases=FAST_PHASES)
@given(
    before=st.lists(st.binary(max_size=120), max_size=12),
    scribbles=st.lists(st.tuples(st.integers(0, 1024 + TRAILER_LENGTH - 1), st.binary(min_size=1, max_size=12)), min_size=1, max_size=6),
    after=st.lists(st.binary(min_size=1, max_size=60), min_size=1, max_size=8),
)
def test_scribbled_records_never_stick_the_receiver(
    before: list[bytes], scribbles: list[tuple[int, bytes]], after: list[bytes]
) -> None:
    """Whatever a hostile process writes, receive() raises at most a lapped error and, once the
    transmitter sends again, the receiver resynchronises and gets new messages (no cursor lost
    past the tail)."""
    raw = bytearray(1024 + TRAILER_LENGTH)
    buf = PyAtomicBuffer(raw)
    tx = BroadcastTransmitter(buf)
    rx = CopyBroadcastReceiver(BroadcastReceiver(buf))
    got: list[bytes] = []

    def handler(msg_type_id: int, b: Any, o: int, n: int) -> None:
        got.append(b.get_bytes(o, n))

    def pump(times: int) -> None:
        for _ in range(times):
            try:
                rx.receive(handler)
            except BroadcastLappedError:
                pass

    for payload in before:
        tx.transmit(3, payload)
    pump(len(before) // 2)
    for offset, data in scribbles:
        data = data[: len(raw) - offset]
        raw[offset:offset + len(data)] = data
    pump(20)
    # The transmitter keeps going from whatever its tail now says; a fresh run of messages must
    # reach the receiver (the last one at least, whole) within a bounded number of receives.
    if buf.get_int64(1024 + TAIL_COUNTER_OFFSET) < 0 or buf.get_int64(1024 + TAIL_COUNTER_OFFSET) > 2**60:
        return  # a tail the transmitter itself cannot use; the driver owns that buffer
    got.clear()
    sentinels = [b"sentinel-%d" % i for i in range(3)]
    for payload in after + sentinels:  # a scribble may cost the first message or two
        tx.transmit(4, payload)
        pump(3)
    assert got and got[-1] == sentinels[-1]
