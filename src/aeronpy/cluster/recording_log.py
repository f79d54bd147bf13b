"""``recording.log``: the member's index of its log recording's terms and of its snapshots
(cluster.md §4.15), and the recovery plan built from it (§4.13).

The file is a sequence of 64-byte aligned entries (layout :data:`ENTRY`); new entries go at the
aligned end of the file, and the only in-place updates are a TERM's ``logPosition`` (when the
term is committed) and an entry's type word (the invalid bit, or -1 for a removed slot).  In
memory the entries are kept in Aeron's order: by leadership term, term base position, TERM and
STANDBY_SNAPSHOT before SNAPSHOT, TERMs by file order and snapshots by log position then
service id *descending*, so a snapshot set reads ``[service n-1, ..., service 0, CM]``.

A file that cannot be a recording log (unknown entry type, two valid TERMs for one term, TERMs
of different recordings, a bad endpoint length) raises :class:`ClusterFileError` naming the file
and the entry's byte offset; operations the log refuses raise :class:`ClusterError`.
"""

from __future__ import annotations

import bisect
import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Protocol

from aeronpy.cluster.errors import ClusterError, ClusterFileError
from aeronpy.concurrent.bit_util import align

__all__ = [
    "FILE_NAME",
    "EntryType",
    "Entry",
    "Snapshot",
    "Log",
    "RecoveryPlan",
    "RecordingExtent",
    "RecordingLog",
    "ENTRY",
    "ENDPOINT_OFFSET",
    "RECORD_ALIGNMENT",
    "MAX_ENTRY_LENGTH",
    "MAX_ENDPOINT_LENGTH",
    "INVALID_FLAG",
    "CONSENSUS_MODULE_SERVICE_ID",
    "NULL_VALUE",
    "NULL_POSITION",
    "encode_entry",
    "force_file",
]

FILE_NAME = "recording.log"
#: recordingId, leadershipTermId, termBaseLogPosition, logPosition, timestamp, serviceId, entryType.
ENTRY = struct.Struct("<qqqqqii")
LOG_POSITION_OFFSET = 24
ENTRY_TYPE_OFFSET = 44
ENDPOINT_OFFSET = 48
RECORD_ALIGNMENT = 64
MAX_ENTRY_LENGTH = 4096
MAX_ENDPOINT_LENGTH = MAX_ENTRY_LENGTH - ENDPOINT_OFFSET - 4
#: Bit 31 of the entry type word: the entry is invalid (e.g. an invalidated snapshot).
INVALID_FLAG = 1 << 31
#: The service id of TERM entries and of the consensus module's own snapshot.
CONSENSUS_MODULE_SERVICE_ID = -1
NULL_VALUE = -1
NULL_POSITION = -1
_REMOVED = 0xFFFFFFFF  # the whole type word -1, as an unsigned 32-bit value


class EntryType(IntEnum):
    TERM = 0
    SNAPSHOT = 1
    STANDBY_SNAPSHOT = 2


_ORDER_RANK = {EntryType.TERM: 0, EntryType.STANDBY_SNAPSHOT: 1, EntryType.SNAPSHOT: 2}


