"""Service snapshots against a real local archive (cluster.md §4.12, §4.13): taking one on a
SNAPSHOT action (ack carries the recording id), its exact content, and loading it at start."""

from __future__ import annotations

import time
import warnings
from typing import Any

import pytest

from aeronpy.archive.client import AeronArchive, AeronArchiveContext
from aeronpy.cluster.codecs import CLUSTER_SCHEMA, ClusterAction, ClusterTimeUnit, SnapshotMark, T, semantic_version
from aeronpy.cluster.counters import Role
from aeronpy.cluster.service import SnapshotTaker, read_snapshot_message
from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
from aeronpy.protocol import sbe
from tests.cluster.service.conftest import RecordingService
from tests.cluster.service.fake_cm import FakeConsensusModule
from tests.cluster.service.test_agent import EGRESS, append_term_event, start_joined
from tests.conftest import wait_for

USER_STATE = b"user-state:" + bytes(range(200)) * 10  # fragmented too


def snapshotting_service(state: bytes = USER_STATE) -> RecordingService:
    def write(service: RecordingService, publication: Any) -> None:
        SnapshotTaker(publication, service.cluster.idle_strategy).offer(state)

    def read(service: RecordingService, image: Any) -> None:
        if image is not None:
            service.loaded = read_snapshot_message(image, service.cluster.idle_strategy)  # type: ignore[attr-defined]

    return RecordingService({"snapshot": write, "start": read})


def replay_messages(cm_client: Any, aeron_dir: str, recording_id: int, count: int) -> list[bytes]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        archive = AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=cm_client))
    try:
        sub = archive.replay(recording_id, "aeron:ipc", 9001, position=0)
        got: list[bytes] = []
        assembler = FragmentAssembler(lambda b, o, n, h: got.append(b.get_bytes(o, n)))
        deadline = time.monotonic() + 10
        while len(got) < count:
            if sub.poll(assembler.on_fragment, 10) == 0:
                assert time.monotonic() < deadline, f"replayed {len(got)} of {count}"
                time.sleep(0.001)
        sub.close()
        return got
    finally:
        archive.close()


def take_snapshot(fake_cm: FakeConsensusModule, container_factory: Any, service: RecordingService,
                  sessions: tuple[int, ...] = (8, 3)) -> tuple[int, int]:
    """Join as follower, open ``sessions``, append and commit a SNAPSHOT action; returns
    ``(action log position, recording id)`` from the ack."""
    start_joined(fake_cm, container_factory, Role.FOLLOWER, service)
    append_term_event(fake_cm, 2)
    for sid in sessions:
        fake_cm.append_session_open(sid, EGRESS, principal=f"p{sid}".encode())
    position = fake_cm.append_action(ClusterAction.SNAPSHOT, timestamp=5555)
    fake_cm.commit()
    ack = fake_cm.await_ack(2, timeout=20)
    assert ack.get_int("log_position") == position
    assert ack.get_int("timestamp") == 5555
    return position, ack.get_int("relevant_id")


def test_snapshot_is_recorded_with_markers_sessions_and_user_data(
        fake_cm: FakeConsensusModule, container_factory: Any, archive: Any, cm_client: Any, aeron_dir: str) -> None:
    service = snapshotting_service()
    position, recording_id = take_snapshot(fake_cm, container_factory, service)
    assert recording_id >= 0
    messages = replay_messages(cm_client, aeron_dir, recording_id, 5)
    decoded = [sbe.decode(CLUSTER_SCHEMA, m) for m in messages[:4]]
    begin, s3, s8, end = decoded
    assert begin is not None and end is not None and s3 is not None and s8 is not None
    for marker, mark in ((begin, SnapshotMark.BEGIN), (end, SnapshotMark.END)):
        assert marker.spec.name == "SnapshotMarker"
        assert marker.values["type_id"] == 2 and marker.values["mark"] == mark
        assert marker.values["log_position"] == position and marker.values["leadership_term_id"] == 2
        assert marker.values["index"] == 0
        assert marker.values["time_unit"] == ClusterTimeUnit.MILLIS
        assert marker.values["app_version"] == semantic_version(0, 0, 1)
    assert [(s.spec.name, s.values["cluster_session_id"], s.values["encoded_principal"]) for s in (s3, s8)] == [
        ("ClientSession", 3, b"p3"), ("ClientSession", 8, b"p8")]
    assert s3.values["response_channel"] == EGRESS and s3.values["response_stream_id"] == 102
    assert messages[4] == USER_STATE


