"""Prove the interop harness: real Aeron C driver + real C subscriber + real C publisher."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from tests.interop.procs import ProcessGroup, c_client_command, c_driver_command

pytestmark = pytest.mark.interop

STREAM_ID = 1001
UDP_UNICAST = "aeron:udp?endpoint=localhost:24325"


def _pub_sub(
    procs: ProcessGroup, aeron_dir: Path, channel: str, count: int, size: int, *, exclusive: bool = False
) -> None:
    driver = procs.start_driver(c_driver_command(aeron_dir), aeron_dir)
    result = procs.run_pub_sub(
        c_client_command("sub", aeron_dir, channel, STREAM_ID, count, size, timeout=90),
        c_client_command("pub", aeron_dir, channel, STREAM_ID, count, size, exclusive=exclusive, timeout=90),
        timeout=120,
    )
    result.assert_ok(count)
    procs.stop_driver(driver)
    assert not aeron_dir.exists(), "C driver should delete its dir on shutdown"


def test_library_version(c_reference: ctypes.CDLL) -> None:
    raw = c_reference.aeron_version_full()
    assert raw is not None and b"1.53" in raw, raw


def test_driver_starts_and_stops(c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path) -> None:
    driver = procs.start_driver(c_driver_command(aeron_dir), aeron_dir)
    assert (aeron_dir / "cnc.dat").stat().st_size > 0
    assert procs.stop_driver(driver) == 0
    assert not aeron_dir.exists()


@pytest.mark.parametrize(
    ("count", "size", "exclusive"),
    [(20_000, 32, False), (2_000, 5_000, False), (20_000, 32, True)],
    ids=["small", "fragmented", "exclusive"],
)
def test_ipc(
    c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path, count: int, size: int, exclusive: bool
) -> None:
    _pub_sub(procs, aeron_dir, "aeron:ipc", count, size, exclusive=exclusive)


@pytest.mark.parametrize(
    ("count", "size", "exclusive"),
    [(20_000, 32, False), (2_000, 5_000, False), (20_000, 32, True)],
    ids=["small", "fragmented", "exclusive"],
)
def test_udp_unicast(
    c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path, count: int, size: int, exclusive: bool
) -> None:
    _pub_sub(procs, aeron_dir, UDP_UNICAST, count, size, exclusive=exclusive)


def test_subscriber_reports_timeout(c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path) -> None:
    """The harness must notice failures: a subscriber with no publisher times out non-zero."""
    procs.start_driver(c_driver_command(aeron_dir), aeron_dir)
    sub = procs.start_subscriber(c_client_command("sub", aeron_dir, "aeron:ipc", STREAM_ID, 10, timeout=1.0))
    assert sub.wait(30) == 2, sub.describe()
    assert "timeout" in sub.stdout


def test_subscriber_detects_size_mismatch(c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path) -> None:
    procs.start_driver(c_driver_command(aeron_dir), aeron_dir)
    result = procs.run_pub_sub(
        c_client_command("sub", aeron_dir, "aeron:ipc", STREAM_ID, 10, 64, timeout=30),
        c_client_command("pub", aeron_dir, "aeron:ipc", STREAM_ID, 10, 32, timeout=30),
        timeout=60,
    )
    assert result.pub_rc == 0, result.pub.describe()
    assert result.sub_rc == 4, result.sub.describe()
    assert "corruption" in result.sub.stdout
