"""The C hot-path kernels of AtomicBuffer agree with their pure-Python twins."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.atomic_buffer import HAVE_C_EXTENSION, AtomicBuffer, PyAtomicBuffer

HEADER = struct.Struct("<ibBhiiiiq")
TERM = 4096


@st.composite
def term_layouts(draw: st.DrawFn) -> bytes:
    """A term with a random run of frames (data, pad, holes) from offset 0."""
    term = bytearray(TERM)
    offset = 0
    while offset < TERM - 32:
        kind = draw(st.sampled_from(["data", "data", "data", "pad", "hole", "stop"]))
        if kind == "stop":
            break
        length = draw(st.integers(32, 600))
        aligned = (length + 31) & ~31
        if offset + aligned > TERM:
            break
        if kind != "hole":
            frame_type = 0 if kind == "pad" else 1
            HEADER.pack_into(term, offset, length, 0, 0xC0, frame_type, offset, 7, 9, 1, 0)
            term[offset + 32 : offset + length] = bytes([offset & 0xFF]) * (length - 32)
        offset += aligned
    return bytes(term)


def pair(data: bytes) -> tuple[object, object]:
    return AtomicBuffer(bytearray(data)), PyAtomicBuffer(bytearray(data))


@settings(max_examples=200, deadline=None)
@given(term=term_layouts(), start=st.integers(0, TERM // 32 - 1), max_length=st.integers(0, 5000))
def test_scan_for_availability_matches_twin(term: bytes, start: int, max_length: int) -> None:
    c, py = pair(term)
    assert c.scan_for_availability(start * 32, max_length, 0) == py.scan_for_availability(start * 32, max_length, 0)  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=None)
@given(
    existing=term_layouts(),
    datagram=term_layouts(),
    cut=st.integers(0, TERM),
    dst=st.integers(0, TERM // 32 - 1),
)
def test_insert_frames_matches_twin(existing: bytes, datagram: bytes, cut: int, dst: int) -> None:
    c, py = pair(existing)
    length = cut & ~31
    assert c.insert_frames(dst * 32, datagram, length) == py.insert_frames(dst * 32, datagram, length)  # type: ignore[attr-defined]
    assert bytes(memoryview(c)) == bytes(py._mv)  # type: ignore[attr-defined,arg-type]


def test_insert_frames_skips_frames_already_present() -> None:
    frame = bytearray(64)
    HEADER.pack_into(frame, 0, 32, 0, 0xC0, 1, 0, 1, 1, 1, 0)
    HEADER.pack_into(frame, 32, 32, 0, 0xC0, 1, 32, 1, 1, 1, 0)
    for buf in pair(bytes(128)):
        buf.put_int32(32, 99)  # type: ignore[attr-defined]
        assert buf.insert_frames(0, frame, 64) == 64  # type: ignore[attr-defined]
        assert buf.get_int32(0) == 32 and buf.get_int32(32) == 99  # type: ignore[attr-defined]


def test_extension_present() -> None:
    assert HAVE_C_EXTENSION
