"""``node-state.dat``: the member's durable max candidate term id (cluster.md §1.4.2).

Raft's ``currentTerm`` must survive a crash before a member votes or nominates itself, so the
consensus module proposes each candidate term here first.  The file (1 MiB, mapped) holds the
``NodeStateHeader`` block (version 0.3.0) at 0 and then records of schema 112, each behind a
16-byte header (blockLength, templateId, schemaId, version, frameLength, padding) and chained
by ``align(frameLength, 8)``: a ``CandidateTerm`` (301) at 8 and the footer (304) after it.
"""

from __future__ import annotations

import mmap
import os
import struct

from aeronpy.cluster.codecs import NODE_STATE_SCHEMA, NODE_STATE_SCHEMA_ID, NODE_STATE_SCHEMA_VERSION, major_version
from aeronpy.cluster.errors import ClusterFileError
from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.concurrent.bit_util import align

__all__ = [
    "FILE_NAME",
    "FILE_LENGTH",
    "NODE_STATE_VERSION",
    "FRAME_HEADER",
    "CANDIDATE_TERM_TEMPLATE_ID",
    "FOOTER_TEMPLATE_ID",
    "NodeStateFile",
]

FILE_NAME = "node-state.dat"
FILE_LENGTH = 1 << 20
#: Semantic version 0.3.0 of the file, as in the mark file.
NODE_STATE_VERSION = (0 << 16) | (3 << 8) | 0
#: blockLength u16, templateId u16, schemaId u16, version u16, frameLength i32, padding i32.
FRAME_HEADER = struct.Struct("<HHHHii")
CANDIDATE_TERM_TEMPLATE_ID = 301
FOOTER_TEMPLATE_ID = 304
_ALIGNMENT = 8
_HEADER_BLOCK_LENGTH = NODE_STATE_SCHEMA.by_id[300].block_length  # 8
_CANDIDATE = NODE_STATE_SCHEMA.by_id[CANDIDATE_TERM_TEMPLATE_ID]
_CANDIDATE_FIELD = {f.name: f.offset for f in _CANDIDATE.fields}


