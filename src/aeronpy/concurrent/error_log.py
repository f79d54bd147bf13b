"""Distinct error log: the CnC error region read by ErrorStat (ipc-buffers.md §4).

Each distinct error gets one 8-byte aligned record ``[int32 length][int32 observation_count]
[int64 last_ts][int64 first_ts][text]``; repeats only bump the count and last timestamp.
The length is release-stored last, so a reader never sees a half-written record.

Encoded text
------------
The C driver records ``aeron_errmsg()``, the per-thread message built by ``AERON_SET_ERR``:
a first line ``"(<code>) <description>"`` and then one line per (set/append) site
``"[<function>, <file>:<line>] <message>"``, each ending in ``\\n``.  ``<code>`` is what
``aeron_errcode()`` returns: a positive errno (described by ``strerror``) or a negated Aeron
error code (described by the Aeron error-code text, e.g. ``-1`` -> ``invalid channel``).

:meth:`DistinctErrorLog.record` produces that same shape from ``(error_code, message)``,
taking ``<function>, <file>:<line>`` from the Python caller (or a given ``location``), so an
aeronpy driver's errors look like a C driver's in ErrorStat.  Distinctness is by
``(error_code, encoded text)`` as in C.  :meth:`DistinctErrorLog.record_text` stores text
verbatim for callers that format it themselves.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Callable

from aeronpy.concurrent.atomic_buffer import Buffer
from aeronpy.concurrent.bit_util import align

LENGTH_OFFSET = 0
OBSERVATION_COUNT_OFFSET = 4
LAST_OBSERVATION_TIMESTAMP_OFFSET = 8
FIRST_OBSERVATION_TIMESTAMP_OFFSET = 16
ENCODED_ERROR_OFFSET = 24
HEADER_LENGTH = ENCODED_ERROR_OFFSET
RECORD_ALIGNMENT = 8

MAX_ENCODED_LENGTH = 8192 - 1
"""The C per-thread error message buffer is 8192 bytes including the terminator."""
TRUNCATION_TRAILER = "...\n"

# Aeron error codes (control-protocol.md §4) and client-side codes, with the C descriptions.
ERROR_CODE_DESCRIPTIONS: dict[int, str] = {
    0: "generic error, see message",
    1: "invalid channel",
    2: "unknown subscription",
    3: "unknown publication",
    4: "channel endpoint error",
    5: "unknown counter",
    6: "unknown command type id",
    7: "malformed command",
    8: "not supported",
    9: "unknown host",
    10: "resource temporarily unavailable",
    11: "generic error, see message",
    12: "insufficient storage space",
    13: "image rejected",
    14: "publication revoked",
    1000: "driver timeout",
    1001: "client timeout",
    1002: "client service timeout",
    1003: "client command buffer full",
    1004: "driver command buffer full",
}


def describe_error_code(error_code: int) -> str:
    """C's description of an ``aeron_errcode()`` value (errno if > 0, -Aeron code if <= 0)."""
    if error_code > 0:
        return os.strerror(error_code)
    return ERROR_CODE_DESCRIPTIONS.get(-error_code, "unknown error code")


def caller_location(stacklevel: int = 1) -> str:
    """``"<function>, <file>:<line>"`` of the frame ``stacklevel`` levels above the caller."""
    try:
        frame = sys._getframe(stacklevel + 1)
    except ValueError:
        return "<unknown>, <unknown>:0"
    code = frame.f_code
    return f"{code.co_name}, {os.path.basename(code.co_filename)}:{frame.f_lineno}"


def exception_location(exc: BaseException) -> str:
    """``"<function>, <file>:<line>"`` of the innermost frame of ``exc``'s traceback."""
    tb = exc.__traceback__
    if tb is None:
        return "<unknown>, <unknown>:0"
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return f"{code.co_name}, {os.path.basename(code.co_filename)}:{tb.tb_lineno}"


def encode_error(error_code: int, message: str, location: str) -> str:
    """The C driver's error text: ``"(<code>) <description>\\n[<location>] <message>\\n"``."""
    text = f"({error_code}) {describe_error_code(error_code)}\n[{location}] {message}\n"
    raw = text.encode("utf-8")
    if len(raw) > MAX_ENCODED_LENGTH:
        keep = MAX_ENCODED_LENGTH - len(TRUNCATION_TRAILER)
        text = raw[:keep].decode("utf-8", errors="ignore") + TRUNCATION_TRAILER
    return text


