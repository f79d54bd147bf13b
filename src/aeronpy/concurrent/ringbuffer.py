"""Many-to-one ring buffer: the client-to-driver command buffer (ipc-buffers.md §1).

Layout: a power-of-two data area ``[0, capacity)`` followed by a 768-byte trailer holding the
tail, cached head, head, correlation counter and consumer heartbeat, each on its own pair of
cache lines.  Records are ``[int32 length][int32 msg_type_id][payload]`` aligned to 8 bytes;
a negative length marks a record still being written, type ``-1`` marks padding.

Producers (any thread or process) claim space with a CAS on the tail; the single consumer
reads a contiguous block from the head, zeroes what it consumed and then release-stores the
new head.  The layout and protocol match Aeron's, so a C client or driver can share the buffer.

Any local process can write into the buffer, so the consumer never trusts a record's framing:
a length that cannot be a record (shorter than its header, or running past the end of the
buffer) or a trailer whose head and tail contradict each other is *corruption*.  The consumer
reports it through ``corruption_handler``, drops everything between head and tail, and carries
on, so later commands flow again (Aeron's own ring buffer would fail the read forever).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Callable, Union

from aeronpy.concurrent.atomic_buffer import Buffer, PyAtomicBuffer, view_of
from aeronpy.concurrent.bit_util import INT32_MAX, align, is_power_of_two

TRAILER_LENGTH = 768
TAIL_POSITION_OFFSET = 128
HEAD_CACHE_POSITION_OFFSET = 256
HEAD_POSITION_OFFSET = 384
CORRELATION_COUNTER_OFFSET = 512
CONSUMER_HEARTBEAT_OFFSET = 640

RECORD_HEADER_LENGTH = 8
RECORD_ALIGNMENT = 8
PADDING_MSG_TYPE_ID = -1
LENGTH_OFFSET = 0
TYPE_OFFSET = 4
MIN_CAPACITY = RECORD_HEADER_LENGTH


Source = Union[bytes, bytearray, memoryview, Any]
"""Anything that can be copied from: bytes-like objects or an atomic buffer."""

MessageHandler = Callable[[int, Any, int, int], None]
"""``handler(msg_type_id, buffer, offset, length)``; offset/length locate the payload."""

ControlledMessageHandler = Callable[[int, Any, int, int], int]
"""Like :data:`MessageHandler` but returns a :class:`ControlledReadAction`."""

CorruptionHandler = Callable[[str], None]
"""``handler(description)``: told of each corruption the consumer recovered from."""


class ControlledReadAction(IntEnum):
    """What a controlled handler wants done after a record."""

    ABORT = 1
    """Leave this record unread and stop; it will be delivered again."""
    BREAK = 2
    """Consume this record and stop."""
    COMMIT = 3
    """Consume this record, release the space read so far, and continue."""
    CONTINUE = 4
    """Consume this record and continue."""


def source_view(src: Source) -> Any:
    """A buffer-protocol object for ``src`` (bytes-like or an atomic buffer)."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        return src
    if isinstance(src, PyAtomicBuffer):
        return view_of(src)
    return memoryview(src)


def source_length(src: Source, src_offset: int, length: int) -> tuple[Any, int]:
    """Return ``(view, length)`` resolving ``length=-1`` to the rest of ``src``."""
    view = source_view(src)
    available = memoryview(view).nbytes
    if length < 0:
        length = available - src_offset
    if src_offset < 0 or length < 0 or src_offset + length > available:
        raise ValueError(f"source range {src_offset}+{length} outside {available} bytes")
    return view, length


