"""Offline archive tool (archive.md §9), Aeron's ArchiveTool commands on an archive directory
whose archive is stopped: capacity, checksum (descriptor and per-frame checksums), compact,
count-entries, delete-orphaned-segments, describe, describe-all, dump, errors, max-entries,
migrate, pid, verify (``-a`` all segment files, ``-checksum``), mark-valid, mark-invalid."""

from __future__ import annotations

import mmap
import os
import struct
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

from aeronpy.archive.catalog import (
    CATALOG_VERSION,
    DESCRIPTOR_HEADER_LENGTH,
    Catalog,
    CatalogEntry,
    checksum_function,
)
from aeronpy.archive.codecs import RecordingState
from aeronpy.archive.errors import CatalogError, IncompleteFragmentError
from aeronpy.errors import AeronError
from aeronpy.archive.mark_file import HEADER_LENGTH, MARK_FILE_NAME, mark_file_dir, read_mark_file
from aeronpy.protocol.data_header import HDR_TYPE_DATA, HDR_TYPE_PAD
from aeronpy.protocol.data_header import HEADER_LENGTH as HEADER_LENGTH_FRAME
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


def _verify_entry(archive_dir: str, e: CatalogEntry, all_files: bool = False,
                  checksum: Callable[[bytes], int] | None = None, cat: Catalog | None = None) -> str | None:
    """None if the entry is sound, else what is wrong.  ``all_files``: check every segment file,
    not only the last; ``checksum``: also the descriptor checksum (``cat``) and every data
    frame's checksum (stored in its session id field)."""
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
    if checksum is not None and cat is not None:
        start = e.offset + DESCRIPTOR_HEADER_LENGTH
        expected = checksum(bytes(cat.mm[start : start + e.length]))
        if expected != e.checksum:
            return f"invalid Catalog checksum: expected={expected}, actual={e.checksum}"
    if e.stop_position > e.start_position:
        for base in bases if all_files else [last]:
            err = _check_frames(archive_dir, e, base)
            if err is None and checksum is not None:
                err = _check_checksums(archive_dir, e, base, checksum)
            if err is not None:
                return err
    return None


def _first_offset(e: CatalogEntry, base: int) -> int:
    """Where a segment's frames start: the start term offset in the first segment, else 0."""
    start_term_offset = e.start_position & (e.term_buffer_length - 1)
    return start_term_offset if base == e.start_position - start_term_offset else 0


def _data_frames(mm: Any, offset: int) -> Iterator[tuple[int, int]]:
    """``(file offset, aligned length)`` of each DATA frame from ``offset`` to the first empty header."""
    size = len(mm)
    while offset + HEADER_LENGTH_FRAME <= size:
        length, _, _, ftype = struct.unpack_from("<iBBh", mm, offset)
        if length <= 0:
            return
        aligned = (length + 31) & ~31
        if offset + aligned > size:
            raise CatalogError(f"frame at file offset {offset} of length {length} runs past the end of the file")
        if ftype == HDR_TYPE_DATA:
            yield offset, aligned
        offset += aligned


def _check_checksums(archive_dir: str, e: CatalogEntry, base: int, checksum: Callable[[bytes], int]) -> str | None:
    path = os.path.join(archive_dir, segment_file_name(e.recording_id, base))
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return None
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        for off, aligned in _data_frames(mm, _first_offset(e, base)):
            recorded = struct.unpack_from("<i", mm, off + 12)[0]
            expected = checksum(mm[off + HEADER_LENGTH_FRAME : off + aligned])
            if recorded != expected:
                return f"file={path}: checksum failed recorded={recorded} (expected={expected})"
    finally:
        mm.close()
    return None


def checksum_segment_file(archive_dir: str, e: CatalogEntry, base: int, checksum: Callable[[bytes], int]) -> int:
    """Compute each DATA frame's checksum over its aligned payload and store it in the frame's
    session id field, as ArchiveTool's ``checksum``; returns the number of frames."""
    path = os.path.join(archive_dir, segment_file_name(e.recording_id, base))
    count = 0
    with open(path, "r+b") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return 0
        mm = mmap.mmap(f.fileno(), 0)
    try:
        for off, aligned in _data_frames(mm, _first_offset(e, base)):
            struct.pack_into("<i", mm, off + 12, checksum(mm[off + HEADER_LENGTH_FRAME : off + aligned]))
            count += 1
        mm.flush()
    finally:
        mm.close()
    return count


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


def _print_error_log(buffer: Any, out: IO[str]) -> int:
    """A distinct error log as Aeron's ``CommonContext.printErrorLog`` prints it."""
    from datetime import datetime

    from aeronpy.concurrent.error_log import read_error_log

    def when(ms: int) -> str:
        t = datetime.fromtimestamp(ms / 1000).astimezone()
        return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}" + t.strftime("%z")

    def show(n: int, first: int, last: int, text: str) -> None:
        out.write(f"\n{n} observations from {when(first)} to {when(last)} for:\n{text}\n")

    count = read_error_log(buffer, show)
    out.write(f"\n{count} distinct errors observed.\n" if count else "\n0 distinct errors observed\n")
    return count


