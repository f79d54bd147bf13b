"""A one-member cluster in one process: driver + archive + consensus module + service container
(cluster.md §3, §4.5, §4.9-§4.11), driven by the real cluster client."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aeronpy.cluster import counters as cc
from aeronpy.cluster.codecs import CloseReason
from aeronpy.cluster.examples.echo import EchoService
from aeronpy.cluster.service import ClusteredService
from tests.cluster.consensus.harness import Collector, Member, connect_client, members_string, new_base_dir
from tests.conftest import wait_for


class TimerService(ClusteredService):
    """``timer:<id>`` schedules timer <id> 50 ms ahead; its expiry offers a service message;
    everything seen is recorded."""

    def __init__(self) -> None:
        self.cluster: Any = None
        self.events: list[tuple[Any, ...]] = []
        self.lock = threading.Lock()

    def _add(self, *event: Any) -> None:
        with self.lock:
            self.events.append(event)

    def on_start(self, cluster: Any, snapshot_image: Any) -> None:
        self.cluster = cluster

    def on_session_open(self, session: Any, timestamp: int) -> None:
        self._add("open", session.id)

    def on_session_close(self, session: Any, timestamp: int, close_reason: Any) -> None:
        self._add("close", session.id, CloseReason(close_reason))

    def on_session_message(self, session: Any, timestamp: int, buffer: Any, offset: int, length: int,
                           header: Any) -> None:
        data = buffer.get_bytes(offset, length)
        self._add("message", None if session is None else session.id, data)
        if data.startswith(b"timer:"):
            self.cluster.schedule_timer_reliably(int(data[6:]), timestamp + 50)

    def on_timer_event(self, correlation_id: int, timestamp: int) -> None:
        self._add("timer", correlation_id)
        self.cluster.offer_reliably(b"fired:%d" % correlation_id)

    def kinds(self, kind: str) -> list[tuple[Any, ...]]:
        with self.lock:
            return [e for e in self.events if e[0] == kind]


def _start(tmp_path: Path, service: Any, **props: str) -> Iterator[Member]:
    m = Member(0, members_string(1), new_base_dir(tmp_path), service, props=dict(props))
    try:
        m.start()
        wait_for(lambda: m.cm.agent.election is None and m.cm.agent.role == cc.Role.LEADER, 20, "the leader")
        yield m
    finally:
        m.stop()
        m.cleanup()


@pytest.fixture
def echo_node(tmp_path: Path) -> Iterator[Member]:
    yield from _start(tmp_path, EchoService())


@pytest.fixture
def timer_node(tmp_path: Path) -> Iterator[Member]:
    yield from _start(tmp_path, TimerService(), **{"aeron.cluster.session.timeout": "1s"})


def _counter(m: Member, type_id: int) -> int:
    reader = m.cm.agent.aeron.counters_reader
    return int(reader.get_counter_value(cc.find_counter(reader, type_id, 0)))


def _send_all(client: Any, messages: list[bytes]) -> None:
    deadline = time.monotonic() + 20
    for msg in messages:
        while client.offer(msg) < 0:
            client.poll_egress()
            assert time.monotonic() < deadline, "ingress stuck"
            time.sleep(0.001)


def test_single_member_elects_itself_and_echoes_in_order(echo_node: Member) -> None:
    collector = Collector()
    got = collector.messages
    client = connect_client(echo_node.members, echo_node.aeron_dir, listener=collector)
    try:
        assert client.leader_member_id == 0 and client.cluster_session_id == 1
        messages = [b"msg-%04d" % i for i in range(200)]
        _send_all(client, messages)

        def all_back() -> bool:
            client.poll_egress()
            return len(got) >= len(messages)

        wait_for(all_back, 20, "200 echoes")
        assert got == messages
        assert echo_node.service.message_count == 200
        assert _counter(echo_node, cc.COMMIT_POSITION_TYPE_ID) >= echo_node.cm.agent.log_publisher.position - 256
        assert _counter(echo_node, cc.NODE_ROLE_TYPE_ID) == cc.Role.LEADER
        assert _counter(echo_node, cc.CONSENSUS_MODULE_STATE_TYPE_ID) == cc.ConsensusModuleState.ACTIVE
    finally:
        client.close()


def test_log_holds_what_the_leader_appended_with_its_timestamps(echo_node: Member) -> None:
    """The log recording in the local archive is the leader's log: SessionOpenEvent, then the
    session messages rewritten with the leader's term, session id and cluster timestamp."""
    from aeronpy.cluster.codecs import CLUSTER_SCHEMA
    from aeronpy.protocol import sbe

    client = connect_client(echo_node.members, echo_node.aeron_dir)
    before = int(time.time() * 1000)
    try:
        _send_all(client, [b"alpha", b"beta"])
        wait_for(lambda: echo_node.service.message_count == 2, 10, "2 messages applied")
    finally:
        client.close()
    agent = echo_node.cm.agent
    wait_for(lambda: agent.commit_position() >= agent.log_publisher.position, 10, "commit")
    from aeronpy.archive.client import AeronArchive, AeronArchiveContext

    arc = AeronArchive.connect(AeronArchiveContext(aeron_dir=echo_node.aeron_dir, control_response_stream_id=777))
    try:
        sub = arc.replay(agent.log_recording_id, "aeron:ipc", 4242, 0, agent.commit_position())
        names: list[tuple[str, Any]] = []

        def on(b: Any, o: int, n: int, h: Any) -> None:
            d = sbe.decode(CLUSTER_SCHEMA, b.get_bytes(o, n))
            assert d is not None
            names.append((d.spec.name, d))

        wait_for(lambda: sub.poll(on, 10) or len(names) >= 5, 10, "the log replay")
        sub.close()
    finally:
        arc.close()
    kinds = [n for n, _ in names]
    assert kinds[:4] == ["NewLeadershipTermEvent", "SessionOpenEvent", "SessionMessageHeader", "SessionMessageHeader"]
    term_event = names[0][1]
    assert term_event.get_int("leadership_term_id") == 0 and term_event.get_int("term_base_log_position") == 0
    for _, d in names[2:4]:
        assert d.get_int("cluster_session_id") == 1 and d.get_int("leadership_term_id") == 0
        assert d.get_int("timestamp") >= before - 1000


