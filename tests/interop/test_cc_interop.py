"""``cc=cubic`` with receiver-originated RTT measurement against the REAL Aeron 1.53 C media driver.

The C driver has the cubic strategy (``aeron_congestion_control.c``) with the same switches as
aeronpy (``AERON_CUBICCONGESTIONCONTROL_MEASURERTT`` / ``aeron.CubicCongestionControl.measureRtt``):

* C sender -> aeronpy receiver with ``cc=cubic``: our image sends RTTM frames with the reply flag,
  the C sender answers, and our ``rcv-cc-cubic-rtt`` counter shows the measured round trip; once
  plain, once with the receiving driver dropping ~10 % of DATA frames (the window backs off, the
  stream still arrives complete and in order).
* aeronpy sender -> C receiver with ``cc=cubic``: the C image sends RTTMs, our sender answers, and
  the C driver's ``rcv-cc-cubic-rtt`` counter becomes non-zero; plain and under loss (the C
  receiver backs off and NAKs, our sender retransmits, the stream arrives complete).

The receiving driver's counters are read from its cnc.dat while the stream runs (the cubic
indicators live as long as the image).  Every wait is bounded.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from aeronpy.cnc import CncFile
from aeronpy.concurrent.counters import PER_IMAGE_TYPE_ID, CountersReader
from tests.interop.procs import ManagedProcess, ProcessFailure, ProcessGroup, c_client_command
from tests.interop.test_udp_interop import (
    AERONPY_SUB_READY,
    C_SUB_READY,
    LOSS_PROPS,
    MTU,
    aeronpy_command,
    assert_no_aeronpy_errors,
    start_aeronpy_driver,
    start_c_driver,
    unicast_channel,
)

pytestmark = pytest.mark.interop

MEASURE_RTT = {"aeron.CubicCongestionControl.measureRtt": "true"}
COUNT, SIZE = 30_000, 100
LOSS_COUNT = 4_000
"""Under 10 % loss a cubic window lives at one MTU (every gap backs it off again before the curve
regrows), i.e. one datagram per round trip: a short stream, so a loaded machine still finishes."""
CLIENT_TIMEOUT_S = 40.0
MEASURE_TIMEOUT_S = 30.0
TERM = 64 * 1024  # the static window is then half a term: 32 KiB


def cubic_indicators(aeron_dir: Path) -> dict[str, int]:
    """``{"rcv-cc-cubic-rtt": value, "rcv-cc-cubic-wnd": value}`` of the driver's (first) cubic image."""
    found: dict[str, int] = {}
    try:
        cnc = CncFile.map(str(aeron_dir / "cnc.dat"))
    except Exception:  # not there yet / going away: nothing to read this time
        return found
    with cnc:
        reader = CountersReader(cnc.counters_metadata_buffer, cnc.counters_values_buffer)

        def visit(counter_id: int, type_id: int, key: bytes, label: str) -> None:
            name = label.split(":")[0]
            if type_id == PER_IMAGE_TYPE_ID and name.startswith("rcv-cc-cubic-") and name not in found:
                found[name] = int(reader.get_counter_value(counter_id))

        reader.for_each(visit)
    return found


def await_indicators(
    receiver_dir: Path, what: str, until: Callable[[dict[str, int]], bool], *running: ManagedProcess
) -> dict[str, int]:
    """Poll the receiving driver's cubic counters until ``until`` holds (bounded, while streaming)."""
    deadline = time.monotonic() + MEASURE_TIMEOUT_S
    seen: dict[str, int] = {}
    while time.monotonic() < deadline:
        seen = cubic_indicators(receiver_dir) or seen
        if seen and until(seen):
            return seen
        if all(p.returncode is not None for p in running):
            break
        time.sleep(0.02)
    details = "\n".join(p.describe() for p in running)
    raise ProcessFailure(f"{what} not seen on the receiving driver (cubic counters {seen})\n{details}")