def _print_driver_errors(aeron_dir: str, out: IO[str]) -> None:
    from aeronpy.tools.cnc_access import open_cnc

    try:
        cnc = open_cnc(aeron_dir, allow_stale=True)
    except AeronError as e:
        out.write(f"ERR: {e}\n")
        return
    try:
        _print_error_log(cnc.error_log_buffer, out)
    finally:
        cnc.close()


def _full_version(version: int) -> str:
    """``<v>(Major M Minor m Patch p)`` as ArchiveTool's migrate prints versions."""
    return f"{version}(Major {(version >> 16) & 0xFF} Minor {(version >> 8) & 0xFF} Patch {version & 0xFF})"


def _positive(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{what}: not an integer: {text!r}") from None
    if value <= 0:
        raise ValueError(f"{what}: must be positive: {value}")
    return value


def _recording_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"recordingId: not an integer: {text!r}") from None


def _checksum_of(name: str) -> Callable[[bytes], int]:
    try:
        fn = checksum_function(name)
    except ValueError:
        fn = None
    if fn is None:
        raise ValueError(f"checksum className: {name!r} is not io.aeron.archive.checksum.Crc32 or "
                         "io.aeron.archive.checksum.Crc32c (or CRC-32 / CRC-32C)")
    return fn


def _verify_args(args: list[str]) -> tuple[int | None, bool, Callable[[bytes], int] | None]:
    """``verify [recordingId] [-a] [-checksum className]`` as ArchiveTool parses it."""
    rest = list(args)
    only = _recording_id(rest.pop(0)) if rest and not rest[0].startswith("-") else None
    all_files = False
    checksum = None
    while rest:
        flag = rest.pop(0)
        if flag == "-a":
            all_files = True
        elif flag == "-checksum":
            if not rest:
                raise ValueError("-checksum needs a Checksum className (e.g. io.aeron.archive.checksum.Crc32)")
            checksum = _checksum_of(rest.pop(0))
        else:
            raise ValueError(f"verify: unexpected argument {flag!r} (verify [recordingId] [-a] [-checksum className])")
    return only, all_files, checksum


def _checksum_args(args: list[str]) -> tuple[Callable[[bytes], int], int | None, bool]:
    """``checksum className [recordingId] [-a]``."""
    if not args:
        raise ValueError("checksum needs a Checksum className (e.g. io.aeron.archive.checksum.Crc32)")
    fn = _checksum_of(args[0])
    rest = args[1:]
    only = None
    if rest and rest[0] != "-a":
        only = _recording_id(rest.pop(0))
    if rest not in ([], ["-a"]):
        raise ValueError(f"checksum: unexpected arguments {rest} (checksum className [recordingId] [-a])")
    return fn, only, rest == ["-a"]


def _dump_recording(archive_dir: str, e: CatalogEntry, limit: int, out: IO[str],
                    confirm: Callable[[str], bool]) -> bool:
    """Print a descriptor and its frames; False if the user stopped at the fragment limit."""
    from aeronpy.archive.cli import describe_entry

    stop = e.stop_position
    length = stop - e.start_position
    out.write(f"\n\nRecording {e.recording_id}\n  channel: {e.stripped_channel}\n  streamId: {e.stream_id}\n"
              f"  stream length: {-1 if stop == -1 else length}\n")
    out.write("[RecordingDescriptorHeader](sbeTemplateId=21|sbeSchemaId=101|sbeSchemaVersion=14|sbeBlockLength=32):"
              f"length={e.length}|state={_STATES.get(e.state, e.state)}|checksum={e.checksum}|reserved=0\n"
              f"{describe_entry(e)}\n")
    if length == 0:
        out.write("Recording is empty\n")
        return True
    count = limit
    for base in list_segment_files(archive_dir, e.recording_id):
        path = os.path.join(archive_dir, segment_file_name(e.recording_id, base))
        with open(path, "rb") as f:
            data = f.read()
        off = _first_offset(e, base)
        while off + HEADER_LENGTH_FRAME <= len(data):
            position = base + off
            if stop != -1 and position >= stop:
                return True
            frame_length, _, flags, ftype = struct.unpack_from("<iBBh", data, off)
            if frame_length <= 0:
                break
            out.write(f"\nFrame at position [{position}] data at offset [{off + HEADER_LENGTH_FRAME}] with length = "
                      f"{frame_length - HEADER_LENGTH_FRAME}\n")
            if ftype == HDR_TYPE_PAD:
                out.write("PADDING FRAME\n")
            elif ftype == HDR_TYPE_DATA:
                if flags & 0xC0 != 0xC0:
                    out.write("Fragmented frame. " + ("BEGIN_FRAGMENT" if flags & 0x80 else "") +
                              ("END_FRAGMENT" if flags & 0x40 else "") + "\n")
                out.write(_hex_dump(data[off + HEADER_LENGTH_FRAME : off + frame_length]) + "\n")
            else:
                out.write(f"Unexpected frame type {ftype}\n")
            off += (frame_length + 31) & ~31
            count -= 1
            if count == 0:
                count = limit
                if stop != -1:
                    out.write(f"{stop - (base + off)} bytes of (from {length}) remaining in recording id "
                              f"{e.recording_id}\n")
                if not confirm(f"Specified frame limit {limit} reached. Continue"):
                    return False
    return True


