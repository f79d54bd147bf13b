"""``aeronpy loss`` and its formatter (LossStat output)."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from aeronpy import cli
from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.driver.loss_report import LossReport
from aeronpy.tools.cnc_access import ToolError
from aeronpy.tools.loss import LOSS_REPORT_CSV_HEADER, format_loss_report, format_loss_report_file, format_timestamp

UTC = datetime.timezone.utc
TS1 = 1_700_000_000_123  # 2023-11-14 22:13:20.123 UTC
TS2 = 1_700_000_061_005


def _write_report(raw: bytearray) -> None:
    buffer = AtomicBuffer(raw)
    try:
        report = LossReport(buffer)
        e = report.create_entry(1408, TS1, -12345, 1001, "aeron:udp?endpoint=localhost:20121", "127.0.0.1:47001")
        report.record_observation(e, 2816, TS2)
        report.create_entry(64, TS2, 7, 9, "aeron:udp?endpoint=224.0.1.1:40456", "10.0.0.2:5000")
    finally:
        buffer.release()


def test_format_timestamp_java_pattern() -> None:
    assert format_timestamp(TS1, UTC) == "2023-11-14 22:13:20.123+0000"
    plus2 = datetime.timezone(datetime.timedelta(hours=2))
    assert format_timestamp(5, plus2) == "1970-01-01 02:00:00.005+0200"
    assert format_timestamp(-1, UTC) == "1969-12-31 23:59:59.999+0000"
    assert format_timestamp(2**62, UTC) == str(2**62)  # out of calendar range


def test_format_loss_report() -> None:
    raw = bytearray(64 * 1024)
    _write_report(raw)
    lines = format_loss_report(AtomicBuffer(raw), UTC)
    assert lines == [
        "#OBSERVATION_COUNT,TOTAL_BYTES_LOST,FIRST_OBSERVATION,LAST_OBSERVATION,SESSION_ID,STREAM_ID,CHANNEL,SOURCE",
        "2,4224,2023-11-14 22:13:20.123+0000,2023-11-14 22:14:21.005+0000,-12345,1001,"
        "aeron:udp?endpoint=localhost:20121,127.0.0.1:47001",
        "1,64,2023-11-14 22:14:21.005+0000,2023-11-14 22:14:21.005+0000,7,9,"
        "aeron:udp?endpoint=224.0.1.1:40456,10.0.0.2:5000",
        "2 loss entries",
    ]


def test_format_empty_report() -> None:
    assert format_loss_report(AtomicBuffer(bytearray(4096))) == [LOSS_REPORT_CSV_HEADER, "0 loss entries"]


def test_cli_loss_prints_report(tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]) -> None:
    raw = bytearray(1024 * 1024)
    _write_report(raw)
    path = os.path.join(str(tmp_path), "loss-report.dat")
    with open(path, "wb") as f:
        f.write(raw)
    before = open(path, "rb").read()
    assert cli.main(["loss", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == LOSS_REPORT_CSV_HEADER
    assert len(out) == 4 and out[-1] == "2 loss entries"
    assert out[1].startswith("2,4224,")
    assert out[1].endswith(",-12345,1001,aeron:udp?endpoint=localhost:20121,127.0.0.1:47001")
    assert open(path, "rb").read() == before  # mapped copy-on-write, never modified


def test_cli_loss_empty_file(tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]) -> None:
    open(os.path.join(str(tmp_path), "loss-report.dat"), "wb").close()
    assert cli.main(["loss", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [LOSS_REPORT_CSV_HEADER, "0 loss entries"]


def test_cli_loss_missing_file(tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["loss", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "loss report does not exist" in err
    assert os.path.join(str(tmp_path), "loss-report.dat") in err


def test_a_file_that_is_not_a_loss_report(tmp_path: Path) -> None:
    (tmp_path / "loss-report.dat").write_text("hi\n")
    with pytest.raises(ToolError, match="not an Aeron loss report"):
        format_loss_report_file(str(tmp_path))
    assert cli.main(["loss", "--dir", str(tmp_path)]) == 1
