"""BufferClaim: a frame reserved in a term by ``try_claim``, written in place then committed.

:class:`BufferClaim` keeps its fields and ``wrap``/``commit``/``abort`` in the C base
:class:`aeronpy._logbuffer.ClaimBase` (the C ``try_claim`` fills the fields directly, so a
claim and its commit are two C calls); :class:`PyBufferClaim` is its pure-Python twin, the
oracle the tests compare it with.
"""

from __future__ import annotations

from typing import Any

from aeronpy._logbuffer import ClaimBase
from aeronpy.logbuffer.term_appender import source_view
from aeronpy.protocol.data_header import HDR_TYPE_PAD, RESERVED_VALUE_OFFSET, TYPE_OFFSET


class _ClaimAccess:
    """The Python-level accessors both claims share (rare per message: no C needed)."""

    __slots__ = ()
    buffer: Any
    offset: int
    length: int

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


class BufferClaim(ClaimBase, _ClaimAccess):
    """Payload region ``[offset, offset + length)`` of ``buffer`` (the term buffer).

    ``commit()`` publishes the frame to readers (release store of its length), ``abort()``
    turns it into padding that readers skip; either ends the claim (``buffer`` becomes
    ``None``; using it again raises ``ValueError``)."""

    __slots__ = ()


class PyBufferClaim(_ClaimAccess):
    """Pure-Python twin of :class:`BufferClaim`."""

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
