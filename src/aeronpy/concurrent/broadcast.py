"""Broadcast buffer: the driver-to-clients buffer (ipc-buffers.md §2).

One transmitter (the driver) writes ``[int32 length][int32 msg_type_id][payload]`` records,
8-byte aligned, into a power-of-two data area followed by a 128-byte trailer (tail intent,
tail, latest).  It never waits: receivers that fall more than ``capacity`` behind are lapped,
notice it through the tail-intent counter and jump to the latest record.
"""

from __future__ import annotations

from typing import Any

from aeronpy.concurrent.atomic_buffer import Buffer, fence, view_of
from aeronpy.concurrent.bit_util import align, is_power_of_two
from aeronpy.concurrent.ringbuffer import MessageHandler, Source, source_length
from aeronpy.errors import AeronError

TRAILER_LENGTH = 128
TAIL_INTENT_COUNTER_OFFSET = 0
TAIL_COUNTER_OFFSET = 8
LATEST_COUNTER_OFFSET = 16

RECORD_HEADER_LENGTH = 8
RECORD_ALIGNMENT = 8
PADDING_MSG_TYPE_ID = -1
LENGTH_OFFSET = 0
TYPE_OFFSET = 4
SCRATCH_BUFFER_LENGTH_DEFAULT = 4096


class BroadcastLappedError(AeronError):
    """A receiver was overtaken by the transmitter while reading a message."""

    def __init__(self, message: str = "unable to keep up with broadcast") -> None:
        super().__init__(message)


def _capacity_of(buffer: Buffer) -> int:
    capacity = buffer.capacity - TRAILER_LENGTH
    if not is_power_of_two(capacity):
        raise ValueError(
            f"broadcast capacity must be a power of two plus a {TRAILER_LENGTH}-byte trailer: "
            f"got buffer of {buffer.capacity} bytes"
        )
    return capacity


class BroadcastTransmitter:
    """The single writer of a broadcast buffer."""

    def __init__(self, buffer: Buffer) -> None:
        self.buffer: Buffer = buffer
        self.capacity: int = _capacity_of(buffer)
        self.max_msg_length: int = self.capacity // 8
        self._tail_intent_at = self.capacity + TAIL_INTENT_COUNTER_OFFSET
        self._tail_at = self.capacity + TAIL_COUNTER_OFFSET
        self._latest_at = self.capacity + LATEST_COUNTER_OFFSET

    def transmit(
        self, msg_type_id: int, src: Source, src_offset: int = 0, length: int = -1
    ) -> None:
        """Write one message, lapping slow receivers if need be (ValueError if invalid)."""
        view, length = source_length(src, src_offset, length)
        if msg_type_id < 1:
            raise ValueError(f"message type id must be >= 1: {msg_type_id}")
        if length < 0 or length > self.max_msg_length:
            raise ValueError(
                f"message length {length} outside 0..max_msg_length {self.max_msg_length}"
            )
        buf = self.buffer
        tail = buf.get_int64(self._tail_at)
        offset = tail & (self.capacity - 1)
        record_length = length + RECORD_HEADER_LENGTH
        aligned = align(record_length, RECORD_ALIGNMENT)
        new_tail = tail + aligned
        to_end = self.capacity - offset
        if to_end < aligned:
            buf.put_int64_ordered(self._tail_intent_at, new_tail + to_end)
            fence()
            buf.put_int32(offset + TYPE_OFFSET, PADDING_MSG_TYPE_ID)
            buf.put_int32(offset + LENGTH_OFFSET, to_end)
            tail += to_end
            offset = 0
        else:
            buf.put_int64_ordered(self._tail_intent_at, new_tail)
            fence()
        buf.put_int32(offset + LENGTH_OFFSET, record_length)
        buf.put_int32(offset + TYPE_OFFSET, msg_type_id)
        if length:
            buf.put_bytes(offset + RECORD_HEADER_LENGTH, view, src_offset, length)
        buf.put_int64_ordered(self._latest_at, tail)
        buf.put_int64_ordered(self._tail_at, tail + aligned)


