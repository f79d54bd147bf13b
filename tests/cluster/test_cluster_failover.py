"""Three ``aeronpy cluster-node`` processes on loopback (cluster.md §8 ClusterTest): a leader
is elected, messages are echoed once and in order, ``kill -9`` of the leader mid-stream elects a
new one, the client carries on, nothing acknowledged is lost and the survivors hold the same
log; the old leader restarts and catches up."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from aeronpy.testing.jepsen import MemberSet
from tests.cluster.cluster_processes import (
    Client,
    client_aeron_dir,
    log_digest,
    recorded_position,
    running_members,
)
from tests.conftest import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[MemberSet]:
    yield from running_members(str(tmp_path))


def _client(cluster: MemberSet, tmp_path: Path) -> Client:
    return Client(cluster, client_aeron_dir(str(tmp_path)))


def test_leader_elected_and_messages_echoed_once_in_order(cluster: MemberSet, tmp_path: Path) -> None:
    cluster.leader(timeout=30)
    client = _client(cluster, tmp_path)
    try:
        messages = [b"m%05d" % i for i in range(300)]
        client.send_and_await(messages)
        assert client.echoed == messages
    finally:
        client.close()


def test_kill_leader_mid_stream_then_restart_it(cluster: MemberSet, tmp_path: Path) -> None:
    leader = cluster.leader(timeout=30)
    client = _client(cluster, tmp_path)
    try:
        first = [b"a%05d" % i for i in range(100)]
        client.send_and_await(first)
        acknowledged = list(client.echoed)
        cluster.kill(leader)
        second = [b"b%05d" % i for i in range(100)]
        client.send_and_await(second, timeout=60)
        new_leader = cluster.leader(timeout=30, exclude=(leader,))
        assert new_leader != leader
        assert client.collector.new_leaders, "the client never saw a NewLeaderEvent"
        assert acknowledged == first
        survivors = [i for i in range(3) if i != leader]
        wait_for(lambda: len({log_digest(cluster, i)[0] for i in survivors}) == 1, 20, "survivors' logs to match")
        digests = {log_digest(cluster, i) for i in survivors}
        assert len(digests) == 1, digests
        cluster.start(leader)
        third = [b"c%05d" % i for i in range(50)]
        client.send_and_await(third, timeout=60)
        position = log_digest(cluster, new_leader)[0]
        wait_for(lambda: recorded_position(cluster, leader) >= position, 60, "the restarted member to catch up")
        assert log_digest(cluster, leader, position) == log_digest(cluster, new_leader, position)
    finally:
        client.close()
        shutil.rmtree(client_aeron_dir(str(tmp_path)), ignore_errors=True)


def test_follower_several_terms_behind_recovers(cluster: MemberSet, tmp_path: Path) -> None:
    """A member down for a whole term gets the missing terms by archive replication
    (FOLLOWER_LOG_REPLICATION) and then the live log: its log ends up identical."""
    leader = cluster.leader(timeout=30)
    follower = (leader + 1) % 3
    other = (leader + 2) % 3
    client = _client(cluster, tmp_path)
    try:
        client.send_and_await([b"t0-%03d" % i for i in range(20)])
        cluster.kill(follower)
        client.send_and_await([b"t0b-%03d" % i for i in range(20)])
        cluster.kill(leader)
        cluster.start(leader)
        new_leader = cluster.leader(timeout=60, exclude=(follower,))
        client.reconnect_if_closed()
        client.send_and_await([b"t1-%03d" % i for i in range(20)], timeout=60)
        cluster.start(follower)
        position = log_digest(cluster, new_leader)[0]
        wait_for(lambda: recorded_position(cluster, follower) >= position, 90, "the lagging member to recover")
        assert log_digest(cluster, follower, position) == log_digest(cluster, new_leader, position)
        assert log_digest(cluster, other, position) == log_digest(cluster, new_leader, position)
    finally:
        client.close()


def test_leader_without_a_follower_quorum_steps_down(cluster: MemberSet, tmp_path: Path) -> None:
    from tests.cluster.cluster_processes import tool

    leader = cluster.leader(timeout=30)
    for i in range(3):
        if i != leader:
            cluster.kill(i)
    wait_for(lambda: tool(cluster.cluster_dir(leader), "is-leader")[0] != 0, 20, "the leader to step down")
    assert cluster.is_alive(leader)


def test_uncommitted_tail_of_a_dead_leader_is_truncated(cluster: MemberSet, tmp_path: Path) -> None:
    """The followers freeze (SIGSTOP) while the leader appends; the leader dies with an
    uncommitted tail; the followers elect a new leader; the old one restarts, truncates what
    was never committed and ends with the new leader's log (cluster.md §4.8)."""
    import os
    import signal
    import time

    leader = cluster.leader(timeout=30)
    followers = [i for i in range(3) if i != leader]
    client = _client(cluster, tmp_path)
    try:
        client.send_and_await([b"c%03d" % i for i in range(20)])
        committed = recorded_position(cluster, leader)
        for i in followers:
            os.killpg(cluster.procs[i].pid, signal.SIGSTOP)  # type: ignore[union-attr]
        try:
            deadline = time.monotonic() + 2
            sent = 0
            while time.monotonic() < deadline and sent < 30:
                if client.cluster.offer(b"u%03d" % sent) > 0:
                    sent += 1
                client.cluster.poll_egress()
                time.sleep(0.005)
            assert sent > 0
            wait_for(lambda: recorded_position(cluster, leader) > committed, 10, "the uncommitted tail on the leader")
            tail = recorded_position(cluster, leader)
            cluster.kill(leader)
        finally:
            for i in followers:
                os.killpg(cluster.procs[i].pid, signal.SIGCONT)  # type: ignore[union-attr]
        new_leader = cluster.leader(timeout=60, exclude=(leader,))
        client.reconnect_if_closed()
        client.send_and_await([b"n%03d" % i for i in range(10)], timeout=60)
        cluster.start(leader)
        position = recorded_position(cluster, new_leader)
        assert position > committed
        wait_for(lambda: recorded_position(cluster, leader) >= position, 90, "the old leader to rejoin")
        assert log_digest(cluster, leader, position) == log_digest(cluster, new_leader, position)
        assert tail > committed
    finally:
        client.close()