class ManyToOneRingBuffer:
    """Many producers, one consumer, on an :class:`AtomicBuffer` of ``capacity + 768`` bytes."""

    def __init__(self, buffer: Buffer, corruption_handler: CorruptionHandler | None = None) -> None:
        capacity = buffer.capacity - TRAILER_LENGTH
        if not is_power_of_two(capacity) or capacity < MIN_CAPACITY or capacity >= INT32_MAX:
            raise ValueError(
                f"ring buffer capacity must be a power of two >= {MIN_CAPACITY} plus a "
                f"{TRAILER_LENGTH}-byte trailer: got buffer of {buffer.capacity} bytes"
            )
        self.buffer: Buffer = buffer
        self.capacity: int = capacity
        self.max_msg_length: int = 0 if capacity == MIN_CAPACITY else capacity // 8
        self._mask = capacity - 1
        self._tail_at = capacity + TAIL_POSITION_OFFSET
        self._head_cache_at = capacity + HEAD_CACHE_POSITION_OFFSET
        self._head_at = capacity + HEAD_POSITION_OFFSET
        self._correlation_at = capacity + CORRELATION_COUNTER_OFFSET
        self._heartbeat_at = capacity + CONSUMER_HEARTBEAT_OFFSET
        self.corruption_handler = corruption_handler
        self.corruption_count: int = 0
        self._skipped: tuple[int, int] | None = None

    # ------------------------------------------------------------------ producers
    def _check_msg(self, msg_type_id: int, length: int) -> None:
        if msg_type_id < 1:
            raise ValueError(f"message type id must be >= 1: {msg_type_id}")
        if length < 0 or length > self.max_msg_length:
            raise ValueError(
                f"message length {length} outside 0..max_msg_length {self.max_msg_length}"
            )

    def _claim_capacity(self, required: int) -> int:
        """CAS-claim ``required`` aligned bytes; the record index or -1 when full."""
        buf = self.buffer
        capacity = self.capacity
        mask = self._mask
        head = buf.get_int64_volatile(self._head_cache_at)
        while True:
            tail = buf.get_int64_volatile(self._tail_at)
            if required > capacity - (tail - head):
                head = buf.get_int64_volatile(self._head_at)
                if required > capacity - (tail - head):
                    return -1
                buf.put_int64_ordered(self._head_cache_at, head)
            padding = 0
            tail_index = tail & mask
            to_end = capacity - tail_index
            if required > to_end:
                head_index = head & mask
                if required > head_index:
                    head = buf.get_int64_volatile(self._head_at)
                    head_index = head & mask
                    if required > head_index:
                        return -1
                    buf.put_int64_ordered(self._head_cache_at, head)
                padding = to_end
            if buf.compare_and_set_int64(self._tail_at, tail, tail + required + padding):
                break
        if padding:
            buf.put_int32_ordered(tail_index + LENGTH_OFFSET, -padding)
            buf.put_int32(tail_index + TYPE_OFFSET, PADDING_MSG_TYPE_ID)
            buf.put_int32_ordered(tail_index + LENGTH_OFFSET, padding)
            tail_index = 0
        return tail_index

    def write(
        self, msg_type_id: int, src: Source, src_offset: int = 0, length: int = -1
    ) -> bool:
        """Copy a message in; ``False`` when there is no space (ValueError if invalid)."""
        view, length = source_length(src, src_offset, length)
        self._check_msg(msg_type_id, length)
        record_length = length + RECORD_HEADER_LENGTH
        index = self._claim_capacity(align(record_length, RECORD_ALIGNMENT))
        if index < 0:
            return False
        buf = self.buffer
        buf.put_int32_ordered(index + LENGTH_OFFSET, -record_length)
        if length:
            buf.put_bytes(index + RECORD_HEADER_LENGTH, view, src_offset, length)
        buf.put_int32(index + TYPE_OFFSET, msg_type_id)
        buf.put_int32_ordered(index + LENGTH_OFFSET, record_length)
        return True

    def try_claim(self, msg_type_id: int, length: int) -> int:
        """Claim ``length`` payload bytes; the payload index, or -1 when full."""
        self._check_msg(msg_type_id, length)
        record_length = length + RECORD_HEADER_LENGTH
        index = self._claim_capacity(align(record_length, RECORD_ALIGNMENT))
        if index < 0:
            return -1
        self.buffer.put_int32_ordered(index + LENGTH_OFFSET, -record_length)
        self.buffer.put_int32(index + TYPE_OFFSET, msg_type_id)
        return index + RECORD_HEADER_LENGTH

    def _claimed_record(self, index: int) -> tuple[int, int]:
        record_index = index - RECORD_HEADER_LENGTH
        if record_index < 0 or record_index > self.capacity - RECORD_HEADER_LENGTH:
            raise ValueError(f"invalid claim index {index} for capacity {self.capacity}")
        length = self.buffer.get_int32(record_index + LENGTH_OFFSET)
        if length >= 0:
            raise ValueError(f"no claimed record at index {index} (already committed/aborted?)")
        return record_index, length

    def commit(self, index: int) -> None:
        """Publish a record claimed with :meth:`try_claim`."""
        record_index, length = self._claimed_record(index)
        self.buffer.put_int32_ordered(record_index + LENGTH_OFFSET, -length)

    def abort(self, index: int) -> None:
        """Turn a claimed record into padding the consumer skips."""
        record_index, length = self._claimed_record(index)
        self.buffer.put_int32(record_index + TYPE_OFFSET, PADDING_MSG_TYPE_ID)
        self.buffer.put_int32_ordered(record_index + LENGTH_OFFSET, -length)

    # ------------------------------------------------------------------ consumer
    def _release(self, head: int, head_index: int, bytes_read: int) -> None:
        self.buffer.set_memory(head_index, bytes_read, 0)
        self.buffer.put_int64_ordered(self._head_at, head + bytes_read)

    def read(self, handler: MessageHandler, message_count_limit: int = INT32_MAX) -> int:
        """Deliver up to ``message_count_limit`` messages from the contiguous block at head."""
        buf = self.buffer
        head = buf.get_int64(self._head_at)
        if head & (RECORD_ALIGNMENT - 1) or head < 0:
            self._recover(f"head {head} is not a record position")
            return 0
        head_index = head & self._mask
        block_length = self.capacity - head_index
        messages_read = 0
        bytes_read = 0
        corrupt: tuple[int, int] | None = None
        try:
            while bytes_read < block_length and messages_read < message_count_limit:
                record_index = head_index + bytes_read
                record_length = buf.get_int32_volatile(record_index + LENGTH_OFFSET)
                if record_length <= 0:
                    break
                if record_length < RECORD_HEADER_LENGTH or record_length > block_length - bytes_read:
                    corrupt = record_index, record_length
                    break
                bytes_read += align(record_length, RECORD_ALIGNMENT)
                msg_type_id = buf.get_int32(record_index + TYPE_OFFSET)
                if msg_type_id == PADDING_MSG_TYPE_ID:
                    continue
                messages_read += 1
                handler(
                    msg_type_id,
                    buf,
                    record_index + RECORD_HEADER_LENGTH,
                    record_length - RECORD_HEADER_LENGTH,
                )
        finally:
            if bytes_read:
                self._release(head, head_index, bytes_read)
        if corrupt is not None:
            self._recover(f"record at index {corrupt[0]} has invalid length {corrupt[1]}")
        return messages_read

    def controlled_read(
        self, handler: ControlledMessageHandler, message_count_limit: int = INT32_MAX
    ) -> int:
        """Like :meth:`read`, but the handler steers with :class:`ControlledReadAction`."""
        buf = self.buffer
        head = buf.get_int64(self._head_at)
        if head & (RECORD_ALIGNMENT - 1) or head < 0:
            self._recover(f"head {head} is not a record position")
            return 0
        head_index = head & self._mask
        block_length = self.capacity - head_index
        messages_read = 0
        bytes_read = 0
        corrupt: tuple[int, int] | None = None
        try:
            while bytes_read < block_length and messages_read < message_count_limit:
                record_index = head_index + bytes_read
                record_length = buf.get_int32_volatile(record_index + LENGTH_OFFSET)
                if record_length <= 0:
                    break
                if record_length < RECORD_HEADER_LENGTH or record_length > block_length - bytes_read:
                    corrupt = record_index, record_length
                    break
                aligned = align(record_length, RECORD_ALIGNMENT)
                bytes_read += aligned
                msg_type_id = buf.get_int32(record_index + TYPE_OFFSET)
                if msg_type_id == PADDING_MSG_TYPE_ID:
                    continue
                action = handler(
                    msg_type_id,
                    buf,
                    record_index + RECORD_HEADER_LENGTH,
                    record_length - RECORD_HEADER_LENGTH,
                )
                if action == ControlledReadAction.ABORT:
                    bytes_read -= aligned
                    break
                messages_read += 1
                if action == ControlledReadAction.BREAK:
                    break
                if action == ControlledReadAction.COMMIT:
                    self._release(head, head_index, bytes_read)
                    head_index += bytes_read
                    head += bytes_read
                    block_length -= bytes_read
                    bytes_read = 0
        finally:
            if bytes_read:
                self._release(head, head_index, bytes_read)
        if corrupt is not None:
            self._recover(f"record at index {corrupt[0]} has invalid length {corrupt[1]}")
        return messages_read

    # ------------------------------------------------------------------ recovery
    def _zero_positions(self, start: int, end: int) -> None:
        """Zero the data area between two positions (``end - start <= capacity``), wrapping."""
        length = end - start
        index = start & self._mask
        first = min(length, self.capacity - index)
        if first > 0:
            self.buffer.set_memory(index, first, 0)
        if length > first:
            self.buffer.set_memory(0, length - first, 0)

    def _trailer_ok(self, head: int, tail: int) -> bool:
        return (
            head >= 0
            and (head | tail) & (RECORD_ALIGNMENT - 1) == 0
            and head <= tail <= head + self.capacity
        )

    def _recover(self, description: str) -> None:
        """Drop everything between head and tail and report the corruption.

        Commands already committed in that range are lost; producers that claimed space in it
        but had not finished writing finish into dropped space, so :meth:`scrub` zeroes the
        range once more a little later.  A trailer whose head and tail cannot both be right
        restarts the buffer empty at an aligned position.
        """
        buf = self.buffer
        head = buf.get_int64(self._head_at)
        tail = buf.get_int64_volatile(self._tail_at)
        if not self._trailer_ok(head, tail):
            restart = align(head, RECORD_ALIGNMENT) if 0 <= head < 1 << 62 else 0
            self._zero_positions(0, self.capacity)
            if not buf.compare_and_set_int64(self._tail_at, tail, restart):
                tail = buf.get_int64_volatile(self._tail_at)  # a producer raced: retry later
                self._report(f"{description}; tail {tail} inconsistent with head {head}")
                return
            buf.put_int64_ordered(self._head_cache_at, restart)
            buf.put_int64_ordered(self._head_at, restart)
            self._skipped = None
            self._report(f"{description}; reset the buffer (tail {tail} vs head {head})")
            return
        self._zero_positions(head, tail)
        buf.put_int64_ordered(self._head_cache_at, tail)
        buf.put_int64_ordered(self._head_at, tail)
        self._skipped = (head, tail)
        self._report(f"{description}; dropped {tail - head} bytes of commands")

    def _report(self, description: str) -> None:
        self.corruption_count += 1
        if self.corruption_handler is not None:
            self.corruption_handler(f"to-driver ring buffer corrupt: {description}")

    def scrub(self) -> None:
        """Zero a range dropped by recovery again, once, so late writers leave nothing behind.

        Done only while producers are far from wrapping onto that range (a quarter of the
        capacity away); later it is left alone rather than risk erasing fresh records.
        """
        skipped = self._skipped
        if skipped is None:
            return
        self._skipped = None
        start, end = skipped
        if self.buffer.get_int64_volatile(self._tail_at) - start <= self.capacity // 4 * 3:
            self._zero_positions(start, end)

    def check_trailer(self) -> bool:
        """Recover when head and tail contradict each other; True if it had to."""
        head = self.buffer.get_int64(self._head_at)
        tail = self.buffer.get_int64_volatile(self._tail_at)
        if not self._trailer_ok(head, tail):
            self._recover(f"tail {tail} and head {head} are inconsistent")
            return True
        return False

    # ------------------------------------------------------------------ trailer
    def next_correlation_id(self) -> int:
        """A unique id (atomic fetch-add on the shared correlation counter)."""
        return self.buffer.get_and_add_int64(self._correlation_at, 1)

    def consumer_heartbeat_time(self) -> int:
        """The consumer's last heartbeat, epoch ms (acquire)."""
        return self.buffer.get_int64_volatile(self._heartbeat_at)

    def set_consumer_heartbeat_time(self, time_ms: int) -> None:
        """Store the consumer heartbeat, epoch ms (release)."""
        self.buffer.put_int64_ordered(self._heartbeat_at, time_ms)

    def producer_position(self) -> int:
        """Tail position (acquire)."""
        return self.buffer.get_int64_volatile(self._tail_at)

    def consumer_position(self) -> int:
        """Head position (acquire)."""
        return self.buffer.get_int64_volatile(self._head_at)

    def size(self) -> int:
        """Bytes between head and tail, clamped to ``0..capacity``."""
        while True:
            before = self.consumer_position()
            tail = self.producer_position()
            after = self.consumer_position()
            if before == after:
                break
        return max(0, min(self.capacity, tail - after))

    def unblock(self) -> bool:
        """Pad over a record a dead producer left unfinished at head; True if it did."""
        buf = self.buffer
        head = buf.get_int64_volatile(self._head_at)
        tail = buf.get_int64_volatile(self._tail_at)
        if head == tail:
            return False
        consumer_index = head & self._mask
        producer_index = tail & self._mask
        length = buf.get_int32_volatile(consumer_index + LENGTH_OFFSET)
        if length < 0:
            buf.put_int32(consumer_index + TYPE_OFFSET, PADDING_MSG_TYPE_ID)
            buf.put_int32_ordered(consumer_index + LENGTH_OFFSET, -length)
            return True
        if length > 0:
            return False
        limit = producer_index if producer_index > consumer_index else self.capacity
        i = consumer_index + RECORD_ALIGNMENT
        while i < limit:
            if buf.get_int32_volatile(i + LENGTH_OFFSET) != 0:
                if self._still_zeroed(i, consumer_index):
                    buf.put_int32(consumer_index + TYPE_OFFSET, PADDING_MSG_TYPE_ID)
                    buf.put_int32_ordered(consumer_index + LENGTH_OFFSET, i - consumer_index)
                    return True
                return False
            i += RECORD_ALIGNMENT
        return False

    def _still_zeroed(self, end: int, start: int) -> bool:
        """Re-check, backwards, that every length slot in ``[start, end)`` is still zero."""
        i = end - RECORD_ALIGNMENT
        while i >= start:
            if self.buffer.get_int32_volatile(i + LENGTH_OFFSET) != 0:
                return False
            i -= RECORD_ALIGNMENT
        return True


__all__ = [
    "TRAILER_LENGTH",
    "TAIL_POSITION_OFFSET",
    "HEAD_CACHE_POSITION_OFFSET",
    "HEAD_POSITION_OFFSET",
    "CORRELATION_COUNTER_OFFSET",
    "CONSUMER_HEARTBEAT_OFFSET",
    "RECORD_HEADER_LENGTH",
    "RECORD_ALIGNMENT",
    "PADDING_MSG_TYPE_ID",
    "ControlledReadAction",
    "ManyToOneRingBuffer",
    "MessageHandler",
    "ControlledMessageHandler",
    "CorruptionHandler",
]
