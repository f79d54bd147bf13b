"""``archive-mark.dat`` (archive.md §5.6): who runs the archive, liveness, and its error log.

The first 8192 bytes hold an SBE ``MarkFileHeader`` (schema 100 v2, with its message header)
plus four var strings; the distinct error log follows.  The archive writes the header, then
``activityTimestamp`` and ``version`` (ready) last; it refreshes the activity timestamp every
second and writes -1 there on a clean shutdown.
"""

from __future__ import annotations

import mmap
import os
import struct
from typing import Any, Callable

from aeronpy.protocol import sbe
from aeronpy.archive.catalog import CATALOG_VERSION
from aeronpy.archive.codecs import MARK_FILE_HEADER, MARK_FILE_SCHEMA
from aeronpy.archive.errors import MarkFileError
from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.concurrent.error_log import DistinctErrorLog

__all__ = ["MARK_FILE_NAME", "LINK_FILE_NAME", "HEADER_LENGTH", "ArchiveMarkFile", "read_mark_file", "mark_file_dir"]

MARK_FILE_NAME = "archive-mark.dat"
LINK_FILE_NAME = "archive-mark.lnk"
HEADER_LENGTH = 8192
ACTIVE_TIMEOUT_MS = 10_000
PAGE_SIZE = 4096
_FIELD = {f.name: sbe.HEADER_LENGTH + f.offset for f in MARK_FILE_HEADER.fields}


def mark_file_dir(archive_dir: str) -> str:
    """The directory of the mark file: the archive dir unless a link file points elsewhere."""
    link = os.path.join(archive_dir, LINK_FILE_NAME)
    if os.path.exists(link):
        with open(link, encoding="ascii") as f:
            target = f.read().strip()
        if target:
            return target
    return archive_dir


def read_mark_file(path: str) -> sbe.Decoded:
    """Decode the header of an existing mark file (MarkFileError if it isn't one)."""
    try:
        with open(path, "rb") as f:
            data = f.read(HEADER_LENGTH)
    except OSError as e:
        raise MarkFileError(f"cannot read mark file {path}: {e}") from None
    try:
        d = sbe.decode(MARK_FILE_SCHEMA, data)
    except sbe.CodecError as e:
        raise MarkFileError(f"{path} is not an archive mark file: {e}") from None
    if d is None:
        raise MarkFileError(f"{path} is not an archive mark file (unexpected template id)")
    return d


class ArchiveMarkFile:
    """The running archive's mark file."""

    def __init__(
        self,
        archive_dir: str,
        mark_dir: str,
        error_buffer_length: int,
        epoch_clock: Callable[[], int],
        control_channel: str,
        control_stream_id: int,
        local_control_channel: str,
        local_control_stream_id: int,
        events_channel: str,
        events_stream_id: int,
        aeron_directory: str,
        archive_id: int,
    ) -> None:
        self.path = os.path.join(mark_dir, MARK_FILE_NAME)
        self._clock = epoch_clock
        os.makedirs(mark_dir, exist_ok=True)
        _update_link(archive_dir, mark_dir)
        now = epoch_clock()
        if os.path.exists(self.path) and os.path.getsize(self.path) >= sbe.HEADER_LENGTH + 24:
            with open(self.path, "rb") as f:
                raw = f.read(sbe.HEADER_LENGTH + 24)
            version = struct.unpack_from("<i", raw, _FIELD["version"])[0]
            activity = struct.unpack_from("<q", raw, _FIELD["activity_timestamp"])[0]
            if version != 0 and activity != -1 and now - activity < ACTIVE_TIMEOUT_MS:
                raise MarkFileError(f"active Mark file detected: {self.path}")
            if version != 0 and (version >> 16) & 0xFF != 3:
                raise MarkFileError(f"mark file {self.path} has incompatible major version {(version >> 16) & 0xFF}")
        length = (HEADER_LENGTH + error_buffer_length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.ftruncate(fd, 0)
            os.ftruncate(fd, length)
            self._mm = mmap.mmap(fd, length)
        finally:
            os.close(fd)
        header = sbe.encode(
            MARK_FILE_HEADER,
            version=0, activity_timestamp=0, start_timestamp=now, pid=os.getpid(),
            control_stream_id=control_stream_id, local_control_stream_id=local_control_stream_id,
            events_stream_id=events_stream_id, header_length=HEADER_LENGTH, error_buffer_length=error_buffer_length,
            archive_id=archive_id, control_channel=control_channel, local_control_channel=local_control_channel,
            events_channel=events_channel, aeron_directory=aeron_directory,
        )
        if len(header) > HEADER_LENGTH:
            raise MarkFileError(f"mark file header of {len(header)} bytes exceeds {HEADER_LENGTH} (channels too long)")
        self._mm[0 : len(header)] = header
        self._buffer = AtomicBuffer(self._mm)
        self._errors_buffer = AtomicBuffer(self._mm, HEADER_LENGTH, error_buffer_length)
        self.error_log = DistinctErrorLog(self._errors_buffer, epoch_clock)

    def signal_ready(self) -> None:
        self.update_activity_timestamp(self._clock())
        self._buffer.put_int32_ordered(_FIELD["version"], CATALOG_VERSION)
        self._mm.flush()

    def update_activity_timestamp(self, now_ms: int) -> None:
        self._buffer.put_int64_ordered(_FIELD["activity_timestamp"], now_ms)

    def activity_timestamp(self) -> int:
        return int(self._buffer.get_int64_volatile(_FIELD["activity_timestamp"]))

    def close(self) -> None:
        if self._mm.closed:
            return
        self.update_activity_timestamp(-1)
        self._mm.flush()
        self._errors_buffer.release()
        self._buffer.release()
        self._mm.close()

    def __enter__(self) -> ArchiveMarkFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _update_link(archive_dir: str, mark_dir: str) -> None:
    link = os.path.join(archive_dir, LINK_FILE_NAME)
    if os.path.realpath(archive_dir) == os.path.realpath(mark_dir):
        if os.path.exists(link):
            os.remove(link)
        return
    os.makedirs(archive_dir, exist_ok=True)
    with open(link, "w", encoding="ascii") as f:
        f.write(os.path.realpath(mark_dir))
