"""Smoke test of the UDP leg breakdown (a few pings) so its probes cannot rot; no speed is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import udp_hops  # noqa: E402

pytestmark = pytest.mark.slow


def test_udp_hops_splits_every_round_trip_into_its_legs(tmp_path: Path) -> None:
    out = tmp_path / "hops.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "udp_hops.py"), "--pings", "60", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert set(summary) == {*udp_hops.LEGS, "round trip"}
    assert all(row["count"] == 50 for row in summary.values())  # 60 pings, the first 10 untimed, all probed
    # the last leg may be below zero (its start is stamped after the image write the ping may see first)
    assert all(row["p50_us"] > 0 for name, row in summary.items() if name != udp_hops.LEGS[-1])
    assert "ping sent -> rebuilt" in done.stdout and "Warning" not in done.stderr


def test_legs_add_up_to_the_round_trip_and_skip_unprobed_pings() -> None:
    ping = {"0": [0, 99], "1": [1000, 1100], "2": [2000, 2100]}
    stamps = {"1": 1010, "2": 2010}
    driver = {
        "sent": {str(udp_hops.PING_STREAM): stamps, str(udp_hops.PONG_STREAM): {"1": 1060, "2": 2060}},
        "rebuilt": {str(udp_hops.PING_STREAM): {"1": 1030, "2": 2030}, str(udp_hops.PONG_STREAM): {"1": 1090}},
    }
    found = udp_hops.legs(ping, driver, warmup=1)
    assert found["round trip"] == [0.1]  # ping 0 is warm-up; ping 2's pong was never seen rebuilt
    assert [found[name][0] for name in udp_hops.LEGS] == [0.01, 0.02, 0.03, 0.03, 0.01]
