"""The ``Cluster`` API a service calls (cluster.md §5.2, §5.3): timers, service messages,
session close, the determinism guards of lifecycle callbacks."""

from __future__ import annotations

from typing import Any

import pytest

from aeronpy.cluster.counters import Role
from aeronpy.cluster.service import ClusterError
from aeronpy.cluster.service.session_header import unpack_session_header
from tests.cluster.service.conftest import RecordingService
from tests.cluster.service.fake_cm import FakeConsensusModule
from tests.cluster.service.test_agent import EGRESS, start_joined

SEND_CALLS = {
    "offer": lambda c: c.offer(b"x"),
    "schedule_timer": lambda c: c.schedule_timer(1, 2),
    "cancel_timer": lambda c: c.cancel_timer(1),
    "close_client_session": lambda c: c.close_client_session(1),
}


def on_message_do(action: Any) -> RecordingService:
    def hook(service: RecordingService, session_id: Any, ts: int, payload: bytes, pos: int) -> None:
        try:
            action(service.cluster, session_id, payload)
        except Exception as e:
            service.errors.append(e)

    return RecordingService({"message": hook})


def test_schedule_and_cancel_timer_reach_the_consensus_module(fake_cm: FakeConsensusModule,
                                                              container_factory: Any) -> None:
    def act(cluster: Any, session_id: Any, payload: bytes) -> None:
        assert cluster.schedule_timer(11, 5000)
        cluster.schedule_timer_reliably(12, 6000)
        assert cluster.cancel_timer(11)

    service, _ = start_joined(fake_cm, container_factory, Role.FOLLOWER, on_message_do(act))
    fake_cm.append_session_message(-1, b"go")
    fake_cm.commit()
    first = fake_cm.await_message("ScheduleTimer")[0]
    second = fake_cm.await_message("ScheduleTimer")[0]
    cancel = fake_cm.await_message("CancelTimer")[0]
    assert (first.get_int("correlation_id"), first.get_int("deadline")) == (11, 5000)
    assert (second.get_int("correlation_id"), second.get_int("deadline")) == (12, 6000)
    assert cancel.get_int("correlation_id") == 11
    assert service.errors == []


def test_service_message_carries_service_id_as_session_id(fake_cm: FakeConsensusModule,
                                                          container_factory: Any) -> None:
    positions: list[int] = []

    def act(cluster: Any, session_id: Any, payload: bytes) -> None:
        positions.append(cluster.offer_reliably(b"from-service:" + payload))

    service, _ = start_joined(fake_cm, container_factory, Role.FOLLOWER, on_message_do(act), service_id=3)
    fake_cm.append_session_message(8, b"abc", timestamp=99)
    fake_cm.commit()
    _, raw = fake_cm.await_message("SessionMessageHeader")
    term, session_id, timestamp = unpack_session_header(raw)
    assert session_id == 3, "a service message's header names the sending service"
    assert raw[32:] == b"from-service:abc"
    assert positions and positions[0] > 0


def test_close_client_session(fake_cm: FakeConsensusModule, container_factory: Any) -> None:
    outcomes: list[Any] = []

    def act(cluster: Any, session_id: Any, payload: bytes) -> None:
        session = cluster.get_client_session(session_id)
        outcomes.append(cluster.close_client_session(session_id))
        outcomes.append(session.is_closing)
        outcomes.append(cluster.close_client_session(session_id))  # already closing: no second request
        with pytest.raises(ClusterError, match="unknown clusterSessionId"):
            cluster.close_client_session(999)

    service, _ = start_joined(fake_cm, container_factory, Role.FOLLOWER, on_message_do(act))
    fake_cm.append_session_open(4, EGRESS)
    fake_cm.append_session_message(4, b"bye")
    fake_cm.commit()
    close = fake_cm.await_message("CloseSession")[0]
    assert close.get_int("cluster_session_id") == 4
    service.await_cycles()
    assert outcomes == [True, True, True]
    assert not any(m.spec.name == "CloseSession" for m, _ in fake_cm.received)
    assert service.errors == []


@pytest.mark.parametrize("call", sorted(SEND_CALLS))
def test_sending_from_lifecycle_callbacks_is_refused(call: str, fake_cm: FakeConsensusModule,
                                                     container_factory: Any) -> None:
    refused: dict[str, str] = {}
    send = SEND_CALLS[call]

    def attempt(where: str) -> Any:
        def hook(service: RecordingService, *args: Any) -> None:
            if where in refused:
                return
            try:
                send(service.cluster)
                refused[where] = "allowed"
            except ClusterError as e:
                refused[where] = str(e)
        return hook

    service = RecordingService({"start": attempt("onStart"), "role": attempt("onRoleChange"),
                                "background": attempt("doBackgroundWork"), "terminate": attempt("onTerminate")})
    _, container = start_joined(fake_cm, container_factory, Role.LEADER, service)
    service.await_cycles()
    container.close()
    for where in ("onStart", "onRoleChange", "doBackgroundWork", "onTerminate"):
        assert refused.get(where) == f"sending messages or scheduling timers is not allowed from {where}", where


def test_time_and_log_position_follow_the_message(fake_cm: FakeConsensusModule, container_factory: Any) -> None:
    seen: list[tuple[int, int]] = []

    def act(cluster: Any, session_id: Any, payload: bytes) -> None:
        seen.append((cluster.time, cluster.log_position))

    service, _ = start_joined(fake_cm, container_factory, Role.FOLLOWER, on_message_do(act))
    first = fake_cm.append_session_message(1, b"a", timestamp=111)
    second = fake_cm.append_session_message(1, b"b", timestamp=222)
    fake_cm.commit()
    service.await_event("message", 2)
    assert seen == [(111, first), (222, second)]


def test_try_claim_on_follower_is_mocked_and_on_leader_sends(fake_cm: FakeConsensusModule, container_factory: Any,
                                                             cm_client: Any) -> None:
    from aeronpy.client.buffer_claim import BufferClaim
    from tests.cluster.service.test_agent import EGRESS_STREAM, collect_egress

    egress = cm_client.add_subscription(EGRESS, EGRESS_STREAM)
    results: list[int] = []

    def act(cluster: Any, session_id: Any, payload: bytes) -> None:
        claim = BufferClaim()
        results.append(cluster.get_client_session(session_id).try_claim(len(payload), claim))
        claim.buffer.put_bytes(claim.offset + 32, payload)
        claim.commit()
        service_claim = BufferClaim()
        results.append(cluster.try_claim(3, service_claim))
        service_claim.buffer.put_bytes(service_claim.offset + 32, b"svc")
        service_claim.commit()

    service, _ = start_joined(fake_cm, container_factory, Role.LEADER, on_message_do(act))
    fake_cm.append_session_open(6, EGRESS, EGRESS_STREAM)
    fake_cm.append_session_message(6, b"claimed")
    fake_cm.commit()
    [reply] = collect_egress(egress, 1)
    assert unpack_session_header(reply)[1] == 6 and reply[32:] == b"claimed"
    _, raw = fake_cm.await_message("SessionMessageHeader")
    assert unpack_session_header(raw)[1] == 0 and raw[32:] == b"svc"
    assert all(r > 0 for r in results) and service.errors == []
