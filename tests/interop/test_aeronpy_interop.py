"""aeronpy interoperates with the REAL Aeron 1.53 C media driver and C client over IPC.

(a) real C media driver: aeronpy client <-> C client, both directions.
(b) aeronpy media driver: C client <-> C client, C client <-> aeronpy client.
(c) cnc.dat / counters / error log: aeronpy's readers understand the C driver's files and the C
    client understands the aeronpy driver's.

Every process is started through ``procs`` (killed on teardown); every wait is bounded.
"""

from __future__ import annotations

import ctypes
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.interop.procs import (
    C_CLIENT_SCRIPT,
    ManagedProcess,
    ProcessFailure,
    ProcessGroup,
    c_client_command,
    c_driver_command,
    python_command,
)

pytestmark = pytest.mark.interop

IPC = "aeron:ipc"
CLIENT_TIMEOUT_S = 40.0
RUN_TIMEOUT_S = 60.0
TOOL_TIMEOUT_S = 30.0
AERONPY_DRIVER_READY = "aeronpy media driver running"
AERONPY_SUB_READY = "subscribed to "
C_SUB_READY = "READY"

# (count, size): many small messages, and messages fragmented across several frames
# (the default MTU is 1408 bytes, so 5000 B -> 4 fragments).
SMALL = (20_000, 32)
FRAGMENTED = (2_000, 5_000)
CASES = [(*SMALL, False), (*FRAGMENTED, False), (*SMALL, True), (*FRAGMENTED, True)]
CASE_IDS = ["small", "fragmented", "small-exclusive", "fragmented-exclusive"]

# Counter type ids (aeron_counters.h / AeronCounters.java).
SYSTEM_COUNTER_TYPE_ID = 0
PUBLISHER_LIMIT_TYPE_ID = 1
CLIENT_HEARTBEAT_TYPE_ID = 11
ERRORS_COUNTER_ID = 15

STAT_LINE = re.compile(r"^\s*(\d+):\s+(-?[\d,]+) - (.*)$")
STAT_HEADER = re.compile(r"Aeron Stat \(CnC v(\d+)\.(\d+)\.(\d+)\), pid (-?\d+)")
C_COUNTER_LINE = re.compile(r"^COUNTER (\d+) (-?\d+) (-?\d+) ?(.*)$")


# --- command lines -------------------------------------------------------------------------------


def aeronpy_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "aeronpy", *args]


def aeronpy_driver_command(aeron_dir: Path, props: Mapping[str, str] | None = None) -> list[str]:
    argv = aeronpy_command("driver", "--dir", str(aeron_dir), "-D", "aeron.threading.mode=SHARED")
    for key, value in (props or {}).items():
        argv += ["-D", f"{key}={value}"]
    return argv


def aeronpy_client_command(
    mode: str, aeron_dir: Path, channel: str, stream: int, count: int, size: int | None = None, *,
    exclusive: bool = False, timeout: float = CLIENT_TIMEOUT_S,
) -> list[str]:
    """``python -m aeronpy pub|sub ...`` (same payload format as the C clients)."""
    argv = aeronpy_command(
        mode, "--dir", str(aeron_dir), "--channel", channel, "--stream", str(stream),
        "--count", str(count), "--timeout", str(timeout),
    )
    if mode == "pub":
        assert size is not None
        argv += ["--size", str(size)]
        if exclusive:
            argv.append("--exclusive")
    return argv


def c_counters_command(aeron_dir: Path, stream: int | None = None) -> list[str]:
    """``c_client.py counters``: the C client's view of the driver's counters."""
    argv = python_command(C_CLIENT_SCRIPT, "counters", "--dir", str(aeron_dir), "--timeout", str(TOOL_TIMEOUT_S / 2))
    if stream is not None:
        argv += ["--channel", IPC, "--stream", str(stream)]
    return argv


def c_client(mode: str, aeron_dir: Path, stream: int, count: int, size: int | None = None, *,
             exclusive: bool = False) -> list[str]:
    return c_client_command(mode, aeron_dir, IPC, stream, count, size, exclusive=exclusive, timeout=CLIENT_TIMEOUT_S)


