"""The C kernels of aeronpy._logbuffer against their Python twins, byte for byte.

Two identical logs; the same operations go to a native publication/image on one and to the
Python twin on the other; every result, every delivered fragment and every byte of the logs
(terms and metadata) must match.
"""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aeronpy._logbuffer import StaleBatchError
from aeronpy.client.buffer_claim import BufferClaim, PyBufferClaim
from aeronpy.client.image import Image
from aeronpy.client.publication import NATIVE_DEFAULT, ExclusivePublication, Publication
from aeronpy.logbuffer import descriptor as d
from tests.logbuffer.test_logsupport import SESSION_ID, STREAM_ID, FakeCounter, make_log

TERM = 64 * 1024
MTU = 1408
NEAR_MAX_TERM_ID = 7 + (1 << 31) - 2  # two terms before MAX_POSITION_EXCEEDED

op_st = st.one_of(
    st.tuples(st.just("offer"), st.integers(0, 9000), st.booleans()),
    st.tuples(st.just("offer_range"), st.integers(0, 3000), st.integers(-1, 3000)),
    st.tuples(st.just("offer_fail"), st.integers(0, 9000), st.booleans()),
    st.tuples(st.just("offerv"), st.lists(st.integers(0, 2000), max_size=20), st.booleans()),
    st.tuples(st.just("claim"), st.integers(0, 1400), st.booleans()),
    st.tuples(st.just("pad"), st.integers(-1, 9000), st.just(0)),
    st.tuples(st.just("batch"), st.lists(st.integers(0, 3000), max_size=12), st.just(0)),
    st.tuples(st.just("limit"), st.integers(-64, 20000), st.just(0)),
    st.tuples(st.just("connected"), st.booleans(), st.just(0)),
)


def rvs(tb: Any, frame_offset: int, frame_length: int) -> int:
    return frame_offset * 1_000_003 + frame_length


def failing_rvs(tb: Any, frame_offset: int, frame_length: int) -> int:
    raise KeyError("supplier failed")


def failing_late_rvs() -> Any:
    """Fails on the second fragment (the first one is already committed)."""
    calls = [0]

    def supply(tb: Any, frame_offset: int, frame_length: int) -> int:
        calls[0] += 1
        if calls[0] > 1:
            raise KeyError("supplier failed")
        return 5

    return supply


def payload(n: int, salt: int) -> bytes:
    return bytes((i * 7 + salt) & 0xFF for i in range(n))


