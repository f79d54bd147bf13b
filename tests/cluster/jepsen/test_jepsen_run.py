"""The short Jepsen-style run of issue 10 item 8: 3 ``cluster-node`` members with the kv
service, clients doing random read/write/CAS, a nemesis killing (-9) and restarting members
and, on network-namespace hosts, cutting and healing links; the history must be linearizable.

The long run is ``python -m aeronpy.testing.jepsen --duration 300 [--netns]``."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aeronpy.testing.jepsen import JepsenConfig, LoopbackTopology, NetnsTopology, cluster_node_available, run
from aeronpy.testing.linearizability import Verdict


def require_cluster_node() -> None:
    ok, why = cluster_node_available()
    if not ok:
        pytest.skip(why)


@pytest.fixture
def topology() -> Iterator[Any]:
    from tests.net.netns import NetNamespaces, netns_available

    require_cluster_node()

    ok, _ = netns_available()
    if not ok:
        yield LoopbackTopology()
        return
    with NetNamespaces(4) as ns:
        yield NetnsTopology(ns, 3)


def test_short_run_under_faults_is_linearizable(tmp_path: Path, topology: Any) -> None:
    cfg = JepsenConfig(duration=45.0, clients=5, keys=2, seed=random.randrange(1 << 30), work_dir=str(tmp_path),
                       base_port=random.randrange(30_000, 50_000, 100), nemesis_interval=(4.0, 7.0),
                       fault_duration=(3.0, 6.0), quiet=12.0)
    report = run(cfg, topology)
    print(report.table())
    assert report.error is None, report.table()
    assert report.verdict == Verdict.OK.value, report.table()
    assert report.faults, "the nemesis injected no fault"
    assert report.ok >= 20, report.table()
