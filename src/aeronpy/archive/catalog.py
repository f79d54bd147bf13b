"""``archive.catalog``: the recordings' descriptors, catalog version 3.1 (archive.md §5.1-5.3).

Layout: a 32-byte ``CatalogHeader`` then entries back to back, each a 32-byte
``RecordingDescriptorHeader`` (length incl. padding, state, checksum), the 80-byte
``RecordingDescriptor`` block and three var strings, padded to the catalog alignment (64).
The first entry header whose length is ``<= 0`` ends the list.  The file is memory mapped for
its whole capacity, which grows by 1.5x when an append does not fit.
"""

from __future__ import annotations

import mmap
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from aeronpy.protocol import sbe
from aeronpy.archive.codecs import SCHEMA_VERSION, RecordingState, T
from aeronpy.archive.descriptors import RecordingDescriptor
from aeronpy.archive.errors import CatalogError

__all__ = [
    "CATALOG_FILE_NAME",
    "CATALOG_VERSION",
    "CatalogEntry",
    "Catalog",
    "checksum_function",
]

CATALOG_FILE_NAME = "archive.catalog"
CATALOG_VERSION = 0x00030100  # 3.1.0
HEADER_LENGTH = 32
DESCRIPTOR_HEADER_LENGTH = 32
DESCRIPTOR_BLOCK_LENGTH = T.RecordingDescriptor.block_length
DEFAULT_ALIGNMENT = 64
DEFAULT_CAPACITY = 1024 * 1024
MIN_CAPACITY = 32
MAX_CAPACITY = (1 << 31) - 1
NULL_POSITION = -1
NULL_TIMESTAMP = -1

# Field offsets inside an entry, taken from the schema table rather than written by hand.
_DESC = {f.name: DESCRIPTOR_HEADER_LENGTH + f.offset for f in T.RecordingDescriptor.fields}
_DHDR = {f.name: f.offset for f in T.RecordingDescriptorHeader.fields}
_CHDR = {f.name: f.offset for f in T.CatalogHeader.fields}


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) & ~(alignment - 1)


def checksum_function(name: str | None) -> Callable[[bytes], int] | None:
    """CRC by Aeron's names (``CRC-32`` / ``CRC-32C`` or their Java class names); None for none."""
    if not name:
        return None
    key = name.strip()
    if key in ("CRC-32", "io.aeron.archive.checksum.Crc32"):
        return lambda data: _int32(zlib.crc32(data))
    if key in ("CRC-32C", "io.aeron.archive.checksum.Crc32c"):
        return lambda data: _int32(crc32c(data))
    raise ValueError(f"checksum={name!r}: must be CRC-32 or CRC-32C")


