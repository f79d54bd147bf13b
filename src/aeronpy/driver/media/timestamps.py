"""Timestamps the driver writes into DATA frames (``media-rcv-ts-offset``,
``channel-rcv-ts-offset``, ``channel-snd-ts-offset``; uri.md §2), as Aeron C does.

An offset is a byte offset into the frame's payload, or :data:`RESERVED_VALUE` for the header's
reserved value (int64 at 24).  A timestamp is int64 nanoseconds of the wall clock, little-endian;
an offset that leaves fewer than 8 payload bytes writes nothing.

* Receive: each BEGIN DATA frame of a received datagram gets the kernel receive time (media) and
  the driver's receive time (channel) before the datagram is rebuilt into the image, so they land
  in the log; frames are walked as the image validates them (contiguous term offsets, in bounds).
* Send: the first frame of each datagram, if DATA, gets the send time as it goes out (in place, in
  the publication's log, as C).
"""

from __future__ import annotations

import struct
from array import array
from typing import Any, Callable

from aeronpy.protocol import data_header as dh
from aeronpy.uri import (
    CHANNEL_RCV_TS_OFFSET,
    CHANNEL_SND_TS_OFFSET,
    MEDIA_RCV_TS_OFFSET,
    RESERVED_VALUE_OFFSET,
    ChannelUri,
    parse_timestamp_offset,
)

RESERVED_VALUE = RESERVED_VALUE_OFFSET
"""The offset meaning "the header's reserved value" (``...-ts-offset=reserved``)."""

_INT64 = struct.Struct("<q")
_FRAME = struct.Struct("<ibBhi")  # frame_length, version, flags, type, term_offset
_HEADER = dh.HEADER_LENGTH


def channel_offset(uri: ChannelUri, key: str) -> int | None:
    """The timestamp offset ``key`` of a channel (:data:`RESERVED_VALUE` for ``reserved``), or
    None when absent."""
    value = uri.get(key)
    return None if value is None else parse_timestamp_offset(value, key)


def describe_offset(offset: int | None) -> str:
    """An offset as the C driver's conflict messages show it."""
    if offset is None:
        return "-1 (not specified)"
    return f"{offset} (reserved)" if offset == RESERVED_VALUE else str(offset)


def receive_offsets(uri: ChannelUri) -> tuple[int | None, int | None]:
    """``(media-rcv-ts-offset, channel-rcv-ts-offset)`` of a subscription channel."""
    return channel_offset(uri, MEDIA_RCV_TS_OFFSET), channel_offset(uri, CHANNEL_RCV_TS_OFFSET)


def send_offset(uri: ChannelUri) -> int | None:
    """``channel-snd-ts-offset`` of a publication channel."""
    return channel_offset(uri, CHANNEL_SND_TS_OFFSET)


def set_timestamp(buffer: Any, frame_offset: int, frame_length: int, ts_offset: int, timestamp_ns: int) -> bool:
    """Write ``timestamp_ns`` into the frame at ``frame_offset`` of ``buffer`` (writable): into its
    reserved value, or at ``ts_offset`` of its payload when 8 bytes fit there.  True if written."""
    if ts_offset == RESERVED_VALUE:
        _INT64.pack_into(buffer, frame_offset + dh.RESERVED_VALUE_OFFSET, timestamp_ns)
        return True
    if 0 <= ts_offset <= frame_length - _HEADER - _INT64.size:
        _INT64.pack_into(buffer, frame_offset + _HEADER + ts_offset, timestamp_ns)
        return True
    return False