class NodeStateFile:
    """The mapped ``<cluster_dir>/node-state.dat``.

    ``create=False`` refuses a missing file; a file that is too short, of another major version,
    or whose records do not chain to a CandidateTerm and a footer raises
    :class:`ClusterFileError` naming the file (and the offset).  Updates are forced to disk
    when ``file_sync_level`` > 0."""

    def __init__(self, cluster_dir: str, create: bool = True, file_sync_level: int = 0) -> None:
        self.path = os.path.join(cluster_dir, FILE_NAME)
        self.file_sync_level = file_sync_level
        exists = os.path.exists(self.path)
        if not exists and not create:
            raise ClusterFileError(f"node state file {self.path} does not exist")
        if not exists:
            os.makedirs(cluster_dir, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise ClusterFileError(f"cannot open node state file {self.path}: {e.strerror}") from None
        try:
            if not exists:
                os.ftruncate(fd, FILE_LENGTH)
            size = os.fstat(fd).st_size
            if size < 64:
                raise ClusterFileError(f"node state file {self.path} of {size} bytes is too short (truncated?)")
            self._mm = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self._buffer = AtomicBuffer(self._mm)
        try:
            if exists:
                self._candidate_offset = self._load()
            else:
                self._candidate_offset = self._initialise()
        except BaseException:
            self._buffer.release()
            self._mm.close()
            raise
        self._sync()

    # -- layout ------------------------------------------------------------------------------

    def _initialise(self) -> int:
        buf = self._buffer
        buf.put_int32(0, NODE_STATE_VERSION)
        buf.put_int32(4, 0)
        at = _HEADER_BLOCK_LENGTH
        frame = FRAME_HEADER.size + _CANDIDATE.block_length
        buf.put_bytes(at, FRAME_HEADER.pack(_CANDIDATE.block_length, CANDIDATE_TERM_TEMPLATE_ID, NODE_STATE_SCHEMA_ID,
                                            NODE_STATE_SCHEMA_VERSION, frame, 0))
        body = at + FRAME_HEADER.size
        buf.put_int64(body + _CANDIDATE_FIELD["log_position"], -1)
        buf.put_int64(body + _CANDIDATE_FIELD["timestamp"], -1)
        buf.put_int64_volatile(body + _CANDIDATE_FIELD["candidate_term_id"], -1)
        footer = at + align(frame, _ALIGNMENT)
        buf.put_bytes(footer, FRAME_HEADER.pack(0, FOOTER_TEMPLATE_ID, NODE_STATE_SCHEMA_ID, NODE_STATE_SCHEMA_VERSION,
                                                FRAME_HEADER.size, 0))
        return body

    def _load(self) -> int:
        version = self._buffer.get_int32(0)
        if major_version(version) != 0 or version == 0:
            raise ClusterFileError(
                f"node state file {self.path} has version {version >> 16 & 0xFF}.{version >> 8 & 0xFF}."
                f"{version & 0xFF}, expected major version 0 (not a node state file?)"
            )
        if self._scan(FOOTER_TEMPLATE_ID) < 0:
            raise ClusterFileError(f"node state file {self.path} has no footer record (corrupt?)")
        at = self._scan(CANDIDATE_TERM_TEMPLATE_ID)
        if at < 0:
            raise ClusterFileError(f"node state file {self.path} has no CandidateTerm record (corrupt?)")
        block_length, _, schema_id, _, _, _ = FRAME_HEADER.unpack(self._mm[at : at + FRAME_HEADER.size])
        if schema_id != NODE_STATE_SCHEMA_ID or block_length < _CANDIDATE.block_length:
            raise ClusterFileError(
                f"node state file {self.path}: CandidateTerm at offset {at} has schemaId={schema_id} "
                f"blockLength={block_length}"
            )
        return at + FRAME_HEADER.size

    def _scan(self, template_id: int) -> int:
        size = len(self._mm)
        at = _HEADER_BLOCK_LENGTH
        while at + FRAME_HEADER.size <= size:
            _, tid, _, _, frame_length, _ = FRAME_HEADER.unpack(self._mm[at : at + FRAME_HEADER.size])
            if tid == template_id:
                return at
            if tid == FOOTER_TEMPLATE_ID:
                return -1
            if frame_length < 0:
                raise ClusterFileError(f"node state file {self.path}: negative frame length {frame_length} at offset {at}")
            if frame_length == 0:
                return -1
            at += align(frame_length, _ALIGNMENT)
        return -1

    # -- candidate term ----------------------------------------------------------------------

    @property
    def candidate_term_id(self) -> int:
        return int(self._buffer.get_int64_volatile(self._candidate_offset + _CANDIDATE_FIELD["candidate_term_id"]))

    @property
    def timestamp(self) -> int:
        return int(self._buffer.get_int64(self._candidate_offset + _CANDIDATE_FIELD["timestamp"]))

    @property
    def log_position(self) -> int:
        return int(self._buffer.get_int64(self._candidate_offset + _CANDIDATE_FIELD["log_position"]))

    def update_candidate_term_id(self, candidate_term_id: int, log_position: int, timestamp: int) -> None:
        """Store unconditionally (the term id last, with release semantics), then sync."""
        at = self._candidate_offset
        self._buffer.put_int64(at + _CANDIDATE_FIELD["log_position"], log_position)
        self._buffer.put_int64(at + _CANDIDATE_FIELD["timestamp"], timestamp)
        self._buffer.put_int64_volatile(at + _CANDIDATE_FIELD["candidate_term_id"], candidate_term_id)
        self._sync()

    def propose_max_candidate_term_id(self, candidate_term_id: int, log_position: int, timestamp: int) -> int:
        """Store ``candidate_term_id`` if it is above the stored one; returns the stored max."""
        existing = self.candidate_term_id
        if candidate_term_id > existing:
            self.update_candidate_term_id(candidate_term_id, log_position, timestamp)
            return candidate_term_id
        return existing

    def _sync(self) -> None:
        if self.file_sync_level > 0:
            self._mm.flush()

    def close(self) -> None:
        if self._mm.closed:
            return
        self._buffer.release()
        self._mm.close()

    def __enter__(self) -> NodeStateFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
