"""``aeronpy sizing --check``: against a running driver, a bare log buffer, a missing dir."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from aeronpy.tools import sizing, sizing_check
from aeronpy.tools.sizing import SizingInputs, compute

KIB = 1024


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


def _rows(aeron_dir: str, proc: Path, **kw: float) -> dict[str, sizing_check.CheckRow]:
    report = compute(SizingInputs(int(kw.get("size", 100)), kw.get("rate", 1000), rtt_s=100e-6, stall_s=1e-3))
    rows, _ = sizing_check.check_running_driver(report, aeron_dir, proc_net_core=str(proc))
    return {r.name: r for r in rows}


def test_check_against_embedded_aeronpy_driver(
    driver_factory: Any, aeron_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    driver_factory(
        threading_mode="INVOKER", term_buffer_length=512 * KIB, initial_window_length=128 * KIB,
        socket_rcvbuf=256 * KIB, mtu_length=1408,
    )
    config = Path(aeron_dir, sizing_check.DRIVER_CONFIG_FILE).read_text()
    assert "aeron.term.buffer.length=512k" in config.splitlines()
    proc = _fake_proc(tmp_path, rmem_max=1 << 30)
    rows = _rows(aeron_dir, proc)
    assert rows["term length"].actual == 512 * KIB and rows["term length"].status == "OK"
    assert "driver-config.properties" in rows["term length"].source
    assert rows["receiver window"].actual == 128 * KIB and rows["receiver window"].status == "OK"
    assert rows["mtu"].actual == 1408 and rows["mtu"].status == "OK"
    assert rows["so_rcvbuf (driver)"].actual == 256 * KIB and rows["so_rcvbuf (driver)"].status == "OK"
    assert rows["net.core.rmem_max"].actual == 1 << 30 and rows["net.core.rmem_max"].status == "OK"
    probe = rows["SO_RCVBUF (probe)"]
    assert probe.actual is not None and probe.actual > 0 and "probe socket" in probe.source

    # 10M msg/s (BDP 160,000 B) needs a 512k..1m window and SO_RCVBUF above the driver's 256k;
    # a tiny rmem_max fails
    (tmp_path / "small").mkdir()
    small = _fake_proc(tmp_path / "small", rmem_max=4096)
    fast = _rows(aeron_dir, small, rate=10_000_000)
    assert fast["so_rcvbuf (driver)"].status == "TOO SMALL"
    assert fast["receiver window"].status == "TOO SMALL" and fast["receiver window"].minimum == 512 * KIB
    assert fast["net.core.rmem_max"].status == "TOO SMALL"
    assert "silently reduced" in fast["net.core.rmem_max"].reason

    assert sizing.run(_check_args(aeron_dir, proc)) == 0
    out = capsys.readouterr().out
    assert "recommended" in out and "actual" in out and "OK" in out and "cnc.dat: driver pid" in out
    assert sizing.run(_check_args(aeron_dir, small, "--rate", "10000000")) == 1
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
    assert rows["term length"].status == "TOO SMALL"  # 64k < 2 × the 128k window floor
    assert rows["so_rcvbuf (driver)"].status == "OK"
    _, notes = sizing_check.read_driver_settings(str(aeron_dir))
    assert any("no cnc.dat" in n for n in notes)
    assert any("no driver-config.properties" in n for n in notes)


def test_check_missing_dir_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(sizing_check.CheckError, match="does not exist"):
        sizing_check.read_driver_settings(missing)
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


def test_check_window_clamped_to_half_the_term(tmp_path: Path) -> None:
    aeron_dir = tmp_path / "d"
    aeron_dir.mkdir()
    (aeron_dir / sizing_check.DRIVER_CONFIG_FILE).write_text(
        "aeron.term.buffer.length=128k\naeron.rcv.initial.window.length=128k\naeron.socket.so_rcvbuf=128k\n"
    )
    rows = _rows(str(aeron_dir), _fake_proc(tmp_path, rmem_max=1 << 30))
    # the driver clamps the 128k window to term/2 = 64k: below the 128k minimum
    assert rows["receiver window"].actual == 64 * KIB and "clamp" in rows["receiver window"].source
    assert rows["receiver window"].status == "TOO SMALL"
    assert rows["term length"].status == "TOO SMALL"  # < 2 × 128k
    # SO_RCVBUF 128k meets the minimum (= window) but not the 2 × window recommendation
    assert rows["so_rcvbuf (driver)"].status == "BELOW RECOMMENDED"
