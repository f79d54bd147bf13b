"""Stopping a container (cluster.md §4.14, §4.9, §5.4): ServiceTerminationPosition with and
without ack, RequestServiceAck, the commit-pos counter disappearing, the mark file."""

from __future__ import annotations

import os
import threading
from typing import Any

from aeronpy.cluster.codecs import T
from aeronpy.cluster.counters import Role
from aeronpy.cluster.mark_file import ClusterMarkFile
from tests.cluster.service.conftest import RecordingService
from tests.cluster.service.fake_cm import FakeConsensusModule
from tests.cluster.service.test_agent import EGRESS, start_joined
from tests.conftest import wait_for


def test_termination_position_with_ack(fake_cm: FakeConsensusModule, container_factory: Any) -> None:
    hook_called = threading.Event()
    service, container = start_joined(fake_cm, container_factory, Role.FOLLOWER,
                                      termination_hook=hook_called.set)
    first = fake_cm.append_session_open(1, EGRESS)
    end = fake_cm.append_session_message(1, b"last")
    fake_cm.send(T.ServiceTerminationPosition, log_position=end, ack_required=1)
    fake_cm.commit(first)
    service.await_event("open")
    service.await_cycles()
    assert "terminate" not in service.names(), "terminated before reaching the position"
    fake_cm.commit(end)
    service.await_event("terminate")
    ack = fake_cm.await_ack(2)
    assert (ack.get_int("log_position"), ack.get_int("relevant_id")) == (end, -1)
    assert container.terminated.wait(10)
    assert hook_called.wait(10)
    assert service.names()[-1] == "terminate"
    container.close()
    assert service.of("terminate") == [("terminate",)], "on_terminate runs once"


def test_termination_without_ack(fake_cm: FakeConsensusModule, container_factory: Any) -> None:
    service, container = start_joined(fake_cm, container_factory, Role.FOLLOWER)
    fake_cm.send(T.ServiceTerminationPosition, log_position=0, ack_required=0)
    assert container.terminated.wait(10)
    fake_cm.poll()
    assert not any(m.spec.name == "ServiceAck" for m, _ in fake_cm.received)
    assert service.of("terminate") == [("terminate",)]


def test_request_service_ack_at_position(fake_cm: FakeConsensusModule, container_factory: Any) -> None:
    service, container = start_joined(fake_cm, container_factory, Role.FOLLOWER)
    end = fake_cm.append_session_open(1, EGRESS)
    fake_cm.send(T.RequestServiceAck, log_position=end)
    service.await_cycles()
    fake_cm.poll()
    assert not any(m.spec.name == "ServiceAck" for m, _ in fake_cm.received), "acked before reaching it"
    fake_cm.commit(end)
    ack = fake_cm.await_ack(2)
    assert (ack.get_int("log_position"), ack.get_int("relevant_id")) == (end, -1)
    assert container.is_running


def test_container_stops_when_commit_position_counter_goes(fake_cm: FakeConsensusModule,
                                                          container_factory: Any) -> None:
    service, container = start_joined(fake_cm, container_factory, Role.FOLLOWER)
    fake_cm.commit_position.close()
    assert container.terminated.wait(10)
    assert service.of("terminate") == [("terminate",)]
    errors = ClusterMarkFile.read(container.mark_file.path).errors()
    assert any("commit-pos counter unexpectedly closed" in text for _, _, _, text in errors)


def test_mark_file_of_the_container(fake_cm: FakeConsensusModule, container_factory: Any, tmp_path: Any) -> None:
    service = RecordingService()
    fake_cm.allocate_recovery_state()
    container = container_factory(service, service_id=2, cluster_id=0)
    path = os.path.join(str(tmp_path / "cluster"), "cluster-mark-service-2.dat")
    contents = ClusterMarkFile.read(path)
    assert contents.component_type == "CONTAINER"
    assert (contents["service_id"], contents["cluster_id"], contents["version"]) == (2, 0, (0 << 16) | (3 << 8))
    fake_cm.await_ack(0)
    fake_cm.join_log(role=Role.FOLLOWER, member_id=4)
    fake_cm.await_ack(1)
    wait_for(lambda: ClusterMarkFile.read(path)["member_id"] == 4, 10, "member id in the mark file")
    assert ClusterMarkFile.read(path)["activity_timestamp"] > 0
    container.close()
    assert ClusterMarkFile.read(path)["activity_timestamp"] == -1


