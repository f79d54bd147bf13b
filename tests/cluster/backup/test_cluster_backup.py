"""ClusterBackup across processes (cluster.md §4.17): three ``cluster-node`` members with the kv
service and an ``aeronpy cluster-backup``; the backup's recording.log and archive end up with the
members' snapshot and the live log, ``cluster-tool backup-query`` reads and moves its next query,
and a member started from the backup's directory serves every value written before the backup
stopped."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aeronpy.cluster.examples.kv import Status, encode_read, encode_write
from aeronpy.cluster.recording_log import EntryType, RecordingLog
from aeronpy.testing.jepsen import LoopbackTopology, MemberSet
from tests.cluster.cluster_processes import (
    FAST,
    KvClient,
    client_aeron_dir,
    free_base_port,
    member_set,
    remove_member_dirs,
    snapshot_count,
    tool,
)
from tests.conftest import wait_for
from tests.fakes import free_udp_port

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[MemberSet]:
    members = member_set(str(tmp_path / "cluster"), service="kv")
    members.start_all()
    try:
        yield members
    finally:
        members.close()
        remove_member_dirs(members)
        shutil.rmtree(client_aeron_dir(str(tmp_path)), ignore_errors=True)


def _entries(cluster_dir: str) -> list[object]:
    try:
        with RecordingLog(cluster_dir, create=False, read_only=True) as rl:
            return list(rl.entries)
    except Exception:  # noqa: BLE001 - not written yet
        return []


def _backed_up_position(backup_dir: str) -> int:
    """The backup archive's recorded length of its log recording (-1 while unknown)."""
    from aeronpy.archive.client import AeronArchive, AeronArchiveContext
    from aeronpy.cluster.node import default_aeron_dir_for

    terms = [e for e in _entries(os.path.join(backup_dir, "cluster")) if e.entry_type == EntryType.TERM]  # type: ignore[attr-defined]
    if not terms:
        return -1
    try:
        arc = AeronArchive.connect(AeronArchiveContext(aeron_dir=default_aeron_dir_for(backup_dir),
                                                       control_response_stream_id=9300))
    except Exception:  # noqa: BLE001 - not up
        return -1
    try:
        return int(arc.get_max_recorded_position(terms[-1].recording_id))  # type: ignore[attr-defined]
    finally:
        arc.close()


def _leader_log_position(members: MemberSet, leader: int) -> int:
    from tests.cluster.cluster_processes import recorded_position

    return recorded_position(members, leader)


def _restore_from_backup_and_read_back(cluster: MemberSet, restore_root: Path, tmp_path: Path, count: int) -> None:
    """Kill the cluster, start a one-member cluster on the backup's directory and read back
    ``k0``..``k<count-1>``: snapshot + log = every value written."""
    for i in range(3):
        cluster.kill(i)
    restored = MemberSet(LoopbackTopology(), str(restore_root), free_base_port(), 1, dict(FAST), service="kv")
    try:
        restored.start(0)
        restored.leader(timeout=90)
        client = KvClient(restored, client_aeron_dir(str(tmp_path / "r")))
        try:
            for i in range(count):
                r = client.call(encode_read, f"k{i}")
                assert (r.status, r.value) == (Status.OK, f"v{i}".encode()), (i, r)
        finally:
            client.close()
    finally:
        restored.close()
        remove_member_dirs(restored)
        shutil.rmtree(client_aeron_dir(str(tmp_path / "r")), ignore_errors=True)


