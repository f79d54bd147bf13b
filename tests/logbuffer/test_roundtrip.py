"""Publication -> log -> Image round trips with fragmentation, padding and term rotation."""

from __future__ import annotations

import random
import tempfile
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeronpy.client.buffer_claim import BufferClaim
from aeronpy.client.image import Image
from aeronpy.client.publication import ExclusivePublication, Publication
from aeronpy.client.results import ADMIN_ACTION, BACK_PRESSURED
from aeronpy.concurrent.atomic_buffer import AtomicBuffer, PyAtomicBuffer
from aeronpy.logbuffer import descriptor as d
from aeronpy.logbuffer.fragment_assembler import ControlledFragmentAssembler, FragmentAssembler
from aeronpy.logbuffer.header import Header
from aeronpy.protocol.data_header import HDR_TYPE_DATA
from tests.logbuffer.test_logsupport import SESSION_ID, STREAM_ID, Cleaner, FakeCounter, make_log

TERM = 64 * 1024
MAX_MSG = d.max_message_length(TERM)

OPS = st.sampled_from(["offer", "offerv", "claim", "abort", "offer_ab"])
SIZES = st.one_of(st.integers(0, 64), st.integers(0, 1500), st.integers(0, MAX_MSG))


class Harness:
    def __init__(self, lb: Any, exclusive: bool, window: int, controlled: bool = False) -> None:
        self.lb = lb
        self.pub_lmt = FakeCounter()
        start = d.producer_position(lb.metadata, lb.term_length, lb.initial_term_id)
        self.sub_pos = FakeCounter(start)
        cls = ExclusivePublication if exclusive else Publication
        self.pub = cls(None, lb, "aeron:ipc", STREAM_ID, SESSION_ID, self.pub_lmt, -1, 5, 5)
        self.image = Image(None, lb, self.sub_pos, 9, SESSION_ID, "aeron:ipc", start, 3)
        self.cleaner = Cleaner(lb, self.sub_pos, self.pub_lmt, window)
        self.received: list[tuple[bytes, int, int]] = []
        self.poll: Any
        if controlled:
            self.assembler: Any = ControlledFragmentAssembler(self._on_controlled)
            self.poll = lambda: self.image.controlled_poll(self.assembler.on_fragment, 7)
        else:
            self.assembler = FragmentAssembler(self._on_message)
            self.poll = lambda: self.image.poll(self.assembler.on_fragment, 7)

    def _on_message(self, buffer: Any, offset: int, length: int, header: Header) -> None:
        assert header.type == HDR_TYPE_DATA and header.session_id == SESSION_ID
        assert header.stream_id == STREAM_ID and header.flags & 0xC0 == 0xC0
        assert header.frame_length == length + 32
        self.received.append((buffer.get_bytes(offset, length), header.position, header.reserved_value))

    def _on_controlled(self, buffer: Any, offset: int, length: int, header: Header) -> int:
        self._on_message(buffer, offset, length, header)
        return 4

    def pump(self) -> int:
        n = self.poll()
        self.cleaner.update()
        return int(n)

    def send(self, op: str, msg: bytes) -> int | None:
        """Send ``msg`` using ``op``; returns the position, or None if the op does not deliver."""
        pub = self.pub
        claim = BufferClaim()
        for _ in range(10_000):
            if op in ("claim", "abort") and len(msg) <= pub.max_payload_length:
                r = pub.try_claim(len(msg), claim)
                if r > 0:
                    claim.put_bytes(msg)
                    claim.reserved_value(len(msg) * 3)
                    if op == "abort":
                        claim.abort()
                        return None
                    claim.commit()
                    return r
            elif op == "offerv":
                r = pub.offerv([msg[: len(msg) // 3], memoryview(msg)[len(msg) // 3 :]])
            elif op == "offer_ab":
                src = AtomicBuffer(bytearray(b"xx" + msg))
                r = pub.offer(src, 2, len(msg), lambda tb, fo, fl: fl * 3 - 96)
            else:
                r = pub.offer(msg, reserved_value_supplier=lambda tb, fo, fl: fl * 3 - 96)
            if r > 0:
                return r
            assert r in (BACK_PRESSURED, ADMIN_ACTION), r
            self.pump()
        raise AssertionError("publication stuck")

    def drain(self) -> None:
        while self.pump() > 0 or self.sub_pos.get() < self.pub.position:
            pass


def run_roundtrip(
    ops: list[tuple[str, int]], exclusive: bool, mtu: int, window: int, seed: int, factory: Any,
    controlled: bool = False, initial_term_id: int = 7,
) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        lb = make_log(tmp, TERM, mtu=mtu, factory=factory, initial_term_id=initial_term_id)
        try:
            h = Harness(lb, exclusive, window, controlled)
            expected: list[tuple[bytes, int, int]] = []
            for op, size in ops:
                msg = rng.randbytes(size)
                pos = h.send(op, msg)
                if pos is not None:
                    # reassembled messages carry the first fragment's value: not checked
                    rv = None if size > h.pub.max_payload_length else 0 if op == "offerv" else size * 3
                    expected.append((msg, pos, rv))  # type: ignore[arg-type]
                if rng.random() < 0.3:
                    h.pump()
            h.drain()
            assert [m for m, _, _ in h.received] == [m for m, _, _ in expected]
            assert [p for _, p, _ in h.received] == [p for _, p, _ in expected]
            for (_, _, got), (_, _, want) in zip(h.received, expected):
                if want is not None:
                    assert got == want
            assert h.sub_pos.get() == h.pub.position
        finally:
            lb.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(st.tuples(OPS, SIZES), min_size=1, max_size=70),
    exclusive=st.booleans(),
    mtu=st.sampled_from([96, 1408, 4096, 8192 + 64]),
    window=st.sampled_from([TERM // 2, TERM, 4096]),
    seed=st.integers(0, 2**32),
)
def test_roundtrip_c_buffer(ops: list[tuple[str, int]], exclusive: bool, mtu: int, window: int, seed: int) -> None:
    run_roundtrip(ops, exclusive, mtu, window, seed, None)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(st.tuples(OPS, SIZES), min_size=1, max_size=40),
    exclusive=st.booleans(),
    controlled=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_roundtrip_py_buffer(ops: list[tuple[str, int]], exclusive: bool, controlled: bool, seed: int) -> None:
    run_roundtrip(ops, exclusive, 1408, TERM // 2, seed, PyAtomicBuffer, controlled, initial_term_id=-3)


@pytest.mark.parametrize("exclusive", [False, True])
def test_many_rotations_wrapping_term_id(exclusive: bool) -> None:
    ops = [("offer", s) for s in [MAX_MSG, 5000, 0, 31, 32, 33, 1376, 1377, 8000] * 12]
    run_roundtrip(ops, exclusive, 1408, TERM // 2, 1, None, initial_term_id=2**31 - 2)


@pytest.mark.parametrize("exclusive", [False, True])
def test_padding_written_at_term_end(exclusive: bool, tmp_path: Any) -> None:
    lb = make_log(tmp_path, TERM, mtu=1408)
    try:
        h = Harness(lb, exclusive, TERM)
        h.pub_lmt.set(10 * TERM)
        h.cleaner.window = 10 * TERM
        msg = b"a" * 1000
        positions = []
        while True:
            r = h.pub.offer(msg)
            if r < 0:
                assert r == ADMIN_ACTION
                break
            positions.append(r)
        tb = lb.term_buffers[0]
        last = positions[-1]
        assert tb.get_int32(last) == TERM - last  # PAD frame to the end of the term
        assert tb.get_uint16(last + 6) == 0 and tb.get_int32(last + 8) == last
        assert tb.get_int32(last + 20) == 7 and tb.get_int32(last + 12) == SESSION_ID
        assert d.active_term_count(lb.metadata) == 1
        assert d.producer_position(lb.metadata, TERM, 7) == TERM
        r = h.pub.offer(msg)
        assert r == TERM + 1056
        assert lb.term_buffers[1].get_int32(0) == 1032 and lb.term_buffers[1].get_int32(20) == 8
        h.drain()
        assert len(h.received) == len(positions) + 1
    finally:
        lb.close()