def aeronpy_client(mode: str, aeron_dir: Path, stream: int, count: int, size: int | None = None, *,
                   exclusive: bool = False) -> list[str]:
    return aeronpy_client_command(mode, aeron_dir, IPC, stream, count, size, exclusive=exclusive)


# --- drivers and helpers -------------------------------------------------------------------------


def start_c_driver(procs: ProcessGroup, aeron_dir: Path) -> ManagedProcess:
    return procs.start_driver(c_driver_command(aeron_dir), aeron_dir, name="c-driver")


def start_aeronpy_driver(procs: ProcessGroup, aeron_dir: Path) -> ManagedProcess:
    return procs.start_driver(
        aeronpy_driver_command(aeron_dir), aeron_dir, ready_line=AERONPY_DRIVER_READY, ready_exact=False,
        name="aeronpy-driver",
    )


def stop_aeronpy_driver(procs: ProcessGroup, driver: ManagedProcess) -> None:
    procs.stop_driver(driver)
    assert "aeronpy media driver shut down" in driver.stdout, driver.describe()


def run_tool(procs: ProcessGroup, argv: list[str], name: str) -> ManagedProcess:
    """Run a short-lived command to completion; fail (with its output) unless it exits 0."""
    proc = procs.start(argv, name=name)
    proc.assert_exit_ok(TOOL_TIMEOUT_S)
    return proc


def pub_sub(procs: ProcessGroup, sub_argv: list[str], pub_argv: list[str], count: int, *, aeronpy_sub: bool) -> None:
    result = procs.run_pub_sub(
        sub_argv, pub_argv, timeout=RUN_TIMEOUT_S,
        sub_ready_line=AERONPY_SUB_READY if aeronpy_sub else C_SUB_READY, sub_ready_exact=not aeronpy_sub,
    )
    result.assert_ok(count)


def assert_no_driver_errors(procs: ProcessGroup, driver: ManagedProcess, aeron_dir: Path) -> None:
    """The driver's distinct error log is empty (read with ``aeronpy errors``)."""
    errors = run_tool(procs, aeronpy_command("errors", "--dir", str(aeron_dir)), "aeronpy-errors")
    assert "0 distinct errors observed." in errors.stdout.splitlines(), (
        f"the driver logged errors:\n{errors.describe()}\n{driver.describe()}"
    )


def pub_sub_through_driver(procs: ProcessGroup, aeron_dir: Path, *, aeronpy_driver: bool, sub_argv: list[str],
                           pub_argv: list[str], count: int, aeronpy_sub: bool) -> None:
    """:func:`pub_sub` through a fresh C or aeronpy media driver, which must log no errors and stop."""
    driver = start_aeronpy_driver(procs, aeron_dir) if aeronpy_driver else start_c_driver(procs, aeron_dir)
    pub_sub(procs, sub_argv, pub_argv, count, aeronpy_sub=aeronpy_sub)
    assert_no_driver_errors(procs, driver, aeron_dir)
    if aeronpy_driver:
        stop_aeronpy_driver(procs, driver)
    else:
        procs.stop_driver(driver)


def parse_stat(text: str) -> tuple[tuple[int, int, int, int], dict[int, tuple[int, str]]]:
    """``aeronpy stat`` output -> ((major, minor, patch, pid), {id: (value, label)})."""
    header = STAT_HEADER.search(text)
    assert header is not None, f"no stat header in:\n{text}"
    counters: dict[int, tuple[int, str]] = {}
    for line in text.splitlines():
        match = STAT_LINE.match(line)
        if match:
            counters[int(match.group(1))] = (int(match.group(2).replace(",", "")), match.group(3))
    major, minor, patch, pid = (int(g) for g in header.groups())
    return (major, minor, patch, pid), counters


def parse_c_counters(proc: ManagedProcess) -> dict[int, tuple[int, int, str]]:
    """``c_client.py counters`` output -> {id: (type_id, value, label)}."""
    counters: dict[int, tuple[int, int, str]] = {}
    for line in proc.stdout.splitlines():
        match = C_COUNTER_LINE.match(line)
        if match:
            counters[int(match.group(1))] = (int(match.group(2)), int(match.group(3)), match.group(4))
    total = next((int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("COUNTERS ")), None)
    assert total == len(counters) and total > 0, proc.describe()
    return counters