def _hex_dump(data: bytes) -> str:
    """A boxed hex dump in the layout of Agrona's ``PrintBufferUtil.prettyHexDump``."""
    lines = ["         +-------------------------------------------------+",
             "         |  0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f |",
             "+--------+-------------------------------------------------+----------------+"]
    for row in range(0, len(data), 16):
        chunk = data[row : row + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk).ljust(47)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk).ljust(16)
        lines.append(f"|{row:08x}| {hexes} |{text}|")
    lines.append("+--------+-------------------------------------------------+----------------+")
    return "\n".join(lines)


def run(archive_dir: str, command: str, args: list[str], out: IO[str],
        confirm: Callable[[str], bool] = _ask) -> int:
    """Run one tool command; returns the exit status (255 for verify failures, like -1).
    ``confirm(question)`` asks before destructive commands (compact, delete-orphaned-segments)
    and at dump's fragment limit.  Bad arguments raise ValueError naming the argument."""
    if not os.path.isdir(archive_dir):
        raise CatalogError(f"archive directory not found: {archive_dir}")
    if command == "pid":
        out.write(f"{read_mark_file(_mark_path(archive_dir)).get_int('pid')}\n")
        return 0
    if command == "max-entries":
        out.write("max-entries is deprecated please use capacity.\n")
        return 0
    if command == "errors":
        from aeronpy.concurrent.atomic_buffer import AtomicBuffer

        path = _mark_path(archive_dir)
        d = read_mark_file(path)
        with open(path, "rb") as f:
            f.seek(HEADER_LENGTH)
            raw = bytearray(f.read(d.get_int("error_buffer_length")))
        buf = AtomicBuffer(raw)
        out.write("Archive error log:\n")
        _print_error_log(buf, out)
        buf.release()
        aeron_dir = d.get_str("aeron_directory")
        out.write(f"\nAeron driver error log (directory: {aeron_dir}):\n")
        _print_driver_errors(aeron_dir, out)
        return 0
    if command == "migrate":
        out.write("WARNING: please ensure archive is not running and that a backup has been taken of the archive "
                  "directory before attempting migration(s).")
        if not confirm("Continue"):
            return 1
        out.write("\n")
        mark_version = read_mark_file(_mark_path(archive_dir)).get_int("version")
        with Catalog(archive_dir, writable=False) as cat:  # refuses catalogs before 3.x, naming the version
            catalog_version = cat.version
        out.write(f"MarkFile version={_full_version(mark_version)}\nCatalog version={_full_version(catalog_version)}\n"
                  f"Latest version={_full_version(CATALOG_VERSION)}\n")
        return 0  # 3.x is the latest layout: no migration step applies
    if command == "compact":
        return _compact(archive_dir, out, confirm)
    if command == "capacity" and args:
        with Catalog(archive_dir, writable=True, capacity=_positive(args[0], "capacity in bytes")) as cat:
            out.write(f"Catalog capacity in bytes: {cat.capacity}\n")
        return 0
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
            only, all_files, checksum = _verify_args(args)
            if only is not None and cat.find_any(only) is None:
                raise CatalogError(f"no recording found with recordingId: {only}")
            for e in list(cat.entries()):
                if only is not None and e.recording_id != only:
                    continue
                if e.state == RecordingState.DELETED:
                    out.write(f"(recordingId={e.recording_id}) skipping: DELETED\n")
                    continue
                problem = _verify_entry(archive_dir, e, all_files, checksum, cat)
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
            fn, only, all_files = _checksum_args(args)
            cat.checksum = fn
            chosen = [e for e in cat.entries() if only is None or e.recording_id == only]
            if only is not None and not chosen:
                raise CatalogError(f"no recording found with recordingId: {only}")
            for e in chosen:
                cat._update_checksum(e.offset)
                bases = list_segment_files(archive_dir, e.recording_id)
                for base in bases if all_files else bases[-1:]:
                    try:
                        checksum_segment_file(archive_dir, e, base, fn)
                    except (OSError, CatalogError) as ex:
                        out.write(f"(recordingId={e.recording_id}, file="
                                  f"{os.path.join(archive_dir, segment_file_name(e.recording_id, base))}) "
                                  f"ERR: failed to checksum: {ex}\n")
            cat.mm.flush()
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
            limit = _positive(args[0], "data fragment limit") if args else (1 << 63) - 1
            _print_mark(archive_dir, out)
            out.write(f"Catalog capacity in bytes: {cat.capacity}\n\nDumping up to {limit} fragments per recording\n")
            for e in cat.entries():
                if not _dump_recording(archive_dir, e, limit, out, confirm):
                    break
            return 0
        if command == "capacity":
            out.write(f"Catalog capacity in bytes: {cat.capacity}\n")
            return 0
    raise CatalogError(f"unknown archive-tool command {command}")
