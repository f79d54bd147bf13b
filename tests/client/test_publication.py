from __future__ import annotations

import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from aeronpy.client.buffer_claim import BufferClaim
from aeronpy.client.image import Image
from aeronpy.client.publication import ExclusivePublication, Publication
from aeronpy.client.results import (
    ADMIN_ACTION,
    BACK_PRESSURED,
    CLOSED,
    ERROR,
    MAX_POSITION_EXCEEDED,
    NOT_CONNECTED,
    ControlledPollAction,
    result_name,
)
from aeronpy.logbuffer import descriptor as d
from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
from aeronpy.logbuffer.header import Header
from tests.logbuffer.test_logsupport import SESSION_ID, STREAM_ID, Cleaner, FakeCounter, make_log

TERM = 64 * 1024
KINDS = [Publication, ExclusivePublication]


class FakeConductor:
    def __init__(self) -> None:
        self.released: list[Any] = []

    def release_publication(self, pub: Any) -> None:
        self.released.append(pub)


def new_pub(lb: Any, cls: Any, limit: int = 1 << 40, conductor: Any = None) -> Any:
    return cls(conductor, lb, "aeron:ipc?term-length=64k", STREAM_ID, SESSION_ID, FakeCounter(limit), 11, 100, 99)


@pytest.fixture
def log(tmp_path: Path) -> Any:
    lb = make_log(tmp_path, TERM, mtu=1408)
    yield lb
    lb.close()


def test_results_module() -> None:
    assert (NOT_CONNECTED, BACK_PRESSURED, ADMIN_ACTION, CLOSED, MAX_POSITION_EXCEEDED, ERROR) == (
        -1, -2, -3, -4, -5, -6)
    assert result_name(-2) == "BACK_PRESSURED" and result_name(64) == "POSITION(64)"
    assert result_name(-99).startswith("UNKNOWN")
    assert [int(a) for a in ControlledPollAction] == [1, 2, 3, 4]


@pytest.mark.parametrize("cls", KINDS)
def test_constants(log: Any, cls: Any) -> None:
    pub = new_pub(log, cls)
    assert pub.max_message_length == 8192 and pub.max_payload_length == 1376
    assert pub.term_buffer_length == TERM and pub.initial_term_id == 7
    assert pub.max_possible_position == TERM << 31
    assert (pub.session_id, pub.stream_id, pub.registration_id, pub.original_registration_id) == (
        SESSION_ID, STREAM_ID, 100, 99)
    assert pub.channel_status_id == 11 and pub.channel.startswith("aeron:ipc")
    assert pub.position == 0 and pub.position_limit == 1 << 40 and pub.is_connected


@pytest.mark.parametrize("cls", KINDS)
def test_frame_bytes_and_positions(log: Any, cls: Any) -> None:
    pub = new_pub(log, cls)
    assert pub.offer(b"hello") == 64
    assert pub.offer(bytearray(b"x" * 32), 4, 20) == 128
    assert pub.offer(memoryview(b"abc"), reserved_value_supplier=lambda tb, fo, fl: fo + fl) == 192
    raw = log.term_buffers[0].get_bytes(0, 192)
    assert struct.unpack_from("<iBBhiiiiq", raw, 0) == (37, 0, 0xC0, 1, 0, SESSION_ID, STREAM_ID, 7, 0)
    assert raw[32:37] == b"hello" and raw[37:64] == bytes(27)
    assert struct.unpack_from("<iBBhiiiiq", raw, 64)[:5] == (52, 0, 0xC0, 1, 64)
    assert struct.unpack_from("<iBBhiiiiq", raw, 128)[8] == 128 + 35
    assert pub.position == 192
    assert d.producer_position(log.metadata, TERM, 7) == 192


@pytest.mark.parametrize("cls", KINDS)
def test_fragmented_frames(log: Any, cls: Any) -> None:
    pub = new_pub(log, cls)
    msg = bytes(range(256)) * 12  # 3072 = 1376 + 1376 + 320
    assert pub.offer(msg) == 1408 + 1408 + 352
    tb = log.term_buffers[0]
    assert [tb.get_int32(o) for o in (0, 1408, 2816)] == [1408, 1408, 352]
    assert [tb.get_uint8(o + 5) for o in (0, 1408, 2816)] == [0x80, 0x00, 0x40]
    assert [tb.get_int32(o + 8) for o in (0, 1408, 2816)] == [0, 1408, 2816]
    assert tb.get_bytes(32, 1376) + tb.get_bytes(1440, 1376) + tb.get_bytes(2848, 320) == msg