def c_client_id(proc: ManagedProcess) -> int:
    line = next((line for line in proc.stdout.splitlines() if line.startswith("CLIENT_ID ")), None)
    assert line is not None, proc.describe()
    return int(line.split()[1])


def assert_system_counters(labels: Mapping[int, str], context: str) -> None:
    """The well-known system counters are at their Aeron ids with their Aeron labels."""
    expected_prefixes = {
        0: "Bytes sent", 1: "Bytes received", 5: "NAKs sent", ERRORS_COUNTER_ID: "Errors",
        24: "Client liveness timeouts",
    }
    for counter_id, prefix in expected_prefixes.items():
        assert labels.get(counter_id, "").startswith(prefix), (
            f"counter {counter_id}: expected a label starting {prefix!r}, got {labels.get(counter_id)!r}\n{context}"
        )


def label_of(counters: Mapping[int, tuple[int, str]], counter_id: int) -> str | None:
    entry = counters.get(counter_id)
    return entry[1] if entry is not None else None


# --- (a) aeronpy clients through the real C media driver -----------------------------------------


@pytest.mark.parametrize(("count", "size", "exclusive"), CASES, ids=CASE_IDS)
def test_c_driver_aeronpy_pub_c_sub(
    c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path, count: int, size: int, exclusive: bool
) -> None:
    stream = 2001
    pub_sub_through_driver(
        procs, aeron_dir, aeronpy_driver=False, sub_argv=c_client("sub", aeron_dir, stream, count, size),
        pub_argv=aeronpy_client("pub", aeron_dir, stream, count, size, exclusive=exclusive), count=count, aeronpy_sub=False,
    )


@pytest.mark.parametrize(("count", "size", "exclusive"), CASES, ids=CASE_IDS)
def test_c_driver_c_pub_aeronpy_sub(
    c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path, count: int, size: int, exclusive: bool
) -> None:
    stream = 2002
    pub_sub_through_driver(
        procs, aeron_dir, aeronpy_driver=False, sub_argv=aeronpy_client("sub", aeron_dir, stream, count),
        pub_argv=c_client("pub", aeron_dir, stream, count, size, exclusive=exclusive), count=count, aeronpy_sub=True,
    )


def test_c_driver_aeronpy_sub_reports_timeout(c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path) -> None:
    """The aeronpy subscriber must report failure (not hang, not exit 0) when nothing arrives."""
    start_c_driver(procs, aeron_dir)
    sub = procs.start_subscriber(
        aeronpy_client_command("sub", aeron_dir, IPC, 2003, 10, timeout=1.0),
        ready_line=AERONPY_SUB_READY, ready_exact=False,
    )
    assert sub.wait(TOOL_TIMEOUT_S) != 0, sub.describe()
    assert not any(line.startswith("received") for line in sub.stdout.splitlines()), sub.describe()


def test_c_driver_aeronpy_pub_reports_stall(c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path) -> None:
    """The aeronpy publisher gives up (non-zero, with a reason) once its subscriber has gone."""
    start_c_driver(procs, aeron_dir)
    stream = 2004
    sub = procs.start_subscriber(c_client("sub", aeron_dir, stream, 10), ready_line=C_SUB_READY)
    pub = procs.start(
        aeronpy_client_command("pub", aeron_dir, IPC, stream, 100_000_000, 32, timeout=1.0), name="aeronpy-pub"
    )
    sub.assert_exit_ok(TOOL_TIMEOUT_S)
    assert pub.wait(TOOL_TIMEOUT_S) not in (0, None), pub.describe()
    assert "stuck at message" in pub.stderr, pub.describe()


# --- (b) the aeronpy media driver with C clients ---------------------------------------------------


@pytest.mark.parametrize(("count", "size", "exclusive"), [CASES[0], CASES[3]], ids=[CASE_IDS[0], CASE_IDS[3]])
def test_aeronpy_driver_c_pub_c_sub(
    c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path, count: int, size: int, exclusive: bool
) -> None:
    stream = 3001
    pub_sub_through_driver(
        procs, aeron_dir, aeronpy_driver=True, sub_argv=c_client("sub", aeron_dir, stream, count, size),
        pub_argv=c_client("pub", aeron_dir, stream, count, size, exclusive=exclusive), count=count, aeronpy_sub=False,
    )


