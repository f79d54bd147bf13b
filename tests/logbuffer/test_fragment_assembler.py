from __future__ import annotations

import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.atomic_buffer import AtomicBuffer, PyAtomicBuffer
from aeronpy.logbuffer.fragment_assembler import ControlledFragmentAssembler, FragmentAssembler
from aeronpy.logbuffer.header import Header

HDR = struct.Struct("<iBBhiiiiq")
MAX_PAYLOAD = 64


def fragments(session: int, term_offset: int, msg: bytes) -> list[tuple[int, int, bytes]]:
    """(flags, term_offset, payload) per fragment, like the appender writes them."""
    out = []
    chunks = [msg[i : i + MAX_PAYLOAD] for i in range(0, len(msg), MAX_PAYLOAD)] or [b""]
    for i, c in enumerate(chunks):
        flags = (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0)
        out.append((flags, term_offset, c))
        term_offset += (len(c) + 32 + 31) & ~31
    return out


def deliver(handler: Any, session: int, flags: int, term_offset: int, data: bytes, py: bool = False,
            image: Any = "img") -> Any:
    raw = bytearray(32 + len(data) + 8)
    HDR.pack_into(raw, 8, 32 + len(data), 0, flags, 1, term_offset, session, 5, 3, 99)
    raw[40 : 40 + len(data)] = data
    buf = PyAtomicBuffer(raw) if py else AtomicBuffer(raw)
    header = Header(3, 16, context=image)
    header.wrap(buf, 8)
    return handler(buf, 40, len(data), header)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, 2, 3]), st.binary(max_size=300)), max_size=12), st.randoms(), st.booleans())
def test_interleaved_sessions_reassemble(msgs: list[tuple[int, bytes]], rnd: Any, py: bool) -> None:
    got: list[tuple[int, bytes, int, int, int]] = []

    def on(buf: Any, off: int, n: int, h: Header) -> None:
        got.append((h.session_id, buf.get_bytes(off, n), h.frame_length, h.flags, h.position))

    asm = FragmentAssembler(on, initial_buffer_length=40)
    queues: dict[int, list[tuple[int, int, bytes]]] = {1: [], 2: [], 3: []}
    expected: dict[int, list[tuple[bytes, int]]] = {1: [], 2: [], 3: []}
    offsets = {1: 0, 2: 0, 3: 0}
    for session, msg in msgs:
        frags = fragments(session, offsets[session], msg)
        queues[session].extend(frags)
        end = frags[-1][1] + ((len(frags[-1][2]) + 63) & ~31)
        offsets[session] = end
        expected[session].append((msg, end))
    while any(queues.values()):
        s = rnd.choice([k for k, v in queues.items() if v])
        flags, to, data = queues[s].pop(0)
        deliver(asm.on_fragment, s, flags, to, data, py)
    for s in (1, 2, 3):
        mine = [(m, p) for sid, m, fl, f, p in got if sid == s]
        assert mine == expected[s]
    assert all(fl == len(m) + 32 and f & 0xC0 == 0xC0 for _, m, fl, f, _ in got)


def test_missing_middle_fragment_drops_message() -> None:
    got: list[bytes] = []
    asm = FragmentAssembler(lambda b, o, n, h: got.append(b.get_bytes(o, n)))
    frags = fragments(1, 0, bytes(200))
    for i, (flags, to, data) in enumerate(frags):
        if i != 1:
            deliver(asm.on_fragment, 1, flags, to, data)
    assert got == []
    for flags, to, data in fragments(1, 1024, b"ok" * 50):
        deliver(asm.on_fragment, 1, flags, to, data)
    assert got == [b"ok" * 50]


def test_controlled_abort_redelivers() -> None:
    results = iter([1, 4])  # ABORT then CONTINUE
    got: list[tuple[bytes, int]] = []

    def on(b: Any, o: int, n: int, h: Header) -> int:
        got.append((b.get_bytes(o, n), h.frame_length))
        return next(results)

    asm = ControlledFragmentAssembler(on)
    frags = fragments(1, 0, bytes(range(150)))
    for flags, to, data in frags[:-1]:
        assert deliver(asm.on_fragment, 1, flags, to, data) == 4
    last = frags[-1]
    assert deliver(asm.on_fragment, 1, *last) == 1
    assert deliver(asm.on_fragment, 1, *last) == 4
    assert got == [(bytes(range(150)), 182)] * 2


def test_unfragmented_passthrough_keeps_header() -> None:
    seen: list[Any] = []
    asm = FragmentAssembler(lambda b, o, n, h: seen.append((h.context, h.reserved_value, h.term_id, n)))
    deliver(asm.on_fragment, 9, 0xC0, 64, b"abc")
    assert seen == [("img", 99, 3, 3)]


class FakeImage:
    def __init__(self, session_id: int) -> None:
        self.session_id = session_id
        self.is_closed = False


def _begin(assembler: Any, image: FakeImage) -> None:
    """A first fragment (BEGIN only), so the assembler keeps a buffer for the session."""
    deliver(assembler, image.session_id, 0x80, 0, b"x" * MAX_PAYLOAD, image=image)


def test_buffers_of_closed_images_are_freed_when_sessions_churn() -> None:
    for cls in (FragmentAssembler, ControlledFragmentAssembler):
        assembler = cls(lambda *a: None)
        images = []
        for session in range(1, 200):
            image = FakeImage(session)
            _begin(assembler, image)
            images.append(image)
            if len(images) > 3:  # only the last three publishers are alive
                images.pop(0).is_closed = True
        assert assembler.session_buffer_count <= 4


def test_on_unavailable_image_frees_that_session_at_once() -> None:
    assembler = FragmentAssembler(lambda *a: None)
    a, b = FakeImage(7), FakeImage(8)
    _begin(assembler, a)
    _begin(assembler, b)
    assert assembler.session_buffer_count == 2
    assembler.on_unavailable_image(a)
    assert assembler.session_buffer_count == 1
    assert not assembler.free_session_buffer(7) and assembler.free_session_buffer(8)


def test_a_new_image_of_the_same_session_does_not_inherit_a_closed_images_partial_message() -> None:
    got: list[bytes] = []
    assembler = FragmentAssembler(lambda buf, off, n, hdr: got.append(buf.get_bytes(off, n)))
    old = FakeImage(5)
    _begin(assembler, old)
    old.is_closed = True
    new = FakeImage(5)
    for flags, offset, chunk in fragments(5, 0, b"y" * 150):
        deliver(assembler, 5, flags, offset, chunk, image=new)
    assert got == [b"y" * 150]
