"""The receiver's DATA fast path: one C call rebuilds a received batch's common case.

A :class:`~aeronpy.driver.publication_image.PublicationImage` keeps the state its DATA path
reads and writes (window, time of last packet, whether it accepts data) in an ``ImageRx``: the C
``aeronpy._atomic.ImageRx`` where the kernel can use it, else :class:`ImageRxPy`; the image's
attributes of those names read and write it, so it is their only holder.  A receive endpoint
maps :func:`image_key` of each image to its state and hands each received batch to
``dispatch_data`` (C), which rebuilds every datagram ``insert_packet`` would rebuild without a
counter moving and stops at the first one it leaves to the Python path (which then goes on from
the next).  :func:`dispatch_data_py` is its twin.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from aeronpy.concurrent.atomic_buffer import HAVE_C_EXTENSION
from aeronpy.concurrent.counters import AtomicCounter
from aeronpy.protocol import frames

_DATA = frames.DATA_LAYOUT
_FRAME = frames.FRAME_PREFIX_LAYOUT

NATIVE_RX = HAVE_C_EXTENSION and os.environ.get("AERONPY_PURE_PYTHON", "") != "1"
"""Whether receive endpoints with a socket use the C DATA path (off with ``AERONPY_PURE_PYTHON=1``)."""

ImageRx: Any = None
dispatch_data: Callable[..., tuple[int, int]] | None = None
if HAVE_C_EXTENSION:
    from aeronpy._atomic import AtomicBuffer as _CAtomicBuffer
    from aeronpy._atomic import ImageRx
    from aeronpy._atomic import dispatch_data


def validate_data_frames_py(datagram: Any, length: int, term_offset: int, term_length: int) -> int:
    """Walk the frames of a DATA/PAD datagram (its first ``length`` bytes, capped at its size);
    the extent they cover, or -1 if the datagram must be dropped as invalid.

    Every frame needs frame_length >= 32, version 0, type DATA or PAD, its term offset where
    the previous frame ended (the first at ``term_offset``) and its end within the term; a DATA
    frame must lie inside the datagram; the frames must cover the datagram exactly, except that
    a final PAD frame may run past it.  Python twin of the C kernel ``validate_data_frames``."""
    length = max(0, min(length, len(datagram)))
    if term_offset < 0 or term_offset >= term_length or term_offset & 31:
        return -1
    offset = 0
    next_offset = term_offset
    frame_type = -1
    while offset <= length - 32:
        frame_length, version, _flags, frame_type, frame_term_offset = _FRAME.unpack_from(datagram, offset)
        if frame_length < 32 or version != 0 or (frame_type != 1 and frame_type != 0) or frame_term_offset != next_offset:
            return -1
        aligned = (frame_length + 31) & ~31
        next_offset += aligned
        if next_offset > term_length or (frame_type == 1 and offset + frame_length > length):
            return -1
        offset += aligned
    if offset != length and (offset < length or frame_type != 0):
        return -1
    return offset


class ImageRxPy:
    """Python twin of the C ``ImageRx``: the same fields, plain attributes."""

    __slots__ = (
        "terms", "initial_term_id", "term_length", "bits", "hwm_buffer", "hwm_offset", "is_multicast",
        "connection", "source", "accepting", "last_sm_position", "last_sm_window_limit",
        "time_of_last_packet_ns",
    )

    def __init__(
        self, terms: tuple[Any, Any, Any], initial_term_id: int, term_length: int, hwm_buffer: Any,
        hwm_offset: int, is_multicast: bool, connection: Any, source: Any,
    ) -> None:
        self.terms = terms
        self.initial_term_id = initial_term_id
        self.term_length = term_length
        self.bits = term_length.bit_length() - 1
        self.hwm_buffer = hwm_buffer
        self.hwm_offset = hwm_offset
        self.is_multicast = int(is_multicast)
        self.connection = connection
        self.source = source
        self.accepting = 1
        self.last_sm_position = 0
        self.last_sm_window_limit = 0
        self.time_of_last_packet_ns = 0


def new_image_rx(
    terms: tuple[Any, Any, Any], initial_term_id: int, term_length: int, hwm: Any, is_multicast: bool,
    connection: Any, native: bool = NATIVE_RX,
) -> Any:
    """The C ``ImageRx`` when ``native`` and the terms and the HWM counter are C buffers, else
    an :class:`ImageRxPy` (the HWM word is then reached through ``hwm``'s own methods)."""
    source = connection.control_address
    if (
        native and ImageRx is not None and all(type(t) is _CAtomicBuffer for t in terms)
        and type(hwm) is AtomicCounter and type(hwm.values_buffer) is _CAtomicBuffer
    ):
        return ImageRx(terms, initial_term_id, term_length, hwm.values_buffer, hwm.offset, is_multicast, connection, source)
    return ImageRxPy(terms, initial_term_id, term_length, _CounterWord(hwm), 0, is_multicast, connection, source)


class _CounterWord:
    """A counter as the (buffer, offset) word the twin reads: ``get_int64`` / ``put_int64_ordered``."""

    __slots__ = ("_counter",)

    def __init__(self, counter: Any) -> None:
        self._counter = counter

    def get_int64(self, offset: int) -> int:
        return int(self._counter.get_plain())

    def put_int64_ordered(self, offset: int, value: int) -> None:
        self._counter.set(value)


def image_key(stream_id: int, session_id: int) -> int:
    """The key of an image in a receive endpoint's map for ``dispatch_data``."""
    return ((stream_id & 0xFFFFFFFF) << 32) | (session_id & 0xFFFFFFFF)


def dispatch_data_py(
    images: dict[int, Any], buffer: Any, slot_length: int, batch: list[tuple[int, Any]], start: int,
    now_ns: int, reply: Any,
) -> tuple[int, int]:
    """Python twin of the C ``dispatch_data``: from ``batch[start]``, rebuild each datagram that
    ``PublicationImage.insert_packet`` would rebuild with no counter moving, from an image's first
    connection (``reply`` if not None, else the datagram's address; any source when multicast);
    ``(index of the first datagram left to the Python path or len(batch), bytes taken)``."""
    taken = 0
    count = len(batch)
    i = start if start >= 0 else count
    view = memoryview(buffer)
    while i < count:
        length, address = batch[i]
        slot = i * slot_length
        if length < 32 or length & 31 or slot + length > len(view):
            break
        frame_length, version, _flags, frame_type, term_offset, session_id, stream_id, term_id, _ = _DATA.unpack_from(view, slot)
        if (frame_type != 1 and frame_type != 0) or version != 0 or frame_length < 0 or (
            frame_length == 0 and frame_type == 1 and length == 32
        ):
            break
        rx = images.get(image_key(stream_id, session_id))
        if rx is None or not rx.accepting:
            break
        term_count = term_id - rx.initial_term_id
        if term_count < 0 and term_count & 0x80000000:
            break
        datagram = view[slot:slot + length]
        extent = validate_data_frames_py(datagram, length, term_offset, rx.term_length)
        if extent < 0:
            break
        position = ((((term_count + 0x80000000) & 0xFFFFFFFF) - 0x80000000) << rx.bits) + term_offset
        if position + extent > rx.last_sm_window_limit or position < rx.last_sm_position:
            break
        if not rx.is_multicast and rx.source != (reply if reply is not None else address):
            break
        term = rx.terms[(position >> rx.bits) % 3]
        if getattr(term, "released", False) or getattr(rx.hwm_buffer, "released", False):
            break
        rx.connection.time_of_last_frame_ns = now_ns
        rx.time_of_last_packet_ns = now_ns
        term.insert_frames(term_offset, datagram, min(length, rx.term_length - term_offset))
        end = position + extent
        if end > rx.hwm_buffer.get_int64(rx.hwm_offset):
            rx.hwm_buffer.put_int64_ordered(rx.hwm_offset, end)
        taken += length
        i += 1
    return i, taken


__all__ = [
    "NATIVE_RX", "ImageRx", "ImageRxPy", "dispatch_data", "dispatch_data_py", "image_key", "new_image_rx",
    "validate_data_frames_py",
]
