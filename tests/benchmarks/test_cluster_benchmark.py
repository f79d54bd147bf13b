"""Smoke test of the cluster benchmark (tiny counts) so it cannot rot; no speed is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_cluster_benchmark_runs_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "cluster.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "cluster.py"), "--quick", "--no-failover", "--idle-seconds", "1",
         "-D", "aeronpy.cluster.doorbell=true", "--json", str(out)],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )
    if done.returncode == 2 and "skipped" in done.stderr:
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    for size in (32, 1024):
        assert results[f"rtt_{size}"]["p50_us"] > 0
        assert results[f"throughput_{size}"]["received"] == 500
    assert results["idle"]["cpu_percent_per_member"] >= 0
    assert results["member_properties"]["aeronpy.cluster.doorbell"] == "true"
    assert "idle member CPU" in done.stdout and "round trip 32 B" in done.stdout


def test_cluster_benchmark_rejects_a_malformed_property() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cluster.py"), "-D", "novalue"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2 and "KEY=VALUE" in done.stderr and "Traceback" not in done.stderr
