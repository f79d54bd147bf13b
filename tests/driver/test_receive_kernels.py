"""The receiver's C kernels agree with their Python twins: the datagram check before a rebuild
(``validate_data_frames``) and the loss scan (``scan_for_gap``)."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.atomic_buffer import HAVE_C_EXTENSION, AtomicBuffer, PyAtomicBuffer
from aeronpy.driver import loss_detector
from aeronpy.driver.loss_detector import Gap, scan_for_gap_offset
from aeronpy.driver.publication_image import validate_data_frames_py

pytestmark = pytest.mark.skipif(not HAVE_C_EXTENSION, reason="no C extension")

if HAVE_C_EXTENSION:
    from aeronpy._atomic import scan_for_gap, validate_data_frames

HEADER = struct.Struct("<ibBhiiiiq")
TERM_LENGTH = 64 * 1024


@st.composite
def datagrams(draw: st.DrawFn) -> tuple[bytes, int, int]:
    """(datagram, length, term_offset): mostly well-formed runs of frames, then mutated."""
    term_offset = draw(st.integers(0, TERM_LENGTH // 32 - 1)) * 32
    out = bytearray()
    next_offset = term_offset
    for _ in range(draw(st.integers(0, 6))):
        frame_type = draw(st.sampled_from([1, 1, 1, 0]))
        length = draw(st.integers(32, 400))
        aligned = (length + 31) & ~31
        frame = bytearray(aligned if frame_type == 1 else 32)
        HEADER.pack_into(frame, 0, length, 0, 0xC0, frame_type, next_offset, 7, 9, 1, 0)
        out += frame
        next_offset += aligned
        if frame_type == 0:
            break
    for _ in range(draw(st.integers(0, 3))):  # corrupt a byte here and there
        if out:
            i = draw(st.integers(0, len(out) - 1))
            out[i] = draw(st.integers(0, 255))
    length = draw(st.one_of(st.just(len(out)), st.integers(0, len(out) + 64)))
    offset = draw(st.one_of(st.just(term_offset), st.integers(-64, TERM_LENGTH + 64)))
    return bytes(out), length, offset


@settings(max_examples=400, deadline=None)
@given(case=datagrams(), term_length=st.sampled_from([TERM_LENGTH, 1024, 4096]))
def test_validate_data_frames_matches_twin(case: tuple[bytes, int, int], term_length: int) -> None:
    datagram, length, term_offset = case
    expected = validate_data_frames_py(memoryview(datagram), length, term_offset, term_length)
    assert validate_data_frames(datagram, length, term_offset, term_length) == expected


def test_validate_accepts_a_well_formed_batch_and_a_trailing_pad() -> None:
    frames = bytearray(64 + 32)
    HEADER.pack_into(frames, 0, 40, 0, 0xC0, 1, 128, 7, 9, 1, 0)
    HEADER.pack_into(frames, 64, 500, 0, 0, 0, 192, 7, 9, 1, 0)  # PAD: only its header is sent
    for check in (validate_data_frames, validate_data_frames_py):
        assert check(frames, len(frames), 128, TERM_LENGTH) == 64 + 512
        assert check(frames, len(frames), 160, TERM_LENGTH) == -1  # term offset does not match
        assert check(frames[:64], 60, 128, TERM_LENGTH) == -1  # a cut-off DATA frame


@st.composite
def terms(draw: st.DrawFn) -> bytes:
    """A term with frames, holes and stray non-zero words."""
    term = bytearray(4096)
    offset = 0
    while offset < len(term) - 32:
        kind = draw(st.sampled_from(["frame", "frame", "hole", "junk", "stop"]))
        if kind == "stop":
            break
        length = draw(st.integers(1, 300)) if kind == "frame" else 32 * draw(st.integers(1, 4))
        aligned = (length + 31) & ~31
        if offset + aligned > len(term):
            break
        if kind == "frame":
            HEADER.pack_into(term, offset, length, 0, 0xC0, 1, offset, 7, 9, 1, 0)
        elif kind == "junk":
            struct.pack_into("<i", term, offset, draw(st.integers(-(2**31), 2**31 - 1)))
        offset += aligned
    return bytes(term)


@settings(max_examples=400, deadline=None)
@given(term=terms(), start=st.integers(0, 4096 // 32), limit=st.integers(-32, 4096 + 64))
def test_scan_for_gap_matches_twin(term: bytes, start: int, limit: int) -> None:
    c_term, py_term = AtomicBuffer(bytearray(term)), PyAtomicBuffer(bytearray(term))
    expected: Any
    try:
        expected = scan_for_gap_offset(py_term, 5, start * 32, limit)
    except IndexError:
        expected = IndexError
    try:
        begin, gap_length = scan_for_gap(c_term, start * 32, limit)
        got: Any = (begin, Gap(5, begin, gap_length) if gap_length else None)
    except IndexError:
        got = IndexError
    assert got == expected
    if expected is not IndexError:  # the loss detector takes the kernel for a C buffer
        assert scan_for_gap_offset(c_term, 5, start * 32, limit) == expected


def test_scan_for_gap_finds_the_hole_and_its_end() -> None:
    term = AtomicBuffer(bytearray(1024))
    HEADER.pack_into(memoryview(term), 0, 64, 0, 0xC0, 1, 0, 7, 9, 1, 0)
    HEADER.pack_into(memoryview(term), 160, 32, 0, 0xC0, 1, 160, 7, 9, 1, 0)
    assert scan_for_gap(term, 0, 1024) == (64, 96)
    assert scan_for_gap(term, 0, 64) == (64, 0)
    assert scan_for_gap(term, 160, 192) == (192, 0)
    with pytest.raises(ValueError, match="aligned"):
        scan_for_gap(term, 4, 64)
    assert loss_detector._scan_for_gap is scan_for_gap


@settings(max_examples=30, deadline=None)
@given(frame_length=st.integers(32, 8192), count=st.integers(1, 16), holes=st.sets(st.integers(0, 15)))
def test_long_kernels_without_the_gil_match_twins(frame_length: int, count: int, holes: set[int]) -> None:
    """insert_frames of a datagram >= 16 KiB and scan_for_gap over > 64 KiB run with the GIL
    released: the same results as the twins."""
    aligned = (frame_length + 31) & ~31
    datagram = bytearray(aligned * count)
    for i in range(count):
        HEADER.pack_into(datagram, i * aligned, frame_length, 0, 0xC0, 1, i * aligned, 7, 9, 1, 0)
    datagram = datagram + bytearray(max(0, 16384 - len(datagram)))  # at least the no-GIL length
    existing = bytearray(256 * 1024)
    for i in holes:  # frames already there are not overwritten
        HEADER.pack_into(existing, i * aligned, 32, 0, 0xC0, 1, i * aligned, 1, 1, 1, 0)
    c, py = AtomicBuffer(bytearray(existing)), PyAtomicBuffer(bytearray(existing))
    assert c.insert_frames(0, datagram, len(datagram)) == py.insert_frames(0, datagram, len(datagram))  # type: ignore[attr-defined]
    assert bytes(memoryview(c)) == bytes(py._mv)  # type: ignore[arg-type]
    limit = 200 * 1024
    begin, gap_length = scan_for_gap(c, 0, limit)
    assert (begin, Gap(5, begin, gap_length) if gap_length else None) == scan_for_gap_offset(py, 5, 0, limit)
