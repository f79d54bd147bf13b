"""aeronpy's media driver speaks the Aeron wire protocol with the REAL Aeron 1.53 C media driver over UDP.

Each side runs its own media driver in its own aeron directory; they only share datagrams on 127.0.0.1:

* aeronpy driver + aeronpy pub  ->  C driver + C sub, and C driver + C pub  ->  aeronpy driver + aeronpy sub;
* unicast with many small messages (20k x 32 B) and with fragmented ones (2k x 3000 B, MTU 1408 -> 3 frames);
* multicast (``endpoint=239.255.x.y:P|interface=127.0.0.1``), skipped when loopback multicast does not work
  here (probed with two C drivers first);
* under loss: the receiving driver drops ~10% of DATA frames with the ``loss`` interceptor (same settings on
  both drivers), so the receiver must NAK and the sender retransmit; the stream still arrives complete and in
  order, ``NAKs sent`` > 0 on the receiver, and ``aeronpy loss`` lists the loss when aeronpy received.

Every process is started through ``procs`` (killed on teardown, aeron dirs removed); every wait is bounded.
"""

from __future__ import annotations

import ctypes
import random
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.interop.procs import (
    ManagedProcess,
    ProcessFailure,
    ProcessGroup,
    c_client_command,
    c_driver_command,
    free_udp_port,
)

pytestmark = pytest.mark.interop

CLIENT_TIMEOUT_S = 30.0
RUN_TIMEOUT_S = 45.0
TOOL_TIMEOUT_S = 20.0
AERONPY_DRIVER_READY = "aeronpy media driver running"
AERONPY_SUB_READY = "subscribed to "
C_SUB_READY = "READY"

SMALL = (20_000, 32)
FRAGMENTED = (2_000, 3_000)  # default MTU 1408 -> 1376 B of payload per frame -> 3 frames per message
MTU = 1408
HEADER = 32

# The loss interceptor, identical settings for both drivers (the C driver reads them from the environment,
# which c_driver.py's -D sets; the aeronpy driver takes them as -D properties).
LOSS_PROPS = {
    "aeron.udp.channel.incoming.interceptors": "loss",
    "aeron.udp.channel.transport.bindings.loss.args": "rate=0.1|seed=7|recv-msg-mask=0x2",  # DATA frames only
}

STAT_LINE = re.compile(r"^\s*(\d+):\s+(-?[\d,]+) - (.*)$")
BYTES_SENT, BYTES_RECEIVED, NAKS_SENT, NAKS_RECEIVED, RETRANSMITS_SENT = 0, 1, 5, 6, 11


# --- command lines and drivers -------------------------------------------------------------------


def aeronpy_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "aeronpy", *args]


def unicast_channel() -> str:
    return f"aeron:udp?endpoint=127.0.0.1:{free_udp_port()}"


def multicast_channel() -> str:
    # The data group must be odd (its control group is data + 1); a random group and a free port keep
    # parallel runs (and other suites' multicast tests) apart.
    group = f"239.255.{random.randint(1, 254)}.{random.randrange(1, 254, 2)}"
    return f"aeron:udp?endpoint={group}:{free_udp_port()}|interface=127.0.0.1"


def start_aeronpy_driver(procs: ProcessGroup, aeron_dir: Path, props: Mapping[str, str] | None = None) -> ManagedProcess:
    argv = aeronpy_command("driver", "--dir", str(aeron_dir), "-D", "aeron.threading.mode=SHARED")
    for key, value in (props or {}).items():
        argv += ["-D", f"{key}={value}"]
    return procs.start_driver(argv, aeron_dir, ready_line=AERONPY_DRIVER_READY, ready_exact=False, name="aeronpy-driver")


def start_c_driver(procs: ProcessGroup, aeron_dir: Path, props: Mapping[str, str] | None = None) -> ManagedProcess:
    return procs.start_driver(c_driver_command(aeron_dir, props), aeron_dir, name="c-driver")


def run_tool(procs: ProcessGroup, argv: list[str], name: str) -> ManagedProcess:
    proc = procs.start(argv, name=name)
    proc.assert_exit_ok(TOOL_TIMEOUT_S)
    return proc