def test_timers_fire_through_the_log_and_service_messages_are_sequenced(timer_node: Member) -> None:
    svc = timer_node.service
    client = connect_client(timer_node.members, timer_node.aeron_dir)
    try:
        _send_all(client, [b"timer:7", b"timer:8"])
        wait_for(lambda: len(svc.kinds("message")) >= 4, 10, "timers and their service messages")
        assert [e[1] for e in svc.kinds("timer")] == [7, 8]
        service_messages = [e for e in svc.kinds("message") if e[1] is None]
        assert [e[2] for e in service_messages] == [b"fired:7", b"fired:8"]
        assert len(timer_node.cm.agent.timer_service) == 0
    finally:
        client.close()


def test_client_close_and_session_timeout(timer_node: Member) -> None:
    svc = timer_node.service
    first = connect_client(timer_node.members, timer_node.aeron_dir)
    wait_for(lambda: svc.kinds("open"), 10, "the first session open")
    first.close()
    wait_for(lambda: svc.kinds("close"), 10, "the first session close")
    assert svc.kinds("close")[0][2] == CloseReason.CLIENT_ACTION
    second = connect_client(timer_node.members, timer_node.aeron_dir)
    try:
        sid = second.cluster_session_id
        assert sid == 2
        wait_for(lambda: len(svc.kinds("close")) == 2, 10, "the idle session to time out")
        assert svc.kinds("close")[1] == ("close", sid, CloseReason.TIMEOUT)
        assert _counter(timer_node, cc.CLIENT_TIMEOUT_COUNT_TYPE_ID) == 1
    finally:
        second.close()