@pytest.mark.parametrize("cls", KINDS)
def test_too_long_raises(log: Any, cls: Any) -> None:
    pub = new_pub(log, cls)
    with pytest.raises(ValueError, match="max_message_length"):
        pub.offer(bytes(8193))
    with pytest.raises(ValueError, match="max_payload_length"):
        pub.try_claim(1377, BufferClaim())
    with pytest.raises(IndexError):
        pub.offer(b"abc", 2, 5)
    assert pub.position == 0
    assert pub.offer(bytes(8192)) > 0


@pytest.mark.parametrize("cls", KINDS)
def test_not_connected_vs_back_pressured(log: Any, cls: Any) -> None:
    pub = new_pub(log, cls, limit=0)
    d.set_is_connected(log.metadata, False)
    assert pub.offer(b"a") == NOT_CONNECTED and not pub.is_connected
    assert pub.try_claim(1, BufferClaim()) == NOT_CONNECTED
    d.set_is_connected(log.metadata, True)
    assert pub.offer(b"a") == BACK_PRESSURED and pub.is_connected
    assert pub.try_claim(1, BufferClaim()) == BACK_PRESSURED
    pub.publication_limit.set(1)
    assert pub.offer(b"a") == 64
    assert pub.offer(b"a") == BACK_PRESSURED


@pytest.mark.parametrize("cls", KINDS)
def test_closed(log: Any, cls: Any) -> None:
    conductor = FakeConductor()
    pub = new_pub(log, cls, conductor=conductor)
    pub.close()
    pub.close()
    assert conductor.released == [pub] and pub.is_closed and not pub.is_connected
    assert pub.offer(b"a") == CLOSED and pub.offerv([b"a"]) == CLOSED
    assert pub.try_claim(4, BufferClaim()) == CLOSED
    assert pub.position == CLOSED and pub.position_limit == CLOSED
    assert not log.is_closed  # the conductor owns the log


@pytest.mark.parametrize("cls", KINDS)
def test_max_position_exceeded(tmp_path: Path, cls: Any) -> None:
    initial = 1000
    last_term = d._i32(initial + 2**31 - 1)
    lb = make_log(tmp_path, TERM, initial_term_id=initial, term_id=last_term, term_offset=TERM - 4096)
    try:
        pub = new_pub(lb, cls, limit=TERM << 31)
        assert pub.position == (TERM << 31) - 4096
        results = [pub.offer(bytes(1000)) for _ in range(5)]
        assert results[:3] == [(TERM << 31) - 4096 + 1056 * i for i in (1, 2, 3)]
        assert results[3:] == [MAX_POSITION_EXCEEDED, MAX_POSITION_EXCEEDED]
        assert d.active_term_count(lb.metadata) == 2**31 - 1  # no rotation past the end
        lb2_pub = new_pub(lb, cls, limit=0)
        if cls is Publication:  # tail is past the end: back pressure check reports MPE too
            assert lb2_pub.offer(b"x") == MAX_POSITION_EXCEEDED
    finally:
        lb.close()


@pytest.mark.parametrize("cls", KINDS)
def test_try_claim_commit_and_abort(log: Any, cls: Any) -> None:
    pub = new_pub(log, cls)
    claim = BufferClaim()
    assert pub.try_claim(10, claim) == 64
    assert claim.offset == 32 and claim.length == 10 and claim.buffer is log.term_buffers[0]
    assert log.term_buffers[0].get_int32(0) == -42  # in progress
    claim.put_bytes(b"0123456789")
    claim.reserved_value(-7)
    claim.commit()
    assert pub.try_claim(3, claim) == 128
    claim.abort()
    assert pub.offer(b"z") == 192
    got: list[tuple[bytes, int]] = []
    sub_pos = FakeCounter(0)
    image = Image(None, log, sub_pos, 1, SESSION_ID, "src", 0, 2)

    def on(buf: Any, off: int, n: int, h: Header) -> None:
        got.append((buf.get_bytes(off, n), h.reserved_value))

    assert image.poll(on, 10) == 2
    assert got == [(b"0123456789", -7), (b"z", 0)] and sub_pos.get() == 192
    with pytest.raises(ValueError):
        claim.commit()