@pytest.mark.parametrize(("count", "size", "exclusive"), [CASES[1], CASES[2]], ids=[CASE_IDS[1], CASE_IDS[2]])
def test_aeronpy_driver_c_pub_aeronpy_sub(
    c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path, count: int, size: int, exclusive: bool
) -> None:
    stream = 3002
    pub_sub_through_driver(
        procs, aeron_dir, aeronpy_driver=True, sub_argv=aeronpy_client("sub", aeron_dir, stream, count),
        pub_argv=c_client("pub", aeron_dir, stream, count, size, exclusive=exclusive), count=count, aeronpy_sub=True,
    )


@pytest.mark.parametrize(("count", "size", "exclusive"), [CASES[0], CASES[3]], ids=[CASE_IDS[0], CASE_IDS[3]])
def test_aeronpy_driver_aeronpy_pub_c_sub(
    c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path, count: int, size: int, exclusive: bool
) -> None:
    stream = 3003
    pub_sub_through_driver(
        procs, aeron_dir, aeronpy_driver=True, sub_argv=c_client("sub", aeron_dir, stream, count, size),
        pub_argv=aeronpy_client("pub", aeron_dir, stream, count, size, exclusive=exclusive), count=count, aeronpy_sub=False,
    )


# --- (c) cnc.dat, counters and error log across implementations ----------------------------------


def test_aeronpy_stat_reads_c_driver_counters(c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path) -> None:
    """``aeronpy stat`` on the C driver's cnc.dat agrees with the C counters reader."""
    driver = start_c_driver(procs, aeron_dir)
    c_view = run_tool(procs, c_counters_command(aeron_dir, stream=4001), "c-counters")
    c_counters = parse_c_counters(c_view)
    stat = run_tool(procs, aeronpy_command("stat", "--dir", str(aeron_dir)), "aeronpy-stat")
    (major, minor, _patch, pid), py_counters = parse_stat(stat.stdout)
    context = f"{stat.describe()}\n{c_view.describe()}"

    assert pid == driver.pid, f"cnc pid {pid} != C driver pid {driver.pid}\n{context}"
    assert (major, minor) == (0, 2), f"unexpected CnC version {major}.{minor}\n{context}"
    assert_system_counters({i: label for i, (_, label) in py_counters.items()}, context)

    # Every system counter (type 0) the C client saw is listed by aeronpy at the same id, same label.
    system = {i: label for i, (type_id, _, label) in c_counters.items() if type_id == SYSTEM_COUNTER_TYPE_ID}
    assert len(system) >= 30, context
    mismatched = {i: (label, label_of(py_counters, i)) for i, label in system.items() if label_of(py_counters, i) != label}
    assert not mismatched, f"C label vs aeronpy label: {mismatched}\n{context}"
    # Values that do not move on an idle IPC-only driver agree exactly.
    for counter_id in (0, 1, ERRORS_COUNTER_ID):  # Bytes sent, Bytes received, Errors
        assert py_counters[counter_id][0] == c_counters[counter_id][1] == 0, context
    procs.stop_driver(driver)


def test_aeronpy_errors_reads_c_driver_error_log(c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path) -> None:
    """A rejected command makes the C driver log an error; ``aeronpy errors``/``stat`` show it."""
    driver = start_c_driver(procs, aeron_dir)
    assert_no_driver_errors(procs, driver, aeron_dir)

    bad = procs.start(
        c_client_command("pub", aeron_dir, "aeron:ipc?term-length=1000", 4002, 1, 32, timeout=TOOL_TIMEOUT_S),
        name="c-bad-pub",
    )
    assert bad.wait(TOOL_TIMEOUT_S) == 1, bad.describe()

    errors = run_tool(procs, aeronpy_command("errors", "--dir", str(aeron_dir)), "aeronpy-errors")
    lines = errors.stdout.splitlines()
    context = f"{errors.describe()}\n{bad.describe()}\n{driver.describe()}"
    assert "1 distinct errors observed." in lines, context
    assert any(re.match(r"^1 observations from .+ to .+ for:$", line) for line in lines), context
    assert "term length less than min length of 65536: length=1000" in errors.stdout, context

    stat = run_tool(procs, aeronpy_command("stat", "--dir", str(aeron_dir)), "aeronpy-stat")
    _, counters = parse_stat(stat.stdout)
    value, label = counters[ERRORS_COUNTER_ID]
    assert label.startswith("Errors") and value == 1, stat.describe()
    procs.stop_driver(driver)


