"""Consensus module extensions (cluster/consensus/extension.py): configuration, a one-member
cluster in one process with the bundled counter extension and no service (apply, snapshot,
restart and recover), and three member processes whose extensions all see the same log."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from aeronpy.cluster import counters as cc
from aeronpy.cluster.consensus.context import ConsensusModuleContext
from aeronpy.cluster.consensus.extension import ConsensusModuleExtension, load_extension
from aeronpy.cluster.examples.counter_extension import CounterExtension, encode_add
from aeronpy.errors import ConfigurationError
from tests.cluster.consensus.harness import FAST, connect_client, members_string
from tests.conftest import wait_for

EXTENSION = "aeronpy.cluster.examples.counter_extension:CounterExtension"
BASE = dict(cluster_members="0,localhost:1,localhost:2,localhost:3,localhost:4,localhost:5",
            ingress_channel="aeron:udp", replication_channel="aeron:udp?endpoint=localhost:0")


def test_service_count_zero_needs_an_extension_and_an_extension_needs_zero() -> None:
    with pytest.raises(ConfigurationError, match="aeron.cluster.service.count=0 requires"):
        ConsensusModuleContext.from_properties({"aeron.cluster.service.count": "0"}, env={}, **BASE)
    with pytest.raises(ConfigurationError, match="must be 0 when aeron.cluster.consensus.module.extension"):
        ConsensusModuleContext.from_properties({"aeron.cluster.consensus.module.extension": EXTENSION}, env={}, **BASE)
    ctx = ConsensusModuleContext.from_properties(
        {"aeron.cluster.service.count": "0", "aeron.cluster.consensus.module.extension": EXTENSION}, env={}, **BASE)
    assert ctx.extension == EXTENSION


@pytest.mark.parametrize("spec, match", [
    ("nosuchmodule_xyz:Ext", "cannot import 'nosuchmodule_xyz'"),
    ("aeronpy.cluster.examples.counter_extension:Nope", "has no class 'Nope'"),
    ("justaword", "expected module:Class"),
    ("aeronpy.cluster.examples.counter:encode_request", "cannot create it"),
])
def test_a_bad_extension_spec_is_a_configuration_error_naming_the_property(spec: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match) as e:
        load_extension(spec)
    assert "aeron.cluster.consensus.module.extension" in str(e.value)


def test_load_extension_makes_an_instance() -> None:
    ext = load_extension(EXTENSION)
    assert isinstance(ext, CounterExtension) and isinstance(ext, ConsensusModuleExtension)


def test_the_base_class_does_nothing_by_default() -> None:
    ext = ConsensusModuleExtension()
    assert ext.do_work(0) == ext.slow_tick_work(0) == ext.consensus_work(0) == 0
    assert ext.on_ingress_extension_message(0, 1, 900, 1, None, 0, 0, None) is None


def test_ingress_of_another_schema_goes_to_the_extension_hook_and_the_cluster_schema_does_not() -> None:
    from aeronpy.cluster.codecs import T
    from aeronpy.cluster.consensus.message_adapter import MessageAdapter
    from aeronpy.concurrent.atomic_buffer import AtomicBuffer
    from aeronpy.protocol import sbe

    routed: list[tuple[int, int, int, int, bytes]] = []
    kept: list[str] = []

    class Handler:
        def on_SessionKeepAlive(self, d: Any, data: bytes, header: Any) -> None:  # noqa: N802
            kept.append(d.spec.name)

    def on_other(bl: int, tid: int, sid: int, ver: int, buffer: Any, offset: int, length: int, header: Any) -> Any:
        routed.append((bl, tid, sid, ver, buffer.get_bytes(offset, length)))
        return None

    invalid: list[str] = []
    adapter = MessageAdapter(None, Handler(), ("SessionKeepAlive",), invalid.append, on_other_schema=on_other)
    add = encode_add(7, 3)
    for data in (add, sbe.encode(T.SessionKeepAlive, leadership_term_id=1, cluster_session_id=2)):
        adapter._on_message(AtomicBuffer(bytearray(data)), 0, len(data), None)
    assert routed == [(16, 1, 900, 1, add)] and kept == ["SessionKeepAlive"] and not invalid


def test_a_log_message_of_another_schema_is_fatal_without_an_extension_and_routed_with_one() -> None:
    from aeronpy.cluster.consensus.log_adapter import LogAdapter
    from aeronpy.cluster.errors import ClusterError
    from aeronpy.concurrent.atomic_buffer import AtomicBuffer

    class Header:
        position = 4096

    class Plain:
        def on_log_message(self, decoded: Any, data: bytes, position: int) -> bool:
            return True

    class WithExtension(Plain):
        def __init__(self) -> None:
            self.got: list[tuple[int, int, bytes]] = []

        def on_log_extension_message(self, bl: int, tid: int, sid: int, ver: int, buffer: Any, offset: int,
                                     length: int, header: Any) -> Any:
            self.got.append((tid, sid, buffer.get_bytes(offset, length)))

    data = encode_add(1, 2)
    with pytest.raises(ClusterError, match="unknown schema id 900"):
        LogAdapter(Plain())._on_message(AtomicBuffer(bytearray(data)), 0, len(data), Header())
    handler = WithExtension()
    LogAdapter(handler)._on_message(AtomicBuffer(bytearray(data)), 0, len(data), Header())
    assert handler.got == [(1, 900, data)]


# -- one member in one process -----------------------------------------------------------


class _Node:
    def __init__(self, tmp: Path, members: str) -> None:
        from aeronpy.cluster.node import ClusterNode

        props = dict(FAST)
        props.update({"aeron.cluster.service.count": "0", "aeron.cluster.consensus.module.extension": EXTENSION})
        self.node = ClusterNode(0, members, str(tmp / "node"), [], props)

    def __enter__(self) -> Any:
        self.node.start()
        agent = self.node.agent
        wait_for(lambda: agent.election is None and agent.role == cc.Role.LEADER, 30, "the leader")
        return self.node

    def __exit__(self, *exc: Any) -> None:
        self.node.close()


def _send_adds(client: Any, deltas: list[int], first_id: int = 0) -> None:
    deadline = time.monotonic() + 20
    for i, delta in enumerate(deltas):
        while client.ingress_publication.offer(encode_add(first_id + i, delta)) < 0:
            client.poll_egress()
            assert time.monotonic() < deadline, "ingress stuck"
            time.sleep(0.001)


def test_one_member_with_only_an_extension_applies_snapshots_and_recovers(tmp_path: Path) -> None:
    members = members_string(1)
    with _Node(tmp_path, members) as node:
        agent = node.agent
        ext = agent.extension
        assert isinstance(ext, CounterExtension) and node.containers == []
        from aeronpy.cluster.consensus.timer_wheel import WheelTimerService

        assert isinstance(agent.timer_service, WheelTimerService)  # Aeron's default supplier
        assert ext.state is not None and ext.state.is_leader
        client = connect_client(members, node.aeron_dir)
        try:
            _send_adds(client, [5, 7, -2])
            wait_for(lambda: ext.count == 3, 20, "3 adds applied")
            assert ext.total == 10
            agent.counters["toggle"].set(cc.ToggleState.SNAPSHOT)
            wait_for(lambda: int(agent.counters["snapshots"].get()) == 1, 20, "a snapshot")
            _send_adds(client, [100], first_id=3)  # after the snapshot: recovered by replay
            wait_for(lambda: ext.count == 4, 20, "the 4th add")
            assert client.ingress_publication.offer(b"\x10\x00\x07\x00\x84\x03\x01\x00" + bytes(16)) > 0
            wait_for(lambda: ext.rejected == 1, 20, "an unknown template of the schema rejected")
        finally:
            client.close()
        expected = (ext.total, ext.count, ext.digest)
        assert expected[:2] == (110, 4)
    with _Node(tmp_path, members) as node:
        ext = node.agent.extension
        wait_for(lambda: ext.count == 4, 30, "the state recovered from snapshot + log")
        assert (ext.total, ext.count, ext.digest) == expected


# -- three member processes ----------------------------------------------------------------


def test_three_members_extensions_see_the_same_log(tmp_path: Path) -> None:
    from tests.cluster.cluster_processes import client_aeron_dir, member_logs, member_set, remove_member_dirs
    from tests.cluster.cluster_processes import Client
    from tests.cluster.extension_test_extension import read_state

    members = member_set(str(tmp_path), service="none", **{
        "aeron.cluster.service.count": "0",
        "aeron.cluster.consensus.module.extension":
            "tests.cluster.extension_test_extension:ReportingCounterExtension"})
    members.start_all()
    client = None
    try:
        members.leader(timeout=90)
        client = Client(members, client_aeron_dir(str(tmp_path)))
        deltas = list(range(1, 51))
        _send_adds(client.cluster, deltas)
        want = sum(deltas)

        def all_applied() -> bool:
            states = [read_state(members.cluster_dir(i)) for i in range(3)]
            return all(s is not None and s[0] == len(deltas) for s in states)

        try:
            wait_for(all_applied, 60, "every member's extension applied 50 adds")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{member_logs(members)}") from None
        states = [read_state(members.cluster_dir(i)) for i in range(3)]
        assert states[0] is not None and states[0][1] == want
        assert states[0] == states[1] == states[2]

        # the leader dies: the new leader's extension appends and reads the log from its term on
        old_leader = members.leader(timeout=30)
        members.kill(old_leader)
        survivors = [i for i in range(3) if i != old_leader]
        members.leader(timeout=90, exclude=(old_leader,))
        deadline = time.monotonic() + 60
        while not client.collector.new_leaders:
            client.cluster.poll_egress()
            assert time.monotonic() < deadline, "the client saw no new leader"
            time.sleep(0.01)
        _send_adds(client.cluster, [1000] * 20, first_id=100)

        def survivors_applied() -> bool:
            got = [read_state(members.cluster_dir(i)) for i in survivors]
            return all(s is not None and s[0] == len(deltas) + 20 for s in got)

        try:
            wait_for(survivors_applied, 90, "both survivors applied the adds sent to the new leader")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{member_logs(members)}") from None
        after = [read_state(members.cluster_dir(i)) for i in survivors]
        assert after[0] == after[1] and after[0] is not None and after[0][1] == want + 20_000
    finally:
        if client is not None:
            client.close()
        for i in range(3):
            members.kill(i)
        remove_member_dirs(members)
        assert os.path.isdir(str(tmp_path))


@pytest.mark.parametrize("extra, needle", [
    (["--extension", "nosuch_mod_q:Ext"], "cannot import 'nosuch_mod_q'"),
    (["--service-count", "0"], "service.count=0 requires aeron.cluster.consensus.module.extension"),
    (["--service", "echo", "--extension", EXTENSION], "must be 0 when aeron.cluster.consensus.module.extension"),
])
def test_cluster_node_cli_extension_options_fail_in_one_line(extra: list[str], needle: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    members = "0,localhost:20001,localhost:20002,localhost:20003,localhost:20004,localhost:20005"
    p = subprocess.run([sys.executable, "-m", "aeronpy", "cluster-node", "--member-id", "0", "--members", members,
                        "--dir", str(tmp_path / "n"), *extra], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    assert needle in p.stderr and "Traceback" not in p.stderr
