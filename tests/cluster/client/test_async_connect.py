"""AsyncConnect (§3.1) against the fake cluster: steps, REDIRECT, challenge, ERROR, timeouts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from aeronpy.cluster.client import (
    AeronCluster,
    AuthenticationError,
    ClusterClientContext,
    ClusterError,
    ClusterTimeoutError,
    ConnectState,
    StaticCredentialsSupplier,
)
from aeronpy.testing import ManualClock
from tests.cluster.client.fake_cluster import FakeCluster
from tests.cluster.client.test_aeron_cluster import Recorder, poll_until
from tests.fakes import free_udp_port


def drive(connect: Any, timeout: float = 10) -> AeronCluster:
    deadline = time.monotonic() + timeout
    while True:
        cluster = connect.poll()
        if cluster is not None:
            return cluster  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"connect stuck in {connect.state}")
        time.sleep(0.0005)


def test_poll_steps_through_every_state(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    connect = AeronCluster.async_connect(context_for(fake, egress_listener=Recorder()))
    seen = [connect.step]
    deadline = time.monotonic() + 10
    cluster = None
    while cluster is None:
        cluster = connect.poll()
        if connect.step != seen[-1]:
            seen.append(connect.step)
        assert time.monotonic() < deadline
        time.sleep(0.0005)
    assert seen == [-1, 0, 1, 2, 3, 4, 5]
    assert connect.state is ConnectState.DONE
    connect.close()  # nothing to release once DONE: the client keeps its resources
    assert cluster.ingress_publication.is_connected
    cluster.close()


def test_redirect_from_a_follower_reaches_the_leader(
    fake_factory: Callable[..., FakeCluster], context_for: Callable[..., ClusterClientContext]
) -> None:
    fake = fake_factory(members=3, leader_id=2)
    only_follower = f"0={fake.members[0].endpoint}"
    cluster = AeronCluster.connect(context_for(fake, ingress_endpoints=only_follower, egress_listener=Recorder()))
    try:
        assert cluster.leader_member_id == 2
        assert cluster.cluster_session_id == 1
        connects = fake.of("SessionConnectRequest")
        assert [c.member_id for c in connects] == [0, 2]
        assert connects[0].values["response_channel"] == connects[1].values["response_channel"]
        assert connects[0].values["correlation_id"] != connects[1].values["correlation_id"]
        while cluster.offer(b"to the leader") < 0:
            cluster.poll_egress()
        listener = cluster.egress_listener
        poll_until(cluster, lambda: listener.messages, what="echo from the leader")
        assert fake.of("SessionMessageHeader")[0].member_id == 2
    finally:
        cluster.close()


def test_all_members_at_once_first_connected_wins(
    fake_factory: Callable[..., FakeCluster], context_for: Callable[..., ClusterClientContext]
) -> None:
    fake = fake_factory(members=3, leader_id=1)
    with AeronCluster.connect(context_for(fake, egress_listener=Recorder())) as cluster:
        assert cluster.leader_member_id == 1
        # the non-leader publications are released once connected
        assert cluster.ingress_publication.channel.endswith(fake.members[1].endpoint)


def test_error_event_raises_cluster_error(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    fake.connect_mode = "error"
    ctx = context_for(fake, egress_listener=Recorder())
    with pytest.raises(ClusterError, match="concurrent session limit"):
        AeronCluster.connect(ctx)


def test_authentication_rejected(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    fake.connect_mode = "auth_reject"
    with pytest.raises(AuthenticationError, match="not welcome"):
        AeronCluster.connect(context_for(fake, egress_listener=Recorder()))


def test_challenge_is_answered_by_the_credentials_supplier(
    fake: FakeCluster, context_for: Callable[..., ClusterClientContext]
) -> None:
    fake.connect_mode = "challenge"
    challenges: list[bytes] = []

    def answer(challenge: bytes) -> bytes:
        challenges.append(challenge)
        return b"friend"

    supplier = StaticCredentialsSupplier(b"user:secret", answer)
    with AeronCluster.connect(context_for(fake, egress_listener=Recorder(), credentials_supplier=supplier)) as cluster:
        assert challenges == [b"who-goes-there"]
        (connect,) = fake.of("SessionConnectRequest")
        assert connect.values["encoded_credentials"] == b"user:secret"
        (response,) = fake.of("ChallengeResponse")
        assert response.values["cluster_session_id"] == cluster.cluster_session_id
        assert response.values["encoded_credentials"] == b"friend"
        assert response.values["correlation_id"] != connect.values["correlation_id"]


def test_wrong_challenge_answer_is_rejected(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    fake.connect_mode = "challenge"
    supplier = StaticCredentialsSupplier(b"", lambda c: b"enemy")
    with pytest.raises(AuthenticationError, match="bad credentials"):
        AeronCluster.connect(context_for(fake, egress_listener=Recorder(), credentials_supplier=supplier))


def test_silent_cluster_times_out_and_releases_everything(
    fake: FakeCluster, context_for: Callable[..., ClusterClientContext]
) -> None:
    fake.connect_mode = "silent"
    clock = ManualClock()
    ctx = context_for(fake, egress_listener=Recorder(), nano_clock=clock.nano_time, message_timeout_ns=1_000_000_000)
    connect = AeronCluster.async_connect(ctx)
    deadline = time.monotonic() + 10
    while connect.step < ConnectState.POLL_RESPONSE:  # type: ignore[attr-defined]
        assert connect.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.0005)
    subscription = connect.egress_subscription  # type: ignore[attr-defined]
    publication = connect.ingress_publication  # type: ignore[attr-defined]
    clock.advance_ms(999)
    assert connect.poll() is None
    clock.advance_ms(1)
    with pytest.raises(ClusterTimeoutError, match="state=POLL_RESPONSE messageTimeout=1s"):
        connect.poll()
    assert subscription.is_closed and publication.is_closed
    with pytest.raises(ClusterError, match="closed"):
        connect.poll()


def test_nobody_listening_times_out_awaiting_a_publication(
    driver: Any, aeron_dir: str, client_factory: Callable[..., Any]
) -> None:
    ctx = ClusterClientContext.from_properties(
        env={}, aeron_dir=aeron_dir, aeron=client_factory(), ingress_channel="aeron:udp",
        ingress_endpoints=f"0=127.0.0.1:{free_udp_port()},1=127.0.0.1:{free_udp_port()}",
        egress_channel="aeron:udp?endpoint=127.0.0.1:0", message_timeout_ns=300_000_000,
    )
    started = time.monotonic()
    with pytest.raises(ClusterTimeoutError, match="AWAIT_PUBLICATION_CONNECTED"):
        AeronCluster.connect(ctx)
    assert time.monotonic() - started < 15  # the 300 ms message timeout, not a driver timeout


def test_single_ingress_channel_without_endpoints(
    fake: FakeCluster, context_for: Callable[..., ClusterClientContext]
) -> None:
    channel = f"aeron:udp?endpoint={fake.members[0].endpoint}"
    with AeronCluster.connect(context_for(fake, ingress_channel=channel, ingress_endpoints=None,
                                          egress_listener=Recorder())) as cluster:
        assert cluster.cluster_session_id == 1


def test_concurrent_ingress_publication(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    from aeronpy.client.publication import ExclusivePublication

    with AeronCluster.connect(context_for(fake, egress_listener=Recorder(), is_ingress_exclusive=False)) as cluster:
        assert not isinstance(cluster.ingress_publication, ExclusivePublication)
    with AeronCluster.connect(context_for(fake, egress_listener=Recorder())) as cluster:
        assert isinstance(cluster.ingress_publication, ExclusivePublication)


def test_owned_aeron_client_is_closed_with_the_session(
    fake: FakeCluster, context_for: Callable[..., ClusterClientContext]
) -> None:
    cluster = AeronCluster.connect(context_for(fake, egress_listener=Recorder(), aeron=None))
    aeron = cluster.aeron
    assert not aeron.is_closed
    cluster.close()
    assert aeron.is_closed


def test_new_leader_timeout_defaults(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    fake.leader_heartbeat_timeout_ns = None  # an older cluster: field absent -> 2 x 10 s
    with AeronCluster.connect(context_for(fake, egress_listener=Recorder())) as cluster:
        assert cluster.new_leader_timeout_ns == 20_000_000_000
    with AeronCluster.connect(context_for(fake, egress_listener=Recorder(), new_leader_timeout_ns=123)) as cluster:
        assert cluster.new_leader_timeout_ns == 123


def test_ipc_ingress_and_egress(driver: Any, aeron_dir: str, client_factory: Callable[..., Any]) -> None:
    fake = FakeCluster(client_factory(), {0: "ipc"}).start()
    try:
        ctx = ClusterClientContext.from_properties(
            env={}, aeron_dir=aeron_dir, aeron=client_factory(), ingress_channel="aeron:ipc",
            egress_channel="aeron:ipc", egress_listener=Recorder(),
        )
        with AeronCluster.connect(ctx) as cluster:
            (connect,) = fake.of("SessionConnectRequest")
            assert connect.values["response_channel"] == "aeron:ipc"
            while cluster.offer(b"over ipc") < 0:
                cluster.poll_egress()
            listener = cluster.egress_listener
            poll_until(cluster, lambda: listener.messages, what="echo over IPC")
            assert listener.messages[0][2] == b"over ipc"
    finally:
        fake.close()


def test_unresolvable_members_fail_with_the_drivers_reasons(
    driver: Any, aeron_dir: str, client_factory: Callable[..., Any]
) -> None:
    ctx = ClusterClientContext.from_properties(
        env={}, aeron_dir=aeron_dir, aeron=client_factory(), ingress_channel="aeron:udp",
        ingress_endpoints="0=no-such-host.invalid:9000,1=also-not.invalid:9001",
        egress_channel="aeron:udp?endpoint=127.0.0.1:0", message_timeout_ns=10_000_000_000,
    )
    with pytest.raises(ClusterError, match="no ingress publication could be added: member 0 .*member 1"):
        AeronCluster.connect(ctx)


def test_redirect_to_an_unknown_leader_waits_out_the_deadline(
    fake_factory: Callable[..., FakeCluster], context_for: Callable[..., ClusterClientContext]
) -> None:
    fake = fake_factory(members=2, leader_id=7)  # every member is a follower naming a leader it cannot name
    ctx = context_for(fake, egress_listener=Recorder(), message_timeout_ns=1_000_000_000)
    with pytest.raises(ClusterTimeoutError, match=r"state=AWAIT_PUBLICATION_CONNECTED .*REDIRECT named leader 7"):
        AeronCluster.connect(ctx)
    assert len(fake.of("SessionConnectRequest")) == 1  # no storm of requests to the followers


def test_abandoned_connect_leaves_nothing_behind(driver: Any, aeron_dir: str, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    ctx = ClusterClientContext.from_properties(
        env={}, aeron_dir=aeron_dir, aeron=aeron, ingress_channel="aeron:udp",
        ingress_endpoints=f"0=127.0.0.1:{free_udp_port()},1=127.0.0.1:{free_udp_port()}",
        egress_channel="aeron:udp?endpoint=127.0.0.1:0",
    )
    for polls in (1, 2, 3, 50):  # abandoned at different steps, registrations pending or done
        connect = AeronCluster.async_connect(ctx)
        for _ in range(polls):
            assert connect.poll() is None
            time.sleep(0.001)
        connect.close()
        assert not aeron.conductor.publications and not aeron.conductor.subscriptions, polls
