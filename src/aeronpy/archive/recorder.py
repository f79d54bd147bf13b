"""Recording sessions and the recorder agent (archive.md §4.2-4.3).

A :class:`RecordingSession` copies an image's log into segment files: each duty cycle takes one
block of complete frames from the image's current position (never crossing a term end, at most
``file.io.max.length`` bytes), writes it with positional writes (a padding frame's header only,
the file offset still advancing past the whole pad), optionally syncs, moves the image's
position and publishes the recorded position on the ``rec-pos`` counter.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any

from aeronpy.protocol import sbe
from aeronpy.archive.codecs import T
from aeronpy.archive.errors import ErrorCode
from aeronpy.archive.session_agent import SessionAgent
from aeronpy.archive.segments import segment_file_base_position, segment_file_name
from aeronpy.protocol.data_header import HDR_TYPE_PAD, HEADER_LENGTH, SESSION_ID_OFFSET

__all__ = ["RecordingWriter", "RecordingSession", "Recorder"]

_SCAN_ALL = 0xFFFF  # a frame type no frame has: scan_frames then reports pads too


class RecordingWriter:
    """Writes blocks of frames at their stream positions into ``<id>-<base>.rec`` files."""

    def __init__(
        self,
        archive_dir: str,
        recording_id: int,
        start_position: int,
        join_position: int,
        term_length: int,
        segment_length: int,
        sync_level: int = 0,
        checksum: Callable[[bytes], int] | None = None,
    ) -> None:
        self.archive_dir = archive_dir
        self.recording_id = recording_id
        self.start_position = start_position
        self.term_length = term_length
        self.segment_length = segment_length
        self.sync_level = sync_level
        self.checksum = checksum
        self._fd = -1
        self._base = segment_file_base_position(start_position, join_position, term_length, segment_length)
        self._open(self._base, create_ok_existing=True)

    def _open(self, base: int, create_ok_existing: bool) -> None:
        path = os.path.join(self.archive_dir, segment_file_name(self.recording_id, base))
        flags = os.O_RDWR | os.O_CREAT | (0 if create_ok_existing else os.O_EXCL)
        self._fd = os.open(path, flags, 0o644)
        if os.fstat(self._fd).st_size < self.segment_length:
            os.ftruncate(self._fd, self.segment_length)
        if self.sync_level > 0:
            dfd = os.open(self.archive_dir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        self._base = base

    def write(self, position: int, data: bytes | bytearray) -> None:
        """Write ``data`` at stream ``position`` (within one term of the current segment)."""
        offset = position - self._base
        if offset >= self.segment_length:
            self._roll(position)
            offset = position - self._base
        if self.checksum is not None:
            data = self._with_checksums(data)
        view = memoryview(data)
        while view:
            n = os.pwrite(self._fd, view, offset)  # a full file system may write part, then raise
            view = view[n:]
            offset += n

    def _with_checksums(self, data: bytes | bytearray) -> bytearray:
        buf = bytearray(data)
        at = 0
        while at + HEADER_LENGTH <= len(buf):
            length = int.from_bytes(buf[at : at + 4], "little", signed=True)
            if length <= 0:
                break
            aligned = (length + 31) & ~31
            if buf[at + 6] != HDR_TYPE_PAD and self.checksum is not None:
                crc = self.checksum(bytes(buf[at + HEADER_LENGTH : at + aligned]))
                buf[at + SESSION_ID_OFFSET : at + SESSION_ID_OFFSET + 4] = crc.to_bytes(4, "little", signed=True)
            at += aligned
        return buf

    def _roll(self, position: int) -> None:
        os.close(self._fd)
        self._fd = -1
        base = segment_file_base_position(self.start_position, position, self.term_length, self.segment_length)
        self._open(base, create_ok_existing=False)

    def sync(self) -> None:
        if self.sync_level == 1:
            os.fdatasync(self._fd)
        elif self.sync_level >= 2:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class RecordingSession:
    """Records one image; ``done`` once the image ended, the session was aborted or a write failed."""

    def __init__(
        self,
        recording_id: int,
        image: Any,
        writer: RecordingWriter,
        position_counter: Any,
        file_io_max_length: int,
        subscription: Any,
        correlation_id: int,
        control_session: Any,
    ) -> None:
        self.recording_id = recording_id
        self.image = image
        self.writer = writer
        self.position_counter = position_counter
        self.file_io_max_length = file_io_max_length
        self.subscription = subscription
        self.correlation_id = correlation_id
        self.control_session = control_session
        self.join_position = int(image.join_position)
        self.recorded_position = self.join_position
        self.events: Any = None  # recording-events publication (progress), if enabled
        self.aborted = False
        self.done = False
        self.error: str | None = None
        self.error_code = int(ErrorCode.GENERIC)
        self._term_length = int(image.term_buffer_length)
        self._mask = self._term_length - 1
        self._bits = self._term_length.bit_length() - 1
        self._terms = image.log_buffers.term_buffers
        position_counter.set(self.join_position)

    def abort(self) -> None:
        self.aborted = True

    def do_work(self) -> int:
        if self.done:
            return 0
        if self.aborted:
            self._finish()
            return 1
        try:
            written = self._record_block()
        except OSError as e:
            self.error = f"failed to write recording {self.recording_id}: {e}"
            if e.errno == errno.ENOSPC:
                self.error_code = int(ErrorCode.STORAGE_SPACE)
            self._finish()
            return 1
        if written == 0 and (self.image.is_closed or self.image.is_end_of_stream):
            if self.image.is_closed or self.recorded_position >= self.image.end_of_stream_position:
                self._finish()
                return 1
        return 1 if written else 0

    def _record_block(self) -> int:
        if self.image.is_closed:
            return 0
        position = int(self.image.subscriber_position.get())
        offset = position & self._mask
        term = self._terms[(position >> self._bits) % 3]
        limit = min(self._term_length, offset + self.file_io_max_length)
        frames, end = term.scan_frames(offset, limit, 1 << 20, _SCAN_ALL)
        if not frames:
            return 0
        # Cut the block at the first padding frame (a pad is written alone), keep data runs together.
        first_off, first_len = frames[0]
        if term.get_uint16(first_off + 6) == HDR_TYPE_PAD:
            self.writer.write(position, term.get_bytes(first_off, HEADER_LENGTH))
            end = first_off + ((first_len + 31) & ~31)
        else:
            end = offset
            for fo, fl in frames:
                if term.get_uint16(fo + 6) == HDR_TYPE_PAD:
                    break
                end = fo + ((fl + 31) & ~31)
            self.writer.write(position, term.get_bytes(offset, end - offset))
        self.writer.sync()
        new_position = position + (end - offset)
        self.image.subscriber_position.set(new_position)
        self.recorded_position = new_position
        self.position_counter.set(new_position)
        if self.events is not None:
            self.events.offer(sbe.encode(T.RecordingProgress, recording_id=self.recording_id,
                                         start_position=self.join_position, position=new_position))
        return int(end - offset)

    def _finish(self) -> None:
        self.writer.close()
        self.done = True


class Recorder(SessionAgent[RecordingSession]):
    """The recorder agent: runs every recording session; hands finished ones back to the
    conductor through ``closed`` (a thread-safe queue)."""

    ROLE = "archive-recorder"

    def close_session(self, session: RecordingSession) -> None:
        session.writer.close()
