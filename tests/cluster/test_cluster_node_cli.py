"""``aeronpy cluster-node``: bad arguments and bad files give one clear line (never a
traceback); a member runs until SIGTERM and then closes in order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cluster.consensus.harness import members_string


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aeronpy", "cluster-node", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("args, needle", [
    (["--member-id", "4", "--members", "0,a:1,a:2,a:3,a:4,a:5", "--dir", "D"], "not one of the ids"),
    (["--member-id", "0", "--members", "0,a:1,a:2", "--dir", "D"], "3 attributes"),
    (["--member-id", "x", "--members", "0,a:1,a:2,a:3,a:4,a:5", "--dir", "D"], "not an integer"),
    (["--member-id", "0", "--members", "0,a:1,a:2,a:3,a:4,a:5", "--dir", "D", "--service", "no.such:Thing"],
     "cannot import"),
    (["--member-id", "0", "--members", "0,a:1,a:2,a:3,a:4,a:5", "--dir", "D", "-D", "aeron.cluster.max.sessions=-3"],
     "aeron.cluster.max.sessions"),
    (["--member-id", "0", "--members", "0,a:1,a:2,a:3,a:4,a:5", "--dir", "D", "-D", "novalue"], "key=value"),
])
def test_bad_arguments_are_one_line_errors(args: list[str], needle: str, tmp_path: Path) -> None:
    args = [str(tmp_path / "n") if a == "D" else a for a in args]
    r = run(*args)
    assert r.returncode == 2, r
    assert needle in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_corrupt_recording_log_is_a_clear_error_at_start(tmp_path: Path) -> None:
    node_dir = tmp_path / "n"
    (node_dir / "cluster").mkdir(parents=True)
    (node_dir / "cluster" / "recording.log").write_bytes(b"\x07" * 64 + b"garbage" * 10)
    r = run("--member-id", "0", "--members", members_string(1), "--dir", str(node_dir), timeout=90)
    assert r.returncode == 1, r
    assert "recording.log" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_runs_until_sigterm_then_closes(tmp_path: Path) -> None:
    node_dir = tmp_path / "n"
    p = subprocess.Popen([sys.executable, "-m", "aeronpy", "cluster-node", "--member-id", "0", "--members",
                          members_string(1), "--dir", str(node_dir), "-D", "aeron.cluster.startup.canvass.timeout=4s",
                          "-D", "aeron.cluster.leader.heartbeat.timeout=2s"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (node_dir / "cluster" / "recording.log").exists() or \
                os.path.getsize(node_dir / "cluster" / "recording.log") == 0:
            assert p.poll() is None, p.communicate()
            assert time.monotonic() < deadline, "the member did not start leading"
            time.sleep(0.1)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        assert "member 0 up" in out and "Traceback" not in err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
