"""Cluster mark files (cluster.md §1.4.1): ``cluster-mark.dat`` of the consensus module and
``cluster-mark-service-<id>.dat`` of each service container.

The first 8 KiB hold the SBE ``MarkFileHeader`` (schema 110 v2, behind its 8-byte message
header; legacy files have no message header) and six var strings; the distinct error log
follows at 8192.  ``version`` stays 0 until the component is ready (then 0.3.0, or -1 for a
failed start); ``activityTimestamp`` is refreshed every second and is -1 once terminated.  A
component is alive while ``now - activityTimestamp < 10 s``.  When the mark file lives outside
the cluster (or services) directory, a ``.lnk`` file there names the directory holding it.

Beyond Aeron, an existing file whose ``pid`` is not a running process on this host is never
treated as active, so a member killed with ``kill -9`` can restart at once.
"""

from __future__ import annotations

import mmap
import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aeronpy.cluster.codecs import MARK_FILE_HEADER, MARK_FILE_SCHEMA, ClusterComponentType, major_version
from aeronpy.cluster.errors import ClusterFileError
from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.concurrent.error_log import DistinctErrorLog, read_error_log
from aeronpy.errors import InvalidArgumentError
from aeronpy.protocol import sbe

__all__ = [
    "FILE_NAME",
    "LINK_FILE_NAME",
    "SERVICE_FILE_NAME_PREFIX",
    "HEADER_LENGTH",
    "MARK_FILE_VERSION",
    "VERSION_FAILED",
    "ERROR_BUFFER_MIN_LENGTH",
    "ACTIVE_TIMEOUT_MS",
    "service_mark_file_name",
    "service_link_file_name",
    "link_file_name_for",
    "resolve_mark_file_dir",
    "ensure_link",
    "MarkFileContents",
    "ClusterMarkFile",
]

FILE_NAME = "cluster-mark.dat"
LINK_FILE_NAME = "cluster-mark.lnk"
SERVICE_FILE_NAME_PREFIX = "cluster-mark-service-"
HEADER_LENGTH = 8192
MARK_FILE_VERSION = (0 << 16) | (3 << 8) | 0
VERSION_FAILED = -1
ERROR_BUFFER_MIN_LENGTH = 1 << 20
ERROR_BUFFER_MAX_LENGTH = (1 << 31) - 1 - HEADER_LENGTH
ACTIVE_TIMEOUT_MS = 10_000
DEFAULT_PAGE_SIZE = 4096
_MESSAGE_HEADER = sbe.HEADER_LENGTH
_FIELD = {f.name: f.offset for f in MARK_FILE_HEADER.fields}
_FIXED = {f.name: f for f in MARK_FILE_HEADER.fields}
_VAR_NAMES = tuple(v.name for v in MARK_FILE_HEADER.var_fields)


def service_mark_file_name(service_id: int) -> str:
    return f"{SERVICE_FILE_NAME_PREFIX}{service_id}.dat"


def service_link_file_name(service_id: int) -> str:
    return f"{SERVICE_FILE_NAME_PREFIX}{service_id}.lnk"


def link_file_name_for(filename: str) -> str:
    """``cluster-mark.dat`` -> ``cluster-mark.lnk`` (same for the service files)."""
    return (filename[:-4] if filename.endswith(".dat") else filename) + ".lnk"


def resolve_mark_file_dir(directory: str, link_filename: str = LINK_FILE_NAME) -> str:
    """The directory of a mark file: ``directory`` unless its link file names another."""
    link = os.path.join(directory, link_filename)
    try:
        with open(link, encoding="ascii") as f:
            target = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return directory
    return target or directory


def ensure_link(directory: str, mark_dir: str, link_filename: str) -> None:
    """Write ``directory/link_filename`` naming ``mark_dir``, or remove it when they are the same."""
    link = os.path.join(directory, link_filename)
    if os.path.realpath(directory) == os.path.realpath(mark_dir):
        if os.path.exists(link):
            os.remove(link)
        return
    os.makedirs(directory, exist_ok=True)
    with open(link, "w", encoding="ascii") as f:
        f.write(os.path.realpath(mark_dir))


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class MarkFileContents:
    """A mark file as read by tools: header values, where the header starts, the error log."""

    path: str
    header_offset: int  # 8, or 0 for a legacy file without message header
    values: dict[str, Any]
    error_log: bytes

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def component_type(self) -> str:
        try:
            return ClusterComponentType(self.values["component_type"]).name
        except ValueError:
            return f"UNKNOWN({self.values['component_type']})"

    def is_active(self, now_ms: int, timeout_ms: int = ACTIVE_TIMEOUT_MS) -> bool:
        ts = int(self.values["activity_timestamp"])
        return ts != -1 and now_ms - ts < timeout_ms

    def errors(self) -> list[tuple[int, int, int, str]]:
        """Each distinct error as ``(count, first_ts, last_ts, text)``."""
        out: list[tuple[int, int, int, str]] = []
        if self.error_log:
            from aeronpy.concurrent.atomic_buffer import PyAtomicBuffer

            buf = PyAtomicBuffer(bytearray(self.error_log))
            read_error_log(buf, lambda c, f, last, t: out.append((c, f, last, t)))
        return out


