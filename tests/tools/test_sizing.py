"""Receive-path sizing calculator: hand-computed examples and monotonicity properties."""

from __future__ import annotations

import argparse
import math
from typing import Any
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.tools import sizing
from aeronpy.tools.sizing import check_against_system, compute, format_report, on_wire_length

KIB = 1024


def test_on_wire_length() -> None:
    assert on_wire_length(0, 1408) == (1, 32)
    assert on_wire_length(1, 1408) == (1, 64)
    assert on_wire_length(100, 1408) == (1, 160)  # 32 + 100 = 132 -> 160
    assert on_wire_length(1376, 1408) == (1, 1408)  # exactly MTU - 32
    assert on_wire_length(1377, 1408) == (2, 1408 + 64)  # 1 byte spills: 32 + 1 -> 64
    assert on_wire_length(4000, 1408) == (3, 2 * 1408 + 1280)  # 4000 - 2*1376 = 1248 + 32


def test_hundred_byte_messages_at_one_million_per_second() -> None:
    r = compute(100, 1_000_000, rtt_s=100e-6, stall_budget_s=10e-3, mtu=1408, nic_ring_slots=1024)
    assert r.fragments_per_message.value == 1
    assert r.on_wire_bytes_per_message.value == 160
    assert r.bandwidth_bytes_per_s.value == 160_000_000  # 160 MB/s
    assert r.bdp_bytes.value == pytest.approx(16_000)  # 160 MB/s * 100 us
    assert r.receiver_window.value == 16 * KIB  # next pow2 >= 16000
    assert r.term_length.value == 64 * KIB  # 2 * 16 KiB = 32 KiB -> floor 64 KiB
    assert r.max_message_length.value == 8 * KIB
    # stall: 160 MB/s * 10 ms = 1.6 MB -> 64 KiB granules: 25 * 64 KiB = 1,638,400
    assert r.so_rcvbuf.value == 25 * 64 * KIB
    assert r.rmem_max.value == r.so_rcvbuf.value
    assert r.packets_per_s_unbatched.value == 1_000_000
    assert r.packets_per_s_batched.value == math.ceil(160_000_000 / 1408)  # 113,637
    assert r.nic_ring_survival_unbatched_s.value == pytest.approx(1024e-6)
    assert r.nic_ring_survival_batched_s.value == pytest.approx(1024 / 113_637)
    assert r.nak_unicast_retry_delay_s.value == pytest.approx(100e-6)
    assert r.nak_multicast_max_backoff_s.value == pytest.approx(10e-3)
    assert any("NIC ring" in w for w in r.warnings)  # 1 ms ring < 10 ms stall budget
    for name, fig in r.figures():
        assert fig.reason and "\n" not in fig.reason, name


def test_large_bdp_wan() -> None:
    # 1 KiB messages at 100k/s over 50 ms RTT: wire 1056 B, 105.6 MB/s, BDP 5.28 MB
    r = compute(1024, 100_000, rtt_s=0.05, stall_budget_s=0.001)
    assert r.on_wire_bytes_per_message.value == 1056
    assert r.bandwidth_bytes_per_s.value == pytest.approx(105_600_000)
    assert r.bdp_bytes.value == pytest.approx(5_280_000)
    assert r.receiver_window.value == 8 * KIB * KIB
    assert r.term_length.value == 16 * KIB * KIB
    assert r.so_rcvbuf.value == 8 * KIB * KIB  # window dominates the stall bytes
    assert r.nak_unicast_retry_delay_s.value == pytest.approx(0.05)  # retry after an RTT
    assert "ratio 50000" in r.nak_unicast_retry_delay_s.reason
    assert r.nak_multicast_max_backoff_s.value == pytest.approx(0.1)


def test_tiny_rate_window_at_least_mtu_and_term_minimum() -> None:
    r = compute(8, 10, rtt_s=1e-6, stall_budget_s=0.0, mtu=8192)
    assert r.receiver_window.value == 8192
    assert r.term_length.value == 64 * KIB
    assert r.so_rcvbuf.value == 64 * KIB
    assert "jumbo" in r.mtu_note


