"""Receive-path sizing calculator (seed 004): the seed's worked example and figures as fixtures."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.tools import sizing
from aeronpy.tools.sizing import (
    SizingInputs, SizingReport, check_against_system, compute, format_report, inputs_from_strings,
    on_wire_length, ring_stall_survival_s,
)

KIB = 1024
MIB = KIB * KIB
TEN_GBPS = 1.25e9  # bytes per second


def _inputs(**kw: object) -> SizingInputs:
    base: dict[str, object] = dict(message_size=100, rate=1_000_000.0, rtt_s=100e-6, stall_s=10e-3)
    base.update(kw)
    return SizingInputs(**base)  # type: ignore[arg-type]


def _worked_example(**kw: object) -> SizingReport:
    """10 Gbit/s over a 100 us RTT: 992 B messages are 1 KiB on the wire, λ = 1.25e9 B/s exactly."""
    return compute(_inputs(message_size=992, rate=TEN_GBPS / 1024, rtt_s=100e-6, stall_s=100e-6, **kw))


def _constraint(report: SizingReport, name: str, config: str) -> sizing.Constraint:
    return next(c for c in report.constraints if c.name == name and c.config == config)


def test_on_wire_length() -> None:
    assert on_wire_length(0, 1408) == (1, 32)
    assert on_wire_length(100, 1408) == (1, 160)  # 32 + 100 = 132 -> 160
    assert on_wire_length(1376, 1408) == (1, 1408)  # exactly MTU - 32
    assert on_wire_length(1377, 1408) == (2, 1408 + 64)
    assert on_wire_length(4000, 1408) == (3, 2 * 1408 + 1280)


def test_seed_textbook_bdp_is_the_128k_default() -> None:
    # "10 Gbps × 100 µs LAN RTT = 125,000 bytes, rounded to 128KB"
    r = _worked_example()
    assert r["bandwidth"].min == pytest.approx(TEN_GBPS)
    assert r["bdp"].min == pytest.approx(125_000)
    assert sizing.next_power_of_two(125_000) == sizing.DEFAULT_WINDOW == 128 * KIB


def test_seed_worked_example_256k_window() -> None:
    # the seed's worked example: a 256KB window (2 × the same-AZ default) at 10 Gbps
    r = _worked_example()
    window = r["initial_window"]
    assert window.min == 256 * KIB  # 2 × BDP = 250,000 -> 256 KiB
    assert window.recommended == 512 * KIB  # 4 × BDP = 500,000 -> 512 KiB
    assert r["term_buffer"].min == 512 * KIB  # Constraint A: term >= 2 × window
    assert r["term_buffer"].recommended == 1 * MIB
    assert "Constraint A" in r["term_buffer"].why
    assert r["so_rcvbuf"].min == 256 * KIB  # Constraint C: >= window
    assert r["so_rcvbuf"].recommended == 2 * r["initial_window"].recommended  # 2 × for stall headroom
    assert r["rmem_max"].min == r["so_rcvbuf"].min and r["rmem_max"].recommended == r["so_rcvbuf"].recommended
    assert r["rmem_max"].decides == "kernel" and "silently" in r["rmem_max"].why
    for config in ("min", "recommended"):
        for name in "ABC":
            assert _constraint(r, name, config).ok, (name, config)
    back_door = _constraint(r, "rmem_max", "recommended")
    assert "silently caps" in back_door.text and "only warns" in back_door.text


def test_seed_constraint_a_figure() -> None:
    # "a 16MB term caps the window at 8MB regardless of what you set"
    assert sizing.effective_receiver_window(32 * MIB, 16 * MIB) == 8 * MIB
    assert sizing.effective_receiver_window(128 * KIB, 16 * MIB) == 128 * KIB


def test_seed_ring_figures() -> None:
    # "At 10 Gbps of ~1500-byte frames (~820k pps), the 1024-entry default survives only ≈ 1.2 ms
    # of stall; 8192 entries buy ≈ 10 ms"
    assert ring_stall_survival_s(1024, 820_000) == pytest.approx(1.2e-3, rel=0.05)
    assert ring_stall_survival_s(8192, 820_000) == pytest.approx(10e-3, rel=0.05)
    assert ring_stall_survival_s(1024, 0) == math.inf
    # the same through the calculator: 1376 B messages fill a 1408 B frame; 820k msg/s
    r = compute(_inputs(message_size=1376, rate=820_000, ring_entries=1024, ring_max=8192, stall_s=1e-3))
    assert r["pps"].recommended == 820_000 and r["pps"].min == 820_000
    assert r["ring_stall_survival"].min == pytest.approx(1.2e-3, rel=0.05)
    assert r["ring_stall_survival"].recommended == pytest.approx(10e-3, rel=0.05)
    assert not any("ring" in w for w in r.warnings)  # 10 ms at max covers a 1 ms stall
    stalled = compute(_inputs(message_size=1376, rate=820_000, stall_s=5e-3))
    assert any("set the RX ring to its max (8192)" in w for w in stalled.warnings)
    hopeless = compute(_inputs(message_size=1376, rate=820_000, stall_s=50e-3))
    assert any("even a 8192-entry ring" in w for w in hopeless.warnings)


def test_issue_example_follows_the_seed() -> None:
    # 100 B at 1M msg/s, RTT 100us, stall 10ms: BDP 16,000 B -> window floored at 128 KiB;
    # term >= 2 × λ × stall = 3.2 MB -> 4 MiB
    r = compute(_inputs())
    assert r["on_wire_bytes"].min == 160
    assert r["bandwidth"].min == pytest.approx(160e6)
    assert r["bdp"].min == pytest.approx(16_000)
    assert r["initial_window"].min == r["initial_window"].recommended == 128 * KIB
    assert "128 KiB floor" in r["initial_window"].why  # the seed's floor decides, not the driver
    assert r["term_buffer"].min == r["term_buffer"].recommended == 4 * MIB
    assert "stall" in r["term_buffer"].why
    assert r["so_rcvbuf"].min == 128 * KIB and r["so_rcvbuf"].recommended == 256 * KIB
    # 160 B frames: 8 per 1408 B datagram batched, one datagram per message unbatched
    assert r["pps"].min == 125_000 and r["pps"].recommended == 1_000_000
    assert r["rx_queue_pps"].min == 1_000_000 and "ONE queue" in r["rx_queue_pps"].rule
    assert r["nak_multicast_max_backoff"].min == pytest.approx(200e-6)
    assert r["retransmit_linger"].min == pytest.approx(3 * (200e-6 + 100e-6))
    assert r["nak_group_size"].min == 1
    assert r["mtu"].min == 1408 and r["mtu"].recommended == 8192  # 1.28 Gbit/s is high bandwidth


def test_window_floor_is_the_mtu_when_it_is_larger() -> None:
    assert compute(_inputs(rate=10))["initial_window"].min == 128 * KIB
    big_mtu = compute(_inputs(rate=10, message_size=100, mtu=65472))
    assert big_mtu["initial_window"].min >= 65472
    assert _constraint(big_mtu, "B", "min").ok


def test_nak_timers_follow_receiver_count() -> None:
    small = compute(_inputs(receivers=3, rtt_s=1e-3))
    assert small["nak_group_size"].recommended == 3
    assert small["nak_multicast_max_backoff"].recommended == pytest.approx(2e-3)
    assert small["retransmit_linger"].recommended == pytest.approx(3 * (2e-3 + 1e-3))
    large = compute(_inputs(receivers=50, rtt_s=1e-3))
    assert large["nak_multicast_max_backoff"].recommended == pytest.approx(10e-3)  # fan-out >= 10 keeps it
    assert large["nak_multicast_max_backoff"].min == pytest.approx(2e-3)


def test_mtu_recommendation() -> None:
    assert compute(_inputs(rate=1000))["mtu"].recommended == 1408  # low bandwidth, fits
    assert compute(_inputs(rate=10, message_size=4000))["mtu"].recommended == 8192  # does not fit 1408


def test_l3_fit_by_family_and_override() -> None:
    r = compute(inputs_from_strings({"message_size": "100", "rate": "1000", "rtt": "100us", "stall": "1ms",
                                     "instance_family": "c7g.4xlarge"}))
    assert r.inputs.instance_family == "c7g" and r.inputs.l3_bytes == 32 * MIB
    assert "fits" in r["l3_working_set"].note and "NOT" not in r["l3_working_set"].note
    big = compute(_inputs(l3_bytes=1 * MIB))  # 4 MiB term + SO_RCVBUF
    assert "does NOT fit" in big["l3_working_set"].note
    assert any("L3" in w for w in big.warnings)
    assert "unknown" in compute(_inputs())["l3_working_set"].note


def test_driver_limits_decide_over_the_seed() -> None:
    # 2 × λ × stall far above 1 GiB: the driver's term maximum decides, the window is capped by A
    r = compute(_inputs(message_size=1376, rate=10_000_000, rtt_s=0.1, stall_s=1.0))
    assert r["term_buffer"].recommended == sizing.TERM_MAX_LENGTH
    assert r["term_buffer"].decides == "driver" and "1 GiB" in r["term_buffer"].why
    assert r["initial_window"].recommended <= sizing.TERM_MAX_LENGTH // 2
    assert r["initial_window"].decides == "driver"
    assert any("Constraint A caps it" in w for w in r.warnings)
    # a huge message: the driver's max message length (term/8) sets the term
    m = compute(_inputs(message_size=8 * MIB, rate=1, rtt_s=0, stall_s=0))
    assert m["term_buffer"].min == 64 * MIB and m["term_buffer"].decides == "driver"
    assert "term/8" in m["term_buffer"].why


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"message_size": -1}, "message size"),
        ({"rate": 0.0}, "rate"),
        ({"rate": math.nan}, "rate"),
        ({"rtt_s": -1.0}, "rtt"),
        ({"stall_s": -1.0}, "stall"),
        ({"mtu": 1400}, "mtu"),
        ({"receivers": 0}, "receivers"),
        ({"ring_entries": 0}, "ring"),
        ({"ring_entries": 4096, "ring_max": 1024}, "ring max"),
        ({"l3_bytes": 0}, "l3"),
    ],
)
def test_invalid_inputs(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compute(_inputs(**kwargs))


@pytest.mark.parametrize(
    "field, value, match",
    [("message_size", "x", "message-size"), ("rate", "fast", "rate"), ("rtt", "1 fortnight", "rtt"),
     ("instance_family", "zz9", "unknown instance family"), ("receivers", "two", "receivers"),
     ("rate", "", "rate is required")],
)
def test_inputs_from_strings_names_the_bad_field(field: str, value: str, match: str) -> None:
    values = {"message_size": "100", "rate": "1000", "rtt": "100us"} | {field: value}
    with pytest.raises(ValueError, match=match):
        inputs_from_strings(values)


def test_format_report_and_json() -> None:
    r = _worked_example()
    text = format_report(r)
    assert "Initial window" in text and "262,144 B (256k)" in text and "524,288 B (512k)" in text
    assert "constraints:" in text and "decides: seed" in text and "decides: kernel" in text
    data = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    keys = [q["key"] for q in data["quantities"]]
    assert keys == ["on_wire_bytes", "bandwidth", "bdp", "initial_window", "term_buffer", "so_rcvbuf",
                    "rmem_max", "pps", "ring_stall_survival", "rx_queue_pps", "nak_multicast_max_backoff",
                    "retransmit_linger", "nak_group_size", "mtu", "l3_working_set"]
    assert data["quantities"][3]["min_text"] == "262,144 B (256k)"
    inf = compute(_inputs(rate=1e-3, message_size=0))
    json.dumps(inf.to_dict(), allow_nan=False)


def test_check_against_system(tmp_path: Path) -> None:
    r = compute(_inputs())
    need = int(r["rmem_max"].recommended)
    f = tmp_path / "rmem_max"
    f.write_text(f"{need - 1}\n")
    warnings = check_against_system(r, str(f))
    assert len(warnings) == 1 and f"net.core.rmem_max={need}" in warnings[0] and "back door" in warnings[0]
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
    assert "Initial window" in capsys.readouterr().out
    f.write_text("1")
    assert sizing.run(args) == 1
    assert "sysctl -w" in capsys.readouterr().out
    js = parser.parse_args(["--message-size", "100", "--rate", "1000", "--rtt", "1ms", "--json", "--no-system-check"])
    assert sizing.run(js) == 0
    assert json.loads(capsys.readouterr().out)["quantities"][0]["min"] == 160
    bad = parser.parse_args(["--message-size", "x", "--rate", "1", "--rtt", "1ms"])
    assert sizing.run(bad) == 2
    assert "message-size" in capsys.readouterr().out


_sizes = st.integers(0, 2_000_000)
_rates = st.floats(1, 5e6)
_rtts = st.floats(0, 0.5)
_stalls = st.floats(0, 0.5)
_mtus = st.sampled_from([1408, 4096, 8192, 9216])


@settings(max_examples=150, deadline=None)
@given(_sizes, _rates, _rtts, _stalls, _mtus)
def test_invariants(size: int, rate: float, rtt: float, stall: float, mtu: int) -> None:
    r = compute(SizingInputs(size, rate, rtt, stall, mtu=mtu))
    for config in ("min", "recommended"):
        w = int(getattr(r["initial_window"], config))
        t = int(getattr(r["term_buffer"], config))
        assert w & (w - 1) == 0 and t & (t - 1) == 0
        assert 64 * KIB <= t <= 1024 * MIB
        assert w >= max(128 * KIB, mtu) or t == 1024 * MIB
        assert w <= t // 2  # Constraint A always holds
        assert getattr(r["so_rcvbuf"], config) >= w  # Constraint C always holds
        if t < 1024 * MIB:
            assert t >= 2 * r["bandwidth"].min * stall - 1
    assert r["initial_window"].min <= r["initial_window"].recommended
    assert r["term_buffer"].min <= r["term_buffer"].recommended
    assert r["pps"].min <= r["pps"].recommended
    assert r["ring_stall_survival"].min <= r["ring_stall_survival"].recommended
    assert all(c.ok for c in r.constraints)


@settings(max_examples=150, deadline=None)
@given(_sizes, _rates, _rates, _rtts, _rtts, _stalls, _stalls)
def test_monotonic_in_rate_rtt_stall(
    size: int, r1: float, r2: float, t1: float, t2: float, s1: float, s2: float
) -> None:
    lo = compute(SizingInputs(size, min(r1, r2), min(t1, t2), min(s1, s2)))
    hi = compute(SizingInputs(size, max(r1, r2), max(t1, t2), max(s1, s2)))
    for key in ("bandwidth", "bdp", "initial_window", "term_buffer", "so_rcvbuf", "rmem_max", "pps",
                "nak_multicast_max_backoff", "retransmit_linger"):
        assert lo[key].min <= hi[key].min and lo[key].recommended <= hi[key].recommended, key
    assert lo["ring_stall_survival"].min >= hi["ring_stall_survival"].min
