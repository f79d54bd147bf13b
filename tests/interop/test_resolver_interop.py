"""The driver name resolver between aeronpy's media driver and the REAL Aeron 1.53 C media driver.

Each driver names itself (``aeron.driver.resolver.name``), binds its resolver on 127.0.0.1 (its own
port) and bootstraps from the other; the C driver needs ``aeron.name.resolver.supplier=driver``
(``AERON_NAME_RESOLVER_SUPPLIER``).  Once their RES frames have crossed, each driver's cache holds
the other's name, and a stream flows either way over ``endpoint=<the receiving driver's name>:port``:
the publisher's driver resolves the name from its cache, the subscriber's driver its own name.
No RES frame of the C driver may count as an invalid packet in aeronpy's driver.  And two aeronpy
drivers that bootstrap only from a C driver learn each other from its gossip (its neighbour
resolutions: non-SELF entries with ages) and stream by name.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.interop.procs import ManagedProcess, ProcessFailure, ProcessGroup, c_client_command, free_udp_port
from tests.interop.test_udp_interop import (
    AERONPY_SUB_READY,
    C_SUB_READY,
    CLIENT_TIMEOUT_S,
    RUN_TIMEOUT_S,
    aeronpy_command,
    assert_no_aeronpy_errors,
    read_stat,
    start_aeronpy_driver,
    start_c_driver,
)

pytestmark = pytest.mark.interop

INVALID_PACKETS = 14
KNOW_EACH_OTHER_TIMEOUT_S = 30.0
COUNT, SIZE = 2_000, 200


def _props(name: str, port: int, neighbor_port: int, *, c: bool) -> dict[str, str]:
    props = {
        "aeron.driver.resolver.name": name,
        "aeron.driver.resolver.interface": f"127.0.0.1:{port}",
        "aeron.driver.resolver.bootstrap.neighbor": f"127.0.0.1:{neighbor_port}",
    }
    if c:
        props["aeron.name.resolver.supplier"] = "driver"
    return props


def _labelled(counters: Mapping[int, tuple[int, str]], prefix: str) -> list[tuple[int, str]]:
    return [(value, label) for value, label in counters.values() if label.startswith(prefix)]


def _await_knowledge(procs: ProcessGroup, aeron_dir: Path, own_name: str, drivers: list[ManagedProcess]) -> dict[int, tuple[int, str]]:
    """Poll (bounded) until the driver's cache holds an entry and its bootstrap neighbour answered."""
    deadline = time.monotonic() + KNOW_EACH_OTHER_TIMEOUT_S
    while True:
        counters = read_stat(procs, aeron_dir)
        cache = _labelled(counters, f"Resolver cache entries: name={own_name}")
        bootstrap = _labelled(counters, "Bootstrap neighbor: ")
        if cache and cache[0][0] >= 1 and bootstrap and bootstrap[0][0] == 1:
            return counters
        if time.monotonic() > deadline:
            details = "\n".join(d.describe() for d in drivers)
            raise ProcessFailure(f"{own_name} never learnt its neighbour: cache={cache} bootstrap={bootstrap}\n{details}")
        time.sleep(0.2)


@pytest.fixture
def named_drivers(c_reference: ctypes.CDLL, procs: ProcessGroup) -> tuple[Path, Path, list[ManagedProcess]]:
    py_dir, c_dir = procs.new_aeron_dir(), procs.new_aeron_dir()
    py_port, c_port = free_udp_port(), free_udp_port()
    py_driver = start_aeronpy_driver(procs, py_dir, _props("py-node", py_port, c_port, c=False))
    c_driver = start_c_driver(procs, c_dir, _props("c-node", c_port, py_port, c=True))
    drivers = [py_driver, c_driver]
    py_counters = _await_knowledge(procs, py_dir, "py-node", drivers)
    c_counters = _await_knowledge(procs, c_dir, "c-node", drivers)
    assert _labelled(py_counters, "Resolver neighbors: bound ") == [(1, f"Resolver neighbors: bound 127.0.0.1:{py_port}")]
    assert _labelled(c_counters, "Resolver neighbors: bound ")[0][0] == 1
    assert _labelled(py_counters, "Bootstrap neighbor: ") == [
        (1, f"Bootstrap neighbor: name=127.0.0.1:{c_port} resolved=127.0.0.1:{c_port}")
    ]
    assert py_counters[INVALID_PACKETS] == (0, "Invalid packets")
    return py_dir, c_dir, drivers


def _finish(procs: ProcessGroup, py_dir: Path, drivers: list[ManagedProcess]) -> None:
    counters = read_stat(procs, py_dir)
    assert counters[INVALID_PACKETS] == (0, "Invalid packets"), "a C RES frame was not understood"
    assert_no_aeronpy_errors(procs, drivers[0], py_dir)
    for driver in drivers:
        procs.stop_driver(driver)


