"""Receive-path sizing calculator: hand-computed examples and monotonicity properties."""

from __future__ import annotations

import argparse
import math
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
