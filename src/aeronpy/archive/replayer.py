"""Replay sessions and the replayer agent (archive.md §6.2).

A :class:`ReplaySession` reads a recording's segment files from the replay position and
appends each frame to an exclusive publication that was created at that same position, so
term ids and offsets line up: DATA frames keep their flags and reserved value (the publication
stamps its own session and stream id), padding is re-appended as padding.  It follows a live
recording through a ``limit`` callable and ends at its stop position, when the subscriber goes
away, or when aborted.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import Any

from aeronpy.archive.errors import ErrorCode
from aeronpy.archive.session_agent import SessionAgent
from aeronpy.archive.segments import segment_file_base_position, segment_file_name
from aeronpy.client import results
from aeronpy.client.buffer_claim import BufferClaim
from aeronpy.protocol.data_header import (
    FLAGS_OFFSET,
    HDR_TYPE_PAD,
    HEADER_LENGTH,
    RESERVED_VALUE_OFFSET,
)

__all__ = ["ReplaySession", "Replayer", "Limit"]

# frame length, flags, type, session id (the record checksum when there is one), reserved value
_FRAME = struct.Struct("<i x B H 4x i 8x q")

#: ``limit() -> (position, final)``: how far data is recorded and whether that is the end.
Limit = Callable[[], tuple[int, bool]]


class ReplaySession:
    """One replay: INIT (wait for the subscriber) → REPLAY → done."""

    def __init__(
        self,
        replay_session_id: int,
        correlation_id: int,
        control_session: Any,
        publication: Any,
        archive_dir: str,
        recording_id: int,
        start_position: int,
        replay_position: int,
        replay_limit: int,
        limit: Limit,
        term_length: int,
        segment_length: int,
        buffer_length: int,
        connect_deadline_ns: int,
        nano_clock: Callable[[], int],
        checksum: Callable[[bytes], int] | None = None,
    ) -> None:
        self.checksum = checksum
        self.replay_session_id = replay_session_id
        self.correlation_id = correlation_id
        self.control_session = control_session
        self.publication = publication
        self.archive_dir = archive_dir
        self.recording_id = recording_id
        self.start_position = start_position
        self.position = replay_position
        self.replay_limit = replay_limit  # absolute end position (may be INT64 max: follow)
        self.limit = limit
        self.term_length = term_length
        self.segment_length = segment_length
        self.buffer_length = buffer_length
        self.connect_deadline_ns = connect_deadline_ns
        self.nano_clock = nano_clock
        self.connected = False
        self.aborted = False
        self.done = False
        self.error: str | None = None
        self.error_code = int(ErrorCode.GENERIC)
        self._fd = -1
        self._segment_base = -1
        self._claim = BufferClaim()
        self._pending: bytes = b""

    def abort(self) -> None:
        self.aborted = True

    def _fail(self, message: str, code: int = ErrorCode.GENERIC) -> None:
        self.error = f"{message}, recordingId={self.recording_id}, replaySessionId={self.replay_session_id}"
        self.error_code = int(code)
        self._close(revoke=True)

    def _close(self, revoke: bool) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        try:
            if revoke:
                self.publication.revoke()
            else:
                self.publication.close()
        except Exception:  # the client may already be closing
            pass
        self.done = True

    def do_work(self) -> int:
        if self.done:
            return 0
        if self.aborted:
            self._close(revoke=True)
            return 1
        if not self.connected:
            if self.publication.is_connected:
                self.connected = True
            elif self.nano_clock() > self.connect_deadline_ns:
                self._fail(f"no connection established for replay publication {self.publication.channel}")
                return 1
            else:
                return 0
        if not self.publication.is_connected:
            self._close(revoke=True)
            return 1
        if self.position >= self.replay_limit:
            self._close(revoke=False)
            return 1
        recorded, final = self.limit()
        stop = min(recorded, self.replay_limit)
        if self.position >= stop:
            if final:
                self._close(revoke=False)
                return 1
            return 0
        return self._replay_block(stop)

    def _open_segment(self) -> bool:
        base = segment_file_base_position(self.start_position, self.position, self.term_length, self.segment_length)
        if base == self._segment_base and self._fd >= 0:
            return True
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        path = os.path.join(self.archive_dir, segment_file_name(self.recording_id, base))
        try:
            self._fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            self._fail(f"recording segment not found {path}")
            return False
        self._segment_base = base
        return True

    def _replay_block(self, stop: int) -> int:
        if not self._open_segment():
            return 1
        term_offset = self.position & (self.term_length - 1)
        n = min(stop - self.position, self.buffer_length, self.term_length - term_offset)
        data = os.pread(self._fd, n, self.position - self._segment_base)
        at = 0
        sent = 0
        end = len(data)
        unpack = _FRAME.unpack_from
        try_claim = self.publication.try_claim
        claim = self._claim
        while at + HEADER_LENGTH <= end:
            length, flags, ftype, stored, reserved = unpack(data, at)
            if length <= 0:
                self._fail(f"unexpected end of recording at position={self.position}")
                return 1
            aligned = (length + 31) & ~31
            if ftype == HDR_TYPE_PAD:
                result = self.publication.append_padding(length - HEADER_LENGTH)
            else:
                if at + length > end:
                    break  # partially read frame: next cycle
                if self.checksum is not None:
                    if at + aligned > end:
                        break
                    if self.checksum(data[at + HEADER_LENGTH : at + aligned]) != stored:
                        self._fail(f"CRC checksum mismatch at position={self.position}: expected={stored}")
                        return 1
                result = try_claim(length - HEADER_LENGTH, claim)
                if result > 0:  # copy the payload, then the recorded flags and reserved value, then commit
                    buffer, offset = claim.buffer, claim.offset
                    buffer.put_bytes(offset, data, at + HEADER_LENGTH, length - HEADER_LENGTH)
                    buffer.put_uint8(offset - HEADER_LENGTH + FLAGS_OFFSET, flags)
                    buffer.put_int64(offset - HEADER_LENGTH + RESERVED_VALUE_OFFSET, reserved)
                    claim.commit()
            if result < 0:
                if result in (results.NOT_CONNECTED, results.CLOSED, results.MAX_POSITION_EXCEEDED):
                    self._close(revoke=True)
                    return 1
                break  # back pressured / admin action: retry this frame next cycle
            at += aligned
            self.position += aligned
            sent += 1
            if ftype == HDR_TYPE_PAD or self.position >= self.replay_limit:
                break
        return sent


class Replayer(SessionAgent[ReplaySession]):
    """The replayer agent: runs replay sessions, hands finished ones back through ``closed``."""

    ROLE = "archive-replayer"

    def close_session(self, session: ReplaySession) -> None:
        session._close(revoke=True)