class ClusterMarkFile:
    """A component's mark file, mapped for the life of the component (use :meth:`create`)."""

    def __init__(self, path: str, mm: mmap.mmap, error_buffer_length: int, epoch_clock: Callable[[], int]) -> None:
        self.path = path
        self._mm = mm
        self._clock = epoch_clock
        self._buffer = AtomicBuffer(mm)
        self._errors_buffer = AtomicBuffer(mm, HEADER_LENGTH, error_buffer_length)
        self.error_log = DistinctErrorLog(self._errors_buffer, epoch_clock)

    # -- creation ----------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        directory: str,
        filename: str,
        component_type: ClusterComponentType | int,
        cluster_id: int,
        member_id: int,
        service_id: int,
        error_buffer_length: int = ERROR_BUFFER_MIN_LENGTH,
        *,
        link_dir: str | None = None,
        epoch_clock: Callable[[], int] = _epoch_ms,
        timeout_ms: int = ACTIVE_TIMEOUT_MS,
        file_page_size: int = DEFAULT_PAGE_SIZE,
        archive_stream_id: int = 10,
        service_stream_id: int = 104,
        consensus_module_stream_id: int = 105,
        ingress_stream_id: int = 101,
        aeron_directory: str = "",
        control_channel: str = "",
        ingress_channel: str = "",
        service_name: str = "",
        authenticator: str = "",
        services_cluster_dir: str = "",
    ) -> ClusterMarkFile:
        """Create (or take over) ``directory/filename``.

        Refuses (:class:`ClusterFileError`) a file another live component still updates, one of
        another major version or of another component type.  Errors left in an old file are
        saved to ``<directory>/<time>-error.log`` first.  ``link_dir``: the cluster (or services)
        directory, which gets a ``.lnk`` file naming ``directory`` when the two differ."""
        if not ERROR_BUFFER_MIN_LENGTH <= error_buffer_length <= ERROR_BUFFER_MAX_LENGTH:
            raise InvalidArgumentError(
                f"error_buffer_length={error_buffer_length} outside {ERROR_BUFFER_MIN_LENGTH}..{ERROR_BUFFER_MAX_LENGTH}"
            )
        if file_page_size <= 0 or file_page_size & (file_page_size - 1):
            raise InvalidArgumentError(f"file_page_size={file_page_size} is not a power of two")
        ctype = ClusterComponentType(component_type)
        path = os.path.join(directory, filename)
        os.makedirs(directory, exist_ok=True)
        if link_dir is not None:
            ensure_link(link_dir, directory, link_file_name_for(filename))
        var_values: dict[str, Any] = {
            "aeron_directory": aeron_directory, "control_channel": control_channel,
            "ingress_channel": ingress_channel, "service_name": service_name,
            "authenticator": authenticator, "services_cluster_dir": services_cluster_dir,
        }
        now = epoch_clock()
        candidate_term_id = -1
        if os.path.exists(path):
            try:
                existing = cls.read(path)
            except ClusterFileError as e:
                raise ClusterFileError(f"{e}; remove it if no cluster component uses {directory}") from None
            cls._check_takeover(existing, ctype, now, timeout_ms)
            candidate_term_id = int(existing["candidate_term_id"])
            if existing.errors():
                _save_errors(directory, existing, now)
        length = (HEADER_LENGTH + error_buffer_length + file_page_size - 1) & ~(file_page_size - 1)
        header = sbe.encode(
            MARK_FILE_HEADER,
            version=0, component_type=ctype, activity_timestamp=0, start_timestamp=now, pid=os.getpid(),
            candidate_term_id=candidate_term_id, archive_stream_id=archive_stream_id,
            service_stream_id=service_stream_id, consensus_module_stream_id=consensus_module_stream_id,
            ingress_stream_id=ingress_stream_id, member_id=member_id, service_id=service_id,
            header_length=HEADER_LENGTH, error_buffer_length=error_buffer_length, cluster_id=cluster_id,
            **var_values,
        )
        if len(header) > HEADER_LENGTH:
            raise ClusterFileError(
                f"mark file {path}: header of {len(header)} bytes exceeds {HEADER_LENGTH} (channels or names too long)"
            )
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.ftruncate(fd, 0)
            os.ftruncate(fd, length)
            mm = mmap.mmap(fd, length)
        finally:
            os.close(fd)
        mm[0 : len(header)] = header
        return cls(path, mm, error_buffer_length, epoch_clock)

    @staticmethod
    def _check_takeover(existing: MarkFileContents, ctype: ClusterComponentType, now: int, timeout_ms: int) -> None:
        path = existing.path
        version = int(existing["version"])
        if version == VERSION_FAILED:
            pass  # the previous start failed; take over
        elif version != 0 and major_version(version) != 0:
            raise ClusterFileError(f"mark file {path} has major version {major_version(version)}, this software 0")
        if version != 0 and existing.is_active(now, timeout_ms) and _pid_alive(int(existing["pid"])):
            raise ClusterFileError(f"active mark file detected: {path} (pid {existing['pid']} is still updating it)")
        etype = int(existing["component_type"])
        if etype not in (ClusterComponentType.UNKNOWN, ctype):
            if not (etype == ClusterComponentType.BACKUP and ctype == ClusterComponentType.CONSENSUS_MODULE):
                raise ClusterFileError(
                    f"existing mark file {path} is of type {existing.component_type}, not {ctype.name}"
                )

    # -- reading (tools) ---------------------------------------------------------------------

    @staticmethod
    def read(path: str) -> MarkFileContents:
        """Read a mark file's header and error log; :class:`ClusterFileError` if it is missing,
        truncated or not a cluster mark file."""
        try:
            with open(path, "rb") as f:
                head = f.read(HEADER_LENGTH)
                if len(head) < _MESSAGE_HEADER + MARK_FILE_HEADER.block_length:
                    raise ClusterFileError(f"mark file {path} of {len(head)} bytes is truncated")
                block_length, template_id, schema_id, _ = sbe.HEADER.unpack_from(head, 0)
                if template_id == MARK_FILE_HEADER.template_id:
                    if schema_id != MARK_FILE_SCHEMA.schema_id:
                        raise ClusterFileError(f"{path} is not a cluster mark file (schemaId={schema_id})")
                    try:
                        d = sbe.decode(MARK_FILE_SCHEMA, head)
                    except sbe.CodecError as e:
                        raise ClusterFileError(f"corrupt cluster mark file {path}: {e}") from None
                    assert d is not None
                    values: dict[str, Any] = dict(d.values)
                    offset = _MESSAGE_HEADER
                else:
                    try:
                        d2 = sbe.decode_block(MARK_FILE_HEADER, head, 0, len(head), MARK_FILE_HEADER.block_length,
                                              MARK_FILE_HEADER.version)
                    except sbe.CodecError as e:
                        raise ClusterFileError(f"{path} is not a cluster mark file: {e}") from None
                    values, offset = dict(d2.values), 0
                header_length = int(values["header_length"])
                error_length = int(values["error_buffer_length"])
                if header_length != HEADER_LENGTH or error_length < 0:
                    raise ClusterFileError(
                        f"{path} is not a cluster mark file (headerLength={header_length}, "
                        f"errorBufferLength={error_length})"
                    )
                f.seek(header_length)
                errors = f.read(error_length)
        except OSError as e:
            raise ClusterFileError(f"cannot read mark file {path}: {e.strerror}") from None
        return MarkFileContents(path, offset, values, errors)

    # -- updates -----------------------------------------------------------------------------

    def _field(self, name: str) -> int:
        return _MESSAGE_HEADER + _FIELD[name]

    def update_activity_timestamp(self, now_ms: int) -> None:
        self._buffer.put_int64_ordered(self._field("activity_timestamp"), now_ms)

    def activity_timestamp(self) -> int:
        return int(self._buffer.get_int64_volatile(self._field("activity_timestamp")))

    def signal_ready(self, activity_timestamp: int | None = None) -> None:
        """Mark the component started: activity timestamp, then version 0.3.0 (release)."""
        self.update_activity_timestamp(self._clock() if activity_timestamp is None else activity_timestamp)
        self._buffer.put_int32_ordered(self._field("version"), MARK_FILE_VERSION)
        self.force()

    def signal_failed(self) -> None:
        """Mark a failed start: activity -1, version -1."""
        self.update_activity_timestamp(-1)
        self._buffer.put_int32_ordered(self._field("version"), VERSION_FAILED)
        self.force()

    def signal_terminated(self) -> None:
        """Mark an orderly stop: activity timestamp -1."""
        self.update_activity_timestamp(-1)
        self.force()

    def set_int(self, name: str, value: int) -> None:
        """Update a fixed header field by name (e.g. ``member_id``, ``cluster_id``)."""
        f = _FIXED[name]
        code = sbe.PRIMITIVES[f.primitive][0]
        self._buffer.put_bytes(self._field(name), struct.pack("<" + code, value))

    def get_int(self, name: str) -> int:
        f = _FIXED[name]
        code = sbe.PRIMITIVES[f.primitive][0]
        return int(struct.unpack("<" + code, self._buffer.get_bytes(self._field(name), f.size))[0])

    def contents(self) -> MarkFileContents:
        return ClusterMarkFile.read(self.path)

    def force(self) -> None:
        if not self._mm.closed:
            self._mm.flush()

    def close(self) -> None:
        if self._mm.closed:
            return
        self._errors_buffer.release()
        self._buffer.release()
        self._mm.close()

    def __enter__(self) -> ClusterMarkFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _save_errors(directory: str, existing: MarkFileContents, now_ms: int) -> None:
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(now_ms / 1000)) + f"-{now_ms % 1000:03d}+0000"
    lines = [f"{existing.component_type} errors from {existing.path}"]
    for count, first, last, text in existing.errors():
        lines.append(f"{count} observations from {first} to {last} for:\n {text.rstrip()}")
    try:
        with open(os.path.join(directory, f"{stamp}-error.log"), "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    except OSError:
        pass