def read_stat(procs: ProcessGroup, aeron_dir: Path) -> dict[int, tuple[int, str]]:
    """``aeronpy stat`` (works on both drivers' cnc.dat) -> {counter id: (value, label)}."""
    stat = run_tool(procs, aeronpy_command("stat", "--dir", str(aeron_dir)), "aeronpy-stat")
    counters: dict[int, tuple[int, str]] = {}
    for line in stat.stdout.splitlines():
        match = STAT_LINE.match(line)
        if match:
            counters[int(match.group(1))] = (int(match.group(2).replace(",", "")), match.group(3))
    assert counters, stat.describe()
    return counters


def counter(counters: Mapping[int, tuple[int, str]], counter_id: int, label: str) -> int:
    value, actual = counters[counter_id]
    assert actual.startswith(label), f"counter {counter_id} is {actual!r}, expected {label!r}"
    return value


def assert_no_aeronpy_errors(procs: ProcessGroup, driver: ManagedProcess, aeron_dir: Path) -> None:
    errors = run_tool(procs, aeronpy_command("errors", "--dir", str(aeron_dir)), "aeronpy-errors")
    assert "0 distinct errors observed." in errors.stdout.splitlines(), f"{errors.describe()}\n{driver.describe()}"


def framed_length(size: int) -> int:
    """Bytes on the wire (DATA frames, 32-aligned) for one message of ``size`` bytes at the default MTU."""
    max_payload = MTU - HEADER
    full, rest = divmod(size, max_payload)
    return full * MTU + ((rest + HEADER + 31) & ~31 if rest else 0)


# --- one transfer between the two drivers --------------------------------------------------------


@dataclass
class Transfer:
    sender_dir: Path
    receiver_dir: Path
    sender_driver: ManagedProcess
    receiver_driver: ManagedProcess
    aeronpy_dir: Path
    aeronpy_driver: ManagedProcess


def transfer(
    procs: ProcessGroup, *, aeronpy_sends: bool, channel: str, stream: int, count: int, size: int,
    receiver_props: Mapping[str, str] | None = None,
) -> Transfer:
    """Start both drivers (the receiving one with ``receiver_props``), send ``count`` messages of ``size``
    bytes from one side's client to the other's, and check they all arrived, in order and intact."""
    py_dir, c_dir = procs.new_aeron_dir(), procs.new_aeron_dir()
    py_driver = start_aeronpy_driver(procs, py_dir, None if aeronpy_sends else receiver_props)
    c_driver = start_c_driver(procs, c_dir, receiver_props if aeronpy_sends else None)
    py_client = aeronpy_command(
        "pub" if aeronpy_sends else "sub", "--dir", str(py_dir), "--channel", channel, "--stream", str(stream),
        "--count", str(count), "--size", str(size), "--timeout", str(CLIENT_TIMEOUT_S),
    )
    if aeronpy_sends:
        c_sub = c_client_command("sub", c_dir, channel, stream, count, size, timeout=CLIENT_TIMEOUT_S)
        result = procs.run_pub_sub(c_sub, py_client, timeout=RUN_TIMEOUT_S, sub_ready_line=C_SUB_READY)
    else:
        c_pub = c_client_command("pub", c_dir, channel, stream, count, size, timeout=CLIENT_TIMEOUT_S)
        result = procs.run_pub_sub(
            py_client, c_pub, timeout=RUN_TIMEOUT_S, sub_ready_line=AERONPY_SUB_READY, sub_ready_exact=False
        )
    try:
        result.assert_ok(count)
    except ProcessFailure as failure:
        raise ProcessFailure(f"{failure}\n{py_driver.describe()}\n{c_driver.describe()}") from None
    if aeronpy_sends:
        return Transfer(py_dir, c_dir, py_driver, c_driver, py_dir, py_driver)
    return Transfer(c_dir, py_dir, c_driver, py_driver, py_dir, py_driver)


def finish(procs: ProcessGroup, t: Transfer) -> None:
    """No errors in the aeronpy driver's log; both drivers shut down cleanly."""
    assert_no_aeronpy_errors(procs, t.aeronpy_driver, t.aeronpy_dir)
    procs.stop_driver(t.receiver_driver)
    procs.stop_driver(t.sender_driver)


# --- unicast -------------------------------------------------------------------------------------

DIRECTIONS = [True, False]
DIRECTION_IDS = ["aeronpy-to-c", "c-to-aeronpy"]


