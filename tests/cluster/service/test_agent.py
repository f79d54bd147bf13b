"""The container's duty cycle against a scripted consensus module (cluster.md §4.9, §5.4):
start-up ack, JoinLog, log dispatch bounded by commit-pos, egress, role changes."""

from __future__ import annotations

import time
from typing import Any

from aeronpy.cluster.codecs import CloseReason, ClusterAction, ClusterTimeUnit, T, semantic_version
from aeronpy.cluster.counters import Role
from aeronpy.cluster.service.session_header import unpack_session_header
from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
from tests.cluster.service.conftest import RecordingService
from tests.cluster.service.fake_cm import FakeConsensusModule
from tests.conftest import wait_for

EGRESS = "aeron:ipc?term-length=64k"
EGRESS_STREAM = 102


def start_joined(fake_cm: FakeConsensusModule, container_factory: Any, role: Role = Role.LEADER,
                 service: RecordingService | None = None, **overrides: Any) -> tuple[RecordingService, Any]:
    """A started container that has joined the fake CM's log in ``role``."""
    service = service or RecordingService()
    fake_cm.allocate_recovery_state()
    container = container_factory(service, **overrides)
    fake_cm.await_ack(0)
    fake_cm.join_log(role=role)
    fake_cm.await_ack(1)
    return service, container


def append_term_event(fake_cm: FakeConsensusModule, term: int, timestamp: int = 10) -> int:
    fake_cm.leadership_term_id = term
    return fake_cm.append(T.NewLeadershipTermEvent, log_position=fake_cm.position_after(T.NewLeadershipTermEvent),
                          timestamp=timestamp, term_base_log_position=0, leader_member_id=0,
                          log_session_id=fake_cm.log.session_id, time_unit=ClusterTimeUnit.MILLIS,
                          app_version=semantic_version(0, 0, 1))


def collect_egress(subscription: Any, count: int, timeout: float = 10.0) -> list[bytes]:
    got: list[bytes] = []
    assembler = FragmentAssembler(lambda b, o, n, h: got.append(b.get_bytes(o, n)))
    deadline = time.monotonic() + timeout
    while len(got) < count:
        if subscription.poll(assembler.on_fragment, 10) == 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"egress delivered {len(got)} of {count}")
            time.sleep(0.001)
    return got


def test_start_without_snapshot_acks_with_client_id(fake_cm: FakeConsensusModule, container_factory: Any) -> None:
    service = RecordingService()
    container = container_factory(service)
    target = container.agent.duty_cycles + 50
    wait_for(lambda: container.agent.duty_cycles >= target, 10, "the container to cycle")
    assert service.names() == [], "must wait for the RecoveryState counter"
    assert not container.agent.is_started
    fake_cm.allocate_recovery_state(log_position=0, timestamp=77)
    ack = fake_cm.await_ack(0)
    assert ack.get_int("log_position") == 0
    assert ack.get_int("timestamp") == 77
    assert ack.get_int("relevant_id") == container.aeron.client_id
    assert ack.get_int("service_id") == 0
    assert service.of("start") == [("start", None)]
    assert service.cluster.role == Role.FOLLOWER


def test_join_log_acks_and_changes_role(fake_cm: FakeConsensusModule, container_factory: Any) -> None:
    service, _ = start_joined(fake_cm, container_factory)
    assert service.await_event("role") == [("role", Role.LEADER)]
    assert service.cluster.member_id == 0


def test_join_ack_carries_log_position_and_null_relevant_id(fake_cm: FakeConsensusModule,
                                                            container_factory: Any) -> None:
    fake_cm.allocate_recovery_state()
    container_factory(RecordingService())
    fake_cm.await_ack(0)
    fake_cm.join_log(role=Role.FOLLOWER, member_id=2)
    ack = fake_cm.await_ack(1)
    assert (ack.get_int("log_position"), ack.get_int("relevant_id")) == (0, -1)


def test_nothing_beyond_commit_position_is_applied(fake_cm: FakeConsensusModule, container_factory: Any,
                                                   cm_client: Any) -> None:
    service, _ = start_joined(fake_cm, container_factory)
    open_end = fake_cm.append_session_open(7, EGRESS)
    message_end = fake_cm.append_session_message(7, b"hello", timestamp=1234)
    service.await_cycles()
    assert "open" not in service.names()
    fake_cm.commit(open_end)
    service.await_event("open")
    service.await_cycles()
    assert "message" not in service.names(), "a message beyond commit-pos was applied"
    fake_cm.commit(message_end)
    [msg] = service.await_event("message")
    assert msg == ("message", 7, 1234, b"hello", message_end)


