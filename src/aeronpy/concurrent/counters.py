"""Counters: values and metadata arrays in the CnC file (ipc-buffers.md §3, counters.md).

Counter ``id`` has a 128-byte value record at ``id * 128`` of the values buffer (value,
registration id, owner id, reference id) and a 512-byte metadata record at ``id * 512`` of the
metadata buffer (state, type id, free-for-reuse deadline, 112-byte key, label).  The driver's
:class:`CountersManager` allocates and frees; anyone may read with :class:`CountersReader`.

Keys and labels built by the helpers here follow the C driver's layouts and texts, so tools
such as AeronStat show the same output for an aeronpy driver.
"""

from __future__ import annotations

import struct
import threading
import time
from typing import Callable

from aeronpy.concurrent.atomic_buffer import Buffer
from aeronpy.errors import AeronError

COUNTER_LENGTH = 128
METADATA_LENGTH = 512

# value record
VALUE_OFFSET = 0
REGISTRATION_ID_OFFSET = 8
OWNER_ID_OFFSET = 16
REFERENCE_ID_OFFSET = 24

# metadata record
STATE_OFFSET = 0
TYPE_ID_OFFSET = 4
FREE_FOR_REUSE_DEADLINE_OFFSET = 8
KEY_OFFSET = 16
LABEL_LENGTH_OFFSET = 128
LABEL_OFFSET = 132

MAX_KEY_LENGTH = 112
MAX_LABEL_LENGTH = 380

RECORD_UNUSED = 0
RECORD_ALLOCATED = 1
RECORD_RECLAIMED = -1

NOT_FREE_TO_REUSE = 2**63 - 1
NULL_COUNTER_ID = -1
DEFAULT_REGISTRATION_ID = 0
DEFAULT_OWNER_ID = 0
DEFAULT_REFERENCE_ID = 0

# type ids (counters.md §1)
SYSTEM_COUNTER_TYPE_ID = 0
PUBLISHER_LIMIT_TYPE_ID = 1
SENDER_POSITION_TYPE_ID = 2
RECEIVER_HWM_TYPE_ID = 3
SUBSCRIBER_POSITION_TYPE_ID = 4
RECEIVER_POSITION_TYPE_ID = 5
SEND_CHANNEL_STATUS_TYPE_ID = 6
RECEIVE_CHANNEL_STATUS_TYPE_ID = 7
SENDER_LIMIT_TYPE_ID = 9
PER_IMAGE_TYPE_ID = 10
CLIENT_HEARTBEAT_TYPE_ID = 11
PUBLISHER_POSITION_TYPE_ID = 12
SENDER_BPE_TYPE_ID = 13
LOCAL_SOCKADDR_TYPE_ID = 14
NAME_RESOLVER_NEIGHBORS_TYPE_ID = 15
NAME_RESOLVER_CACHE_ENTRIES_TYPE_ID = 16
FLOW_CONTROL_RECEIVERS_TYPE_ID = 17
MDC_DESTINATIONS_TYPE_ID = 18
SENDER_NAKS_RECEIVED_TYPE_ID = 19
RECEIVER_NAKS_SENT_TYPE_ID = 20
NAME_RESOLVER_BOOTSTRAP_NEIGHBOR_TYPE_ID = 21

# label names (counters.md §3)
PUBLISHER_LIMIT_NAME = "pub-lmt"
SENDER_POSITION_NAME = "snd-pos"
RECEIVER_HWM_NAME = "rcv-hwm"
SUBSCRIBER_POSITION_NAME = "sub-pos"
RECEIVER_POSITION_NAME = "rcv-pos"
SEND_CHANNEL_STATUS_NAME = "snd-channel"
RECEIVE_CHANNEL_STATUS_NAME = "rcv-channel"
SENDER_LIMIT_NAME = "snd-lmt"
CLIENT_HEARTBEAT_NAME = "client-heartbeat"
PUBLISHER_POSITION_CONCURRENT_NAME = "pub-pos (concurrent)"
PUBLISHER_POSITION_EXCLUSIVE_NAME = "pub-pos (exclusive)"
SENDER_BPE_NAME = "snd-bpe"
RCV_LOCAL_SOCKADDR_NAME = "rcv-local-sockaddr"
SND_LOCAL_SOCKADDR_NAME = "snd-local-sockaddr"
FLOW_CONTROL_RECEIVERS_NAME = "fc-receivers"
MDC_DESTINATIONS_NAME = "mdc-num-dest"
SENDER_NAKS_RECEIVED_NAME = "snd-naks-received"
RECEIVER_NAKS_SENT_NAME = "rcv-naks-sent"

