"""Counters: allocation, reuse after deadline, iteration, labels/keys, AtomicCounter."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.atomic_buffer import HAVE_C_EXTENSION, AtomicBuffer, PyAtomicBuffer
from aeronpy.concurrent.counters import (
    COUNTER_LENGTH,
    FREE_FOR_REUSE_DEADLINE_OFFSET,
    KEY_OFFSET,
    LABEL_LENGTH_OFFSET,
    LABEL_OFFSET,
    MAX_KEY_LENGTH,
    MAX_LABEL_LENGTH,
    METADATA_LENGTH,
    NOT_FREE_TO_REUSE,
    NULL_COUNTER_ID,
    OWNER_ID_OFFSET,
    RECORD_ALLOCATED,
    RECORD_RECLAIMED,
    RECORD_UNUSED,
    REFERENCE_ID_OFFSET,
    REGISTRATION_ID_OFFSET,
    SUBSCRIBER_POSITION_TYPE_ID,
    SYSTEM_COUNTER_LABELS,
    TYPE_ID_OFFSET,
    AtomicCounter,
    CountersFullError,
    CountersManager,
    CountersReader,
    channel_counter_key,
    format_duration_ns,
    heartbeat_counter_key,
    heartbeat_counter_label,
    stream_counter_key,
    stream_counter_label,
    system_counter_key,
    system_counter_label,
)
from aeronpy.errors import AeronError
from tests.concurrent.buffer_impls import FAST_PHASES
from tests.fakes import FakeClock



def make(
    impl: Any, n: int = 8, timeout_ms: int = 0, clock: FakeClock | None = None
) -> CountersManager:
    values = impl(bytearray(n * COUNTER_LENGTH))
    metadata = impl(bytearray(n * METADATA_LENGTH))
    return CountersManager(metadata, values, timeout_ms, clock or FakeClock())


def test_buffer_length_validation(impl: Any) -> None:
    with pytest.raises(ValueError):
        CountersManager(impl(bytearray(3 * 512)), impl(bytearray(4 * 128)))
    cm = make(impl, 4)
    assert cm.max_counter_id == 3


def test_allocate_writes_layout(impl: Any) -> None:
    cm = make(impl)
    cid = cm.allocate(
        "my label", type_id=42, key=b"\x01\x02", registration_id=77, owner_id=5, reference_id=9
    )
    assert cid == 0
    md, values = cm.metadata_buffer, cm.values_buffer
    assert md.get_int32(0) == RECORD_ALLOCATED
    assert md.get_int32(TYPE_ID_OFFSET) == 42
    assert md.get_int64(FREE_FOR_REUSE_DEADLINE_OFFSET) == NOT_FREE_TO_REUSE
    assert md.get_bytes(KEY_OFFSET, 3) == b"\x01\x02\x00"
    assert md.get_int32(LABEL_LENGTH_OFFSET) == 8
    assert md.get_bytes(LABEL_OFFSET, 8) == b"my label"
    assert values.get_int64(REGISTRATION_ID_OFFSET) == 77
    assert values.get_int64(OWNER_ID_OFFSET) == 5
    assert values.get_int64(REFERENCE_ID_OFFSET) == 9
    assert cm.get_counter_state(cid) == RECORD_ALLOCATED
    assert cm.get_counter_type_id(cid) == 42
    assert cm.get_counter_label(cid) == "my label"
    assert cm.get_counter_key(cid) == b"\x01\x02" + bytes(110)
    assert cm.get_counter_registration_id(cid) == 77
    assert cm.get_counter_owner_id(cid) == 5
    assert cm.get_counter_reference_id(cid) == 9
    assert cm.get_free_for_reuse_deadline(cid) == NOT_FREE_TO_REUSE
    assert cm.counter_offset(3) == 3 * 128
    assert cm.metadata_offset(3) == 3 * 512


def test_ids_bounds_checked(impl: Any) -> None:
    cm = make(impl, 4)
    for bad in (-1, 4):
        with pytest.raises(IndexError, match="counter id"):
            cm.get_counter_value(bad)
        with pytest.raises(IndexError):
            cm.get_counter_label(bad)


def test_allocate_until_full(impl: Any) -> None:
    cm = make(impl, 3)
    assert [cm.allocate(f"c{i}") for i in range(3)] == [0, 1, 2]
    with pytest.raises(CountersFullError):
        cm.allocate("one too many")
    assert issubclass(CountersFullError, AeronError)


def test_free_and_reuse_only_after_deadline(impl: Any) -> None:
    clock = FakeClock(1_000)
    cm = make(impl, 4, timeout_ms=500, clock=clock)
    a = cm.allocate("a", key=b"K" * 10, registration_id=11, owner_id=3, reference_id=4)
    b = cm.allocate("b")
    cm.set_counter_value(a, 99)
    cm.free(a)
    assert cm.get_counter_state(a) == RECORD_RECLAIMED
    assert cm.get_free_for_reuse_deadline(a) == 1_500
    assert cm.get_counter_key(a) == bytes(MAX_KEY_LENGTH)  # key zeroed on free
    assert cm.get_counter_label(a) == "a"  # label and value kept
    assert cm.get_counter_value(a) == 99
    cm.free(a)  # not allocated any more: ignored
    assert cm.get_free_for_reuse_deadline(a) == 1_500
    clock.now = 1_499
    assert cm.allocate("c") == 2  # deadline not reached: a fresh id
    clock.now = 1_500
    reused = cm.allocate("reused", registration_id=0)
    assert reused == a
    assert cm.get_counter_value(a) == 0
    assert cm.get_counter_registration_id(a) == 0
    assert cm.get_counter_owner_id(a) == 0
    assert cm.get_counter_reference_id(a) == 0
    assert cm.get_counter_label(a) == "reused"
    assert cm.get_free_for_reuse_deadline(a) == NOT_FREE_TO_REUSE
    assert b == 1


def test_reuse_picks_first_expired_in_free_order(impl: Any) -> None:
    clock = FakeClock(0)
    cm = make(impl, 4, timeout_ms=100, clock=clock)
    ids = [cm.allocate(str(i)) for i in range(4)]
    clock.now = 0
    cm.free(ids[2])
    clock.now = 50
    cm.free(ids[0])
    clock.now = 120  # only id 2 is expired
    assert cm.allocate("x") == 2
    with pytest.raises(CountersFullError):
        cm.allocate("y")
    clock.now = 150
    assert cm.allocate("y") == 0


def test_for_each_stops_at_unused_and_skips_reclaimed(impl: Any) -> None:
    cm = make(impl, 8, timeout_ms=1000)
    for i in range(4):
        cm.allocate(f"c{i}", type_id=i + 10, key=bytes([i]))
    cm.free(1)
    # an allocated record after an UNUSED one is never reached
    cm.metadata_buffer.put_int32(6 * METADATA_LENGTH, RECORD_ALLOCATED)
    seen: list[tuple[int, int, bytes, str]] = []
    cm.for_each(lambda cid, t, k, lab: seen.append((cid, t, k[:1], lab)))
    assert seen == [(0, 10, b"\x00", "c0"), (2, 12, b"\x02", "c2"), (3, 13, b"\x03", "c3")]
    assert cm.get_counter_state(4) == RECORD_UNUSED
    values: list[tuple[int, int]] = []
    cm.set_counter_value(2, 1234)
    cm.for_each_counter(lambda v, cid, t, k, lab: values.append((cid, v)))
    assert values == [(0, 0), (2, 1234), (3, 0)]


def test_reader_sees_manager_writes(impl: Any) -> None:
    cm = make(impl)
    reader = CountersReader(cm.metadata_buffer, cm.values_buffer)
    cid = cm.allocate("shared", type_id=3)
    cm.set_counter_value(cid, -5)
    assert reader.get_counter_value(cid) == -5
    assert reader.get_counter_label(cid) == "shared"


def test_label_truncation_and_append(impl: Any) -> None:
    cm = make(impl)
    long = "L" * 500
    cid = cm.allocate(long)
    assert cm.get_counter_label(cid) == "L" * MAX_LABEL_LENGTH
    cid2 = cm.allocate("client-heartbeat: id=5")
    cm.append_to_label(cid2, " name=x")
    assert cm.get_counter_label(cid2) == "client-heartbeat: id=5 name=x"
    cm.append_to_label(cid2, "y" * 400)
    label = cm.get_counter_label(cid2)
    assert len(label) == MAX_LABEL_LENGTH
    assert label.startswith("client-heartbeat: id=5 name=xyyy")
    cm.append_to_label(cid2, "more")  # already full: unchanged
    assert cm.get_counter_label(cid2) == label
    cm.set_counter_label(cid2, "short")
    assert cm.get_counter_label(cid2) == "short"


def test_key_truncated_to_max(impl: Any) -> None:
    cm = make(impl)
    cid = cm.allocate("k", key=bytes(range(200)))
    assert cm.get_counter_key(cid) == bytes(range(112))
    assert cm.metadata_buffer.get_int32(LABEL_LENGTH_OFFSET) == 1  # label length not clobbered


def test_find_by_type_id_and_registration_id(impl: Any) -> None:
    cm = make(impl, 8, timeout_ms=10)
    a = cm.allocate("a", type_id=4, registration_id=100)
    b = cm.allocate("b", type_id=4, registration_id=200)
    cm.allocate("c", type_id=5, registration_id=100)
    assert cm.find_by_type_id_and_registration_id(4, 100) == a
    assert cm.find_by_type_id_and_registration_id(4, 200) == b
    assert cm.find_by_type_id_and_registration_id(5, 100) == 2
    assert cm.find_by_type_id_and_registration_id(4, 300) == NULL_COUNTER_ID
    cm.free(a)
    assert cm.find_by_type_id_and_registration_id(4, 100) == NULL_COUNTER_ID


def test_atomic_counter(impl: Any) -> None:
    cm = make(impl)
    counter = cm.new_counter("pos", type_id=SUBSCRIBER_POSITION_TYPE_ID, registration_id=9)
    assert counter.id == 0
    assert counter.get() == 0
    counter.set(10)
    assert counter.get() == 10 == cm.get_counter_value(counter.id)
    counter.set_ordered(11)
    counter.set_plain(12)
    assert counter.get_plain() == 12
    assert counter.increment() == 12
    assert counter.get_and_add(5) == 13
    assert counter.get() == 18
    assert counter.propose_max(20)
    assert not counter.propose_max(19)
    assert counter.get() == 20
    counter.set(-(2**63))
    assert counter.get() == -(2**63)
    assert not counter.is_closed
    counter.close()
    assert counter.is_closed
    assert cm.get_counter_state(0) == RECORD_RECLAIMED
    counter.close()  # idempotent
    standalone = AtomicCounter(cm.values_buffer, 1)
    standalone.close()
    assert standalone.is_closed
    with pytest.raises(IndexError):
        AtomicCounter(cm.values_buffer, 8)


def test_stream_key_and_label() -> None:
    channel = "aeron:udp?endpoint=localhost:20121|" + "x" * 100
    key = stream_counter_key(7, -3, 1001, channel)
    assert len(key) == MAX_KEY_LENGTH
    reg, session, stream, length = struct.unpack_from("<qiii", key)
    assert (reg, session, stream, length) == (7, -3, 1001, 92)
    assert key[20:112] == channel.encode()[:92]
    assert stream_counter_label("sub-pos", 7, -3, 1001, "aeron:ipc", " @0") == (
        "sub-pos: 7 -3 1001 aeron:ipc @0"
    )
    long_label = stream_counter_label("pub-lmt", 1, 2, 3, "c" * 500)
    assert len(long_label) == MAX_LABEL_LENGTH
    assert long_label.startswith("pub-lmt: 1 2 3 ccc")
    short = stream_counter_key(1, 2, 3, "aeron:ipc")
    assert struct.unpack_from("<i", short, 16)[0] == 9
    assert short[29:] == bytes(112 - 29)


def test_other_keys() -> None:
    key = channel_counter_key("aeron:udp?endpoint=a:1")
    assert len(key) == 112
    assert struct.unpack_from("<i", key)[0] == 22
    assert key[4:26] == b"aeron:udp?endpoint=a:1"
    assert struct.unpack_from("<i", channel_counter_key("z" * 200))[0] == 108
    assert heartbeat_counter_key(12345) == struct.pack("<q", 12345)
    assert heartbeat_counter_label(12345) == "client-heartbeat: id=12345"
    assert system_counter_key(15) == struct.pack("<i", 15)


def test_system_counter_labels() -> None:
    assert sorted(SYSTEM_COUNTER_LABELS) == list(range(46))
    v, c = "1.53.0-SNAPSHOT", "63c11a6914"
    assert system_counter_label(0, "DEDICATED", v, c) == "Bytes sent"
    assert system_counter_label(15, "DEDICATED", v, c) == (
        "Errors: version=1.53.0-SNAPSHOT commit=63c11a6914"
    )
    assert system_counter_label(34, "SHARED", v, c) == (
        "Aeron software: version=1.53.0-SNAPSHOT commit=63c11a6914"
    )
    assert system_counter_label(25, "DEDICATED", v, c) == "Resolution changes: driverName="
    assert system_counter_label(25, "DEDICATED", v, c, resolver_name="n1") == (
        "Resolution changes: driverName=n1"
    )
    assert system_counter_label(26, "DEDICATED", v, c) == (
        "Conductor max cycle time doing its work in ns: DEDICATED"
    )
    assert system_counter_label(27, "DEDICATED", v, c) == (
        "Conductor work cycle exceeded threshold count: threshold=100ms DEDICATED"
    )
    assert system_counter_label(29, "SHARED", v, c, sender_threshold_ns=1_500_000) == (
        "Sender work cycle exceeded threshold count: threshold=1500us SHARED"
    )
    assert system_counter_label(30, "INVOKER", v, c) == (
        "Receiver max cycle time doing its work in ns: INVOKER"
    )
    assert system_counter_label(33, "DEDICATED", v, c) == (
        "NameResolver exceeded threshold count: threshold=5s"
    )
    assert system_counter_label(43, "DEDICATED", v, c) == "Control protocol version"


def test_format_duration_ns() -> None:
    assert format_duration_ns(5_000_000_000) == "5s"
    assert format_duration_ns(1_500_000_000) == "1500ms"
    assert format_duration_ns(100_000_000) == "100ms"
    assert format_duration_ns(2_000) == "2us"
    assert format_duration_ns(999) == "999ns"
    assert format_duration_ns(0) == "0ns"


@settings(max_examples=80, deadline=None, phases=FAST_PHASES)
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("alloc"), st.integers(0, 1000)),
            st.tuples(st.just("free"), st.integers(0, 7)),
            st.tuples(st.just("tick"), st.integers(0, 60)),
        ),
        min_size=10,
        max_size=120,
    ),
    use_c=st.booleans(),
)
def test_allocate_free_matches_model(ops: list[tuple[str, int]], use_c: bool) -> None:
    impl = AtomicBuffer if (use_c and HAVE_C_EXTENSION) else PyAtomicBuffer
    timeout = 50
    clock = FakeClock(0)
    cm = make(impl, 8, timeout_ms=timeout, clock=clock)
    # model: id -> (label, type) for allocated; free list of (id, deadline) in free order
    allocated: dict[int, tuple[str, int]] = {}
    free_list: list[tuple[int, int]] = []
    high_water = -1
    for op, arg in ops:
        if op == "tick":
            clock.now += arg
        elif op == "alloc":
            expected: int | None = None
            for i, (cid, deadline) in enumerate(free_list):
                if clock.now >= deadline:
                    expected = cid
                    del free_list[i]
                    break
            if expected is None and high_water < 7:
                high_water += 1
                expected = high_water
            if expected is None:
                with pytest.raises(CountersFullError):
                    cm.allocate(f"l{arg}", type_id=arg)
            else:
                assert cm.allocate(f"l{arg}", type_id=arg, registration_id=arg) == expected
                allocated[expected] = (f"l{arg}", arg)
                assert cm.get_counter_value(expected) == 0
                cm.set_counter_value(expected, arg + 1)
        else:
            cm.free(arg)
            if arg in allocated:
                del allocated[arg]
                free_list.append((arg, clock.now + timeout))
        seen: dict[int, tuple[str, int]] = {}
        cm.for_each(lambda cid, t, k, lab: seen.__setitem__(cid, (lab, t)))
        assert seen == allocated
        for cid, (_, type_id) in allocated.items():
            assert cm.find_by_type_id_and_registration_id(type_id, type_id) in allocated
            assert cm.get_counter_value(cid) == type_id + 1