@dataclass(frozen=True)
class Entry:
    """One entry; ``entry_index`` counts slots in file order (removed ones included),
    ``file_offset`` is where the entry starts in the file (-1 before it is written)."""

    recording_id: int
    leadership_term_id: int
    term_base_log_position: int
    log_position: int
    timestamp: int
    service_id: int
    entry_type: EntryType
    is_valid: bool
    entry_index: int
    archive_endpoint: str | None = None
    file_offset: int = -1

    @property
    def length(self) -> int:
        """Bytes the entry occupies in the file (64-byte aligned)."""
        raw = ENDPOINT_OFFSET
        if self.entry_type == EntryType.STANDBY_SNAPSHOT:
            raw += 4 + len(self.archive_endpoint or "")
        return align(raw, RECORD_ALIGNMENT)

    def sort_key(self) -> tuple[int, int, int, int, int, int]:
        if self.entry_type == EntryType.TERM:
            tail = (self.entry_index, 0, 0)
        else:
            tail = (0, self.log_position, -self.service_id)
        return (self.leadership_term_id, self.term_base_log_position, _ORDER_RANK[self.entry_type]) + tail

    def __str__(self) -> str:
        endpoint = f", archiveEndpoint={self.archive_endpoint}" if self.entry_type == EntryType.STANDBY_SNAPSHOT else ""
        return (
            f"Entry{{recordingId={self.recording_id}, leadershipTermId={self.leadership_term_id}, "
            f"termBaseLogPosition={self.term_base_log_position}, logPosition={self.log_position}, "
            f"timestamp={self.timestamp}, serviceId={self.service_id}, type={self.entry_type.name}, "
            f"isValid={str(self.is_valid).lower()}, entryIndex={self.entry_index}{endpoint}}}"
        )


@dataclass(frozen=True)
class Snapshot:
    """A snapshot step of a recovery plan."""

    recording_id: int
    leadership_term_id: int
    term_base_log_position: int
    log_position: int
    timestamp: int
    service_id: int


@dataclass(frozen=True)
class Log:
    """The log step of a recovery plan: the last TERM entry and its recording's extent."""

    recording_id: int
    leadership_term_id: int
    term_base_log_position: int
    log_position: int
    start_position: int
    stop_position: int
    initial_term_id: int
    term_buffer_length: int
    mtu_length: int
    session_id: int


@dataclass(frozen=True)
class RecoveryPlan:
    """What a restarting member recovers from: ``snapshots`` is ``[CM, service 0, ...]``
    (empty without a snapshot), ``log`` the log recording (None for a fresh member)."""

    last_leadership_term_id: int
    last_term_base_log_position: int
    appended_log_position: int
    committed_log_position: int
    snapshots: tuple[Snapshot, ...]
    log: Log | None

    def __str__(self) -> str:
        snaps = ", ".join(str(s) for s in self.snapshots)
        return (
            f"RecoveryPlan{{lastLeadershipTermId={self.last_leadership_term_id}, "
            f"lastTermBaseLogPosition={self.last_term_base_log_position}, "
            f"appendedLogPosition={self.appended_log_position}, "
            f"committedLogPosition={self.committed_log_position}, snapshots=[{snaps}], log={self.log}}}"
        )


class RecordingExtent(Protocol):
    """What the recovery plan needs of an archive's recording descriptor
    (``AeronArchive.list_recording`` returns one)."""

    @property
    def start_position(self) -> int: ...
    @property
    def stop_position(self) -> int: ...
    @property
    def initial_term_id(self) -> int: ...
    @property
    def term_buffer_length(self) -> int: ...
    @property
    def mtu_length(self) -> int: ...
    @property
    def session_id(self) -> int: ...


def encode_entry(entry: Entry) -> bytes:
    """The entry's bytes as written to the file (padded to its aligned length)."""
    type_word = int(entry.entry_type) | (0 if entry.is_valid else INVALID_FLAG)
    if type_word >= 1 << 31:
        type_word -= 1 << 32
    raw = ENTRY.pack(
        entry.recording_id, entry.leadership_term_id, entry.term_base_log_position, entry.log_position,
        entry.timestamp, entry.service_id, type_word,
    )
    if entry.entry_type == EntryType.STANDBY_SNAPSHOT:
        endpoint = (entry.archive_endpoint or "").encode("ascii")
        raw += struct.pack("<i", len(endpoint)) + endpoint
    return raw.ljust(entry.length, b"\0")


def force_file(fd: int, file_sync_level: int) -> None:
    """Flush per ``aeron.cluster.file.sync.level``: 0 nothing, 1 data, 2 data and metadata."""
    if file_sync_level <= 0:
        return
    if file_sync_level == 1 and hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:
        os.fsync(fd)


