"""Multi-process tests: a driver process, publisher and subscriber processes sharing cnc.dat."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any, Callable

import pytest

from aeronpy.concurrent import counters as ctr
from tests.conftest import wait_for

WORKER = os.path.join(os.path.dirname(__file__), "worker.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def spawn(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


def read_line(proc: subprocess.Popen[str], prefix: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith(prefix), f"expected {prefix!r}, got {line!r} (exit {proc.poll()})"
    return line


@pytest.mark.slow
def test_million_messages_two_publishers_two_subscribers(aeron_dir: str) -> None:
    """1,000,000 messages in total through one concurrent publication, every one seen once in order."""
    count_each = 500_000
    driver = spawn(
        "-m", "aeronpy", "driver", "--dir", aeron_dir,
        "-D", "aeron.threading.mode=SHARED", "-D", "aeron.ipc.term.buffer.length=8m",
    )
    procs: list[subprocess.Popen[str]] = [driver]
    try:
        read_line(driver, "aeronpy media driver running")
        subs = [spawn(WORKER, "sub", aeron_dir, "aeron:ipc", "77", "2", str(count_each), "400") for _ in range(2)]
        procs += subs
        for s in subs:
            read_line(s, "READY")
        pubs = [spawn(WORKER, "pub", aeron_dir, "aeron:ipc", "77", str(i), str(count_each)) for i in range(2)]
        procs += pubs
        for p in pubs + subs:
            out, _ = p.communicate(timeout=600)
            assert p.returncode == 0, out
            print(out.strip())
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        driver.wait(timeout=30)
    assert driver.returncode == 0


def _fast_timeouts() -> dict[str, object]:
    return dict(
        timer_interval_ns=50_000_000,
        client_liveness_timeout_ns=1_000_000_000,
        publication_unblock_timeout_ns=1_500_000_000,
        untethered_window_limit_timeout_ns=200_000_000,
        untethered_resting_timeout_ns=200_000_000,
    )


def test_crashed_client_resources_are_reclaimed(
    aeron_dir: str, driver_factory: Callable[..., Any], client_factory: Callable[..., Any]
) -> None:
    driver_factory(**_fast_timeouts())
    survivor = client_factory()
    sub = survivor.add_subscription("aeron:ipc", 31)
    pub = survivor.add_publication("aeron:ipc", 31)
    holder = spawn(WORKER, "hold", aeron_dir, "aeron:ipc", "32")
    try:
        client_id = int(read_line(holder, "HOLDING").split()[1])
        reader = survivor.counters_reader
        hb = reader.find_by_type_id_and_registration_id(ctr.CLIENT_HEARTBEAT_TYPE_ID, client_id)
        assert hb != ctr.NULL_COUNTER_ID
        owned = []
        reader.for_each(lambda i, t, k, l: owned.append(i) if reader.get_counter_owner_id(i) == client_id else None)
        assert len(owned) >= 4  # heartbeat, pub-pos, pub-lmt, sub-pos or counter
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        wait_for(lambda: all(reader.get_counter_state(i) != ctr.RECORD_ALLOCATED for i in owned), timeout=15,
                 message="the dead client's counters to be freed")
        assert reader.get_counter_value(24) >= 1  # Client liveness timeouts
        wait_for(lambda: not os.listdir(os.path.join(aeron_dir, "publications")) or
                 len(os.listdir(os.path.join(aeron_dir, "publications"))) == 1, timeout=15,
                 message="the dead client's log buffer to be deleted")
    finally:
        if holder.poll() is None:
            holder.kill()
    got: list[bytes] = []
    wait_for(lambda: pub.offer(b"still alive") > 0, message="survivor offer")
    wait_for(lambda: sub.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 10) >= 0 and got == [b"still alive"],
             message="survivor receives")


def test_publication_blocked_by_crashed_publisher_is_unblocked(
    aeron_dir: str, driver_factory: Callable[..., Any], client_factory: Callable[..., Any]
) -> None:
    driver_factory(**_fast_timeouts())
    aeron = client_factory()
    sub = aeron.add_subscription("aeron:ipc", 33)
    claimer = spawn(WORKER, "claim", aeron_dir, "aeron:ipc", "33")
    try:
        read_line(claimer, "CLAIMED")
        pub = aeron.add_publication("aeron:ipc", 33)
        assert pub.offer(b"after the hole") > 0
        claimer.send_signal(signal.SIGKILL)
        claimer.wait(timeout=10)
        got: list[bytes] = []
        wait_for(lambda: sub.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 10) >= 0 and got == [b"after the hole"],
                 timeout=20, message="the subscriber to get past the abandoned claim")
        assert aeron.counters_reader.get_counter_value(19) >= 1  # Unblocked Publications
    finally:
        if claimer.poll() is None:
            claimer.kill()
