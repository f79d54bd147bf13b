"""Log buffer layout, metadata offsets, position arithmetic and term rotation (log-buffer.md).

A ``metadata`` argument is always the 4096-byte metadata section wrapped in an atomic buffer;
partition indices are 0..2.  All integers follow the C client's 32/64-bit wrapping rules.
"""

from __future__ import annotations

import struct
from typing import Any

from aeronpy.concurrent.atomic_buffer import fence
from aeronpy.protocol.data_header import BEGIN_AND_END_FLAGS, CURRENT_VERSION, HDR_TYPE_DATA

PARTITION_COUNT = 3
TERM_MIN_LENGTH = 64 * 1024
TERM_MAX_LENGTH = 1 << 30
PAGE_MIN_SIZE = 4096
PAGE_MAX_SIZE = 1 << 30
LOG_META_DATA_LENGTH = PAGE_MIN_SIZE
FRAME_ALIGNMENT = 32
MAX_MESSAGE_LENGTH_CAP = 16 * 1024 * 1024
INT64_MAX = (1 << 63) - 1

# metadata section (log-buffer.md §2)
TERM_TAIL_COUNTERS_OFFSET = 0
LOG_ACTIVE_TERM_COUNT_OFFSET = 24
LOG_END_OF_STREAM_POSITION_OFFSET = 128
LOG_IS_CONNECTED_OFFSET = 136
LOG_ACTIVE_TRANSPORT_COUNT = 140
LOG_ACTIVE_TRANSPORT_COUNT_OFFSET = LOG_ACTIVE_TRANSPORT_COUNT
LOG_CORRELATION_ID_OFFSET = 256
LOG_INITIAL_TERM_ID_OFFSET = 264
LOG_DEFAULT_FRAME_HEADER_LENGTH_OFFSET = 268
LOG_MTU_LENGTH_OFFSET = 272
LOG_TERM_LENGTH_OFFSET = 276
LOG_PAGE_SIZE_OFFSET = 280
LOG_PUBLICATION_WINDOW_LENGTH_OFFSET = 284
LOG_RECEIVER_WINDOW_LENGTH_OFFSET = 288
LOG_SOCKET_SNDBUF_LENGTH_OFFSET = 292
LOG_OS_DEFAULT_SOCKET_SNDBUF_LENGTH_OFFSET = 296
LOG_OS_MAX_SOCKET_SNDBUF_LENGTH_OFFSET = 300
LOG_SOCKET_RCVBUF_LENGTH_OFFSET = 304
LOG_OS_DEFAULT_SOCKET_RCVBUF_LENGTH_OFFSET = 308
LOG_OS_MAX_SOCKET_RCVBUF_LENGTH_OFFSET = 312
LOG_MAX_RESEND_OFFSET = 316
LOG_DEFAULT_FRAME_HEADER_OFFSET = 320
LOG_DEFAULT_FRAME_HEADER_MAX_LENGTH = 128
LOG_ENTITY_TAG_OFFSET = 448
LOG_RESPONSE_CORRELATION_ID_OFFSET = 456
LOG_LINGER_TIMEOUT_NS_OFFSET = 464
LOG_UNTETHERED_WINDOW_LIMIT_TIMEOUT_NS_OFFSET = 472
LOG_UNTETHERED_RESTING_TIMEOUT_NS_OFFSET = 480
LOG_GROUP_OFFSET = 488
LOG_IS_RESPONSE_OFFSET = 489
LOG_REJOIN_OFFSET = 490
LOG_RELIABLE_OFFSET = 491
LOG_SPARSE_OFFSET = 492
LOG_SIGNAL_EOS_OFFSET = 493
LOG_SPIES_SIMULATE_CONNECTION_OFFSET = 494
LOG_TETHER_OFFSET = 495
LOG_IS_PUBLICATION_REVOKED_OFFSET = 496
LOG_TYPE_OFFSET = 497
LOG_UNTETHERED_LINGER_TIMEOUT_NS_OFFSET = 500
LOG_META_DATA_STRUCT_LENGTH = 508

LOG_TYPE_CONCURRENT = 0
LOG_TYPE_EXCLUSIVE = 1
LOG_TYPE_IMAGE = 2

_DEFAULT_HEADER = struct.Struct("<iBBhiiiiq")