class Twins:
    """A native and a Python-twin publication on two identical logs."""

    def __init__(self, directory: str, cls: Any, term_id: int | None, term_offset: int | None) -> None:
        self.logs = [make_log(directory, TERM, MTU, 7, term_id, term_offset) for _ in range(2)]
        self.limits = [FakeCounter(0) for _ in range(2)]
        self.pubs = [
            cls(None, lb, "aeron:ipc", STREAM_ID, SESSION_ID, limit, -1, 1, 1, native=native)
            for lb, limit, native in zip(self.logs, self.limits, (True, False))
        ]
        assert self.pubs[0].is_native and not self.pubs[1].is_native

    def set_limit(self, window: int) -> None:
        for pub, limit in zip(self.pubs, self.limits):
            position = pub.position
            limit.set(max(0, position) + window)

    def apply(self, op: tuple[Any, ...], step: int) -> list[Any]:
        kind, a, b = op
        out: list[Any] = []
        for pub, lb in zip(self.pubs, self.logs):
            try:
                if kind == "offer":
                    out.append(pub.offer(payload(a, step), reserved_value_supplier=rvs if b else None))
                elif kind == "offer_fail":
                    out.append(pub.offer(payload(a, step), reserved_value_supplier=failing_late_rvs() if b
                                         else failing_rvs))
                elif kind == "offer_range":
                    out.append(pub.offer(bytearray(payload(2000, step)), a, b))
                elif kind == "offerv":
                    parts = [memoryview(payload(n, step + i)) for i, n in enumerate(a)]
                    out.append(pub.offerv(parts, rvs if b else None))
                elif kind == "claim":
                    claim = BufferClaim() if pub is self.pubs[0] else PyBufferClaim()  # C vs twin
                    r = pub.try_claim(a, claim)
                    if r > 0:
                        claim.put_bytes(payload(a, step))
                        claim.commit() if b else claim.abort()
                    out.append(r)
                elif kind == "pad":
                    out.append(pub.append_padding(a) if isinstance(pub, ExclusivePublication) else None)
                elif kind == "batch":
                    out.append(pub.offer_batch([payload(n, step + i) for i, n in enumerate(a)]))
                elif kind == "limit":
                    self.set_limit(a)
                elif kind == "connected":
                    d.set_is_connected(lb.metadata, a)
            except (ValueError, IndexError, KeyError) as e:
                out.append((type(e), str(e)))
        return out

    def snapshot(self, i: int) -> bytes:
        lb = self.logs[i]
        return b"".join(tb.get_bytes(0, tb.capacity) for tb in lb.term_buffers) + lb.metadata.get_bytes(0, 4096)

    def close(self) -> None:
        for lb in self.logs:
            lb.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(op_st, min_size=1, max_size=60),
    exclusive=st.booleans(),
    start=st.sampled_from([None, "mid", "near_max"]),
)
@example(ops=[("offer_range", 2001, -1)], exclusive=False, start=None)  # an offset past the end, to its end
def test_publication_kernel_matches_twin(ops: list[tuple[Any, ...]], exclusive: bool, start: str | None) -> None:
    term_id = {None: None, "mid": 7 + 5, "near_max": NEAR_MAX_TERM_ID}[start]
    term_offset = None if start is None else 60 * 1024
    with tempfile.TemporaryDirectory() as directory:
        twins = Twins(directory, ExclusivePublication if exclusive else Publication, term_id, term_offset)
        try:
            twins.set_limit(1 << 20)
            for step, op in enumerate(ops):
                native, python = twins.apply(op, step) or (None, None)
                assert native == python, op
                assert twins.snapshot(0) == twins.snapshot(1), op
                assert twins.pubs[0].position == twins.pubs[1].position
            for pub in twins.pubs:
                pub._internal_close()
            assert [p.offer(b"x") for p in twins.pubs] == [-4, -4]
            assert [p.offer_batch([b"x"]) for p in twins.pubs] == [(0, -4), (0, -4)]
        finally:
            twins.close()


# ------------------------------------------------------------------------------ reading

read_op_st = st.one_of(
    st.tuples(st.just("poll"), st.integers(0, 40), st.integers(-1, 30)),
    st.tuples(st.just("bounded"), st.integers(0, 40), st.integers(-200, 20000)),
    st.tuples(st.just("controlled"), st.integers(0, 40), st.lists(st.integers(1, 4), min_size=1, max_size=8)),
    st.tuples(st.just("batch"), st.integers(0, 40), st.booleans()),
    st.tuples(st.just("block"), st.integers(-32, 9000), st.booleans()),
    st.tuples(st.just("take"), st.integers(1, 5), st.just(0)),
    st.tuples(st.just("write"), st.lists(st.integers(0, 4000), max_size=10), st.booleans()),
)


class Recorder:
    def __init__(self, actions: list[int] | None = None, raise_at: int = -1) -> None:
        self.seen: list[tuple[Any, ...]] = []
        self.actions = actions
        self.raise_at = raise_at

    def __call__(self, buffer: Any, offset: int, length: int, header: Any) -> Any:
        n = len(self.seen)
        self.seen.append((offset, length, buffer.get_bytes(offset, length), header.offset, header.position,
                          header.flags, header.term_id, header.session_id))
        if n == self.raise_at:
            raise KeyError("handler failed")
        if self.actions is not None:
            return self.actions[n % len(self.actions)]
        return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(read_op_st, min_size=1, max_size=40), exclusive=st.booleans())
