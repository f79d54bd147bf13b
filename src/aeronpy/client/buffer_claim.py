"""BufferClaim: a frame reserved in a term by ``try_claim``, written in place then committed."""

from __future__ import annotations

from typing import Any

from aeronpy.logbuffer.term_appender import source_view
from aeronpy.protocol.data_header import HDR_TYPE_PAD, RESERVED_VALUE_OFFSET, TYPE_OFFSET


class BufferClaim:
    """Payload region ``[offset, offset + length)`` of ``buffer`` (the term buffer)."""

    __slots__ = ("buffer", "offset", "length")

    def __init__(self) -> None:
        self.buffer: Any = None
        self.offset = 0
        self.length = 0

    def wrap(self, buffer: Any, offset: int, length: int) -> None:
        """Point at a claimed payload (called by the publication)."""
        self.buffer = buffer
        self.offset = offset
        self.length = length

    def _require(self) -> Any:
        if self.buffer is None:
            raise ValueError("BufferClaim is not holding a claim")
        return self.buffer

    def put_bytes(self, src: Any, src_offset: int = 0, length: int = -1) -> None:
        """Copy ``src[src_offset:src_offset+length]`` to the start of the payload."""
        buffer = self._require()
        src, n = source_view(src)
        if length < 0:
            length = n - src_offset
        if length > self.length:
            raise ValueError(f"length {length} exceeds the claimed {self.length} bytes")
        buffer.put_bytes(self.offset, src, src_offset, length)

    def reserved_value(self, value: int) -> None:
        """Set the frame header's reserved value."""
        self._require().put_int64(self.offset - 32 + RESERVED_VALUE_OFFSET, value)

    def commit(self) -> None:
        """Publish the frame to readers (release store of the frame length)."""
        buffer = self._require()
        buffer.put_int32_ordered(self.offset - 32, self.length + 32)
        self.buffer = None

    def abort(self) -> None:
        """Turn the frame into padding that readers skip."""
        buffer = self._require()
        buffer.put_uint16(self.offset - 32 + TYPE_OFFSET, HDR_TYPE_PAD)
        buffer.put_int32_ordered(self.offset - 32, self.length + 32)
        self.buffer = None