class DistinctErrorLog:
    """Records each distinct error once, counting repeat observations (thread-safe)."""

    def __init__(self, buffer: Buffer, epoch_clock: Callable[[], int]) -> None:
        self.buffer: Buffer = buffer
        self.epoch_clock = epoch_clock
        self._next_offset = 0
        self._offsets: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()

    @property
    def num_observations(self) -> int:
        """Number of distinct errors recorded."""
        with self._lock:
            return len(self._offsets)

    def record(
        self, error_code: int, message: str, location: str | None = None, stacklevel: int = 1
    ) -> bool:
        """Record an error in C driver format; False if a new record does not fit.

        ``location`` defaults to the calling function (``stacklevel`` frames up).
        """
        if location is None:
            location = caller_location(stacklevel)
        return self.record_text(error_code, encode_error(error_code, message, location))

    def record_text(self, error_code: int, text: str) -> bool:
        """Record ``text`` verbatim; False if a new record does not fit (printed to stderr)."""
        buf = self.buffer
        with self._lock:
            timestamp = self.epoch_clock()
            key = (error_code, text)
            offset = self._offsets.get(key)
            if offset is None:
                raw = text.encode("utf-8")
                length = HEADER_LENGTH + len(raw)
                offset = self._next_offset
                if offset + length > buf.capacity:
                    print(f"{timestamp} - unrecordable error {text}", file=sys.stderr)
                    return False
                buf.put_bytes(offset + ENCODED_ERROR_OFFSET, raw)
                buf.put_int64(offset + FIRST_OBSERVATION_TIMESTAMP_OFFSET, timestamp)
                buf.put_int32(offset + OBSERVATION_COUNT_OFFSET, 0)
                self._next_offset = align(offset + length, RECORD_ALIGNMENT)
                self._offsets[key] = offset
                buf.put_int32_ordered(offset + LENGTH_OFFSET, length)
        buf.get_and_add_int32(offset + OBSERVATION_COUNT_OFFSET, 1)
        buf.put_int64_ordered(offset + LAST_OBSERVATION_TIMESTAMP_OFFSET, timestamp)
        return True


def error_log_exists(buffer: Buffer) -> bool:
    """True if at least one error has been recorded."""
    return buffer.capacity >= HEADER_LENGTH and buffer.get_int32_volatile(LENGTH_OFFSET) != 0


def read_error_log(
    buffer: Buffer,
    consumer: Callable[[int, int, int, str], None],
    since_timestamp_ms: int = 0,
) -> int:
    """Call ``consumer(count, first_ts, last_ts, text)`` per error last seen at or after
    ``since_timestamp_ms``; returns how many were reported."""
    entries = 0
    offset = 0
    capacity = buffer.capacity
    while offset + HEADER_LENGTH <= capacity:
        length = buffer.get_int32_volatile(offset + LENGTH_OFFSET)
        if length <= 0:
            break
        last = buffer.get_int64_volatile(offset + LAST_OBSERVATION_TIMESTAMP_OFFSET)
        if last >= since_timestamp_ms:
            entries += 1
            text_length = min(length, capacity - offset) - HEADER_LENGTH
            raw = buffer.get_bytes(offset + ENCODED_ERROR_OFFSET, max(0, text_length))
            consumer(
                buffer.get_int32_volatile(offset + OBSERVATION_COUNT_OFFSET),
                buffer.get_int64(offset + FIRST_OBSERVATION_TIMESTAMP_OFFSET),
                last,
                raw.decode("utf-8", errors="replace"),
            )
        offset += align(length, RECORD_ALIGNMENT)
    return entries


__all__ = [
    "LENGTH_OFFSET",
    "OBSERVATION_COUNT_OFFSET",
    "LAST_OBSERVATION_TIMESTAMP_OFFSET",
    "FIRST_OBSERVATION_TIMESTAMP_OFFSET",
    "ENCODED_ERROR_OFFSET",
    "RECORD_ALIGNMENT",
    "DistinctErrorLog",
    "read_error_log",
    "error_log_exists",
    "encode_error",
    "describe_error_code",
]