def test_leader_echoes_on_the_session_egress(fake_cm: FakeConsensusModule, container_factory: Any,
                                            cm_client: Any) -> None:
    egress = cm_client.add_subscription(EGRESS, EGRESS_STREAM)

    def echo(service: RecordingService, session_id: Any, ts: int, payload: bytes, pos: int) -> None:
        results_seen.append(service.cluster.get_client_session(session_id).offer(payload))

    results_seen: list[int] = []
    service, _ = start_joined(fake_cm, container_factory, service=RecordingService({"message": echo}))
    append_term_event(fake_cm, 4)
    fake_cm.append_session_open(5, EGRESS, EGRESS_STREAM, principal=b"alice")
    fake_cm.append_session_message(5, b"ping", timestamp=4321)
    fake_cm.commit()
    [open_event] = service.await_event("open")
    assert open_event[1:] == (5, 1000, EGRESS, b"alice")
    [reply] = collect_egress(egress, 1)
    assert unpack_session_header(reply) == (4, 5, 4321), "egress header: term of the log, session, message time"
    assert reply[32:] == b"ping"
    assert results_seen[0] > 0


def test_follower_offers_are_mocked(fake_cm: FakeConsensusModule, container_factory: Any, cm_client: Any) -> None:
    egress = cm_client.add_subscription(EGRESS, EGRESS_STREAM)
    results_seen: list[int] = []

    def echo(service: RecordingService, session_id: Any, *rest: Any) -> None:
        results_seen.append(service.cluster.get_client_session(session_id).offer(b"x"))

    service, _ = start_joined(fake_cm, container_factory, Role.FOLLOWER, RecordingService({"message": echo}))
    fake_cm.append_session_open(5, EGRESS, EGRESS_STREAM)
    fake_cm.append_session_message(5, b"ping")
    fake_cm.commit()
    service.await_event("message")
    assert results_seen == [1]
    assert egress.image_count == 0, "a follower must not open egress publications"


def test_every_log_template_is_dispatched(fake_cm: FakeConsensusModule, container_factory: Any) -> None:
    service, _ = start_joined(fake_cm, container_factory, Role.FOLLOWER)
    term_pos = fake_cm.position_after(T.NewLeadershipTermEvent)
    fake_cm.append(T.NewLeadershipTermEvent, leadership_term_id=3, log_position=term_pos, timestamp=10,
                   term_base_log_position=0, leader_member_id=1, log_session_id=fake_cm.log.session_id,
                   time_unit=ClusterTimeUnit.MICROS, app_version=semantic_version(0, 2, 0))
    fake_cm.leadership_term_id = 3
    fake_cm.append_session_open(9, EGRESS)
    fake_cm.append(T.TimerEvent, correlation_id=42, timestamp=20)
    fake_cm.append(T.MembershipChangeEvent, log_position=0, timestamp=21, leader_member_id=1, cluster_size=3,
                   change_type=0, member_id=2, cluster_members="")
    fake_cm.append_action(ClusterAction.SUSPEND, timestamp=22)
    big = bytes(range(256)) * 20  # fragmented (mtu 1408)
    fake_cm.append_session_message(-5, big, timestamp=23)
    fake_cm.append(T.SessionCloseEvent, cluster_session_id=9, timestamp=30, close_reason=CloseReason.TIMEOUT)
    end = fake_cm.commit()
    service.await_event("close")
    names = [n for n in service.names() if n != "role"]
    assert names == ["start", "term", "open", "timer", "message", "close"]
    assert service.of("term")[0][1:] == (3, term_pos, 10, 0, 1, fake_cm.log.session_id, ClusterTimeUnit.MICROS,
                                         semantic_version(0, 2, 0))
    assert service.of("timer") == [("timer", 42, 20)]
    [msg] = service.of("message")
    assert msg[1] is None and msg[3] == big
    assert service.of("close") == [("close", 9, 30, CloseReason.TIMEOUT)]
    assert service.cluster.client_sessions == ()
    assert service.cluster.time_unit == ClusterTimeUnit.MICROS
    assert service.cluster.log_position == end
    assert service.cluster.leadership_term_id == 3