class BroadcastReceiver:
    """One reader of a broadcast buffer; starts at the latest record."""

    def __init__(self, buffer: Buffer) -> None:
        self.buffer: Buffer = buffer
        self.capacity: int = _capacity_of(buffer)
        self.max_msg_length: int = self.capacity // 8
        self._mask = self.capacity - 1
        self._tail_intent_at = self.capacity + TAIL_INTENT_COUNTER_OFFSET
        self._tail_at = self.capacity + TAIL_COUNTER_OFFSET
        self._latest_at = self.capacity + LATEST_COUNTER_OFFSET
        latest = buffer.get_int64_volatile(self._latest_at)
        self._cursor = latest
        self._next_record = latest
        self._record_offset = latest & self._mask
        self.lapped_count: int = 0

    def _valid_at(self, cursor: int) -> bool:
        return cursor + self.capacity > self.buffer.get_int64_volatile(self._tail_intent_at)

    def _record_length_ok(self, record_offset: int, cursor: int, tail: int) -> bool:
        """A record must hold its header, fit before the end of the buffer and end by the tail."""
        length = self.buffer.get_int32(record_offset + LENGTH_OFFSET)
        return (
            RECORD_HEADER_LENGTH <= length <= self.capacity - record_offset
            and cursor + align(length, RECORD_ALIGNMENT) <= tail
        )

    def receive_next(self) -> bool:
        """Move to the next record if there is one; see :meth:`type_id`/:meth:`offset`.

        A record whose length cannot be right (torn by the transmitter lapping this receiver,
        or written by a hostile process) is never followed: the receiver counts a lap, skips
        to the tail and returns ``False``.
        """
        buf = self.buffer
        tail = buf.get_int64_volatile(self._tail_at)
        cursor = self._next_record
        if tail <= cursor:
            if cursor - tail > self.capacity:  # a cursor far ahead of the tail: resynchronise
                self.lapped_count += 1
                self._next_record = tail
            return False
        if not self._valid_at(cursor):
            self.lapped_count += 1
            cursor = buf.get_int64_volatile(self._latest_at)
        record_offset = cursor & self._mask
        if not self._record_length_ok(record_offset, cursor, tail):
            return self._skip_to(tail)
        self._cursor = cursor
        self._next_record = cursor + align(
            buf.get_int32(record_offset + LENGTH_OFFSET), RECORD_ALIGNMENT
        )
        if buf.get_int32(record_offset + TYPE_OFFSET) == PADDING_MSG_TYPE_ID:
            record_offset = 0
            if not self._record_length_ok(0, self._next_record, tail):
                return self._skip_to(tail)
            self._cursor = self._next_record
            self._next_record += align(buf.get_int32(LENGTH_OFFSET), RECORD_ALIGNMENT)
        self._record_offset = record_offset
        return True

    def _skip_to(self, tail: int) -> bool:
        self.lapped_count += 1
        self._next_record = tail
        return False

    def type_id(self) -> int:
        """Message type id of the current record."""
        return self.buffer.get_int32(self._record_offset + TYPE_OFFSET)

    def offset(self) -> int:
        """Payload offset of the current record."""
        return self._record_offset + RECORD_HEADER_LENGTH

    def length(self) -> int:
        """Payload length of the current record."""
        return self.buffer.get_int32(self._record_offset + LENGTH_OFFSET) - RECORD_HEADER_LENGTH

    def validate(self) -> bool:
        """True if the current record has not been overwritten since :meth:`receive_next`."""
        fence()
        return self._valid_at(self._cursor)


class CopyBroadcastReceiver:
    """Copies each message to a scratch buffer, re-validates, then dispatches the copy."""

    def __init__(
        self, receiver: BroadcastReceiver, scratch_length: int = SCRATCH_BUFFER_LENGTH_DEFAULT
    ) -> None:
        self.receiver = receiver
        buffer_type: Any = type(receiver.buffer)
        self._buffer_type = buffer_type
        self.scratch: Buffer = buffer_type(bytearray(max(scratch_length, 8)))

    def _ensure_scratch(self, length: int) -> None:
        capacity = self.scratch.capacity
        if length <= capacity:
            return
        while capacity < length:
            capacity += capacity >> 1
        self.scratch.release()
        self.scratch = self._buffer_type(bytearray(capacity))

    def receive(self, handler: MessageHandler) -> int:
        """Dispatch at most one message; raises :class:`BroadcastLappedError` when lapped."""
        receiver = self.receiver
        last_lapped = receiver.lapped_count
        if not receiver.receive_next():
            if last_lapped != receiver.lapped_count:
                raise BroadcastLappedError("broadcast record torn or corrupt: skipped to the tail")
            return 0
        if last_lapped != receiver.lapped_count:
            raise BroadcastLappedError()
        length = receiver.length()
        offset = receiver.offset()
        type_id = receiver.type_id()
        if length < 0 or offset + length > receiver.capacity:
            # A torn header: only possible when the transmitter is overwriting the record.
            raise BroadcastLappedError()
        self._ensure_scratch(length)
        if length:
            self.scratch.put_bytes(0, view_of(receiver.buffer), offset, length)
        if not receiver.validate():
            raise BroadcastLappedError()
        handler(type_id, self.scratch, 0, length)
        return 1


__all__ = [
    "TRAILER_LENGTH",
    "TAIL_INTENT_COUNTER_OFFSET",
    "TAIL_COUNTER_OFFSET",
    "LATEST_COUNTER_OFFSET",
    "RECORD_HEADER_LENGTH",
    "RECORD_ALIGNMENT",
    "PADDING_MSG_TYPE_ID",
    "BroadcastLappedError",
    "BroadcastTransmitter",
    "BroadcastReceiver",
    "CopyBroadcastReceiver",
]
