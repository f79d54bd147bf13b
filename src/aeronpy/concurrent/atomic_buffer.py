"""Atomic buffer: plain, ordered and atomic access to (shared) memory.

``AtomicBuffer`` is the C implementation from :mod:`aeronpy._atomic` (acquire loads, release
stores, CAS and fetch-add with real hardware ordering).  ``PyAtomicBuffer`` is its pure-Python
twin with the same API; it is atomic only with respect to threads of one interpreter (the GIL)
and serves as the test oracle and a fallback where the extension is missing.
"""

from __future__ import annotations

import struct
from typing import Any, Protocol

_I64 = struct.Struct("<q")
_I32 = struct.Struct("<i")
_I16 = struct.Struct("<h")
_U16 = struct.Struct("<H")
_U8 = struct.Struct("<B")


def _wrap(value: int, bits: int) -> int:
    mask = (1 << bits) - 1
    value &= mask
    return value - (1 << bits) if value >> (bits - 1) else value


class Buffer(Protocol):
    """The API both implementations provide."""

    @property
    def capacity(self) -> int: ...
    def get_int64(self, offset: int) -> int: ...
    def get_int32(self, offset: int) -> int: ...
    def get_int16(self, offset: int) -> int: ...
    def get_uint16(self, offset: int) -> int: ...
    def get_uint8(self, offset: int) -> int: ...
    def put_int64(self, offset: int, value: int) -> None: ...
    def put_int32(self, offset: int, value: int) -> None: ...
    def put_int16(self, offset: int, value: int) -> None: ...
    def put_uint16(self, offset: int, value: int) -> None: ...
    def put_uint8(self, offset: int, value: int) -> None: ...
    def get_int64_volatile(self, offset: int) -> int: ...
    def get_int32_volatile(self, offset: int) -> int: ...
    def put_int64_ordered(self, offset: int, value: int) -> None: ...
    def put_int32_ordered(self, offset: int, value: int) -> None: ...
    def put_int64_volatile(self, offset: int, value: int) -> None: ...
    def compare_and_set_int64(self, offset: int, expected: int, update: int) -> bool: ...
    def compare_and_set_int32(self, offset: int, expected: int, update: int) -> bool: ...
    def get_and_add_int64(self, offset: int, delta: int) -> int: ...
    def get_and_add_int32(self, offset: int, delta: int) -> int: ...
    def get_and_set_int64(self, offset: int, value: int) -> int: ...
    def get_bytes(self, offset: int, length: int) -> bytes: ...
    def put_bytes(self, offset: int, src: Any, src_offset: int = 0, length: int = -1) -> None: ...
    def set_memory(self, offset: int, length: int, value: int) -> None: ...
    def scan_frames(
        self, offset: int, limit: int, max_frames: int, pad_type: int
    ) -> tuple[list[tuple[int, int]], int]: ...
    def scan_for_availability(self, offset: int, max_length: int, pad_type: int) -> tuple[int, int]: ...
    def insert_frames(self, term_offset: int, src: Any, length: int) -> int: ...
    def release(self) -> bool: ...


