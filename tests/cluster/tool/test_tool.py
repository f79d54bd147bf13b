"""cluster-tool: file commands on files the test writes, counter and control-channel commands
against counters allocated in a test driver and a stand-in consensus module that answers
ClusterMembersQuery and clears the toggle, and the CLI's exit codes and one-line errors."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aeronpy.cluster import counters as cc
from aeronpy.cluster.codecs import CLUSTER_SCHEMA, ClusterComponentType, T
from aeronpy.cluster.errors import ClusterError, ClusterFileError
from aeronpy.cluster.mark_file import FILE_NAME, ClusterMarkFile, service_mark_file_name
from aeronpy.cluster.recording_log import FILE_NAME as LOG_FILE, RecordingLog
from aeronpy.cluster.tool import FAILURE, NOT_LEADER, SUCCESS, ToolSettings, run
from aeronpy.protocol import sbe
from tests.archive.conftest import archive, archive_factory  # noqa: F401 - fixtures
from tests.archive.helpers import await_recorded

CONTROL = "aeron:ipc?term-length=128k"


def _mark(directory: Path, aeron_dir: str = "/dev/shm/none", cluster_id: int = 0, member_id: int = 1,
          ctype: ClusterComponentType = ClusterComponentType.CONSENSUS_MODULE, service_id: int = -1,
          filename: str = FILE_NAME, ready: bool = True, services_dir: str = "",
          archive_stream_id: int = 10) -> ClusterMarkFile:
    m = ClusterMarkFile.create(str(directory), filename, ctype, cluster_id, member_id, service_id,
                               aeron_directory=aeron_dir, control_channel=CONTROL, services_cluster_dir=services_dir,
                               archive_stream_id=archive_stream_id)
    if ready:
        m.signal_ready()
    return m


def _run(cluster_dir: Path, command: str, *args: str, timeout_ms: int = 0) -> tuple[int, str]:
    out = io.StringIO()
    status = run(str(cluster_dir), command, list(args), out, ToolSettings(timeout_ms=timeout_ms))
    return status, out.getvalue()


def _log_with_snapshots(cluster_dir: Path) -> None:
    with RecordingLog(str(cluster_dir)) as log:
        log.append_term(0, 0, 0, 10)
        log.append_snapshot(5, 0, 0, 1024, 11, 0)
        log.append_snapshot(6, 0, 0, 1024, 11, -1)
        log.append_term(0, 1, 2048, 12)
        log.append_snapshot(7, 1, 2048, 4096, 13, -1)  # written CM first: the file is out of order
        log.append_snapshot(8, 1, 2048, 4096, 13, 0)


# -- file commands ----------------------------------------------------------------------------


def test_describe_and_pid(tmp_path: Path) -> None:
    m = _mark(tmp_path, services_dir=str(tmp_path))
    s = _mark(tmp_path, ctype=ClusterComponentType.CONTAINER, service_id=0, filename=service_mark_file_name(0))
    status, text = _run(tmp_path, "describe")
    assert status == SUCCESS
    assert "Type: CONSENSUS_MODULE" in text and "Type: CONTAINER" in text
    assert "sbeTemplateId=200|sbeSchemaId=110|sbeSchemaVersion=2|sbeBlockLength=128" in text
    assert f"pid={os.getpid()}" in text and f"controlChannel='{CONTROL}'" in text and "serviceId=0" in text
    assert _run(tmp_path, "pid") == (SUCCESS, f"{os.getpid()}\n")
    m.close(), s.close()  # type: ignore[func-returns-value]


def test_missing_dir_and_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ClusterFileError, match="cluster directory not found"):
        _run(tmp_path / "nope", "describe")
    assert _run(tmp_path, "describe") == (FAILURE, "cluster-mark.dat does not exist.\n")
    with pytest.raises(ClusterFileError, match="cluster-mark.dat does not exist"):
        _run(tmp_path, "pid")
    with pytest.raises(ClusterFileError, match="recording log .* does not exist"):
        _run(tmp_path, "recording-log")
    (tmp_path / FILE_NAME).write_bytes(b"garbage" * 10)
    with pytest.raises(ClusterFileError, match="cluster-mark.dat of 70 bytes is truncated"):
        _run(tmp_path, "describe")
    (tmp_path / LOG_FILE).write_bytes(struct.pack("<qqqqqii", 1, 0, 0, 0, 0, -1, 77).ljust(64, b"\0"))
    with pytest.raises(ClusterFileError, match="corrupt recording log .*offset 0: unknown entry type 77"):
        _run(tmp_path, "recording-log")
    with pytest.raises(ClusterError, match="unknown command"):
        _run(tmp_path, "frobnicate")


def test_recording_log_sort_and_invalidate(tmp_path: Path) -> None:
    _log_with_snapshots(tmp_path)
    status, text = _run(tmp_path, "recording-log")
    assert status == SUCCESS and text.startswith("RecordingLog{entries=[Entry{recordingId=0, leadershipTermId=0")
    assert text.count("type=SNAPSHOT") == 4
    status, text = _run(tmp_path, "sort-recording-log")
    assert status == SUCCESS
    with RecordingLog(str(tmp_path)) as log:
        assert [e.entry_index for e in log.entries] == list(range(6))
        assert [e.recording_id for e in log.entries] == [0, 5, 6, 0, 8, 7]
    assert _run(tmp_path, "sort-recording-log") == (FAILURE, "recording log is already sorted\n")
    assert _run(tmp_path, "invalidate-latest-snapshot") == (SUCCESS, " invalidate latest snapshot: true\n")
    with RecordingLog(str(tmp_path)) as log:
        latest = log.latest_snapshot(-1)
        assert latest is not None and latest.recording_id == 6
    assert _run(tmp_path, "invalidate-latest-snapshot")[0] == SUCCESS
    assert _run(tmp_path, "invalidate-latest-snapshot") == (FAILURE, " invalidate latest snapshot: false\n")


def test_file_changes_refused_while_the_node_runs(tmp_path: Path) -> None:
    _log_with_snapshots(tmp_path)
    m = _mark(tmp_path)
    for command in ("invalidate-latest-snapshot", "sort-recording-log", "seed-recording-log-from-snapshot"):
        with pytest.raises(ClusterError, match="while the consensus module is running"):
            _run(tmp_path, command)
    m.signal_terminated()
    assert _run(tmp_path, "invalidate-latest-snapshot")[0] == SUCCESS
    m.close()


def test_seed_recording_log_from_snapshot(tmp_path: Path) -> None:
    _log_with_snapshots(tmp_path)
    before = (tmp_path / LOG_FILE).read_bytes()
    status, text = _run(tmp_path, "seed-recording-log-from-snapshot")
    assert status == SUCCESS and "2 snapshot entries" in text
    assert (tmp_path / (LOG_FILE + ".bak")).read_bytes() == before
    with RecordingLog(str(tmp_path)) as log:
        got = [(e.recording_id, e.leadership_term_id, e.term_base_log_position, e.log_position, e.service_id,
                e.entry_type.name) for e in log.entries]
    assert got == [(8, 1, 0, 0, 0, "SNAPSHOT"), (7, 1, 0, 0, -1, "SNAPSHOT")]
    os.remove(tmp_path / LOG_FILE)
    with RecordingLog(str(tmp_path)) as log:
        log.append_term(0, 0, 0, 10)
    status, text = _run(tmp_path, "seed-recording-log-from-snapshot")
    assert status == SUCCESS and "removed" in text and not (tmp_path / LOG_FILE).exists()


def test_errors_of_mark_files(tmp_path: Path) -> None:
    m = _mark(tmp_path, services_dir=str(tmp_path))
    m.error_log.record_text(0, "consensus trouble\n")
    s = _mark(tmp_path, ctype=ClusterComponentType.CONTAINER, service_id=0, filename=service_mark_file_name(0))
    s.error_log.record_text(0, "service trouble\n")
    status, text = _run(tmp_path, "errors")
    assert status == SUCCESS
    assert "CONSENSUS_MODULE component error log:" in text and "consensus trouble" in text
    assert "CONTAINER component error log:" in text and "service trouble" in text
    assert "Aeron driver error log (directory: /dev/shm/none):" in text and "does not exist" in text
    m.close(), s.close()  # type: ignore[func-returns-value]


def test_backup_query_on_a_consensus_module(tmp_path: Path) -> None:
    m = _mark(tmp_path)
    assert _run(tmp_path, "backup-query") == (FAILURE, "not a cluster backup node\n")
    m.close()


# -- counters and control channel -------------------------------------------------------------


class StandInConsensusModule:
    """Answers ClusterMembersQuery on the control channel and, like a leader's CM, resets the
    control toggle to NEUTRAL once it sees a SNAPSHOT/RESUME request."""

    def __init__(self, aeron: Any, member_id: int, leader_id: int, toggle: Any) -> None:
        self.sub = aeron.add_subscription(CONTROL, 105)
        self.pub = aeron.add_publication(CONTROL, 104)
        self.member_id, self.leader_id, self.toggle = member_id, leader_id, toggle
        self.queries = 0
        self.auto_reset = True
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _on(self, buffer: Any, offset: int, length: int, header: Any) -> None:
        d = sbe.decode(CLUSTER_SCHEMA, buffer.get_bytes(offset, length))
        if d is None or d.spec.name != "ClusterMembersQuery":
            return
        self.queries += 1
        members = [dict(leadership_term_id=3, log_position=4096, time_of_last_append_ns=77, member_id=i,
                        ingress_endpoint=f"h{i}:9010", consensus_endpoint=f"h{i}:9020", log_endpoint=f"h{i}:9030",
                        catchup_endpoint=f"h{i}:0", archive_endpoint=f"h{i}:8010") for i in range(3)]
        reply = sbe.encode(T.ClusterMembersExtendedResponse, correlation_id=d.get_int("correlation_id"),
                           current_time_ns=123, leader_member_id=self.leader_id, member_id=self.member_id,
                           active_members=members, passive_members=[])
        deadline = time.monotonic() + 5
        while self.pub.offer(reply) < 0 and time.monotonic() < deadline:
            time.sleep(0.001)

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.sub.poll(self._on, 10)
            if self.auto_reset and self.toggle.get() in (cc.ToggleState.SNAPSHOT, cc.ToggleState.RESUME):
                time.sleep(0.02)
                self.toggle.set(cc.ToggleState.NEUTRAL)
            time.sleep(0.001)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


@pytest.fixture
def node(tmp_path: Path, driver: Any, aeron_dir: str, client_factory: Callable[..., Any]) -> Iterator[dict[str, Any]]:
    aeron = client_factory()
    key = cc.cluster_key(0)
    counters = {
        "state": aeron.add_counter(cc.CONSENSUS_MODULE_STATE_TYPE_ID, cc.cluster_label("Consensus Module state", 0),
                                   key),
        "role": aeron.add_counter(cc.NODE_ROLE_TYPE_ID, cc.cluster_label("Cluster node role", 0), key),
        "toggle": aeron.add_counter(cc.CONTROL_TOGGLE_TYPE_ID, cc.cluster_label("Cluster control toggle", 0), key),
        "election": aeron.add_counter(cc.ELECTION_STATE_TYPE_ID, cc.cluster_label("Election state", 0), key),
        "node_toggle": aeron.add_counter(cc.NODE_CONTROL_TOGGLE_TYPE_ID, cc.cluster_label("Node control toggle", 0),
                                         key),
        "other_role": aeron.add_counter(cc.NODE_ROLE_TYPE_ID, cc.cluster_label("Cluster node role", 9),
                                        cc.cluster_key(9)),
    }
    counters["state"].set(cc.ConsensusModuleState.ACTIVE)
    counters["role"].set(cc.Role.LEADER)
    counters["election"].set(17)
    counters["toggle"].set(cc.ToggleState.NEUTRAL)
    counters["node_toggle"].set(cc.NodeControlToggle.NEUTRAL)
    counters["other_role"].set(cc.Role.FOLLOWER)
    mark = _mark(tmp_path / "cluster", aeron_dir=aeron_dir, member_id=1)
    cm = StandInConsensusModule(client_factory(), 1, 1, counters["toggle"])
    try:
        yield {"dir": tmp_path / "cluster", "cm": cm, "mark": mark, **counters}
    finally:
        cm.close()
        mark.close()


def test_is_leader_reads_role_and_election_counters(node: dict[str, Any]) -> None:
    assert _run(node["dir"], "is-leader") == (SUCCESS, "")
    node["election"].set(5)  # in an election
    assert _run(node["dir"], "is-leader")[0] == NOT_LEADER
    node["election"].set(17)
    node["role"].set(cc.Role.FOLLOWER)
    assert _run(node["dir"], "is-leader")[0] == NOT_LEADER


def test_list_members(node: dict[str, Any]) -> None:
    status, text = _run(node["dir"], "list-members")
    assert status == SUCCESS
    assert text.startswith("currentTimeNs=123, leaderMemberId=1, memberId=1, activeMembers=[ClusterMember{id=0,")
    assert "ingressEndpoint=h2:9010" in text and "logPosition=4096" in text


def test_snapshot_toggle_waits_for_neutral(node: dict[str, Any]) -> None:
    status, text = _run(node["dir"], "snapshot")
    assert (status, text) == (SUCCESS, "Member [1]: SNAPSHOT applied successfully\n")
    assert node["toggle"].get() == cc.ToggleState.NEUTRAL


def test_suspend_then_resume(node: dict[str, Any]) -> None:
    assert _run(node["dir"], "suspend") == (SUCCESS, "Member [1]: SUSPEND applied successfully\n")
    assert node["toggle"].get() == cc.ToggleState.SUSPEND
    status, text = _run(node["dir"], "resume")
    assert status == FAILURE and "state of the consensus module is ACTIVE, but needs to be SUSPENDED" in text
    node["state"].set(cc.ConsensusModuleState.SUSPENDED)
    assert _run(node["dir"], "resume") == (SUCCESS, "Member [1]: RESUME applied successfully\n")
    assert node["toggle"].get() == cc.ToggleState.NEUTRAL


def test_toggle_refusals(node: dict[str, Any]) -> None:
    node["cm"].auto_reset = False
    node["toggle"].set(cc.ToggleState.SNAPSHOT)
    status, text = _run(node["dir"], "shutdown")
    assert status == FAILURE and "Failed to apply SHUTDOWN, current toggle value = SNAPSHOT" in text
    node["toggle"].set(cc.ToggleState.NEUTRAL)
    node["state"].set(cc.ConsensusModuleState.SNAPSHOT)
    status, text = _run(node["dir"], "abort")
    assert status == FAILURE and "state of the consensus module is SNAPSHOT" in text
    node["state"].set(cc.ConsensusModuleState.ACTIVE)
    node["cm"].leader_id = 2
    status, text = _run(node["dir"], "abort")
    assert status == FAILURE and "Current node is not the leader (leaderMemberId = 2), unable to ABORT" in text
    assert node["toggle"].get() == cc.ToggleState.NEUTRAL


def test_toggle_times_out_when_nobody_resets_it(node: dict[str, Any]) -> None:
    node["cm"].auto_reset = False
    node["state"].set(cc.ConsensusModuleState.SUSPENDED)
    node["toggle"].set(cc.ToggleState.SUSPEND)
    status, text = _run(node["dir"], "resume")
    assert (status, text) == (FAILURE, "Member [1]: Timed out after 1000ms waiting for RESUME to complete.\n")
    assert node["toggle"].get() == cc.ToggleState.RESUME


def test_query_without_a_consensus_module_times_out(tmp_path: Path, driver: Any, aeron_dir: str) -> None:
    m = _mark(tmp_path, aeron_dir=aeron_dir)
    started = time.monotonic()
    assert _run(tmp_path, "list-members", timeout_ms=300) == (FAILURE, "timeout waiting for response from node\n")
    assert _run(tmp_path, "snapshot", timeout_ms=300) == (FAILURE, "Timed out querying cluster.\n")
    assert time.monotonic() - started < 20
    m.close()


def test_is_leader_without_a_driver_is_a_clear_error(tmp_path: Path) -> None:
    m = _mark(tmp_path, aeron_dir=str(tmp_path / "no-driver"))
    with pytest.raises(ClusterError, match="unable to locate the media driver"):
        _run(tmp_path, "is-leader")
    m.close()


# -- archive ----------------------------------------------------------------------------------


def test_recovery_plan_and_latest_cm_snapshot(tmp_path: Path, archive: Any, aeron_dir: str,  # noqa: F811
                                              client_factory: Callable[..., Any]) -> None:
    from aeronpy.archive.client import AeronArchive, AeronArchiveContext
    from aeronpy.archive.codecs import SourceLocation

    aeron = client_factory()
    arc = AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron))
    try:
        pub = aeron.add_exclusive_publication("aeron:ipc", 1107)
        arc.start_recording("aeron:ipc", 1107, SourceLocation.LOCAL)
        recording_id = _await_recording_id(arc, pub.session_id)
        records = [
            sbe.encode(T.SnapshotMarker, type_id=1, log_position=4096, leadership_term_id=1, index=0, mark=0,
                       time_unit=0, app_version=1),
            sbe.encode(T.ConsensusModule, next_session_id=42, next_service_session_id=-5, log_service_session_id=-6,
                       pending_message_capacity=0),
            sbe.encode(T.Timer, correlation_id=9, deadline=1234),
            sbe.encode(T.SnapshotMarker, type_id=1, log_position=4096, leadership_term_id=1, index=0, mark=2,
                       time_unit=0, app_version=1),
        ]
        for r in records:
            while pub.offer(r) < 0:
                time.sleep(0.001)
        await_recorded(arc, recording_id, pub.position)
        arc.stop_recording("aeron:ipc", 1107)
        cluster_dir = tmp_path / "cluster"
        with RecordingLog(str(cluster_dir)) as log:
            log.append_term(recording_id, 0, 0, 1)
            log.append_snapshot(recording_id, 1, 0, 4096, 2, -1)
        mark = _mark(cluster_dir, aeron_dir=aeron_dir)
        status, text = _run(cluster_dir, "recovery-plan", "0")
        assert status == SUCCESS and text.startswith("RecoveryPlan{lastLeadershipTermId=0")
        assert f"Snapshot(recording_id={recording_id}" in text
        status, text = _run(cluster_dir, "describe-latest-cm-snapshot")
        assert status == SUCCESS, text
        assert "ConsensusModule: nextSessionId=42" in text and "Timer: correlationId=9 deadline=1234" in text
        assert f"Consensus Module Snapshot End: memberId=1 recordingId={recording_id} length={pub.position}" in text
        with pytest.raises(ClusterError, match="SERVICE_COUNT"):
            _run(cluster_dir, "recovery-plan", "x")
        mark.close()
    finally:
        arc.close()


def _await_recording_id(arc: Any, session_id: int) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for d in arc.list_recordings(0, 100):
            if d.session_id == session_id:
                return int(d.recording_id)
        time.sleep(0.01)
    raise AssertionError("recording did not start")


# -- CLI --------------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aeronpy", "cluster-tool", *args], capture_output=True, text=True,
                          timeout=120)


def test_cli_exit_codes_and_one_line_errors(tmp_path: Path) -> None:
    r = _cli(str(tmp_path / "missing"), "describe")
    assert r.returncode == 2 and r.stderr.strip().startswith("aeronpy cluster-tool: cluster directory not found")
    assert "Traceback" not in r.stderr
    (tmp_path / LOG_FILE).write_bytes(b"\x07" * 64)
    r = _cli(str(tmp_path), "recording-log")
    assert r.returncode == 2 and "corrupt recording log" in r.stderr and "offset 0" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = _cli(str(tmp_path), "bogus")
    assert r.returncode == 2 and "unknown command 'bogus'" in r.stderr
    r = _cli(str(tmp_path), "describe", "-D", "aeron.cluster.tool.timeout=soon")
    assert r.returncode == 2 and "aeron.cluster.tool.timeout" in r.stderr
    os.remove(tmp_path / LOG_FILE)
    _log_with_snapshots(tmp_path)
    r = _cli(str(tmp_path), "invalidate-latest-snapshot")
    assert (r.returncode, r.stdout) == (0, " invalidate latest snapshot: true\n")


def test_mark_files_found_through_link_files(tmp_path: Path) -> None:
    cluster, marks = tmp_path / "cluster", tmp_path / "marks"
    m = ClusterMarkFile.create(str(marks), FILE_NAME, ClusterComponentType.CONSENSUS_MODULE, 0, 4, -1,
                               link_dir=str(cluster), services_cluster_dir=str(cluster))
    s = ClusterMarkFile.create(str(marks), service_mark_file_name(0), ClusterComponentType.CONTAINER, 0, -1, 0,
                               link_dir=str(cluster))
    status, text = _run(cluster, "describe")
    assert status == SUCCESS and "memberId=4" in text and "Type: CONTAINER" in text
    assert _run(cluster, "pid") == (SUCCESS, f"{os.getpid()}\n")
    m.close()
    s.close()