def test_big_message_drives_term_length_and_fragments() -> None:
    r = compute(1_000_000, 10, rtt_s=1e-4, stall_budget_s=0.0)
    assert r.fragments_per_message.value == math.ceil(1_000_000 / 1376)
    assert r.term_length.value == 8 * KIB * KIB  # 8 * 1e6 -> 8 MiB
    assert r.max_message_length.value >= 1_000_000
    assert "fragment" in r.mtu_note
    huge = compute(20 * KIB * KIB, 1, rtt_s=0.0, stall_budget_s=0.0)
    assert any("max message length" in w for w in huge.warnings)


def test_term_capped_at_one_gib() -> None:
    r = compute(1408 - 32, 10_000_000, rtt_s=0.1, stall_budget_s=0.0)
    assert r.term_length.value == 1024 * KIB * KIB
    assert r.receiver_window.value <= r.term_length.value // 2
    assert r.warnings


@pytest.mark.parametrize(
    "kwargs",
    [
        {"message_size": -1},
        {"rate_msgs_per_s": 0},
        {"rtt_s": -1.0},
        {"mtu": 1400},
        {"mtu": 32},
        {"nic_ring_slots": 0},
    ],
)
def test_invalid_inputs(kwargs: dict[str, float]) -> None:
    args: dict[str, float] = {"message_size": 100, "rate_msgs_per_s": 1000, "rtt_s": 1e-3, "stall_budget_s": 0}
    args.update(kwargs)
    with pytest.raises(ValueError):
        compute(**args)  # type: ignore[arg-type]


def test_format_report_table() -> None:
    text = format_report(compute(100, 1_000_000, 100e-6, 10e-3))
    assert "on wire bytes per message" in text
    assert "160 B" in text
    assert "160.000 MB/s" in text
    assert "16,384 B (16k)" in text
    assert "MTU:" in text and "WARNING" in text


def test_check_against_system(tmp_path: Path) -> None:
    r = compute(100, 1_000_000, 100e-6, 10e-3)
    need = int(r.rmem_max.value)
    f = tmp_path / "rmem_max"
    f.write_text(f"{need - 1}\n")
    warnings = check_against_system(r, str(f))
    assert len(warnings) == 1 and f"net.core.rmem_max={need}" in warnings[0]
    f.write_text(f"{need}\n")
    assert check_against_system(r, str(f)) == []
    assert "cannot read" in check_against_system(r, str(tmp_path / "missing"))[0]
    f.write_text("junk")
    assert "unexpected" in check_against_system(r, str(f))[0]


def test_cli_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    sizing.add_arguments(parser)
    f = tmp_path / "rmem_max"
    f.write_text(str(1 << 30))
    args = parser.parse_args(
        ["--message-size", "100", "--rate", "1000", "--rtt", "100us", "--stall", "1ms", "--rmem-max-path", str(f)]
    )
    assert sizing.run(args) == 0
    assert "receiver window" in capsys.readouterr().out
    f.write_text("1")
    assert sizing.run(args) == 1
    assert "sysctl -w" in capsys.readouterr().out
    bad = parser.parse_args(["--message-size", "x", "--rate", "1", "--rtt", "1ms"])
    assert sizing.run(bad) == 2


_sizes = st.integers(0, 2_000_000)
_rates = st.floats(1, 5e6)
_rtts = st.floats(0, 0.5)
_stalls = st.floats(0, 0.5)
_mtus = st.sampled_from([1408, 4096, 8192, 9216])


