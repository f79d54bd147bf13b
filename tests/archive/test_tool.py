"""archive-tool on archive directories built by hand: describe/describe-all, count-entries,
verify (OK, detects and marks corrupt entries, re-validates; -a all segment files; -checksum),
checksum (descriptor and per-frame CRCs, last or all segment files, one or all recordings),
capacity, dump, mark-valid/invalid, pid, errors, argument errors."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any

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


def _archive(tmp: Path, count: int = 10, aeron_dir: str = "/dev/shm/x") -> Path:
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
                         aeron_dir, 9)
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
    assert code == 0 and "something went wrong" in out and "1 distinct errors observed." in out
    assert "\n1 observations from " in out  # CommonContext.printErrorLog's layout
    # ArchiveTool also prints the driver's error log, from the mark file's aeronDirectory.
    assert "Aeron driver error log (directory: /dev/shm/x):\nERR: Aeron directory /dev/shm/x does not exist" in out
    assert _run(tmp_path, "max-entries")[1] == "max-entries is deprecated please use capacity.\n"


def test_verify_ok_then_detects_corruption_and_revalidates(tmp_path: Path) -> None:
    _archive(tmp_path)
    assert _run(tmp_path, "verify") == (0, "(recordingId=0) OK\n(recordingId=1) skipping: DELETED\n")
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


FRAME = 1024  # 64 frames per 64 KiB term (= segment here)


def _two_segment_archive(tmp: Path) -> Path:
    """Recording 0: two full 64 KiB segments of 1 KiB frames with distinct payloads, plus 10
    frames in a third segment; recording 1: one segment."""
    def segment(term_id: int, frames: int, seed: int) -> bytes:
        out = bytearray(TERM)
        for i in range(frames):
            payload = bytes((seed + i + k) & 0xFF for k in range(FRAME - 32))
            out[i * FRAME : (i + 1) * FRAME] = struct.pack("<iBBhiiiiq", FRAME, 0, 0xC0, 1, i * FRAME, 1, 1001,
                                                           term_id, 0) + payload
        return bytes(out)

    stop = 2 * TERM + 10 * FRAME
    with Catalog(str(tmp)) as cat:
        cat.add_recording(0, 1000, 5, TERM, TERM, 1408, 1, 1001, "aeron:ipc", "aeron:ipc", "aeron:ipc",
                          stop_position=stop, stop_timestamp=2000)
        cat.add_recording(0, 1000, 5, TERM, TERM, 1408, 1, 1001, "aeron:ipc", "aeron:ipc", "aeron:ipc",
                          stop_position=3 * FRAME, stop_timestamp=2000)
    (tmp / "0-0.rec").write_bytes(segment(5, 64, 0))
    (tmp / f"0-{TERM}.rec").write_bytes(segment(6, 64, 1))
    (tmp / f"0-{2 * TERM}.rec").write_bytes(segment(7, 10, 2))
    (tmp / "1-0.rec").write_bytes(segment(5, 3, 3))
    return tmp


def _stored_crcs(path: Path) -> list[tuple[int, int]]:
    """(stored session id, CRC-32 of the aligned payload) of each data frame."""
    data = path.read_bytes()
    found = []
    off = 0
    while off + 32 <= len(data):
        length = struct.unpack_from("<i", data, off)[0]
        if length <= 0:
            break
        crc = zlib.crc32(data[off + 32 : off + length])
        found.append((struct.unpack_from("<i", data, off + 12)[0], crc - (1 << 32) if crc & 0x80000000 else crc))
        off += length
    return found


def test_checksum_last_segment_by_default_then_all_with_flag(tmp_path: Path) -> None:
    _two_segment_archive(tmp_path)
    assert _run(tmp_path, "checksum", "io.aeron.archive.checksum.Crc32") == (0, "")
    last = _stored_crcs(tmp_path / f"0-{2 * TERM}.rec")
    assert len(last) == 10 and all(stored == crc for stored, crc in last)
    assert all(stored == 1 for stored, _ in _stored_crcs(tmp_path / "0-0.rec"))  # untouched without -a
    assert all(stored == crc for stored, crc in _stored_crcs(tmp_path / "1-0.rec"))
    with Catalog(str(tmp_path), writable=False) as cat:
        e = cat.entry(0)
        start = e.offset + 32
        expected = zlib.crc32(bytes(cat.mm[start : start + e.length]))
        assert e.checksum == (expected - (1 << 32) if expected & 0x80000000 else expected)
    assert _run(tmp_path, "verify", "-checksum", "CRC-32")[0] == 0  # the last segment files only
    code, out = _run(tmp_path, "verify", "-a", "-checksum", "CRC-32")
    assert code == 255 and "(recordingId=0) ERR: file=" in out and "0-0.rec: checksum failed recorded=1" in out
    assert _run(tmp_path, "checksum", "CRC-32", "0", "-a") == (0, "")
    assert all(stored == crc for stored, crc in _stored_crcs(tmp_path / "0-0.rec"))
    assert all(stored == crc for stored, crc in _stored_crcs(tmp_path / f"0-{TERM}.rec"))
    assert _run(tmp_path, "verify", "-a", "-checksum", "io.aeron.archive.checksum.Crc32") == (
        0, "(recordingId=0) OK\n(recordingId=1) OK\n")


def test_verify_checksum_detects_a_corrupt_payload_and_descriptor(tmp_path: Path) -> None:
    _two_segment_archive(tmp_path)
    code, out = _run(tmp_path, "verify", "1", "-checksum", "CRC-32")  # never checksummed
    assert code == 255 and "(recordingId=1) ERR: invalid Catalog checksum: expected=" in out
    _run(tmp_path, "checksum", "CRC-32", "-a")
    seg = tmp_path / "1-0.rec"
    data = bytearray(seg.read_bytes())
    data[FRAME + 100] ^= 0xFF  # one payload byte of frame 1
    seg.write_bytes(bytes(data))
    assert _run(tmp_path, "verify", "1")[0] == 0  # headers are fine: only a checksum sees it
    code, out = _run(tmp_path, "verify", "1", "-checksum", "CRC-32")
    assert code == 255 and "checksum failed" in out
    with Catalog(str(tmp_path), writable=False) as cat:
        assert cat.recording_ids() == [0]  # recording 1 marked INVALID


def test_verify_all_segment_files(tmp_path: Path) -> None:
    _two_segment_archive(tmp_path)
    seg = tmp_path / "0-0.rec"
    data = bytearray(seg.read_bytes())
    struct.pack_into("<i", data, 3 * FRAME + 20, 99)  # a wrong term id in the first segment
    seg.write_bytes(bytes(data))
    assert _run(tmp_path, "verify", "0")[0] == 0  # only the last segment file is read by default
    code, out = _run(tmp_path, "verify", "0", "-a")
    assert code == 255 and "(recordingId=0) ERR: frame at position=3072" in out


def test_capacity_and_dump(tmp_path: Path) -> None:
    _archive(tmp_path, 3)
    assert _run(tmp_path, "capacity") == (0, "Catalog capacity in bytes: 1048576\n")
    assert _run(tmp_path, "capacity", str(2 << 20)) == (0, f"Catalog capacity in bytes: {2 << 20}\n")
    assert _run(tmp_path, "capacity", "1000") == (0, f"Catalog capacity in bytes: {2 << 20}\n")  # never shrinks
    out = io.StringIO()
    asked: list[str] = []
    assert run(str(tmp_path), "dump", ["2"], out, lambda q: asked.append(q) or False) == 0
    text = out.getvalue()
    assert "Dumping up to 2 fragments per recording" in text and "Recording 0\n  channel: aeron:ipc" in text
    assert "  stream length: 288" in text and "[RecordingDescriptorHeader](sbeTemplateId=21" in text
    assert text.count("Frame at position [") == 2 and "Frame at position [96] " in text
    assert "|00000000| 00 00 00 00" in text and "96 bytes of (from 288) remaining in recording id 0" in text
    assert asked == ["Specified frame limit 2 reached. Continue"]
    out = io.StringIO()
    run(str(tmp_path), "dump", [], out, lambda q: True)
    assert out.getvalue().count("Frame at position [") == 3 and "Recording is empty" in out.getvalue()


@pytest.mark.parametrize("args, message", [
    (["checksum"], "needs a Checksum className"),
    (["checksum", "md5"], "checksum className: 'md5'"),
    (["checksum", "CRC-32", "x"], "recordingId: not an integer"),
    (["verify", "-checksum"], "-checksum needs"),
    (["verify", "0", "-b"], "unexpected argument '-b'"),
    (["dump", "0"], "data fragment limit: must be positive"),
    (["capacity", "lots"], "capacity in bytes: not an integer"),
])
def test_bad_arguments_are_named(tmp_path: Path, args: list[str], message: str) -> None:
    _archive(tmp_path)
    with pytest.raises(ValueError, match=message):
        _run(tmp_path, *args)


def test_cli_passes_flags_and_reports_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from aeronpy.cli import main

    _archive(tmp_path)
    assert main(["archive-tool", str(tmp_path), "checksum", "CRC-32", "-a"]) == 0
    assert main(["archive-tool", str(tmp_path), "verify", "-a", "-checksum", "CRC-32"]) == 0
    assert "(recordingId=0) OK" in capsys.readouterr().out
    assert main(["archive-tool", str(tmp_path), "verify", "-checksum", "sha1"]) == 2
    assert "checksum className: 'sha1'" in capsys.readouterr().err


def test_errors_prints_the_driver_error_log_too(tmp_path: Path, driver: Any, aeron_dir: str) -> None:
    _archive(tmp_path, aeron_dir=aeron_dir)
    code, out = _run(tmp_path, "errors")
    archive_part, driver_part = out.split(f"Aeron driver error log (directory: {aeron_dir}):\n")
    assert code == 0 and "something went wrong" in archive_part
    assert driver_part == "\n0 distinct errors observed\n"


def test_migrate_asks_then_prints_versions(tmp_path: Path) -> None:
    _archive(tmp_path)
    assert _run_confirmed(tmp_path, "migrate", answer=False) == 1
    out = io.StringIO()
    assert run(str(tmp_path), "migrate", [], out, lambda q: True) == 0
    v = (3 << 16) | (1 << 8)
    assert out.getvalue().startswith("WARNING: please ensure archive is not running")
    assert "MarkFile version=0(Major 0 Minor 0 Patch 0)" in out.getvalue()  # never signalled ready
    assert f"Catalog version={v}(Major 3 Minor 1 Patch 0)\nLatest version={v}(Major 3 Minor 1 Patch 0)\n" in out.getvalue()