def test_snapshot_is_loaded_at_start(fake_cm: FakeConsensusModule, container_factory: Any, archive: Any) -> None:
    first = snapshotting_service()
    position, recording_id = take_snapshot(fake_cm, container_factory, first)
    # the first container keeps running; a second one (service 1) starts from its snapshot
    fake_cm.recovery.close()
    fake_cm.allocate_recovery_state(2, position, 5555, (recording_id, recording_id))
    second = snapshotting_service()
    c2 = container_factory(second, service_id=1)
    ack = fake_cm.await_ack(0, timeout=20)
    assert (ack.get_int("service_id"), ack.get_int("log_position")) == (1, position)
    assert ack.get_int("relevant_id") == c2.aeron.client_id
    assert second.loaded == USER_STATE  # type: ignore[attr-defined]
    assert [s.id for s in second.cluster.client_sessions] == [3, 8]
    assert second.cluster.client_sessions[0].encoded_principal == b"p3"
    assert second.cluster.time_unit == ClusterTimeUnit.MILLIS
    assert second.cluster.log_position == position and second.cluster.leadership_term_id == 2
    assert second.of("start")[0][1] is not None


def test_failed_snapshot_acks_null_recording_id(fake_cm: FakeConsensusModule, container_factory: Any,
                                                archive: Any) -> None:
    def fail(service: RecordingService, publication: Any) -> None:
        raise RuntimeError("cannot write state")

    service = RecordingService({"snapshot": fail})
    _, recording_id = take_snapshot(fake_cm, container_factory, service)
    assert recording_id == -1
    service.await_cycles()
    assert service.cluster is not None


def test_standby_only_snapshot_is_skipped_by_a_regular_member(fake_cm: FakeConsensusModule,
                                                              container_factory: Any, archive: Any) -> None:
    service = snapshotting_service()
    start_joined(fake_cm, container_factory, Role.FOLLOWER, service)
    fake_cm.append_action(ClusterAction.SNAPSHOT, flags=1)
    fake_cm.append_action(ClusterAction.SNAPSHOT, flags=0)
    fake_cm.commit()
    ack = fake_cm.await_ack(2, timeout=20)
    assert ack.get_int("relevant_id") >= 0
    assert len(service.of("snapshot")) == 1


def test_incompatible_snapshot_app_version_fails_start(fake_cm: FakeConsensusModule, container_factory: Any,
                                                       archive: Any) -> None:
    position, recording_id = take_snapshot(fake_cm, container_factory, snapshotting_service())
    fake_cm.recovery.close()
    fake_cm.allocate_recovery_state(2, position, 5555, (recording_id, recording_id))
    service = snapshotting_service()
    container = container_factory(service, service_id=1, app_version=semantic_version(1, 0, 0))
    ack = fake_cm.await_ack(0, timeout=20)
    assert ack.get_int("relevant_id") == -1, "a failed start acks with a null relevant id"
    assert container.terminated.wait(10)
    assert any("incompatible app version" in str(e) for e in container.errors)


def test_no_snapshot_when_recovery_term_is_null(fake_cm: FakeConsensusModule,
                                                container_factory: Any) -> None:
    service = RecordingService()
    fake_cm.allocate_recovery_state(-1, 0, 0, (5,))
    container_factory(service)
    fake_cm.await_ack(0)
    assert service.of("start") == [("start", None)]


@pytest.mark.parametrize("is_startup", [False, True])
def test_leader_join_reconnects_restored_sessions_unless_cluster_start(
        is_startup: bool, fake_cm: FakeConsensusModule, container_factory: Any, archive: Any, cm_client: Any) -> None:
    """Sessions loaded from a snapshot get egress when the member joins as leader after an
    election, not on a cluster start (the consensus module then closes them)."""
    egress = cm_client.add_subscription(EGRESS, 102)
    position, recording_id = take_snapshot(fake_cm, container_factory, snapshotting_service())
    fake_cm.recovery.close()
    fake_cm.allocate_recovery_state(2, position, 5555, (recording_id, recording_id))
    second = snapshotting_service()
    container_factory(second, service_id=1)
    fake_cm.await_ack(0, timeout=20)
    fake_cm.send(T.JoinLog, log_position=position, max_log_position=(1 << 63) - 1, member_id=0,
                 log_session_id=fake_cm.log.session_id, log_stream_id=100, is_startup=int(is_startup),
                 role=int(Role.LEADER), is_standby=0, log_channel=fake_cm.log_channel)
    fake_cm.await_message("ServiceAck", service_id=1, ack_id=1)
    second.await_event("role")
    connected = [s.response_publication is not None for s in second.cluster.client_sessions]
    assert connected == [not is_startup, not is_startup]
    if not is_startup:
        wait_for(lambda: egress.image_count >= 1, 10, "egress publications of restored sessions")