@settings(max_examples=200, deadline=None)
@given(_sizes, _rates, _rtts, _stalls, _mtus)
def test_invariants(size: int, rate: float, rtt: float, stall: float, mtu: int) -> None:
    r = compute(size, rate, rtt, stall, mtu)
    w = int(r.receiver_window.value)
    t = int(r.term_length.value)
    assert w & (w - 1) == 0 and t & (t - 1) == 0
    assert 64 * KIB <= t <= 1024 * KIB * KIB
    assert w <= t // 2
    if not r.warnings or all("NIC ring" in x for x in r.warnings):
        assert w >= r.bdp_bytes.value and w >= mtu and t >= 2 * w
        assert r.max_message_length.value >= size
    assert r.so_rcvbuf.value >= w
    assert r.so_rcvbuf.value >= r.bandwidth_bytes_per_s.value * stall - 1e-6 * r.so_rcvbuf.value
    assert r.packets_per_s_batched.value <= r.packets_per_s_unbatched.value
    assert r.on_wire_bytes_per_message.value % 32 == 0
    assert r.on_wire_bytes_per_message.value >= size + 32


@settings(max_examples=200, deadline=None)
@given(_sizes, _sizes, _rates, _rtts, _stalls, _mtus)
def test_monotonic_in_message_size(a: int, b: int, rate: float, rtt: float, stall: float, mtu: int) -> None:
    lo, hi = compute(min(a, b), rate, rtt, stall, mtu), compute(max(a, b), rate, rtt, stall, mtu)
    for name in ("on_wire_bytes_per_message", "bandwidth_bytes_per_s", "bdp_bytes", "receiver_window",
                 "term_length", "so_rcvbuf", "packets_per_s_unbatched", "packets_per_s_batched"):
        assert getattr(lo, name).value <= getattr(hi, name).value, name
    assert lo.nic_ring_survival_unbatched_s.value >= hi.nic_ring_survival_unbatched_s.value


@settings(max_examples=200, deadline=None)
@given(_sizes, _rates, _rates, _rtts, _rtts, _stalls, _stalls)
def test_monotonic_in_rate_rtt_stall(
    size: int, r1: float, r2: float, t1: float, t2: float, s1: float, s2: float
) -> None:
    lo = compute(size, min(r1, r2), min(t1, t2), min(s1, s2))
    hi = compute(size, max(r1, r2), max(t1, t2), max(s1, s2))
    for name in ("bandwidth_bytes_per_s", "bdp_bytes", "receiver_window", "term_length", "so_rcvbuf",
                 "rmem_max", "packets_per_s_batched", "packets_per_s_unbatched",
                 "nak_unicast_retry_delay_s", "nak_multicast_max_backoff_s"):
        assert getattr(lo, name).value <= getattr(hi, name).value, name
    assert lo.nic_ring_survival_batched_s.value >= hi.nic_ring_survival_batched_s.value


# --------------------------------------------------------------------------------------
# --check: against a running driver, a bare log buffer, a missing dir
# --------------------------------------------------------------------------------------


def _fake_proc(tmp_path: Path, rmem_max: int, wmem_max: int = 1 << 22, rmem_default: int = 212_992) -> Path:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "rmem_max").write_text(f"{rmem_max}\n")
    (proc / "wmem_max").write_text(f"{wmem_max}\n")
    (proc / "rmem_default").write_text(f"{rmem_default}\n")
    return proc


