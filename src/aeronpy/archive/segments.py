"""Segment files ``<recordingId>-<segmentBasePosition>.rec`` (archive.md §4.3) and crash
recovery of stop positions from them (§5.4)."""

from __future__ import annotations

import mmap
import os
import re
import struct
from collections.abc import Callable

from aeronpy.archive.errors import IncompleteFragmentError
from aeronpy.protocol.data_header import HDR_TYPE_PAD, HEADER_LENGTH, TYPE_OFFSET

__all__ = [
    "SEGMENT_FILE_SUFFIX",
    "segment_file_name",
    "segment_file_base_position",
    "parse_segment_file_name",
    "list_segment_files",
    "recover_stop_position",
    "PAGE_SIZE",
]

SEGMENT_FILE_SUFFIX = ".rec"
DELETE_SUFFIX = ".del"
PAGE_SIZE = 4096
_NAME = re.compile(r"^(-?\d+)-(-?\d+)\.rec$")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")


def segment_file_name(recording_id: int, segment_base_position: int) -> str:
    return f"{recording_id}-{segment_base_position}{SEGMENT_FILE_SUFFIX}"


def parse_segment_file_name(name: str) -> tuple[int, int] | None:
    """``(recordingId, segmentBasePosition)`` of a segment file name, else None."""
    m = _NAME.match(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def segment_file_base_position(start_position: int, position: int, term_length: int, segment_length: int) -> int:
    """Base position of the segment holding ``position``: segments are aligned to the term
    containing ``start_position``, not to 0."""
    start_term_base = start_position - (start_position & (term_length - 1))
    return start_term_base + ((position - start_term_base) // segment_length) * segment_length


def list_segment_files(archive_dir: str, recording_id: int) -> list[int]:
    """Sorted segment base positions of ``recording_id``'s files in ``archive_dir``."""
    bases = []
    for name in os.listdir(archive_dir):
        parsed = parse_segment_file_name(name)
        if parsed is not None and parsed[0] == recording_id:
            bases.append(parsed[1])
    return sorted(bases)


def scan_segment_end(data: bytes | mmap.mmap, offset: int, limit: int) -> tuple[int, int]:
    """Walk frames from ``offset`` until a frame length ``<= 0`` or ``limit``.

    Returns ``(end_offset, last_frame_offset)`` (last is -1 when no frame was found)."""
    last = -1
    while offset + HEADER_LENGTH <= limit:
        (frame_length,) = _I32.unpack_from(data, offset)
        if frame_length <= 0:
            break
        aligned = (frame_length + 31) & ~31
        if offset + aligned > limit:
            break
        last = offset
        offset += aligned
    return offset, last


def _last_fragment_complete(
    data: bytes | mmap.mmap, frame_offset: int, checksum: Callable[[bytes], int] | None
) -> bool:
    (frame_length,) = _I32.unpack_from(data, frame_offset)
    end = frame_offset + ((frame_length + 31) & ~31)
    first_page = frame_offset // PAGE_SIZE
    last_page = (end - 1) // PAGE_SIZE
    if first_page == last_page:
        return True
    (frame_type,) = struct.unpack_from("<H", data, frame_offset + TYPE_OFFSET)
    if frame_type == HDR_TYPE_PAD:
        return True
    if checksum is not None:
        (stored,) = _I32.unpack_from(data, frame_offset + 12)
        return bool(checksum(bytes(data[frame_offset + HEADER_LENGTH : end])) == stored)
    for page in range(first_page + 1, last_page + 1):
        lo = max(page * PAGE_SIZE, frame_offset)
        hi = min((page + 1) * PAGE_SIZE, end)
        if not any(_I64.unpack_from(data, at)[0] for at in range(lo, hi - 7, 8)):
            return False
    return True


def recover_stop_position(
    archive_dir: str,
    recording_id: int,
    start_position: int,
    term_length: int,
    segment_length: int,
    checksum: Callable[[bytes], int] | None = None,
) -> int:
    """Rebuild the stop position of a recording that was active when the archive died.

    Raises :class:`IncompleteFragmentError` if the last frame straddles a page boundary and
    cannot be shown complete (checksum, or every later page non-zero)."""
    bases = list_segment_files(archive_dir, recording_id)
    if not bases:
        return start_position
    base = bases[-1]
    start_term_base = start_position - (start_position & (term_length - 1))
    offset = start_position & (term_length - 1) if base == start_term_base else 0
    if base < start_term_base:
        return start_position
    path = os.path.join(archive_dir, segment_file_name(recording_id, base))
    size = os.path.getsize(path)
    if size == 0:
        return max(base + offset, start_position)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as mm:
        end, last = scan_segment_end(mm, offset, min(size, segment_length))
        if last >= 0 and not _last_fragment_complete(mm, last, checksum):
            raise IncompleteFragmentError(
                f"Found potentially incomplete last fragment straddling page boundary in file: {path}\n"
                "Run ArchiveTool verify for corrective action!"
            )
    return max(base + end, start_position)
