"""The bundled services hosted by a container against the scripted consensus module: echo and
key-value answer on egress as leader; each survives a snapshot and restart with equal state."""

from __future__ import annotations

from typing import Any

import pytest

from aeronpy.cluster.codecs import ClusterAction
from aeronpy.cluster.counters import Role
from aeronpy.cluster.examples.counter import ADD, CounterService, encode_request
from aeronpy.cluster.examples.echo import EchoService
from aeronpy.cluster.examples.kv import (
    KeyValueService,
    Response,
    Status,
    decode_response,
    encode_cas,
    encode_read,
    encode_write,
)
from aeronpy.cluster.service.session_header import unpack_session_header
from tests.cluster.service.fake_cm import FakeConsensusModule
from tests.cluster.service.test_agent import EGRESS, EGRESS_STREAM, append_term_event, collect_egress
from tests.conftest import wait_for


def join(fake_cm: FakeConsensusModule, container_factory: Any, service: Any, role: Role = Role.LEADER,
         **overrides: Any) -> Any:
    if fake_cm.recovery is None:
        fake_cm.allocate_recovery_state()
    container = container_factory(service, **overrides)
    ack = fake_cm.await_ack(0)
    fake_cm.join_log(role=role, log_position=ack.get_int("log_position"))
    fake_cm.await_ack(1)
    return container


def test_echo_replies_to_each_message(fake_cm: FakeConsensusModule, container_factory: Any, cm_client: Any) -> None:
    egress = cm_client.add_subscription(EGRESS, EGRESS_STREAM)
    service = EchoService()
    join(fake_cm, container_factory, service)
    append_term_event(fake_cm, 1)
    fake_cm.append_session_open(3, EGRESS, EGRESS_STREAM)
    payloads = [f"msg-{i}".encode() * (i + 1) for i in range(20)]
    for p in payloads:
        fake_cm.append_session_message(3, p)
    fake_cm.commit()
    replies = collect_egress(egress, len(payloads))
    assert [r[32:] for r in replies] == payloads
    assert {unpack_session_header(r)[1] for r in replies} == {3}
    assert service.message_count == 20


def test_kv_answers_requests(fake_cm: FakeConsensusModule, container_factory: Any, cm_client: Any) -> None:
    egress = cm_client.add_subscription(EGRESS, EGRESS_STREAM)
    join(fake_cm, container_factory, KeyValueService())
    fake_cm.append_session_open(4, EGRESS, EGRESS_STREAM)
    for payload in (encode_write(1, "x", "1"), encode_cas(2, "x", "0", "2"), encode_cas(3, "x", "1", "3"),
                    encode_read(4, "x"), encode_read(5, "y"), b"\x07junk"):
        fake_cm.append_session_message(4, payload)
    fake_cm.commit()
    responses = [decode_response(r[32:]) for r in collect_egress(egress, 6)]
    assert responses == [
        Response(1, Status.OK), Response(2, Status.CAS_FAILED, b"1"), Response(3, Status.OK),
        Response(4, Status.OK, b"3"), Response(5, Status.NOT_FOUND), Response(-1, Status.BAD_REQUEST),
    ]


def state_of(service: Any) -> Any:
    if isinstance(service, EchoService):
        return (service.message_count, service.state_hash)
    if isinstance(service, KeyValueService):
        return (service.store, service.applied)
    return service.value


def payloads_for(service: Any) -> list[bytes]:
    if isinstance(service, KeyValueService):
        return [encode_write(i, f"k{i % 7}", bytes([i]) * (i * 50)) for i in range(40)]
    if isinstance(service, CounterService):
        return [encode_request(ADD, i, i * 3 - 20) for i in range(40)]
    return [bytes([i]) * i for i in range(40)]


@pytest.mark.parametrize("factory", [EchoService, KeyValueService, CounterService])
def test_snapshot_and_restart_restore_equal_state(factory: Any, fake_cm: FakeConsensusModule,
                                                  container_factory: Any, archive: Any) -> None:
    first = factory()
    join(fake_cm, container_factory, first, Role.FOLLOWER)
    append_term_event(fake_cm, 1)
    fake_cm.append_session_open(2, EGRESS, EGRESS_STREAM)
    for p in payloads_for(first):
        fake_cm.commit(fake_cm.append_session_message(2, p))  # the log window is small: commit as we go
    position = fake_cm.append_action(ClusterAction.SNAPSHOT)
    fake_cm.commit()
    ack = fake_cm.await_ack(2, timeout=30)
    recording_id = ack.get_int("relevant_id")
    assert recording_id >= 0 and ack.get_int("log_position") == position
    expected = state_of(first)
    assert expected not in ((0, 0), ({}, 0), 0)

    fake_cm.recovery.close()
    fake_cm.allocate_recovery_state(1, position, 3000, (recording_id, recording_id))
    second = factory()
    container_factory(second, service_id=1)
    fake_cm.await_ack(0, timeout=30)
    wait_for(lambda: second.cluster is not None, 10, "on_start")
    assert state_of(second) == expected
    assert [s.id for s in second.cluster.client_sessions] == [2]