def test_hostile_ingress_is_counted_and_dropped(echo_node: Member) -> None:
    """Garbage, unknown templates, foreign schemas and messages for unknown sessions never
    reach the log; the CM counts them and carries on serving clients."""
    from aeronpy.cluster.codecs import T
    from aeronpy.protocol import sbe

    aeron = echo_node.cm.agent.aeron
    endpoint = echo_node.cm.agent.this_member.ingress_endpoint
    pub = aeron.add_publication(f"aeron:udp?endpoint={endpoint}", 101)
    wait_for(lambda: pub.is_connected, 10, "a raw ingress publication")
    position_before = echo_node.cm.agent.log_publisher.position
    junk = [
        b"\x00" * 3,
        b"\xff" * 64,
        sbe.encode(T.SessionEvent, cluster_session_id=1, detail="x"),
        b"\x10\x00\x03\x00\x65\x00\x0e\x00" + b"\x00" * 16,
        sbe.encode(T.SessionMessageHeader, leadership_term_id=0, cluster_session_id=99, timestamp=0) + b"payload",
        sbe.encode(T.SessionConnectRequest, correlation_id=1, response_stream_id=102, version=3 << 16,
                   response_channel="not a channel"),
    ]
    for message in junk:
        wait_for(lambda m=message: pub.offer(m) > 0, 5, "offer")
    wait_for(lambda: _counter(echo_node, cc.INVALID_REQUEST_COUNT_TYPE_ID) >= 5, 10, "invalid requests counted")
    assert echo_node.cm.agent.log_publisher.position == position_before
    from aeronpy.cluster.mark_file import ClusterMarkFile

    errors = " ".join(e[3] for e in ClusterMarkFile.read(f"{echo_node.cluster_dir}/cluster-mark.dat").errors())
    assert "unknown session 99" in errors and "invalid request" in errors
    client = connect_client(echo_node.members, echo_node.aeron_dir)
    try:
        _send_all(client, [b"still-alive"])
        wait_for(lambda: echo_node.service.message_count == 1, 10, "the cluster to go on")
    finally:
        client.close()


def test_hostile_consensus_messages_do_not_disturb_the_leader(echo_node: Member) -> None:
    """Consensus traffic from strangers (unknown member ids), garbage and ingress templates on
    the consensus stream are dropped; the member stays leader of its term."""
    from aeronpy.cluster.codecs import T
    from aeronpy.protocol import sbe

    agent = echo_node.cm.agent
    aeron = agent.aeron
    pub = aeron.add_publication(f"aeron:udp?endpoint={agent.this_member.consensus_endpoint}", 108)
    wait_for(lambda: pub.is_connected, 10, "a raw consensus publication")
    term = agent.leadership_term_id
    junk = [
        b"\x01\x02",
        sbe.encode(T.SessionConnectRequest, correlation_id=1, response_stream_id=1, response_channel="aeron:ipc"),
        sbe.encode(T.CanvassPosition, log_leadership_term_id=99, log_position=1 << 40, leadership_term_id=99,
                   follower_member_id=77),
        sbe.encode(T.Vote, candidate_term_id=5, log_leadership_term_id=5, log_position=0, candidate_member_id=0,
                   follower_member_id=9, vote=1),
        sbe.encode(T.AppendPosition, leadership_term_id=term, log_position=1 << 50, follower_member_id=42, flags=0),
        sbe.encode(T.CommitPosition, leadership_term_id=term, log_position=1 << 50, leader_member_id=5),
        sbe.encode(T.StopCatchup, leadership_term_id=term, follower_member_id=3),
    ]
    invalid_before = _counter(echo_node, cc.INVALID_REQUEST_COUNT_TYPE_ID)
    for message in junk:
        wait_for(lambda m=message: pub.offer(m) > 0, 5, "offer")
    wait_for(lambda: _counter(echo_node, cc.INVALID_REQUEST_COUNT_TYPE_ID) >= invalid_before + 2, 10, "counted")
    time.sleep(0.2)  # let the strangers' messages be handled (nothing to wait for: they change nothing)
    assert agent.role == cc.Role.LEADER and agent.election is None and agent.leadership_term_id == term
    assert agent.commit_position() < 1 << 40
    client = connect_client(echo_node.members, echo_node.aeron_dir)
    try:
        _send_all(client, [b"ok"])
        wait_for(lambda: echo_node.service.message_count == 1, 10, "service still applying")
    finally:
        client.close()


def test_suspend_holds_ingress_until_resume(echo_node: Member) -> None:
    agent = echo_node.cm.agent
    client = connect_client(echo_node.members, echo_node.aeron_dir)
    try:
        agent.counters["toggle"].set(cc.ToggleState.SUSPEND)
        wait_for(lambda: agent.state == cc.ConsensusModuleState.SUSPENDED, 10, "SUSPENDED")
        _send_all(client, [b"held"])
        time.sleep(0.3)  # nothing may happen: the message must wait for RESUME
        assert echo_node.service.message_count == 0
        agent.counters["toggle"].set(cc.ToggleState.RESUME)
        wait_for(lambda: agent.state == cc.ConsensusModuleState.ACTIVE, 10, "ACTIVE")
        assert agent.counters["toggle"].get() == cc.ToggleState.NEUTRAL
        _send_all(client, [b"after"])
        wait_for(lambda: echo_node.service.message_count >= 1, 10, "ingress sequenced again")
    finally:
        client.close()


