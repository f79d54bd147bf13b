"""Three members in one process (cluster.md §4.5-§4.7): replication to followers bounded by
the commit position, a follower restarted within the same term catches up by archive replay
to its catch-up endpoint (port 0 resolved from its subscription), and every member's service
ends in the same state."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aeronpy.cluster import counters as cc
from aeronpy.cluster.examples.echo import EchoService
from tests.cluster.consensus.harness import Collector, Member, connect_client, members_string, new_base_dir
from tests.conftest import wait_for


def _leader(nodes: list[Member]) -> Member | None:
    for n in nodes:
        a = n.cm.agent if n.cm is not None else None
        if a is not None and a.election is None and a.role == cc.Role.LEADER:
            return n
    return None


def _send(client: Any, collector: Collector, messages: list[bytes]) -> None:
    deadline = time.monotonic() + 30
    for m in messages:
        while client.offer(m) < 0:
            client.poll_egress()
            assert time.monotonic() < deadline
            time.sleep(0.001)
    while not set(messages).issubset(collector.messages):
        client.poll_egress()
        assert time.monotonic() < deadline, "echoes missing"
        time.sleep(0.001)


def test_follower_restarted_in_the_same_term_catches_up(tmp_path: Path) -> None:
    base = new_base_dir(tmp_path)
    members = members_string(3, catchup_port_zero=True)
    nodes = [Member(i, members, base, EchoService()) for i in range(3)]
    collector = Collector()
    client = None
    try:
        for n in nodes:
            n.start()
        wait_for(lambda: _leader(nodes) is not None and all(n.cm.agent.election is None for n in nodes), 30,
                 "an elected leader")
        leader = _leader(nodes)
        assert leader is not None
        follower = next(n for n in nodes if n is not leader)
        client_node = next(n for n in nodes if n is not leader and n is not follower)
        client = connect_client(members, client_node.aeron_dir, listener=collector)
        _send(client, collector, [b"one-%03d" % i for i in range(50)])
        term = leader.cm.agent.leadership_term_id
        follower.stop()
        _send(client, collector, [b"two-%03d" % i for i in range(50)])
        follower.service = EchoService()
        follower.start()
        agent = follower.cm.agent
        wait_for(lambda: agent.election is None and agent.role == cc.Role.FOLLOWER and agent.leader_member is not None,
                 40, "the restarted follower to rejoin")
        assert leader.cm.agent.leadership_term_id == term, "no new election: the follower caught up"
        from aeronpy.cluster.consensus.election import ElectionState

        assert ElectionState.FOLLOWER_CATCHUP in agent.election_history, agent.election_history
        _send(client, collector, [b"three-%03d" % i for i in range(10)])
        wait_for(lambda: follower.service.message_count == 110, 30, "the follower's service to catch up")
        wait_for(lambda: len({n.service.state_hash for n in nodes}) == 1, 10, "equal service state")
        commits = {n.cm.agent.commit_position() for n in nodes}
        assert len(commits) == 1
    finally:
        if client is not None:
            client.close()
        for n in nodes:
            n.stop()
            n.cleanup()


def test_client_pointed_at_a_follower_is_redirected_to_the_leader(tmp_path: Path) -> None:
    from aeronpy.cluster.client import AeronCluster, ClusterClientContext
    from aeronpy.cluster.members import parse_members

    base = new_base_dir(tmp_path)
    members = members_string(3)
    nodes = [Member(i, members, base, EchoService()) for i in range(3)]
    try:
        for n in nodes:
            n.start()
        wait_for(lambda: _leader(nodes) is not None and all(n.cm.agent.election is None for n in nodes), 30,
                 "an elected leader")
        leader = _leader(nodes)
        assert leader is not None
        follower = next(n for n in nodes if n is not leader)
        me = parse_members(members)[follower.member_id]
        collector = Collector()
        ctx = ClusterClientContext.from_properties(
            env={}, aeron_dir=follower.aeron_dir, ingress_channel="aeron:udp?term-length=128k",
            ingress_endpoints=f"{me.id}={me.ingress_endpoint}",
            egress_channel="aeron:udp?endpoint=localhost:0|term-length=128k", egress_listener=collector)
        client = AeronCluster.connect(ctx)
        try:
            assert client.leader_member_id == leader.member_id
            _send(client, collector, [b"via-redirect"])
        finally:
            client.close()
        from tests.cluster.cluster_processes import tool

        code, out = tool(follower.cluster_dir, "list-members")
        assert code == 0 and f"leaderMemberId={leader.member_id}" in out, out
    finally:
        for n in nodes:
            n.stop()
            n.cleanup()


def test_graceful_leader_exit_elects_without_waiting_for_the_heartbeat_timeout(tmp_path: Path) -> None:
    """A leader that closes ends its log (EOS); the followers elect at once instead of after
    aeron.cluster.leader.heartbeat.timeout (here 8 s), without waiting for the old leader."""
    base = new_base_dir(tmp_path)
    members = members_string(3)
    props = {"aeron.cluster.leader.heartbeat.timeout": "8s", "aeron.cluster.startup.canvass.timeout": "16s"}
    nodes = [Member(i, members, base, EchoService(), props=dict(props)) for i in range(3)]
    try:
        for n in nodes:
            n.start()
        wait_for(lambda: _leader(nodes) is not None and all(n.cm.agent.election is None for n in nodes), 40,
                 "an elected leader")
        leader = _leader(nodes)
        assert leader is not None
        rest = [n for n in nodes if n is not leader]
        start = time.monotonic()
        leader.stop()
        wait_for(lambda: _leader(rest) is not None, 7, "a new leader before the heartbeat timeout")
        assert time.monotonic() - start < 7
    finally:
        for n in nodes:
            n.stop()
            n.cleanup()