def _i32(v: int) -> int:
    return ((v + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def _i64(v: int) -> int:
    return ((v + (1 << 63)) & 0xFFFFFFFFFFFFFFFF) - (1 << 63)


def _is_pow2(v: int) -> bool:
    return v > 0 and v & (v - 1) == 0


def check_term_length(term_length: int) -> None:
    """Raise ``ValueError`` unless a power of two in [64 KiB, 1 GiB]."""
    if term_length < TERM_MIN_LENGTH:
        raise ValueError(f"term length less than min length of {TERM_MIN_LENGTH}: length={term_length}")
    if term_length > TERM_MAX_LENGTH:
        raise ValueError(f"term length more than max length of {TERM_MAX_LENGTH}: length={term_length}")
    if not _is_pow2(term_length):
        raise ValueError(f"term length not a power of 2: length={term_length}")


def check_page_size(page_size: int) -> None:
    """Raise ``ValueError`` unless a power of two in [4 KiB, 1 GiB]."""
    if page_size < PAGE_MIN_SIZE:
        raise ValueError(f"page size less than min size of {PAGE_MIN_SIZE}: page size={page_size}")
    if page_size > PAGE_MAX_SIZE:
        raise ValueError(f"page size more than max size of {PAGE_MAX_SIZE}: page size={page_size}")
    if not _is_pow2(page_size):
        raise ValueError(f"page size not a power of 2: page size={page_size}")


def compute_log_length(term_length: int, page_size: int) -> int:
    """File length: three terms plus the metadata section, aligned to the page size."""
    n = term_length * PARTITION_COUNT + LOG_META_DATA_LENGTH
    return (n + page_size - 1) & ~(page_size - 1)


def max_message_length(term_length: int) -> int:
    """``min(term_length / 8, 16 MiB)``."""
    return min(term_length // 8, MAX_MESSAGE_LENGTH_CAP)


def position_bits_to_shift(term_length: int) -> int:
    """log2 of the (power of two) term length."""
    return (term_length & -term_length).bit_length() - 1


def compute_term_count(term_id: int, initial_term_id: int) -> int:
    """Terms since the initial one (32-bit wrapping subtraction)."""
    return _i32(term_id - initial_term_id)


def compute_position(term_id: int, term_offset: int, bits: int, initial_term_id: int) -> int:
    """Stream position of ``term_offset`` within ``term_id``."""
    return (_i32(term_id - initial_term_id) << bits) + term_offset


def compute_term_begin_position(term_id: int, bits: int, initial_term_id: int) -> int:
    return _i32(term_id - initial_term_id) << bits


def compute_term_id_from_position(position: int, bits: int, initial_term_id: int) -> int:
    return _i32(_i32(position >> bits) + initial_term_id)


def compute_term_offset_from_position(position: int, bits: int) -> int:
    return position & ((1 << bits) - 1)


def index_by_term(initial_term_id: int, term_id: int) -> int:
    return _i32(term_id - initial_term_id) % PARTITION_COUNT


def index_by_term_count(term_count: int) -> int:
    return term_count % PARTITION_COUNT


def index_by_position(position: int, bits: int) -> int:
    return (position >> bits) % PARTITION_COUNT


def term_id(raw_tail: int) -> int:
    """Term id held in the high word of a raw tail."""
    return _i32(raw_tail >> 32)


def term_offset(raw_tail: int, term_length: int) -> int:
    """Low word of a raw tail, clamped to the term length."""
    offset = raw_tail & 0xFFFFFFFF
    return offset if offset < term_length else term_length


def pack_tail(term_id: int, term_offset: int) -> int:
    """``term_id << 32 | term_offset`` as a signed 64-bit value."""
    return _i64((term_id << 32) | (term_offset & 0xFFFFFFFF))


def active_term_count(metadata: Any) -> int:
    return int(metadata.get_int32_volatile(LOG_ACTIVE_TERM_COUNT_OFFSET))


def raw_tail_volatile(metadata: Any, partition_index: int | None = None) -> int:
    """Raw tail of a partition (of the active one when ``partition_index`` is None)."""
    if partition_index is None:
        partition_index = active_term_count(metadata) % PARTITION_COUNT
    return int(metadata.get_int64_volatile(TERM_TAIL_COUNTERS_OFFSET + 8 * partition_index))


def cas_raw_tail(metadata: Any, partition_index: int, expected: int, update: int) -> bool:
    return bool(metadata.compare_and_set_int64(8 * partition_index, expected, update))


def rotate_log(metadata: Any, current_term_count: int, current_term_id: int) -> bool:
    """Move the log to the next term; False if another party already advanced the count."""
    next_term_id = _i32(current_term_id + 1)
    next_term_count = _i32(current_term_count + 1)
    next_index = next_term_count % PARTITION_COUNT
    expected_term_id = _i32(next_term_id - PARTITION_COUNT)
    offset = TERM_TAIL_COUNTERS_OFFSET + 8 * next_index
    new_tail = pack_tail(next_term_id, 0)
    while True:
        raw = metadata.get_int64_volatile(offset)
        if _i32(raw >> 32) != expected_term_id:
            break
        if metadata.compare_and_set_int64(offset, raw, new_tail):
            break
    return bool(
        metadata.compare_and_set_int32(LOG_ACTIVE_TERM_COUNT_OFFSET, current_term_count, next_term_count)
    )


def initialise_tail_with_term_id(metadata: Any, partition_index: int, term_id: int) -> None:
    metadata.put_int64_ordered(TERM_TAIL_COUNTERS_OFFSET + 8 * partition_index, pack_tail(term_id, 0))


def initialize_tail_counters(
    metadata: Any, initial_term_id: int, term_id: int | None = None, term_offset: int | None = None
) -> None:
    """Set the three tails and the active term count (§3), optionally at ``term_id/term_offset``."""
    if term_id is None:
        term_id = initial_term_id
    if term_offset is None:
        term_offset = 0
    term_count = _i32(term_id - initial_term_id)
    index = term_count % PARTITION_COUNT
    metadata.put_int64_ordered(8 * index, pack_tail(term_id, term_offset))
    for i in (1, 2):
        index = (index + 1) % PARTITION_COUNT
        metadata.put_int64_ordered(8 * index, pack_tail(_i32(term_id + i - PARTITION_COUNT), 0))
    metadata.put_int32_ordered(LOG_ACTIVE_TERM_COUNT_OFFSET, term_count)


def producer_position(metadata: Any, term_length: int, initial_term_id: int) -> int:
    """Position of the active tail."""
    raw = raw_tail_volatile(metadata)
    return compute_position(
        term_id(raw), term_offset(raw, term_length), position_bits_to_shift(term_length), initial_term_id
    )


def end_of_stream_position(metadata: Any) -> int:
    return int(metadata.get_int64_volatile(LOG_END_OF_STREAM_POSITION_OFFSET))


def set_end_of_stream_position(metadata: Any, position: int) -> None:
    metadata.put_int64_ordered(LOG_END_OF_STREAM_POSITION_OFFSET, position)


def is_connected(metadata: Any) -> bool:
    return bool(metadata.get_int32_volatile(LOG_IS_CONNECTED_OFFSET) == 1)


def set_is_connected(metadata: Any, connected: bool) -> None:
    metadata.put_int32_ordered(LOG_IS_CONNECTED_OFFSET, 1 if connected else 0)


def active_transport_count(metadata: Any) -> int:
    return int(metadata.get_int32_volatile(LOG_ACTIVE_TRANSPORT_COUNT_OFFSET))


def set_active_transport_count(metadata: Any, count: int) -> None:
    metadata.put_int32_ordered(LOG_ACTIVE_TRANSPORT_COUNT_OFFSET, count)


def is_publication_revoked(metadata: Any) -> bool:
    return bool(metadata.get_uint8(LOG_IS_PUBLICATION_REVOKED_OFFSET))


def set_publication_revoked(metadata: Any, revoked: bool = True) -> None:
    """Release-store ``is_publication_revoked`` (uint8 at offset 496).

    The flag shares its aligned word with ``LOG_TYPE`` (497) and padding, so rather than a
    read-modify-write of the whole word this is a fenced plain byte store: ``fence()`` before
    the store gives it release semantics (everything written before - e.g. end-of-stream
    position - is visible first) and ``fence()`` after publishes it at once, as
    ``AERON_SET_RELEASE`` does in the C driver.
    """
    fence()
    metadata.put_uint8(LOG_IS_PUBLICATION_REVOKED_OFFSET, 1 if revoked else 0)
    fence()


def compute_fragmented_length(length: int, max_payload_length: int) -> int:
    """Space reserved for a message split into ``max_payload_length`` fragments."""
    full, remaining = divmod(length, max_payload_length)
    last = (remaining + 32 + FRAME_ALIGNMENT - 1) & ~(FRAME_ALIGNMENT - 1) if remaining else 0
    return full * (max_payload_length + 32) + last


def default_frame_header(metadata: Any) -> bytes:
    """The 32-byte default DATA header stored in the metadata."""
    return bytes(metadata.get_bytes(LOG_DEFAULT_FRAME_HEADER_OFFSET, 32))


def write_log_metadata(
    metadata: Any,
    *,
    correlation_id: int,
    initial_term_id: int,
    mtu_length: int,
    term_length: int,
    page_size: int,
    session_id: int,
    stream_id: int,
    publication_window_length: int = 0,
    receiver_window_length: int = 0,
    socket_sndbuf_length: int = 0,
    os_default_socket_sndbuf_length: int = 0,
    os_max_socket_sndbuf_length: int = 0,
    socket_rcvbuf_length: int = 0,
    os_default_socket_rcvbuf_length: int = 0,
    os_max_socket_rcvbuf_length: int = 0,
    max_resend: int = 16,
    entity_tag: int = -1,
    response_correlation_id: int = -1,
    linger_timeout_ns: int = 0,
    untethered_window_limit_timeout_ns: int = 0,
    untethered_linger_timeout_ns: int = -1,
    untethered_resting_timeout_ns: int = 0,
    group: bool = False,
    is_response: bool = False,
    rejoin: bool = True,
    reliable: bool = True,
    sparse: bool = True,
    signal_eos: bool = True,
    spies_simulate_connection: bool = False,
    tether: bool = True,
    log_type: int = LOG_TYPE_CONCURRENT,
) -> None:
    """Initialise every metadata field except tails and active term count (driver side)."""
    m = metadata
    m.put_int64(LOG_END_OF_STREAM_POSITION_OFFSET, INT64_MAX)
    m.put_int32(LOG_IS_CONNECTED_OFFSET, 0)
    m.put_int32(LOG_ACTIVE_TRANSPORT_COUNT_OFFSET, 0)
    m.put_int64(LOG_CORRELATION_ID_OFFSET, correlation_id)
    m.put_int32(LOG_INITIAL_TERM_ID_OFFSET, initial_term_id)
    m.put_int32(LOG_DEFAULT_FRAME_HEADER_LENGTH_OFFSET, 32)
    for off, value in (
        (LOG_MTU_LENGTH_OFFSET, mtu_length),
        (LOG_TERM_LENGTH_OFFSET, term_length),
        (LOG_PAGE_SIZE_OFFSET, page_size),
        (LOG_PUBLICATION_WINDOW_LENGTH_OFFSET, publication_window_length),
        (LOG_RECEIVER_WINDOW_LENGTH_OFFSET, receiver_window_length),
        (LOG_SOCKET_SNDBUF_LENGTH_OFFSET, socket_sndbuf_length),
        (LOG_OS_DEFAULT_SOCKET_SNDBUF_LENGTH_OFFSET, os_default_socket_sndbuf_length),
        (LOG_OS_MAX_SOCKET_SNDBUF_LENGTH_OFFSET, os_max_socket_sndbuf_length),
        (LOG_SOCKET_RCVBUF_LENGTH_OFFSET, socket_rcvbuf_length),
        (LOG_OS_DEFAULT_SOCKET_RCVBUF_LENGTH_OFFSET, os_default_socket_rcvbuf_length),
        (LOG_OS_MAX_SOCKET_RCVBUF_LENGTH_OFFSET, os_max_socket_rcvbuf_length),
        (LOG_MAX_RESEND_OFFSET, max_resend),
    ):
        m.put_int32(off, value)
    m.set_memory(LOG_DEFAULT_FRAME_HEADER_OFFSET, LOG_DEFAULT_FRAME_HEADER_MAX_LENGTH, 0)
    m.put_bytes(
        LOG_DEFAULT_FRAME_HEADER_OFFSET,
        _DEFAULT_HEADER.pack(
            0, CURRENT_VERSION, BEGIN_AND_END_FLAGS, HDR_TYPE_DATA, 0, session_id, stream_id,
            initial_term_id, 0,
        ),
    )
    for off, value in (
        (LOG_ENTITY_TAG_OFFSET, entity_tag),
        (LOG_RESPONSE_CORRELATION_ID_OFFSET, response_correlation_id),
        (LOG_LINGER_TIMEOUT_NS_OFFSET, linger_timeout_ns),
        (LOG_UNTETHERED_WINDOW_LIMIT_TIMEOUT_NS_OFFSET, untethered_window_limit_timeout_ns),
        (LOG_UNTETHERED_RESTING_TIMEOUT_NS_OFFSET, untethered_resting_timeout_ns),
        (LOG_UNTETHERED_LINGER_TIMEOUT_NS_OFFSET, untethered_linger_timeout_ns),
    ):
        m.put_int64(off, value)
    for off, flag in (
        (LOG_GROUP_OFFSET, group),
        (LOG_IS_RESPONSE_OFFSET, is_response),
        (LOG_REJOIN_OFFSET, rejoin),
        (LOG_RELIABLE_OFFSET, reliable),
        (LOG_SPARSE_OFFSET, sparse),
        (LOG_SIGNAL_EOS_OFFSET, signal_eos),
        (LOG_SPIES_SIMULATE_CONNECTION_OFFSET, spies_simulate_connection),
        (LOG_TETHER_OFFSET, tether),
        (LOG_IS_PUBLICATION_REVOKED_OFFSET, False),
    ):
        m.put_uint8(off, 1 if flag else 0)
    m.put_uint8(LOG_TYPE_OFFSET, log_type)
    m.put_uint16(498, 0)