def test_reader_kernel_matches_twin(ops: list[tuple[Any, ...]], exclusive: bool) -> None:
    with tempfile.TemporaryDirectory() as directory:
        lb = make_log(directory, TERM, MTU)
        try:
            cls = ExclusivePublication if exclusive else Publication
            pub = cls(None, lb, "aeron:ipc", STREAM_ID, SESSION_ID, FakeCounter(1 << 40), -1, 1, 1)
            positions = [FakeCounter(0), FakeCounter(0)]
            images = [Image(None, lb, pos, 1, SESSION_ID, "src", 0, 2, native=native)
                      for pos, native in zip(positions, (True, False))]
            assert images[0].is_native and not images[1].is_native
            kept: list[Any] = [None, None]  # each image's unreleased batch stays referenced
            for step, (kind, a, b) in enumerate(ops):
                if kind == "write":
                    for i, n in enumerate(a):
                        if b and i == 0:
                            claim = BufferClaim()
                            if pub.try_claim(min(n, 1376), claim) > 0:
                                claim.abort()
                        elif pub.offer(payload(n, step + i)) == -3:
                            pub.offer(payload(n, step + i))
                    continue
                results = []
                for which, (image, pos) in enumerate(zip(images, positions)):
                    rec = Recorder(b if kind == "controlled" else None, b if kind == "poll" else -1)
                    try:
                        if kind == "poll":
                            r: Any = image.poll(rec, a)
                        elif kind == "bounded":
                            r = image.bounded_poll(rec, pos.get() + b, a)
                        elif kind == "controlled":
                            r = image.controlled_poll(rec, a)
                        elif kind == "take":
                            r = [image.take() for _ in range(a)]
                        elif kind == "block":
                            blocks: list[Any] = []

                            def on_block(buffer: Any, offset: int, length: int, session_id: int, term_id: int,
                                         out: list[Any] = blocks, fail: bool = b) -> None:
                                out.append((offset, length, buffer.get_bytes(offset, length), session_id, term_id))
                                if fail:
                                    raise KeyError("block handler failed")

                            try:
                                r = image.block_poll(on_block, a)
                            finally:
                                rec.seen.extend(blocks)
                        else:
                            batch = kept[which] = image.poll_batch(a)
                            r = (len(batch), batch.position, batch.offsets(), batch.lengths(), batch.copies(),
                                 [bytes(v) for v in batch.views()])
                            if b:
                                batch.release()
                                assert not batch.valid
                    except KeyError as e:
                        r = ("raised", str(e))
                    results.append((r, rec.seen, pos.get()))
                assert results[0] == results[1], (kind, a, b)
        finally:
            lb.close()


# ----------------------------------------------------------------------- batch validity


@pytest.mark.parametrize("native", [True, False])
def test_batch_fails_loudly_after_release_or_next_poll(tmp_path: Any, native: bool) -> None:
    lb = make_log(tmp_path, TERM, MTU)
    pub = Publication(None, lb, "aeron:ipc", STREAM_ID, SESSION_ID, FakeCounter(1 << 40), -1, 1, 1)
    pos = FakeCounter(0)
    image = Image(None, lb, pos, 1, SESSION_ID, "src", 0, 2, native=native)
    for i in range(5):
        assert pub.offer(bytes([i]) * 10) > 0
    batch = image.poll_batch(3)
    assert len(batch) == 3 and batch.valid and batch.copies() == [bytes([i]) * 10 for i in range(3)]
    views = batch.views()
    whole = batch.view()
    assert pos.get() == 0, "the position moves only when the batch is released"
    assert bytes(views[1]) == b"\x01" * 10 and whole[batch.offset(2)] == 2
    second = image.poll_batch(10)  # the next poll releases the first batch
    assert pos.get() == 3 * 64 and not batch.valid
    for call in (lambda: batch.get_bytes(0), batch.copies, batch.views, lambda: batch.offset(0), batch.offsets):
        with pytest.raises(StaleBatchError, match="released"):
            call()
    for v in (views[0], whole):
        with pytest.raises(ValueError):
            bytes(v)
    with second:
        assert second.copies() == [b"\x03" * 10, b"\x04" * 10]
        with pytest.raises(IndexError):
            second.get_bytes(2)
    assert pos.get() == 5 * 64 and not second.valid
    with pytest.raises(StaleBatchError):
        second.get_bytes(0)
    third = image.poll_batch(10)
    assert len(third) == 0 and third.position == 5 * 64
    assert pub.offer(b"z") > 0
    n = image.poll(lambda *a: None, 10)  # a poll settles the outstanding batch first
    assert n == 1 and not third.valid and pos.get() == 6 * 64
    image.close()
    assert len(image.poll_batch(10)) == 0
    lb.close()