def _int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the pure-Python form (slow; used only when configured)."""
    crc = 0xFFFFFFFF
    t = _CRC32C_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


@dataclass(frozen=True)
class CatalogEntry(RecordingDescriptor):
    """One catalog entry as read from the file: the recording's descriptor (the fields a client's
    :class:`~aeronpy.archive.descriptors.RecordingDescriptor` has) and its frame header:
    ``offset`` in the file, descriptor ``length``, ``state`` and ``checksum``."""

    offset: int
    length: int
    state: int
    checksum: int

    @property
    def frame_length(self) -> int:
        return DESCRIPTOR_HEADER_LENGTH + self.length

    @property
    def is_active(self) -> bool:
        return self.stop_position == NULL_POSITION


def entry_frame_length(stripped: str, original: str, source: str, alignment: int) -> int:
    return _align(
        DESCRIPTOR_HEADER_LENGTH + DESCRIPTOR_BLOCK_LENGTH + 12 + len(stripped) + len(original) + len(source),
        alignment,
    )


class Catalog:
    """The catalog file, its VALID-entry index and every mutation the archive makes.

    Not thread safe: the archive conductor owns it.  ``writable=False`` opens an existing
    catalog for tools without changing it."""

    def __init__(
        self,
        archive_dir: str,
        capacity: int = DEFAULT_CAPACITY,
        writable: bool = True,
        file_sync_level: int = 0,
        checksum: Callable[[bytes], int] | None = None,
    ) -> None:
        if not MIN_CAPACITY <= capacity <= MAX_CAPACITY:
            raise ValueError(f"capacity={capacity}: must be in [{MIN_CAPACITY}, {MAX_CAPACITY}]")
        self.path = os.path.join(archive_dir, CATALOG_FILE_NAME)
        self.writable = writable
        self.file_sync_level = file_sync_level
        self.checksum = checksum
        self._index: dict[int, int] = {}
        self._mm: mmap.mmap | None = None
        exists = os.path.exists(self.path)
        if not exists:
            if not writable:
                raise CatalogError(f"catalog not found: {self.path}")
            self._create(capacity)
        else:
            self._open(capacity)

    # -- file ------------------------------------------------------------------------------

    def _create(self, capacity: int) -> None:
        with open(self.path, "wb") as f:
            f.truncate(capacity)
        self._map()
        header = sbe.encode(
            T.CatalogHeader, version=CATALOG_VERSION, length=HEADER_LENGTH, next_recording_id=0,
            alignment=DEFAULT_ALIGNMENT, reserved=0, header=False,
        )
        self.mm[0:HEADER_LENGTH] = header
        self._sync()
        if self.file_sync_level > 0:
            _fsync_dir(os.path.dirname(self.path))
        self.alignment = DEFAULT_ALIGNMENT
        self.version = CATALOG_VERSION
        self._next_recording_id = 0
        self._end = HEADER_LENGTH

    def _map(self) -> None:
        flags = os.O_RDWR if self.writable else os.O_RDONLY
        fd = os.open(self.path, flags)
        try:
            size = os.fstat(fd).st_size
            if size < HEADER_LENGTH:
                raise CatalogError(f"catalog {self.path} is truncated: {size} bytes < {HEADER_LENGTH}-byte header")
            access = mmap.ACCESS_WRITE if self.writable else mmap.ACCESS_READ
            self._mm = mmap.mmap(fd, size, access=access)
        finally:
            os.close(fd)

    @property
    def mm(self) -> mmap.mmap:
        if self._mm is None:
            raise CatalogError("catalog is closed")
        return self._mm

    @property
    def capacity(self) -> int:
        return len(self.mm)

    def _open(self, capacity: int) -> None:
        file_size = os.path.getsize(self.path)
        if file_size < HEADER_LENGTH:
            raise CatalogError(f"catalog {self.path} is truncated: {file_size} bytes < {HEADER_LENGTH}-byte header")
        if self.writable and file_size < capacity:
            with open(self.path, "r+b") as f:
                f.truncate(capacity)
        self._map()
        hdr = sbe.decode_block(T.CatalogHeader, self.mm, 0, HEADER_LENGTH, HEADER_LENGTH, SCHEMA_VERSION)
        self.version = hdr.get_int("version")
        if (self.version >> 16) & 0xFF != 3:
            raise CatalogError(
                f"incompatible catalog file version {_semver(self.version)} in {self.path}, archive software is "
                f"{_semver(CATALOG_VERSION)}" + (" (run archive-tool migrate)" if self.version >> 16 in (1, 2) else "")
            )
        self.alignment = hdr.get_int("alignment")
        if self.alignment < 32 or self.alignment & (self.alignment - 1):
            raise CatalogError(f"catalog {self.path}: invalid alignment {self.alignment}")
        if hdr.get_int("length") != HEADER_LENGTH:
            raise CatalogError(f"catalog {self.path}: invalid header length {hdr.get_int('length')}")
        last_id = -1
        offset = HEADER_LENGTH
        cap = self.capacity
        while offset + DESCRIPTOR_HEADER_LENGTH <= cap:
            length = self._i32(offset + _DHDR["length"])
            if length <= 0:
                break
            frame = DESCRIPTOR_HEADER_LENGTH + length
            if length < DESCRIPTOR_BLOCK_LENGTH + 12 or offset + frame > cap:
                raise CatalogError(
                    f"catalog {self.path} is corrupt: entry at offset {offset} has length {length} "
                    f"(capacity {cap})"
                )
            entry = self._read(offset)  # validates the var strings
            if entry.recording_id <= last_id:
                raise CatalogError(
                    f"catalog {self.path} is corrupt: recordingId {entry.recording_id} at offset {offset} "
                    f"not above {last_id}"
                )
            last_id = entry.recording_id
            if entry.state == RecordingState.VALID:
                self._index[entry.recording_id] = offset
            offset += frame
        if offset > file_size:
            raise CatalogError(
                f"catalog {self.path} is truncated or corrupt: entries end at {offset}, file has {file_size} bytes"
            )
        self._end = offset
        nxt = self._i64(_CHDR["next_recording_id"])
        if nxt == 0:
            nxt = last_id + 1
        elif nxt < last_id + 1 and self.writable:
            raise CatalogError(f"invalid nextRecordingId: expected value greater or equal to {last_id + 1}, was {nxt}")
        self._next_recording_id = nxt

    def close(self) -> None:
        if self._mm is not None:
            if self.writable:
                self._mm.flush()
            self._mm.close()
            self._mm = None

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _sync(self) -> None:
        if self.file_sync_level > 0:
            self.mm.flush()

    def _i32(self, at: int) -> int:
        return int.from_bytes(self.mm[at : at + 4], "little", signed=True)

    def _i64(self, at: int) -> int:
        return int.from_bytes(self.mm[at : at + 8], "little", signed=True)

    def _put_i32(self, at: int, v: int) -> None:
        self.mm[at : at + 4] = int(v).to_bytes(4, "little", signed=True)

    def _put_i64(self, at: int, v: int) -> None:
        self.mm[at : at + 8] = int(v).to_bytes(8, "little", signed=True)

    # -- reading ---------------------------------------------------------------------------

    def _read(self, offset: int) -> CatalogEntry:
        length = self._i32(offset)
        state = self._i32(offset + _DHDR["state"])
        try:
            d = sbe.decode_block(
                T.RecordingDescriptor, self.mm, offset + DESCRIPTOR_HEADER_LENGTH, length,
                DESCRIPTOR_BLOCK_LENGTH, SCHEMA_VERSION,
            )
        except sbe.CodecError as e:
            raise CatalogError(f"catalog {self.path} is corrupt: entry at offset {offset}: {e}") from None
        v = d.values
        return CatalogEntry(
            offset=offset, length=length, state=state, checksum=self._i32(offset + _DHDR["checksum"]),
            **{k: v[k] for k in _ENTRY_FIELDS},  # type: ignore[arg-type]
        )

    @property
    def next_recording_id(self) -> int:
        return self._next_recording_id

    def recording_ids(self) -> list[int]:
        """VALID recording ids, ascending (the index)."""
        return sorted(self._index)

    def has_recording(self, recording_id: int) -> bool:
        return recording_id in self._index

    def get(self, recording_id: int) -> CatalogEntry | None:
        """The VALID entry for ``recording_id`` or None."""
        offset = self._index.get(recording_id)
        return None if offset is None else self._read(offset)

    def entry(self, recording_id: int) -> CatalogEntry:
        e = self.get(recording_id)
        if e is None:
            raise KeyError(recording_id)
        return e

    def entries(self) -> Iterator[CatalogEntry]:
        """Every entry in file order, whatever its state."""
        offset = HEADER_LENGTH
        while offset < self._end:
            e = self._read(offset)
            yield e
            offset += e.frame_length

    def find_any(self, recording_id: int) -> CatalogEntry | None:
        for e in self.entries():
            if e.recording_id == recording_id:
                return e
        return None

    def descriptor_bytes(self, recording_id: int) -> bytes:
        """The entry's bytes after its 32-byte header (block, strings and padding), as the
        wire RecordingDescriptor carries them."""
        e = self.entry(recording_id)
        start = e.offset + DESCRIPTOR_HEADER_LENGTH
        return bytes(self.mm[start : start + e.length])

    # -- mutations -------------------------------------------------------------------------

    def add_recording(
        self,
        start_position: int,
        start_timestamp: int,
        initial_term_id: int,
        segment_file_length: int,
        term_buffer_length: int,
        mtu_length: int,
        session_id: int,
        stream_id: int,
        stripped_channel: str,
        original_channel: str,
        source_identity: str,
        stop_position: int = NULL_POSITION,
        stop_timestamp: int = NULL_TIMESTAMP,
    ) -> int:
        """Append a VALID entry; returns its recording id (never reused)."""
        self._require_writable()
        recording_id = self._next_recording_id
        body = sbe.encode(
            T.RecordingDescriptor,
            control_session_id=0, correlation_id=0, recording_id=recording_id,
            start_timestamp=start_timestamp, stop_timestamp=stop_timestamp, start_position=start_position,
            stop_position=stop_position, initial_term_id=initial_term_id, segment_file_length=segment_file_length,
            term_buffer_length=term_buffer_length, mtu_length=mtu_length, session_id=session_id,
            stream_id=stream_id, stripped_channel=stripped_channel, original_channel=original_channel,
            source_identity=source_identity, header=False,
        )
        frame = _align(DESCRIPTOR_HEADER_LENGTH + len(body), self.alignment)
        offset = self._end
        self._ensure_capacity(offset + frame)
        mm = self.mm
        mm[offset + DESCRIPTOR_HEADER_LENGTH : offset + DESCRIPTOR_HEADER_LENGTH + len(body)] = body
        length = frame - DESCRIPTOR_HEADER_LENGTH
        self._put_i32(offset + _DHDR["checksum"], self._checksum(offset, length))
        self._put_i32(offset + _DHDR["state"], RecordingState.VALID)
        self._put_i32(offset + _DHDR["length"], length)
        self._next_recording_id = recording_id + 1
        self._put_i64(_CHDR["next_recording_id"], self._next_recording_id)
        self._end = offset + frame
        self._index[recording_id] = offset
        self._sync()
        return recording_id

    def _checksum(self, offset: int, length: int) -> int:
        if self.checksum is None:
            return 0
        start = offset + DESCRIPTOR_HEADER_LENGTH
        return self.checksum(bytes(self.mm[start : start + length]))

    def _update_checksum(self, offset: int) -> None:
        if self.checksum is not None:
            self._put_i32(offset + _DHDR["checksum"], self._checksum(offset, self._i32(offset)))

    def _ensure_capacity(self, needed: int) -> None:
        cap = self.capacity
        if needed <= cap:
            return
        if needed > MAX_CAPACITY:
            raise CatalogError(f"recording is too big: catalog would need {needed} bytes > {MAX_CAPACITY}")
        while cap < needed:
            cap = min(MAX_CAPACITY, cap + (cap >> 1) + 1)
        self.mm.flush()
        self.mm.close()
        self._mm = None
        with open(self.path, "r+b") as f:
            f.truncate(cap)
        self._map()

    def _require_writable(self) -> None:
        if not self.writable:
            raise CatalogError("catalog opened read-only")

    def _offset(self, recording_id: int) -> int:
        offset = self._index.get(recording_id)
        if offset is None:
            raise KeyError(recording_id)
        return offset

    def recording_stopped(self, recording_id: int, stop_position: int, stop_timestamp: int) -> None:
        self._require_writable()
        o = self._offset(recording_id)
        self._put_i64(o + _DESC["stop_timestamp"], stop_timestamp)
        self._put_i64(o + _DESC["stop_position"], stop_position)
        self._update_checksum(o)
        self._sync()

    def update_stop_position(self, recording_id: int, stop_position: int) -> None:
        self._require_writable()
        o = self._offset(recording_id)
        self._put_i64(o + _DESC["stop_position"], stop_position)
        self._update_checksum(o)
        self._sync()

    def update_start_position(self, recording_id: int, start_position: int) -> None:
        self._require_writable()
        o = self._offset(recording_id)
        self._put_i64(o + _DESC["start_position"], start_position)
        self._update_checksum(o)
        self._sync()

    def extend_recording(self, recording_id: int, control_session_id: int, correlation_id: int, session_id: int) -> None:
        self._require_writable()
        o = self._offset(recording_id)
        self._put_i64(o + _DESC["control_session_id"], control_session_id)
        self._put_i64(o + _DESC["correlation_id"], correlation_id)
        self._put_i64(o + _DESC["stop_timestamp"], NULL_TIMESTAMP)
        self._put_i32(o + _DESC["session_id"], session_id)
        self._put_i64(o + _DESC["stop_position"], NULL_POSITION)
        self._update_checksum(o)
        self._sync()

    def change_state(self, recording_id: int, state: RecordingState) -> bool:
        """Set the state of the entry (any current state); maintains the index.  False if absent."""
        self._require_writable()
        entry = self.find_any(recording_id)
        if entry is None:
            return False
        self._put_i32(entry.offset + _DHDR["state"], int(state))
        if state == RecordingState.VALID:
            self._index[recording_id] = entry.offset
        else:
            self._index.pop(recording_id, None)
        self._sync()
        return True

    def replace_channels(self, recording_id: int, original_channel: str, stripped_channel: str) -> None:
        """Rewrite an entry's channels (update-channel); a longer entry shifts later entries."""
        self.replace_recording(recording_id, original_channel=original_channel, stripped_channel=stripped_channel)

    def replace_recording(self, recording_id: int, **fields: Any) -> None:
        """Rewrite a VALID entry with ``fields`` (CatalogEntry names) changed, as Aeron's
        ``replaceRecording`` (replication into an empty destination); a longer entry shifts the
        entries after it."""
        self._require_writable()
        e = self.entry(recording_id)
        unknown = set(fields) - set(CatalogEntry.__dataclass_fields__) | ({"offset", "length", "state"} & set(fields))
        if unknown:
            raise ValueError(f"fields: cannot replace {sorted(unknown)}")
        new = replace(e, **fields)
        body = _entry_body(new)
        frame = _align(DESCRIPTOR_HEADER_LENGTH + len(body), self.alignment)
        growth = frame - e.frame_length
        if growth > 0:
            self._ensure_capacity(self._end + growth)
            mm = self.mm
            tail_start = e.offset + e.frame_length
            mm.move(tail_start + growth, tail_start, self._end - tail_start)
            self._end += growth
            for rid, off in self._index.items():
                if off > e.offset:
                    self._index[rid] = off + growth
            length = frame - DESCRIPTOR_HEADER_LENGTH
        else:
            length = e.length
        mm = self.mm
        start = e.offset + DESCRIPTOR_HEADER_LENGTH
        mm[start : start + length] = body + bytes(length - len(body))
        self._put_i32(e.offset, length)
        self._update_checksum(e.offset)
        self._sync()

    def update_checksums(self) -> None:
        for e in self.entries():
            self._update_checksum(e.offset)


_ENTRY_FIELDS = tuple(RecordingDescriptor.__dataclass_fields__)


def _entry_body(e: CatalogEntry) -> bytes:
    return sbe.encode(T.RecordingDescriptor, {k: getattr(e, k) for k in _ENTRY_FIELDS}, header=False)


def _semver(v: int) -> str:
    return f"{(v >> 16) & 0xFF}.{(v >> 8) & 0xFF}.{v & 0xFF}"


def _fsync_dir(path: str) -> None:
    fd = os.open(path or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
