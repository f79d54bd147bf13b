"""Loading a service snapshot (cluster.md §4.13): replay the snapshot recording from the local
archive and read the container's section — ``SnapshotMarker BEGIN`` (typeId 2, time unit, app
version), ``ClientSession`` records, ``SnapshotMarker END`` — leaving the image positioned just
after END for the service's own ``on_start``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aeronpy.client.results import ControlledPollAction
from aeronpy.cluster.codecs import CLUSTER_SCHEMA, SCHEMA_ID, ClusterTimeUnit, SnapshotMark
from aeronpy.cluster.service.errors import ClusterError
from aeronpy.cluster.service.snapshot_taker import BLOB_HEADER, BLOB_MAGIC
from aeronpy.logbuffer.fragment_assembler import ControlledFragmentAssembler
from aeronpy.protocol import sbe
from aeronpy.uri import ChannelUri

__all__ = ["ServiceSnapshotLoader", "replay_subscription", "read_snapshot_message", "read_snapshot_blob"]

FRAGMENT_LIMIT = 10
_NULL_I32 = sbe.PRIMITIVES["int32"][1]

SessionLoader = Callable[[int, int, str, bytes], None]


class ServiceSnapshotLoader:
    """Reads a container's snapshot section from ``image``; each ClientSession goes to
    ``on_session(cluster_session_id, response_stream_id, response_channel, encoded_principal)``."""

    def __init__(self, image: Any, snapshot_type_id: int, on_session: SessionLoader) -> None:
        self.image = image
        self.snapshot_type_id = snapshot_type_id
        self.on_session = on_session
        self.in_snapshot = False
        self.is_done = False
        self.app_version = 0
        self.time_unit = ClusterTimeUnit.MILLIS
        self._assembler = ControlledFragmentAssembler(self._on_message)

    def poll(self) -> int:
        return int(self.image.controlled_poll(self._assembler.on_fragment, FRAGMENT_LIMIT))

    def _on_message(self, buffer: Any, offset: int, length: int, header: Any) -> Any:
        data = buffer.get_bytes(offset, length)
        _, _, schema_id, _ = sbe.decode_header(data)
        if schema_id != SCHEMA_ID:
            raise ClusterError(f"expected schemaId={SCHEMA_ID}, actual={schema_id}")
        msg = sbe.decode(CLUSTER_SCHEMA, data)
        if msg is None:
            return ControlledPollAction.CONTINUE
        if msg.spec.name == "SnapshotMarker":
            type_id = msg.get_int("type_id")
            if type_id != self.snapshot_type_id:
                raise ClusterError(f"unexpected snapshot type: {type_id}")
            mark = msg.get_int("mark")
            if mark == SnapshotMark.BEGIN:
                if self.in_snapshot:
                    raise ClusterError("already in snapshot")
                self.in_snapshot = True
                self.app_version = msg.get_int("app_version")
                unit = msg.get_int("time_unit")
                self.time_unit = ClusterTimeUnit.MILLIS if unit == _NULL_I32 else ClusterTimeUnit(unit)
            elif mark == SnapshotMark.END:
                if not self.in_snapshot:
                    raise ClusterError("missing begin snapshot")
                self.is_done = True
                return ControlledPollAction.BREAK
        elif msg.spec.name == "ClientSession":
            self.on_session(
                msg.get_int("cluster_session_id"), msg.get_int("response_stream_id"),
                msg.get_str("response_channel"), msg.get_bytes("encoded_principal"))
        return ControlledPollAction.CONTINUE


def replay_subscription(aeron: Any, archive: Any, recording_id: int, channel: str, stream_id: int) -> tuple[Any, int]:
    """Start replaying ``recording_id`` from 0 (whole recording) and subscribe to it:
    ``(subscription, replay image session id)``."""
    replay_session_id = int(archive.start_replay(recording_id, channel, stream_id, position=0, length=-1))
    session_id = replay_session_id & 0xFFFFFFFF
    if session_id & 0x80000000:
        session_id -= 1 << 32
    session_channel = str(ChannelUri.parse(channel).with_param("session-id", str(session_id)))
    return aeron.add_subscription(session_channel, stream_id), session_id


def read_snapshot_message(image: Any, idle_strategy: Any, max_idle_polls: int = 10_000_000) -> bytes:
    """The next whole message of a snapshot ``image`` (what a service reads in ``on_start``
    after the container's section), polling with ``idle_strategy``; ClusterError if the
    snapshot ends first or nothing arrives within ``max_idle_polls`` idle polls."""
    got: list[bytes] = []

    def on_message(buffer: Any, offset: int, length: int, header: Any) -> Any:
        got.append(buffer.get_bytes(offset, length))
        return ControlledPollAction.BREAK

    assembler = ControlledFragmentAssembler(on_message)
    idle_strategy.reset()
    for _ in range(max_idle_polls):
        fragments = image.controlled_poll(assembler.on_fragment, 1)
        if got:
            return got[0]
        if image.is_closed or image.is_end_of_stream:
            raise ClusterError("snapshot ended before the service's own data")
        idle_strategy.idle(fragments)
    raise ClusterError("snapshot data did not arrive")


def read_snapshot_blob(image: Any, idle_strategy: Any) -> bytes:
    """Read back what :meth:`~aeronpy.cluster.service.SnapshotTaker.offer_blob` wrote."""
    head = read_snapshot_message(image, idle_strategy)
    if len(head) != BLOB_HEADER.size or head[:4] != BLOB_MAGIC:
        raise ClusterError(f"expected a snapshot blob header, got {len(head)} bytes {head[:8]!r}")
    _, total = BLOB_HEADER.unpack(head)
    parts: list[bytes] = []
    have = 0
    while have < total:
        chunk = read_snapshot_message(image, idle_strategy)
        parts.append(chunk)
        have += len(chunk)
    if have != total:
        raise ClusterError(f"snapshot blob of {have} bytes, header said {total}")
    return b"".join(parts)