def run_stream(
    procs: ProcessGroup, *, aeronpy_sends: bool, receiver_props: Mapping[str, str], count: int = COUNT
) -> tuple[dict[str, int], Path, ManagedProcess]:
    """Drivers, a ``cc=cubic`` unicast stream of ``count`` messages; returns the receiver's cubic
    counters (read while streaming), the aeronpy dir and driver.  Checks every message arrived in order."""
    channel = f"{unicast_channel()}|term-length={TERM}|cc=cubic"
    py_dir, c_dir = procs.new_aeron_dir(), procs.new_aeron_dir()
    py_driver = start_aeronpy_driver(procs, py_dir, None if aeronpy_sends else receiver_props)
    c_driver = start_c_driver(procs, c_dir, receiver_props if aeronpy_sends else None)
    common = ["--channel", channel, "--stream", "5301", "--count", str(count), "--timeout", str(CLIENT_TIMEOUT_S)]
    if aeronpy_sends:
        sub = procs.start_subscriber(
            c_client_command("sub", c_dir, channel, 5301, count, SIZE, timeout=CLIENT_TIMEOUT_S), ready_line=C_SUB_READY
        )
        pub = procs.start(aeronpy_command("pub", "--dir", str(py_dir), *common, "--size", str(SIZE)), name="aeronpy-pub")
        receiver_dir = c_dir
    else:
        sub = procs.start_subscriber(
            aeronpy_command("sub", "--dir", str(py_dir), *common), ready_line=AERONPY_SUB_READY, ready_exact=False,
            name="aeronpy-sub",
        )
        pub = procs.start(c_client_command("pub", c_dir, channel, 5301, count, SIZE, timeout=CLIENT_TIMEOUT_S), name="c-pub")
        receiver_dir = py_dir
    try:
        indicators = await_indicators(receiver_dir, "an RTT measured", lambda c: c.get("rcv-cc-cubic-rtt", 0) > 0, sub, pub)
        if LOSS_PROPS.items() <= receiver_props.items():
            await_indicators(  # a gap backs the window off below the static window (32 KiB)
                receiver_dir, "a backed-off window", lambda c: c.get("rcv-cc-cubic-wnd", TERM) < TERM // 2, sub, pub
            )
        pub_rc, sub_rc = pub.wait(CLIENT_TIMEOUT_S + 15), sub.wait(CLIENT_TIMEOUT_S + 15)
        if pub_rc != 0 or sub_rc != 0 or not any(line.startswith(f"received {count}") for line in sub.stdout.splitlines()):
            raise ProcessFailure(f"pub rc={pub_rc}, sub rc={sub_rc}\n{pub.describe()}\n{sub.describe()}")
    except ProcessFailure as failure:
        raise ProcessFailure(f"{failure}\n{py_driver.describe()}\n{c_driver.describe()}") from None
    return indicators, py_dir, py_driver


def check_indicators(indicators: Mapping[str, int]) -> None:
    assert 0 < indicators["rcv-cc-cubic-rtt"] < 5 * 10**9, indicators  # a loopback round trip, in ns
    window = indicators["rcv-cc-cubic-wnd"]
    assert window % MTU == 0 and MTU <= window <= TERM // 2, indicators  # whole MTUs, at most the static window


def test_c_sender_answers_the_rttm_of_an_aeronpy_cubic_receiver(c_reference: ctypes.CDLL, procs: ProcessGroup) -> None:
    indicators, py_dir, py_driver = run_stream(procs, aeronpy_sends=False, receiver_props=MEASURE_RTT)
    check_indicators(indicators)
    assert_no_aeronpy_errors(procs, py_driver, py_dir)


def test_c_sender_to_aeronpy_cubic_receiver_under_loss(c_reference: ctypes.CDLL, procs: ProcessGroup) -> None:
    indicators, py_dir, py_driver = run_stream(
        procs, aeronpy_sends=False, receiver_props={**MEASURE_RTT, **LOSS_PROPS}, count=LOSS_COUNT
    )
    check_indicators(indicators)
    assert_no_aeronpy_errors(procs, py_driver, py_dir)


@pytest.mark.parametrize("loss", [False, True], ids=["plain", "under-loss"])
def test_aeronpy_sender_answers_the_rttm_of_a_c_cubic_receiver(
    c_reference: ctypes.CDLL, procs: ProcessGroup, loss: bool
) -> None:
    props = {**MEASURE_RTT, **LOSS_PROPS} if loss else MEASURE_RTT
    indicators, py_dir, py_driver = run_stream(
        procs, aeronpy_sends=True, receiver_props=props, count=LOSS_COUNT if loss else COUNT
    )
    check_indicators(indicators)
    assert_no_aeronpy_errors(procs, py_driver, py_dir)