class PyAtomicBuffer:
    """Pure-Python twin of the C ``AtomicBuffer`` (same methods, same errors)."""

    __slots__ = ("_mv", "_capacity", "__weakref__")

    def __init__(self, buffer: Any, offset: int = 0, length: int = -1) -> None:
        mv = memoryview(buffer).cast("B")
        if mv.readonly:
            raise TypeError("AtomicBuffer needs a writable buffer")
        if length < 0:
            length = len(mv) - offset
        if offset < 0 or length < 0 or offset + length > len(mv):
            raise ValueError(f"offset {offset} length {length} outside buffer of {len(mv)} bytes")
        self._mv: memoryview | None = mv[offset : offset + length]
        self._capacity = length

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def released(self) -> bool:
        return self._mv is None

    def __len__(self) -> int:
        return self._capacity

    def _check(self, offset: int, length: int) -> memoryview:
        mv = self._mv
        if mv is None:
            raise ValueError("AtomicBuffer has been released")
        if offset < 0 or length < 0 or offset > self._capacity - length:
            raise IndexError(
                f"offset {offset} length {length} out of bounds for capacity {self._capacity}"
            )
        return mv

    def _aligned(self, offset: int, length: int) -> memoryview:
        mv = self._check(offset, length)
        if offset % length:
            raise ValueError(f"offset {offset} is not {length}-byte aligned for an atomic access")
        return mv

    # plain
    def get_int64(self, offset: int) -> int:
        return int(_I64.unpack_from(self._check(offset, 8), offset)[0])

    def get_int32(self, offset: int) -> int:
        return int(_I32.unpack_from(self._check(offset, 4), offset)[0])

    def get_int16(self, offset: int) -> int:
        return int(_I16.unpack_from(self._check(offset, 2), offset)[0])

    def get_uint16(self, offset: int) -> int:
        return int(_U16.unpack_from(self._check(offset, 2), offset)[0])

    def get_uint8(self, offset: int) -> int:
        return self._check(offset, 1)[offset]

    def put_int64(self, offset: int, value: int) -> None:
        _I64.pack_into(self._check(offset, 8), offset, _wrap(value, 64))

    def put_int32(self, offset: int, value: int) -> None:
        _I32.pack_into(self._check(offset, 4), offset, _wrap(value, 32))

    def put_int16(self, offset: int, value: int) -> None:
        _I16.pack_into(self._check(offset, 2), offset, _wrap(value, 16))

    def put_uint16(self, offset: int, value: int) -> None:
        _U16.pack_into(self._check(offset, 2), offset, value & 0xFFFF)

    def put_uint8(self, offset: int, value: int) -> None:
        self._check(offset, 1)[offset] = value & 0xFF

    # ordered / atomic (atomic only under the GIL)
    def get_int64_volatile(self, offset: int) -> int:
        return int(_I64.unpack_from(self._aligned(offset, 8), offset)[0])

    def get_int32_volatile(self, offset: int) -> int:
        return int(_I32.unpack_from(self._aligned(offset, 4), offset)[0])

    def put_int64_ordered(self, offset: int, value: int) -> None:
        _I64.pack_into(self._aligned(offset, 8), offset, _wrap(value, 64))

    def put_int32_ordered(self, offset: int, value: int) -> None:
        _I32.pack_into(self._aligned(offset, 4), offset, _wrap(value, 32))

    def put_int64_volatile(self, offset: int, value: int) -> None:
        self.put_int64_ordered(offset, value)

    def compare_and_set_int64(self, offset: int, expected: int, update: int) -> bool:
        mv = self._aligned(offset, 8)
        if _I64.unpack_from(mv, offset)[0] != _wrap(expected, 64):
            return False
        _I64.pack_into(mv, offset, _wrap(update, 64))
        return True

    def compare_and_set_int32(self, offset: int, expected: int, update: int) -> bool:
        mv = self._aligned(offset, 4)
        if _I32.unpack_from(mv, offset)[0] != _wrap(expected, 32):
            return False
        _I32.pack_into(mv, offset, _wrap(update, 32))
        return True

    def get_and_add_int64(self, offset: int, delta: int) -> int:
        mv = self._aligned(offset, 8)
        old = int(_I64.unpack_from(mv, offset)[0])
        _I64.pack_into(mv, offset, _wrap(old + delta, 64))
        return old

    def get_and_add_int32(self, offset: int, delta: int) -> int:
        mv = self._aligned(offset, 4)
        old = int(_I32.unpack_from(mv, offset)[0])
        _I32.pack_into(mv, offset, _wrap(old + delta, 32))
        return old

    def get_and_set_int64(self, offset: int, value: int) -> int:
        mv = self._aligned(offset, 8)
        old = int(_I64.unpack_from(mv, offset)[0])
        _I64.pack_into(mv, offset, _wrap(value, 64))
        return old

    # blocks
    def get_bytes(self, offset: int, length: int) -> bytes:
        return bytes(self._check(offset, length)[offset : offset + length])

    def put_bytes(self, offset: int, src: Any, src_offset: int = 0, length: int = -1) -> None:
        s = memoryview(src).cast("B")
        if length < 0:
            length = len(s) - src_offset
        if src_offset < 0 or length < 0 or src_offset + length > len(s):
            raise IndexError(f"source range {src_offset}+{length} outside {len(s)} bytes")
        mv = self._check(offset, length)
        mv[offset : offset + length] = s[src_offset : src_offset + length]

    def set_memory(self, offset: int, length: int, value: int) -> None:
        mv = self._check(offset, length)
        mv[offset : offset + length] = bytes([value & 0xFF]) * length

    def scan_frames(
        self, offset: int, limit: int, max_frames: int, pad_type: int
    ) -> tuple[list[tuple[int, int]], int]:
        """Walk committed frames (see the C docstring); twin of the C kernel."""
        mv = self._mv
        if mv is None:
            raise ValueError("AtomicBuffer has been released")
        if offset < 0 or limit > self._capacity or offset & 7:
            raise IndexError(f"scan range {offset}..{limit} invalid for capacity {self._capacity}")
        frames: list[tuple[int, int]] = []
        while len(frames) < max_frames and offset < limit and offset <= self._capacity - 32:
            frame_length = _I32.unpack_from(mv, offset)[0]
            if frame_length <= 0:
                break
            if _U16.unpack_from(mv, offset + 6)[0] != pad_type & 0xFFFF:
                frames.append((offset, frame_length))
            offset += (frame_length + 31) & ~31
        return frames, offset

    def scan_for_availability(self, offset: int, max_length: int, pad_type: int) -> tuple[int, int]:
        """Sender term scan; twin of the C kernel (see _atomic.c)."""
        mv = self._mv
        if mv is None:
            raise ValueError("AtomicBuffer has been released")
        if offset < 0 or offset > self._capacity or offset & 7:
            raise IndexError(f"scan offset {offset} invalid for capacity {self._capacity}")
        limit = min(max_length, self._capacity - offset)
        available = 0
        padding = 0
        while available < limit and offset + available <= self._capacity - 32:
            frame_offset = offset + available
            frame_length = _I32.unpack_from(mv, frame_offset)[0]
            if frame_length <= 0:
                break
            aligned = (frame_length + 31) & ~31
            if _U16.unpack_from(mv, frame_offset + 6)[0] == pad_type & 0xFFFF:
                padding = aligned - 32
                aligned = 32
            available += aligned
            if available > limit:
                available -= aligned
                padding = 0
                break
            if padding:
                break
        return available, padding

    def insert_frames(self, term_offset: int, src: Any, length: int) -> int:
        """Receiver rebuild of one datagram; twin of the C kernel (see _atomic.c)."""
        mv = self._mv
        if mv is None:
            raise ValueError("AtomicBuffer has been released")
        data = memoryview(src).cast("B")
        length = min(length, len(data))
        if term_offset < 0 or term_offset & 31:
            raise IndexError(f"term offset {term_offset} invalid")
        offset = 0
        while offset + 32 <= length:
            frame_length = _I32.unpack_from(data, offset)[0]
            if frame_length <= 0:
                break
            aligned = (frame_length + 31) & ~31
            if offset + aligned > length:
                aligned = length - offset
            dst = term_offset + offset
            if dst > self._capacity - aligned or aligned < 32:
                break
            if _I32.unpack_from(mv, dst)[0] == 0:
                mv[dst + 8 : dst + aligned] = data[offset + 8 : offset + aligned]
                mv[dst : dst + 8] = data[offset : offset + 8]
            offset += aligned
        return offset

    def release(self) -> bool:
        """No more access through this object; slices taken earlier stay valid."""
        if self._mv is not None:
            self._mv.release()
            self._mv = None
        return True

    def __buffer__(self, flags: int) -> memoryview:  # pragma: no cover - 3.12+ only
        mv = self._mv
        if mv is None:
            raise ValueError("AtomicBuffer has been released")
        return mv


try:
    from aeronpy._atomic import AtomicBuffer as _CAtomicBuffer
    from aeronpy._atomic import fence as _c_fence

    AtomicBuffer: Any = _CAtomicBuffer
    HAVE_C_EXTENSION = True

    def fence() -> None:
        """Full memory fence."""
        _c_fence()

except ImportError:  # pragma: no cover - exercised only without the extension
    AtomicBuffer = PyAtomicBuffer
    HAVE_C_EXTENSION = False

    def fence() -> None:
        """Full memory fence (no-op without the extension: the GIL orders this process)."""


def view_of(buffer: Any) -> memoryview:
    """A zero-copy memoryview of an atomic buffer's region (either implementation)."""
    if isinstance(buffer, PyAtomicBuffer):
        mv = buffer._mv
        if mv is None:
            raise ValueError("AtomicBuffer has been released")
        return mv
    return memoryview(buffer)


__all__ = ["AtomicBuffer", "PyAtomicBuffer", "Buffer", "HAVE_C_EXTENSION", "fence", "view_of"]
