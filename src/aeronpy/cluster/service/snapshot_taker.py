"""Writing a snapshot (cluster.md §4.12): an exclusive publication recorded by the local
archive, ``SnapshotMarker BEGIN`` · records · ``SnapshotMarker END``, then the recording id.

:class:`SnapshotTaker` writes markers and records, retrying back-pressure with an idle strategy;
:class:`ServiceSnapshotTaker` adds the container's ``ClientSession`` records;
:func:`record_snapshot` runs the whole archive procedure around a writer."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from aeronpy.archive.codecs import SourceLocation
from aeronpy.archive.counters import RECORDING_POSITION_TYPE_ID, decode_recording_position_key
from aeronpy.client import results
from aeronpy.cluster.codecs import ClusterTimeUnit, SnapshotMark, T
from aeronpy.cluster.service.errors import ClusterError
from aeronpy.concurrent.counters import RECORD_ALLOCATED, CountersReader
from aeronpy.protocol import sbe
from aeronpy.uri import ChannelUri

__all__ = ["SnapshotTaker", "ServiceSnapshotTaker", "record_snapshot", "find_recording_counter_by_session",
           "is_recording_active", "BLOB_HEADER", "BLOB_CHUNK_LENGTH"]

#: A blob written by :meth:`SnapshotTaker.offer_blob`: magic, total length, then chunks.
BLOB_HEADER = struct.Struct("<4sq")
BLOB_MAGIC = b"BLOB"
#: Chunk size: well under the max message length of the smallest term (64 KiB / 8).
BLOB_CHUNK_LENGTH = 4096


class SnapshotTaker:
    """Offers snapshot records to ``publication``, idling while back-pressured."""

    def __init__(self, publication: Any, idle_strategy: Any) -> None:
        self.publication = publication
        self.idle_strategy = idle_strategy

    def offer(self, message: bytes) -> None:
        self.idle_strategy.reset()
        while True:
            result = int(self.publication.offer(message))
            if result > 0:
                return
            if result == results.NOT_CONNECTED:
                raise ClusterError("snapshot publication is not connected")
            if result == results.CLOSED:
                raise ClusterError("snapshot publication is closed")
            if result == results.MAX_POSITION_EXCEEDED:
                raise ClusterError(f"snapshot publication at max position: term-length={self.publication.term_buffer_length}")
            self.idle_strategy.idle(0)

    def offer_blob(self, data: bytes | bytearray | memoryview) -> None:
        """Write ``data`` of any length as a header record and chunks of at most
        :data:`BLOB_CHUNK_LENGTH` bytes; :func:`~aeronpy.cluster.service.snapshot_loader.read_snapshot_blob`
        reads it back."""
        view = memoryview(data).cast("B")
        self.offer(BLOB_HEADER.pack(BLOB_MAGIC, len(view)))
        for start in range(0, len(view), BLOB_CHUNK_LENGTH):
            self.offer(bytes(view[start:start + BLOB_CHUNK_LENGTH]))

    def mark(self, type_id: int, log_position: int, leadership_term_id: int, index: int, mark: SnapshotMark,
             time_unit: ClusterTimeUnit | None, app_version: int) -> None:
        self.offer(sbe.encode(
            T.SnapshotMarker, type_id=type_id, log_position=log_position, leadership_term_id=leadership_term_id,
            index=index, mark=mark, time_unit=ClusterTimeUnit.MILLIS if time_unit is None else time_unit,
            app_version=app_version))

    def mark_begin(self, type_id: int, log_position: int, leadership_term_id: int, index: int,
                   time_unit: ClusterTimeUnit | None, app_version: int) -> None:
        self.mark(type_id, log_position, leadership_term_id, index, SnapshotMark.BEGIN, time_unit, app_version)

    def mark_end(self, type_id: int, log_position: int, leadership_term_id: int, index: int,
                 time_unit: ClusterTimeUnit | None, app_version: int) -> None:
        self.mark(type_id, log_position, leadership_term_id, index, SnapshotMark.END, time_unit, app_version)


class ServiceSnapshotTaker(SnapshotTaker):
    """A container's snapshot section: one ``ClientSession`` record per open session."""

    def snapshot_session(self, session: Any) -> None:
        self.offer(sbe.encode(
            T.ClientSession, cluster_session_id=session.id, response_stream_id=session.response_stream_id,
            response_channel=session.response_channel, encoded_principal=session.encoded_principal))


def find_recording_counter_by_session(counters: CountersReader, session_id: int, archive_id: int = -1) -> int:
    """Id of the rec-pos counter recording image ``session_id`` (of archive ``archive_id``), or -1."""
    found = -1

    def visit(counter_id: int, type_id: int, key: bytes, label: str) -> None:
        nonlocal found
        if found < 0 and type_id == RECORDING_POSITION_TYPE_ID:
            _, sid, _, aid = decode_recording_position_key(key)
            if sid == session_id and (archive_id == -1 or aid == archive_id):
                found = counter_id

    counters.for_each(visit)
    return found


def is_recording_active(counters: CountersReader, counter_id: int, recording_id: int) -> bool:
    if counters.get_counter_state(counter_id) != RECORD_ALLOCATED:
        return False
    if counters.get_counter_type_id(counter_id) != RECORDING_POSITION_TYPE_ID:
        return False
    return decode_recording_position_key(counters.get_counter_key(counter_id))[0] == recording_id


def record_snapshot(
    aeron: Any,
    archive: Any,
    channel: str,
    stream_id: int,
    write: Callable[[Any], None],
    idle_strategy: Any,
    check_errors: Callable[[], None] = lambda: None,
) -> int:
    """Record a snapshot on the local ``archive``: an exclusive publication on ``channel`` /
    ``stream_id``, ``startRecording(channel + session-id, LOCAL, auto-stop)``, ``write(publication)``,
    then wait until the archive holds it all.  Returns the snapshot's recording id.
    ``check_errors`` raises when the archive reported an error meanwhile."""
    publication = aeron.add_exclusive_publication(channel, stream_id)
    try:
        session_channel = str(ChannelUri.parse(channel).with_param("session-id", str(publication.session_id)))
        archive.start_recording(session_channel, stream_id, SourceLocation.LOCAL, auto_stop=True)
        counters = aeron.counters_reader
        idle_strategy.reset()
        while True:
            counter_id = find_recording_counter_by_session(counters, publication.session_id, archive.archive_id)
            if counter_id >= 0:
                break
            idle_strategy.idle(0)
            archive.poll_for_recording_signals()
            check_errors()
        recording_id = decode_recording_position_key(counters.get_counter_key(counter_id))[0]
        write(publication)
        position = int(publication.position)
        idle_strategy.reset()
        while counters.get_counter_value(counter_id) < position:
            idle_strategy.idle(0)
            archive.poll_for_recording_signals()
            check_errors()
            if not is_recording_active(counters, counter_id, recording_id):
                raise ClusterError(f"recording stopped unexpectedly: {recording_id}")
        return int(recording_id)
    finally:
        publication.close()
