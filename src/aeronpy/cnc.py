"""The CnC (command and control) file ``cnc.dat``: layout, creation and client mapping.

Layout (``cnc-file.md``): a 128-byte header, then the to-driver ring buffer, the to-clients
broadcast buffer, counters metadata (4 x values), counters values and the distinct error log,
the whole file aligned to the driver's file page size.  The driver creates the file
(:meth:`CncFile.create`), initialises the sections and finally release-stores the version
(:meth:`CncFile.signal_ready`); clients map it with :meth:`CncFile.map`, which validates it.
"""

from __future__ import annotations

import errno
import mmap
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.concurrent.bit_util import align, is_power_of_two
from aeronpy.concurrent.clock import epoch_ms
from aeronpy.errors import ActiveDriverError, CncError, ConfigurationError, StorageSpaceError

CNC_FILE = "cnc.dat"


def semantic_version(major: int, minor: int, patch: int) -> int:
    """Compose ``(major << 16) | (minor << 8) | patch`` (one byte each)."""
    return ((major & 0xFF) << 16) | ((minor & 0xFF) << 8) | (patch & 0xFF)


def version_major(version: int) -> int:
    """Major component of a semantic version."""
    return (version >> 16) & 0xFF


def version_minor(version: int) -> int:
    """Minor component of a semantic version."""
    return (version >> 8) & 0xFF


def version_patch(version: int) -> int:
    """Patch component of a semantic version."""
    return version & 0xFF


def version_string(version: int) -> str:
    """``major.minor.patch``."""
    return f"{version_major(version)}.{version_minor(version)}.{version_patch(version)}"


CNC_VERSION = semantic_version(0, 2, 0)  # 0x200
META_DATA_LENGTH = 128

# Header field offsets.
CNC_VERSION_OFFSET = 0
TO_DRIVER_BUFFER_LENGTH_OFFSET = 4
TO_CLIENTS_BUFFER_LENGTH_OFFSET = 8
COUNTERS_METADATA_BUFFER_LENGTH_OFFSET = 12
COUNTERS_VALUES_BUFFER_LENGTH_OFFSET = 16
ERROR_LOG_BUFFER_LENGTH_OFFSET = 20
CLIENT_LIVENESS_TIMEOUT_OFFSET = 24
START_TIMESTAMP_OFFSET = 32
PID_OFFSET = 40
FILE_PAGE_SIZE_OFFSET = 48

# Section defaults (buffer lengths include their trailers).
RING_BUFFER_TRAILER_LENGTH = 768
BROADCAST_BUFFER_TRAILER_LENGTH = 128
RING_BUFFER_CONSUMER_HEARTBEAT_OFFSET = 640  # inside the to-driver trailer
TO_DRIVER_BUFFER_LENGTH_DEFAULT = 1024 * 1024 + RING_BUFFER_TRAILER_LENGTH
TO_CLIENTS_BUFFER_LENGTH_DEFAULT = 1024 * 1024 + BROADCAST_BUFFER_TRAILER_LENGTH
COUNTERS_VALUES_BUFFER_LENGTH_DEFAULT = 8 * 1024 * 1024
ERROR_LOG_BUFFER_LENGTH_DEFAULT = 4 * 1024 * 1024
COUNTERS_METADATA_TO_VALUES_RATIO = 4
FILE_PAGE_SIZE_DEFAULT = 4096
CLIENT_LIVENESS_TIMEOUT_NS_DEFAULT = 10_000_000_000

TO_DRIVER_BUFFER_OFFSET = META_DATA_LENGTH


def counters_metadata_buffer_length(counters_values_buffer_length: int) -> int:
    """Metadata section length: always 4 x the values section."""
    return COUNTERS_METADATA_TO_VALUES_RATIO * counters_values_buffer_length


def compute_cnc_file_length(
    to_driver_buffer_length: int,
    to_clients_buffer_length: int,
    counters_values_buffer_length: int,
    error_log_buffer_length: int,
    page_size: int,
) -> int:
    """Total file length: header + sections, aligned to ``page_size``."""
    total = (
        META_DATA_LENGTH
        + to_driver_buffer_length
        + to_clients_buffer_length
        + counters_metadata_buffer_length(counters_values_buffer_length)
        + counters_values_buffer_length
        + error_log_buffer_length
    )
    return align(total, page_size)


def cnc_file_path(aeron_dir: str) -> str:
    """``<aeron_dir>/cnc.dat``."""
    return os.path.join(aeron_dir, CNC_FILE)


