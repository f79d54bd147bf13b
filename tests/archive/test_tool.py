"""archive-tool on archive directories built by hand: describe/describe-all, count-entries,
verify (OK, detects and marks corrupt entries, re-validates), mark-valid/invalid, pid, errors."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import pytest

from aeronpy.archive.catalog import Catalog
from aeronpy.archive.codecs import RecordingState
from aeronpy.archive.errors import CatalogError
from aeronpy.archive.mark_file import ArchiveMarkFile
from aeronpy.archive.tool import run

TERM = 64 * 1024


def _frames(count: int, term_id: int = 5, stream: int = 1001) -> bytes:
    out = b""
    for i in range(count):
        out += struct.pack("<iBBhiiiiq", 96, 0, 0xC0, 1, i * 96, 1, stream, term_id, 0) + bytes(64)
    return out


def _archive(tmp: Path, count: int = 10) -> Path:
    with Catalog(str(tmp)) as cat:
        cat.add_recording(0, 1000, 5, TERM, TERM, 1408, 1, 1001, "aeron:ipc", "aeron:ipc", "aeron:ipc",
                          stop_position=count * 96, stop_timestamp=2000)
        cat.add_recording(0, 1000, 5, TERM, TERM, 1408, 1, 1001, "aeron:ipc", "aeron:ipc", "aeron:ipc",
                          stop_position=0, stop_timestamp=2000)
        cat.change_state(1, RecordingState.DELETED)
    data = bytearray(TERM)
    data[: count * 96] = _frames(count)
    (tmp / "0-0.rec").write_bytes(bytes(data))
    mf = ArchiveMarkFile(str(tmp), str(tmp), 1 << 20, lambda: 1_700_000_000_000, "", 10, "aeron:ipc", 10, "", 30,
                         "/dev/shm/x", 9)
    mf.error_log.record_text(0, "something went wrong")
    mf.close()
    return tmp


def _run(tmp: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = run(str(tmp), args[0], list(args[1:]), out)
    return code, out.getvalue()


def test_describe_count_pid_errors(tmp_path: Path) -> None:
    _archive(tmp_path)
    code, out = _run(tmp_path, "describe")
    assert code == 0 and "Catalog capacity in bytes: 1048576" in out
    assert "[RecordingDescriptor](sbeTemplateId=22|sbeSchemaId=101|sbeSchemaVersion=14|sbeBlockLength=80)" in out
    assert "recordingId=0|" in out and "recordingId=1|" not in out
    assert "archiveId=9" in out
    code, out = _run(tmp_path, "describe-all")
    assert out.count("[RecordingDescriptor]") == 2 and out.rstrip().endswith("|DELETED")
    assert _run(tmp_path, "describe", "1")[1].count("recordingId=1|") == 1
    assert _run(tmp_path, "count-entries")[1].strip() == "1"
    assert _run(tmp_path, "pid")[1].strip() == str(os.getpid())
    code, out = _run(tmp_path, "errors")
    assert code == 0 and "something went wrong" in out and "1 distinct errors observed" in out


def test_verify_ok_then_detects_corruption_and_revalidates(tmp_path: Path) -> None:
    _archive(tmp_path)
    assert _run(tmp_path, "verify") == (0, "(recordingId=0) OK\n")
    seg = tmp_path / "0-0.rec"
    good = seg.read_bytes()
    bad = bytearray(good)
    struct.pack_into("<i", bad, 5 * 96 + 20, 99)  # wrong term id in frame 5
    seg.write_bytes(bytes(bad))
    code, out = _run(tmp_path, "verify")
    assert code == 255 and "(recordingId=0) ERR: frame at position=480" in out
    with Catalog(str(tmp_path), writable=False) as cat:
        assert cat.recording_ids() == []  # marked INVALID
    seg.write_bytes(good)
    assert _run(tmp_path, "verify")[0] == 0
    with Catalog(str(tmp_path), writable=False) as cat:
        assert cat.recording_ids() == [0]


def test_verify_detects_missing_data_and_segments(tmp_path: Path) -> None:
    _archive(tmp_path)
    seg = tmp_path / "0-0.rec"
    data = bytearray(seg.read_bytes())
    data[5 * 96 :] = bytes(len(data) - 5 * 96)
    seg.write_bytes(bytes(data))
    code, out = _run(tmp_path, "verify")
    assert code == 255 and "beyond the recorded data" in out
    seg.unlink()
    code, out = _run(tmp_path, "verify")
    assert code == 255 and "missing segment file 0-0.rec" in out


def test_mark_invalid_and_valid(tmp_path: Path) -> None:
    _archive(tmp_path)
    assert _run(tmp_path, "mark-invalid", "0")[0] == 0
    assert _run(tmp_path, "count-entries")[1].strip() == "0"
    with pytest.raises(CatalogError, match="not VALID"):
        _run(tmp_path, "mark-invalid", "0")
    assert _run(tmp_path, "mark-valid", "0")[0] == 0
    with pytest.raises(CatalogError, match="not INVALID"):
        _run(tmp_path, "mark-valid", "1")  # DELETED cannot be revived


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not found"):
        _run(tmp_path / "nope", "describe")


def test_compact_keeps_valid_entries_and_deletes_the_rest(tmp_path: Path) -> None:
    _archive(tmp_path)
    (tmp_path / "1-0.rec").write_bytes(bytes(16))  # a file of the DELETED recording
    assert _run_confirmed(tmp_path, "compact", answer=False) == 1
    assert _run_confirmed(tmp_path, "compact", answer=True) == 0
    assert not (tmp_path / "1-0.rec").exists() and (tmp_path / "0-0.rec").exists()
    with Catalog(str(tmp_path), writable=False) as cat:
        entries = list(cat.entries())
        assert [e.recording_id for e in entries] == [0] and cat.next_recording_id == 2
    assert _run(tmp_path, "verify")[0] == 0


def test_delete_orphaned_segments(tmp_path: Path) -> None:
    _archive(tmp_path)
    (tmp_path / f"0-{TERM}.rec").write_bytes(bytes(16))  # beyond the stop position's segment
    assert _run_confirmed(tmp_path, "delete-orphaned-segments", answer=True) == 0
    assert not (tmp_path / f"0-{TERM}.rec").exists() and (tmp_path / "0-0.rec").exists()


def _run_confirmed(tmp: Path, command: str, answer: bool) -> int:
    asked: list[str] = []

    def confirm(q: str) -> bool:
        asked.append(q)
        return answer

    code = run(str(tmp), command, [], io.StringIO(), confirm)
    assert asked
    return code
