"""Term appenders (log-buffer.md §6): concurrent (fetch-add on the raw tail) and exclusive.

Frame write protocol: release-store ``-frame_length``, write header fields and payload, then
release-store ``+frame_length`` (the commit).  Sources are any C-contiguous buffer.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Optional

from aeronpy.concurrent.atomic_buffer import PyAtomicBuffer, view_of
from aeronpy.logbuffer import descriptor as d
from aeronpy.protocol.data_header import (
    BEGIN_AND_END_FLAGS,
    BEGIN_FLAG,
    END_FLAG,
    HDR_TYPE_DATA,
    HDR_TYPE_PAD,
)

ReservedValueSupplier = Callable[[Any, int, int], int]
"""``supplier(term_buffer, frame_offset, frame_length) -> reserved value``."""

# header bytes 4..31: version, flags, type, term_offset, session_id, stream_id, term_id, reserved
HEADER_TAIL = struct.Struct("<BBhiiiiq")

ADMIN_ACTION = -3
MAX_POSITION_EXCEEDED = -5
TRIPPED = -2
"""Exclusive appender result: the term end was reached (padded), rotate and retry."""


def source_view(src: Any) -> tuple[Any, int]:
    """A buffer ``put_bytes`` accepts for ``src`` and its length in bytes."""
    t = type(src)
    if t is bytes or t is bytearray:
        return src, len(src)
    if isinstance(src, PyAtomicBuffer):
        mv = view_of(src)
        return mv, mv.nbytes
    mv = memoryview(src)
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    return mv, mv.nbytes


def write_pad(tb: Any, term_offset: int, term_length: int, term_id: int, session_id: int, stream_id: int) -> None:
    """Pad from ``term_offset`` to the end of the term (nothing if already at the end)."""
    if term_offset < term_length:
        length = term_length - term_offset
        tb.put_int32_ordered(term_offset, -length)
        tb.put_bytes(
            term_offset + 4,
            HEADER_TAIL.pack(0, BEGIN_AND_END_FLAGS, HDR_TYPE_PAD, term_offset, session_id, stream_id, term_id, 0),
        )
        tb.put_int32_ordered(term_offset, length)


class _AppenderBase:
    __slots__ = (
        "term_buffers", "metadata", "session_id", "stream_id", "initial_term_id", "term_length",
        "bits", "max_payload_length", "max_message_length", "max_possible_position",
    )

    def __init__(
        self, term_buffers: list[Any], metadata: Any, session_id: int, stream_id: int,
        initial_term_id: int, mtu_length: int,
    ) -> None:
        self.term_buffers = tuple(term_buffers)
        self.metadata = metadata
        self.session_id = session_id
        self.stream_id = stream_id
        self.initial_term_id = initial_term_id
        self.term_length: int = term_buffers[0].capacity
        self.bits = d.position_bits_to_shift(self.term_length)
        self.max_payload_length = mtu_length - 32
        self.max_message_length = d.max_message_length(self.term_length)
        self.max_possible_position = self.term_length << 31

    def _supply(
        self, rvs: ReservedValueSupplier, tb: Any, frame_offset: int, frame_length: int, end: int, term_id: int
    ) -> int:
        """Call the reserved-value supplier; if it raises, the rest of the reservation
        ``[frame_offset, end)`` becomes one PAD frame (the stream moves on) and the error propagates."""
        try:
            return rvs(tb, frame_offset, frame_length)
        except BaseException:
            write_pad(tb, frame_offset, end, term_id, self.session_id, self.stream_id)
            raise

    def _write_fragments(
        self, tb: Any, frame_offset: int, term_id: int, src: Any, src_offset: int, length: int,
        rvs: Optional[ReservedValueSupplier],
    ) -> None:
        max_payload = self.max_payload_length
        start = frame_offset
        session_id = self.session_id
        stream_id = self.stream_id
        pack = HEADER_TAIL.pack
        flags = BEGIN_FLAG
        remaining = length
        while True:
            n = remaining if remaining < max_payload else max_payload
            frame_length = n + 32
            if remaining <= max_payload:
                flags |= END_FLAG
            tb.put_int32_ordered(frame_offset, -frame_length)
            tb.put_bytes(frame_offset + 4, pack(0, flags, HDR_TYPE_DATA, frame_offset, session_id, stream_id, term_id, 0))
            tb.put_bytes(frame_offset + 32, src, src_offset, n)
            if rvs is not None:
                end = start + d.compute_fragmented_length(length, max_payload)
                tb.put_int64(frame_offset + 24, self._supply(rvs, tb, frame_offset, frame_length, end, term_id))
            tb.put_int32_ordered(frame_offset, frame_length)
            remaining -= n
            if remaining <= 0:
                return
            flags = 0
            src_offset += n
            frame_offset += (frame_length + 31) & ~31


class TermAppender(_AppenderBase):
    """Concurrent appender: many writers (threads or processes) reserve space by fetch-add."""

    __slots__ = ()

    def _end_of_log(self, tb: Any, term_offset: int, term_id: int, position: int) -> int:
        write_pad(tb, term_offset, self.term_length, term_id, self.session_id, self.stream_id)
        if position >= self.max_possible_position:
            return MAX_POSITION_EXCEEDED
        term_count = ((term_id - self.initial_term_id + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        d.rotate_log(self.metadata, term_count, term_id)
        return ADMIN_ACTION

    def append_unfragmented(
        self, index: int, src: Any, src_offset: int, length: int, rvs: Optional[ReservedValueSupplier]
    ) -> int:
        """Append one frame into partition ``index``; new position or ADMIN_ACTION/MAX_POSITION_EXCEEDED."""
        frame_length = length + 32
        aligned = (frame_length + 31) & ~31
        raw: int = self.metadata.get_and_add_int64(index << 3, aligned)
        term_id = raw >> 32
        term_offset = raw & 0xFFFFFFFF
        term_length = self.term_length
        if term_offset > term_length:
            term_offset = term_length
        resulting = term_offset + aligned
        position = (
            (((term_id - self.initial_term_id + 0x80000000) & 0xFFFFFFFF) - 0x80000000) << self.bits
        ) + resulting
        tb = self.term_buffers[index]
        if resulting > term_length:
            return self._end_of_log(tb, term_offset, term_id, position)
        tb.put_int32_ordered(term_offset, -frame_length)
        tb.put_bytes(
            term_offset + 4,
            HEADER_TAIL.pack(0, 0xC0, 1, term_offset, self.session_id, self.stream_id, term_id, 0),
        )
        tb.put_bytes(term_offset + 32, src, src_offset, length)
        if rvs is not None:
            value = self._supply(rvs, tb, term_offset, frame_length, term_offset + aligned, term_id)
            tb.put_int64(term_offset + 24, value)
        tb.put_int32_ordered(term_offset, frame_length)
        return position

    def append_fragmented(
        self, index: int, src: Any, src_offset: int, length: int, rvs: Optional[ReservedValueSupplier]
    ) -> int:
        """Append a message split into ``max_payload_length`` fragments, reserved in one step."""
        required = d.compute_fragmented_length(length, self.max_payload_length)
        raw: int = self.metadata.get_and_add_int64(index << 3, required)
        term_id = raw >> 32
        term_offset = min(raw & 0xFFFFFFFF, self.term_length)
        resulting = term_offset + required
        position = (d.compute_term_count(term_id, self.initial_term_id) << self.bits) + resulting
        tb = self.term_buffers[index]
        if resulting > self.term_length:
            return self._end_of_log(tb, term_offset, term_id, position)
        self._write_fragments(tb, term_offset, term_id, src, src_offset, length, rvs)
        return position

    def claim(self, index: int, length: int, buffer_claim: Any) -> int:
        """Reserve one frame and hand its payload to ``buffer_claim``; position or a result code."""
        frame_length = length + 32
        aligned = (frame_length + 31) & ~31
        raw: int = self.metadata.get_and_add_int64(index << 3, aligned)
        term_id = raw >> 32
        term_offset = min(raw & 0xFFFFFFFF, self.term_length)
        resulting = term_offset + aligned
        position = (d.compute_term_count(term_id, self.initial_term_id) << self.bits) + resulting
        tb = self.term_buffers[index]
        if resulting > self.term_length:
            return self._end_of_log(tb, term_offset, term_id, position)
        tb.put_int32_ordered(term_offset, -frame_length)
        tb.put_bytes(
            term_offset + 4,
            HEADER_TAIL.pack(0, 0xC0, 1, term_offset, self.session_id, self.stream_id, term_id, 0),
        )
        buffer_claim.wrap(tb, term_offset + 32, length)
        return position


class ExclusiveTermAppender(_AppenderBase):
    """Single-writer appender: the caller owns term id/offset; tails are release-stored.

    Each method returns the resulting term offset, or :data:`TRIPPED` when the message did not
    fit (the rest of the term was padded; the caller rotates and retries).
    """

    __slots__ = ()

    def append_unfragmented(
        self, index: int, term_id: int, term_offset: int, src: Any, src_offset: int, length: int,
        rvs: Optional[ReservedValueSupplier],
    ) -> int:
        frame_length = length + 32
        resulting = term_offset + ((frame_length + 31) & ~31)
        self.metadata.put_int64_ordered(index << 3, (term_id << 32) | resulting)
        tb = self.term_buffers[index]
        if resulting > self.term_length:
            write_pad(tb, term_offset, self.term_length, term_id, self.session_id, self.stream_id)
            return TRIPPED
        tb.put_int32_ordered(term_offset, -frame_length)
        tb.put_bytes(
            term_offset + 4,
            HEADER_TAIL.pack(0, 0xC0, 1, term_offset, self.session_id, self.stream_id, term_id, 0),
        )
        tb.put_bytes(term_offset + 32, src, src_offset, length)
        if rvs is not None:
            value = self._supply(rvs, tb, term_offset, frame_length, resulting, term_id)
            tb.put_int64(term_offset + 24, value)
        tb.put_int32_ordered(term_offset, frame_length)
        return resulting

    def append_fragmented(
        self, index: int, term_id: int, term_offset: int, src: Any, src_offset: int, length: int,
        rvs: Optional[ReservedValueSupplier],
    ) -> int:
        resulting = term_offset + d.compute_fragmented_length(length, self.max_payload_length)
        self.metadata.put_int64_ordered(index << 3, (term_id << 32) | resulting)
        tb = self.term_buffers[index]
        if resulting > self.term_length:
            write_pad(tb, term_offset, self.term_length, term_id, self.session_id, self.stream_id)
            return TRIPPED
        self._write_fragments(tb, term_offset, term_id, src, src_offset, length, rvs)
        return resulting

    def claim(self, index: int, term_id: int, term_offset: int, length: int, buffer_claim: Any) -> int:
        frame_length = length + 32
        resulting = term_offset + ((frame_length + 31) & ~31)
        self.metadata.put_int64_ordered(index << 3, (term_id << 32) | resulting)
        tb = self.term_buffers[index]
        if resulting > self.term_length:
            write_pad(tb, term_offset, self.term_length, term_id, self.session_id, self.stream_id)
            return TRIPPED
        tb.put_int32_ordered(term_offset, -frame_length)
        tb.put_bytes(
            term_offset + 4,
            HEADER_TAIL.pack(0, 0xC0, 1, term_offset, self.session_id, self.stream_id, term_id, 0),
        )
        buffer_claim.wrap(tb, term_offset + 32, length)
        return resulting

    def append_padding(self, index: int, term_id: int, term_offset: int, length: int) -> int:
        """Append a PAD frame of ``length`` payload bytes (ExclusivePublication.append_padding)."""
        frame_length = length + 32
        resulting = term_offset + ((frame_length + 31) & ~31)
        self.metadata.put_int64_ordered(index << 3, (term_id << 32) | resulting)
        tb = self.term_buffers[index]
        if resulting > self.term_length:
            write_pad(tb, term_offset, self.term_length, term_id, self.session_id, self.stream_id)
            return TRIPPED
        tb.put_int32_ordered(term_offset, -frame_length)
        tb.put_bytes(
            term_offset + 4,
            HEADER_TAIL.pack(0, 0xC0, HDR_TYPE_PAD, term_offset, self.session_id, self.stream_id, term_id, 0),
        )
        tb.put_int32_ordered(term_offset, frame_length)
        return resulting
