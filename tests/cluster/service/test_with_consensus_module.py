"""The container under the real consensus module (one member in this process): a SHUTDOWN
toggle snapshots the key-value service and terminates the container as expected; the restarted
member loads that snapshot and goes on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aeronpy.cluster import counters as cc
from aeronpy.cluster.examples.kv import KeyValueService, Response, Status, decode_response, encode_read, encode_write
from aeronpy.cluster.service import ClusterTerminationException
from tests.cluster.consensus.harness import Collector, Member, connect_client, members_string, new_base_dir
from tests.conftest import wait_for


def await_leader(m: Member) -> None:
    wait_for(lambda: m.cm.agent.election is None and m.cm.agent.role == cc.Role.LEADER, 30, "the leader")


def send(client: Any, payloads: list[bytes]) -> None:
    deadline = time.monotonic() + 20
    for p in payloads:
        while client.offer(p) < 0:
            client.poll_egress()
            assert time.monotonic() < deadline, "ingress stuck"
            time.sleep(0.001)


def toggle(m: Member, state: cc.ToggleState) -> None:
    reader = m.cm.agent.aeron.counters_reader
    counter_id = cc.find_counter(reader, cc.CONTROL_TOGGLE_TYPE_ID, 0)
    wait_for(lambda: reader.values_buffer.compare_and_set_int64(
        reader.counter_offset(counter_id), cc.ToggleState.NEUTRAL, state), 10, f"toggle {state.name}")


def test_shutdown_snapshots_and_restart_restores_the_store(tmp_path: Path) -> None:
    members = members_string(1)
    base = new_base_dir(tmp_path)
    first = KeyValueService()
    m = Member(0, members, base, first)
    try:
        m.start()
        await_leader(m)
        client = connect_client(members, m.aeron_dir)
        try:
            send(client, [encode_write(i, f"k{i % 4}", f"v{i}") for i in range(30)])
            wait_for(lambda: first.applied == 30, 20, "30 writes applied")
        finally:
            client.close()
        expected = dict(first.store)
        toggle(m, cc.ToggleState.SHUTDOWN)
        assert m.container.terminated.wait(30), "SHUTDOWN must terminate the container"
        reason = m.container.termination_reason
        assert isinstance(reason, ClusterTerminationException) and reason.is_expected
        assert m.container.errors == []
    finally:
        m.stop()

    second = KeyValueService()
    m = Member(0, members, base, second)
    try:
        m.start()
        await_leader(m)
        wait_for(lambda: second.applied == 30, 30, "the snapshot (and any log after it) applied")
        assert second.store == expected
        collector = Collector()
        client = connect_client(members, m.aeron_dir, listener=collector)
        try:
            send(client, [encode_read(99, "k1")])

            def replied() -> bool:
                client.poll_egress()
                return bool(collector.messages)

            wait_for(replied, 20, "a read after the restart")
        finally:
            client.close()
        assert [decode_response(r) for r in collector.messages] == [Response(99, Status.OK, expected[b"k1"])]
        assert m.container.errors == []
    finally:
        m.stop()
        m.cleanup()
