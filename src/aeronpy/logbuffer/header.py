"""Header: a flyweight over the DATA frame header of the fragment being delivered."""

from __future__ import annotations

from typing import Any

from aeronpy._logbuffer import HeaderBase
from aeronpy.protocol import data_header as dh


class Header(HeaderBase):
    """Frame header of the current fragment; ``buffer``/``offset`` locate the frame start.

    Readers reuse one instance and just reassign ``buffer`` and ``offset`` per fragment (the C
    reader writes them in place through :class:`HeaderBase`), so a handler must copy what it
    needs before returning.
    """

    __slots__ = ("initial_term_id", "position_bits_to_shift", "fragmented_frame_length", "context")

    def __init__(self, initial_term_id: int, position_bits_to_shift: int, context: Any = None) -> None:
        self.initial_term_id = initial_term_id
        self.position_bits_to_shift = position_bits_to_shift
        self.buffer: Any = None
        self.offset = 0
        self.fragmented_frame_length = -1
        self.context = context

    def wrap(self, buffer: Any, offset: int) -> None:
        self.buffer = buffer
        self.offset = offset

    @property
    def frame_length(self) -> int:
        return int(self.buffer.get_int32(self.offset))

    @property
    def version(self) -> int:
        return int(self.buffer.get_uint8(self.offset + dh.VERSION_OFFSET))

    @property
    def flags(self) -> int:
        return int(self.buffer.get_uint8(self.offset + dh.FLAGS_OFFSET))

    @property
    def type(self) -> int:
        return int(self.buffer.get_uint16(self.offset + dh.TYPE_OFFSET))

    @property
    def term_offset(self) -> int:
        return int(self.buffer.get_int32(self.offset + dh.TERM_OFFSET_OFFSET))

    @property
    def session_id(self) -> int:
        return int(self.buffer.get_int32(self.offset + dh.SESSION_ID_OFFSET))

    @property
    def stream_id(self) -> int:
        return int(self.buffer.get_int32(self.offset + dh.STREAM_ID_OFFSET))

    @property
    def term_id(self) -> int:
        return int(self.buffer.get_int32(self.offset + dh.TERM_ID_OFFSET))

    @property
    def reserved_value(self) -> int:
        return int(self.buffer.get_int64(self.offset + dh.RESERVED_VALUE_OFFSET))

    @property
    def next_term_offset(self) -> int:
        """Aligned term offset just after this frame (or the whole reassembled message)."""
        length = max(self.frame_length, self.fragmented_frame_length)
        return (self.term_offset + length + 31) & ~31

    @property
    def position(self) -> int:
        """Stream position just after this frame (log-buffer.md §4)."""
        term_count = ((self.term_id - self.initial_term_id + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        return (term_count << self.position_bits_to_shift) + self.next_term_offset

    @property
    def term_length(self) -> int:
        return 1 << self.position_bits_to_shift

    def __repr__(self) -> str:
        if self.buffer is None:
            return "Header(unset)"
        return (
            f"Header(frame_length={self.frame_length}, flags={self.flags:#x}, type={self.type}, "
            f"term_offset={self.term_offset}, session_id={self.session_id}, "
            f"stream_id={self.stream_id}, term_id={self.term_id}, position={self.position})"
        )
