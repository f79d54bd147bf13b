"""Multi-destination-cast between aeronpy's media driver and the REAL Aeron 1.53 C media driver.

* C dynamic MDC publication (``control=...|control-mode=dynamic``) -> two aeronpy MDC subscribers
  (``endpoint=...|control=...``): the aeronpy receive endpoints register themselves with the C sender
  through SEND_SETUP status messages to the control address;
* aeronpy dynamic MDC publication -> two C MDC subscribers;
* aeronpy manual MDC publication (destinations added through the client API) -> two C subscribers.

The publications use ``fc=min,g:/2`` so they only count as connected (and the pub tools only start
sending) once both subscribers are known: every subscriber must then get every message, in order.
"""

from __future__ import annotations

import ctypes
import sys

import pytest

from tests.interop.procs import ProcessFailure, ProcessGroup, c_client_command, free_udp_port
from tests.interop.test_udp_interop import (
    AERONPY_SUB_READY,
    C_SUB_READY,
    CLIENT_TIMEOUT_S,
    RUN_TIMEOUT_S,
    aeronpy_command,
    assert_no_aeronpy_errors,
    start_aeronpy_driver,
    start_c_driver,
)

pytestmark = pytest.mark.interop

COUNT, SIZE = 2_000, 3_000  # fragmented at the default MTU


def _sub_channel(control: str) -> str:
    return f"aeron:udp?endpoint=127.0.0.1:{free_udp_port()}|control={control}"


def _wait_all(procs: ProcessGroup, pub: object, subs: list, extra: str) -> None:
    pub_rc = pub.wait(RUN_TIMEOUT_S)  # type: ignore[attr-defined]
    rcs = [sub.wait(RUN_TIMEOUT_S) for sub in subs]
    if pub_rc != 0 or any(rcs):
        details = "\n".join(p.describe() for p in [pub, *subs])  # type: ignore[attr-defined]
        raise ProcessFailure(f"pub rc={pub_rc}, sub rcs={rcs}\n{details}\n{extra}")


def test_c_dynamic_mdc_publication_to_aeronpy_subscribers(c_reference: ctypes.CDLL, procs: ProcessGroup) -> None:
    py_dir, c_dir = procs.new_aeron_dir(), procs.new_aeron_dir()
    py_driver = start_aeronpy_driver(procs, py_dir)
    c_driver = start_c_driver(procs, c_dir)
    control = f"127.0.0.1:{free_udp_port()}"
    subs = [
        procs.start_subscriber(
            aeronpy_command(
                "sub", "--dir", str(py_dir), "--channel", _sub_channel(control), "--stream", "5201",
                "--count", str(COUNT), "--size", str(SIZE), "--timeout", str(CLIENT_TIMEOUT_S),
            ),
            ready_line=AERONPY_SUB_READY, ready_exact=False, name=f"aeronpy-sub-{i}",
        )
        for i in range(2)
    ]
    pub_channel = f"aeron:udp?control={control}|control-mode=dynamic|fc=min,g:/2"
    pub = procs.start(c_client_command("pub", c_dir, pub_channel, 5201, COUNT, SIZE, timeout=CLIENT_TIMEOUT_S), name="c-pub")
    _wait_all(procs, pub, subs, f"{py_driver.describe()}\n{c_driver.describe()}")
    assert_no_aeronpy_errors(procs, py_driver, py_dir)
    procs.stop_driver(py_driver)
    procs.stop_driver(c_driver)


def test_aeronpy_dynamic_mdc_publication_to_c_subscribers(c_reference: ctypes.CDLL, procs: ProcessGroup) -> None:
    py_dir, c_dir = procs.new_aeron_dir(), procs.new_aeron_dir()
    py_driver = start_aeronpy_driver(procs, py_dir)
    c_driver = start_c_driver(procs, c_dir)
    control = f"127.0.0.1:{free_udp_port()}"
    subs = [
        procs.start_subscriber(
            c_client_command("sub", c_dir, _sub_channel(control), 5202, COUNT, SIZE, timeout=CLIENT_TIMEOUT_S),
            ready_line=C_SUB_READY, name=f"c-sub-{i}",
        )
        for i in range(2)
    ]
    pub_channel = f"aeron:udp?control={control}|control-mode=dynamic|fc=min,g:/2"
    pub = procs.start(
        aeronpy_command(
            "pub", "--dir", str(py_dir), "--channel", pub_channel, "--stream", "5202",
            "--count", str(COUNT), "--size", str(SIZE), "--timeout", str(CLIENT_TIMEOUT_S),
        ),
        name="aeronpy-pub",
    )
    _wait_all(procs, pub, subs, f"{py_driver.describe()}\n{c_driver.describe()}")
    assert_no_aeronpy_errors(procs, py_driver, py_dir)
    procs.stop_driver(py_driver)
    procs.stop_driver(c_driver)


MANUAL_PUB_SCRIPT = """
import sys, time
from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context
from aeronpy.samples import PayloadFactory

aeron_dir, stream, count, size, *endpoints = sys.argv[1:]
stream, count, size = int(stream), int(count), int(size)
factory = PayloadFactory(size)
with Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir)) as aeron:
    pub = aeron.add_exclusive_publication("aeron:udp?control-mode=manual|fc=min,g:/2", stream)
    for endpoint in endpoints:
        pub.add_destination(f"aeron:udp?endpoint={endpoint}")
    deadline = time.monotonic() + 30
    while not pub.is_connected:
        if time.monotonic() > deadline:
            sys.exit("never connected")
        time.sleep(0.001)
    sent = 0
    while sent < count:
        if pub.offer(factory.make(sent)) > 0:
            sent += 1
        elif time.monotonic() > deadline + 30:
            sys.exit("offer timed out")
    print("sent", sent, flush=True)
"""


def test_aeronpy_manual_mdc_publication_to_c_subscribers(c_reference: ctypes.CDLL, procs: ProcessGroup) -> None:
    py_dir, c_dir = procs.new_aeron_dir(), procs.new_aeron_dir()
    py_driver = start_aeronpy_driver(procs, py_dir)
    c_driver = start_c_driver(procs, c_dir)
    endpoints = [f"127.0.0.1:{free_udp_port()}" for _ in range(2)]
    subs = [
        procs.start_subscriber(
            c_client_command("sub", c_dir, f"aeron:udp?endpoint={e}", 5203, COUNT, SIZE, timeout=CLIENT_TIMEOUT_S),
            ready_line=C_SUB_READY, name=f"c-sub-{i}",
        )
        for i, e in enumerate(endpoints)
    ]
    pub = procs.start(
        [sys.executable, "-c", MANUAL_PUB_SCRIPT, str(py_dir), "5203", str(COUNT), str(SIZE), *endpoints],
        name="aeronpy-manual-pub",
    )
    _wait_all(procs, pub, subs, f"{py_driver.describe()}\n{c_driver.describe()}")
    assert_no_aeronpy_errors(procs, py_driver, py_dir)
    procs.stop_driver(py_driver)
    procs.stop_driver(c_driver)