def test_sessions_are_ordered_by_id(fake_cm: FakeConsensusModule, container_factory: Any) -> None:
    service, _ = start_joined(fake_cm, container_factory, Role.FOLLOWER)
    for sid in (5, 2, 9, 3):
        fake_cm.append_session_open(sid, EGRESS)
    fake_cm.commit()
    service.await_event("open", 4)
    assert [s.id for s in service.cluster.client_sessions] == [2, 3, 5, 9]


def test_end_of_log_image_returns_to_follower(fake_cm: FakeConsensusModule, container_factory: Any) -> None:
    service, _ = start_joined(fake_cm, container_factory)
    end = fake_cm.append_session_open(1, EGRESS)
    fake_cm.commit()
    service.await_event("open")
    fake_cm.log.close()
    service.await_event("role", 2)
    assert service.of("role")[-1] == ("role", Role.FOLLOWER)
    assert service.cluster.log_position == end


def test_second_join_log_follows_the_new_image(fake_cm: FakeConsensusModule, container_factory: Any,
                                               cm_client: Any) -> None:
    """A JoinLog while a log is active ends that log at the new join position; the next image
    must start where the container is."""
    service, _ = start_joined(fake_cm, container_factory, Role.FOLLOWER)
    end = fake_cm.append_session_open(1, EGRESS)
    fake_cm.commit()
    service.await_event("open")
    old = fake_cm.log
    term_length = 64 * 1024
    init = 7
    term_id = init + end // term_length
    channel = f"aeron:ipc?term-length=64k|init-term-id={init}|term-id={term_id}|term-offset={end % term_length}"
    fake_cm.log = cm_client.add_exclusive_publication(channel, 100)
    fake_cm.log_channel = "aeron:ipc?term-length=64k"
    fake_cm.send(T.JoinLog, log_position=end, max_log_position=(1 << 63) - 1, member_id=0,
                 log_session_id=fake_cm.log.session_id, log_stream_id=100, is_startup=0, role=int(Role.LEADER),
                 is_standby=0, log_channel=fake_cm.log_channel)
    ack = fake_cm.await_ack(2)
    assert ack.get_int("log_position") == end
    old.close()
    service.await_event("role")
    fake_cm.append_session_message(1, b"after")
    fake_cm.commit()
    service.await_event("message")
    assert service.of("role")[-1] == ("role", Role.LEADER)


def test_sessions_sharing_a_response_channel_keep_egress_when_one_closes(
        fake_cm: FakeConsensusModule, container_factory: Any, cm_client: Any) -> None:
    egress = cm_client.add_subscription(EGRESS, EGRESS_STREAM)

    def echo(service: RecordingService, session_id: Any, ts: int, payload: bytes, pos: int) -> None:
        service.cluster.get_client_session(session_id).offer(payload)

    service, _ = start_joined(fake_cm, container_factory, service=RecordingService({"message": echo}))
    fake_cm.append_session_open(1, EGRESS, EGRESS_STREAM)
    fake_cm.append_session_open(2, EGRESS, EGRESS_STREAM)
    fake_cm.append_session_message(1, b"one")
    fake_cm.append(T.SessionCloseEvent, cluster_session_id=1, timestamp=5, close_reason=CloseReason.CLIENT_ACTION)
    fake_cm.append_session_message(2, b"two")
    fake_cm.commit()
    replies = collect_egress(egress, 2)
    assert [(unpack_session_header(r)[1], r[32:]) for r in replies] == [(1, b"one"), (2, b"two")]


def test_non_responding_service_opens_no_egress(fake_cm: FakeConsensusModule, container_factory: Any,
                                                cm_client: Any) -> None:
    """``aeron.cluster.service.responder=false``: even the leader's offers find no publication."""
    from aeronpy.client import results

    egress = cm_client.add_subscription(EGRESS, EGRESS_STREAM)
    seen: list[int] = []

    def echo(service: RecordingService, session_id: Any, *rest: Any) -> None:
        seen.append(service.cluster.get_client_session(session_id).offer(b"x"))

    service, _ = start_joined(fake_cm, container_factory, Role.LEADER, RecordingService({"message": echo}),
                              is_responding_service=False)
    fake_cm.append_session_open(5, EGRESS, EGRESS_STREAM)
    fake_cm.append_session_message(5, b"ping")
    fake_cm.commit()
    service.await_event("message")
    assert seen == [results.NOT_CONNECTED]
    assert egress.image_count == 0