def stamp_received(
    buffer: Any, start: int, length: int, media_offset: int | None, media_ns: int,
    channel_offset: int | None, channel_ns: int,
) -> int:
    """Stamp the BEGIN DATA frames of the datagram ``buffer[start:start + length]``: the media
    time at ``media_offset`` (skipped when ``None`` or ``media_ns < 0``), the channel time at
    ``channel_offset`` (when not ``None``).  Returns how many frames were stamped."""
    if media_ns < 0:
        media_offset = None
    if media_offset is None and channel_offset is None:
        return 0
    stamped = 0
    offset = 0
    next_term_offset = -1
    while offset + _HEADER <= length:
        frame_length, _, flags, frame_type, term_offset = _FRAME.unpack_from(buffer, start + offset)
        if frame_length <= 0 or frame_type & 0xFFFE:
            break  # a heartbeat, or not DATA/PAD
        if next_term_offset >= 0 and term_offset != next_term_offset:
            break
        aligned = (frame_length + dh.FRAME_ALIGNMENT - 1) & ~(dh.FRAME_ALIGNMENT - 1)
        next_term_offset = term_offset + aligned
        if frame_type == dh.HDR_TYPE_DATA and flags & dh.BEGIN_FLAG and offset + frame_length <= length:
            if media_offset is not None:
                set_timestamp(buffer, start + offset, frame_length, media_offset, media_ns)
            if channel_offset is not None:
                set_timestamp(buffer, start + offset, frame_length, channel_offset, channel_ns)
            stamped += 1
        offset += aligned
    return stamped


def stamp_sent(datagram: Any, ts_offset: int, timestamp_ns: int) -> bool:
    """Stamp the first frame of an outgoing datagram if it is a DATA frame with a body (C's
    ``channel-snd-ts-offset``).  True if written."""
    length = len(datagram)
    if length < _HEADER:
        return False
    frame_length, _, _, frame_type, _ = _FRAME.unpack_from(datagram, 0)
    if frame_length <= 0 or frame_length > length or frame_type != dh.HDR_TYPE_DATA:
        return False
    return set_timestamp(datagram, 0, frame_length, ts_offset, timestamp_ns)


def stamping_send(send: Callable[[Any], int], ts_offset: int, timestamp_ns: int) -> Callable[[Any], int]:
    """``send`` that stamps each datagram (:func:`stamp_sent`) first."""

    def stamped(datagram: Any) -> int:
        stamp_sent(datagram, ts_offset, timestamp_ns)
        return send(datagram)

    return stamped


class ReceiveTimestamps:
    """The receive-time offsets of one receive endpoint and the clock for the channel time.

    :meth:`receiver` wraps a transport's batch receive so every datagram is stamped as it
    arrives, before the endpoint dispatches it."""

    def __init__(self, media_offset: int | None, channel_offset: int | None, epoch_ns_clock: Callable[[], int]) -> None:
        self.media_offset = media_offset
        self.channel_offset = channel_offset
        self.clock = epoch_ns_clock

    @property
    def wants_media(self) -> bool:
        return self.media_offset is not None

    def receiver(
        self, receive: Callable[[], list[tuple[int, Any]]], buffer: Any, slot_length: int,
        media_ns: array[int] | None,
    ) -> Callable[[], list[tuple[int, Any]]]:
        """``receive`` (filling slots of ``slot_length`` bytes of ``buffer``, and the kernel
        receive times into ``media_ns`` when not ``None``) followed by stamping each datagram."""
        media_offset = self.media_offset if media_ns is not None else None
        channel_offset = self.channel_offset
        clock = self.clock

        def receive_and_stamp() -> list[tuple[int, Any]]:
            batch = receive()
            if batch:
                channel_ns = clock() if channel_offset is not None else 0
                for i, (length, _) in enumerate(batch):
                    media = media_ns[i] if media_ns is not None else -1
                    stamp_received(buffer, i * slot_length, length, media_offset, media, channel_offset, channel_ns)
            return batch

        return receive_and_stamp


__all__ = [
    "RESERVED_VALUE", "ReceiveTimestamps", "channel_offset", "describe_offset", "receive_offsets", "send_offset",
    "set_timestamp", "stamp_received", "stamp_sent", "stamping_send",
]
