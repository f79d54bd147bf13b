"""Offline archive tool (archive.md §9): describe, count-entries, pid, errors, verify,
mark-valid/mark-invalid, dump, on an archive directory whose archive is stopped."""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable
from typing import IO

from aeronpy.archive.catalog import Catalog, CatalogEntry
from aeronpy.archive.codecs import RecordingState
from aeronpy.archive.errors import CatalogError, IncompleteFragmentError
from aeronpy.archive.mark_file import HEADER_LENGTH, MARK_FILE_NAME, mark_file_dir, read_mark_file
from aeronpy.archive.segments import (
    list_segment_files,
    recover_stop_position,
    segment_file_base_position,
    segment_file_name,
)

__all__ = ["run"]

_STATES = {0: "INVALID", 1: "VALID", 2: "DELETED"}


def _mark_path(archive_dir: str) -> str:
    return os.path.join(mark_file_dir(archive_dir), MARK_FILE_NAME)


def _print_mark(archive_dir: str, out: IO[str]) -> None:
    path = _mark_path(archive_dir)
    if not os.path.exists(path):
        out.write(f"no mark file at {path}\n")
        return
    d = read_mark_file(path)
    now = int(time.time() * 1000)
    out.write(f"{_local(now, '%H:%M:%S')} (start: {_local(d.get_int('start_timestamp'))}, "
              f"activity: {_local(d.get_int('activity_timestamp'))})\n")
    fields = "|".join(f"{_camel(k)}={v!r}" if isinstance(v, (str, bytes)) else f"{_camel(k)}={v!s}" for k, v in d.values.items())
    out.write(f"[MarkFileHeader](sbeTemplateId=200|sbeSchemaId=100|sbeSchemaVersion=2|sbeBlockLength=128):{fields}\n")


