"""AeronCluster against the scripted fake cluster: connect, ingress bytes, echo, events, close."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from aeronpy.cluster.client import AeronCluster, ClientState, ClusterClientContext, EgressListener
from aeronpy.cluster.codecs import EventCode
from tests.cluster.client.fake_cluster import FakeCluster
from tests.conftest import wait_for


class Recorder(EgressListener):
    def __init__(self) -> None:
        self.messages: list[tuple[int, int, bytes]] = []
        self.events: list[tuple[int, int, int, int, EventCode, str]] = []
        self.new_leaders: list[tuple[int, int, int, str]] = []
        self.admin: list[tuple[Any, ...]] = []

    def on_message(self, cluster_session_id: int, timestamp: int, buffer: Any, offset: int, length: int,
                   header: Any) -> None:
        self.messages.append((cluster_session_id, timestamp, buffer.get_bytes(offset, length)))

    def on_session_event(self, correlation_id: int, cluster_session_id: int, leadership_term_id: int,
                         leader_member_id: int, code: EventCode, detail: str) -> None:
        self.events.append((correlation_id, cluster_session_id, leadership_term_id, leader_member_id, code, detail))

    def on_new_leader(self, cluster_session_id: int, leadership_term_id: int, leader_member_id: int,
                      ingress_endpoints: str) -> None:
        self.new_leaders.append((cluster_session_id, leadership_term_id, leader_member_id, ingress_endpoints))

    def on_admin_response(self, *args: Any) -> None:
        self.admin.append(args)


def poll_until(cluster: AeronCluster, condition: Callable[[], object], timeout: float = 10, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if cluster.poll_egress() == 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.001)


def test_connect_and_echo(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    listener = Recorder()
    with AeronCluster.connect(context_for(fake, egress_listener=listener)) as cluster:
        assert cluster.cluster_session_id == 1
        assert cluster.leadership_term_id == 5
        assert cluster.leader_member_id == 0
        assert cluster.state is ClientState.CONNECTED
        assert cluster.new_leader_timeout_ns == 2 * 3_000_000_000
        assert cluster.egress_image in cluster.egress_subscription.images  # from the OK event's header
        while cluster.offer(b"hello") < 0:
            cluster.poll_egress()
        poll_until(cluster, lambda: listener.messages, what="echo")
        assert listener.messages == [(1, 1234, b"hello")]
    assert cluster.is_closed


def test_ingress_bytes_follow_the_spec(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    listener = Recorder()
    with AeronCluster.connect(context_for(fake, egress_listener=listener, client_name="tester")) as cluster:
        (connect,) = fake.of("SessionConnectRequest")
        v = connect.values
        assert v["version"] == 0x000300
        assert v["response_stream_id"] == 102
        assert v["encoded_credentials"] == b""
        assert v["client_info"].startswith("name=tester version=")
        channel = v["response_channel"]
        assert channel.startswith("aeron:udp?endpoint=127.0.0.1:") and ":0|" not in channel
        assert "rejoin=false" in channel
        assert connect.data[:8] == bytes([16, 0, 3, 0, 111, 0, 17, 0])
        while cluster.offer(b"abc") < 0:
            cluster.poll_egress()
        wait_for(lambda: fake.of("SessionMessageHeader"), 10, "session message at the fake")
        (msg,) = fake.of("SessionMessageHeader")
        assert msg.data == (bytes([24, 0, 1, 0, 111, 0, 17, 0]) + (5).to_bytes(8, "little") + (1).to_bytes(8, "little")
                            + bytes(8) + b"abc")
        assert cluster.send_keep_alive()
        wait_for(lambda: fake.of("SessionKeepAlive"), 10, "keepalive at the fake")
        (keepalive,) = fake.of("SessionKeepAlive")
        assert keepalive.data == bytes([16, 0, 5, 0, 111, 0, 17, 0]) + (5).to_bytes(8, "little") + (1).to_bytes(8, "little")
    wait_for(lambda: fake.of("SessionCloseRequest"), 10, "close request at the fake")
    (close,) = fake.of("SessionCloseRequest")
    assert close.data == bytes([16, 0, 4, 0, 111, 0, 17, 0]) + (5).to_bytes(8, "little") + (1).to_bytes(8, "little")


def test_offer_forms_and_try_claim(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    from aeronpy.client.buffer_claim import BufferClaim
    from aeronpy.concurrent.atomic_buffer import AtomicBuffer

    listener = Recorder()
    with AeronCluster.connect(context_for(fake, egress_listener=listener)) as cluster:
        ab = AtomicBuffer(bytearray(b"..atomic.."))
        sends: list[Callable[[], int]] = [
            lambda: cluster.offer(bytearray(b"xxbytearrayxx"), 2, 9),
            lambda: cluster.offer(memoryview(b"view")),
            lambda: cluster.offer(ab, 2, 6),
            lambda: cluster.offerv([b"vec", bytearray(b"tor")]),
        ]
        for send in sends:
            while send() < 0:
                cluster.poll_egress()
        claim = BufferClaim()
        while cluster.try_claim(5, claim) < 0:
            cluster.poll_egress()
        claim.buffer.put_bytes(claim.offset + 32, b"claim")
        claim.commit()
        poll_until(cluster, lambda: len(listener.messages) == 5, what="five echoes")
        assert [m[2] for m in listener.messages] == [b"bytearray", b"view", b"atomic", b"vector", b"claim"]


def test_large_messages_are_reassembled(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    listener = Recorder()
    payload = bytes(range(256)) * 24  # 6 KiB: several frames each way
    with AeronCluster.connect(context_for(fake, egress_listener=listener)) as cluster:
        while cluster.offer(payload) < 0:
            cluster.poll_egress()
        poll_until(cluster, lambda: listener.messages, what="large echo")
        assert listener.messages[0][2] == payload


def test_egress_of_other_sessions_is_filtered(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    from aeronpy.cluster.codecs import T
    from aeronpy.protocol import sbe

    listener = Recorder()
    with AeronCluster.connect(context_for(fake, egress_listener=listener)) as cluster:
        other = sbe.encode(T.SessionMessageHeader, leadership_term_id=5, cluster_session_id=99, timestamp=1)
        mine = sbe.encode(T.SessionMessageHeader, leadership_term_id=5, cluster_session_id=1, timestamp=2)
        fake.send_raw(1, other + b"not mine")
        fake.send_raw(1, sbe.encode(T.SessionEvent, cluster_session_id=99, correlation_id=0, leadership_term_id=5,
                                    leader_member_id=0, code=EventCode.CLOSED, detail="other"))
        fake.send_raw(1, mine + b"mine")
        poll_until(cluster, lambda: listener.messages, what="own message")
        assert listener.messages == [(1, 2, b"mine")]
        assert listener.events == []
        assert cluster.state is ClientState.CONNECTED


def test_session_event_closed_closes_the_client(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    listener = Recorder()
    cluster = AeronCluster.connect(context_for(fake, egress_listener=listener))
    fake.send_session_event(1, EventCode.ERROR, "a warning")
    poll_until(cluster, lambda: listener.events, what="error event")
    assert cluster.state is ClientState.CONNECTED
    fake.send_session_event(1, EventCode.CLOSED, "TIMEOUT", correlation_id=7)
    poll_until(cluster, lambda: cluster.is_closed, what="close")
    assert listener.events[-1] == (7, 1, 5, 0, EventCode.CLOSED, "TIMEOUT")
    assert listener.events[0][4] is EventCode.ERROR
    assert cluster.egress_subscription.is_closed
    assert fake.of("SessionCloseRequest") == []  # closed by the cluster: nothing to tell it
    assert cluster.poll_egress() == 0
    cluster.close()


def test_admin_request_and_response(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    from aeronpy.cluster.codecs import AdminRequestType, AdminResponseCode

    listener = Recorder()
    with AeronCluster.connect(context_for(fake, egress_listener=listener)) as cluster:
        assert cluster.send_admin_request_to_take_a_snapshot(4242)
        poll_until(cluster, lambda: listener.admin, what="admin response")
        (request,) = fake.of("AdminRequest")
        assert request.values["leadership_term_id"] == 5 and request.values["cluster_session_id"] == 1
        assert request.values["correlation_id"] == 4242 and request.values["request_type"] == AdminRequestType.SNAPSHOT
        assert request.values["payload"] == b""
        assert listener.admin == [(1, 4242, AdminRequestType.SNAPSHOT, AdminResponseCode.UNAUTHORISED_ACCESS,
                                   "Execution of the SNAPSHOT request was not authorised", b"\x01\x02")]


def test_foreign_schema_needs_an_extension(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    from aeronpy.cluster.client import ClusterError, EgressListenerExtension

    foreign = bytes([4, 0, 9, 0, 200, 0, 1, 0]) + b"\x01\x02\x03\x04"
    with AeronCluster.connect(context_for(fake, egress_listener=Recorder())) as cluster:
        fake.send_raw(1, foreign)
        with pytest.raises(ClusterError, match="schemaId=111 actual=200"):
            poll_until(cluster, lambda: False, timeout=10, what="the foreign message")

    got: list[tuple[Any, ...]] = []

    class Extension(EgressListenerExtension):
        def on_extension_message(self, block_length: int, template_id: int, schema_id: int, version: int,
                                 buffer: Any, offset: int, length: int) -> None:
            got.append((block_length, template_id, schema_id, version, buffer.get_bytes(offset, length)))

    with AeronCluster.connect(context_for(fake, egress_listener=Recorder(),
                                          egress_listener_extension=Extension())) as cluster:
        fake.send_raw(cluster.cluster_session_id, foreign)
        poll_until(cluster, lambda: got, what="extension message")
        assert got == [(4, 9, 200, 1, b"\x01\x02\x03\x04")]


def test_no_listener_is_a_configuration_error(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    from aeronpy.errors import ConfigurationError

    with AeronCluster.connect(context_for(fake)) as cluster:
        assert cluster.send_keep_alive()
        while cluster.offer(b"x") < 0:
            cluster.poll_egress()
        with pytest.raises(ConfigurationError, match="egress_listener"):
            poll_until(cluster, lambda: False, what="the echo")


def test_closed_client_refuses_requests(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    from aeronpy.cluster.client import ClusterClosedError

    cluster = AeronCluster.connect(context_for(fake, egress_listener=Recorder()))
    cluster.close()
    cluster.close()
    with pytest.raises(ClusterClosedError):
        cluster.send_keep_alive()
    with pytest.raises(ClusterClosedError):
        cluster.send_admin_request_to_take_a_snapshot(1)
    assert cluster.offer(b"x") < 0
    assert "CLOSED" in repr(cluster)


def test_controlled_poll_honours_abort_and_break(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    from aeronpy.client.results import ControlledPollAction
    from aeronpy.cluster.client import ControlledEgressListener

    class Controlled(ControlledEgressListener):
        def __init__(self) -> None:
            self.seen: list[bytes] = []
            self.aborted = False

        def on_message(self, cluster_session_id: int, timestamp: int, buffer: Any, offset: int, length: int,
                       header: Any) -> ControlledPollAction:
            data = buffer.get_bytes(offset, length)
            if data == b"two" and not self.aborted:
                self.aborted = True
                return ControlledPollAction.ABORT
            self.seen.append(data)
            return ControlledPollAction.BREAK if data == b"one" else ControlledPollAction.CONTINUE

    listener = Controlled()
    with AeronCluster.connect(context_for(fake, controlled_egress_listener=listener)) as cluster:
        for payload in (b"one", b"two", b"three"):
            while cluster.offer(payload) < 0:
                cluster.controlled_poll_egress()
        wait_for(lambda: len(fake.of("SessionMessageHeader")) == 3, 10, "three messages at the fake")
        deadline = time.monotonic() + 10
        polls = []
        while len(listener.seen) < 3:
            polls.append(cluster.controlled_poll_egress())
            assert time.monotonic() < deadline
            time.sleep(0.001)
        assert listener.seen == [b"one", b"two", b"three"] and listener.aborted
        assert 1 in polls  # BREAK after "one" ended that poll


def test_controlled_poll_without_its_listener(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    from aeronpy.errors import ConfigurationError

    with AeronCluster.connect(context_for(fake, egress_listener=Recorder())) as cluster:
        while cluster.offer(b"x") < 0:
            cluster.poll_egress()
        with pytest.raises(ConfigurationError, match="controlled_egress_listener"):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                cluster.controlled_poll_egress()
                time.sleep(0.001)
