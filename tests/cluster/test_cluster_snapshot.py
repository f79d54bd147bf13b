"""Snapshots across three ``cluster-node`` processes (cluster.md §4.12-§4.14): ``cluster-tool
snapshot`` makes every member snapshot at the same log position; after a full restart the kv
service's state is back (snapshot + the log after it); with the latest snapshot invalidated the
previous state comes back from the log; ``cluster-tool shutdown`` stops every member in order."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aeronpy.cluster.examples.kv import Status, encode_read, encode_write
from aeronpy.testing.jepsen import MemberSet
from tests.cluster.cluster_processes import (
    KvClient,
    client_aeron_dir,
    member_logs,
    running_members,
    snapshot_count,
    tool,
)
from tests.conftest import wait_for


pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[MemberSet]:
    yield from running_members(str(tmp_path), service="kv")


def _invalidate(cluster: MemberSet, member_id: int) -> bool:
    from aeronpy.cluster.errors import ClusterError

    try:
        code, out = tool(cluster.cluster_dir(member_id), "invalidate-latest-snapshot")
    except ClusterError as e:
        if "running" in str(e):
            return False
        raise
    assert code == 0, out
    return True


def _restart_all(cluster: MemberSet) -> None:
    for i in range(3):
        cluster.kill(i)
    for i in range(3):
        cluster.start(i)


def test_snapshot_then_full_restart_restores_state(cluster: MemberSet, tmp_path: Path) -> None:
    leader = cluster.leader(timeout=30)
    client = KvClient(cluster, client_aeron_dir(str(tmp_path)))
    try:
        for i in range(10):
            assert client.call(encode_write, f"k{i}", f"v{i}").status == Status.OK
        code, out = tool(cluster.cluster_dir(leader), "snapshot")
        assert code == 0, out
        wait_for(lambda: all(snapshot_count(cluster, i) == 1 for i in range(3)), 30, "a snapshot on every member")
        for i in range(10, 15):
            assert client.call(encode_write, f"k{i}", f"v{i}").status == Status.OK
    finally:
        client.close()
    _restart_all(cluster)
    cluster.leader(timeout=60)
    client = KvClient(cluster, client_aeron_dir(str(tmp_path)))
    try:
        for i in range(15):
            r = client.call(encode_read, f"k{i}")
            assert (r.status, r.value) == (Status.OK, f"v{i}".encode()), i
    finally:
        client.close()


def test_invalidated_snapshot_falls_back_to_the_log(cluster: MemberSet, tmp_path: Path) -> None:
    leader = cluster.leader(timeout=30)
    client = KvClient(cluster, client_aeron_dir(str(tmp_path)))
    try:
        assert client.call(encode_write, "a", "1").status == Status.OK
        assert tool(cluster.cluster_dir(leader), "snapshot")[0] == 0
        wait_for(lambda: all(snapshot_count(cluster, i) == 1 for i in range(3)), 30, "snapshots")
        assert client.call(encode_write, "b", "2").status == Status.OK
    finally:
        client.close()
    for i in range(3):
        cluster.kill(i)
    for i in range(3):
        # a killed member's mark file looks alive for up to 10 s: the tool refuses until then
        wait_for(lambda i=i: _invalidate(cluster, i), 20, f"invalidate-latest-snapshot on member {i}")
        assert snapshot_count(cluster, i) == 0
    for i in range(3):
        cluster.start(i)
    cluster.leader(timeout=60)
    client = KvClient(cluster, client_aeron_dir(str(tmp_path)))
    try:
        assert client.call(encode_read, "a").value == b"1"
        assert client.call(encode_read, "b").value == b"2"
    finally:
        client.close()


def test_shutdown_snapshots_and_stops_every_member(cluster: MemberSet, tmp_path: Path) -> None:
    leader = cluster.leader(timeout=30)
    client = KvClient(cluster, client_aeron_dir(str(tmp_path)))
    try:
        assert client.call(encode_write, "s", "1").status == Status.OK
    finally:
        client.close()
    code, out = tool(cluster.cluster_dir(leader), "shutdown")
    assert code == 0, out
    deadline = time.monotonic() + 60
    while any(cluster.is_alive(i) for i in range(3)):
        assert time.monotonic() < deadline, f"members still running: {cluster.exit_codes()}\n{member_logs(cluster)}"
        time.sleep(0.1)
    assert all(code == 0 for code in cluster.exit_codes().values()), member_logs(cluster)
    assert all(snapshot_count(cluster, i) == 1 for i in range(3)), member_logs(cluster)
