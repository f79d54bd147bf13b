"""A hostile local process scribbling on the to-driver ring buffer never stops the driver.

The records are written straight into ``cnc.dat`` (bypassing the producer's checks), to a driver
running in its own process; afterwards clients must still connect and be served, the driver's
heartbeat must keep moving, and the corruption must be in the distinct error log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Iterator

import pytest

from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context
from aeronpy.cnc import CncFile
from aeronpy.concurrent.error_log import read_error_log
from aeronpy.concurrent.ringbuffer import HEAD_POSITION_OFFSET, TAIL_POSITION_OFFSET, ManyToOneRingBuffer
from tests.conftest import wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


@pytest.fixture
def driver_process(aeron_dir: str) -> Iterator[str]:
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "aeronpy", "driver", "--dir", aeron_dir, "-D", "aeron.dir.delete.on.shutdown=true"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        wait_for(lambda: os.path.exists(os.path.join(aeron_dir, "cnc.dat")) and _connects(aeron_dir), 20, "driver start")
        yield aeron_dir
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def _connects(aeron_dir: str) -> bool:
    try:
        Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir, driver_timeout_ms=2000)).close()
        return True
    except Exception:
        return False


def _errors(cnc: CncFile) -> list[str]:
    texts: list[str] = []
    read_error_log(cnc.error_log_buffer, lambda count, first, last, text: texts.append(text))
    return texts


def _serves_clients(aeron_dir: str) -> bool:
    with Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir, driver_timeout_ms=5000)) as aeron:
        sub = aeron.add_subscription("aeron:ipc", 77)
        pub = aeron.add_publication("aeron:ipc", 77)
        wait_for(lambda: pub.offer(b"still alive") > 0, 10, "offer after corruption")
        got: list[bytes] = []
        wait_for(lambda: sub.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 10) or got, 10, "poll")
        return got == [b"still alive"]


@pytest.mark.parametrize("length", [0x7FFFFFFF, 3, 1 << 24])
def test_absurd_record_length_is_logged_and_later_commands_flow(driver_process: str, length: int) -> None:
    cnc = CncFile.map(os.path.join(driver_process, "cnc.dat"))
    try:
        ring = ManyToOneRingBuffer(cnc.to_driver_buffer)
        index = ring.try_claim(0x77, 16)  # claim properly, then make the length absurd
        ring.buffer.put_int32_ordered(index - 8, length)
        wait_for(lambda: any("ring buffer corrupt" in t for t in _errors(cnc)), 10, "the corruption in the error log")
        assert _serves_clients(driver_process)
        hb = ring.consumer_heartbeat_time()
        wait_for(lambda: ring.consumer_heartbeat_time() > hb, 10, "the driver heartbeat to move")
    finally:
        cnc.close()


def test_contradictory_head_and_tail_are_reset(driver_process: str) -> None:
    cnc = CncFile.map(os.path.join(driver_process, "cnc.dat"))
    try:
        ring = ManyToOneRingBuffer(cnc.to_driver_buffer)
        ring.buffer.put_int64_ordered(ring.capacity + TAIL_POSITION_OFFSET, 1 << 50)
        ring.buffer.put_int64_ordered(ring.capacity + HEAD_POSITION_OFFSET, 1 << 40)
        wait_for(lambda: any("ring buffer corrupt" in t for t in _errors(cnc)), 10, "the reset in the error log")
        assert _serves_clients(driver_process)
    finally:
        cnc.close()


def test_hostile_broadcast_records_do_not_stop_a_client(driver_process: str) -> None:
    """Forged driver responses (every response type, short and random payloads) and scribbled
    lengths on the to-clients buffer: the client reports them, keeps serving and keeps working."""
    import random

    from aeronpy.concurrent.broadcast import BroadcastTransmitter
    from aeronpy.protocol import control as cp

    rng = random.Random(7)
    errors: list[BaseException] = []
    ctx = Context.from_properties(env={}, aeron_dir=driver_process, driver_timeout_ms=5000)
    ctx.error_handler = errors.append
    with Aeron.connect(ctx) as aeron:
        cnc = CncFile.map(os.path.join(driver_process, "cnc.dat"))
        try:
            forger = BroadcastTransmitter(cnc.to_clients_buffer)
            for type_id in range(cp.ON_ERROR, cp.ON_ERROR + 0x14):
                for size in (0, 3, 12, 40, 200):
                    forger.transmit(type_id, bytes(rng.getrandbits(8) for _ in range(size)))
            cnc.to_clients_buffer.put_int32(rng.randrange(0, 4096) & ~7, 0x7FFFFFF0)
            sub = aeron.add_subscription("aeron:ipc", 78)
            pub = aeron.add_publication("aeron:ipc", 78)
            wait_for(lambda: pub.offer(b"ok") > 0, 10, "offer")
            got: list[bytes] = []
            wait_for(lambda: sub.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 10) or got, 10, "poll")
            assert got == [b"ok"]
            assert not aeron.is_closed
        finally:
            cnc.close()
