"""Unblocker (driver side, log-buffer.md §7): pad over a frame a dead publisher reserved.

A concurrent publisher that dies between reserving space (fetch-add on the tail) and
committing leaves ``frame_length <= 0`` at the consumer position forever; the driver turns
that region into a PAD frame so consumers and other publishers can move on.
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import Any, Sequence

from aeronpy.logbuffer import descriptor as d
from aeronpy.protocol.data_header import HDR_TYPE_PAD



class UnblockStatus(IntEnum):
    NO_ACTION = 0
    UNBLOCKED = 1
    UNBLOCKED_TO_END = 2


def reset_header(metadata: Any, term_buffer: Any, term_offset: int, term_id: int, frame_length: int) -> None:
    """Write a PAD frame of ``frame_length`` at ``term_offset`` from the default header."""
    hdr = bytearray(metadata.get_bytes(d.LOG_DEFAULT_FRAME_HEADER_OFFSET, 32))
    struct.pack_into("<h", hdr, 6, HDR_TYPE_PAD)
    struct.pack_into("<i", hdr, 8, term_offset)
    struct.pack_into("<i", hdr, 20, term_id)
    term_buffer.put_bytes(term_offset + 4, hdr, 4, 28)
    term_buffer.put_int32_ordered(term_offset, frame_length)


def _zeroed_back(term_buffer: Any, start: int, limit: int) -> bool:
    i = start - 32
    while i >= limit:
        if term_buffer.get_int32_volatile(i) != 0:
            return False
        i -= 32
    return True


def unblock(
    metadata: Any, term_buffer: Any, blocked_offset: int, tail_offset: int, term_id: int
) -> UnblockStatus:
    """Pad a stuck frame (negative length) or a zero hole at ``blocked_offset`` in one term."""
    term_length = term_buffer.capacity
    frame_length = term_buffer.get_int32_volatile(blocked_offset)
    if frame_length < 0:
        reset_header(metadata, term_buffer, blocked_offset, term_id, -frame_length)
        return UnblockStatus.UNBLOCKED
    if frame_length > 0:
        return UnblockStatus.NO_ACTION
    status = UnblockStatus.NO_ACTION
    current = blocked_offset + 32
    while current < tail_offset:
        if term_buffer.get_int32_volatile(current) != 0:
            if _zeroed_back(term_buffer, current, blocked_offset):
                reset_header(metadata, term_buffer, blocked_offset, term_id, current - blocked_offset)
                status = UnblockStatus.UNBLOCKED
            break
        current += 32
    if current == term_length and term_buffer.get_int32_volatile(blocked_offset) == 0:
        reset_header(metadata, term_buffer, blocked_offset, term_id, current - blocked_offset)
        status = UnblockStatus.UNBLOCKED_TO_END
    return status


def unblock_log(term_buffers: Sequence[Any], metadata: Any, blocked_position: int) -> bool:
    """Unblock the log at ``blocked_position`` (the consumer position that stopped moving).

    Returns True if something was padded or the log was rotated.
    """
    term_length = term_buffers[0].capacity
    bits = d.position_bits_to_shift(term_length)
    blocked_term_count = d._i32(blocked_position >> bits)
    blocked_index = blocked_term_count % d.PARTITION_COUNT
    active_count = d.active_term_count(metadata)
    raw = d.raw_tail_volatile(metadata, blocked_index)
    term_id = d.term_id(raw)
    tail_offset = d.term_offset(raw, term_length)
    blocked_offset = d.compute_term_offset_from_position(blocked_position, bits)

    if active_count == blocked_term_count - 1 and blocked_offset == 0:
        current_raw = d.raw_tail_volatile(metadata, active_count % d.PARTITION_COUNT)
        return bool(d.rotate_log(metadata, active_count, d.term_id(current_raw)))

    status = unblock(metadata, term_buffers[blocked_index], blocked_offset, tail_offset, term_id)
    if status == UnblockStatus.UNBLOCKED_TO_END:
        d.rotate_log(metadata, blocked_term_count, term_id)
        return True  # the padding was written; the rotation may already have been done by a producer
    return status == UnblockStatus.UNBLOCKED
