"""Pieces of the Jepsen-style harness that need no cluster: operation generator, request and
response mapping, member command lines, the nemesis schedule, the logical client's
bookkeeping, and the report (the runs themselves are in tests/cluster/jepsen/)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from aeronpy.cluster.examples import kv
from aeronpy.testing.jepsen import (
    JepsenConfig,
    JepsenReport,
    LoopbackTopology,
    MemberSet,
    Nemesis,
    OpGenerator,
    _LogicalClient,
    encode_request,
    main,
    response_output,
)
from aeronpy.testing.linearizability import History, Kind, Status


def test_generator_mix_and_domain() -> None:
    gen = OpGenerator(random.Random(3), keys=3, values=5)
    ops = [gen.next() for _ in range(3000)]
    kinds = {k: sum(1 for o in ops if o[0] == k) for k in Kind}
    assert 1000 < kinds[Kind.READ] < 1400 and 700 < kinds[Kind.WRITE] < 1100 and 700 < kinds[Kind.CAS] < 1100
    assert {o[1] for o in ops} == {"k0", "k1", "k2"}
    assert {o[2] for o in ops if o[0] == Kind.WRITE} == {"0", "1", "2", "3", "4"}
    assert None in {o[2][0] for o in ops if o[0] == Kind.CAS}


def test_requests_decode_as_the_service_reads_them() -> None:
    assert kv.decode_request(encode_request(Kind.READ, 7, "k1", None)) == kv.Request(kv.Op.READ, 7, b"k1")
    assert kv.decode_request(encode_request(Kind.WRITE, 8, "k1", "3")) == kv.Request(kv.Op.WRITE, 8, b"k1", b"3")
    assert kv.decode_request(encode_request(Kind.CAS, 9, "k1", (None, "2"))) == kv.Request(
        kv.Op.CAS, 9, b"k1", b"2", None)
    assert kv.decode_request(encode_request(Kind.CAS, 9, "k1", ("1", "2"))).expected == b"1"


def test_response_mapping_matches_the_model() -> None:
    store: dict[bytes, bytes] = {}
    read = kv.apply(store, kv.Request(kv.Op.READ, 1, b"k"))
    assert response_output(Kind.READ, read) == (Status.OK, None)
    kv.apply(store, kv.Request(kv.Op.WRITE, 2, b"k", b"4"))
    assert response_output(Kind.READ, kv.apply(store, kv.Request(kv.Op.READ, 3, b"k"))) == (Status.OK, "4")
    assert response_output(Kind.CAS, kv.apply(store, kv.Request(kv.Op.CAS, 4, b"k", b"1", b"3"))) == (Status.OK, False)
    assert response_output(Kind.CAS, kv.apply(store, kv.Request(kv.Op.CAS, 5, b"k", b"1", b"4"))) == (Status.OK, True)
    assert response_output(Kind.WRITE, kv.Response(6, kv.Status.BAD_REQUEST)) == (Status.FAIL, None)


def test_member_command_lines(tmp_path: Any) -> None:
    m = MemberSet(LoopbackTopology(), str(tmp_path), 30_000)
    assert m.members_string().split("|")[1] == (
        "1,127.0.0.1:30010,127.0.0.1:30011,127.0.0.1:30012,127.0.0.1:30013,127.0.0.1:30014")
    assert m.ingress_endpoints() == "0=127.0.0.1:30000,1=127.0.0.1:30010,2=127.0.0.1:30020"
    argv = m.argv(2)
    assert argv[1:5] == ["-m", "aeronpy", "cluster-node", "--member-id"] and "--service" in argv
    assert "aeron.cluster.leader.heartbeat.timeout=3s" in argv


def test_member_set_close_removes_the_members_aeron_dirs(tmp_path: Any) -> None:
    """A member killed with -9 cannot delete its Aeron directory: closing the set does."""
    import os

    m = MemberSet(LoopbackTopology(), str(tmp_path), 30_000)
    for i in range(3):
        os.makedirs(m.aeron_dir(i), exist_ok=True)
        assert m.aeron_dir(i).startswith(("/dev/shm/aeronpy-node-", "/tmp/aeronpy-node-"))
    m.close()
    assert not any(os.path.exists(m.aeron_dir(i)) for i in range(3))
    assert "-v" in m.argv(0), "members log elections and errors to member-N.log"


class FakeMembers:
    count = 3

    def __init__(self) -> None:
        self.alive = [True, True, True]
        self.events: list[tuple[str, int]] = []

    def kill(self, i: int) -> None:
        self.alive[i] = False
        self.events.append(("kill", i))

    def start(self, i: int) -> None:
        self.alive[i] = True
        self.events.append(("start", i))

    def is_alive(self, i: int) -> bool:
        return self.alive[i]

    def leader(self, timeout: float = 1.0) -> int:
        if not self.alive[2]:
            raise TimeoutError("no leader")
        return 2


class FakeTopology(LoopbackTopology):
    can_partition = True

    def __init__(self) -> None:
        self.links: list[tuple[str, int]] = []

    def cut(self, member_id: int) -> None:
        self.links.append(("cut", member_id))

    def heal(self, member_id: int) -> None:
        self.links.append(("heal", member_id))


def test_nemesis_one_fault_at_a_time_then_heals() -> None:
    now = [0.0]
    members, topo = FakeMembers(), FakeTopology()
    cfg = JepsenConfig(nemesis_interval=(1.0, 1.0), fault_duration=(2.0, 2.0), min_restart_delay=0.0)
    nem = Nemesis(members, topo, random.Random(5), cfg, clock=lambda: now[0])  # type: ignore[arg-type]
    for _ in range(100):
        now[0] += 0.25
        nem.do_work(allow_faults=True)
        assert sum(not a for a in members.alive) <= 1 and len(nem.cut) <= 1
        assert not (nem.cut and not all(members.alive))
    kinds = {f.kind for f in nem.faults}
    assert kinds == {"kill", "partition"} and len(nem.faults) >= 6
    assert sum(f.member == 2 for f in nem.faults) > len(nem.faults) / 3  # the leader-targeted faults
    assert all(f.healed_at is not None and f.healed_at - f.at == pytest.approx(2.0, abs=0.3) for f in nem.faults[:-1])
    members.alive[1] = False  # dies on its own: restarted
    nem.do_work(allow_faults=False)
    assert all(members.alive) and not nem.cut and nem.active is None


def test_killed_member_stays_down_for_the_restart_delay() -> None:
    now = [0.0]
    members = FakeMembers()
    cfg = JepsenConfig(nemesis_interval=(0.5, 0.5), fault_duration=(1.0, 1.0), faults=("kill",), min_restart_delay=11.0)
    nem = Nemesis(members, LoopbackTopology(), random.Random(1), cfg, clock=lambda: now[0])  # type: ignore[arg-type]
    for _ in range(200):
        now[0] += 0.25
        nem.do_work(True)
    done = [f for f in nem.faults if f.healed_at is not None]
    assert done and all(f.healed_at - f.at >= 11.0 for f in done)  # type: ignore[operator]


def test_nemesis_without_partitions_on_loopback() -> None:
    now = [0.0]
    members = FakeMembers()
    nem = Nemesis(members, LoopbackTopology(), random.Random(1), JepsenConfig(nemesis_interval=(0.5, 0.5)),  # type: ignore[arg-type]
                  clock=lambda: now[0])
    for _ in range(60):
        now[0] += 0.25
        nem.do_work(True)
    assert {f.kind for f in nem.faults} == {"kill"}


class FakeCluster:
    def __init__(self) -> None:
        self.is_closed = False
        self.sent: list[bytes] = []
        self.accept = True

    def poll_egress(self) -> int:
        return 0

    def offer(self, data: bytes) -> int:
        if not self.accept:
            return -2
        self.sent.append(data)
        return 64

    def close(self) -> None:
        self.is_closed = True


class FakePending:
    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster

    def poll(self) -> FakeCluster:
        return self.cluster

    def close(self) -> None:
        pass


def test_logical_client_statuses() -> None:
    t = [0]
    history = History(lambda: t[0])
    fake = FakeCluster()
    c = _LogicalClient(0, lambda listener: FakePending(fake), history, OpGenerator(random.Random(2), 1, 3), 100)
    c.do_work(0, True)  # connect
    assert c.cluster is fake
    c.do_work(1, True)  # invoke + offer
    assert c.op is not None and c.op[4]
    request = kv.decode_request(fake.sent[-1])
    c.responses[request.correlation_id] = kv.apply({}, request)
    t[0] = 5
    c.do_work(5, True)
    assert c.op is None and history.operations()[-1].status == Status.OK
    c.do_work(6, True)  # next op offered, never answered
    t[0] = 200
    c.do_work(200, True)
    assert history.operations()[-1].status == Status.INFO
    fake.accept = False  # back-pressured until the deadline: never sent
    c.do_work(201, True)
    c.do_work(400, True)
    assert history.operations()[-1].status == Status.FAIL
    fake.accept = True
    c.do_work(401, True)
    fake.is_closed = True  # the session goes with the op in flight
    c.do_work(402, True)
    c.do_work(403, False)
    assert history.operations()[-1].status == Status.INFO and c.cluster is None


def test_report_table() -> None:
    r = JepsenReport("linearizable", 30.0, 10, 8, 1, 1, {"read": {"ok": 5}}, [{"kind": "kill"}, {"kind": "partition"}],
                     {0: 2, 1: 1, 2: 1}, 4, 2, 0.1, "", "/tmp/x")
    text = r.table()
    assert "operations        10 (ok 8, failed 1, unknown 1)" in text and "kill -9 1, link cut 1" in text


def test_check_only_mode(tmp_path: Any, capsys: Any) -> None:
    import json

    from aeronpy.testing.linearizability import Operation, operations_to_json

    ops = [Operation(0, Kind.WRITE, "k", "1", 0, 1), Operation(1, Kind.READ, "k", None, 2, 3, Status.OK, "2")]
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"stats": {}, "history": json.loads(operations_to_json(ops))}))
    assert main(["--check", str(path)]) == 1
    assert "not linearizable" in capsys.readouterr().out
