"""Cluster benchmarks: a 3-member aeronpy cluster on this machine running the bundled echo
service, measured from a client: round trip (client -> leader -> log -> quorum commit ->
service -> egress) p50/p99 and throughput for 32 B and 1 KB messages, and failover time
(kill -9 of the leader -> first echo from the new leader).

Run: ``python benchmarks/cluster.py [--pings N] [--messages N] [--window W] [--json PATH]
[--quick]``.  Members are ``aeronpy cluster-node`` processes (driver, archive, consensus module
and service in one process each, on loopback); the client runs an embedded driver in this
process.  ``-D key=value`` passes a property to every member (e.g. ``aeronpy.cluster.doorbell=false``
for the members' old idle behaviour); ``--idle-seconds`` measures an idle member's CPU.  Prints a
table and writes JSON (default ``benchmarks/cluster-results.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHM = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


class Echoes:
    """Egress listener keeping the sequence numbers of echoes and when they arrived."""

    def __init__(self) -> None:
        from aeronpy.cluster.client.listener import EgressListener

        self.arrived: dict[int, int] = {}
        self.count = 0
        self.leader_changes = 0
        outer = self

        class Listener(EgressListener):
            def on_message(self, cluster_session_id: int, timestamp: int, buffer: Any, offset: int, length: int,
                           header: Any) -> None:
                outer.arrived[int.from_bytes(buffer.get_bytes(offset, 8), "little")] = time.perf_counter_ns()
                outer.count += 1

            def on_new_leader(self, *args: Any) -> None:
                outer.leader_changes += 1

        self.listener = Listener()


def _connect(aeron: Any, aeron_dir: str, endpoints: str, echoes: Echoes, timeout_s: float) -> Any:
    from aeronpy.cluster.client.aeron_cluster import AeronCluster
    from aeronpy.cluster.client.context import ClusterClientContext
    from aeronpy.cluster.client.errors import ClusterError

    ctx = ClusterClientContext.from_properties(
        env={}, aeron_dir=aeron_dir, aeron=aeron, ingress_channel="aeron:udp?term-length=4m",
        ingress_endpoints=endpoints, egress_channel="aeron:udp?endpoint=localhost:0|term-length=4m",
        egress_listener=echoes.listener,
    )
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return AeronCluster.connect(ctx)
        except ClusterError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _payload(seq: int, size: int) -> bytes:
    return seq.to_bytes(8, "little") + bytes(size - 8)


def round_trip(cluster: Any, echoes: Echoes, size: int, count: int, first_seq: int) -> dict[str, float]:
    samples = []
    for i in range(count):
        seq = first_seq + i
        t0 = time.perf_counter_ns()
        while cluster.offer(_payload(seq, size)) < 0:
            cluster.poll_egress()
        while seq not in echoes.arrived:
            if cluster.poll_egress() == 0:
                time.sleep(0)
            if time.perf_counter_ns() - t0 > 10_000_000_000:
                raise RuntimeError(f"no echo of message {seq} within 10 s")
        samples.append((echoes.arrived[seq] - t0) / 1000)
    samples.sort()
    return {
        "count": count, "p50_us": samples[len(samples) // 2], "p99_us": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        "max_us": samples[-1], "mean_us": statistics.fmean(samples),
    }


def throughput(cluster: Any, echoes: Echoes, size: int, count: int, window: int, first_seq: int) -> dict[str, float]:
    """Up to ``window`` messages in flight; timed from the first send to the last echo."""
    sent = 0
    base = echoes.count
    t0 = time.perf_counter_ns()
    last = first_seq + count - 1
    while last not in echoes.arrived:
        while sent < count and sent - (echoes.count - base) < window:
            if cluster.offer(_payload(first_seq + sent, size)) < 0:
                break
            sent += 1
        if cluster.poll_egress() == 0:
            time.sleep(0)
        if time.perf_counter_ns() - t0 > 300_000_000_000:
            raise RuntimeError("throughput run stuck for 300 s")
    elapsed = (echoes.arrived[last] - t0) / 1e9
    got = echoes.count - base
    return {"count": count, "received": got, "seconds": elapsed, "msgs_per_s": got / elapsed,
            "mb_per_s": got * size / elapsed / 1e6}


def failover(members: Any, cluster: Any, echoes: Echoes, aeron: Any, aeron_dir: str, first_seq: int,
             timeout_s: float = 60.0) -> dict[str, Any]:
    """Send a message every ms; kill -9 the leader; time until the first echo of a message sent
    after the kill (the client rides through NewLeaderEvent, or reconnects if its session died)."""
    leader = cluster.leader_member_id
    seq = first_seq
    for _ in range(50):  # steady state first
        cluster.offer(_payload(seq, 32))
        seq += 1
        cluster.poll_egress()
        time.sleep(0.001)
    kill_seq = seq
    killed_at = time.perf_counter_ns()
    members.kill(leader)
    reconnects = 0
    deadline = time.monotonic() + timeout_s
    first_after: int | None = None
    while first_after is None:
        if time.monotonic() > deadline:
            return {"killed_leader": leader, "failover_s": None, "error": f"no echo within {timeout_s:.0f} s"}
        if cluster.is_closed:
            cluster = _connect(aeron, aeron_dir, members.ingress_endpoints(), echoes, timeout_s)
            reconnects += 1
        cluster.offer(_payload(seq, 32))
        seq += 1
        cluster.poll_egress()
        after = [echoes.arrived[s] for s in range(kill_seq, seq) if s in echoes.arrived]
        if after:
            first_after = min(after)
        time.sleep(0.001)
    return {"killed_leader": leader, "new_leader": cluster.leader_member_id,
            "failover_s": (first_after - killed_at) / 1e9, "reconnects": reconnects, "cluster": cluster}


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the processes so far (Linux /proc), 0 elsewhere."""
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / hz