def test_service_error_is_counted_and_recorded(fake_cm: FakeConsensusModule, container_factory: Any,
                                               cm_client: Any) -> None:
    from aeronpy.cluster.counters import CLUSTERED_SERVICE_ERROR_COUNT_TYPE_ID, find_counter

    def boom(service: RecordingService, *args: Any) -> None:
        raise ValueError("service bug")

    service, container = start_joined(fake_cm, container_factory, Role.FOLLOWER,
                                      RecordingService({"message": boom}))
    fake_cm.append_session_message(-1, b"x")
    fake_cm.append_session_message(-1, b"y")
    fake_cm.commit()
    service.await_event("message", 2)
    counter_id = find_counter(cm_client.counters_reader, CLUSTERED_SERVICE_ERROR_COUNT_TYPE_ID, 0, 0)
    assert counter_id >= 0
    wait_for(lambda: cm_client.counters_reader.get_counter_value(counter_id) == 2, 10, "error count 2")
    errors = ClusterMarkFile.read(container.mark_file.path).errors()
    assert [(count, text) for count, _, _, text in errors] == [(2, "ValueError: service bug")]
    assert container.is_running, "a service error does not stop the container"


def test_closed_aeron_client_aborts_without_on_terminate(fake_cm: FakeConsensusModule,
                                                         container_factory: Any) -> None:
    service, container = start_joined(fake_cm, container_factory, Role.FOLLOWER)
    container.aeron.close()
    assert container.terminated.wait(10)
    assert "terminate" not in service.names()


class Collecting:
    """A delegating error handler: keeps errors, then hands them on."""

    instances: list[Collecting] = []

    def __init__(self) -> None:
        self.seen: list[BaseException] = []
        self.next_handler: Any = None
        Collecting.instances.append(self)

    def next(self, handler: Any) -> None:
        self.next_handler = handler

    def on_error(self, error: BaseException) -> None:
        self.seen.append(error)
        self.next_handler(error)


def test_delegating_error_handler_sees_errors_first(fake_cm: FakeConsensusModule, container_factory: Any) -> None:
    def boom(service: RecordingService, *args: Any) -> None:
        raise ValueError("delegated")

    Collecting.instances.clear()
    service, container = start_joined(
        fake_cm, container_factory, Role.FOLLOWER, RecordingService({"message": boom}),
        delegating_error_handler=f"{__name__}:Collecting")
    fake_cm.append_session_message(-1, b"x")
    fake_cm.commit()
    wait_for(lambda: container.errors, 10, "the error to reach the container")
    [handler] = Collecting.instances
    assert [str(e) for e in handler.seen] == ["delegated"]
    assert [str(e) for e in container.errors] == ["delegated"]


def test_start_ack_waits_for_the_consensus_module_to_subscribe(fake_cm: FakeConsensusModule,
                                                               container_factory: Any, cm_client: Any) -> None:
    import time

    from tests.cluster.service.fake_cm import CONTROL_CHANNEL

    fake_cm.from_services.close()
    fake_cm.allocate_recovery_state()
    service = RecordingService()
    container = container_factory(service)
    service.await_event("start")
    time.sleep(0.2)
    fake_cm.from_services = cm_client.add_subscription(CONTROL_CHANNEL, 105)
    ack = fake_cm.await_ack(0)
    assert ack.get_int("relevant_id") == container.aeron.client_id
    assert container.is_running


def test_agent_runs_in_a_composite_runner(fake_cm: FakeConsensusModule, container_factory: Any) -> None:
    """``container.agent`` for a runner shared with other agents (as a ClusterNode may do)."""
    from aeronpy.concurrent.agent import AgentBase, AgentRunner, CompositeAgent
    from aeronpy.concurrent.idle_strategy import SleepingIdleStrategy

    class Other(AgentBase):
        cycles = 0

        def do_work(self) -> int:
            Other.cycles += 1
            return 0

    service = RecordingService()
    fake_cm.allocate_recovery_state()
    container = container_factory(service, start=False)
    errors: list[BaseException] = []
    runner = AgentRunner(SleepingIdleStrategy(100_000), errors.append, CompositeAgent(container.agent, Other()))
    runner.start()
    try:
        fake_cm.await_ack(0)
        fake_cm.join_log(role=Role.FOLLOWER)
        fake_cm.await_ack(1)
        fake_cm.append_session_open(3, EGRESS)
        fake_cm.commit()
        service.await_event("open")
        assert Other.cycles > 0
    finally:
        runner.close()
        container.close()
    assert service.of("terminate") == [("terminate",)]
    assert errors == []


def test_mark_file_elsewhere_leaves_a_link_in_the_cluster_dir(fake_cm: FakeConsensusModule, container_factory: Any,
                                                              tmp_path: Any) -> None:
    from aeronpy.cluster.mark_file import resolve_mark_file_dir, service_link_file_name

    marks = tmp_path / "marks"
    container = container_factory(RecordingService(), service_id=1, mark_file_dir=str(marks))
    assert os.path.exists(marks / "cluster-mark-service-1.dat")
    cluster_dir = str(tmp_path / "cluster")
    assert os.path.exists(os.path.join(cluster_dir, service_link_file_name(1)))
    assert os.path.samefile(resolve_mark_file_dir(cluster_dir, service_link_file_name(1)), marks)
    container.close()