def _check_args(aeron_dir: str, proc: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sizing.add_arguments(parser)
    return parser.parse_args(
        ["--message-size", "100", "--rate", "1000", "--rtt", "100us", "--stall", "1ms",
         "--no-system-check", "--check", "--dir", aeron_dir, "--proc-net-core", str(proc), *extra]
    )


def _rows(aeron_dir: str, proc: Path, **kw: float) -> dict[str, sizing.CheckRow]:
    report = compute(int(kw.get("size", 100)), kw.get("rate", 1000), rtt_s=100e-6, stall_budget_s=1e-3)
    rows, _ = sizing.check_running_driver(report, aeron_dir, proc_net_core=str(proc))
    return {r.name: r for r in rows}


def test_check_against_embedded_aeronpy_driver(
    driver_factory: Any, aeron_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    driver_factory(
        threading_mode="INVOKER", term_buffer_length=128 * KIB, initial_window_length=128 * KIB,
        socket_rcvbuf=128 * KIB, mtu_length=1408,
    )
    config = Path(aeron_dir, sizing.DRIVER_CONFIG_FILE).read_text()
    assert "aeron.term.buffer.length=128k" in config.splitlines()
    proc = _fake_proc(tmp_path, rmem_max=1 << 30)
    rows = _rows(aeron_dir, proc)
    assert rows["term length"].actual == 128 * KIB and rows["term length"].status == "OK"
    assert "driver-config.properties" in rows["term length"].source
    # initial window 128k is clamped to term/2 = 64k by the driver
    assert rows["receiver window"].actual == 64 * KIB and "clamp" in rows["receiver window"].source
    assert rows["mtu"].actual == 1408 and rows["mtu"].status == "OK"
    assert rows["so_rcvbuf (driver)"].actual == 128 * KIB and rows["so_rcvbuf (driver)"].status == "OK"
    assert rows["net.core.rmem_max"].actual == 1 << 30 and rows["net.core.rmem_max"].status == "OK"
    probe = rows["SO_RCVBUF (probe)"]
    assert probe.actual is not None and probe.actual > 0 and "probe socket" in probe.source

    # a high rate needs a bigger SO_RCVBUF than the driver's 128k and a tiny rmem_max fails
    (tmp_path / "small").mkdir()
    small = _fake_proc(tmp_path / "small", rmem_max=4096)
    fast = _rows(aeron_dir, small, rate=1_000_000)
    assert fast["so_rcvbuf (driver)"].status == "TOO SMALL"
    assert fast["net.core.rmem_max"].status == "TOO SMALL"
    assert "silently reduced" in fast["net.core.rmem_max"].reason

    assert sizing.run(_check_args(aeron_dir, proc)) == 0
    out = capsys.readouterr().out
    assert "recommended" in out and "actual" in out and "OK" in out and "cnc.dat: driver pid" in out
    assert sizing.run(_check_args(aeron_dir, small, "--rate", "1000000")) == 1
    assert "TOO SMALL" in capsys.readouterr().out


def test_check_falls_back_to_logbuffer_metadata(tmp_path: Path) -> None:
    from aeronpy.logbuffer import descriptor
    from aeronpy.logbuffer.log_buffers import LogBuffers

    aeron_dir = tmp_path / "c-driver"
    (aeron_dir / "images").mkdir(parents=True)
    logs = LogBuffers.create(str(aeron_dir / "images" / "7.logbuffer"), 64 * KIB)
    try:
        descriptor.write_log_metadata(
            logs.metadata, correlation_id=7, initial_term_id=0, mtu_length=1376, term_length=64 * KIB,
            page_size=4096, session_id=1, stream_id=1, receiver_window_length=32 * KIB,
            socket_rcvbuf_length=2 * 1024 * KIB,
        )
    finally:
        logs.close()
    proc = _fake_proc(tmp_path, rmem_max=1 << 30)
    rows = _rows(str(aeron_dir), proc)
    for name, value in (("term length", 64 * KIB), ("receiver window", 32 * KIB), ("mtu", 1376),
                        ("so_rcvbuf (driver)", 2 * 1024 * KIB)):
        assert rows[name].actual == value, name
        assert rows[name].source == "log-buffer metadata of images/7.logbuffer", name
    assert rows["mtu"].status == "TOO SMALL"  # 1376 < the 1408 the figures assume
    assert rows["term length"].status == "OK"
    _, notes = sizing.read_driver_settings(str(aeron_dir))
    assert any("no cnc.dat" in n for n in notes)
    assert any("no driver-config.properties" in n for n in notes)


def test_check_missing_dir_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(sizing.CheckError, match="does not exist"):
        sizing.read_driver_settings(missing)
    assert sizing.run(_check_args(missing, tmp_path)) == 2
    out = capsys.readouterr().out
    assert "sizing --check:" in out and missing in out and "does not exist" in out


def test_check_empty_dir_reports_unknown(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path, rmem_max=1 << 30)
    empty = tmp_path / "empty"
    empty.mkdir()
    rows = _rows(str(empty), proc)
    assert rows["term length"].status == "UNKNOWN" and rows["term length"].actual is None
    assert rows["net.core.rmem_max"].status == "OK"