def test_backup_holds_snapshot_and_live_log_and_restores_a_member(cluster: MemberSet, tmp_path: Path) -> None:
    leader = cluster.leader(timeout=60)
    client = KvClient(cluster, client_aeron_dir(str(tmp_path)))
    restore_root = tmp_path / "restore"
    backup_dir = str(restore_root / "member-0")
    backup: subprocess.Popen[bytes] | None = None
    log = open(tmp_path / "backup.log", "wb")
    try:
        for i in range(10):
            assert client.call(encode_write, f"k{i}", f"v{i}").status == Status.OK
        code, out = tool(cluster.cluster_dir(leader), "snapshot")
        assert code == 0, out
        wait_for(lambda: all(snapshot_count(cluster, i) == 1 for i in range(3)), 60, "a snapshot on every member")
        for i in range(10, 15):
            assert client.call(encode_write, f"k{i}", f"v{i}").status == Status.OK

        consensus = ",".join(cluster.endpoint(i, "consensus") for i in range(3))
        argv = [sys.executable, "-m", "aeronpy", "cluster-backup", "--dir", backup_dir, "-v",
                "--cluster-consensus-endpoints", consensus,
                "--consensus-endpoint", f"127.0.0.1:{free_udp_port()}",
                "--catchup-endpoint", f"127.0.0.1:{free_udp_port()}",
                "-D", "aeron.cluster.backup.cool.down.interval=1s",
                "-D", "aeron.cluster.backup.response.timeout=2s"]
        backup = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        backup_cluster_dir = os.path.join(backup_dir, "cluster")

        def has_snapshot_and_term() -> bool:
            entries = _entries(backup_cluster_dir)
            snaps = {e.service_id for e in entries if e.entry_type == EntryType.SNAPSHOT}  # type: ignore[attr-defined]
            return snaps == {-1, 0} and any(e.entry_type == EntryType.TERM for e in entries)  # type: ignore[attr-defined]

        wait_for(has_snapshot_and_term, 90, "the backup's recording.log with the snapshot set and a term")
        for i in range(15, 20):
            assert client.call(encode_write, f"k{i}", f"v{i}").status == Status.OK
        wait_for(lambda: _backed_up_position(backup_dir) >= _leader_log_position(cluster, leader) > 0, 60,
                 "the backup's live log to reach the leader's log")

        code, out = tool(backup_cluster_dir, "backup-query")
        assert code == 0 and " next: " in out, out
        code, out = tool(backup_cluster_dir, "backup-query", "0")
        assert code == 0 and "setting next" in out, out
        code, out = tool(cluster.cluster_dir(leader), "backup-query")
        assert code != 0 and "not a cluster backup node" in out
    finally:
        client.close()
        if backup is not None:
            if backup.poll() is None:
                os.killpg(backup.pid, signal.SIGTERM)
            try:
                assert backup.wait(30) == 0, (tmp_path / "backup.log").read_text()
            finally:
                if backup.poll() is None:
                    os.killpg(backup.pid, signal.SIGKILL)
        log.close()
    archive_files = os.listdir(os.path.join(backup_dir, "archive"))
    assert any(name.endswith(".rec") for name in archive_files), archive_files
    _restore_from_backup_and_read_back(cluster, restore_root, tmp_path, 20)


def test_cluster_backup_cli_rejects_bad_configuration(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "aeronpy", "cluster-backup", "--dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "aeron.cluster.consensus.endpoints" in run.stderr and "Traceback" not in run.stderr
    run = subprocess.run([sys.executable, "-m", "aeronpy", "cluster-backup", "--dir", str(tmp_path),
                          "--cluster-consensus-endpoints", "localhost:1", "--consensus-endpoint", "localhost:2",
                          "--catchup-endpoint", "localhost:3", "-D", "aeron.cluster.backup.source.type=SOME"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "aeron.cluster.backup.source.type" in run.stderr and "Traceback" not in run.stderr



def test_backup_rides_through_the_loss_of_its_log_supplier(cluster: MemberSet, tmp_path: Path) -> None:
    from aeronpy.cluster.backup import ClusterBackup, ClusterBackupState

    cluster.leader(timeout=60)
    client = KvClient(cluster, client_aeron_dir(str(tmp_path)))
    restore_root = tmp_path / "restore"
    backup_dir = str(restore_root / "member-0")
    backup = ClusterBackup(backup_dir, {
        "aeron.cluster.consensus.endpoints": ",".join(cluster.endpoint(i, "consensus") for i in range(3)),
        "aeron.cluster.consensus.channel": f"aeron:udp?endpoint=127.0.0.1:{free_udp_port()}",
        "aeron.cluster.backup.catchup.endpoint": f"127.0.0.1:{free_udp_port()}",
        "aeron.cluster.backup.cool.down.interval": "1s", "aeron.cluster.backup.response.timeout": "2s",
    })
    try:
        for i in range(5):
            assert client.call(encode_write, f"k{i}", f"v{i}").status == Status.OK
        backup.start()
        wait_for(lambda: backup.state == ClusterBackupState.BACKING_UP, 60, "the backup to follow the live log")
        assert backup.agent is not None and backup.agent.log_supplier_member is not None
        supplier = backup.agent.log_supplier_member.id
        cluster.kill(supplier)  # its replay to the backup ends with it
        try:
            wait_for(lambda: backup.agent is not None and backup.agent.log_supplier_member is not None
                     and backup.agent.log_supplier_member.id != supplier
                     and backup.state == ClusterBackupState.BACKING_UP, 180, "the backup to follow another member")
        except AssertionError as e:
            raise AssertionError(f"{e}; state {backup.state}, errors {backup.errors[-5:]}") from None
        leader = cluster.leader(timeout=60, exclude=(supplier,))
        client.close()  # a new session: the old one may not survive the leader's loss
        client = KvClient(cluster, client_aeron_dir(str(tmp_path)))
        for i in range(5, 10):
            assert client.call(encode_write, f"k{i}", f"v{i}", timeout=60).status == Status.OK
        wait_for(lambda: _backed_up_position(backup_dir) >= _leader_log_position(cluster, leader) > 0, 60,
                 "the backup's live log to reach the new leader's log")
    finally:
        client.close()
        backup.close()
    terms = [e for e in _entries(os.path.join(backup_dir, "cluster")) if e.entry_type == EntryType.TERM]  # type: ignore[attr-defined]
    assert len({e.recording_id for e in terms}) == 1, terms  # one local log recording, extended  # type: ignore[attr-defined]
    _restore_from_backup_and_read_back(cluster, restore_root, tmp_path, 10)