def _sync_directory(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _is_valid_term(e: Entry) -> bool:
    return e.is_valid and e.entry_type == EntryType.TERM


def _is_valid_snapshot(e: Entry) -> bool:
    return e.is_valid and e.entry_type == EntryType.SNAPSHOT


def _is_valid_any_snapshot(e: Entry) -> bool:
    return e.is_valid and e.entry_type in (EntryType.SNAPSHOT, EntryType.STANDBY_SNAPSHOT)


def _to_snapshot(e: Entry) -> Snapshot:
    return Snapshot(e.recording_id, e.leadership_term_id, e.term_base_log_position, e.log_position,
                    e.timestamp, e.service_id)


class RecordingLog:
    """``<cluster_dir>/recording.log``, loaded into memory and updated in place.

    ``create=False`` refuses a missing file; ``read_only=True`` opens it for tools that only
    look (mutations then raise :class:`ClusterError`).  Every mutation is flushed per
    ``file_sync_level`` (:func:`force_file`)."""

    def __init__(
        self, cluster_dir: str, create: bool = True, file_sync_level: int = 0, read_only: bool = False
    ) -> None:
        self.path = os.path.join(cluster_dir, FILE_NAME)
        self.file_sync_level = file_sync_level
        self.read_only = read_only
        is_new = not os.path.exists(self.path)
        if is_new and (not create or read_only):
            raise ClusterFileError(f"recording log {self.path} does not exist")
        if is_new:
            os.makedirs(cluster_dir, exist_ok=True)
        flags = os.O_RDONLY if read_only else os.O_RDWR | os.O_CREAT
        try:
            self._fd = os.open(self.path, flags, 0o644)
        except OSError as e:
            raise ClusterFileError(f"cannot open recording log {self.path}: {e.strerror}") from None
        self._entries: list[Entry] = []
        self._keys: list[tuple[int, int, int, int, int, int]] = []
        self._term_index: dict[int, int] = {}
        self._invalid_snapshot_offsets: list[int] = []
        self._term_recording_id = NULL_VALUE
        self._next_entry_index = 0
        try:
            if is_new:
                _sync_directory(cluster_dir)
            else:
                self.reload()
        except BaseException:
            os.close(self._fd)
            self._fd = -1
            raise

    # -- reading -----------------------------------------------------------------------------

    @property
    def entries(self) -> list[Entry]:
        """The entries in in-memory order (removed slots excluded); do not modify."""
        return self._entries

    @property
    def next_entry_index(self) -> int:
        return self._next_entry_index

    def reload(self) -> None:
        """Re-read the whole file (ClusterFileError if it is corrupt)."""
        self._check_open()
        size = os.fstat(self._fd).st_size
        data = os.pread(self._fd, size, 0) if size else b""
        entries: list[Entry] = []
        self._term_recording_id = NULL_VALUE
        index = 0
        offset = 0
        while offset + ENDPOINT_OFFSET < len(data):
            rec, term, base, pos, ts, sid, type_word = ENTRY.unpack_from(data, offset)
            unsigned = type_word & 0xFFFFFFFF
            if unsigned == _REMOVED:
                offset += RECORD_ALIGNMENT
                index += 1
                continue
            raw_type = unsigned & ~INVALID_FLAG
            try:
                entry_type = EntryType(raw_type)
            except ValueError:
                raise self._corrupt(offset, f"unknown entry type {raw_type}") from None
            endpoint: str | None = None
            if entry_type == EntryType.STANDBY_SNAPSHOT:
                if offset + ENDPOINT_OFFSET + 4 > len(data):
                    break
                (n,) = struct.unpack_from("<i", data, offset + ENDPOINT_OFFSET)
                if n <= 0 or n > MAX_ENDPOINT_LENGTH:
                    raise self._corrupt(offset, f"archive endpoint length {n} outside 1..{MAX_ENDPOINT_LENGTH}")
                start = offset + ENDPOINT_OFFSET + 4
                if start + n > len(data):
                    break
                try:
                    endpoint = data[start : start + n].decode("ascii")
                except UnicodeDecodeError:
                    raise self._corrupt(offset, "archive endpoint is not ASCII") from None
            if term < 0:
                raise self._corrupt(offset, f"leadershipTermId={term} is negative")
            if sid < CONSENSUS_MODULE_SERVICE_ID:
                raise self._corrupt(offset, f"serviceId={sid} is below -1")
            entry = Entry(rec, term, base, pos, ts, sid, entry_type, (unsigned & INVALID_FLAG) == 0, index,
                          endpoint, offset)
            if entry_type == EntryType.TERM:
                if self._term_recording_id == NULL_VALUE:
                    self._term_recording_id = rec
                elif rec != self._term_recording_id:
                    raise self._corrupt(
                        offset, f"TERM recordingId={rec} differs from recordingId={self._term_recording_id} of the "
                        "earlier TERM entries",
                    )
            entries.append(entry)
            offset += entry.length
            index += 1
        entries.sort(key=Entry.sort_key)
        seen: dict[int, Entry] = {}
        for e in entries:
            if _is_valid_term(e):
                if e.leadership_term_id in seen:
                    raise self._corrupt(e.file_offset, f"second valid TERM entry for leadershipTermId={e.leadership_term_id}")
                seen[e.leadership_term_id] = e
        self._entries = entries
        self._next_entry_index = index
        self._invalid_snapshot_offsets = [
            e.file_offset for e in entries
            if not e.is_valid and e.entry_type in (EntryType.SNAPSHOT, EntryType.STANDBY_SNAPSHOT)
        ]
        self._reindex()

    def find_last_term(self) -> Entry | None:
        for e in reversed(self._entries):
            if _is_valid_term(e):
                return e
        return None

    def find_last_term_recording_id(self) -> int:
        last = self.find_last_term()
        return last.recording_id if last is not None else NULL_VALUE

    def find_term_entry(self, leadership_term_id: int) -> Entry | None:
        i = self._term_index.get(leadership_term_id)
        return None if i is None else self._entries[i]

    def get_term_entry(self, leadership_term_id: int) -> Entry:
        e = self.find_term_entry(leadership_term_id)
        if e is None:
            raise ClusterError(f"unknown leadershipTermId={leadership_term_id}")
        return e

    def is_unknown(self, leadership_term_id: int) -> bool:
        return leadership_term_id not in self._term_index

    def get_term_timestamp(self, leadership_term_id: int) -> int:
        e = self.find_term_entry(leadership_term_id)
        return NULL_VALUE if e is None else e.timestamp

    def latest_snapshot(self, service_id: int) -> Entry | None:
        """The latest valid snapshot of ``service_id`` (-1: the CM) that belongs to the latest
        valid CM snapshot set having one for it."""
        entries = self._entries
        for i in range(len(entries) - 1, -1, -1):
            e = entries[i]
            if _is_valid_snapshot(e) and e.service_id == CONSENSUS_MODULE_SERVICE_ID:
                if service_id == CONSENSUS_MODULE_SERVICE_ID:
                    return e
                j = i - (service_id + 1)
                if j >= 0:
                    s = entries[j]
                    if _is_valid_snapshot(s) and s.service_id == service_id:
                        return s
        return None

    def latest_standby_snapshots(self, service_count: int) -> dict[str, list[Entry]]:
        """Per archive endpoint, the highest-position complete set of valid standby snapshots."""
        by_endpoint: dict[str, dict[int, list[Entry]]] = {}
        for e in reversed(self._entries):
            if e.entry_type == EntryType.STANDBY_SNAPSHOT and e.is_valid:
                by_endpoint.setdefault(e.archive_endpoint or "", {}).setdefault(e.log_position, []).append(e)
        latest: dict[str, list[Entry]] = {}
        for endpoint, by_pos in by_endpoint.items():
            for pos in sorted(by_pos, reverse=True):
                if len(by_pos[pos]) == service_count + 1:
                    latest[endpoint] = by_pos[pos]
                    break
        return latest

    def find_snapshot_at_or_before_or_lowest(self, log_position: int, service_count: int) -> list[Snapshot] | None:
        """The latest complete snapshot set at or before ``log_position``, else the lowest one."""
        entries = self._entries

        def complete(i: int) -> bool:
            cm = entries[i]
            for k in range(1, service_count + 1):
                if i - k < 0:
                    return False
                s = entries[i - k]
                if (s.entry_type != EntryType.SNAPSHOT or s.leadership_term_id != cm.leadership_term_id
                        or s.log_position != cm.log_position):
                    return False
            return True

        def is_cm(e: Entry) -> bool:
            return _is_valid_snapshot(e) and e.service_id == CONSENSUS_MODULE_SERVICE_ID

        for i in range(len(entries) - 1, -1, -1):
            if is_cm(entries[i]) and entries[i].log_position <= log_position and complete(i):
                return [_to_snapshot(e) for e in entries[i - service_count : i + 1]]
        for i, e in enumerate(entries):
            if is_cm(e) and complete(i):
                return [_to_snapshot(x) for x in entries[i - service_count : i + 1]]
        return None

    def create_recovery_plan(
        self,
        lookup_extent: Callable[[int], RecordingExtent | None],
        service_count: int,
        replicated_recording_id: int = NULL_VALUE,
    ) -> RecoveryPlan:
        """The plan of §4.13; ``lookup_extent(recording_id)`` is the archive's
        ``list_recording`` (None for an unknown recording, which is a ClusterError)."""
        snapshots: list[Snapshot] = []
        log: Log | None = None
        entries = self._entries
        if not entries:
            if replicated_recording_id != NULL_VALUE:
                ext = lookup_extent(replicated_recording_id)
                if ext is None:
                    raise ClusterError(f"unknown recording id: {replicated_recording_id}")
                log = Log(replicated_recording_id, NULL_VALUE, 0, 0, ext.start_position, ext.stop_position,
                          ext.initial_term_id, ext.term_buffer_length, ext.mtu_length, ext.session_id)
        else:
            snapshot_index = next(
                (i for i in range(len(entries) - 1, -1, -1)
                 if _is_valid_snapshot(entries[i]) and entries[i].service_id == CONSENSUS_MODULE_SERVICE_ID), -1)
            log_index = next(
                (i for i in range(len(entries) - 1, -1, -1)
                 if _is_valid_term(entries[i]) and entries[i].recording_id != NULL_VALUE), -1)
            if snapshot_index >= 0:
                cm = entries[snapshot_index]
                services: dict[int, Snapshot] = {}
                for k in range(1, service_count + 1):
                    if snapshot_index - k < 0:
                        raise ClusterError(f"snapshot missing for service at index {k} in {self.path}")
                    s = entries[snapshot_index - k]
                    if (s.entry_type == EntryType.SNAPSHOT and s.leadership_term_id == cm.leadership_term_id
                            and s.log_position == cm.log_position):
                        services[s.service_id] = _to_snapshot(s)
                snapshots = [_to_snapshot(cm)] + [services[k] for k in sorted(services)]
            if log_index >= 0:
                t = entries[log_index]
                ext = lookup_extent(t.recording_id)
                if ext is None:
                    raise ClusterError(f"unknown recording id: {t.recording_id}")
                start = ext.start_position if snapshot_index < 0 else snapshots[0].log_position
                log = Log(t.recording_id, t.leadership_term_id, t.term_base_log_position, t.log_position, start,
                          ext.stop_position, ext.initial_term_id, ext.term_buffer_length, ext.mtu_length,
                          ext.session_id)
        last_term, last_base, appended, committed = NULL_VALUE, 0, 0, 0
        if snapshots:
            s0 = snapshots[0]
            last_term, last_base, appended, committed = (s0.leadership_term_id, s0.term_base_log_position,
                                                         s0.log_position, s0.log_position)
        if log is not None:
            last_term, last_base, appended = log.leadership_term_id, log.term_base_log_position, log.stop_position
            if log.log_position != NULL_POSITION:
                committed = log.log_position
        return RecoveryPlan(last_term, last_base, appended, committed, tuple(snapshots), log)

    # -- writing -----------------------------------------------------------------------------

    def append_term(self, recording_id: int, leadership_term_id: int, term_base_log_position: int, timestamp: int) -> None:
        """Append the TERM of a new leadership term; commits the previous term at this term's base."""
        self._validate_term_recording_id(recording_id)
        log_position = NULL_POSITION
        if self._entries:
            if leadership_term_id in self._term_index:
                raise ClusterError(f"duplicate TERM entry for leadershipTermId={leadership_term_id}")
            if leadership_term_id - 1 in self._term_index:
                self._commit(leadership_term_id - 1, term_base_log_position)
            nxt = self.find_term_entry(leadership_term_id + 1)
            if nxt is not None:
                log_position = nxt.term_base_log_position
        self._append(EntryType.TERM, recording_id, leadership_term_id, term_base_log_position, log_position,
                     timestamp, CONSENSUS_MODULE_SERVICE_ID, None)
        self.force()

    def append_snapshot(
        self, recording_id: int, leadership_term_id: int, term_base_log_position: int, log_position: int,
        timestamp: int, service_id: int,
    ) -> None:
        """Append a snapshot entry, or revalidate an identical invalidated one in its old slot."""
        self._validate_recording_id(recording_id)
        if not self._restore_invalid_snapshot(EntryType.SNAPSHOT, recording_id, leadership_term_id,
                                              term_base_log_position, log_position, timestamp, service_id, None):
            self._append(EntryType.SNAPSHOT, recording_id, leadership_term_id, term_base_log_position, log_position,
                         timestamp, service_id, None)
        self.force()

    def append_standby_snapshot(
        self, recording_id: int, leadership_term_id: int, term_base_log_position: int, log_position: int,
        timestamp: int, service_id: int, archive_endpoint: str,
    ) -> None:
        self._validate_recording_id(recording_id)
        if not archive_endpoint:
            raise ClusterError("a standby snapshot needs an archive endpoint")
        if len(archive_endpoint) > MAX_ENDPOINT_LENGTH:
            raise ClusterError(f"archive endpoint of {len(archive_endpoint)} characters exceeds {MAX_ENDPOINT_LENGTH}")
        if not archive_endpoint.isascii():
            raise ClusterError(f"archive endpoint must be ASCII: {archive_endpoint!r}")
        if not self._restore_invalid_snapshot(EntryType.STANDBY_SNAPSHOT, recording_id, leadership_term_id,
                                              term_base_log_position, log_position, timestamp, service_id,
                                              archive_endpoint):
            self._append(EntryType.STANDBY_SNAPSHOT, recording_id, leadership_term_id, term_base_log_position,
                         log_position, timestamp, service_id, archive_endpoint)
        self.force()

    def commit_log_position(self, leadership_term_id: int, log_position: int) -> None:
        """Set the TERM's ``logPosition`` (in place); ClusterError for an unknown term."""
        self._commit(leadership_term_id, log_position)
        self.force()

    def invalidate_entry(self, index: int) -> None:
        """Set the invalid bit of the entry at in-memory ``index``."""
        self._check_writable()
        e = replace(self._entries[index], is_valid=False)
        self._entries[index] = e
        if e.entry_type == EntryType.TERM:
            self._term_index.pop(e.leadership_term_id, None)
        else:
            self._invalid_snapshot_offsets.append(e.file_offset)
        self._write(e.file_offset + ENTRY_TYPE_OFFSET, struct.pack("<i", (int(e.entry_type) | INVALID_FLAG) - (1 << 32)))
        self.force()

    def remove_entry(self, leadership_term_id: int, entry_index: int) -> None:
        """Mark the slot removed (type word -1) and reload."""
        self._check_writable()
        target = next((e for e in reversed(self._entries)
                       if e.leadership_term_id == leadership_term_id and e.entry_index == entry_index), None)
        if target is None:
            raise ClusterError(f"unknown entry index: {entry_index}")
        self._write(target.file_offset + ENTRY_TYPE_OFFSET, struct.pack("<i", -1))
        self.force()
        self.reload()

    def invalidate_latest_snapshot(self) -> bool:
        """Invalidate the highest-position valid CM snapshot(s) (regular or standby) and the
        service entries right before each; False if there is none."""
        entries = self._entries
        indices: list[int] = []
        high = NULL_POSITION
        for i in range(len(entries) - 1, -1, -1):
            e = entries[i]
            if _is_valid_any_snapshot(e) and e.service_id == CONSENSUS_MODULE_SERVICE_ID:
                if e.log_position < high:
                    break
                if e.leadership_term_id not in self._term_index:
                    raise ClusterError(f"no matching term for snapshot: leadershipTermId={e.leadership_term_id}")
                if e.log_position > high:
                    indices.clear()
                    high = e.log_position
                indices.append(i)
        for start in reversed(indices):
            service_id = CONSENSUS_MODULE_SERVICE_ID
            for i in range(start, -1, -1):
                e = self._entries[i]
                if _is_valid_any_snapshot(e) and e.service_id == service_id:
                    self.invalidate_entry(i)
                    service_id += 1
                else:
                    break
        return bool(indices)

    def ensure_coherent(
        self,
        recording_id: int,
        initial_log_leadership_term_id: int,
        initial_term_base_log_position: int,
        leadership_term_id: int,
        term_base_log_position: int,
        log_position: int,
        now_ns: int,
        timestamp: int,
        file_sync_level: int | None = None,
    ) -> None:
        """Make sure every term up to ``leadership_term_id`` has a TERM entry (writing entries for
        terms this member never saw) and commit ``log_position`` when it is not -1."""
        last = self.find_last_term()
        if last is None:
            for t in range(max(0, initial_log_leadership_term_id), leadership_term_id):
                self.append_term(recording_id, t, initial_term_base_log_position, timestamp)
            self.append_term(recording_id, leadership_term_id, term_base_log_position, timestamp)
        elif last.leadership_term_id < leadership_term_id:
            if last.log_position == NULL_POSITION:
                if term_base_log_position == NULL_POSITION:
                    raise ClusterError(
                        f"prior term was not committed: {last} and termBaseLogPosition was not given: "
                        f"leadershipTermId={leadership_term_id}, logPosition={log_position}, nowNs={now_ns}"
                    )
                self._commit(last.leadership_term_id, term_base_log_position)
                last = self.find_last_term()
                assert last is not None
            for t in range(last.leadership_term_id + 1, leadership_term_id):
                self.append_term(recording_id, t, last.log_position, timestamp)
            self.append_term(recording_id, leadership_term_id, last.log_position, timestamp)
        if log_position != NULL_POSITION:
            self._commit(leadership_term_id, log_position)
        self.force(file_sync_level)

    def force(self, file_sync_level: int | None = None) -> None:
        """Flush per ``file_sync_level`` (default: the one given at construction)."""
        if self._fd >= 0 and not self.read_only:
            force_file(self._fd, self.file_sync_level if file_sync_level is None else file_sync_level)

    def rewrite(self, entries: Iterable[Entry]) -> None:
        """Replace the file's content with ``entries`` in the given order (for tools: sort,
        seed from snapshot), atomically via a temporary file, then reload."""
        self._check_writable()
        parts = []
        index = 0
        for e in entries:
            parts.append(encode_entry(replace(e, entry_index=index)))
            index += 1
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b"".join(parts))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR)
        _sync_directory(os.path.dirname(self.path) or ".")
        self.reload()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RecordingLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __str__(self) -> str:
        body = ", ".join(str(e) for e in self._entries)
        index = ", ".join(f"{t}={i}" for t, i in sorted(self._term_index.items()))
        return f"RecordingLog{{entries=[{body}], cacheIndex={{{index}}}}}"

    # -- internals ---------------------------------------------------------------------------

    def _corrupt(self, offset: int, what: str) -> ClusterFileError:
        return ClusterFileError(f"corrupt recording log {self.path}: entry at offset {offset}: {what}")

    def _check_open(self) -> None:
        if self._fd < 0:
            raise ClusterError(f"recording log {self.path} is closed")

    def _check_writable(self) -> None:
        self._check_open()
        if self.read_only:
            raise ClusterError(f"recording log {self.path} was opened read-only")

    def _reindex(self) -> None:
        self._keys = [e.sort_key() for e in self._entries]
        self._term_index = {e.leadership_term_id: i for i, e in enumerate(self._entries) if _is_valid_term(e)}

    def _write(self, offset: int, data: bytes) -> None:
        if os.pwrite(self._fd, data, offset) != len(data):
            raise ClusterError(f"failed to write {len(data)} bytes at offset {offset} of {self.path}")

    def _validate_recording_id(self, recording_id: int) -> None:
        if recording_id == NULL_VALUE:
            raise ClusterError(f"invalid recordingId={recording_id}")

    def _validate_term_recording_id(self, recording_id: int) -> None:
        self._validate_recording_id(recording_id)
        if self._term_recording_id == NULL_VALUE:
            self._term_recording_id = recording_id
        elif recording_id != self._term_recording_id:
            raise ClusterError(
                f"invalid TERM recordingId={recording_id}, expected recordingId={self._term_recording_id}"
            )

    def _commit(self, leadership_term_id: int, log_position: int) -> None:
        self._check_writable()
        i = self._term_index.get(leadership_term_id)
        if i is None:
            raise ClusterError(f"unknown leadershipTermId={leadership_term_id}")
        e = self._entries[i]
        if e.log_position != log_position:
            self._write(e.file_offset + LOG_POSITION_OFFSET, struct.pack("<q", log_position))
            self._entries[i] = replace(e, log_position=log_position)

    def _append(
        self, entry_type: EntryType, recording_id: int, leadership_term_id: int, term_base_log_position: int,
        log_position: int, timestamp: int, service_id: int, endpoint: str | None,
    ) -> int:
        self._check_writable()
        offset = align(os.fstat(self._fd).st_size, RECORD_ALIGNMENT)
        entry = Entry(recording_id, leadership_term_id, term_base_log_position, log_position, timestamp, service_id,
                      entry_type, True, self._next_entry_index, endpoint, offset)
        self._write(offset, encode_entry(entry))
        self._next_entry_index += 1
        key = entry.sort_key()
        index = bisect.bisect_right(self._keys, key)
        self._entries.insert(index, entry)
        self._reindex()
        return index

    def _restore_invalid_snapshot(
        self, entry_type: EntryType, recording_id: int, leadership_term_id: int, term_base_log_position: int,
        log_position: int, timestamp: int, service_id: int, endpoint: str | None,
    ) -> bool:
        for k in range(len(self._invalid_snapshot_offsets) - 1, -1, -1):
            offset = self._invalid_snapshot_offsets[k]
            i = next((j for j, e in enumerate(self._entries) if e.file_offset == offset), -1)
            if i < 0:
                continue
            e = self._entries[i]
            if (e.entry_type == entry_type and e.leadership_term_id == leadership_term_id
                    and e.term_base_log_position == term_base_log_position and e.log_position == log_position
                    and e.service_id == service_id):
                self._check_writable()
                restored = replace(e, recording_id=recording_id, timestamp=timestamp, is_valid=True,
                                   archive_endpoint=endpoint if entry_type == EntryType.STANDBY_SNAPSHOT
                                   else e.archive_endpoint)
                if restored.length > e.length:
                    restored = replace(restored, archive_endpoint=e.archive_endpoint)
                self._write(offset, encode_entry(restored))
                self._entries[i] = restored
                del self._invalid_snapshot_offsets[k]
                return True
        return False