def _local(ms: int, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Local time as ArchiveTool prints it (an activity of -1 shows as the epoch's last second)."""
    from datetime import datetime

    return datetime.fromtimestamp(ms / 1000).strftime(fmt)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(r.capitalize() for r in rest)


def _verify_entry(archive_dir: str, e: CatalogEntry) -> str | None:
    """None if the entry is sound, else what is wrong."""
    if e.start_position < 0 or e.start_position & 31:
        return f"invalid startPosition={e.start_position}"
    if e.stop_position != -1 and (e.stop_position & 31 or e.stop_position < e.start_position):
        return f"invalid stopPosition={e.stop_position} (startPosition={e.start_position})"
    tl, seg = e.term_buffer_length, e.segment_file_length
    if tl <= 0 or tl & (tl - 1) or seg <= 0 or seg % tl:
        return f"invalid termBufferLength={tl} / segmentFileLength={seg}"
    bases = list_segment_files(archive_dir, e.recording_id)
    if e.stop_position > e.start_position:
        last = segment_file_base_position(e.start_position, e.stop_position - 1, tl, seg)
        if last not in bases:
            return f"missing segment file {segment_file_name(e.recording_id, last)}"
        try:
            stop = recover_stop_position(archive_dir, e.recording_id, e.start_position, tl, seg)
        except IncompleteFragmentError as ex:
            return str(ex)
        if stop < e.stop_position:
            return f"stopPosition={e.stop_position} beyond the recorded data ending at {stop}"
        err = _check_frames(archive_dir, e, last)
        if err is not None:
            return err
    return None


def _check_frames(archive_dir: str, e: CatalogEntry, base: int) -> str | None:
    tl = e.term_buffer_length
    bits = tl.bit_length() - 1
    path = os.path.join(archive_dir, segment_file_name(e.recording_id, base))
    with open(path, "rb") as f:
        data = f.read()
    start = max(e.start_position, base)
    end = min(e.stop_position, base + len(data))
    pos = start
    while pos < end:
        off = pos - base
        length, _, _, ftype, term_offset, _, stream_id, term_id = struct.unpack_from("<iBBhiiii", data, off)
        if length <= 0:
            return f"unexpected end of recording at position={pos}"
        if term_offset != pos & (tl - 1) or term_id != _i32(e.initial_term_id + (pos >> bits)):
            return f"frame at position={pos} has termOffset={term_offset} termId={term_id}"
        if ftype != 0 and stream_id != e.stream_id:
            return f"frame at position={pos} has streamId={stream_id}, expected {e.stream_id}"
        pos += (length + 31) & ~31
    return None


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _ask(question: str) -> bool:
    try:
        return input(f"{question}? (y/n): ").strip().lower() == "y"
    except EOFError:
        return False


def _compact(archive_dir: str, out: IO[str], confirm: Callable[[str], bool]) -> int:
    """Rewrite the catalog with its VALID entries only and delete the others' segment files."""
    if not confirm("Compaction will delete all non-VALID recordings and their files. Continue"):
        return 1
    path = os.path.join(archive_dir, "archive.catalog")
    tmp = os.path.join(archive_dir, "archive.catalog.compact")
    with Catalog(archive_dir, writable=False) as cat:
        entries = list(cat.entries())
        capacity = cat.capacity
    os.makedirs(tmp + ".d", exist_ok=True)
    deleted = 0
    reclaimed = 0
    try:
        with Catalog(tmp + ".d", capacity=capacity) as new:
            for e in entries:
                if e.state != RecordingState.VALID:
                    deleted += 1
                    reclaimed += e.frame_length
                    for b in list_segment_files(archive_dir, e.recording_id):
                        os.remove(os.path.join(archive_dir, segment_file_name(e.recording_id, b)))
                    continue
                new._next_recording_id = e.recording_id
                new.add_recording(e.start_position, e.start_timestamp, e.initial_term_id, e.segment_file_length,
                                  e.term_buffer_length, e.mtu_length, e.session_id, e.stream_id, e.stripped_channel,
                                  e.original_channel, e.source_identity, e.stop_position, e.stop_timestamp)
            new._next_recording_id = max([e.recording_id + 1 for e in entries] + [0])
            new._put_i64(8, new._next_recording_id)
        os.replace(os.path.join(tmp + ".d", "archive.catalog"), path)
    finally:
        import shutil

        shutil.rmtree(tmp + ".d", ignore_errors=True)
    out.write(f"Compaction result: deleted {deleted} records and reclaimed {reclaimed} bytes\n")
    return 0


def run(archive_dir: str, command: str, args: list[str], out: IO[str],
        confirm: Callable[[str], bool] = _ask) -> int:
    """Run one tool command; returns the exit status (255 for verify failures, like -1).
    ``confirm(question)`` asks before destructive commands (compact, delete-orphaned-segments)."""
    if not os.path.isdir(archive_dir):
        raise CatalogError(f"archive directory not found: {archive_dir}")
    if command == "pid":
        out.write(f"{read_mark_file(_mark_path(archive_dir)).get_int('pid')}\n")
        return 0
    if command == "max-entries":
        out.write("max-entries is deprecated: the catalog grows as needed\n")
        return 0
    if command == "errors":
        from aeronpy.concurrent.atomic_buffer import AtomicBuffer
        from aeronpy.concurrent.error_log import read_error_log

        path = _mark_path(archive_dir)
        d = read_mark_file(path)
        with open(path, "rb") as f:
            f.seek(HEADER_LENGTH)
            raw = bytearray(f.read(d.get_int("error_buffer_length")))
        buf = AtomicBuffer(raw)
        out.write("Archive error log:\n")
        def show(n: int, first: int, last: int, text: str) -> None:
            out.write(f"***\n{n} observations from {first} to {last} for:\n {text}\n")

        count = read_error_log(buf, show)
        buf.release()
        out.write(f"\n{count} distinct errors observed.\n")
        return 0
    if command == "migrate":
        with Catalog(archive_dir, writable=False) as cat:
            out.write(f"catalog version {(cat.version >> 16) & 0xFF}.{(cat.version >> 8) & 0xFF}.{cat.version & 0xFF}"
                      " is current: nothing to migrate\n")
        return 0
    if command == "compact":
        return _compact(archive_dir, out, confirm)
    writable = command in ("verify", "mark-valid", "mark-invalid", "checksum", "delete-orphaned-segments")
    with Catalog(archive_dir, writable=writable) as cat:
        if command in ("describe", "describe-all"):
            from aeronpy.archive.cli import describe_entry

            if args:
                e = cat.find_any(int(args[0]))
                if e is None:
                    raise CatalogError(f"no recording found with recordingId: {args[0]}")
                out.write(describe_entry(e) + "\n")
                return 0
            _print_mark(archive_dir, out)
            out.write(f"Catalog capacity in bytes: {cat.capacity}\n")
            for e in cat.entries():
                if command == "describe-all":
                    out.write(describe_entry(e) + f"|{_STATES.get(e.state, e.state)}\n")
                elif e.state == RecordingState.VALID:
                    out.write(describe_entry(e) + "\n")
            return 0
        if command == "count-entries":
            out.write(f"{sum(1 for e in cat.entries() if e.state == RecordingState.VALID)}\n")
            return 0
        if command in ("mark-valid", "mark-invalid"):
            if not args:
                raise CatalogError(f"{command} needs a recording id")
            rid = int(args[0])
            e = cat.find_any(rid)
            want, have = (RecordingState.VALID, RecordingState.INVALID) if command == "mark-valid" else (
                RecordingState.INVALID, RecordingState.VALID)
            if e is None or e.state != have:
                raise CatalogError(f"recording {rid} is not {have.name}: cannot {command}")
            cat.change_state(rid, want)
            out.write(f"recording {rid} marked {want.name}\n")
            return 0
        if command == "verify":
            failed = False
            only = int(args[0]) if args and args[0].lstrip("-").isdigit() else None
            for e in list(cat.entries()):
                if e.state == RecordingState.DELETED or (only is not None and e.recording_id != only):
                    continue
                problem = _verify_entry(archive_dir, e)
                if problem is None:
                    if e.state == RecordingState.INVALID:
                        cat.change_state(e.recording_id, RecordingState.VALID)
                    out.write(f"(recordingId={e.recording_id}) OK\n")
                else:
                    failed = True
                    cat.change_state(e.recording_id, RecordingState.INVALID)
                    out.write(f"(recordingId={e.recording_id}) ERR: {problem}\n")
            return 255 if failed else 0
        if command == "checksum":
            from aeronpy.archive.catalog import checksum_function

            if not args:
                raise CatalogError("checksum needs a checksum name (CRC-32 or CRC-32C)")
            fn = checksum_function(args[0])
            cat.checksum = fn
            cat.update_checksums()
            out.write(f"descriptor checksums updated with {args[0]}\n")
            return 0
        if command == "delete-orphaned-segments":
            if not confirm("Delete orphaned segment files"):
                return 1
            only = int(args[0]) if args else None
            deleted = 0
            for e in cat.entries():
                if only is not None and e.recording_id != only:
                    continue
                tl, seg = e.term_buffer_length, e.segment_file_length
                lo = segment_file_base_position(e.start_position, e.start_position, tl, seg)
                end = e.stop_position if e.stop_position >= 0 else None
                hi = segment_file_base_position(e.start_position, max(e.start_position, end - 1), tl, seg) \
                    if end is not None and end > e.start_position else lo
                for b in list_segment_files(archive_dir, e.recording_id):
                    if b < lo or b > hi or e.state == RecordingState.DELETED:
                        os.remove(os.path.join(archive_dir, segment_file_name(e.recording_id, b)))
                        out.write(f"deleted {segment_file_name(e.recording_id, b)}\n")
                        deleted += 1
            out.write(f"{deleted} orphaned segment file(s) deleted\n")
            return 0
        if command == "dump":
            for e in cat.entries():
                if e.state != RecordingState.VALID:
                    continue
                out.write(f"Recording {e.recording_id}\n  channel: {e.original_channel}\n  streamId: {e.stream_id}\n"
                          f"  stream length: {max(0, e.stop_position - e.start_position)}\n")
            return 0
    raise CatalogError(f"unknown archive-tool command {command}")
