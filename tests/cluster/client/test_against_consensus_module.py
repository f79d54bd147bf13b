"""The client against this project's real consensus module (one member, in process): echo,
admin request refused by the default authorisation, keepalive vs session timeout, close."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aeronpy.cluster import counters as cc
from aeronpy.cluster.client import AeronCluster, ClientState, ClusterClientContext
from aeronpy.cluster.codecs import AdminRequestType, AdminResponseCode, EventCode
from aeronpy.cluster.examples.echo import EchoService
from aeronpy.cluster.members import ingress_endpoints, parse_members
from tests.cluster.client.test_aeron_cluster import Recorder, poll_until
from tests.cluster.consensus.harness import Member, members_string, new_base_dir
from tests.conftest import wait_for


@pytest.fixture(scope="module")
def member(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Member]:
    tmp: Path = tmp_path_factory.mktemp("cm")
    m = Member(0, members_string(1), new_base_dir(tmp), EchoService(), props={"aeron.cluster.session.timeout": "2s"})
    try:
        m.start()
        wait_for(lambda: m.cm.agent.election is None and m.cm.agent.role == cc.Role.LEADER, 30, "the leader")
        yield m
    finally:
        m.stop()
        m.cleanup()


def connect(member: Member, aeron_dir: str, listener: Any) -> AeronCluster:
    ctx = ClusterClientContext.from_properties(
        env={}, aeron_dir=aeron_dir, ingress_channel="aeron:udp?term-length=128k",
        ingress_endpoints=ingress_endpoints(parse_members(member.members)),
        egress_channel="aeron:udp?endpoint=localhost:0|term-length=128k", egress_listener=listener,
    )
    return AeronCluster.connect(ctx)


def test_echo_and_admin_request(member: Member, driver: Any, aeron_dir: str) -> None:
    listener = Recorder()
    with connect(member, aeron_dir, listener) as cluster:
        assert cluster.leader_member_id == 0 and cluster.cluster_session_id > 0
        assert cluster.new_leader_timeout_ns == 2 * 2_000_000_000  # 2 x the CM's heartbeat timeout (harness: 2 s)
        for i in range(50):
            while cluster.offer(b"m%d" % i) < 0:
                cluster.poll_egress()
        poll_until(cluster, lambda: len(listener.messages) == 50, 20, "50 echoes")
        assert [m[2] for m in listener.messages] == [b"m%d" % i for i in range(50)]
        assert all(m[0] == cluster.cluster_session_id and m[1] > 0 for m in listener.messages)  # cluster time
        assert cluster.send_admin_request_to_take_a_snapshot(99)
        poll_until(cluster, lambda: listener.admin, 20, "admin response")
        (session_id, correlation_id, request_type, code, message, payload) = listener.admin[0]
        assert (session_id, correlation_id, request_type) == (cluster.cluster_session_id, 99, AdminRequestType.SNAPSHOT)
        assert code is AdminResponseCode.UNAUTHORISED_ACCESS and "not authorised" in message


def test_keepalive_keeps_the_session_then_timeout_closes_it(member: Member, driver: Any, aeron_dir: str) -> None:
    listener = Recorder()
    cluster = connect(member, aeron_dir, listener)
    try:
        until = time.monotonic() + 3.5  # beyond the 2 s session timeout
        while time.monotonic() < until:
            assert cluster.send_keep_alive()
            cluster.poll_egress()
            time.sleep(0.2)
        assert cluster.state is ClientState.CONNECTED and not listener.events
        poll_until(cluster, lambda: cluster.is_closed, 20, "the session timeout")
        assert listener.events[-1][4] is EventCode.CLOSED and listener.events[-1][5] == "TIMEOUT"
    finally:
        cluster.close()
