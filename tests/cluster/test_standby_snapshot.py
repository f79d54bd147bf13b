"""Standby snapshots (cluster.md §4.17): StandbySnapshot (81) from a standby becomes
STANDBY_SNAPSHOT entries of recording.log once committed (and delayed), or is refused with a
SessionEvent; ``cluster-tool recording-log`` lists the entries with their archive endpoint."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest

from aeronpy.cluster import counters as cc
from aeronpy.cluster.codecs import CLUSTER_SCHEMA, EventCode, T
from aeronpy.cluster.consensus.standby_snapshots import (
    NOT_ACCEPTED,
    StandbySnapshotEntry,
    StandbySnapshotNotifications,
)
from aeronpy.cluster.recording_log import EntryType, RecordingLog
from aeronpy.protocol import sbe
from tests.cluster.consensus.harness import FAST, members_string
from tests.conftest import wait_for
from tests.fakes import free_udp_port

MS = 1_000_000


def _entry(log_position: int, service_id: int, endpoint: str = "standby-host:8010") -> StandbySnapshotEntry:
    return StandbySnapshotEntry(100 + service_id, 0, 0, log_position, 1234, service_id, endpoint)


def test_notifications_wait_for_the_commit_position_and_the_delay(tmp_path: Path) -> None:
    with RecordingLog(str(tmp_path), create=True) as rl:
        n = StandbySnapshotNotifications(rl, delay_ns=50 * MS)
        n.add([_entry(4096, 0), _entry(4096, -1)])
        assert n.process(commit_position=1024, now_ns=0) == 0 and not rl.entries
        assert n.process(commit_position=4096, now_ns=10 * MS) == 1 and not rl.entries  # now delayed
        assert n.process(commit_position=4096, now_ns=59 * MS) == 0 and not rl.entries
        assert n.process(commit_position=4096, now_ns=60 * MS) == 1 and n.appended == 1
        assert [(e.entry_type, e.service_id, e.archive_endpoint) for e in rl.entries] == [
            (EntryType.STANDBY_SNAPSHOT, 0, "standby-host:8010"), (EntryType.STANDBY_SNAPSHOT, -1, "standby-host:8010")]
        assert rl.latest_standby_snapshots(1)["standby-host:8010"][0].log_position == 4096
    with RecordingLog(str(tmp_path), create=False) as again:  # survives a reload, endpoint and all
        assert [e.archive_endpoint for e in again.entries] == ["standby-host:8010"] * 2


def test_without_delay_a_committed_notification_is_appended_at_once(tmp_path: Path) -> None:
    with RecordingLog(str(tmp_path), create=True) as rl:
        n = StandbySnapshotNotifications(rl, delay_ns=0)
        n.add([])
        n.add([_entry(0, -1)])
        assert n.process(0, 0) == 1 and len(rl.entries) == 1


@pytest.mark.parametrize("row, match", [
    ({"archive_endpoint": ""}, "archive_endpoint"),
    ({"archive_endpoint": "h\u00e9:1"}, "ASCII"),
    ({"service_id": -5}, "service_id=-5"),
])
def test_a_bad_entry_is_a_value_error_naming_the_field(row: dict[str, Any], match: str) -> None:
    base = dict(recording_id=1, leadership_term_id=0, term_base_log_position=0, log_position=0, timestamp=0,
                service_id=0, archive_endpoint="h:1")
    with pytest.raises(ValueError, match=match):
        StandbySnapshotEntry.from_group({**base, **row})


# -- a member and a fake standby ------------------------------------------------------------


class _Standby:
    """A fake standby: an Aeron client sending StandbySnapshot to the member's consensus
    endpoint and listening for a SessionEvent on its own response channel."""

    def __init__(self, aeron_dir: str, consensus_endpoint: str) -> None:
        from aeronpy.client.aeron import Aeron
        from aeronpy.client.context import Context

        self.aeron = Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir))
        self.response_channel = f"aeron:udp?endpoint=localhost:{free_udp_port()}"
        self.responses = self.aeron.add_subscription(self.response_channel, 1717)
        self.pub = self.aeron.add_publication(f"aeron:udp?endpoint={consensus_endpoint}", 108)
        wait_for(lambda: self.pub.is_connected, 10, "the consensus stream")

    def send(self, entries: list[StandbySnapshotEntry]) -> None:
        message = sbe.encode(
            T.StandbySnapshot, correlation_id=77, version=1, response_stream_id=1717,
            snapshots=[dict(recording_id=e.recording_id, leadership_term_id=e.leadership_term_id,
                            term_base_log_position=e.term_base_log_position, log_position=e.log_position,
                            timestamp=e.timestamp, service_id=e.service_id, archive_endpoint=e.archive_endpoint)
                       for e in entries],
            response_channel=self.response_channel, encoded_credentials=b"")
        wait_for(lambda: self.pub.offer(message) > 0, 10, "StandbySnapshot offered")

    def session_event(self) -> Any:
        got: list[Any] = []

        def on(buffer: Any, offset: int, length: int, header: Any) -> None:
            got.append(sbe.decode(CLUSTER_SCHEMA, buffer.get_bytes(offset, length)))

        wait_for(lambda: self.responses.poll(on, 10) > 0 or bool(got), 20, "a SessionEvent")
        return got[0]

    def close(self) -> None:
        self.aeron.close()


def _node(tmp_path: Path, accept: bool, members: str | None = None) -> Any:
    from aeronpy.cluster.examples.echo import EchoService
    from aeronpy.cluster.node import ClusterNode

    props = dict(FAST)
    props["aeron.cluster.accept.standby.snapshots"] = "true" if accept else "false"
    node = ClusterNode(0, members or members_string(1), str(tmp_path / "node"), [EchoService()], props).start()
    agent = node.agent
    wait_for(lambda: agent.election is None and agent.role == cc.Role.LEADER, 30, "the leader")
    return node


def test_a_member_records_a_standby_snapshot_and_cluster_tool_lists_it(tmp_path: Path) -> None:
    from aeronpy.cluster.tool import SUCCESS, ToolSettings
    from aeronpy.cluster.tool import run as tool_run

    node = _node(tmp_path, accept=True)
    try:
        agent = node.agent
        standby = _Standby(node.aeron_dir, agent.this_member.consensus_endpoint)
        try:
            committed = agent.commit_position()
            standby.send([_entry(committed, 0), _entry(committed, -1)])
            wait_for(lambda: int(agent.counters["standby_snapshots"].get()) == 1, 20, "the standby snapshot")
            standby.send([_entry(committed + (1 << 40), -1)])  # a position never committed: stays queued
            time.sleep(0.2)
            assert int(agent.counters["standby_snapshots"].get()) == 1
        finally:
            standby.close()
        standby_entries = [e for e in agent.recording_log.entries if e.entry_type == EntryType.STANDBY_SNAPSHOT]
        assert [(e.service_id, e.log_position) for e in standby_entries] == [(0, committed), (-1, committed)]
        out = io.StringIO()
        assert tool_run(node.cluster_dir, "recording-log", [], out, ToolSettings()) == SUCCESS
        text = out.getvalue()
        assert text.count("type=STANDBY_SNAPSHOT") == 2 and text.count("archiveEndpoint=standby-host:8010") == 2
    finally:
        node.close()


def test_a_member_not_accepting_standby_snapshots_answers_with_an_error_event(tmp_path: Path) -> None:
    node = _node(tmp_path, accept=False)
    try:
        agent = node.agent
        standby = _Standby(node.aeron_dir, agent.this_member.consensus_endpoint)
        try:
            standby.send([_entry(0, -1)])
            event = standby.session_event()
        finally:
            standby.close()
        assert event.spec.name == "SessionEvent" and event.get_int("code") == EventCode.ERROR
        assert event.get_str("detail") == NOT_ACCEPTED and event.get_int("correlation_id") == 77
        assert not [e for e in agent.recording_log.entries if e.entry_type == EntryType.STANDBY_SNAPSHOT]
    finally:
        node.close()


def _snapshot(agent: Any, count: int) -> None:
    agent.counters["toggle"].set(cc.ToggleState.SNAPSHOT)
    wait_for(lambda: int(agent.counters["snapshots"].get()) == count, 20, f"snapshot {count}")


def test_a_restarting_member_replicates_a_newer_standby_snapshot_and_recovers_from_it(tmp_path: Path) -> None:
    """The member's newest snapshot is turned into a standby's (its entries invalidated, the same
    recordings announced as STANDBY_SNAPSHOT at the member's own archive endpoint); on restart
    the member replicates them into new recordings, records them as its snapshot and recovers
    from it — the service state at that position comes back."""
    from tests.cluster.consensus.harness import connect_client

    members = members_string(1)
    node = _node(tmp_path, accept=True, members=members)
    try:
        agent = node.agent
        client = connect_client(members, node.aeron_dir)
        try:
            for i in range(5):
                wait_for(lambda m=b"m%d" % i: client.offer(m) > 0, 10, "offer")
                if i == 2:
                    wait_for(lambda: node.containers[0].service.message_count == 3, 20, "3 applied")
                    _snapshot(agent, 1)
            wait_for(lambda: node.containers[0].service.message_count == 5, 20, "5 applied")
            _snapshot(agent, 2)
        finally:
            client.close()
        endpoint = agent.this_member.archive_endpoint
    finally:
        node.close()
    cluster_dir = str(tmp_path / "node" / "cluster")
    with RecordingLog(cluster_dir, create=False) as rl:
        latest = [(i, e) for i, e in enumerate(rl.entries) if e.entry_type == EntryType.SNAPSHOT][-2:]
        position = latest[-1][1].log_position
        originals = {e.recording_id for _, e in latest}
        for index, e in latest:
            rl.invalidate_entry(index)
        for _, e in latest:
            rl.append_standby_snapshot(e.recording_id, e.leadership_term_id, e.term_base_log_position,
                                       e.log_position, e.timestamp, e.service_id, endpoint)
        rl.force()
    node = _node(tmp_path, accept=True, members=members)
    try:
        plan = node.agent.recovery_plan
        assert plan.snapshots[0].log_position == position
        assert {s.recording_id for s in plan.snapshots}.isdisjoint(originals)  # the replicated copies
        own = [e for e in node.agent.recording_log.entries if e.entry_type == EntryType.SNAPSHOT and e.is_valid]
        assert [e.log_position for e in own[-2:]] == [position, position]
        wait_for(lambda: node.containers[0].service.message_count == 5, 20, "the state at the standby snapshot")
    finally:
        node.close()


def test_only_standby_sets_newer_than_the_own_snapshot_are_replicated_newest_first(tmp_path: Path) -> None:
    from aeronpy.cluster.consensus.standby_snapshots import snapshots_to_replicate

    with RecordingLog(str(tmp_path), create=True) as rl:
        rl.append_term(1, 0, 0, 0)
        for service_id in (0, -1):
            rl.append_snapshot(10 + service_id, 0, 0, 2048, 0, service_id)
        for endpoint, position in (("b:1", 4096), ("a:1", 4096), ("old:1", 1024), ("c:1", 8192)):
            for service_id in (0, -1):
                rl.append_standby_snapshot(20 + service_id, 0, 0, position, 0, service_id, endpoint)
        rl.append_standby_snapshot(30, 0, 0, 9999, 0, -1, "incomplete:1")  # no service 0 entry: not a set
        found = snapshots_to_replicate(rl, 1)
    assert [(endpoint, position) for endpoint, position, _ in found] == [("c:1", 8192), ("a:1", 4096), ("b:1", 4096)]
    assert all(len(entries) == 2 for _, _, entries in found)


def test_the_replicate_standby_snapshot_toggle_fetches_a_newer_standby_snapshot_at_run_time(tmp_path: Path) -> None:
    """A running member announced (by a fake standby) a snapshot newer than its own, held in an
    archive at the member's archive endpoint; node control toggle REPLICATE_STANDBY_SNAPSHOT
    replicates it and records it as the member's snapshot, then the toggle is NEUTRAL again."""
    from tests.cluster.consensus.harness import connect_client

    members = members_string(1)
    node = _node(tmp_path, accept=True, members=members)
    try:
        agent = node.agent
        client = connect_client(members, node.aeron_dir)
        try:
            wait_for(lambda: client.offer(b"one") > 0, 10, "offer")
            wait_for(lambda: node.containers[0].service.message_count == 1, 20, "applied")
            _snapshot(agent, 1)
            wait_for(lambda: client.offer(b"two") > 0, 10, "offer")
            wait_for(lambda: node.containers[0].service.message_count == 2, 20, "applied")
        finally:
            client.close()
        own = [e for e in agent.recording_log.entries if e.entry_type == EntryType.SNAPSHOT]
        newer = agent.commit_position()
        assert newer > own[-1].log_position
        standby = _Standby(node.aeron_dir, agent.this_member.consensus_endpoint)
        try:
            endpoint = agent.this_member.archive_endpoint
            standby.send([StandbySnapshotEntry(e.recording_id, e.leadership_term_id, e.term_base_log_position,
                                               newer, e.timestamp, e.service_id, endpoint) for e in own])
            wait_for(lambda: int(agent.counters["standby_snapshots"].get()) == 1, 20, "the standby snapshot")
        finally:
            standby.close()
        agent.counters["node_control"].set(cc.NodeControlToggle.REPLICATE_STANDBY_SNAPSHOT)
        wait_for(lambda: int(agent.counters["node_control"].get()) == cc.NodeControlToggle.NEUTRAL, 30,
                 "the replication to finish")
        latest = [e for e in agent.recording_log.entries if e.entry_type == EntryType.SNAPSHOT and e.is_valid][-2:]
        assert [e.log_position for e in latest] == [newer, newer]
        assert {e.recording_id for e in latest}.isdisjoint({e.recording_id for e in own})
        assert int(agent.counters["snapshots"].get()) == 2
    finally:
        node.close()