def test_c_client_reads_aeronpy_driver_cnc_and_counters(
    c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path
) -> None:
    """The C client connects to the aeronpy driver (aeron_init/aeron_start), adds a publication and
    reads the aeronpy driver's counters: system counters, its publisher limit and its heartbeat."""
    driver = start_aeronpy_driver(procs, aeron_dir)
    stream = 4003
    c_view = run_tool(procs, c_counters_command(aeron_dir, stream=stream), "c-counters")
    counters = parse_c_counters(c_view)
    client_id = c_client_id(c_view)
    context = f"{c_view.describe()}\n{driver.describe()}"
    assert_system_counters({i: label for i, (_, _, label) in counters.items()}, context)
    assert all(counters[i][0] == SYSTEM_COUNTER_TYPE_ID for i in (0, 1, ERRORS_COUNTER_ID)), context

    heartbeats = [(value, label) for type_id, value, label in counters.values() if type_id == CLIENT_HEARTBEAT_TYPE_ID]
    assert any(str(client_id) in label and value > 0 for value, label in heartbeats), context
    limits = [label for type_id, _, label in counters.values() if type_id == PUBLISHER_LIMIT_TYPE_ID]
    assert any(label.startswith("pub-lmt") and f" {stream} " in label and IPC in label for label in limits), context

    # aeronpy's own reader lists the same system counters (ids and labels) as the C reader does.
    stat = run_tool(procs, aeronpy_command("stat", "--dir", str(aeron_dir)), "aeronpy-stat")
    (_, _, _, pid), py_counters = parse_stat(stat.stdout)
    assert pid == driver.pid, f"{stat.describe()}\n{context}"
    mismatched = {
        i: (label, label_of(py_counters, i)) for i, (type_id, _, label) in counters.items()
        if type_id == SYSTEM_COUNTER_TYPE_ID and label_of(py_counters, i) != label
    }
    assert not mismatched, f"C label vs aeronpy label: {mismatched}\n{stat.describe()}\n{context}"
    assert_no_driver_errors(procs, driver, aeron_dir)
    stop_aeronpy_driver(procs, driver)


def test_aeronpy_driver_rejects_bad_c_command(c_reference: ctypes.CDLL, procs: ProcessGroup, aeron_dir: Path) -> None:
    """An invalid C add-publication gets an error response the C client understands (no hang), and
    the aeronpy driver records it in its error log and Errors counter."""
    driver = start_aeronpy_driver(procs, aeron_dir)
    bad = procs.start(
        c_client_command("pub", aeron_dir, "aeron:ipc?term-length=1000", 4004, 1, 32, timeout=TOOL_TIMEOUT_S),
        name="c-bad-pub",
    )
    assert bad.wait(TOOL_TIMEOUT_S) == 1, bad.describe()
    assert "add publication" in bad.stdout and "registration error" in bad.stdout, bad.describe()
    assert "1000" in bad.stdout, f"the driver's error message should reach the C client\n{bad.describe()}"

    errors = run_tool(procs, aeronpy_command("errors", "--dir", str(aeron_dir)), "aeronpy-errors")
    assert "1 distinct errors observed." in errors.stdout.splitlines(), f"{errors.describe()}\n{driver.describe()}"
    c_view = run_tool(procs, c_counters_command(aeron_dir), "c-counters")
    type_id, value, label = parse_c_counters(c_view)[ERRORS_COUNTER_ID]
    assert (type_id, value) == (SYSTEM_COUNTER_TYPE_ID, 1) and label.startswith("Errors"), c_view.describe()
    stop_aeronpy_driver(procs, driver)


def test_failing_tool_is_reported(procs: ProcessGroup, aeron_dir: Path) -> None:
    """Harness self-check: a failing aeronpy tool surfaces as ProcessFailure with its output."""
    with pytest.raises(ProcessFailure, match="aeronpy-stat"):
        run_tool(procs, aeronpy_command("stat", "--dir", str(aeron_dir)), "aeronpy-stat")