@pytest.mark.skipif(not NATIVE_DEFAULT, reason="needs the C kernels (AERONPY_PURE_PYTHON=1 is set)")
def test_dropped_batch_is_released(tmp_path: Any) -> None:
    lb = make_log(tmp_path, TERM, MTU)
    pub = Publication(None, lb, "aeron:ipc", STREAM_ID, SESSION_ID, FakeCounter(1 << 40), -1, 1, 1)
    pos = FakeCounter(0)
    image = Image(None, lb, pos, 1, SESSION_ID, "src", 0, 2)
    pub.offer(b"abc")
    image.poll_batch(10)  # not kept: released at once
    assert pos.get() == 64
    lb.close()


def test_handler_may_close_image_during_native_poll(tmp_path: Any) -> None:
    lb = make_log(tmp_path, TERM, MTU)
    pub = Publication(None, lb, "aeron:ipc", STREAM_ID, SESSION_ID, FakeCounter(1 << 40), -1, 1, 1)
    pos = FakeCounter(0)
    image = Image(None, lb, pos, 1, SESSION_ID, "src", 0, 2)
    for _ in range(3):
        pub.offer(b"abc")
    seen: list[int] = []

    def handler(buffer: Any, offset: int, length: int, header: Any) -> None:
        seen.append(offset)
        image.close()

    assert image.poll(handler, 10) == 3  # frames already found are delivered, as in the twin
    assert pos.get() == 0 and image.poll(handler, 10) == 0
    lb.close()


@pytest.mark.skipif(not NATIVE_DEFAULT, reason="needs the C kernels (AERONPY_PURE_PYTHON=1 is set)")
def test_offer_accepts_python_atomic_buffer_source(tmp_path: Any) -> None:
    from aeronpy.concurrent.atomic_buffer import PyAtomicBuffer

    lb = make_log(tmp_path, TERM, MTU)
    pub = Publication(None, lb, "aeron:ipc", STREAM_ID, SESSION_ID, FakeCounter(1 << 40), -1, 1, 1)
    assert pub.is_native
    src = PyAtomicBuffer(bytearray(b"0123456789"))
    assert pub.offer(src, 2, 3) == 64
    assert lb.term_buffers[0].get_bytes(32, 3) == b"234"
    with pytest.raises(TypeError):
        pub.offer(12345)
    lb.close()


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(0, 6000), min_size=1, max_size=30), limit=st.integers(1, 7))
def test_assembler_fast_path_matches_twin(sizes: list[int], limit: int) -> None:
    from aeronpy.logbuffer.fragment_assembler import ControlledFragmentAssembler, FragmentAssembler

    with tempfile.TemporaryDirectory() as directory:
        lb = make_log(directory, TERM, MTU)
        try:
            pub = Publication(None, lb, "aeron:ipc", STREAM_ID, SESSION_ID, FakeCounter(1 << 40), -1, 1, 1)
            for i, n in enumerate(sizes):
                while pub.offer(payload(n, i)) == -3:
                    pass
            for controlled in (False, True):
                got: list[list[Any]] = [[], []]
                for which, native in enumerate((True, False)):
                    image = Image(None, lb, FakeCounter(0), 1, SESSION_ID, "src", 0, 2, native=native)

                    def handler(buffer: Any, offset: int, length: int, header: Any, out: list[Any] = got[which]) -> Any:
                        out.append((buffer.get_bytes(offset, length), header.position, header.flags, header.frame_length))
                        return 4 if controlled else None

                    if controlled:
                        cassembler = ControlledFragmentAssembler(handler)
                        while image.controlled_poll(cassembler.on_fragment, limit) > 0:
                            pass
                    else:
                        assembler = FragmentAssembler(handler)
                        while image.poll(assembler.on_fragment, limit) > 0:
                            pass
                assert got[0] == got[1]
                assert [m[0] for m in got[0]] == [payload(n, i) for i, n in enumerate(sizes)][: len(got[0])]
        finally:
            lb.close()