def idle_cpu(members: Any, cluster: Any, seconds: float) -> dict[str, float]:
    """Mean CPU (% of a core) of a member while the cluster idles with one connected client."""
    pids = [p.pid for p in members.procs.values() if p is not None]
    keep_alive = 0.0
    c0, t0 = _cpu_seconds(pids), time.monotonic()
    while time.monotonic() - t0 < seconds:
        cluster.poll_egress()
        if time.monotonic() > keep_alive:
            cluster.send_keep_alive()
            keep_alive = time.monotonic() + 1.0
        time.sleep(0.05)
    used = _cpu_seconds(pids) - c0
    return {"seconds": time.monotonic() - t0, "cpu_percent_per_member": used / (time.monotonic() - t0) / len(pids) * 100}


def main() -> int:
    sys.path.insert(0, str(HERE.parent / "src"))
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context
    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.media_driver import MediaDriver
    from aeronpy.testing.jepsen import LoopbackTopology, MemberSet, cluster_node_available

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pings", type=int, default=2000, help="round trips per size")
    p.add_argument("--messages", type=int, default=20000, help="messages per throughput case")
    p.add_argument("--window", type=int, default=256, help="messages in flight in the throughput case")
    p.add_argument("--base-port", type=int, default=random.randrange(21_000, 29_000, 100))
    p.add_argument("--json", default=str(HERE / "cluster-results.json"))
    p.add_argument("--quick", action="store_true", help="a tiny smoke run")
    p.add_argument("--no-failover", action="store_true")
    p.add_argument("--idle-seconds", type=float, default=10.0, help="idle CPU measurement (0: skip)")
    p.add_argument("-D", dest="member_properties", action="append", default=[], metavar="KEY=VALUE",
                   help="a property for every member (e.g. -D aeronpy.cluster.doorbell=false)")
    a = p.parse_args()
    extra: dict[str, str] = {}
    for item in a.member_properties:
        key, sep, value = item.partition("=")
        if not sep or not key:
            p.error(f"-D {item!r}: expected KEY=VALUE")
        extra[key.strip()] = value.strip()
    if a.quick:
        a.pings, a.messages, a.idle_seconds = 50, 500, min(a.idle_seconds, 2.0)
    work = tempfile.mkdtemp(prefix="aeronpy-cluster-bench-")
    aeron_dir = tempfile.mkdtemp(prefix="aeronpy-cluster-bench-client-", dir=SHM)
    ok, why = cluster_node_available()
    if not ok:
        print(f"cluster benchmark skipped: {why}", file=sys.stderr)
        return 2
    members = MemberSet(LoopbackTopology(), work, a.base_port, service="echo", properties=extra)
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "host": platform.node(),
        "python": platform.python_version(), "cpus": os.cpu_count(), "members": 3,
        "load_average_before": os.getloadavg(),
        "member_properties": members.properties,
    }
    driver = MediaDriver.launch(DriverContext.from_properties(env={}, aeron_dir=aeron_dir, dir_delete_on_shutdown=True,
                                                              dir_mode=0o700, file_mode=0o600))
    aeron = Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir))
    cluster = None
    try:
        members.start_all()
        echoes = Echoes()
        t0 = time.monotonic()
        cluster = _connect(aeron, aeron_dir, members.ingress_endpoints(), echoes, 120.0)
        results["first_connect_s"] = time.monotonic() - t0
        if a.idle_seconds > 0:
            round_trip(cluster, echoes, 32, 10, 0)
            results["idle"] = idle_cpu(members, cluster, a.idle_seconds)
        seq = 10
        for size in (32, 1024):
            round_trip(cluster, echoes, size, min(100, a.pings), seq)  # warm up
            seq += min(100, a.pings)
            results[f"rtt_{size}"] = round_trip(cluster, echoes, size, a.pings, seq)
            seq += a.pings
            results[f"throughput_{size}"] = throughput(cluster, echoes, size, a.messages, a.window, seq)
            seq += a.messages
        if not a.no_failover:
            fo = failover(members, cluster, echoes, aeron, aeron_dir, seq)
            cluster = fo.pop("cluster", cluster)
            results["failover"] = fo
    finally:
        if cluster is not None:
            try:
                cluster.close()
            except Exception:  # noqa: BLE001
                pass
        aeron.close()
        driver.close()
        members.close()
        shutil.rmtree(aeron_dir, ignore_errors=True)
    results["load_average_after"] = os.getloadavg()
    print(f"3-member aeronpy cluster on loopback ({os.cpu_count()} CPUs, load average "
          f"{results['load_average_before'][0]:.1f} before, {results['load_average_after'][0]:.1f} after), "
          f"echo service; member logs in {work}")
    print(f"{'case':<28}{'result':>40}")
    for size in (32, 1024):
        r = results[f"rtt_{size}"]
        cell = f"p50 {r['p50_us']:.0f} us  p99 {r['p99_us']:.0f} us"
        print(f"{f'round trip {size} B':<28}{cell:>40}")
    for size in (32, 1024):
        t = results[f"throughput_{size}"]
        cell = f"{t['msgs_per_s']:,.0f} msgs/s  {t['mb_per_s']:.2f} MB/s"
        print(f"{f'throughput {size} B':<28}{cell:>40}")
    if "idle" in results:
        cell = f"{results['idle']['cpu_percent_per_member']:.1f} % of a core"
        print(f"{'idle member CPU':<28}{cell:>40}")
    if "failover" in results:
        fo = results["failover"]
        shown = "failed: " + fo["error"] if fo.get("failover_s") is None else (
            f"{fo['failover_s']:.2f} s (leader {fo['killed_leader']} -> {fo['new_leader']})")
        print(f"{'failover (kill -9 leader)':<28}{shown:>40}")
    with open(a.json, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2, default=str)
    print(f"results written to {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
