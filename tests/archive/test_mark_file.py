"""archive-mark.dat: header layout, ready signal, active detection, link file, error log."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from aeronpy.archive.errors import MarkFileError
from aeronpy.archive.mark_file import LINK_FILE_NAME, MARK_FILE_NAME, ArchiveMarkFile, mark_file_dir, read_mark_file
from aeronpy.concurrent.error_log import read_error_log


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


def _open(archive: Path, mark: Path, clock: Clock) -> ArchiveMarkFile:
    return ArchiveMarkFile(str(archive), str(mark), 1024 * 1024, clock, "aeron:udp?endpoint=localhost:8010", 10,
                           "aeron:ipc?term-length=64k", 10, "", 30, "/dev/shm/x", 42)


def test_layout_and_lifecycle(tmp_path: Path) -> None:
    clock = Clock()
    mf = _open(tmp_path, tmp_path, clock)
    path = tmp_path / MARK_FILE_NAME
    assert path.stat().st_size == 1_056_768
    raw = path.read_bytes()[:200]
    assert struct.unpack_from("<HHHH", raw, 0) == (128, 200, 100, 2)
    assert struct.unpack_from("<i", raw, 8)[0] == 0  # not ready yet
    mf.signal_ready()
    d = read_mark_file(str(path))
    assert d.get_int("version") == 0x00030100
    assert d.get_int("activity_timestamp") == clock.now and d.get_int("pid") == os.getpid()
    assert (d.get_int("header_length"), d.get_int("error_buffer_length"), d.get_int("archive_id")) == (8192, 1 << 20, 42)
    assert d.get_str("control_channel") == "aeron:udp?endpoint=localhost:8010"
    assert d.get_str("aeron_directory") == "/dev/shm/x"
    assert struct.unpack_from("<i", path.read_bytes(), 52)[0] == 8192
    with pytest.raises(MarkFileError, match="active Mark file detected"):
        _open(tmp_path, tmp_path, clock)
    mf.error_log.record_text(0, "boom")
    mf.close()
    assert read_mark_file(str(path)).get_int("activity_timestamp") == -1
    mf2 = _open(tmp_path, tmp_path, clock)  # a cleanly closed file can be reused at once
    mf2.close()


def test_stale_mark_file_is_taken_over(tmp_path: Path) -> None:
    clock = Clock()
    mf = _open(tmp_path, tmp_path, clock)
    mf.signal_ready()
    mf._mm.flush()
    # simulate a crash: leave the file as is, time moves past the 10 s window
    clock.now += 10_001
    mf2 = _open(tmp_path, tmp_path, clock)
    mf2.close()
    mf._buffer.release()
    mf._errors_buffer.release()
    mf._mm.close()


def test_link_file_when_mark_dir_differs(tmp_path: Path) -> None:
    archive, mark = tmp_path / "a", tmp_path / "m"
    archive.mkdir()
    mf = _open(archive, mark, Clock())
    assert (archive / LINK_FILE_NAME).exists()
    assert mark_file_dir(str(archive)) == os.path.realpath(mark)
    mf.close()
    _open(archive, archive, Clock()).close()
    assert not (archive / LINK_FILE_NAME).exists()


def test_error_log_readable(tmp_path: Path) -> None:
    clock = Clock()
    with _open(tmp_path, tmp_path, clock) as mf:
        mf.error_log.record_text(0, "disk on fire")
        seen: list[str] = []
        read_error_log(mf._errors_buffer, lambda count, first, last, text: seen.append(text))
        assert any("disk on fire" in s for s in seen)


def test_not_a_mark_file(tmp_path: Path) -> None:
    p = tmp_path / "x"
    p.write_bytes(b"\x00" * 16)
    with pytest.raises(MarkFileError):
        read_mark_file(str(p))
