"""Loss report (``loss-report.dat``): one entry per image that has seen loss.

Layout (``ipc-buffers.md`` §5, little-endian, entries at 64-byte aligned offsets)::

    0   int64  observation_count     release-written; 0 marks the end of the entries
    8   int64  total_bytes_lost      atomically added
    16  int64  first_observation_timestamp (epoch ms)
    24  int64  last_observation_timestamp  (epoch ms, release-written)
    32  int32  session_id
    36  int32  stream_id
    40  int32  channel_length L, then L ASCII bytes of channel
    40 + align(4 + L, 4)  int32 source_length S, then S ASCII bytes of source

An entry reserves ``align(40 + align(4 + L, 4) + 4 + S, 64)`` bytes.  The writer (one thread,
the driver conductor) fills every field and then release-stores ``observation_count = 1``;
each later observation release-stores the last timestamp, then atomically adds the bytes
lost and increments the count, so a concurrent reader that acquires a non-zero count sees a
complete entry.

Strings are written as ASCII: a character outside ASCII is written as ``?`` (like agrona's
``putStringAscii``, per code point rather than per UTF-16 unit).  Reading decodes bytes above
0x7F as U+FFFD.

:func:`read_loss_report` steps from entry to entry by the writer's reservation
(``align(40 + align(4 + L, 4) + 4 + S, 64)``, as Java's ``LossReportReader`` does).  The C
reader steps by ``align(48 + L + S, 64)``, which differs only when ``L`` is not a multiple
of 4 and the padding crosses a 64-byte boundary (it then misreads files that both drivers
write correctly).
"""

from __future__ import annotations

from collections.abc import Callable

from aeronpy.concurrent.atomic_buffer import Buffer

__all__ = [
    "CHANNEL_OFFSET",
    "ENTRY_ALIGNMENT",
    "FIRST_OBSERVATION_OFFSET",
    "LAST_OBSERVATION_OFFSET",
    "LOSS_REPORT_FILE",
    "LossReport",
    "LossReportConsumer",
    "OBSERVATION_COUNT_OFFSET",
    "SESSION_ID_OFFSET",
    "STREAM_ID_OFFSET",
    "TOTAL_BYTES_LOST_OFFSET",
    "entry_length",
    "read_loss_report",
]

LOSS_REPORT_FILE = "loss-report.dat"
ENTRY_ALIGNMENT = 64
OBSERVATION_COUNT_OFFSET = 0
TOTAL_BYTES_LOST_OFFSET = 8
FIRST_OBSERVATION_OFFSET = 16
LAST_OBSERVATION_OFFSET = 24
SESSION_ID_OFFSET = 32
STREAM_ID_OFFSET = 36
CHANNEL_OFFSET = 40

LossReportConsumer = Callable[[int, int, int, int, int, int, str, str], None]
"""``(observation_count, total_bytes_lost, first_ts_ms, last_ts_ms, session_id, stream_id,
channel, source)``."""


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) & ~(alignment - 1)


def _required_length(channel_length: int, source_length: int) -> int:
    return CHANNEL_OFFSET + _align(4 + channel_length, 4) + 4 + source_length


def entry_length(channel_length: int, source_length: int) -> int:
    """Bytes an entry with these string lengths reserves (a multiple of 64)."""
    return _align(_required_length(channel_length, source_length), ENTRY_ALIGNMENT)


def _encode_ascii(text: str) -> bytes:
    return text.encode("ascii", errors="replace")


