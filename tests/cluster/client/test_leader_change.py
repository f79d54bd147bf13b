"""The leader-change state machine of §3.5, end to end against the fake cluster."""

from __future__ import annotations

import time
from collections.abc import Callable

from aeronpy.cluster.client import AeronCluster, ClientState, ClusterClientContext
from aeronpy.testing import ManualClock
from tests.cluster.client.fake_cluster import FakeCluster
from tests.cluster.client.test_aeron_cluster import Recorder, poll_until


def offer_until_accepted(cluster: AeronCluster, payload: bytes, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while cluster.offer(payload) < 0:
        cluster.poll_egress()
        assert time.monotonic() < deadline, f"offer never accepted (state {cluster.state})"
        time.sleep(0.001)


def test_new_leader_event_moves_ingress_to_the_new_leader(
    fake_factory: Callable[..., FakeCluster], context_for: Callable[..., ClusterClientContext]
) -> None:
    fake = fake_factory(members=2, leader_id=0)
    listener = Recorder()
    with AeronCluster.connect(context_for(fake, egress_listener=listener)) as cluster:
        old_publication = cluster.ingress_publication
        fake.elect(1)
        poll_until(cluster, lambda: listener.new_leaders, what="NewLeaderEvent")
        assert listener.new_leaders == [(1, 6, 1, fake.ingress_endpoints())]
        assert cluster.state is ClientState.AWAIT_NEW_LEADER_CONNECTION
        assert (cluster.leadership_term_id, cluster.leader_member_id) == (6, 1)
        assert old_publication.is_closed
        assert cluster.ingress_publication.channel.endswith(fake.members[1].endpoint)
        deadline = time.monotonic() + 10
        while not cluster.send_keep_alive():  # the schema's advice: a keepalive first
            cluster.poll_egress()
            assert time.monotonic() < deadline
        assert cluster.state is ClientState.CONNECTED
        offer_until_accepted(cluster, b"after the election")
        poll_until(cluster, lambda: listener.messages, what="echo from the new leader")
        assert listener.messages == [(1, 1234, b"after the election")]
        (keepalive,) = [r for r in fake.of("SessionKeepAlive") if r.member_id == 1]
        assert keepalive.values["leadership_term_id"] == 6
        (message,) = fake.of("SessionMessageHeader")
        assert message.member_id == 1 and message.values["leadership_term_id"] == 6


def test_leader_dies_then_a_new_one_takes_over(
    fake_factory: Callable[..., FakeCluster], context_for: Callable[..., ClusterClientContext]
) -> None:
    fake = fake_factory(members=2, leader_id=0)
    listener = Recorder()
    with AeronCluster.connect(context_for(fake, egress_listener=listener)) as cluster:
        offer_until_accepted(cluster, b"one")
        poll_until(cluster, lambda: listener.messages, what="first echo")
        fake.stop_member(0)
        deadline = time.monotonic() + 20
        while cluster.state is ClientState.CONNECTED:  # egress image goes, or ingress NOT_CONNECTED
            cluster.offer(b"lost?")
            cluster.poll_egress()
            assert time.monotonic() < deadline, "the client never noticed the leader going"
            time.sleep(0.002)
        assert cluster.state is ClientState.AWAIT_NEW_LEADER
        fake.elect(1)
        poll_until(cluster, lambda: listener.new_leaders, what="NewLeaderEvent")
        offer_until_accepted(cluster, b"two")
        assert cluster.state is ClientState.CONNECTED
        poll_until(cluster, lambda: listener.messages[-1][2] == b"two", what="echo from the new leader")


def test_no_new_leader_within_the_timeout_closes_the_client(
    fake: FakeCluster, context_for: Callable[..., ClusterClientContext]
) -> None:
    clock = ManualClock()
    ctx = context_for(fake, egress_listener=Recorder(), nano_clock=clock.nano_time, new_leader_timeout_ns=2_000_000_000)
    cluster = AeronCluster.connect(ctx)
    fake.stop_member(0)
    deadline = time.monotonic() + 20
    while cluster.state is ClientState.CONNECTED:
        cluster.offer(b"x")
        cluster.poll_egress()
        assert time.monotonic() < deadline
        time.sleep(0.002)
    assert cluster.state is ClientState.AWAIT_NEW_LEADER
    clock.advance_ms(1999)
    cluster.poll_egress()
    assert cluster.state is ClientState.AWAIT_NEW_LEADER
    clock.advance_ms(1)
    assert cluster.poll_egress() >= 1
    assert cluster.is_closed


def test_new_leader_that_never_connects_closes_after_the_message_timeout(
    fake_factory: Callable[..., FakeCluster], context_for: Callable[..., ClusterClientContext]
) -> None:
    fake = fake_factory(members=2, leader_id=0)
    clock = ManualClock()
    listener = Recorder()
    ctx = context_for(fake, egress_listener=listener, nano_clock=clock.nano_time, message_timeout_ns=3_000_000_000)
    cluster = AeronCluster.connect(ctx)
    fake.stop_member(1)  # the announced leader is not listening
    fake.elect(1)
    poll_until(cluster, lambda: listener.new_leaders, what="NewLeaderEvent")
    assert cluster.state is ClientState.AWAIT_NEW_LEADER_CONNECTION
    assert not cluster.send_keep_alive()
    assert cluster.state is ClientState.AWAIT_NEW_LEADER_CONNECTION
    clock.advance_ms(3000)
    cluster.poll_egress()
    assert cluster.is_closed
