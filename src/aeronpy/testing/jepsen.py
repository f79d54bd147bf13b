"""A Jepsen-style run against a 3-member aeronpy cluster hosting the key-value service.

For a bounded time several clients perform random reads, writes and compare-and-sets on a few
keys through :class:`~aeronpy.cluster.client.AeronCluster`, while a nemesis kills (-9) and
restarts members and, on network-namespace hosts, cuts and heals a member's link.  Every
operation is recorded with its invocation and completion time (a timeout is an unknown outcome)
and the history is checked with :mod:`aeronpy.testing.linearizability`.  The report gives the
operations done, the faults injected and the verdict.

Run it::

    python -m aeronpy.testing.jepsen --duration 300 [--clients 5] [--seed N] [--netns] [--out DIR]

``--netns`` puts every member on its own network namespace (root, and a source checkout for
``tests/net/netns.py``); without it the members share the loopback interface and the nemesis
only kills and restarts.  Exit status 0 linearizable, 1 not linearizable or the run failed,
3 unknown (search budget exceeded).

Pieces: :class:`Topology` (where members and the client run, and how links are cut),
:class:`MemberSet` (the ``aeronpy cluster-node`` processes), :func:`client_main` (the client
process: logical clients multiplexed on one thread), :class:`Nemesis`, :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import IO, Any, Protocol

from aeronpy.testing.linearizability import (
    CheckResult,
    History,
    Kind,
    Operation,
    Status,
    Verdict,
    check,
    operations_from_json,
    operations_to_json,
)

__all__ = [
    "JepsenConfig",
    "Topology",
    "LoopbackTopology",
    "NetnsTopology",
    "MemberSet",
    "Nemesis",
    "Fault",
    "JepsenReport",
    "OpGenerator",
    "run",
    "cluster_node_available",
    "client_main",
    "main",
]

MS = 1_000_000


@dataclass
class JepsenConfig:
    """Everything a run needs; times in seconds."""

    duration: float = 45.0
    clients: int = 4
    keys: int = 3
    values: int = 5
    op_timeout: float = 2.0
    seed: int = 1
    #: a fault starts every nemesis_interval (uniform in the range) and lasts fault_duration
    nemesis_interval: tuple[float, float] = (3.0, 8.0)
    fault_duration: tuple[float, float] = (2.0, 6.0)
    #: no faults in the last ``quiet`` seconds: everything healed and restarted
    quiet: float = 8.0
    #: kill, partition (a random member), kill-leader, partition-leader (the current leader)
    faults: tuple[str, ...] = ("kill", "kill-leader", "partition", "partition-leader")
    #: a killed member stays down at least this long: its driver's cnc.dat and its archive's
    #: mark file count as active for 10 s after the last heartbeat (as in Aeron)
    min_restart_delay: float = 11.0
    base_port: int = 20_000
    work_dir: str = ""
    startup_timeout: float = 90.0
    #: -D properties for every member, on top of :meth:`MemberSet.default_properties`
    member_properties: dict[str, str] = field(default_factory=dict)
    check_budget: int = 2_000_000


# -- topology -----------------------------------------------------------------------------------


class Topology(Protocol):
    """Where the members (0..n-1) and the client process run."""

    can_partition: bool

    def member_address(self, member_id: int) -> str: ...
    def client_address(self) -> str: ...
    def start(self, where: int | None, argv: Sequence[str], log: IO[bytes]) -> subprocess.Popen[bytes]: ...
    def cut(self, member_id: int) -> None: ...
    def heal(self, member_id: int) -> None: ...


class LoopbackTopology:
    """Every process on this host, addresses 127.0.0.1; links cannot be cut."""

    can_partition = False

    def member_address(self, member_id: int) -> str:
        return "127.0.0.1"

    def client_address(self) -> str:
        return "127.0.0.1"

    def start(self, where: int | None, argv: Sequence[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def cut(self, member_id: int) -> None:
        raise RuntimeError("loopback topology cannot cut links")

    def heal(self, member_id: int) -> None:
        pass


class NetnsTopology:
    """Members on hosts 0..n-1 and the client on host n of a ``NetNamespaces``-like object
    (``hosts[i].address``, ``hosts[i].run(argv, **popen)``, ``set_link(host, up)``), e.g.
    ``tests/net/netns.py``; a cut takes the member's bridge port down."""

    can_partition = True

    def __init__(self, namespaces: Any, members: int = 3) -> None:
        if len(namespaces.hosts) < members + 1:
            raise ValueError(f"need {members + 1} hosts (members and a client), got {len(namespaces.hosts)}")
        self.ns = namespaces
        self.members = members

    def member_address(self, member_id: int) -> str:
        return str(self.ns.hosts[member_id].address)

    def client_address(self) -> str:
        return str(self.ns.hosts[self.members].address)

    def start(self, where: int | None, argv: Sequence[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
        host = self.ns.hosts[self.members if where is None else where]
        proc: subprocess.Popen[bytes] = host.run(list(argv), stdout=log, stderr=subprocess.STDOUT,
                                                 start_new_session=True)
        return proc

    def cut(self, member_id: int) -> None:
        self.ns.set_link(self.ns.hosts[member_id], False)

    def heal(self, member_id: int) -> None:
        self.ns.set_link(self.ns.hosts[member_id], True)


# -- members ------------------------------------------------------------------------------------


def cluster_node_available() -> tuple[bool, str]:
    """Whether ``aeronpy cluster-node`` can run a member here (``(False, why)`` if not)."""
    import importlib.util

    if importlib.util.find_spec("aeronpy.cluster.node") is None:
        return False, "aeronpy.cluster.node (the cluster-node command) is not built yet"
    return True, ""


class MemberSet:
    """The ``aeronpy cluster-node`` processes of a 3-member cluster with the ``kv`` service."""

    PORTS = ("ingress", "consensus", "log", "catchup", "archive")

    def __init__(self, topology: Topology, work_dir: str, base_port: int, count: int = 3,
                 properties: dict[str, str] | None = None, service: str = "kv", verbose: bool = True) -> None:
        self.topology = topology
        self.verbose = verbose
        self.work_dir = work_dir
        self.base_port = base_port
        self.count = count
        self.service = service
        self.properties = {**self.default_properties(), **(properties or {})}
        self.procs: dict[int, subprocess.Popen[bytes] | None] = dict.fromkeys(range(count))
        self.logs: dict[int, IO[bytes]] = {}
        self.starts = dict.fromkeys(range(count), 0)

    @staticmethod
    def default_properties() -> dict[str, str]:
        """Timeouts short enough for a run of a minute, long enough for a loaded 2-core host."""
        return {
            "aeron.cluster.leader.heartbeat.timeout": "3s",
            "aeron.cluster.leader.heartbeat.interval": "100ms",
            "aeron.cluster.startup.canvass.timeout": "6s",
            "aeron.cluster.election.timeout": "500ms",
            "aeron.cluster.session.timeout": "10s",
            "aeron.cluster.log.channel": "aeron:udp?term-length=4m",
        }

    def port(self, member_id: int, kind: str) -> int:
        """Loopback needs distinct ports per member; namespaced hosts could share, but need not."""
        return self.base_port + member_id * 10 + self.PORTS.index(kind)

    def endpoint(self, member_id: int, kind: str) -> str:
        return f"{self.topology.member_address(member_id)}:{self.port(member_id, kind)}"

    def members_string(self) -> str:
        return "|".join(
            f"{i}," + ",".join(self.endpoint(i, k) for k in self.PORTS) for i in range(self.count)
        )

    def ingress_endpoints(self) -> str:
        return ",".join(f"{i}={self.endpoint(i, 'ingress')}" for i in range(self.count))

    def member_dir(self, member_id: int) -> str:
        return os.path.join(self.work_dir, f"member-{member_id}")

    def cluster_dir(self, member_id: int) -> str:
        """Where ``aeronpy cluster-tool`` finds the member's cluster files."""
        return os.path.join(self.member_dir(member_id), "cluster")

    def argv(self, member_id: int) -> list[str]:
        argv = [sys.executable, "-m", "aeronpy", "cluster-node", "--member-id", str(member_id),
                "--members", self.members_string(), "--dir", self.member_dir(member_id), "--service", self.service]
        if self.verbose:  # elections, log joins and errors in member-N.log
            argv.append("-v")
        for k, v in sorted(self.properties.items()):
            argv += ["-D", f"{k}={v}"]
        return argv

    def start(self, member_id: int) -> None:
        if self.is_alive(member_id):
            return
        os.makedirs(self.member_dir(member_id), exist_ok=True)
        log = self.logs.get(member_id)
        if log is None:
            log = open(os.path.join(self.work_dir, f"member-{member_id}.log"), "ab")  # noqa: SIM115 - kept open
            self.logs[member_id] = log
        log.write(f"\n==== start {self.starts[member_id]} at {time.time():.3f}\n".encode())
        log.flush()
        self.procs[member_id] = self.topology.start(member_id, self.argv(member_id), log)
        self.starts[member_id] += 1

    def start_all(self) -> None:
        for i in range(self.count):
            self.start(i)

    def is_alive(self, member_id: int) -> bool:
        p = self.procs[member_id]
        return p is not None and p.poll() is None

    def kill(self, member_id: int) -> None:
        """``kill -9`` the member (its whole process group)."""
        p = self.procs[member_id]
        if p is None:
            return
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            except PermissionError:
                p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs[member_id] = None

    def leader(self, timeout: float = 60.0, exclude: tuple[int, ...] = ()) -> int:
        """The member whose node-role counter says LEADER with no election running (as
        ``cluster-tool is-leader``); waits up to ``timeout`` seconds."""
        import io

        from aeronpy.cluster.errors import ClusterError
        from aeronpy.cluster.tool import SUCCESS, ToolSettings
        from aeronpy.cluster.tool import run as tool_run

        deadline = time.monotonic() + timeout
        while True:
            for i in range(self.count):
                if i in exclude or not self.is_alive(i):
                    continue
                try:
                    if tool_run(self.cluster_dir(i), "is-leader", [], io.StringIO(), ToolSettings()) == SUCCESS:
                        return i
                except (ClusterError, OSError):
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"no leader among members {[i for i in range(self.count) if i not in exclude]} "
                                   f"within {timeout:.0f} s (logs in {self.work_dir})")
            time.sleep(0.1)

    def exit_codes(self) -> dict[int, int | None]:
        return {i: (p.poll() if p is not None else None) for i, p in self.procs.items()}

    def aeron_dir(self, member_id: int) -> str:
        """The member's Aeron directory (``cluster-node``'s default for its node directory)."""
        from aeronpy.cluster.node import default_aeron_dir_for

        return default_aeron_dir_for(self.member_dir(member_id))

    def close(self) -> None:
        """Kill every member and delete their Aeron directories (a member killed with -9
        cannot delete its own); logs and node directories stay for the report."""
        for i in range(self.count):
            self.kill(i)
        for i in range(self.count):
            shutil.rmtree(self.aeron_dir(i), ignore_errors=True)
        for log in self.logs.values():
            log.close()
        self.logs.clear()


# -- the client process -------------------------------------------------------------------------


class OpGenerator:
    """Random operations on ``keys`` keys with ``values`` values (read 40 %, write 30 %, CAS 30 %)."""

    def __init__(self, rnd: random.Random, keys: int, values: int) -> None:
        self.rnd = rnd
        self.keys = [f"k{i}" for i in range(keys)]
        self.values = [str(v) for v in range(values)]

    def next(self) -> tuple[Kind, str, Any]:
        r = self.rnd.random()
        key = self.rnd.choice(self.keys)
        if r < 0.4:
            return Kind.READ, key, None
        if r < 0.7:
            return Kind.WRITE, key, self.rnd.choice(self.values)
        expected = self.rnd.choice([None, *self.values])
        return Kind.CAS, key, (expected, self.rnd.choice(self.values))


def encode_request(kind: Kind, correlation_id: int, key: str, value: Any) -> bytes:
    from aeronpy.cluster.examples import kv

    if kind == Kind.READ:
        return kv.encode_read(correlation_id, key)
    if kind == Kind.WRITE:
        return kv.encode_write(correlation_id, key, value)
    expected, new = value
    return kv.encode_cas(correlation_id, key, expected, new)


def response_output(kind: Kind, response: Any) -> tuple[Status, Any]:
    """The history status and output of a key-value response to an operation of ``kind``."""
    from aeronpy.cluster.examples import kv

    st = response.status
    if st == kv.Status.BAD_REQUEST:
        return Status.FAIL, None
    if kind == Kind.READ:
        if st == kv.Status.NOT_FOUND:
            return Status.OK, None
        return Status.OK, response.value.decode() if response.value is not None else None
    if kind == Kind.WRITE:
        return Status.OK, None
    return Status.OK, st == kv.Status.OK


class _LogicalClient:
    """One Jepsen client: at most one operation in flight, its own cluster session."""

    def __init__(self, index: int, make_ctx: Callable[[Any], Any], history: History, gen: OpGenerator,
                 op_timeout_ns: int) -> None:
        from aeronpy.cluster.client.listener import EgressListener

        self.index = index
        self.make_ctx = make_ctx
        self.history = history
        self.gen = gen
        self.op_timeout_ns = op_timeout_ns
        self.pending: Any = None
        self.cluster: Any = None
        self.op: tuple[int, Kind, int, bytes, bool] | None = None  # op id, kind, correlation id, request, offered
        self.deadline = 0
        self.responses: dict[int, Any] = {}
        self.next_correlation = index << 40
        self.connects = 0
        self.leader_changes = 0
        outer = self

        class Listener(EgressListener):
            def on_message(self, cluster_session_id: int, timestamp: int, buffer: Any, offset: int, length: int,
                           header: Any) -> None:
                from aeronpy.cluster.examples import kv

                try:
                    r = kv.decode_response(buffer.get_bytes(offset, length))
                except kv.KvCodecError:
                    return
                outer.responses[r.correlation_id] = r

            def on_new_leader(self, cluster_session_id: int, leadership_term_id: int, leader_member_id: int,
                              ingress_endpoints: str) -> None:
                outer.leader_changes += 1

        self.listener = Listener()

    def _finish(self, status: Status, output: Any = None) -> None:
        assert self.op is not None
        op_id = self.op[0]
        if status == Status.OK:
            self.history.ok(op_id, output)
        elif status == Status.FAIL:
            self.history.fail(op_id)
        else:
            self.history.info(op_id)
        self.op = None

    def do_work(self, now: int, accepting: bool) -> int:
        from aeronpy.cluster.client.errors import ClusterError as ClientClusterError

        work = 0
        if self.cluster is None:
            if self.op is not None:  # the session went away with an operation in flight
                self._finish(Status.INFO if self.op[4] else Status.FAIL)
            if self.pending is None:
                if not accepting:
                    return 0
                self.pending = self.make_ctx(self.listener)
            try:
                cluster = self.pending.poll()
            except (ClientClusterError, TimeoutError, OSError):
                self.pending.close()
                self.pending = None
                return 1
            if cluster is None:
                return 0
            self.pending = None
            self.cluster = cluster
            self.connects += 1
            return 1
        try:
            work += int(self.cluster.poll_egress())
        except Exception:  # noqa: BLE001 - a closed or broken session: reconnect
            self._drop()
            return 1
        if self.cluster.is_closed:
            self._drop()
            return 1
        if self.op is None:
            if not accepting:
                return work
            kind, key, value = self.gen.next()
            self.next_correlation += 1
            cid = self.next_correlation
            op_id = self.history.invoke(self.index, kind, key, value)
            self.op = (op_id, kind, cid, encode_request(kind, cid, key, value), False)
            self.deadline = now + self.op_timeout_ns
            work += 1
        op_id, kind, cid, request, offered = self.op
        if not offered:
            if self.cluster.offer(request) > 0:
                self.op = (op_id, kind, cid, request, True)
                work += 1
            elif now > self.deadline:
                self._finish(Status.FAIL)  # never left this client: it cannot have taken effect
                return work + 1
        response = self.responses.pop(cid, None)
        if response is not None:
            self._finish(*response_output(kind, response))
            self.responses.clear()
            return work + 1
        if now > self.deadline:
            self._finish(Status.INFO)
            self.responses.clear()
            work += 1
        return work

    def _drop(self) -> None:
        try:
            self.cluster.close()
        except Exception:  # noqa: BLE001
            pass
        self.cluster = None

    def close(self) -> None:
        if self.op is not None:
            self._finish(Status.INFO if self.op[4] else Status.FAIL)
        if self.pending is not None:
            self.pending.close()
        if self.cluster is not None:
            self._drop()


def client_main(config_path: str, out_path: str) -> int:
    """The client process: ``config`` JSON (clients, keys, values, op_timeout, duration, seed,
    ingress_endpoints, egress_host); writes the history as JSON to ``out_path``."""
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context
    from aeronpy.cluster.client.aeron_cluster import AeronCluster
    from aeronpy.cluster.client.context import ClusterClientContext
    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.media_driver import MediaDriver

    with open(config_path, encoding="utf-8") as f:
        cfg = json.load(f)
    aeron_dir = tempfile.mkdtemp(prefix="aeronpy-jepsen-client-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    driver = MediaDriver.launch(DriverContext.from_properties(env={}, aeron_dir=aeron_dir, dir_delete_on_shutdown=True,
                                                              dir_mode=0o700, file_mode=0o600))
    history = History()
    rnd = random.Random(cfg["seed"])
    clients: list[_LogicalClient] = []
    aeron = None
    try:
        aeron = Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir))

        def make_pending(listener: Any) -> Any:
            ctx = ClusterClientContext.from_properties(
                env={}, aeron_dir=aeron_dir, aeron=aeron, ingress_channel="aeron:udp?term-length=128k",
                ingress_endpoints=cfg["ingress_endpoints"],
                egress_channel=f"aeron:udp?endpoint={cfg['egress_host']}:0|term-length=128k",
                message_timeout_ns=int(cfg.get("connect_timeout", 5.0) * 1e9), egress_listener=listener,
            )
            return AeronCluster.async_connect(ctx)

        gen = OpGenerator(rnd, cfg["keys"], cfg["values"])
        clients = [_LogicalClient(i, make_pending, history, gen, int(cfg["op_timeout"] * 1e9))
                   for i in range(cfg["clients"])]
        started = time.monotonic_ns()
        end = started + int(cfg["duration"] * 1e9)
        last_report = started
        while True:
            now = time.monotonic_ns()
            accepting = now < end
            work = 0
            for c in clients:
                work += c.do_work(now, accepting)
            if not accepting and all(c.op is None for c in clients):
                break
            if now - last_report > 5_000_000_000:
                last_report = now
                ops = history.operations()
                print(f"jepsen-client: t={(now - started) / 1e9:.0f}s ops={len(ops)} "
                      f"ok={sum(o.status == Status.OK for o in ops)} "
                      f"info={sum(o.status == Status.INFO for o in ops)} "
                      f"sessions={sum(c.connects for c in clients)}", flush=True)
            if work == 0:
                time.sleep(0.0005)
        for c in clients:
            c.close()
        stats = {"sessions": sum(c.connects for c in clients), "leader_changes": sum(c.leader_changes for c in clients)}
        with open(out_path + ".tmp", "w", encoding="utf-8") as f:
            f.write(json.dumps({"stats": stats, "history": json.loads(operations_to_json(history.operations()))}))
        os.replace(out_path + ".tmp", out_path)
        return 0
    finally:
        for c in clients:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass
        if aeron is not None:
            aeron.close()
        driver.close()
        shutil.rmtree(aeron_dir, ignore_errors=True)


