"""Counters the archive publishes (archive.md §4.7): type ids, keys and labels."""

from __future__ import annotations

import struct
from typing import Any

__all__ = [
    "RECORDING_POSITION_TYPE_ID",
    "ARCHIVE_ERROR_COUNT_TYPE_ID",
    "ARCHIVE_CONTROL_SESSIONS_TYPE_ID",
    "ARCHIVE_RECORDING_SESSION_COUNT_TYPE_ID",
    "ARCHIVE_REPLAY_SESSION_COUNT_TYPE_ID",
    "recording_position_key",
    "recording_position_label",
    "decode_recording_position_key",
    "set_reference_id",
]

RECORDING_POSITION_TYPE_ID = 100
ARCHIVE_ERROR_COUNT_TYPE_ID = 101
ARCHIVE_CONTROL_SESSIONS_TYPE_ID = 102
ARCHIVE_RECORDING_SESSION_COUNT_TYPE_ID = 111
ARCHIVE_REPLAY_SESSION_COUNT_TYPE_ID = 112
CONTROL_SESSION_TYPE_ID = 113
MAX_KEY_LENGTH = 112
MAX_SOURCE_IDENTITY_LENGTH = MAX_KEY_LENGTH - 16 - 8
MAX_LABEL_LENGTH = 380


def recording_position_key(recording_id: int, session_id: int, source_identity: str, archive_id: int) -> bytes:
    """recordingId i64, sessionId i32, sourceIdentity length i32 + ASCII (≤ 88), archiveId i64."""
    src = source_identity.encode("ascii", "replace")[:MAX_SOURCE_IDENTITY_LENGTH]
    return struct.pack("<qii", recording_id, session_id, len(src)) + src + struct.pack("<q", archive_id)


def decode_recording_position_key(key: bytes) -> tuple[int, int, str, int]:
    """``(recordingId, sessionId, sourceIdentity, archiveId)`` of a rec-pos key."""
    recording_id, session_id, n = struct.unpack_from("<qii", key, 0)
    n = max(0, min(n, MAX_SOURCE_IDENTITY_LENGTH, len(key) - 16))
    src = key[16 : 16 + n].decode("ascii", "replace")
    archive_id = struct.unpack_from("<q", key, 16 + n)[0] if len(key) >= 24 + n else -1
    return recording_id, session_id, src, archive_id


def recording_position_label(recording_id: int, session_id: int, stream_id: int, channel: str, archive_id: int) -> str:
    head = f"rec-pos: {recording_id} {session_id} {stream_id} "
    tail = f" - archiveId={archive_id}"
    room = MAX_LABEL_LENGTH - len(head) - len(tail)
    return head + channel[: max(0, room)] + tail


def archive_label(name: str, archive_id: int) -> str:
    return f"{name} - archiveId={archive_id}"


def set_reference_id(counter: Any, reference_id: int) -> None:
    """Write a client-allocated counter's reference id (release), as Aeron's
    ``AeronCounters.setReferenceId``: the archive gives its control-session counter the response
    publication's registration id.  The ``rec-pos`` and archive-wide counters keep the driver's
    default (0), as in Aeron."""
    from aeronpy.concurrent.counters import REFERENCE_ID_OFFSET

    counter.values_buffer.put_int64_ordered(counter.offset + REFERENCE_ID_OFFSET, reference_id)
