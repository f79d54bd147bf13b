"""The 32-byte session header in front of every session message (cluster.md §2.3):
messageHeader + SessionMessageHeader, packed with one ``struct`` built from the template's
declaration in :mod:`aeronpy.cluster.codecs` (the hot paths of egress, service messages and
the log adapter use it instead of the generic SBE engine)."""

from __future__ import annotations

import struct
from typing import Any

from aeronpy.cluster.codecs import SESSION_HEADER_LENGTH, T
from aeronpy.concurrent.atomic_buffer import view_of
from aeronpy.protocol import data_header as dh
from aeronpy.protocol import sbe

__all__ = ["SESSION_HEADER", "SESSION_HEADER_PREFIX", "SESSION_MESSAGE_TEMPLATE_ID", "pack_session_header",
           "unpack_session_header", "payload_bytes", "frame_position"]

_SPEC = T.SessionMessageHeader
SESSION_MESSAGE_TEMPLATE_ID = _SPEC.template_id

# header fields then the block fields in offset order (leadership_term_id, cluster_session_id, timestamp)
SESSION_HEADER = struct.Struct(sbe.HEADER.format + _SPEC._block.format.lstrip("<"))
assert SESSION_HEADER.size == SESSION_HEADER_LENGTH
_FIELDS = tuple(f.name for f in _SPEC.ordered_fields)
assert _FIELDS == ("leadership_term_id", "cluster_session_id", "timestamp")
_PREFIX = (_SPEC.block_length, _SPEC.template_id, _SPEC.schema_id, _SPEC.version)
#: The message header values in front of the three SessionMessageHeader fields.
SESSION_HEADER_PREFIX = _PREFIX
# DATA frame header fields read by frame_position, at their data_header offsets
assert dh.FRAME_LENGTH_OFFSET == 0 and dh.TERM_OFFSET_OFFSET > 4 and dh.TERM_ID_OFFSET > dh.TERM_OFFSET_OFFSET + 4
_FRAME = struct.Struct(
    f"<i{dh.TERM_OFFSET_OFFSET - 4}xi{dh.TERM_ID_OFFSET - dh.TERM_OFFSET_OFFSET - 4}xi")


def pack_session_header(leadership_term_id: int, cluster_session_id: int, timestamp: int) -> bytes:
    return SESSION_HEADER.pack(*_PREFIX, leadership_term_id, cluster_session_id, timestamp)


def unpack_session_header(data: Any, offset: int = 0) -> tuple[int, int, int]:
    """``(leadership_term_id, cluster_session_id, timestamp)`` of the header at ``offset``."""
    _, _, _, _, term, session, ts = SESSION_HEADER.unpack_from(data, offset)
    return int(term), int(session), int(ts)


def payload_bytes(buffer: Any, offset: int = 0, length: int = -1) -> memoryview:
    """A zero-copy view of ``buffer[offset:offset+length]`` (``length`` -1 = to the end) of a
    bytes-like object or an Aeron ``AtomicBuffer``; ValueError if the range is outside it."""
    view = memoryview(buffer) if isinstance(buffer, (bytes, bytearray, memoryview)) else view_of(buffer)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    end = len(view) if length < 0 else offset + length
    if offset < 0 or end > len(view) or end < offset:
        raise ValueError(f"offset/length {offset}+{length} outside a buffer of {len(view)} bytes")
    return view[offset:end]


def frame_position(header: Any) -> int:
    """``header.position`` (stream position just after the frame, or after the whole
    reassembled message) in one read of the frame header instead of several property reads."""
    frame_length, term_offset, term_id = _FRAME.unpack(header.buffer.get_bytes(header.offset, _FRAME.size))
    fragmented = header.fragmented_frame_length
    if fragmented > frame_length:
        frame_length = fragmented
    term_count = ((term_id - header.initial_term_id + 0x80000000) & 0xFFFFFFFF) - 0x80000000
    return int((term_count << header.position_bits_to_shift) + ((term_offset + frame_length + 31) & ~31))
