"""Segment naming, base positions and crash recovery of stop positions."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aeronpy.archive.catalog import checksum_function
from aeronpy.archive.errors import IncompleteFragmentError
from aeronpy.archive.segments import (
    list_segment_files,
    parse_segment_file_name,
    recover_stop_position,
    segment_file_base_position,
    segment_file_name,
)

TERM = 64 * 1024
SEG = 128 * 1024


def test_names() -> None:
    assert segment_file_name(7, 134217728) == "7-134217728.rec"
    assert parse_segment_file_name("7-0.rec") == (7, 0)
    assert parse_segment_file_name("7-0.rec.del") is None
    assert parse_segment_file_name("archive.catalog") is None


def test_base_is_aligned_to_the_start_term() -> None:
    # The spec's example: joining at 1,000,000 with 64 KiB terms starts in <id>-983040.rec at offset 16,960.
    base = segment_file_base_position(1_000_000, 1_000_000, TERM, 128 * 1024 * 1024)
    assert base == 983040 and 1_000_000 - base == 16960


@given(st.integers(0, 1 << 40), st.integers(0, 1 << 40), st.sampled_from([1 << 16, 1 << 20]), st.sampled_from([1, 2, 8]))
def test_base_position_properties(start: int, delta: int, term: int, multiple: int) -> None:
    seg = term * multiple
    start &= ~31
    pos = start + delta
    base = segment_file_base_position(start, pos, term, seg)
    assert base <= pos < base + seg
    assert (base - (start - start % term)) % seg == 0


def _frame(length: int, term_offset: int, session: int = 1, stream: int = 2, term_id: int = 0, ftype: int = 1) -> bytes:
    aligned = (length + 31) & ~31
    hdr = struct.pack("<iBBhiiiiq", length, 0, 0xC0, ftype, term_offset, session, stream, term_id, 0)
    payload = bytes((i % 251) + 1 for i in range(length - 32))
    return hdr + payload + bytes(aligned - length)


def _write(path: Path, offset: int, data: bytes, size: int = SEG) -> None:
    buf = bytearray(size)
    buf[offset : offset + len(data)] = data
    path.write_bytes(bytes(buf))


def test_recover_from_last_segment(tmp_path: Path) -> None:
    frames = b"".join(_frame(100, i * 128) for i in range(10))
    _write(tmp_path / "3-0.rec", 0, frames)
    assert list_segment_files(str(tmp_path), 3) == [0]
    assert recover_stop_position(str(tmp_path), 3, 0, TERM, SEG) == 1280
    _write(tmp_path / "3-131072.rec", 0, frames[:256])
    assert list_segment_files(str(tmp_path), 3) == [0, 131072]
    assert recover_stop_position(str(tmp_path), 3, 0, TERM, SEG) == 131072 + 256


def test_recover_with_late_start_and_no_files(tmp_path: Path) -> None:
    assert recover_stop_position(str(tmp_path), 1, 4096, TERM, SEG) == 4096
    start = TERM + 1024
    _write(tmp_path / f"1-{TERM}.rec", 1024, _frame(64, 1024))
    assert recover_stop_position(str(tmp_path), 1, start, TERM, SEG) == start + 64


def test_straddling_torn_fragment_refuses(tmp_path: Path) -> None:
    frame = bytearray(_frame(4000, 3968))  # starts at 3968, crosses 4096
    frame[128:] = bytes(len(frame) - 128)  # the page from 4096 on never reached the disk
    _write(tmp_path / "2-0.rec", 3968, bytes(frame))
    with pytest.raises(IncompleteFragmentError, match="straddling page boundary"):
        recover_stop_position(str(tmp_path), 2, 3968, TERM, SEG)
    _write(tmp_path / "2-0.rec", 3968, _frame(4000, 3968))
    assert recover_stop_position(str(tmp_path), 2, 3968, TERM, SEG) == 3968 + ((4000 + 31) & ~31)


def test_straddle_proven_by_checksum(tmp_path: Path) -> None:
    crc = checksum_function("CRC-32")
    assert crc is not None
    frame = bytearray(_frame(4000, 3968))
    aligned = len(frame)
    frame[128:] = bytes(aligned - 128)  # zero page after the straddle: looks torn without a checksum
    struct.pack_into("<i", frame, 12, crc(bytes(frame[32:aligned])))
    _write(tmp_path / "5-0.rec", 3968, bytes(frame))
    assert recover_stop_position(str(tmp_path), 5, 3968, TERM, SEG, crc) == 3968 + aligned
    struct.pack_into("<i", frame, 12, 12345)
    _write(tmp_path / "5-0.rec", 3968, bytes(frame))
    with pytest.raises(IncompleteFragmentError):
        recover_stop_position(str(tmp_path), 5, 3968, TERM, SEG, crc)
