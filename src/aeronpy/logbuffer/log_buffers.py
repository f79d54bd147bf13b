"""LogBuffers: create (driver) or map (client) a ``*.logbuffer`` file (log-buffer.md §1)."""

from __future__ import annotations

import errno
import mmap
import os
from types import TracebackType
from typing import Any

from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.errors import AeronError, StorageSpaceError
from aeronpy.logbuffer import descriptor as d


class LogBufferError(AeronError, ValueError):
    """A log buffer file is truncated, foreign or otherwise invalid."""


class LogBuffers:
    """A mapped log buffer: three term buffers and the metadata section."""

    def __init__(self, path: str, fd: int, file_length: int, buffer_factory: Any = None) -> None:
        """Map an open file descriptor; prefer :meth:`create` / :meth:`map`."""
        factory = AtomicBuffer if buffer_factory is None else buffer_factory
        self.path = path
        self.file_length = file_length
        self._mmap: mmap.mmap | None = mmap.mmap(fd, file_length, mmap.MAP_SHARED)
        self._closed = False
        meta_offset = file_length - d.LOG_META_DATA_LENGTH
        try:
            self.metadata: Any = factory(self._mmap, meta_offset, d.LOG_META_DATA_LENGTH)
            term_length = int(self.metadata.get_int32(d.LOG_TERM_LENGTH_OFFSET))
            page_size = int(self.metadata.get_int32(d.LOG_PAGE_SIZE_OFFSET))
            self._validate(term_length, page_size)
            self.term_length = term_length
            self.page_size = page_size
            self.term_buffers: list[Any] = [
                factory(self._mmap, i * term_length, term_length) for i in range(d.PARTITION_COUNT)
            ]
        except BaseException:
            self.term_buffers = []
            self.close()
            raise
        self.position_bits_to_shift = d.position_bits_to_shift(term_length)

    def _validate(self, term_length: int, page_size: int) -> None:
        try:
            d.check_term_length(term_length)
            d.check_page_size(page_size)
        except ValueError as e:
            raise LogBufferError(f"invalid log buffer {self.path}: {e}") from None
        expected = d.compute_log_length(term_length, page_size)
        if expected != self.file_length:
            raise LogBufferError(
                f"invalid log buffer {self.path}: file length {self.file_length} does not match "
                f"{expected} for term length {term_length} and page size {page_size}"
            )

    @classmethod
    def create(
        cls, path: str, term_length: int, page_size: int = 4096, sparse: bool = True,
        buffer_factory: Any = None, mode: int | None = None,
    ) -> LogBuffers:
        """Create a zero-filled log file of full length and map it (driver side).

        ``mode`` sets the file's permission bits (default: ``0666`` less the umask).
        Only term length and page size are written to the metadata; the driver then calls
        :func:`descriptor.write_log_metadata` and :func:`descriptor.initialize_tail_counters`.
        """
        d.check_term_length(term_length)
        d.check_page_size(page_size)
        file_length = d.compute_log_length(term_length, page_size)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            try:
                if sparse:
                    os.ftruncate(fd, file_length)
                else:
                    os.posix_fallocate(fd, 0, file_length)
            except OSError as e:
                _remove_quietly(path)
                if e.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise StorageSpaceError(
                        e.errno, f"insufficient storage for log buffer {path}: needs {file_length} bytes"
                    ) from e
                raise StorageSpaceError(
                    e.errno, f"unable to allocate log buffer {path} of {file_length} bytes: {e.strerror}"
                ) from e
            meta = file_length - d.LOG_META_DATA_LENGTH
            os.pwrite(fd, term_length.to_bytes(4, "little") + page_size.to_bytes(4, "little"),
                      meta + d.LOG_TERM_LENGTH_OFFSET)
            return cls(path, fd, file_length, buffer_factory)
        except StorageSpaceError:
            raise
        except OSError as e:
            _remove_quietly(path)
            raise StorageSpaceError(
                e.errno, f"unable to create log buffer {path} of {file_length} bytes: {e.strerror}"
            ) from e
        finally:
            os.close(fd)

    @classmethod
    def map(cls, path: str, buffer_factory: Any = None) -> LogBuffers:
        """Map an existing log file (client side), validating its layout."""
        fd = os.open(path, os.O_RDWR)
        try:
            file_length = os.fstat(fd).st_size
            minimum = d.compute_log_length(d.TERM_MIN_LENGTH, d.PAGE_MIN_SIZE)
            if file_length < minimum:
                raise LogBufferError(
                    f"log buffer {path} is truncated or not a log buffer: {file_length} bytes, "
                    f"at least {minimum} needed"
                )
            return cls(path, fd, file_length, buffer_factory)
        finally:
            os.close(fd)

    @property
    def initial_term_id(self) -> int:
        """Initial term id from the metadata (written by the driver after ``create``)."""
        return int(self.metadata.get_int32(d.LOG_INITIAL_TERM_ID_OFFSET))

    @property
    def mtu_length(self) -> int:
        return int(self.metadata.get_int32(d.LOG_MTU_LENGTH_OFFSET))

    @property
    def is_closed(self) -> bool:
        return self._closed

    def pre_touch(self) -> None:
        """Write a zero to every page of the terms (avoid page faults on the hot path)."""
        for tb in self.term_buffers:
            for off in range(0, tb.capacity, self.page_size):
                tb.compare_and_set_int32(off, 0, 0)

    def close(self) -> None:
        """Release the buffers then unmap; idempotent."""
        if self._closed:
            return
        self._closed = True
        for tb in getattr(self, "term_buffers", []):
            tb.release()
        meta = getattr(self, "metadata", None)
        if meta is not None:
            meta.release()
        if self._mmap is not None:
            try:
                self._mmap.close()
            except BufferError:
                pass  # memoryviews of a term are still alive: unmapped when the last one goes
            self._mmap = None

    def __enter__(self) -> LogBuffers:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LogBuffers(path={self.path!r}, term_length={getattr(self, 'term_length', None)})"


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
