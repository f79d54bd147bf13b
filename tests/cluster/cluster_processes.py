"""Helpers of the multi-process cluster tests: ``aeronpy cluster-node`` members on loopback
(:class:`aeronpy.testing.jepsen.MemberSet`), a client with its own driver, and reading a member's
log recording back from its archive to compare what members hold."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from typing import Any

from aeronpy.testing.jepsen import LoopbackTopology, MemberSet
from tests.cluster.consensus.harness import Collector
from tests.fakes import free_udp_port

FAST = {
    "aeron.cluster.leader.heartbeat.timeout": "2s",
    "aeron.cluster.leader.heartbeat.interval": "100ms",
    "aeron.cluster.startup.canvass.timeout": "4s",
    "aeron.cluster.election.timeout": "500ms",
    "aeron.cluster.election.status.interval": "50ms",
    "aeron.cluster.session.timeout": "10s",
    "aeron.cluster.log.channel": "aeron:udp?term-length=512k",
}


def free_base_port() -> int:
    """A base port whose next 30 ports look free (members use base + id*10 + 0..4)."""
    import socket

    for _ in range(50):
        base = free_udp_port() // 10 * 10
        if base + 30 > 65535:
            continue
        ok = True
        for p in range(base, base + 30):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range")


def member_set(work_dir: str, service: str = "echo", **props: str) -> MemberSet:
    return MemberSet(LoopbackTopology(), work_dir, free_base_port(), 3, {**FAST, **props}, service=service)


def member_logs(members: MemberSet, tail: int = 3000) -> str:
    """The end of every member's ``member-N.log`` (members run with ``-v``: elections, errors),
    for a test's failure message."""
    parts = []
    for i in range(members.count):
        path = os.path.join(members.work_dir, f"member-{i}.log")
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError as e:
            text = f"({e})"
        parts.append(f"--- member {i} (exit {members.exit_codes()[i]}) ---\n{text[-tail:]}")
    return "\n".join(parts)


def remove_member_dirs(members: MemberSet) -> None:
    """Delete the members' Aeron directories (a killed member cannot delete its own)."""
    import shutil

    for i in range(members.count):
        shutil.rmtree(members.aeron_dir(i), ignore_errors=True)


def shm_leftovers(members: MemberSet, tmp: str) -> list[str]:
    """Aeron directories of this test's members and client that still exist."""
    paths = [members.aeron_dir(i) for i in range(members.count)] + [client_aeron_dir(tmp)]
    return [p for p in paths if os.path.exists(p)]


def running_members(tmp: str, service: str = "echo", **props: str) -> Iterator[MemberSet]:
    """The body of a ``cluster`` fixture (``yield from``): three members of ``service`` started in
    ``tmp`` and closed after the test, which must leave no Aeron directory behind."""
    members = member_set(tmp, service, **props)
    members.start_all()
    try:
        yield members
    finally:
        members.close()
        leftovers = shm_leftovers(members, tmp)
        remove_member_dirs(members)
        shutil.rmtree(client_aeron_dir(tmp), ignore_errors=True)
    assert not leftovers, f"left in /dev/shm: {leftovers}"


class Client:
    """An ``AeronCluster`` on a private driver; resends unanswered messages after a leader change."""

    def __init__(self, members: MemberSet, aeron_dir: str) -> None:
        from aeronpy.cluster.client import AeronCluster, ClusterClientContext
        from aeronpy.driver.context import DriverContext
        from aeronpy.driver.media_driver import MediaDriver

        self.driver = MediaDriver.launch(DriverContext.from_properties(
            env={}, aeron_dir=aeron_dir, threading_mode="SHARED", dir_delete_on_start=True,
            dir_delete_on_shutdown=True, term_buffer_sparse_file=True, dir_mode=0o700, file_mode=0o600))
        self.collector = Collector()
        self.ctx = ctx = ClusterClientContext.from_properties(
            env={}, aeron_dir=aeron_dir, ingress_channel="aeron:udp?term-length=128k",
            ingress_endpoints=members.ingress_endpoints(),
            egress_channel="aeron:udp?endpoint=localhost:0|term-length=128k", message_timeout_ns=5 * 10**9,
            egress_listener=self.collector)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.cluster = AeronCluster.connect(ctx)
                break
            except Exception:
                if time.monotonic() > deadline:
                    self.driver.close()
                    raise
                time.sleep(0.2)
        self.new_leaders_seen = 0
        self.sessions = 1

    def reconnect_if_closed(self, timeout: float = 60.0) -> bool:
        """A new session when the cluster closed this one (e.g. no new leader in time)."""
        from aeronpy.cluster.client import AeronCluster

        if not self.cluster.is_closed:
            return False
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.cluster = AeronCluster.connect(self.ctx)
                self.sessions += 1
                return True
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    @property
    def echoed(self) -> list[bytes]:
        return self.collector.messages

    def send_and_await(self, messages: list[bytes], timeout: float = 30.0) -> None:
        """Send each message until every one was echoed at least once (resend after NewLeaderEvent)."""
        wanted = set(messages)
        pending = list(messages)
        deadline = time.monotonic() + timeout
        while not wanted.issubset(self.echoed):
            self.cluster.poll_egress()
            if len(self.collector.new_leaders) > self.new_leaders_seen:
                self.new_leaders_seen = len(self.collector.new_leaders)
                self.cluster.send_keep_alive()
                got = set(self.echoed)
                pending = [m for m in messages if m not in got]
            if pending and self.cluster.offer(pending[0]) > 0:
                pending.pop(0)
            elif not pending:
                time.sleep(0.001)
            if time.monotonic() > deadline:
                missing = len(wanted - set(self.echoed))
                raise AssertionError(f"{missing} of {len(messages)} messages not echoed (state {self.cluster.state})")

    def close(self) -> None:
        try:
            self.cluster.close()
        finally:
            self.driver.close()