# channel endpoint status values
CHANNEL_STATUS_INITIALIZING = 0
CHANNEL_STATUS_ACTIVE = 1
CHANNEL_STATUS_CLOSING = 2
CHANNEL_STATUS_ERRORED = -1

STREAM_KEY_CHANNEL_MAX = 92
CHANNEL_KEY_CHANNEL_MAX = 108
LOCAL_SOCKADDR_MAX = 103


class CountersFullError(AeronError):
    """No counter id is free (or free to reuse yet)."""


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


def _encode_label(label: str) -> bytes:
    return label.encode("utf-8")[:MAX_LABEL_LENGTH]


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


class CountersReader:
    """Read-only view of the counters values and metadata buffers."""

    def __init__(self, metadata_buffer: Buffer, values_buffer: Buffer) -> None:
        self.metadata_buffer: Buffer = metadata_buffer
        self.values_buffer: Buffer = values_buffer
        by_values = values_buffer.capacity // COUNTER_LENGTH
        by_metadata = metadata_buffer.capacity // METADATA_LENGTH
        self.max_counter_id: int = min(by_values, by_metadata) - 1

    # ------------------------------------------------------------------ offsets
    def _check_id(self, counter_id: int) -> None:
        if counter_id < 0 or counter_id > self.max_counter_id:
            raise IndexError(
                f"counter id {counter_id} out of range 0..{self.max_counter_id}"
            )

    def counter_offset(self, counter_id: int) -> int:
        """Offset of the value record in the values buffer."""
        self._check_id(counter_id)
        return counter_id * COUNTER_LENGTH

    def metadata_offset(self, counter_id: int) -> int:
        """Offset of the metadata record in the metadata buffer."""
        self._check_id(counter_id)
        return counter_id * METADATA_LENGTH

    # ------------------------------------------------------------------ getters
    def get_counter_value(self, counter_id: int) -> int:
        """Counter value (acquire)."""
        return self.values_buffer.get_int64_volatile(self.counter_offset(counter_id))

    def get_counter_state(self, counter_id: int) -> int:
        """Record state: RECORD_UNUSED, RECORD_ALLOCATED or RECORD_RECLAIMED (acquire)."""
        return self.metadata_buffer.get_int32_volatile(self.metadata_offset(counter_id))

    def get_counter_type_id(self, counter_id: int) -> int:
        """Type id from the metadata record."""
        return self.metadata_buffer.get_int32(self.metadata_offset(counter_id) + TYPE_ID_OFFSET)

    def get_counter_registration_id(self, counter_id: int) -> int:
        """Registration id (acquire)."""
        offset = self.counter_offset(counter_id) + REGISTRATION_ID_OFFSET
        return self.values_buffer.get_int64_volatile(offset)

    def get_counter_owner_id(self, counter_id: int) -> int:
        """Owner (client) id."""
        return self.values_buffer.get_int64(self.counter_offset(counter_id) + OWNER_ID_OFFSET)

    def get_counter_reference_id(self, counter_id: int) -> int:
        """Reference id (e.g. the image a sub-pos belongs to)."""
        offset = self.counter_offset(counter_id) + REFERENCE_ID_OFFSET
        return self.values_buffer.get_int64(offset)

    def get_free_for_reuse_deadline(self, counter_id: int) -> int:
        """Epoch ms after which a reclaimed id may be reused (acquire)."""
        offset = self.metadata_offset(counter_id) + FREE_FOR_REUSE_DEADLINE_OFFSET
        return self.metadata_buffer.get_int64_volatile(offset)

    def get_counter_label(self, counter_id: int) -> str:
        """The label text (length read with acquire)."""
        base = self.metadata_offset(counter_id)
        return self._label_at(base)

    def _label_at(self, base: int) -> str:
        length = self.metadata_buffer.get_int32_volatile(base + LABEL_LENGTH_OFFSET)
        length = max(0, min(length, MAX_LABEL_LENGTH))
        return _decode(self.metadata_buffer.get_bytes(base + LABEL_OFFSET, length))

    def get_counter_key(self, counter_id: int) -> bytes:
        """The whole 112-byte key area."""
        base = self.metadata_offset(counter_id)
        return self.metadata_buffer.get_bytes(base + KEY_OFFSET, MAX_KEY_LENGTH)

    # ------------------------------------------------------------------ iteration
    def for_each(self, fn: Callable[[int, int, bytes, str], None]) -> None:
        """Call ``fn(counter_id, type_id, key, label)`` for allocated counters, in id order."""
        md = self.metadata_buffer
        for counter_id in range(self.max_counter_id + 1):
            base = counter_id * METADATA_LENGTH
            state = md.get_int32_volatile(base)
            if state == RECORD_ALLOCATED:
                fn(
                    counter_id,
                    md.get_int32(base + TYPE_ID_OFFSET),
                    md.get_bytes(base + KEY_OFFSET, MAX_KEY_LENGTH),
                    self._label_at(base),
                )
            elif state == RECORD_UNUSED:
                break

    def for_each_counter(self, fn: Callable[[int, int, int, bytes, str], None]) -> None:
        """Call ``fn(value, counter_id, type_id, key, label)`` for allocated counters."""

        def with_value(counter_id: int, type_id: int, key: bytes, label: str) -> None:
            fn(self.get_counter_value(counter_id), counter_id, type_id, key, label)

        self.for_each(with_value)

    def find_by_type_id_and_registration_id(self, type_id: int, registration_id: int) -> int:
        """First allocated counter with this type and registration id, else NULL_COUNTER_ID."""
        md = self.metadata_buffer
        values = self.values_buffer
        for counter_id in range(self.max_counter_id + 1):
            base = counter_id * METADATA_LENGTH
            state = md.get_int32_volatile(base)
            if state == RECORD_ALLOCATED:
                if md.get_int32(base + TYPE_ID_OFFSET) == type_id:
                    offset = counter_id * COUNTER_LENGTH + REGISTRATION_ID_OFFSET
                    if values.get_int64_volatile(offset) == registration_id:
                        return counter_id
            elif state == RECORD_UNUSED:
                break
        return NULL_COUNTER_ID


