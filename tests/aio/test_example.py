"""The documented asyncio throughput example runs, embedded and against a driver process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

from tests.aio.conftest import ROOT

EXAMPLE = os.path.join(ROOT, "docs", "examples", "aio_throughput.py")
OUTPUT = re.compile(r"^2000 messages of 32 B: [\d,]+ msg/s, [\d.]+ MB/s$")


def _run(*args: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    result = subprocess.run([sys.executable, "-W", "ignore", EXAMPLE, "--count", "2000", *args],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_example_with_an_embedded_driver() -> None:
    assert OUTPUT.match(_run("--embedded"))


def test_example_against_a_driver_process(aeron_dir: str, driver_process: Any) -> None:
    assert OUTPUT.match(_run("--dir", aeron_dir))