# -- nemesis ------------------------------------------------------------------------------------


@dataclass
class Fault:
    at: float  # seconds since the run started
    kind: str  # kill | partition
    member: int
    healed_at: float | None = None


class Nemesis:
    """One fault at a time on a random member: kill -9 then restart, or cut then heal its link."""

    def __init__(self, members: MemberSet, topology: Topology, rnd: random.Random, config: JepsenConfig,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.members = members
        self.topology = topology
        self.rnd = rnd
        self.cfg = config
        self.clock = clock
        self.kinds = [k for k in config.faults if not k.startswith("partition") or topology.can_partition]
        self.faults: list[Fault] = []
        self.active: Fault | None = None
        self.started = clock()
        self.next_at = self.started + rnd.uniform(*config.nemesis_interval)
        self.heal_at = 0.0
        self.cut: set[int] = set()

    def do_work(self, allow_faults: bool) -> None:
        now = self.clock()
        if self.active is not None and (now >= self.heal_at or not allow_faults):
            self._heal(self.active, now)
        if self.active is None and allow_faults and self.kinds and now >= self.next_at:
            kind = self.rnd.choice(self.kinds)
            member = self.rnd.randrange(self.members.count)
            if kind.endswith("-leader"):
                kind = kind.removesuffix("-leader")
                try:
                    member = self.members.leader(timeout=1.0)
                except TimeoutError:
                    pass  # no leader right now: a random member then
            fault = Fault(now - self.started, kind, member)
            if kind == "kill":
                self.members.kill(member)
            else:
                self.topology.cut(member)
                self.cut.add(member)
            self.faults.append(fault)
            self.active = fault
            self.heal_at = now + self.rnd.uniform(*self.cfg.fault_duration)
            if kind == "kill":
                self.heal_at = max(self.heal_at, now + self.cfg.min_restart_delay)
        for i in range(self.members.count):  # a member that died by itself is restarted too
            if (self.active is None or self.active.member != i or self.active.kind != "kill") \
                    and not self.members.is_alive(i):
                self.members.start(i)

    def _heal(self, fault: Fault, now: float) -> None:
        if fault.kind == "kill":
            self.members.start(fault.member)
        else:
            self.topology.heal(fault.member)
            self.cut.discard(fault.member)
        fault.healed_at = now - self.started
        self.active = None
        self.next_at = now + self.rnd.uniform(*self.cfg.nemesis_interval)

    def heal_all(self) -> None:
        if self.active is not None:
            self._heal(self.active, self.clock())
        for m in list(self.cut):
            self.topology.heal(m)
        self.cut.clear()


# -- the run ------------------------------------------------------------------------------------


@dataclass
class JepsenReport:
    verdict: str
    duration: float
    operations: int
    ok: int
    failed: int
    unknown: int
    by_kind: dict[str, dict[str, int]]
    faults: list[dict[str, Any]]
    member_starts: dict[int, int]
    sessions: int
    leader_changes: int
    check_seconds: float
    explanation: str
    work_dir: str
    error: str | None = None
    #: availability: the longest stretch without a completed operation, and the operations
    #: completed once every fault was healed (the quiet period)
    longest_gap: float = 0.0
    ok_after_heal: int = 0

    def table(self) -> str:
        lines = [
            f"verdict           {self.verdict}",
            f"duration          {self.duration:.1f} s",
            f"operations        {self.operations} (ok {self.ok}, failed {self.failed}, unknown {self.unknown})",
        ]
        for kind, counts in sorted(self.by_kind.items()):
            lines.append(f"  {kind:<15} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        kills = sum(1 for f in self.faults if f["kind"] == "kill")
        cuts = sum(1 for f in self.faults if f["kind"] == "partition")
        lines += [
            f"faults            {len(self.faults)} (kill -9 {kills}, link cut {cuts})",
            f"member starts     {self.member_starts}",
            f"client sessions   {self.sessions}, leader changes seen {self.leader_changes}",
            f"availability      longest gap without a completed operation {self.longest_gap:.1f} s; "
            f"{self.ok_after_heal} completed after the last heal",
            f"check             {self.check_seconds:.2f} s",
            f"files             {self.work_dir}",
        ]
        if self.error:
            lines.append(f"error             {self.error}")
        if self.verdict != Verdict.OK.value and self.explanation:
            lines.append(self.explanation)
        return "\n".join(lines)


def _summarise(ops: list[Operation]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for o in ops:
        d = out.setdefault(o.kind.value, {})
        d[o.status.value] = d.get(o.status.value, 0) + 1
    return out


def run(config: JepsenConfig, topology: Topology | None = None,
        progress: Callable[[str], None] = lambda s: None,
        member_set: Callable[..., MemberSet] = MemberSet) -> JepsenReport:
    """Start the cluster and the clients, let the nemesis loose, then check the history.
    ``member_set`` builds the :class:`MemberSet` (a subclass may run members differently)."""
    topology = topology or LoopbackTopology()
    work_dir = config.work_dir or tempfile.mkdtemp(prefix="aeronpy-jepsen-")
    os.makedirs(work_dir, exist_ok=True)
    rnd = random.Random(config.seed)
    members = member_set(topology, work_dir, config.base_port, properties=config.member_properties)
    client: subprocess.Popen[bytes] | None = None
    client_log = open(os.path.join(work_dir, "client.log"), "ab")  # noqa: SIM115
    history_path = os.path.join(work_dir, "history.json")
    error: str | None = None
    nemesis: Nemesis | None = None
    started = time.monotonic()
    healed_ns = 1 << 62
    try:
        members.start_all()
        progress(f"members started: {members.members_string()}")
        try:
            leader = members.leader(timeout=config.startup_timeout)  # faults only once the cluster is up
        except TimeoutError as e:
            error = str(e)
        else:
            progress(f"member {leader} leads after {time.monotonic() - started:.1f} s")
            client_cfg = {
                "clients": config.clients, "keys": config.keys, "values": config.values, "op_timeout": config.op_timeout,
                "duration": config.duration, "seed": config.seed, "ingress_endpoints": members.ingress_endpoints(),
                "egress_host": topology.client_address(),
            }
            cfg_path = os.path.join(work_dir, "client.json")
            with open(cfg_path, "w", encoding="utf-8") as f:
                json.dump(client_cfg, f)
            client = topology.start(None, [sys.executable, "-m", "aeronpy.testing.jepsen", "client", cfg_path,
                                           history_path], client_log)
            nemesis = Nemesis(members, topology, rnd, config)
            fault_end = time.monotonic() + max(0.0, config.duration - config.quiet)
            healed_ns = int(fault_end * 1e9)
            hard_end = time.monotonic() + config.duration + config.startup_timeout + 60
            while client.poll() is None:
                now = time.monotonic()
                nemesis.do_work(allow_faults=now < fault_end)
                if now > hard_end:
                    error = "client process did not finish in time"
                    client.kill()
                    break
                time.sleep(0.05)
            nemesis.heal_all()
            if client.returncode not in (0, None) and error is None:
                error = f"client process exited with {client.returncode} (see {work_dir}/client.log)"
    finally:
        if client is not None and client.poll() is None:
            client.kill()
            client.wait(10)
        if nemesis is not None:
            nemesis.heal_all()
        members.close()
        client_log.close()
    elapsed = time.monotonic() - started
    ops: list[Operation] = []
    stats: dict[str, int] = {"sessions": 0, "leader_changes": 0}
    if os.path.exists(history_path):
        with open(history_path, encoding="utf-8") as f:
            doc = json.load(f)
        ops = operations_from_json(json.dumps(doc["history"]))
        stats = doc["stats"]
    elif error is None:
        error = "no history was written"
    t0 = time.monotonic()
    result: CheckResult = check(ops, max_steps_per_key=config.check_budget)
    check_s = time.monotonic() - t0
    verdict = result.verdict.value if error is None else f"run failed: {error}"
    ok = sum(o.status == Status.OK for o in ops)
    completed_ok = sum(o.status == Status.OK and o.kind != Kind.READ for o in ops)
    if error is None and completed_ok == 0:
        error = "no write or CAS completed: the cluster never served the clients"
        verdict = f"run failed: {error}"
    done = sorted(o.ret for o in ops if o.status == Status.OK and o.ret is not None)
    first_call = min((o.call for o in ops), default=0.0)
    gaps = [b - a for a, b in zip([first_call, *done], done)]
    return JepsenReport(
        longest_gap=max(gaps, default=0.0) / 1e9, ok_after_heal=sum(1 for t in done if t >= healed_ns),
        verdict=verdict, duration=elapsed, operations=len(ops), ok=ok,
        failed=sum(o.status == Status.FAIL for o in ops), unknown=sum(o.status == Status.INFO for o in ops),
        by_kind=_summarise(ops), faults=[asdict(f) for f in (nemesis.faults if nemesis else [])],
        member_starts=dict(members.starts), sessions=stats["sessions"], leader_changes=stats["leader_changes"],
        check_seconds=check_s, explanation=result.explain(), work_dir=work_dir, error=error,
    )


# -- command line -------------------------------------------------------------------------------


def _netns_topology(count: int) -> tuple[Any, NetnsTopology]:
    try:
        from tests.net.netns import NetNamespaces, netns_available
    except ImportError:
        raise SystemExit("--netns needs a source checkout (tests/net/netns.py on the path): run from the repository root") from None
    ok, reason = netns_available()
    if not ok:
        raise SystemExit(f"--netns: network namespaces unavailable: {reason}")
    ns = NetNamespaces(count + 1)
    ns.open()
    return ns, NetnsTopology(ns, count)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["client"]:
        if len(argv) != 3:
            print("usage: python -m aeronpy.testing.jepsen client CONFIG.json HISTORY.json", file=sys.stderr)
            return 2
        return client_main(argv[1], argv[2])
    p = argparse.ArgumentParser(prog="python -m aeronpy.testing.jepsen",
                                description="Jepsen-style run: random KV operations under kill -9 and link cuts, "
                                            "checked for linearizability.")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of operations (default 60)")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--keys", type=int, default=3)
    p.add_argument("--seed", type=int, default=int(time.time()))
    p.add_argument("--netns", action="store_true", help="members on network namespaces (root; cuts links too)")
    p.add_argument("--no-faults", action="store_true", help="no nemesis (a baseline run)")
    p.add_argument("--base-port", type=int, default=20_000)
    p.add_argument("--out", help="directory for logs, history and report (default: a new temporary one)")
    p.add_argument("--check", metavar="HISTORY", help="only check a history.json of an earlier run")
    a = p.parse_args(argv)
    if a.check:
        with open(a.check, encoding="utf-8") as f:
            ops = operations_from_json(json.dumps(json.load(f)["history"]))
        res = check(ops)
        print(res.explain())
        return {Verdict.OK: 0, Verdict.ILLEGAL: 1, Verdict.UNKNOWN: 3}[res.verdict]
    if a.duration <= 0 or a.clients <= 0 or a.keys <= 0:
        print("--duration, --clients and --keys must be positive", file=sys.stderr)
        return 2
    cfg = JepsenConfig(duration=a.duration, clients=a.clients, keys=a.keys, seed=a.seed, base_port=a.base_port,
                       work_dir=a.out or "", faults=() if a.no_faults else JepsenConfig.faults,
                       quiet=min(8.0, a.duration / 3))
    ns = None
    topology: Topology = LoopbackTopology()
    if a.netns:
        ns, topology = _netns_topology(3)
    try:
        report = run(cfg, topology, progress=lambda s: print(s, flush=True))
    finally:
        if ns is not None:
            ns.close()
    print(report.table())
    with open(os.path.join(report.work_dir, "report.json"), "w", encoding="utf-8") as f:
        json.dump(asdict(report), f, indent=2)
    if report.error:
        return 1
    return {Verdict.OK.value: 0, Verdict.ILLEGAL.value: 1, Verdict.UNKNOWN.value: 3}.get(report.verdict, 1)


if __name__ == "__main__":
    sys.exit(main())
