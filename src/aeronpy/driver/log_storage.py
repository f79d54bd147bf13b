"""The driver's log files: created, accounted for and deleted in one place.

A sparse log file takes disk (or ``/dev/shm``) pages only as they are first written, so checking
each new log against the free space alone lets the live logs promise more than the file system
holds; the first write into a page that cannot be backed then kills the writer with SIGBUS — a
client, or the driver itself while it rebuilds an image.  :class:`LogStorage` therefore counts
what every live log may still take (its length less the blocks it already holds) as used, and
refuses a new log unless its *full* length fits beside those promises.  Non-sparse logs are
allocated up front (``posix_fallocate``), so they promise nothing more.

It also keeps the ``Bytes currently mapped`` system counter.  The disk-usage probe and the
block count of a file are injected so tests can play out a full file system without one.
"""

from __future__ import annotations

import os
import shutil
from typing import Callable, Protocol

from aeronpy.driver.files import remove_quietly
from aeronpy.errors import StorageSpaceError
from aeronpy.logbuffer import descriptor
from aeronpy.logbuffer.log_buffers import LogBuffers


class MappedBytesCounter(Protocol):
    def get_and_add(self, delta: int) -> int: ...


def free_bytes(directory: str) -> int:
    """Bytes a non-root writer may still allocate in ``directory``'s file system."""
    return shutil.disk_usage(directory).free


def allocated_bytes(path: str) -> int:
    """Bytes of storage a file already holds (its blocks, not its length)."""
    try:
        return os.stat(path).st_blocks * 512
    except OSError:
        return 0


class LogStorage:
    """Creates and deletes log buffers, accounting every live log's full length."""

    def __init__(
        self,
        directory: str,
        page_size: int,
        perform_checks: bool,
        low_warning_threshold: int,
        warn: Callable[[str], None],
        mapped_bytes: MappedBytesCounter | None = None,
        free: Callable[[str], int] = free_bytes,
        allocated: Callable[[str], int] = allocated_bytes,
    ) -> None:
        self.directory = directory
        self.page_size = page_size
        self.perform_checks = perform_checks
        self.low_warning_threshold = low_warning_threshold
        self._warn = warn
        self._mapped_bytes = mapped_bytes
        self._free = free
        self._allocated = allocated
        self._live: dict[str, int] = {}  # path -> file length

    def log_length(self, term_length: int) -> int:
        return descriptor.compute_log_length(term_length, self.page_size)

    def promised_bytes(self) -> int:
        """What the live logs may still take from the file system (unbacked pages)."""
        return sum(max(0, length - self._allocated(path)) for path, length in self._live.items())

    def check(self, length: int) -> None:
        """Raise :class:`StorageSpaceError` unless a new log of ``length`` bytes fits in full."""
        if not self.perform_checks:
            return
        usable = self._free(self.directory)
        promised = self.promised_bytes()
        if usable - promised < length:
            raise StorageSpaceError(
                f"insufficient usable storage for new log of length={length} usable={usable} "
                f"of which {promised} is promised to {len(self._live)} live logs, in {self.directory}"
            )
        remaining = usable - promised - length
        if remaining <= self.low_warning_threshold:
            self._warn(
                f"WARNING: space is running low: threshold={self.low_warning_threshold} "
                f"usable={remaining} after this log in {self.directory}"
            )

    def create(self, path: str, term_length: int, sparse: bool, mode: int | None = None) -> LogBuffers:
        """Check, create and map a log of ``term_length`` terms; it counts until :meth:`delete`."""
        self.check(self.log_length(term_length))
        log_buffers = LogBuffers.create(path, term_length, self.page_size, sparse=sparse, mode=mode)
        self._live[path] = log_buffers.file_length
        self._add_mapped(log_buffers.file_length)
        return log_buffers

    def delete(self, log_buffers: LogBuffers) -> None:
        """Unmap a log created here, remove its file and stop counting it."""
        path = log_buffers.path
        log_buffers.close()
        remove_quietly(path)
        if self._live.pop(path, None) is not None:
            self._add_mapped(-log_buffers.file_length)

    def live_count(self) -> int:
        return len(self._live)

    def _add_mapped(self, delta: int) -> None:
        if self._mapped_bytes is not None:
            self._mapped_bytes.get_and_add(delta)


__all__ = ["LogStorage", "allocated_bytes", "free_bytes"]