@pytest.mark.parametrize("cls", KINDS)
def test_offerv(log: Any, cls: Any) -> None:
    pub = new_pub(log, cls)
    assert pub.offerv([b"ab", bytearray(b"cd"), memoryview(b"ef")]) == 64
    assert log.term_buffers[0].get_bytes(32, 6) == b"abcdef"
    big = [bytes([i]) * 1000 for i in range(5)]
    assert pub.offerv(big) == 64 + 3 * 1408 + 928
    asm_got: list[bytes] = []
    image = Image(None, log, FakeCounter(0), 1, SESSION_ID, "src", 0, 2)
    asm = FragmentAssembler(lambda b, o, n, h: asm_got.append(b.get_bytes(o, n)))
    while image.poll(asm.on_fragment, 10):
        pass
    assert asm_got == [b"abcdef", b"".join(big)]


def test_exclusive_resumes_from_metadata(log: Any) -> None:
    pub = new_pub(log, ExclusivePublication)
    for _ in range(3):
        pub.offer(bytes(100))
    pub2 = new_pub(log, ExclusivePublication)
    assert pub2.position == pub.position == 3 * 160
    assert pub2.offer(b"x") == 3 * 160 + 64
    assert pub2.append_padding(100) == 3 * 160 + 64 + 160
    assert log.term_buffers[0].get_uint16(3 * 160 + 64 + 6) == 0


def test_concurrent_admin_action_when_rotation_pending(log: Any) -> None:
    pub = new_pub(log, Publication)
    # emulate another writer that reserved past the end but has not rotated yet
    log.metadata.get_and_add_int64(0, TERM + 64)
    assert pub.offer(b"a") == ADMIN_ACTION  # pads nothing (already past end), rotates
    assert d.active_term_count(log.metadata) == 1
    assert pub.offer(b"a") == TERM + 64
    # a stale active count with the next tail already rotated reports ADMIN_ACTION
    log.metadata.put_int32_ordered(d.LOG_ACTIVE_TERM_COUNT_OFFSET, 2)
    assert pub.offer(b"a") == ADMIN_ACTION


def test_two_threads_one_publication(tmp_path: Path) -> None:
    lb = make_log(tmp_path, TERM, mtu=512)
    per_writer = 1500
    try:
        pub_lmt, sub_pos = FakeCounter(), FakeCounter(0)
        pub = Publication(None, lb, "aeron:ipc", STREAM_ID, SESSION_ID, pub_lmt, -1, 1, 1)
        image = Image(None, lb, sub_pos, 1, SESSION_ID, "ipc", 0, 1)
        cleaner = Cleaner(lb, sub_pos, pub_lmt, TERM // 2)
        errors: list[BaseException] = []

        def writer(wid: int) -> None:
            try:
                for seq in range(per_writer):
                    size = 8 + (seq * 37 + wid * 11) % 1200
                    msg = struct.pack("<ii", wid, seq) + bytes([seq & 0xFF]) * (size - 8)
                    while True:
                        r = pub.offer(msg)
                        if r > 0:
                            break
                        assert r in (BACK_PRESSURED, ADMIN_ACTION), r
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        seen: dict[int, list[int]] = {0: [], 1: []}

        def on_message(buf: Any, off: int, n: int, h: Header) -> None:
            data = buf.get_bytes(off, n)
            wid, seq = struct.unpack_from("<ii", data)
            assert data[8:] == bytes([seq & 0xFF]) * (n - 8)
            seen[wid].append(seq)

        asm = FragmentAssembler(on_message)
        old = sys.getswitchinterval()
        sys.setswitchinterval(1e-5)
        threads = [threading.Thread(target=writer, args=(w,)) for w in (0, 1)]
        try:
            for t in threads:
                t.start()
            deadline = time.monotonic() + 60
            while (len(seen[0]) + len(seen[1]) < 2 * per_writer) and time.monotonic() < deadline:
                image.poll(asm.on_fragment, 20)
                cleaner.update()
        finally:
            for t in threads:
                t.join(60)
            sys.setswitchinterval(old)
        assert not errors
        assert seen[0] == list(range(per_writer)) and seen[1] == list(range(per_writer))
        assert sub_pos.get() == pub.position
        assert d.active_term_count(lb.metadata) >= 3
    finally:
        lb.close()
