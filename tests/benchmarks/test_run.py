"""Smoke test of the benchmark harness (tiny counts) so it cannot rot; no speed is asserted."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_does_not_replace_the_published_results() -> None:
    run = _run_module()
    published = str(ROOT / "benchmarks" / "results.json")
    assert run.results_path(None, False) == published
    assert run.results_path(None, True) != published
    assert run.results_path("/x/out.json", True) == "/x/out.json"


def test_benchmark_harness_runs_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--messages", "500", "--pings", "50",
         "--transport", "ipc", "--repeat", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    cells = [c for c in results["throughput"] if c["driver"] == "aeronpy" and c["client"] == "aeronpy"]
    assert {(c["api"], c["size"]) for c in cells} == {("call", 32), ("call", 1024), ("batch", 32), ("batch", 1024)}
    assert all("error" not in c and c["msgs_per_s"] > 0 and c["runs"] == 2 for c in cells), cells
    assert len(results["passes"]) == 2 and results["settings"]["repeat"] == 2
    assert "each cell the median of 2 passes" in done.stdout
    assert results["drivers"]["aeronpy"]["rss_mb"] > 0
    if _run_module()._steal_ms() is not None:  # the kernel reports steal: every cell and the run carry it
        assert all(c["steal_ms"] >= 0 for c in cells + results["round_trip"]) and results["machine"]["steal_ms"] >= 0
        assert "Hypervisor steal" in done.stdout
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


def _run_module() -> Any:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_repeated_passes_merge_to_each_cells_median() -> None:
    run = _run_module()

    def tp(driver: str, rate: float, **extra: Any) -> dict[str, Any]:
        return {"driver": driver, "client": "aeronpy", "api": "call", "transport": "ipc", "size": 32,
                "msgs_per_s": rate, "mb_per_s": rate / 1e6, **extra}

    passes = [
        {"throughput": [tp("aeronpy", 1.0), tp("c", 10.0)], "round_trip": [], "one_per_call": [],
         "drivers": {"aeronpy": {"idle_cpu_percent": 3.0, "rss_mb": 30.0}}},
        {"throughput": [tp("aeronpy", 5.0), tp("c", 0.0, error="pong died")], "round_trip": [], "one_per_call": [],
         "drivers": {"aeronpy": {"idle_cpu_percent": 1.0, "rss_mb": 40.0}}},
        {"throughput": [tp("aeronpy", 2.0), tp("c", 20.0)], "round_trip": [], "one_per_call": [],
         "drivers": {"aeronpy": {"idle_cpu_percent": 2.0, "rss_mb": 35.0}}},
    ]
    merged = run.merge_passes(passes)
    a, c = merged["throughput"]  # first-appearance order
    assert (a["driver"], a["msgs_per_s"], a["runs"]) == ("aeronpy", 2.0, 3)
    assert a["mb_per_s"] == 2.0 / 1e6 and a["size"] == 32  # identity kept, not averaged
    assert (c["msgs_per_s"], c["runs"]) == (15.0, 2)  # the failed pass does not count
    assert merged["drivers"] == {"aeronpy": {"idle_cpu_percent": 2.0, "rss_mb": 35.0}}
    failed = run.merge_passes([{"throughput": [tp("c", 0.0, error="x")], "round_trip": [], "one_per_call": [],
                                "drivers": {}}])
    assert failed["throughput"][0]["error"] == "x"  # every pass failed: the error shows


def test_repeat_must_be_positive() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--repeat", "0"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2 and "--repeat 0: must be at least 1" in done.stderr


def test_steal_is_read_from_the_aggregate_cpu_line(tmp_path: Path) -> None:
    run = _run_module()
    stat = tmp_path / "stat"
    hz = run.os.sysconf("SC_CLK_TCK")
    stat.write_text(f"cpu  10 0 5 100 0 0 0 {hz * 2} 0 0\ncpu0 5 0 2 50 0 0 0 {hz} 0 0\n")
    assert run._steal_ms(str(stat)) == 2000.0  # the aggregate line, in milliseconds
    stat.write_text("cpu  10 0 5 100\n")  # an old kernel without the steal column
    assert run._steal_ms(str(stat)) is None
    assert run._steal_ms(str(tmp_path / "missing")) is None


def test_the_table_says_how_much_steal_the_run_met() -> None:
    run = _run_module()
    rt = {"driver": "aeronpy", "client": "aeronpy", "transport": "udp", "size": 32,
          "p50": 20.0, "p90": 30.0, "p99": 40.0, "p99.9": 50.0, "max": 100_000.0}
    results = {"throughput": [], "round_trip": [dict(rt, steal_ms=3.0)], "one_per_call": [], "drivers": {},
               "machine": {"steal_ms": 250.0},
               "passes": [{"round_trip": [dict(rt, steal_ms=3.0)]}, {"round_trip": [dict(rt, steal_ms=101.0)]}]}
    text = run.table(results)
    assert "during the run: 250 ms in all, 101 ms in the worst round-trip cell." in text
    del results["machine"]["steal_ms"]  # a kernel that does not say: no such line
    assert "Hypervisor steal" not in run.table(results)