class CncFile:
    """A mapped ``cnc.dat`` with an :class:`AtomicBuffer` per section."""

    path: str
    file_length: int
    to_driver_buffer: Any
    to_clients_buffer: Any
    counters_metadata_buffer: Any
    counters_values_buffer: Any
    error_log_buffer: Any
    header: Any

    def __init__(self, path: str, mapped: mmap.mmap) -> None:
        """Wrap an existing mapping whose header lengths were validated by the caller."""
        self.path = path
        self._mmap: mmap.mmap | None = mapped
        self.file_length = len(mapped)
        self.header = AtomicBuffer(mapped, 0, META_DATA_LENGTH)
        h = self.header
        self.to_driver_buffer_length: int = h.get_int32(TO_DRIVER_BUFFER_LENGTH_OFFSET)
        self.to_clients_buffer_length: int = h.get_int32(TO_CLIENTS_BUFFER_LENGTH_OFFSET)
        self.counters_metadata_buffer_length: int = h.get_int32(
            COUNTERS_METADATA_BUFFER_LENGTH_OFFSET
        )
        self.counters_values_buffer_length: int = h.get_int32(COUNTERS_VALUES_BUFFER_LENGTH_OFFSET)
        self.error_log_buffer_length: int = h.get_int32(ERROR_LOG_BUFFER_LENGTH_OFFSET)
        self.client_liveness_timeout_ns: int = h.get_int64(CLIENT_LIVENESS_TIMEOUT_OFFSET)
        self.start_timestamp_ms: int = h.get_int64(START_TIMESTAMP_OFFSET)
        self.pid: int = h.get_int64(PID_OFFSET)
        self.file_page_size: int = h.get_int32(FILE_PAGE_SIZE_OFFSET)
        buffers = []
        offset = META_DATA_LENGTH
        for length in (
            self.to_driver_buffer_length,
            self.to_clients_buffer_length,
            self.counters_metadata_buffer_length,
            self.counters_values_buffer_length,
            self.error_log_buffer_length,
        ):
            buffers.append(AtomicBuffer(mapped, offset, length))
            offset += length
        (
            self.to_driver_buffer,
            self.to_clients_buffer,
            self.counters_metadata_buffer,
            self.counters_values_buffer,
            self.error_log_buffer,
        ) = buffers
        self._buffers = [self.header, *buffers]

    # ---------------------------------------------------------------- driver side

    @classmethod
    def create(
        cls,
        path: str,
        *,
        to_driver_buffer_length: int = TO_DRIVER_BUFFER_LENGTH_DEFAULT,
        to_clients_buffer_length: int = TO_CLIENTS_BUFFER_LENGTH_DEFAULT,
        counters_values_buffer_length: int = COUNTERS_VALUES_BUFFER_LENGTH_DEFAULT,
        error_log_buffer_length: int = ERROR_LOG_BUFFER_LENGTH_DEFAULT,
        client_liveness_timeout_ns: int = CLIENT_LIVENESS_TIMEOUT_NS_DEFAULT,
        start_timestamp_ms: int | None = None,
        pid: int | None = None,
        file_page_size: int = FILE_PAGE_SIZE_DEFAULT,
        mode: int | None = None,
        exclusive: bool = False,
    ) -> CncFile:
        """Create (or replace) a zero-filled ``cnc.dat`` and write its header except the version.

        ``mode`` sets the file's permission bits exactly (default: ``0o666`` less the umask).
        With ``exclusive`` an existing file is not replaced: :class:`ActiveDriverError` (another
        driver created it first).  Raises :class:`StorageSpaceError` (and removes the partial
        file) when the file cannot be extended to its full length.
        """
        for name, value in (
            ("to_driver_buffer_length", to_driver_buffer_length),
            ("to_clients_buffer_length", to_clients_buffer_length),
            ("counters_values_buffer_length", counters_values_buffer_length),
            ("error_log_buffer_length", error_log_buffer_length),
        ):
            if value < 0:
                raise ConfigurationError(f"cnc {name} must be >= 0: {value}")
        if not is_power_of_two(file_page_size):
            raise ConfigurationError(f"cnc file_page_size must be a power of two: {file_page_size}")
        if start_timestamp_ms is None:
            start_timestamp_ms = epoch_ms()
        if pid is None:
            pid = os.getpid()
        file_length = compute_cnc_file_length(
            to_driver_buffer_length,
            to_clients_buffer_length,
            counters_values_buffer_length,
            error_log_buffer_length,
            file_page_size,
        )
        flags = os.O_RDWR | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
        try:
            fd = os.open(path, flags, 0o666)
        except FileExistsError:
            raise ActiveDriverError(f"{path} was created by another media driver starting at the same time") from None
        try:
            try:
                if mode is not None:
                    os.fchmod(fd, mode)
                _allocate(fd, file_length)
            except OSError as ex:
                _remove_quietly(path)
                if ex.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise StorageSpaceError(
                        ex.errno,
                        f"insufficient space to create {path} of {file_length} bytes: "
                        f"{os.strerror(ex.errno)}",
                    ) from ex
                raise
            mapped = mmap.mmap(fd, file_length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        header = AtomicBuffer(mapped, 0, META_DATA_LENGTH)
        try:
            header.put_int32(TO_DRIVER_BUFFER_LENGTH_OFFSET, to_driver_buffer_length)
            header.put_int32(TO_CLIENTS_BUFFER_LENGTH_OFFSET, to_clients_buffer_length)
            header.put_int32(
                COUNTERS_METADATA_BUFFER_LENGTH_OFFSET,
                counters_metadata_buffer_length(counters_values_buffer_length),
            )
            header.put_int32(COUNTERS_VALUES_BUFFER_LENGTH_OFFSET, counters_values_buffer_length)
            header.put_int32(ERROR_LOG_BUFFER_LENGTH_OFFSET, error_log_buffer_length)
            header.put_int64(CLIENT_LIVENESS_TIMEOUT_OFFSET, client_liveness_timeout_ns)
            header.put_int64(START_TIMESTAMP_OFFSET, start_timestamp_ms)
            header.put_int64(PID_OFFSET, pid)
            header.put_int32(FILE_PAGE_SIZE_OFFSET, file_page_size)
        finally:
            header.release()
        return cls(path, mapped)

    def signal_ready(self) -> None:
        """Release-store ``cnc_version = CNC_VERSION``: the file is ready for clients."""
        self.header.put_int32_ordered(CNC_VERSION_OFFSET, CNC_VERSION)

    def flush(self) -> None:
        """``msync`` the mapping."""
        if self._mmap is not None:
            self._mmap.flush()

    # ---------------------------------------------------------------- client side

    @classmethod
    def map(cls, path: str) -> CncFile:
        """Map an existing, initialised ``cnc.dat`` read/write and validate it.

        Raises :class:`CncError` when the file is missing, too short, not initialised yet
        (version 0), of an incompatible major version, or its section lengths do not fit the
        file.  The "not initialised" and "too short" cases may be transient while a driver
        starts; callers retry those until their deadline.
        """
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            raise CncError(f"CnC file not created: {path} does not exist") from None
        except OSError as ex:
            raise CncError(f"cannot open CnC file {path}: {ex.strerror}") from ex
        try:
            size = os.fstat(fd).st_size
            if size <= META_DATA_LENGTH:
                raise CncError(
                    f"CnC file not created: {path} is {size} bytes (stale, or the driver is "
                    "still creating it)"
                )
            mapped = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        try:
            _validate(path, mapped)
            return cls(path, mapped)
        except BaseException:
            mapped.close()
            raise

    # ---------------------------------------------------------------- common

    @property
    def cnc_version(self) -> int:
        """The version field (acquire load; 0 until the driver signals ready)."""
        return int(self.header.get_int32_volatile(CNC_VERSION_OFFSET))

    @property
    def is_closed(self) -> bool:
        """True after :meth:`close`."""
        return self._mmap is None

    def to_driver_heartbeat_ms(self) -> int:
        """The driver heartbeat: the to-driver ring buffer's consumer heartbeat (epoch ms)."""
        return int(
            self.to_driver_buffer.get_int64_volatile(
                self.to_driver_buffer_length
                - RING_BUFFER_TRAILER_LENGTH
                + RING_BUFFER_CONSUMER_HEARTBEAT_OFFSET
            )
        )

    def close(self) -> None:
        """Release every section buffer and unmap the file (idempotent)."""
        mapped = self._mmap
        if mapped is None:
            return
        for buffer in self._buffers:
            buffer.release()
        self._buffers = []
        self._mmap = None
        try:
            mapped.close()
        except BufferError:
            pass  # memoryviews of a section are still alive: unmapped when the last one goes

    def __enter__(self) -> CncFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._mmap is None else f"version={version_string(self.cnc_version)}"
        return f"CncFile({self.path!r}, length={self.file_length}, {state})"


def _allocate(fd: int, length: int) -> None:
    """Extend ``fd`` to ``length`` bytes with real blocks so ENOSPC shows now, not as SIGBUS."""
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(fd, 0, length)
            return
        except OSError as ex:
            if ex.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
    os.ftruncate(fd, length)  # pragma: no cover - file systems without fallocate


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _validate(path: str, mapped: mmap.mmap) -> None:
    header = AtomicBuffer(mapped, 0, META_DATA_LENGTH)
    try:
        version = int(header.get_int32_volatile(CNC_VERSION_OFFSET))
        if version == 0:
            raise CncError(f"CnC file is created but not initialised: {path}")
        if version_major(version) != version_major(CNC_VERSION):
            raise CncError(
                f"CnC version not compatible: file={version_string(version)} "
                f"client={version_string(CNC_VERSION)} ({path})"
            )
        lengths = [
            header.get_int32(off)
            for off in (
                TO_DRIVER_BUFFER_LENGTH_OFFSET,
                TO_CLIENTS_BUFFER_LENGTH_OFFSET,
                COUNTERS_METADATA_BUFFER_LENGTH_OFFSET,
                COUNTERS_VALUES_BUFFER_LENGTH_OFFSET,
                ERROR_LOG_BUFFER_LENGTH_OFFSET,
            )
        ]
    finally:
        header.release()
    needed = META_DATA_LENGTH + sum(lengths)
    if (
        min(lengths) < 0
        or lengths[0] < RING_BUFFER_TRAILER_LENGTH
        or lengths[1] < BROADCAST_BUFFER_TRAILER_LENGTH
        or needed > len(mapped)
    ):
        raise CncError(
            f"stale or foreign cnc.dat: {path} is {len(mapped)} bytes but its header declares "
            f"sections {lengths} (needing {needed} bytes)"
        )


@dataclass(frozen=True)
class DriverActivity:
    """What :func:`driver_activity` found in an Aeron directory.

    ``state`` is ``absent`` (no cnc.dat), ``uninitialised`` (cnc.dat never became ready while
    we waited), ``foreign`` (unreadable or incompatible), ``shutdown`` (heartbeat -1),
    ``stale`` (heartbeat older than the timeout) or ``active``.
    """

    state: str
    heartbeat_age_ms: int | None = None
    pid: int | None = None
    detail: str = ""

    @property
    def is_active(self) -> bool:
        """True iff a driver heart-beat within the timeout (it may have died since)."""
        return self.state == "active"


def driver_activity(
    aeron_dir: str,
    driver_timeout_ms: int,
    now_ms: int | None = None,
    *,
    wait_ms: int = 0,
    clock: Callable[[], int] = epoch_ms,
    sleep: Callable[[float], None] = time.sleep,
) -> DriverActivity:
    """Classify ``<aeron_dir>/cnc.dat`` as the C driver does at start (``aeron_is_driver_active``).

    A cnc.dat that exists but is not initialised yet (short, or version 0: a driver is still
    creating it) is re-checked every few milliseconds until ``wait_ms`` has passed on ``clock``
    (epoch ms); the heartbeat age is taken at ``now_ms`` (default: ``clock()`` once ready).
    Never raises for missing or garbage files.
    """
    path = cnc_file_path(aeron_dir)
    deadline = clock() + wait_ms
    while True:
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            return DriverActivity("absent")
        except OSError as ex:
            return DriverActivity("foreign", detail=f"cannot stat {path}: {ex.strerror}")
        problem = ""
        if size <= META_DATA_LENGTH:
            problem = f"{path} is {size} bytes"
        else:
            try:
                cnc = CncFile.map(path)
            except CncError as ex:
                if "not initialised" not in str(ex) and "not created" not in str(ex):
                    return DriverActivity("foreign", detail=str(ex))
                problem = str(ex)
            except (OSError, ValueError) as ex:
                return DriverActivity("foreign", detail=str(ex))
            else:
                try:
                    heartbeat_ms = cnc.to_driver_heartbeat_ms()
                    pid = cnc.pid
                except (IndexError, ValueError) as ex:
                    return DriverActivity("foreign", detail=str(ex))
                finally:
                    cnc.close()
                now = clock() if now_ms is None else now_ms
                if heartbeat_ms == -1:
                    return DriverActivity("shutdown", None, pid)
                age = now - heartbeat_ms
                return DriverActivity("active" if age <= driver_timeout_ms else "stale", age, pid)
        if clock() >= deadline:
            return DriverActivity("uninitialised", detail=f"CnC file is created but not initialised: {problem}")
        sleep(0.005)


def is_driver_active(aeron_dir: str, driver_timeout_ms: int, now_ms: int, wait_ms: int = 0) -> bool:
    """True iff ``<aeron_dir>/cnc.dat`` is initialised (waiting up to ``wait_ms`` for a driver
    still creating it) and its heartbeat is at most ``driver_timeout_ms`` old at ``now_ms``.
    Never raises for missing or garbage files.
    """
    return driver_activity(aeron_dir, driver_timeout_ms, now_ms, wait_ms=wait_ms).is_active


__all__ = [
    "CNC_FILE",
    "CNC_VERSION",
    "META_DATA_LENGTH",
    "CncFile",
    "DriverActivity",
    "cnc_file_path",
    "compute_cnc_file_length",
    "counters_metadata_buffer_length",
    "driver_activity",
    "is_driver_active",
    "semantic_version",
    "version_major",
    "version_minor",
    "version_patch",
    "version_string",
]
