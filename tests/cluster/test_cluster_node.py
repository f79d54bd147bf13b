"""``ClusterNode`` in-process: one member with two services (every service applies every
committed message; the CM waits for both services' acks), and its settings checked before
anything starts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aeronpy.cluster import counters as cc
from aeronpy.cluster.examples.echo import EchoService
from aeronpy.cluster.node import ClusterNode
from aeronpy.errors import ConfigurationError
from tests.cluster.consensus.harness import FAST, connect_client, members_string
from tests.conftest import wait_for


def test_two_services_on_one_member(tmp_path: Path) -> None:
    services = [EchoService(), EchoService()]
    members = members_string(1)
    node = ClusterNode(0, members, str(tmp_path / "n"), services, dict(FAST))
    try:
        node.start()
        agent = node.agent
        wait_for(lambda: agent.election is None and agent.role == cc.Role.LEADER, 30, "the leader")
        client = connect_client(members, node.aeron_dir)
        try:
            deadline = time.monotonic() + 20
            for i in range(20):
                while client.offer(b"m%d" % i) < 0:
                    client.poll_egress()
                    assert time.monotonic() < deadline
            wait_for(lambda: [s.message_count for s in services] == [20, 20], 20, "both services to apply 20")
            assert services[0].state_hash == services[1].state_hash
        finally:
            client.close()
        agent.counters["toggle"].set(cc.ToggleState.SNAPSHOT)
        wait_for(lambda: agent.counters["snapshots"].get() == 1, 20, "a snapshot with two services")
        snapshots = [e for e in agent.recording_log.entries if e.entry_type.name == "SNAPSHOT"]
        assert [e.service_id for e in snapshots] == [1, 0, -1]
    finally:
        node.close()


def test_settings_are_checked_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="aeron.cluster.election.timeout"):
        ClusterNode(0, members_string(1), str(tmp_path / "n"), [EchoService()],
                    {"aeron.cluster.election.timeout": "never"})
    with pytest.raises(ConfigurationError, match="--member-id 3"):
        ClusterNode(3, members_string(1), str(tmp_path / "n"), [EchoService()])
    assert not (tmp_path / "n").exists()