def test_abort_terminates_without_a_snapshot(tmp_path: Path) -> None:
    terminated: list[bool] = []
    m = Member(0, members_string(1), new_base_dir(tmp_path), EchoService())
    try:
        m.start()
        agent = m.cm.agent
        agent.ctx.termination_hook = lambda: terminated.append(True)
        wait_for(lambda: agent.election is None and agent.role == cc.Role.LEADER, 20, "the leader")
        agent.counters["toggle"].set(cc.ToggleState.ABORT)
        wait_for(lambda: m.cm.is_closed, 20, "the consensus module to stop")
        assert terminated == [True]
        assert agent.state == cc.ConsensusModuleState.CLOSED
        from aeronpy.cluster.recording_log import EntryType, RecordingLog

        with RecordingLog(m.cluster_dir, create=False, read_only=True) as rl:
            assert not [e for e in rl.entries if e.entry_type == EntryType.SNAPSHOT]
            assert rl.find_last_term() is not None and rl.find_last_term().log_position >= 0
    finally:
        m.stop()
        m.cleanup()


def test_snapshot_then_restart_restores_the_service(tmp_path: Path) -> None:
    base = new_base_dir(tmp_path)
    members = members_string(1)
    m = Member(0, members, base, EchoService())
    try:
        m.start()
        agent = m.cm.agent
        wait_for(lambda: agent.election is None and agent.role == cc.Role.LEADER, 20, "the leader")
        client = connect_client(members, m.aeron_dir)
        _send_all(client, [b"x%d" % i for i in range(10)])
        wait_for(lambda: m.service.message_count == 10, 10, "10 applied")
        agent.counters["toggle"].set(cc.ToggleState.SNAPSHOT)
        wait_for(lambda: agent.counters["snapshots"].get() == 1, 20, "the snapshot")
        assert agent.counters["toggle"].get() == cc.ToggleState.NEUTRAL
        _send_all(client, [b"y%d" % i for i in range(5)])
        wait_for(lambda: m.service.message_count == 15, 10, "15 applied")
        digest = m.service.state_hash
        client.close()
        m.stop()
        m.service = EchoService()
        m.start()
        wait_for(lambda: m.cm.agent.election is None and m.cm.agent.role == cc.Role.LEADER, 20, "leader again")
        wait_for(lambda: m.service.message_count == 15, 20, "state restored")
        assert m.service.state_hash == digest
        plan = m.cm.agent.recovery_plan
        assert plan.snapshots and plan.snapshots[0].log_position > 0
    finally:
        m.stop()
        m.cleanup()


class _AdminCollector(Collector):
    def __init__(self) -> None:
        super().__init__()
        self.admin: list[tuple[int, int, str]] = []

    def on_admin_response(self, cluster_session_id: int, correlation_id: int, request_type: Any, response_code: Any,
                          message: str, payload: bytes) -> None:
        self.admin.append((correlation_id, int(response_code), message))


def test_admin_snapshot_request_is_refused_by_default(echo_node: Member) -> None:
    from aeronpy.cluster.codecs import AdminResponseCode

    listener = _AdminCollector()
    client = connect_client(echo_node.members, echo_node.aeron_dir, listener=listener)
    try:
        assert client.send_admin_request_to_take_a_snapshot(77)

        def answered() -> bool:
            client.poll_egress()
            return bool(listener.admin)

        wait_for(answered, 10, "the admin response")
        assert listener.admin[0][:2] == (77, AdminResponseCode.UNAUTHORISED_ACCESS)
        assert "not authorised" in listener.admin[0][2]
        assert echo_node.cm.agent.counters["snapshots"].get() == 0
    finally:
        client.close()


