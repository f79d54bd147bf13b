"""``aeronpy cluster-service``: a container in its own process next to a (scripted) consensus
module in this one — echo through the shared driver, terminate on the cluster's request, stop
on SIGTERM; bad arguments get one line and exit 2."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from aeronpy.cluster.codecs import T
from aeronpy.cluster.counters import Role
from tests.cluster.service.fake_cm import FakeConsensusModule
from tests.cluster.service.test_agent import EGRESS, EGRESS_STREAM, append_term_event, collect_egress


def launch(aeron_dir: str, cluster_dir: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "aeronpy.cluster.service", "--dir", aeron_dir, "--cluster-dir", str(cluster_dir),
         "-D", "aeron.cluster.idle.strategy=backoff", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def finish(proc: subprocess.Popen[str], timeout: float = 20) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"cluster-service did not exit: {out} {err}") from None
    return proc.returncode, out, err


def test_echo_in_another_process_then_terminated_by_the_cluster(
        fake_cm: FakeConsensusModule, cm_client: Any, aeron_dir: str, tmp_path: Path) -> None:
    egress = cm_client.add_subscription(EGRESS, EGRESS_STREAM)
    fake_cm.allocate_recovery_state()
    proc = launch(aeron_dir, tmp_path / "cluster", "--service", "echo")
    try:
        start = fake_cm.await_ack(0, timeout=30)
        assert start.get_int("relevant_id") >= 0
        fake_cm.join_log(role=Role.LEADER)
        fake_cm.await_ack(1)
        append_term_event(fake_cm, 1)
        fake_cm.append_session_open(2, EGRESS, EGRESS_STREAM)
        fake_cm.append_session_message(2, b"across processes")
        end = fake_cm.commit()
        [reply] = collect_egress(egress, 1, timeout=20)
        assert reply[32:] == b"across processes"
        fake_cm.send(T.ServiceTerminationPosition, log_position=end, ack_required=1)
        ack = fake_cm.await_ack(2)
        assert ack.get_int("log_position") == end
        code, out, err = finish(proc)
        assert code == 0, err
        assert "terminated by the cluster" in out
        assert (tmp_path / "cluster" / "cluster-mark-service-0.dat").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_stops_it(fake_cm: FakeConsensusModule, aeron_dir: str, tmp_path: Path) -> None:
    fake_cm.allocate_recovery_state()
    proc = launch(aeron_dir, tmp_path / "cluster", "--service", "kv", "--service-id", "1")
    try:
        ack = fake_cm.await_ack(0, timeout=30)
        assert ack.get_int("service_id") == 1
        proc.send_signal(signal.SIGTERM)
        code, _, err = finish(proc)
        assert code == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("args, message", [
    (["--service", "nosuch"], "not a bundled service"),
    (["--service", "echo", "-D", "aeron.cluster.service.id=12"], "aeron.cluster.service.id=12: out of range"),
    (["--service", "echo", "-D", "novalue"], "-D expects key=value"),
    ([], "no service: set aeron.cluster.service.class.name"),
])
def test_bad_arguments_get_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "aeronpy.cluster.service", "--dir", str(tmp_path / "nodriver"),
                           *args], capture_output=True, text=True, timeout=60, env={**os.environ, "AERON_DIR": ""})
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert time.monotonic() - t0 < 30


def test_no_driver_is_a_clear_failure(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "aeronpy.cluster.service", "--dir", str(tmp_path / "nodriver"),
                           "--cluster-dir", str(tmp_path / "c"), "--service", "echo", "-D", "aeron.driver.timeout=500"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "cannot start" in proc.stderr and "Traceback" not in proc.stderr