def test_c_publication_to_the_aeronpy_driver_by_name(
    procs: ProcessGroup, named_drivers: tuple[Path, Path, list[ManagedProcess]]
) -> None:
    py_dir, c_dir, drivers = named_drivers
    channel = f"aeron:udp?endpoint=py-node:{free_udp_port()}"
    sub = aeronpy_command(
        "sub", "--dir", str(py_dir), "--channel", channel, "--stream", "5301",
        "--count", str(COUNT), "--size", str(SIZE), "--timeout", str(CLIENT_TIMEOUT_S),
    )
    pub = c_client_command("pub", c_dir, channel, 5301, COUNT, SIZE, timeout=CLIENT_TIMEOUT_S)
    result = procs.run_pub_sub(sub, pub, timeout=RUN_TIMEOUT_S, sub_ready_line=AERONPY_SUB_READY, sub_ready_exact=False)
    try:
        result.assert_ok(COUNT)
    except ProcessFailure as failure:
        raise ProcessFailure(f"{failure}\n" + "\n".join(d.describe() for d in drivers)) from None
    _finish(procs, py_dir, drivers)


def test_aeronpy_publication_to_the_c_driver_by_name(
    procs: ProcessGroup, named_drivers: tuple[Path, Path, list[ManagedProcess]]
) -> None:
    py_dir, c_dir, drivers = named_drivers
    channel = f"aeron:udp?endpoint=c-node:{free_udp_port()}"
    sub = c_client_command("sub", c_dir, channel, 5302, COUNT, SIZE, timeout=CLIENT_TIMEOUT_S)
    pub = aeronpy_command(
        "pub", "--dir", str(py_dir), "--channel", channel, "--stream", "5302",
        "--count", str(COUNT), "--size", str(SIZE), "--timeout", str(CLIENT_TIMEOUT_S),
    )
    result = procs.run_pub_sub(sub, pub, timeout=RUN_TIMEOUT_S, sub_ready_line=C_SUB_READY)
    try:
        result.assert_ok(COUNT)
    except ProcessFailure as failure:
        raise ProcessFailure(f"{failure}\n" + "\n".join(d.describe() for d in drivers)) from None
    _finish(procs, py_dir, drivers)


def test_aeronpy_drivers_learn_each_other_through_the_c_drivers_gossip(c_reference: ctypes.CDLL, procs: ProcessGroup) -> None:
    """py-a and py-b bootstrap only from the C driver: each learns the other from the entries
    the C driver gossips (its neighbour resolutions, non-SELF entries with ages), then streams."""
    a_dir, b_dir, c_dir = procs.new_aeron_dir(), procs.new_aeron_dir(), procs.new_aeron_dir()
    a_port, b_port, c_port = free_udp_port(), free_udp_port(), free_udp_port()
    c_props = _props("c-hub", c_port, a_port, c=True)
    del c_props["aeron.driver.resolver.bootstrap.neighbor"]
    c_driver = start_c_driver(procs, c_dir, c_props)
    a_driver = start_aeronpy_driver(procs, a_dir, _props("py-a", a_port, c_port, c=False))
    b_driver = start_aeronpy_driver(procs, b_dir, _props("py-b", b_port, c_port, c=False))
    drivers = [a_driver, b_driver, c_driver]
    deadline = time.monotonic() + KNOW_EACH_OTHER_TIMEOUT_S
    while True:
        entries = [
            _labelled(read_stat(procs, d), f"Resolver cache entries: name={n}")[0][0]
            for d, n in ((a_dir, "py-a"), (b_dir, "py-b"))
        ]
        if entries == [2, 2]:  # c-hub and the other aeronpy driver
            break
        if time.monotonic() > deadline:
            raise ProcessFailure(f"cache entries {entries}\n" + "\n".join(d.describe() for d in drivers))
        time.sleep(0.2)
    channel = f"aeron:udp?endpoint=py-b:{free_udp_port()}"
    sub = aeronpy_command(
        "sub", "--dir", str(b_dir), "--channel", channel, "--stream", "5303",
        "--count", str(COUNT), "--size", str(SIZE), "--timeout", str(CLIENT_TIMEOUT_S),
    )
    pub = aeronpy_command(
        "pub", "--dir", str(a_dir), "--channel", channel, "--stream", "5303",
        "--count", str(COUNT), "--size", str(SIZE), "--timeout", str(CLIENT_TIMEOUT_S),
    )
    result = procs.run_pub_sub(sub, pub, timeout=RUN_TIMEOUT_S, sub_ready_line=AERONPY_SUB_READY, sub_ready_exact=False)
    try:
        result.assert_ok(COUNT)
    except ProcessFailure as failure:
        raise ProcessFailure(f"{failure}\n" + "\n".join(d.describe() for d in drivers)) from None
    for aeron_dir in (a_dir, b_dir):
        assert read_stat(procs, aeron_dir)[INVALID_PACKETS] == (0, "Invalid packets")
    assert_no_aeronpy_errors(procs, a_driver, a_dir)
    for driver in drivers:
        procs.stop_driver(driver)
