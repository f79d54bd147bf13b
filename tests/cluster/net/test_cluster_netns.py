"""A 3-member cluster on three network-namespace hosts (issue 10 item 8): a leader is elected
across hosts and serves a client on a fourth host; a follower cut off from the others (its
link down) misses messages and, once healed, catches up to the leader's log position."""

from __future__ import annotations

import io
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aeronpy.testing.jepsen import MemberSet, NetnsTopology
from tests.cluster.jepsen.test_jepsen_run import require_cluster_node
from tests.net.netns import NetNamespaces, require_netns


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[NetNamespaces, MemberSet]]:
    require_cluster_node()
    require_netns()
    with NetNamespaces(4) as ns:
        members = MemberSet(NetnsTopology(ns, 3), str(tmp_path), random.randrange(30_000, 50_000, 100), service="echo")
        try:
            members.start_all()
            yield ns, members
        finally:
            members.close()


def _client(ns: NetNamespaces, members: MemberSet, count: int, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    host = ns.hosts[3]
    argv = [sys.executable, "-m", "aeronpy", "cluster-client", "--embedded-driver", "--ingress-endpoints",
            members.ingress_endpoints(), "--egress-channel", f"aeron:udp?endpoint={host.address}:0|term-length=128k",
            "--count", str(count), "--timeout", "30"]
    proc = host.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _positions(members: MemberSet, leader: int) -> dict[int, int]:
    from aeronpy.cluster.tool import ToolSettings, run

    out = io.StringIO()
    run(members.cluster_dir(leader), "list-members", [], out, ToolSettings(timeout_ms=3000))
    text = out.getvalue()
    found: dict[int, int] = {}
    for part in text.split("ClusterMember{")[1:]:
        fields = dict(f.split("=", 1) for f in part.split("}")[0].split(", "))
        found[int(fields["id"])] = int(fields["logPosition"])
    return found


def test_leader_elected_across_hosts_serves_a_client_on_another_host(cluster: tuple[NetNamespaces, Any]) -> None:
    ns, members = cluster
    leader = members.leader(timeout=90)
    assert leader in (0, 1, 2)
    r = _client(ns, members, 200)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "200 of 200 echoes back" in r.stdout


def test_follower_cut_off_then_healed_catches_up(cluster: tuple[NetNamespaces, Any]) -> None:
    ns, members = cluster
    leader = members.leader(timeout=90)
    follower = (leader + 1) % 3
    ns.set_link(ns.hosts[follower], False)
    try:
        r = _client(ns, members, 300)  # a quorum of two still commits
        assert r.returncode == 0, r.stdout + r.stderr
        positions = _positions(members, leader)
        assert positions[follower] < positions[leader], positions
    finally:
        ns.set_link(ns.hosts[follower], True)
    deadline = time.monotonic() + 60
    while True:
        current_leader = members.leader(timeout=30)
        positions = _positions(members, current_leader)
        if len(set(positions.values())) == 1 and positions:
            break
        assert time.monotonic() < deadline, f"follower {follower} did not catch up: {positions}"
        time.sleep(0.5)
    r = _client(ns, members, 50)
    assert r.returncode == 0, r.stdout + r.stderr