def log_digest(members: MemberSet, member_id: int, up_to: int | None = None) -> tuple[int, str]:
    """``(position, sha256)`` of the member's log recording (its archive, read through its own
    driver), up to ``up_to`` or its recorded stop position."""
    from aeronpy.archive.client import AeronArchive, AeronArchiveContext
    from aeronpy.cluster.node import default_aeron_dir_for
    from aeronpy.cluster.recording_log import RecordingLog

    aeron_dir = default_aeron_dir_for(members.member_dir(member_id))
    with RecordingLog(members.cluster_dir(member_id), create=False, read_only=True) as rl:
        recording_id = rl.find_last_term_recording_id()
    arc = AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, control_response_stream_id=9000 + member_id))
    try:
        stop = arc.get_max_recorded_position(recording_id) if up_to is None else up_to
        sub = arc.replay(recording_id, "aeron:ipc", 9100 + member_id, 0, stop)
        h = hashlib.sha256()
        done = [0]

        def on(b: Any, o: int, n: int, hd: Any) -> None:
            h.update(b.get_bytes(o, n))
            done[0] = hd.position

        deadline = time.monotonic() + 20
        while done[0] < stop:
            if sub.poll(on, 100) == 0:
                assert time.monotonic() < deadline, f"replay of member {member_id} stuck at {done[0]} of {stop}"
                time.sleep(0.001)
        sub.close()
        return stop, h.hexdigest()
    finally:
        arc.close()


def client_aeron_dir(tmp: str) -> str:
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp"
    return os.path.join(shm, "aeronpy-cl-client-" + hashlib.sha1(tmp.encode()).hexdigest()[:10])


def recorded_position(members: MemberSet, member_id: int) -> int:
    """The member's log length, or -1 while it cannot be read (member still starting)."""
    try:
        return log_digest(members, member_id)[0]
    except Exception:  # noqa: BLE001 - not up yet
        return -1


class KvClient(Client):
    """A :class:`Client` speaking the ``kv`` service's request/response codec."""

    def __init__(self, members: MemberSet, aeron_dir: str) -> None:
        super().__init__(members, aeron_dir)
        self.next_correlation = 1

    def call(self, encode: Any, *args: Any, timeout: float = 30.0) -> Any:
        """One request (resent after a leader change) and its response."""
        from aeronpy.cluster.examples.kv import decode_response

        cid = self.next_correlation
        self.next_correlation += 1
        request = encode(cid, *args)
        deadline = time.monotonic() + timeout
        sent = False
        while True:
            for raw in self.echoed:
                r = decode_response(raw)
                if r.correlation_id == cid:
                    return r
            self.cluster.poll_egress()
            if len(self.collector.new_leaders) > self.new_leaders_seen:
                self.new_leaders_seen = len(self.collector.new_leaders)
                self.cluster.send_keep_alive()
                sent = False
            if not sent and self.cluster.offer(request) > 0:
                sent = True
            time.sleep(0.001)
            if time.monotonic() > deadline:
                raise AssertionError(f"no response to request {cid} (state {self.cluster.state})")


def tool(cluster_dir: str, *args: str) -> tuple[int, str]:
    """``aeronpy cluster-tool <dir> args...`` in-process: (exit code, output)."""
    import io

    from aeronpy.cluster.tool import ToolSettings
    from aeronpy.cluster.tool import run as tool_run

    out = io.StringIO()
    code = tool_run(cluster_dir, args[0], list(args[1:]), out, ToolSettings())
    return code, out.getvalue()


def snapshot_count(members: MemberSet, member_id: int) -> int:
    from aeronpy.cluster.recording_log import EntryType, RecordingLog

    try:
        with RecordingLog(members.cluster_dir(member_id), create=False, read_only=True) as rl:
            return sum(1 for e in rl.entries if e.entry_type == EntryType.SNAPSHOT and e.service_id == -1
                       and e.is_valid)
    except Exception:  # noqa: BLE001 - not there yet
        return 0
