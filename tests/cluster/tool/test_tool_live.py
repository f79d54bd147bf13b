"""cluster-tool against a real one-member cluster (driver + archive + consensus module + echo
service in this process): describe, is-leader, list-members, snapshot (the recording log gains a
snapshot set), suspend/resume, describe-latest-cm-snapshot, recovery-plan, errors, and the
file commands refused while the node runs and accepted once it stopped."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
import pytest

from aeronpy.cluster import counters as cc
from aeronpy.cluster.errors import ClusterError
from aeronpy.cluster.examples.echo import EchoService
from aeronpy.cluster.recording_log import EntryType, RecordingLog
from aeronpy.cluster.tool import FAILURE, SUCCESS, ToolSettings, run
from tests.cluster.consensus.harness import Member, members_string, new_base_dir
from tests.conftest import wait_for


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Member]:
    m = Member(0, members_string(1), new_base_dir(tmp_path), EchoService())
    try:
        m.start()
        wait_for(lambda: m.cm.agent.election is None and m.cm.agent.role == cc.Role.LEADER, 30, "the leader")
        yield m
    finally:
        m.stop()
        m.cleanup()


def _tool(m: Member, command: str, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    status = run(m.cluster_dir, command, list(args), out, ToolSettings(timeout_ms=5000))
    return status, out.getvalue()


def _state(m: Member) -> int:
    return int(m.cm.agent.state)


def test_commands_against_a_running_member(node: Member) -> None:
    status, text = _tool(node, "describe")
    assert status == SUCCESS and "Type: CONSENSUS_MODULE" in text and "Type: CONTAINER" in text
    assert _tool(node, "is-leader")[0] == SUCCESS
    status, text = _tool(node, "list-members")
    assert status == SUCCESS and "leaderMemberId=0, memberId=0" in text and "ClusterMember{id=0" in text

    status, text = _tool(node, "snapshot")
    assert (status, text) == (SUCCESS, "Member [0]: SNAPSHOT applied successfully\n")
    with RecordingLog(node.cluster_dir, create=False, read_only=True) as log:
        snaps = [e for e in log.entries if e.entry_type == EntryType.SNAPSHOT and e.is_valid]
    assert sorted(e.service_id for e in snaps) == [-1, 0]

    status, text = _tool(node, "suspend")
    assert status == SUCCESS, text
    wait_for(lambda: _state(node) == cc.ConsensusModuleState.SUSPENDED, 10, "SUSPENDED")
    status, text = _tool(node, "resume")
    assert status == SUCCESS, text
    wait_for(lambda: _state(node) == cc.ConsensusModuleState.ACTIVE, 10, "ACTIVE")

    status, text = _tool(node, "describe-latest-cm-snapshot")
    assert status == SUCCESS, text
    assert "SnapshotMarker:" in text and "ConsensusModule: nextSessionId=" in text
    assert "Consensus Module Snapshot End: memberId=0" in text

    status, text = _tool(node, "recovery-plan", "1")
    assert status == SUCCESS and "RecoveryPlan{" in text and "service_id=0" in text

    status, text = _tool(node, "errors")
    assert status == SUCCESS and "CONSENSUS_MODULE component error log:" in text
    assert "Aeron driver error log" in text

    for command in ("invalidate-latest-snapshot", "seed-recording-log-from-snapshot"):
        with pytest.raises(ClusterError, match="while the consensus module is running"):
            _tool(node, command)

    cluster_dir = node.cluster_dir
    node.stop()
    out = io.StringIO()
    assert run(cluster_dir, "invalidate-latest-snapshot", [], out) == SUCCESS
    assert out.getvalue() == " invalidate latest snapshot: true\n"


def test_toggle_refused_when_not_active(node: Member) -> None:
    assert _tool(node, "suspend")[0] == SUCCESS
    wait_for(lambda: _state(node) == cc.ConsensusModuleState.SUSPENDED, 10, "SUSPENDED")
    status, text = _tool(node, "snapshot")
    assert status == FAILURE and "state of the consensus module is SUSPENDED, but needs to be ACTIVE" in text
    assert _tool(node, "resume")[0] == SUCCESS


@pytest.mark.parametrize("damage", ["recording-log", "mark-file"])
def test_corrupt_file_is_a_clear_error_at_start_and_in_the_tool(tmp_path: Path, damage: str) -> None:
    import os
    import struct

    from aeronpy.cluster.errors import ClusterFileError
    from aeronpy.cluster.mark_file import FILE_NAME as MARK_FILE_NAME
    from aeronpy.cluster.recording_log import FILE_NAME as LOG_FILE_NAME

    m = Member(0, members_string(1), new_base_dir(tmp_path), EchoService())
    os.makedirs(m.cluster_dir)
    if damage == "recording-log":
        path = os.path.join(m.cluster_dir, LOG_FILE_NAME)
        with open(path, "wb") as f:
            f.write(struct.pack("<qqqqqii", 0, 0, 0, -1, 0, -1, 0).ljust(64, b"\0"))
            f.write(struct.pack("<qqqqqii", 0, 1, 0, -1, 0, -1, 5).ljust(64, b"\0"))
        expected = "offset 64: unknown entry type 5"
        command = "recording-log"
    else:
        path = os.path.join(m.cluster_dir, MARK_FILE_NAME)
        with open(path, "wb") as f:
            f.write(b"\x01" * 100)
        expected = "truncated"
        command = "describe"
    try:
        try:
            m.start()
        except ClusterFileError as e:  # raised at start, or reported by the consensus module's agent
            errors: list[BaseException] = [e]
        else:
            errors = wait_for(lambda: [e for e in m.cm.errors if isinstance(e, ClusterFileError)], 20,
                              "the consensus module to report the corrupt file")  # type: ignore[assignment]
        assert expected in str(errors[0]) and path in str(errors[0])
    finally:
        m.stop()
        m.cleanup()
    with pytest.raises(ClusterFileError, match=expected):
        run(m.cluster_dir, command, [], io.StringIO())