def test_assembler_subclass_overriding_on_fragment_is_not_bypassed(tmp_path: Any) -> None:
    from aeronpy.logbuffer.fragment_assembler import FragmentAssembler

    calls: list[int] = []

    class Counting(FragmentAssembler):
        def on_fragment(self, buffer: Any, offset: int, length: int, header: Any) -> None:
            calls.append(length)
            super().on_fragment(buffer, offset, length, header)

    lb = make_log(tmp_path, TERM, MTU)
    pub = Publication(None, lb, "aeron:ipc", STREAM_ID, SESSION_ID, FakeCounter(1 << 40), -1, 1, 1)
    image = Image(None, lb, FakeCounter(0), 1, SESSION_ID, "src", 0, 2)
    pub.offer(b"abc")
    delivered: list[bytes] = []
    assembler = Counting(lambda b, o, n, h: delivered.append(b.get_bytes(o, n)))
    assert assembler.fast_function is None
    assert image.poll(assembler.on_fragment, 10) == 1
    assert calls == [3] and delivered == [b"abc"]
    lb.close()


@pytest.mark.parametrize("native", [True, False])
def test_take_returns_whole_messages_only(tmp_path: Any, native: bool) -> None:
    lb = make_log(tmp_path, TERM, MTU)
    pub = Publication(None, lb, "aeron:ipc", STREAM_ID, SESSION_ID, FakeCounter(1 << 40), -1, 1, 1)
    pos = FakeCounter(0)
    image = Image(None, lb, pos, 1, SESSION_ID, "src", 0, 2, native=native)
    big = payload(3000, 1)  # three fragments: 1408 + 1408 + 288 bytes of frames
    assert pub.offer(b"small") == 64
    assert pub.offer(big) == 64 + 1408 + 1408 + 288
    tb = lb.term_buffers[0]
    last = 64 + 2 * 1408
    saved = tb.get_int32(last)
    tb.put_int32_ordered(last, 0)  # the END fragment not committed yet
    assert image.take() == b"small" and pos.get() == 64
    assert image.take() is None and pos.get() == 64, "an incomplete message is not consumed"
    tb.put_int32_ordered(last, saved)
    assert image.take() == big and pos.get() == last + 288
    assert image.take() is None
    # joined mid-message: fragments without their BEGIN are skipped
    pub.offer(big)
    pub.offer(b"after")
    pos.set(last + 288 + 1408)
    assert image.take() == b"after"
    image.close()
    assert image.take() is None
    lb.close()


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("cls", [Publication, ExclusivePublication])
@pytest.mark.parametrize("size", [100, 3000])
def test_a_raising_reserved_value_supplier_drops_its_message_but_not_the_stream(
    native: bool, cls: Any, size: int
) -> None:
    """Aeron leaves the frame uncommitted (the stream stalls until the driver's unblocker pads it);
    here the reservation becomes padding at once and the error still reaches the caller."""
    with tempfile.TemporaryDirectory() as directory:
        lb = make_log(directory, TERM, MTU)
        try:
            pub = cls(None, lb, "aeron:ipc", STREAM_ID, SESSION_ID, FakeCounter(1 << 40), -1, 1, 1, native=native)
            assert pub.offer(b"first") > 0
            with pytest.raises(KeyError):
                pub.offer(payload(size, 1), reserved_value_supplier=failing_late_rvs() if size > 1400
                          else failing_rvs)
            after = pub.offer(b"after")
            assert after > 0
            image = Image(None, lb, FakeCounter(0), 1, SESSION_ID, "src", 0, 2, native=native)
            seen: list[bytes] = []
            image.poll(lambda buf, off, n, hdr: seen.append(buf.get_bytes(off, n)), 100)
            assert seen[0] == b"first" and seen[-1] == b"after"
            assert payload(size, 1) not in seen
            assert image.position == after
        finally:
            lb.close()