def test_log_back_pressure_holds_ingress_and_loses_nothing(tmp_path: Path) -> None:
    """A small log term and a burst of large messages: the log back-pressures, ingress waits
    (the message is redelivered), and every message is applied once, in order."""
    gen = _start(tmp_path, EchoService(), **{"aeron.cluster.log.channel": "aeron:udp?term-length=64k"})
    node = next(gen)
    collector = Collector()
    client = connect_client(node.members, node.aeron_dir, listener=collector)
    try:
        messages = [i.to_bytes(4, "little") + bytes(2000) for i in range(600)]
        deadline = time.monotonic() + 60
        sent = 0
        while len(collector.messages) < len(messages):
            if sent < len(messages) and client.offer(messages[sent]) > 0:
                sent += 1
            else:
                client.poll_egress()
            assert time.monotonic() < deadline, f"{len(collector.messages)} echoed"
        assert collector.messages == messages
        assert node.service.message_count == len(messages)
    finally:
        client.close()
        gen.close()


def test_validate_recording_log_toggle_checks_entries_against_the_archive(echo_node: Member) -> None:
    from tests.cluster.cluster_processes import tool

    agent = echo_node.cm.agent
    code, out = tool(echo_node.cluster_dir, "validate-recording-log")
    assert code == 0, out
    assert agent.counters["node_control"].get() == cc.NodeControlToggle.NEUTRAL
    agent.recording_log.append_snapshot(424242, agent.leadership_term_id, 0, 0, 0, -1)
    code, out = tool(echo_node.cluster_dir, "validate-recording-log")
    assert code == 0, out
    bogus = [e for e in agent.recording_log.entries if e.recording_id == 424242]
    assert bogus and not bogus[0].is_valid


def test_heartbeat_request_is_answered_on_its_response_channel(echo_node: Member) -> None:
    from aeronpy.cluster.codecs import CLUSTER_SCHEMA, T
    from aeronpy.protocol import sbe
    from tests.fakes import free_udp_port

    agent = echo_node.cm.agent
    aeron = agent.aeron
    port = free_udp_port()
    responses = aeron.add_subscription(f"aeron:udp?endpoint=localhost:{port}", 4711)
    pub = aeron.add_publication(f"aeron:udp?endpoint={agent.this_member.consensus_endpoint}", 108)
    wait_for(lambda: pub.is_connected, 10, "a raw consensus publication")
    request = sbe.encode(T.HeartbeatRequest, correlation_id=99, response_stream_id=4711,
                         response_channel=f"aeron:udp?endpoint=localhost:{port}", encoded_credentials=b"")
    wait_for(lambda: pub.offer(request) > 0, 5, "offer")
    got: list[int] = []

    def on(b: Any, o: int, n: int, h: Any) -> None:
        d = sbe.decode(CLUSTER_SCHEMA, b.get_bytes(o, n))
        assert d is not None and d.spec.name == "HeartbeatResponse"
        got.append(d.get_int("correlation_id"))

    wait_for(lambda: responses.poll(on, 10) or got, 10, "the HeartbeatResponse")
    assert got == [99]


def test_leader_log_recording_stopped_from_outside_triggers_an_election_and_the_log_goes_on(
        echo_node: Member) -> None:
    """Someone stops the leader's log recording (e.g. an operator's archive tool): the leader
    cannot commit what it does not record, so it enters an election (as Aeron), wins it again,
    extends the same recording, and clients are served as before."""
    from aeronpy.archive.client import AeronArchive, AeronArchiveContext

    agent = echo_node.cm.agent
    collector = Collector()
    client = connect_client(echo_node.members, echo_node.aeron_dir, listener=collector)
    try:
        _send_all(client, [b"before"])
        wait_for(lambda: client.poll_egress() >= 0 and b"before" in collector.messages, 20, "the first echo")
        elections = _counter(echo_node, cc.ELECTION_COUNT_TYPE_ID)
        recording_id = agent.log_recording_id
        arc = AeronArchive.connect(AeronArchiveContext(aeron_dir=echo_node.aeron_dir, control_response_stream_id=9301))
        try:
            assert arc.stop_recording_by_identity(recording_id)
        finally:
            arc.close()
        wait_for(lambda: _counter(echo_node, cc.ELECTION_COUNT_TYPE_ID) > elections, 20, "an election")
        wait_for(lambda: agent.election is None and agent.role == cc.Role.LEADER, 30, "the leader again")
        assert agent.log_recording_id == recording_id, "the same recording, extended"

        def echoed_after() -> bool:
            client.poll_egress()
            if client.is_closed:
                return False
            client.offer(b"after")
            return b"after" in collector.messages

        wait_for(echoed_after, 30, "an echo after the election")
    finally:
        client.close()