class LossReport:
    """Writer of the loss report; not thread-safe (the driver conductor owns it).

    ``buffer`` is an :class:`~aeronpy.concurrent.atomic_buffer.AtomicBuffer` (or its Python
    twin) over the whole file, 8-byte aligned, initially zero.
    """

    def __init__(self, buffer: Buffer) -> None:
        self._buffer = buffer
        self._next_record_offset = 0

    @property
    def buffer(self) -> Buffer:
        return self._buffer

    @property
    def next_record_offset(self) -> int:
        """Offset at which the next entry will be created."""
        return self._next_record_offset

    def create_entry(
        self,
        initial_bytes_lost: int,
        timestamp_ms: int,
        session_id: int,
        stream_id: int,
        channel: str,
        source: str,
    ) -> int:
        """Append an entry with one observation; return its offset, or -1 if it does not fit
        (like the C driver, loss is then simply not reported for that image)."""
        channel_bytes = _encode_ascii(channel)
        source_bytes = _encode_ascii(source)
        required = _required_length(len(channel_bytes), len(source_bytes))
        offset = self._next_record_offset
        buffer = self._buffer
        if required > buffer.capacity - offset:
            return -1

        buffer.put_int64(offset + TOTAL_BYTES_LOST_OFFSET, initial_bytes_lost)
        buffer.put_int64(offset + FIRST_OBSERVATION_OFFSET, timestamp_ms)
        buffer.put_int64(offset + LAST_OBSERVATION_OFFSET, timestamp_ms)
        buffer.put_int32(offset + SESSION_ID_OFFSET, session_id)
        buffer.put_int32(offset + STREAM_ID_OFFSET, stream_id)
        buffer.put_int32(offset + CHANNEL_OFFSET, len(channel_bytes))
        if channel_bytes:
            buffer.put_bytes(offset + CHANNEL_OFFSET + 4, channel_bytes)
        source_offset = offset + CHANNEL_OFFSET + _align(4 + len(channel_bytes), 4)
        buffer.put_int32(source_offset, len(source_bytes))
        if source_bytes:
            buffer.put_bytes(source_offset + 4, source_bytes)
        buffer.put_int64_ordered(offset + OBSERVATION_COUNT_OFFSET, 1)

        self._next_record_offset = offset + _align(required, ENTRY_ALIGNMENT)
        return offset

    def record_observation(self, entry_offset: int, bytes_lost: int, timestamp_ms: int) -> None:
        """Add one observation to the entry at ``entry_offset`` (no-op when it is negative,
        i.e. the entry could not be created)."""
        if entry_offset < 0:
            return
        buffer = self._buffer
        buffer.put_int64_ordered(entry_offset + LAST_OBSERVATION_OFFSET, timestamp_ms)
        buffer.get_and_add_int64(entry_offset + TOTAL_BYTES_LOST_OFFSET, bytes_lost)
        buffer.get_and_add_int64(entry_offset + OBSERVATION_COUNT_OFFSET, 1)


def read_loss_report(buffer: Buffer, consumer: LossReportConsumer) -> int:
    """Call ``consumer`` for each entry, in file order; return the number of entries read.

    Stops at the first entry whose observation count is not positive, and also (without
    raising) at a truncated or malformed entry, so a damaged file yields its valid prefix.
    """
    capacity = buffer.capacity
    offset = 0
    entries = 0
    while offset + CHANNEL_OFFSET + 8 <= capacity:
        observation_count = buffer.get_int64_volatile(offset + OBSERVATION_COUNT_OFFSET)
        if observation_count <= 0:
            break
        channel_length = buffer.get_int32(offset + CHANNEL_OFFSET)
        if channel_length < 0 or channel_length > capacity:
            break
        source_offset = offset + CHANNEL_OFFSET + _align(4 + channel_length, 4)
        if source_offset + 4 > capacity:
            break
        source_length = buffer.get_int32(source_offset)
        if source_length < 0 or source_offset + 4 + source_length > capacity:
            break
        channel = buffer.get_bytes(offset + CHANNEL_OFFSET + 4, channel_length).decode("ascii", "replace")
        source = buffer.get_bytes(source_offset + 4, source_length).decode("ascii", "replace")
        total_bytes_lost = buffer.get_int64_volatile(offset + TOTAL_BYTES_LOST_OFFSET)
        last_ts = buffer.get_int64_volatile(offset + LAST_OBSERVATION_OFFSET)
        entries += 1
        consumer(
            observation_count,
            total_bytes_lost,
            buffer.get_int64(offset + FIRST_OBSERVATION_OFFSET),
            last_ts,
            buffer.get_int32(offset + SESSION_ID_OFFSET),
            buffer.get_int32(offset + STREAM_ID_OFFSET),
            channel,
            source,
        )
        offset += entry_length(channel_length, source_length)
    return entries
