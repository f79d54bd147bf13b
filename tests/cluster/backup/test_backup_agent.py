"""ClusterBackupAgent's state machine without processes: fakes for the client and the archives,
a manual clock, BackupResponses fed as fragments (cluster.md §4.17)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aeronpy.cluster.backup.agent import ClusterBackupAgent, ClusterBackupState
from aeronpy.cluster.backup.context import ClusterBackupContext
from aeronpy.cluster.client.context import PROTOCOL_SEMANTIC_VERSION
from aeronpy.cluster.codecs import CLUSTER_SCHEMA, T, EventCode
from aeronpy.cluster.errors import ClusterError
from aeronpy.cluster.recording_log import EntryType, RecordingLog
from aeronpy.concurrent.atomic_buffer import PyAtomicBuffer
from aeronpy.protocol import sbe

MEMBERS = "0,h:1,h:2,h:3,h:0,h:5|1,h:11,h:12,h:13,h:0,h:15|2,h:21,h:22,h:23,h:0,h:25"


class Counter:
    def __init__(self) -> None:
        self.value = 0

    def get(self) -> int:
        return self.value

    def set(self, v: int) -> None:
        self.value = v

    def increment(self) -> int:
        self.value += 1
        return self.value - 1

    def propose_max(self, v: int) -> bool:
        if v > self.value:
            self.value = v
            return True
        return False


class Publication:
    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.sent: list[bytes] = []
        self.is_connected = True
        self.closed = False

    def offer(self, data: bytes) -> int:
        self.sent.append(data)
        return 64

    def close(self) -> None:
        self.closed = True


class CountersReader:
    def __init__(self) -> None:
        self.counters: dict[int, tuple[int, bytes, int]] = {}  # id -> (type id, key, value)

    def for_each(self, fn: Any) -> None:
        for counter_id, (type_id, key, _) in self.counters.items():
            fn(counter_id, type_id, key, "")

    def get_counter_value(self, counter_id: int) -> int:
        return self.counters[counter_id][2]

    def get_counter_key(self, counter_id: int) -> bytes:
        return self.counters[counter_id][1]

    def get_counter_type_id(self, counter_id: int) -> int:
        return self.counters[counter_id][0] if counter_id in self.counters else -1

    def get_counter_state(self, counter_id: int) -> int:
        return 1 if counter_id in self.counters else 0


class Aeron:
    def __init__(self) -> None:
        self.correlation = 100
        self.publications: list[Publication] = []
        self.counters_reader = CountersReader()

    def next_correlation_id(self) -> int:
        self.correlation += 1
        return self.correlation

    def add_exclusive_publication(self, channel: str, stream_id: int) -> Publication:
        pub = Publication(channel)
        self.publications.append(pub)
        return pub


class Subscription:
    def __init__(self) -> None:
        self.fragments: list[bytes] = []

    def poll(self, handler: Any, limit: int) -> int:
        n = 0
        while self.fragments and n < limit:
            data = self.fragments.pop(0)
            handler(PyAtomicBuffer(bytearray(data)), 0, len(data), None)
            n += 1
        return n


class Archive:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.signals: list[Any] = []

    def poll_for_recording_signals(self) -> list[Any]:
        out, self.signals = self.signals, []
        return out

    def replicate(self, src: int, dst: int, stream: int, channel: str, **kw: Any) -> int:
        self.calls.append(("replicate", src, channel, kw.get("replication_channel")))
        return 500 + len(self.calls)

    def start_recording(self, channel: str, stream_id: int, *a: Any, **kw: Any) -> int:
        self.calls.append(("start_recording", channel, stream_id))
        return 900

    def extend_recording(self, recording_id: int, channel: str, stream_id: int, *a: Any, **kw: Any) -> int:
        self.calls.append(("extend_recording", recording_id, channel))
        return 901

    def start_bounded_replay(self, recording_id: int, limit_counter_id: int, channel: str, stream_id: int,
                             position: int = -1, length: int = -1) -> int:
        self.calls.append(("bounded_replay", recording_id, limit_counter_id, channel, position))
        return (5 << 32) | 77

    def get_stop_position(self, recording_id: int) -> int:
        return 6000

    def stop_replay(self, replay_session_id: int) -> None:
        self.calls.append(("stop_replay", replay_session_id))

    def stop_recording_subscription(self, sub: int) -> None:
        self.calls.append(("stop_recording", sub))

    def close(self) -> None:
        self.calls.append(("close",))


@pytest.fixture
def rig(tmp_path: Path) -> SimpleNamespace:
    ctx = ClusterBackupContext.from_properties({
        "aeron.cluster.consensus.endpoints": "h:2,h:12,h:22", "aeron.cluster.backup.catchup.endpoint": "b:9",
        "aeron.cluster.consensus.channel": "aeron:udp?endpoint=b:8"}, env={}, cluster_dir=str(tmp_path))
    clock = [1_000]
    errors: list[BaseException] = []
    counters = {n: Counter() for n in ("state", "live_log_position", "next_query_deadline", "snapshots_retrieved")}
    aeron = Aeron()
    agent = ClusterBackupAgent(ctx, aeron, SimpleNamespace(update_activity_timestamp=lambda ms: None), counters,
                               lambda: clock[0], errors.append)
    agent.recording_log = RecordingLog(str(tmp_path), create=True)
    agent.backup_archive = Archive()
    agent.consensus_subscription = Subscription()
    agent.cluster_archive = Archive()  # as if connected to the supplier's archive
    return SimpleNamespace(agent=agent, aeron=aeron, clock=clock, errors=errors, counters=counters)


def _response(correlation_id: int, member_id: int = 1, leader: int = 0, snapshots: list[dict[str, int]] | None = None,
              term: int = 2) -> bytes:
    return sbe.encode(
        T.BackupResponse, correlation_id=correlation_id, log_recording_id=7, log_leadership_term_id=term,
        log_term_base_log_position=4096, last_leadership_term_id=term, last_term_base_log_position=4096,
        commit_position_counter_id=33, leader_member_id=leader, member_id=member_id,
        snapshots=snapshots or [], cluster_members=MEMBERS)


SNAPSHOTS = [
    {"recording_id": 11, "leadership_term_id": 2, "term_base_log_position": 4096, "log_position": 5000,
     "timestamp": 9, "service_id": 0},
    {"recording_id": 12, "leadership_term_id": 2, "term_base_log_position": 4096, "log_position": 5000,
     "timestamp": 9, "service_id": -1},
]


def _query(rig: SimpleNamespace) -> int:
    """Run until a BackupQuery went out; its correlation id."""
    agent = rig.agent
    for _ in range(5):
        agent.do_work()
        if agent.correlation_id != -1:
            break
    pub = rig.aeron.publications[-1]
    d = sbe.decode(CLUSTER_SCHEMA, pub.sent[-1])
    assert d is not None and d.spec.name == "BackupQuery"
    assert d.get_int("version") == PROTOCOL_SEMANTIC_VERSION
    assert d.get_str("response_channel") == "aeron:udp?endpoint=b:8" and d.get_int("response_stream_id") == 108
    return d.get_int("correlation_id")


def test_query_goes_to_the_members_in_turn_until_one_answers(rig: SimpleNamespace) -> None:
    _query(rig)
    assert rig.aeron.publications[0].channel == "aeron:udp?endpoint=h:2"
    rig.clock[0] += 5_001  # response timeout: next member
    rig.agent.do_work()
    assert rig.aeron.publications[0].closed
    assert rig.aeron.publications[1].channel == "aeron:udp?endpoint=h:12"


def test_response_with_snapshots_retrieves_them_then_records_the_live_log(rig: SimpleNamespace) -> None:
    agent = rig.agent
    cid = _query(rig)
    agent.consensus_subscription.fragments.append(_response(cid, snapshots=SNAPSHOTS))
    agent.do_work()
    assert agent.state == ClusterBackupState.SNAPSHOT_RETRIEVE
    assert agent.log_supplier_member.id == 1 and agent.leader_commit_position_counter_id == 33
    assert [s.recording_id for s in agent.snapshots_to_retrieve] == [11, 12]
    agent.do_work()  # first replication starts
    call = agent.backup_archive.calls[0]
    assert call[:3] == ("replicate", 11, "aeron:udp?term-length=64k|endpoint=h:15")
    assert "endpoint=b:0" in call[3]
    for rec, corr in ((40, 501), (41, 502)):
        agent.backup_archive.signals.append(SimpleNamespace(correlation_id=corr, recording_id=rec,
                                                            signal=SimpleNamespace(name="REPLICATE_END")))
        for _ in range(3):
            agent.do_work()
    assert agent.state in (ClusterBackupState.LIVE_LOG_RECORD, ClusterBackupState.LIVE_LOG_REPLAY)
    assert [s.recording_id for s in agent.snapshots_retrieved] == [40, 41]
    agent.do_work()
    start = [c for c in agent.backup_archive.calls if c[0] == "start_recording"]
    assert start and "endpoint=b:9" in start[0][1] and "session-id=" in start[0][1] and start[0][2] == 100
    agent.do_work()
    replay = [c for c in agent.cluster_archive.calls if c[0] == "bounded_replay"]
    assert replay == [("bounded_replay", 7, 33, start[0][1], -1)]  # from the beginning, bounded by commit-pos
    assert agent.live_log_replay_session_id == (5 << 32) | 77
    from aeronpy.archive.counters import recording_position_key

    reader = rig.aeron.counters_reader
    reader.counters[4] = (100, recording_position_key(3, 77, "b:9", -1), 2048)
    agent.do_work()
    assert agent.state == ClusterBackupState.UPDATE_RECORDING_LOG
    assert (agent.live_log_recording_id, agent.live_log_recording_counter_id) == (3, 4)
    agent.do_work()
    assert agent.state == ClusterBackupState.BACKING_UP
    entries = agent.recording_log.entries
    assert [(e.entry_type, e.recording_id, e.leadership_term_id) for e in entries][0] == (EntryType.TERM, 3, 2)
    reader.counters[4] = (100, reader.counters[4][1], 4096)
    agent.do_work()
    assert rig.counters["live_log_position"].value == 4096
    del reader.counters[4]  # the recording stopped (the member went away)
    agent.do_work()
    assert agent.state == ClusterBackupState.RESET_BACKUP
    agent.do_work()  # reset: replay and recording stopped
    assert ("stop_recording", 900) in agent.backup_archive.calls


def test_update_recording_log_as_aeron(rig: SimpleNamespace) -> None:
    from aeronpy.cluster.recording_log import Snapshot

    agent = rig.agent
    agent.live_log_recording_id = 3
    agent.leader_log_entry = (7, 2, 4096)
    agent.leader_last_term_entry = (7, 2, 4096)
    agent.snapshots_retrieved = [Snapshot(40, 2, 4096, 5000, 9, 0), Snapshot(41, 2, 4096, 5000, 9, -1)]
    agent.state = ClusterBackupState.UPDATE_RECORDING_LOG
    agent.do_work()
    entries = sorted(agent.recording_log.entries, key=lambda e: e.entry_index)  # file order
    assert [(e.entry_type, e.recording_id, e.leadership_term_id, e.service_id) for e in entries] == [
        (EntryType.TERM, 3, 2, -1), (EntryType.SNAPSHOT, 41, 2, -1), (EntryType.SNAPSHOT, 40, 2, 0)]
    assert agent.state == ClusterBackupState.BACKING_UP
    assert rig.counters["snapshots_retrieved"].value == 1
    assert rig.counters["next_query_deadline"].value == rig.clock[0] + 3600 * 1000
    rig.clock[0] = rig.counters["next_query_deadline"].value + 1
    agent.live_log_recording_counter_id = -1
    agent.do_work()
    assert agent.state == ClusterBackupState.BACKUP_QUERY  # re-query after the backup interval


def test_snapshots_already_held_are_not_fetched_again(rig: SimpleNamespace) -> None:
    agent = rig.agent
    agent.recording_log.append_term(3, 2, 4096, 1)
    agent.recording_log.append_snapshot(41, 2, 4096, 5000, 9, 0)
    agent.recording_log.append_snapshot(42, 2, 4096, 5000, 9, -1)
    cid = _query(rig)
    agent.consensus_subscription.fragments.append(_response(cid, snapshots=SNAPSHOTS))
    agent.do_work()
    assert agent.snapshots_to_retrieve == [] and agent.state == ClusterBackupState.LIVE_LOG_REPLAY
    assert agent.leader_last_term_entry is None  # the same term as the local one
    assert ("extend_recording", 3) == agent.backup_archive.calls[-1][:2]  # extends the local log recording
    agent.do_work()
    replay = agent.cluster_archive.calls[-1]
    assert replay[0] == "bounded_replay" and replay[4] == 6000  # from where the local recording stopped


def test_unacceptable_or_unknown_answers_reset(rig: SimpleNamespace) -> None:
    from aeronpy.cluster.backup.context import SourceType

    agent = rig.agent
    agent.ctx.source_type = SourceType.LEADER
    cid = _query(rig)
    agent.consensus_subscription.fragments.append(_response(cid, member_id=1, leader=0))
    agent.do_work()
    assert agent.state == ClusterBackupState.RESET_BACKUP
    assert "h:2" in agent._excluded  # that member is not asked again first
    agent.do_work()  # starts the cool-down
    rig.clock[0] += 30_001
    agent.do_work()
    assert agent.state == ClusterBackupState.BACKUP_QUERY
    agent.ctx.source_type = SourceType.ANY
    cid = _query(rig)
    agent.consensus_subscription.fragments.append(_response(cid, member_id=-1))
    agent.do_work()
    assert agent.state == ClusterBackupState.RESET_BACKUP and rig.errors


def test_rejection_event_fails_the_duty_cycle_and_resets(rig: SimpleNamespace) -> None:
    agent = rig.agent
    cid = _query(rig)
    agent.consensus_subscription.fragments.append(sbe.encode(
        T.SessionEvent, cluster_session_id=1, correlation_id=cid, leadership_term_id=0, leader_member_id=0,
        code=EventCode.AUTHENTICATION_REJECTED, version=0, detail="no"))
    with pytest.raises(ClusterError, match="AUTHENTICATION_REJECTED"):
        agent.do_work()
    assert agent.state == ClusterBackupState.RESET_BACKUP


def test_garbage_on_the_consensus_channel_is_reported_not_fatal(rig: SimpleNamespace) -> None:
    agent = rig.agent
    agent.consensus_subscription.fragments.append(b"\x01\x02")
    agent.do_work()
    assert rig.errors and agent.state == ClusterBackupState.BACKUP_QUERY
