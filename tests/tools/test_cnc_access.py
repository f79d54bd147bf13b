"""Every tool given a missing dir, a stale or foreign cnc.dat or a non-Aeron file: a clear
error, a non-zero exit, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aeronpy import cli
from aeronpy.cnc import RING_BUFFER_CONSUMER_HEARTBEAT_OFFSET, RING_BUFFER_TRAILER_LENGTH, CncFile
from aeronpy.concurrent.clock import epoch_ms
from aeronpy.tools.cnc_access import ToolError, open_cnc

DIR_TOOLS = [["stat"], ["stat", "--watch", "--count", "1"], ["backlog"], ["streams"]]


def make_cnc(directory: Path, heartbeat_ms: int) -> Path:
    """A valid, initialised cnc.dat whose driver heartbeat is ``heartbeat_ms`` (no driver behind it)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "cnc.dat"
    cnc = CncFile.create(str(path), counters_values_buffer_length=64 * 1024, error_log_buffer_length=64 * 1024,
                         to_driver_buffer_length=64 * 1024 + RING_BUFFER_TRAILER_LENGTH)
    try:
        cnc.to_driver_buffer.put_int64(
            cnc.to_driver_buffer_length - RING_BUFFER_TRAILER_LENGTH + RING_BUFFER_CONSUMER_HEARTBEAT_OFFSET,
            heartbeat_ms)
        cnc.signal_ready()
    finally:
        cnc.close()
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    rc = cli.main(list(argv))
    captured = capsys.readouterr()
    return rc, captured.err + captured.out


@pytest.mark.parametrize("tool", DIR_TOOLS, ids=lambda t: " ".join(t))
def test_missing_dir(tool: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, text = _run(capsys, *tool, "--dir", str(tmp_path / "nope"))
    assert rc == 1 and "does not exist" in text and str(tmp_path / "nope") in text


@pytest.mark.parametrize("tool", DIR_TOOLS, ids=lambda t: " ".join(t))
def test_dir_without_cnc(tool: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, text = _run(capsys, *tool, "--dir", str(tmp_path))
    assert rc == 1 and "no cnc.dat" in text


@pytest.mark.parametrize("tool", DIR_TOOLS, ids=lambda t: " ".join(t))
def test_stale_cnc(tool: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_cnc(tmp_path, epoch_ms() - 60_000)
    rc, text = _run(capsys, *tool, "--dir", str(tmp_path))
    assert rc == 1 and "driver not running" in text and "stale" in text and "ago" in text


@pytest.mark.parametrize("tool", DIR_TOOLS, ids=lambda t: " ".join(t))
def test_foreign_cnc(tool: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cnc.dat").write_bytes(b"this is not an Aeron CnC file, just text\n" * 100)
    rc, text = _run(capsys, *tool, "--dir", str(tmp_path))
    assert rc == 1 and "not a usable Aeron CnC file" in text


def test_dir_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    rc, text = _run(capsys, "backlog", "--dir", str(f))
    assert rc == 1 and "not a directory" in text


def test_stale_allowed_for_post_mortem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_cnc(tmp_path, epoch_ms() - 60_000)
    rc, text = _run(capsys, "stat", "--dir", str(tmp_path), "--allow-stale")
    assert rc == 0 and "Aeron Stat" in text
    with pytest.raises(ToolError, match="never started"):
        make_cnc(tmp_path / "zero", 0)
        open_cnc(str(tmp_path / "zero"))
    live = make_cnc(tmp_path / "live", epoch_ms())  # a fresh heartbeat counts as running
    open_cnc(str(live.parent)).close()


@pytest.mark.parametrize("content", [b"", b"hello\n", os.urandom(4096 * 3 + 64 * 1024 * 3 + 8)])
def test_log_inspector_non_aeron_file(content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "x.logbuffer"
    f.write_bytes(content)
    rc, text = _run(capsys, "log-inspector", str(f))
    assert rc == 1 and "not an Aeron log buffer" in text


def test_log_inspector_missing_and_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, text = _run(capsys, "log-inspector", str(tmp_path / "missing.logbuffer"))
    assert rc == 1 and "does not exist" in text
    rc, text = _run(capsys, "log-inspector", str(tmp_path))
    assert rc == 1 and "is a directory" in text


def test_no_traceback_from_the_real_command(tmp_path: Path) -> None:
    (tmp_path / "cnc.dat").write_bytes(b"\x01" * 8192)
    for argv in (["backlog", "--dir", str(tmp_path)], ["stat", "--dir", str(tmp_path / "gone")],
                 ["log-inspector", str(tmp_path / "cnc.dat")], ["stat", "--serve", "nonsense", "--dir", str(tmp_path)]):
        r = subprocess.run([sys.executable, "-m", "aeronpy", *argv], capture_output=True, text=True, timeout=60)
        assert r.returncode != 0, argv
        assert "Traceback" not in r.stderr and r.stderr.startswith("aeronpy "), (argv, r.stderr)