class CountersManager(CountersReader):
    """Allocates and frees counters (driver side); ids are reused after a timeout."""

    def __init__(
        self,
        metadata_buffer: Buffer,
        values_buffer: Buffer,
        free_to_reuse_timeout_ms: int = 0,
        epoch_clock: Callable[[], int] = _epoch_ms,
    ) -> None:
        if metadata_buffer.capacity < values_buffer.capacity * (METADATA_LENGTH // COUNTER_LENGTH):
            raise ValueError(
                f"counters metadata buffer ({metadata_buffer.capacity} bytes) must be at least "
                f"4x the values buffer ({values_buffer.capacity} bytes)"
            )
        super().__init__(metadata_buffer, values_buffer)
        self.free_to_reuse_timeout_ms = free_to_reuse_timeout_ms
        self.epoch_clock = epoch_clock
        self._high_water_mark = -1
        self._free_list: list[int] = []
        self._lock = threading.Lock()

    def _next_counter_id(self) -> int:
        if self._free_list:
            now_ms = self.epoch_clock()
            for i, counter_id in enumerate(self._free_list):
                if now_ms >= self.get_free_for_reuse_deadline(counter_id):
                    del self._free_list[i]
                    base = counter_id * COUNTER_LENGTH
                    values = self.values_buffer
                    values.put_int64_ordered(
                        base + REGISTRATION_ID_OFFSET, DEFAULT_REGISTRATION_ID
                    )
                    values.put_int64(base + OWNER_ID_OFFSET, DEFAULT_OWNER_ID)
                    values.put_int64(base + REFERENCE_ID_OFFSET, DEFAULT_REFERENCE_ID)
                    values.put_int64_ordered(base + VALUE_OFFSET, 0)
                    return counter_id
        if self._high_water_mark + 1 > self.max_counter_id:
            raise CountersFullError(f"max counter id ({self.max_counter_id}) exceeded")
        self._high_water_mark += 1
        return self._high_water_mark

    def allocate(
        self,
        label: str,
        type_id: int = 0,
        key: bytes = b"",
        registration_id: int = 0,
        owner_id: int = 0,
        reference_id: int = 0,
    ) -> int:
        """Allocate a counter and return its id; raises CountersFullError if none is free."""
        with self._lock:
            try:
                counter_id = self._next_counter_id()
            except CountersFullError as ex:
                raise CountersFullError(
                    f"unable to allocate counter: type={type_id} label={label}: {ex}"
                ) from None
            md = self.metadata_buffer
            base = counter_id * METADATA_LENGTH
            md.put_int32(base + TYPE_ID_OFFSET, type_id)
            md.put_int64_ordered(base + FREE_FOR_REUSE_DEADLINE_OFFSET, NOT_FREE_TO_REUSE)
            key = bytes(key[:MAX_KEY_LENGTH])
            if key:
                md.put_bytes(base + KEY_OFFSET, key)
            raw = _encode_label(label)
            md.put_bytes(base + LABEL_OFFSET, raw)
            md.put_int32(base + LABEL_LENGTH_OFFSET, len(raw))
            md.put_int32_ordered(base + STATE_OFFSET, RECORD_ALLOCATED)
            if registration_id != DEFAULT_REGISTRATION_ID:
                self.set_counter_registration_id(counter_id, registration_id)
            if owner_id != DEFAULT_OWNER_ID:
                self.set_counter_owner_id(counter_id, owner_id)
            if reference_id != DEFAULT_REFERENCE_ID:
                self.set_counter_reference_id(counter_id, reference_id)
            return counter_id

    def new_counter(
        self,
        label: str,
        type_id: int = 0,
        key: bytes = b"",
        registration_id: int = 0,
        owner_id: int = 0,
        reference_id: int = 0,
    ) -> AtomicCounter:
        """Allocate a counter wrapped in an :class:`AtomicCounter` that frees it on close."""
        counter_id = self.allocate(label, type_id, key, registration_id, owner_id, reference_id)
        return AtomicCounter(self.values_buffer, counter_id, self)

    def free(self, counter_id: int) -> None:
        """Reclaim an allocated counter (no-op if it is not allocated)."""
        with self._lock:
            base = self.metadata_offset(counter_id)
            md = self.metadata_buffer
            if md.get_int32_volatile(base + STATE_OFFSET) != RECORD_ALLOCATED:
                return
            md.put_int32_ordered(base + STATE_OFFSET, RECORD_RECLAIMED)
            md.set_memory(base + KEY_OFFSET, MAX_KEY_LENGTH, 0)
            md.put_int64_ordered(
                base + FREE_FOR_REUSE_DEADLINE_OFFSET,
                self.epoch_clock() + self.free_to_reuse_timeout_ms,
            )
            self._free_list.append(counter_id)

    def set_counter_value(self, counter_id: int, value: int) -> None:
        """Store the value (release)."""
        self.values_buffer.put_int64_ordered(self.counter_offset(counter_id), value)

    def set_counter_registration_id(self, counter_id: int, registration_id: int) -> None:
        """Store the registration id (release)."""
        offset = self.counter_offset(counter_id) + REGISTRATION_ID_OFFSET
        self.values_buffer.put_int64_ordered(offset, registration_id)

    def set_counter_owner_id(self, counter_id: int, owner_id: int) -> None:
        """Store the owner id."""
        self.values_buffer.put_int64(self.counter_offset(counter_id) + OWNER_ID_OFFSET, owner_id)

    def set_counter_reference_id(self, counter_id: int, reference_id: int) -> None:
        """Store the reference id."""
        offset = self.counter_offset(counter_id) + REFERENCE_ID_OFFSET
        self.values_buffer.put_int64(offset, reference_id)

    def set_counter_label(self, counter_id: int, label: str) -> None:
        """Replace the label (copy, then release-store its length)."""
        base = self.metadata_offset(counter_id)
        raw = _encode_label(label)
        self.metadata_buffer.put_bytes(base + LABEL_OFFSET, raw)
        self.metadata_buffer.put_int32_ordered(base + LABEL_LENGTH_OFFSET, len(raw))

    def append_to_label(self, counter_id: int, suffix: str) -> None:
        """Append to the label, truncating at MAX_LABEL_LENGTH bytes."""
        base = self.metadata_offset(counter_id)
        md = self.metadata_buffer
        current = md.get_int32_volatile(base + LABEL_LENGTH_OFFSET)
        current = max(0, min(current, MAX_LABEL_LENGTH))
        raw = suffix.encode("utf-8")[: MAX_LABEL_LENGTH - current]
        md.put_bytes(base + LABEL_OFFSET + current, raw)
        md.put_int32_ordered(base + LABEL_LENGTH_OFFSET, current + len(raw))


class AtomicCounter:
    """A 64-bit counter value in shared memory; also used for positions and limits."""

    def __init__(
        self, values_buffer: Buffer, counter_id: int, manager: CountersManager | None = None
    ) -> None:
        offset = counter_id * COUNTER_LENGTH
        if counter_id < 0 or offset + COUNTER_LENGTH > values_buffer.capacity:
            raise IndexError(
                f"counter id {counter_id} outside values buffer of {values_buffer.capacity} bytes"
            )
        self.id: int = counter_id
        self.values_buffer: Buffer = values_buffer
        self.offset: int = offset
        self._manager = manager
        self._closed = False

    def get(self) -> int:
        """Value (acquire)."""
        return self.values_buffer.get_int64_volatile(self.offset)

    def get_plain(self) -> int:
        """Value without ordering."""
        return self.values_buffer.get_int64(self.offset)

    def set(self, value: int) -> None:
        """Store (release)."""
        self.values_buffer.put_int64_ordered(self.offset, value)

    set_ordered = set
    set_release = set

    def set_plain(self, value: int) -> None:
        """Store without ordering."""
        self.values_buffer.put_int64(self.offset, value)

    def increment(self) -> int:
        """Atomically add one; returns the previous value."""
        return self.values_buffer.get_and_add_int64(self.offset, 1)

    def get_and_add(self, delta: int) -> int:
        """Atomically add ``delta``; returns the previous value."""
        return self.values_buffer.get_and_add_int64(self.offset, delta)

    def propose_max(self, value: int) -> bool:
        """Single writer: store ``value`` (release) if greater than the current value."""
        if value > self.values_buffer.get_int64(self.offset):
            self.values_buffer.put_int64_ordered(self.offset, value)
            return True
        return False

    def close(self) -> None:
        """Free the counter through its manager, if any (idempotent)."""
        if not self._closed:
            self._closed = True
            if self._manager is not None:
                self._manager.free(self.id)

    @property
    def is_closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def __repr__(self) -> str:
        return f"AtomicCounter(id={self.id}, value={self.get_plain()})"


# ---------------------------------------------------------------------- keys and labels
_STREAM_KEY = struct.Struct("<qiii")


def stream_counter_key(registration_id: int, session_id: int, stream_id: int, channel: str) -> bytes:
    """112-byte stream key: registration, session and stream ids, channel (first 92 bytes)."""
    raw = channel.encode("utf-8")[:STREAM_KEY_CHANNEL_MAX]
    head = _STREAM_KEY.pack(registration_id, session_id, stream_id, len(raw))
    return (head + raw).ljust(MAX_KEY_LENGTH, b"\0")


def stream_counter_label(
    name: str,
    registration_id: int,
    session_id: int,
    stream_id: int,
    channel: str,
    suffix: str = "",
) -> str:
    """``"<name>: <reg> <session> <stream> <channel><suffix>"`` truncated to 380 bytes."""
    return _truncate(f"{name}: {registration_id} {session_id} {stream_id} {channel}{suffix}")


def channel_counter_key(channel: str) -> bytes:
    """112-byte channel key: length then the channel (first 108 bytes)."""
    raw = channel.encode("utf-8")[:CHANNEL_KEY_CHANNEL_MAX]
    return (struct.pack("<i", len(raw)) + raw).ljust(MAX_KEY_LENGTH, b"\0")


def channel_counter_label(name: str, channel: str, bind_address: str = "") -> str:
    """``"<name>: <channel>"`` or, once bound, ``"<name>: <channel> <ip:port>"``."""
    text = f"{name}: {channel}" if not bind_address else f"{name}: {channel} {bind_address}"
    return _truncate(text)


def local_sockaddr_counter_key(channel_status_id: int, local_sockaddr: str) -> bytes:
    """112-byte local-sockaddr key: channel status counter id, length, NUL-terminated addr."""
    raw = local_sockaddr.encode("utf-8")[:LOCAL_SOCKADDR_MAX]
    return (struct.pack("<ii", channel_status_id, len(raw)) + raw).ljust(MAX_KEY_LENGTH, b"\0")


def local_sockaddr_counter_label(name: str, channel_status_id: int, local_sockaddr: str) -> str:
    """``"<name>: <channel status counter id> <ip:port>"``."""
    return _truncate(f"{name}: {channel_status_id} {local_sockaddr}")


def heartbeat_counter_key(client_id: int) -> bytes:
    """8-byte client-heartbeat key: the client id."""
    return struct.pack("<q", client_id)


def heartbeat_counter_label(client_id: int, name: str = CLIENT_HEARTBEAT_NAME) -> str:
    """``"client-heartbeat: id=<clientId>"`` (the client appends name/version later)."""
    return f"{name}: id={client_id}"


def system_counter_key(counter_id: int) -> bytes:
    """4-byte system counter key: the system counter id."""
    return struct.pack("<i", counter_id)


def _truncate(label: str) -> str:
    raw = label.encode("utf-8")
    if len(raw) <= MAX_LABEL_LENGTH:
        return label
    return raw[:MAX_LABEL_LENGTH].decode("utf-8", errors="ignore")


# ---------------------------------------------------------------------- system counters
SYSTEM_COUNTER_LABELS: dict[int, str] = {
    0: "Bytes sent",
    1: "Bytes received",
    2: "Failed offers to ReceiverProxy",
    3: "Failed offers to SenderProxy",
    4: "Failed offers to DriverConductorProxy",
    5: "NAKs sent",
    6: "NAKs received",
    7: "Status Messages sent",
    8: "Status Messages received",
    9: "Heartbeats sent",
    10: "Heartbeats received",
    11: "Retransmits sent",
    12: "Flow control under runs",
    13: "Flow control over runs",
    14: "Invalid packets",
    15: "Errors",
    16: "Short sends",
    17: "Failed attempts to free log buffers",
    18: "Sender flow control limits, i.e. back-pressure events",
    19: "Unblocked Publications",
    20: "Unblocked Control Commands",
    21: "Possible TTL Asymmetry",
    22: "ControllableIdleStrategy status",
    23: "Loss gap fills",
    24: "Client liveness timeouts",
    25: "Resolution changes",
    26: "Conductor max cycle time doing its work in ns",
    27: "Conductor work cycle exceeded threshold count",
    28: "Sender max cycle time doing its work in ns",
    29: "Sender work cycle exceeded threshold count",
    30: "Receiver max cycle time doing its work in ns",
    31: "Receiver work cycle exceeded threshold count",
    32: "NameResolver max time in ns",
    33: "NameResolver exceeded threshold count",
    34: "Aeron software",
    35: "Bytes currently mapped",
    36: "Retransmitted bytes",
    37: "Retransmit Pool Overflow count",
    38: "Error Frames received",
    39: "Error Frames sent",
    40: "Publications Revoked",
    41: "Publication Images Revoked",
    42: "Images rejected",
    43: "Control protocol version",
    44: "Status Messages rejected",
    45: "Failed offers to NativeResourceAgentProxy",
}

SYSTEM_COUNTER_ERRORS = 15
SYSTEM_COUNTER_UNBLOCKED_COMMANDS = 20
SYSTEM_COUNTER_AERON_VERSION = 34
SYSTEM_COUNTER_BYTES_CURRENTLY_MAPPED = 35
SYSTEM_COUNTER_CONTROL_PROTOCOL_VERSION = 43

DEFAULT_CYCLE_THRESHOLD_NS = 100_000_000
DEFAULT_NAME_RESOLVER_THRESHOLD_NS = 5_000_000_000


def format_duration_ns(duration_ns: int) -> str:
    """Largest unit that divides exactly: ``"5s"``, ``"100ms"``, ``"10us"`` or ``"7ns"``."""
    for unit_ns, suffix in ((1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "us")):
        if duration_ns >= unit_ns and duration_ns % unit_ns == 0:
            return f"{duration_ns // unit_ns}{suffix}"
    return f"{duration_ns}ns"


def system_counter_label(
    counter_id: int,
    threading_mode: str,
    version: str,
    commit: str,
    *,
    resolver_name: str = "",
    conductor_threshold_ns: int = DEFAULT_CYCLE_THRESHOLD_NS,
    sender_threshold_ns: int = DEFAULT_CYCLE_THRESHOLD_NS,
    receiver_threshold_ns: int = DEFAULT_CYCLE_THRESHOLD_NS,
    name_resolver_threshold_ns: int = DEFAULT_NAME_RESOLVER_THRESHOLD_NS,
) -> str:
    """The full label the C driver gives system counter ``counter_id`` after start-up."""
    base = SYSTEM_COUNTER_LABELS[counter_id]
    if counter_id in (SYSTEM_COUNTER_ERRORS, SYSTEM_COUNTER_AERON_VERSION):
        return f"{base}: version={version} commit={commit}"
    if counter_id == 25:
        return f"{base}: driverName={resolver_name}"
    if counter_id in (26, 28, 30):
        return f"{base}: {threading_mode}"
    thresholds = {27: conductor_threshold_ns, 29: sender_threshold_ns, 31: receiver_threshold_ns}
    if counter_id in thresholds:
        return f"{base}: threshold={format_duration_ns(thresholds[counter_id])} {threading_mode}"
    if counter_id == 33:
        return f"{base}: threshold={format_duration_ns(name_resolver_threshold_ns)}"
    return base
