"""Replication between two archives on two network-namespace hosts (issue 9 item 11).

Each host runs ``aeronpy archive --with-driver`` (its own driver and Aeron directory) with a UDP
control channel on its veth address.  Host A records a stream; host B replicates it over the
bridge (control requests B -> A, responses and the replay A -> B), replays the copy and checks
every message; then B replicates A's still-live second recording and stops the replication half
way: what B holds up to its stop position replays intact.  Skipped where namespaces cannot be
created (needs root and iproute2).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.net.netns import Host, NetNamespaces, require_netns

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WORKER = os.path.join(HERE, "replication_worker.py")
CLI = [sys.executable, "-m", "aeronpy"]
SHM = "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp"
COUNT = 20_000
CHANNEL = "aeron:ipc?term-length=256k"
CONTROL_PORT = 8010


class HostArchive:
    """``aeronpy archive --with-driver`` inside ``host``, control on ``<address>:8010``."""

    def __init__(self, host: Host, tmp: Path, archive_id: int) -> None:
        self.host = host
        self.aeron_dir = os.path.join(SHM, f"aeronpy-arch-{uuid.uuid4().hex[:8]}-{host.label}")
        self.control = f"aeron:udp?endpoint={host.address}:{CONTROL_PORT}"
        self.log_path = tmp / f"archive-{host.label}.log"
        self._log = open(self.log_path, "wb")
        self.proc = host.run(CLI + [
            "archive", "--with-driver", "--dir", self.aeron_dir, "--archive-dir", str(tmp / f"archive-{host.label}"),
            "-D", "aeron.threading.mode=SHARED", "-D", "aeron.archive.threading.mode=SHARED",
            "-D", f"aeron.archive.control.channel={self.control}",
            "-D", f"aeron.archive.replication.channel=aeron:udp?endpoint={host.address}:0",
            "-D", f"aeron.archive.id={archive_id}", "-D", "aeron.archive.segment.file.length=1m",
            "-D", "aeron.archive.low.storage.space.threshold=0",
        ], stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 60
        while "aeronpy archive running" not in self.log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"archive on {host.label} did not start:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.host.name, *CLI, *args], capture_output=True, text=True, timeout=timeout,
            cwd=ROOT, stdin=subprocess.DEVNULL)

    def worker(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.host.name, sys.executable, WORKER, *args], capture_output=True, text=True,
            timeout=timeout, cwd=ROOT, stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()
        import shutil

        shutil.rmtree(self.aeron_dir, ignore_errors=True)


@pytest.fixture
def two_hosts(tmp_path: Path) -> Iterator[tuple[HostArchive, HostArchive]]:
    require_netns()
    with NetNamespaces(2) as net:
        archives: list[HostArchive] = []
        try:
            archives.append(HostArchive(net.host("h1"), tmp_path, 1))
            archives.append(HostArchive(net.host("h2"), tmp_path, 2))
            yield archives[0], archives[1]
        finally:
            for a in archives:
                a.stop()


def test_record_on_a_replicate_to_b_replay_on_b_then_stop_a_live_replication(
        two_hosts: tuple[HostArchive, HostArchive]) -> None:
    a, b = two_hosts
    started = a.cli("recording", "start", "--dir", a.aeron_dir, "--channel", CHANNEL, "--stream", "1001", "--local")
    assert started.returncode == 0, started.stderr + a.log()
    pub = a.cli("pub", "--dir", a.aeron_dir, "--channel", CHANNEL, "--stream", "1001", "--count", str(COUNT),
                "--size", "100", "--exclusive")
    assert pub.returncode == 0, pub.stderr
    a.cli("recording", "stop", "--dir", a.aeron_dir, "--channel", CHANNEL, "--stream", "1001")
    listed = a.cli("recording", "list", "--dir", a.aeron_dir)
    assert "recordingId=0 streamId=1001" in listed.stdout, listed.stdout + listed.stderr

    copied = b.worker("replicate", b.aeron_dir, a.control, "0", "0")
    assert copied.returncode == 0, copied.stderr + copied.stdout + b.log()
    assert "signals REPLICATE,EXTEND," in copied.stdout and "SYNC" in copied.stdout
    assert f"replayed {COUNT} messages in order, payloads intact" in copied.stdout
    # The copy is an ordinary recording of B: the replay command on B checks it again.
    replay = b.cli("replay", "--dir", b.aeron_dir, "--recording-id", "0", "--count", str(COUNT), "--timeout", "30")
    assert replay.returncode == 0, replay.stderr + replay.stdout
    desc = b.cli("recording", "list", "--dir", b.aeron_dir)
    assert "recordingId=0 streamId=1001" in desc.stdout, desc.stdout

    # A live recording on A (the publisher keeps going); B follows it and stops part way.
    live = "aeron:ipc?term-length=64k|alias=live"
    assert a.cli("recording", "start", "--dir", a.aeron_dir, "--channel", live, "--stream", "1002",
                 "--local").returncode == 0
    publisher = a.host.run([sys.executable, WORKER, "publish", a.aeron_dir, live, "1002", "2000"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert publisher.stdout is not None
        line = publisher.stdout.readline()
        assert line.startswith("published "), line + (publisher.stderr.read() if publisher.stderr else "")
        stopped = b.worker("replicate", b.aeron_dir, a.control, "1", str(64 * 1024))
        assert stopped.returncode == 0, stopped.stderr + stopped.stdout + b.log()
        assert "REPLICATE_END" in stopped.stdout and "SYNC" not in stopped.stdout
        dst_stop = int(stopped.stdout.split("stop=")[1].split()[0])
        assert dst_stop >= 64 * 1024
        assert "messages in order, payloads intact" in stopped.stdout
    finally:
        publisher.send_signal(signal.SIGTERM)
        publisher.communicate(timeout=30)
    assert publisher.returncode == 0


def test_live_merge_replication_across_hosts(two_hosts: tuple[HostArchive, HostArchive]) -> None:
    """A records a live MDC stream; B replicates it with a live destination on B's veth: B catches
    up from A's replay, merges onto the live stream, and records it until it ends, every message
    once and in order."""
    from tests.net._scripts import read_line

    a, b = two_hosts
    control = f"{a.host.address}:8020"
    live = f"aeron:udp?control={control}|control-mode=dynamic|term-length=64k"
    record = a.cli("recording", "start", "--dir", a.aeron_dir, "--stream", "1003",
                   "--channel", f"aeron:udp?endpoint={a.host.address}:8021|control={control}")
    assert record.returncode == 0, record.stderr
    publisher = a.host.run([sys.executable, WORKER, "publish", a.aeron_dir, live, "1003", "3000"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    replicator = None
    try:
        line = read_line(publisher, 60)
        assert line.startswith("published "), line
        live_destination = f"aeron:udp?endpoint={b.host.address}:8022|control={control}"
        replicator = b.host.run([sys.executable, WORKER, "replicate", b.aeron_dir, a.control, "0", "0",
                                 live_destination], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=ROOT)
        line = read_line(replicator, 90)
        assert line.strip() == "merged", line + (replicator.stderr.read() if replicator.poll() is not None else "")
    finally:
        publisher.send_signal(signal.SIGTERM)  # the live stream ends: B's recording stops at its end
        out, err = publisher.communicate(timeout=30)
    sent = int(out.split("sent ")[1].split()[0])
    assert replicator is not None
    out, err = replicator.communicate(timeout=120)
    assert replicator.returncode == 0, err + out + b.log()
    assert "MERGE" in out and "REPLICATE_END" in out
    assert f"replayed {sent} messages in order, payloads intact" in out, out