@pytest.mark.parametrize(("count", "size"), [SMALL, FRAGMENTED], ids=["small", "fragmented"])
@pytest.mark.parametrize("aeronpy_sends", DIRECTIONS, ids=DIRECTION_IDS)
def test_udp_unicast(c_reference: ctypes.CDLL, procs: ProcessGroup, aeronpy_sends: bool, count: int, size: int) -> None:
    t = transfer(procs, aeronpy_sends=aeronpy_sends, channel=unicast_channel(), stream=5001, count=count, size=size)
    if aeronpy_sends:
        # "Bytes sent" counts each DATA frame once (plus setups/heartbeats), like the C sender: at least the
        # framed stream, and nowhere near twice it.
        sent = counter(read_stat(procs, t.sender_dir), BYTES_SENT, "Bytes sent")
        received = counter(read_stat(procs, t.receiver_dir), BYTES_RECEIVED, "Bytes received")
        expected = count * framed_length(size)
        assert expected <= sent < expected * 1.25, f"aeronpy Bytes sent {sent}, stream {expected}, C received {received}"
    finish(procs, t)


# --- multicast -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loopback_multicast(c_reference: ctypes.CDLL) -> Iterator[None]:
    """Skip unless multicast on 127.0.0.1 works here: checked with two real C drivers first."""
    with ProcessGroup() as procs:
        c1, c2 = procs.new_aeron_dir(), procs.new_aeron_dir()
        start_c_driver(procs, c1)
        start_c_driver(procs, c2)
        channel = multicast_channel()
        result = procs.run_pub_sub(
            c_client_command("sub", c2, channel, 5100, 10, 32, timeout=8.0),
            c_client_command("pub", c1, channel, 5100, 10, 32, timeout=8.0),
            timeout=15.0,
        )
        if result.sub_rc != 0 or result.pub_rc != 0:
            pytest.skip(
                "multicast on the loopback interface does not work here (C driver to C driver failed on "
                f"{channel}): pub rc={result.pub_rc}, sub rc={result.sub_rc}\n{result.sub.stdout}"
            )
    yield


@pytest.mark.parametrize("aeronpy_sends", DIRECTIONS, ids=DIRECTION_IDS)
def test_udp_multicast(
    c_reference: ctypes.CDLL, loopback_multicast: None, procs: ProcessGroup, aeronpy_sends: bool
) -> None:
    count, size = FRAGMENTED
    t = transfer(procs, aeronpy_sends=aeronpy_sends, channel=multicast_channel(), stream=5002, count=count, size=size)
    finish(procs, t)


# --- under loss ----------------------------------------------------------------------------------


def loss_entries(procs: ProcessGroup, aeron_dir: Path) -> list[list[str]]:
    """``aeronpy loss`` -> CSV rows (OBSERVATION_COUNT,TOTAL_BYTES_LOST,FIRST,LAST,SESSION,STREAM,CHANNEL,SOURCE)."""
    report = run_tool(procs, aeronpy_command("loss", "--dir", str(aeron_dir)), "aeronpy-loss")
    return [line.split(",") for line in report.stdout.splitlines() if line and not line.startswith("#") and "," in line]


@pytest.mark.parametrize("aeronpy_sends", DIRECTIONS, ids=["c-naks", "aeronpy-naks"])
def test_udp_unicast_under_loss(c_reference: ctypes.CDLL, procs: ProcessGroup, aeronpy_sends: bool) -> None:
    count, size = FRAGMENTED
    channel, stream = unicast_channel(), 5003
    t = transfer(
        procs, aeronpy_sends=aeronpy_sends, channel=channel, stream=stream, count=count, size=size,
        receiver_props=LOSS_PROPS,
    )
    receiver, sender = read_stat(procs, t.receiver_dir), read_stat(procs, t.sender_dir)
    context = f"receiver {receiver}\nsender {sender}"
    assert counter(receiver, NAKS_SENT, "NAKs sent") > 0, context
    assert counter(sender, NAKS_RECEIVED, "NAKs received") > 0, context
    assert counter(sender, RETRANSMITS_SENT, "Retransmits sent") > 0, context
    if not aeronpy_sends:
        entries = loss_entries(procs, t.receiver_dir)
        ours = [row for row in entries if len(row) >= 8 and row[5] == str(stream) and row[6] == channel]
        assert ours, f"no loss report entry for {channel} stream {stream}: {entries}"
        assert int(ours[0][0]) > 0 and int(ours[0][1]) > 0, ours
    finish(procs, t)
