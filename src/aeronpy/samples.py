"""The sample payload format shared by ``aeronpy pub/sub`` and the interop clients.

Bytes 0..7 hold the message's sequence number (little-endian int64, from 0); byte i >= 8 holds
``(seq + i) & 0xFF``.  Any Aeron client can produce and check it.
"""

from __future__ import annotations

import struct

from aeronpy.errors import InvalidArgumentError

MIN_SIZE = 8
_SEQ = struct.Struct("<q")
_PATTERN = bytes(range(256)) * 258


class PayloadFactory:
    """Builds sample payloads of one size quickly (a precomputed cyclic pattern)."""

    def __init__(self, size: int) -> None:
        if size < MIN_SIZE:
            raise InvalidArgumentError(f"size={size}: a sample payload needs at least {MIN_SIZE} bytes")
        self.size = size
        self._pattern = bytes(range(256)) * (size // 256 + 2)

    def make(self, seq: int) -> bytearray:
        start = (seq + 8) & 0xFF
        out = bytearray(_SEQ.pack(seq))
        out += self._pattern[start : start + self.size - 8]
        return out

    def tail(self, seq: int, length: int) -> bytes:
        start = (seq + 8) & 0xFF
        return self._pattern[start : start + length - 8]


def check_payload(data: bytes | bytearray | memoryview, expected_seq: int) -> str | None:
    """None if ``data`` is the sample message ``expected_seq``, else what is wrong."""
    if len(data) < MIN_SIZE:
        return f"message {expected_seq}: {len(data)} bytes is shorter than {MIN_SIZE}"
    seq = _SEQ.unpack_from(data, 0)[0]
    if seq != expected_seq:
        return f"expected message {expected_seq}, got {seq} (gap or reordering)"
    n = len(data)
    start = (seq + 8) & 0xFF
    pattern = _PATTERN if n <= len(_PATTERN) - 256 else bytes(range(256)) * (n // 256 + 2)
    if memoryview(data)[8:] != pattern[start : start + n - 8]:
        return f"message {seq}: payload of {n} bytes is corrupt"
    return None
