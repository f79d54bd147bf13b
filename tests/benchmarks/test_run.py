"""Smoke test of the benchmark harness (tiny counts) so it cannot rot; no speed is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_harness_runs_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--messages", "500", "--pings", "50",
         "--transport", "ipc", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    cells = [c for c in results["throughput"] if c["driver"] == "aeronpy" and c["client"] == "aeronpy"]
    assert {(c["api"], c["size"]) for c in cells} == {("call", 32), ("call", 1024), ("batch", 32), ("batch", 1024)}
    assert all("error" not in c and c["msgs_per_s"] > 0 for c in cells), cells
    assert results["drivers"]["aeronpy"]["rss_mb"] > 0
    aio = results["asyncio"]
    assert "error" not in aio, aio
    assert aio["throughput"]["msgs_per_s"] > 0 and aio["round_trip"]["p50"] > 0
    assert aio["idle_client_cpu_percent"] >= 0
    assert "asyncio (`aeronpy.aio`)" in done.stdout
    assert "| throughput" in done.stdout and "targets" in done.stdout
    skipped = " ".join(results["skipped"])
    if "C client" in skipped:
        pytest.skip(f"the C peer was skipped by the harness: {skipped}")
    assert any(c["driver"] == "c" and c["client"] == "c" and "error" not in c for c in results["throughput"])
    if "pyzmq" in skipped:
        pytest.skip(f"pyzmq peer skipped: {skipped}")
    assert any(c["peer"] == "pyzmq" and "error" not in c for c in results["one_per_call"])


def test_micro_benchmark_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "micro.py"), "--messages", "2000"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Publication 32 B offer" in done.stdout and "C kernel" in done.stdout
