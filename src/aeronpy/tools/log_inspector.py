"""``aeronpy log-inspector FILE``: a ``.logbuffer``'s metadata and frames, like Aeron's LogInspector.

The file is mapped read-only.  For each of the three terms the frames are walked from offset 0
until the first zero frame length (the end of what was written); each frame's header is shown,
with its first ``--data-bytes`` payload bytes in hex.
"""

from __future__ import annotations

import argparse
import mmap
import os
import struct
import sys
from dataclasses import dataclass
from typing import TextIO

from aeronpy.logbuffer import descriptor as d
from aeronpy.protocol import data_header as h
from aeronpy.tools.cnc_access import ToolError

__all__ = ["Frame", "LogMetadata", "read_metadata", "read_frames", "format_log", "add_arguments", "run"]

_FRAME_TYPES = {h.HDR_TYPE_PAD: "PAD", h.HDR_TYPE_DATA: "DATA"}
_LOG_TYPES = {d.LOG_TYPE_CONCURRENT: "concurrent publication", d.LOG_TYPE_EXCLUSIVE: "exclusive publication",
              d.LOG_TYPE_IMAGE: "image"}


@dataclass(frozen=True)
class LogMetadata:
    """The decoded metadata section."""

    term_length: int
    page_size: int
    initial_term_id: int
    active_term_count: int
    raw_tails: tuple[int, int, int]
    end_of_stream_position: int
    is_connected: int
    active_transport_count: int
    correlation_id: int
    mtu_length: int
    default_frame_header_length: int
    publication_window_length: int
    receiver_window_length: int
    socket_sndbuf_length: int
    socket_rcvbuf_length: int
    max_resend: int
    entity_tag: int
    response_correlation_id: int
    linger_timeout_ns: int
    flags: dict[str, int]
    log_type: int
    session_id: int
    stream_id: int

    def tail(self, index: int) -> tuple[int, int]:
        """(term id, term offset) of partition ``index``'s raw tail."""
        raw = self.raw_tails[index]
        return d.term_id(raw), d.term_offset(raw, self.term_length)


@dataclass(frozen=True)
class Frame:
    """One frame header in a term."""

    offset: int
    frame_length: int
    version: int
    flags: int
    frame_type: int
    term_offset: int
    session_id: int
    stream_id: int
    term_id: int
    reserved_value: int

    @property
    def type_name(self) -> str:
        """``DATA``, ``PAD`` or the numeric type."""
        return _FRAME_TYPES.get(self.frame_type, f"0x{self.frame_type:02x}")

    @property
    def flags_text(self) -> str:
        """Flags as letters: B(egin) E(nd) S (end of stream) R(evoked)."""
        names = ((h.BEGIN_FLAG, "B"), (h.END_FLAG, "E"), (h.EOS_FLAG, "S"), (h.REVOKED_FLAG, "R"))
        return "".join(letter for bit, letter in names if self.flags & bit) or "-"


def _locate(data: mmap.mmap, path: str) -> int:
    """Offset of the metadata section, or :class:`ToolError` if this is not a log buffer."""
    size = len(data)
    minimum = d.compute_log_length(d.TERM_MIN_LENGTH, d.PAGE_MIN_SIZE)
    if size < minimum:
        raise ToolError(f"{path} is not an Aeron log buffer: {size} bytes, a log buffer has at least {minimum}")
    meta = size - d.LOG_META_DATA_LENGTH
    term_length, page_size = struct.unpack_from("<ii", data, meta + d.LOG_TERM_LENGTH_OFFSET)
    try:
        d.check_term_length(term_length)
        d.check_page_size(page_size)
    except ValueError as e:
        raise ToolError(f"{path} is not an Aeron log buffer: its metadata is invalid ({e})") from None
    expected = d.compute_log_length(term_length, page_size)
    if expected != size:
        raise ToolError(
            f"{path} is not an Aeron log buffer: {size} bytes, but its metadata (term length {term_length}, "
            f"page size {page_size}) needs {expected}"
        )
    return meta


def read_metadata(data: mmap.mmap, path: str = "log buffer") -> LogMetadata:
    """Decode the metadata of a mapped log buffer (:class:`ToolError` if it is not one)."""
    m = _locate(data, path)

    def i32(off: int) -> int:
        return int(struct.unpack_from("<i", data, m + off)[0])

    def i64(off: int) -> int:
        return int(struct.unpack_from("<q", data, m + off)[0])

    def u8(off: int) -> int:
        return int(data[m + off])

    header = d.LOG_DEFAULT_FRAME_HEADER_OFFSET
    return LogMetadata(
        term_length=i32(d.LOG_TERM_LENGTH_OFFSET),
        page_size=i32(d.LOG_PAGE_SIZE_OFFSET),
        initial_term_id=i32(d.LOG_INITIAL_TERM_ID_OFFSET),
        active_term_count=i32(d.LOG_ACTIVE_TERM_COUNT_OFFSET),
        raw_tails=(i64(d.TERM_TAIL_COUNTERS_OFFSET), i64(d.TERM_TAIL_COUNTERS_OFFSET + 8),
                   i64(d.TERM_TAIL_COUNTERS_OFFSET + 16)),
        end_of_stream_position=i64(d.LOG_END_OF_STREAM_POSITION_OFFSET),
        is_connected=i32(d.LOG_IS_CONNECTED_OFFSET),
        active_transport_count=i32(d.LOG_ACTIVE_TRANSPORT_COUNT_OFFSET),
        correlation_id=i64(d.LOG_CORRELATION_ID_OFFSET),
        mtu_length=i32(d.LOG_MTU_LENGTH_OFFSET),
        default_frame_header_length=i32(d.LOG_DEFAULT_FRAME_HEADER_LENGTH_OFFSET),
        publication_window_length=i32(d.LOG_PUBLICATION_WINDOW_LENGTH_OFFSET),
        receiver_window_length=i32(d.LOG_RECEIVER_WINDOW_LENGTH_OFFSET),
        socket_sndbuf_length=i32(d.LOG_SOCKET_SNDBUF_LENGTH_OFFSET),
        socket_rcvbuf_length=i32(d.LOG_SOCKET_RCVBUF_LENGTH_OFFSET),
        max_resend=i32(d.LOG_MAX_RESEND_OFFSET),
        entity_tag=i64(d.LOG_ENTITY_TAG_OFFSET),
        response_correlation_id=i64(d.LOG_RESPONSE_CORRELATION_ID_OFFSET),
        linger_timeout_ns=i64(d.LOG_LINGER_TIMEOUT_NS_OFFSET),
        flags={name: u8(off) for name, off in (
            ("group", d.LOG_GROUP_OFFSET), ("is_response", d.LOG_IS_RESPONSE_OFFSET),
            ("rejoin", d.LOG_REJOIN_OFFSET), ("reliable", d.LOG_RELIABLE_OFFSET),
            ("sparse", d.LOG_SPARSE_OFFSET), ("signal_eos", d.LOG_SIGNAL_EOS_OFFSET),
            ("spies_simulate_connection", d.LOG_SPIES_SIMULATE_CONNECTION_OFFSET),
            ("tether", d.LOG_TETHER_OFFSET), ("revoked", d.LOG_IS_PUBLICATION_REVOKED_OFFSET))},
        log_type=u8(d.LOG_TYPE_OFFSET),
        session_id=i32(header + h.SESSION_ID_OFFSET),
        stream_id=i32(header + h.STREAM_ID_OFFSET),
    )


def read_frames(data: mmap.mmap, term_index: int, term_length: int, limit: int) -> tuple[list[Frame], bool]:
    """Frames of term ``term_index`` from offset 0 up to the first zero length (at most ``limit``).

    Returns the frames and whether more were left unread."""
    base = term_index * term_length
    frames: list[Frame] = []
    offset = 0
    while offset < term_length - h.HEADER_LENGTH + 1:
        fields = h.HEADER_STRUCT.unpack_from(data, base + offset)
        length = fields[0]
        if length == 0:
            return frames, False
        if len(frames) >= limit:
            return frames, True
        frames.append(Frame(offset, *fields))
        step = (abs(length) + h.FRAME_ALIGNMENT - 1) & ~(h.FRAME_ALIGNMENT - 1)
        if step < h.HEADER_LENGTH:
            break  # corrupt length: cannot walk further
        offset += step
    return frames, False


def format_log(path: str, data_bytes: int = 0, max_frames: int = 1000) -> list[str]:
    """The LogInspector report for the log buffer at ``path``."""
    if os.path.isdir(path):
        raise ToolError(f"{path} is a directory, not a log buffer")
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise ToolError(f"log buffer {path} does not exist") from None
    except IsADirectoryError:
        raise ToolError(f"{path} is a directory, not a log buffer") from None
    except OSError as e:
        raise ToolError(f"cannot open {path}: {e.strerror}") from None
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            raise ToolError(f"{path} is not an Aeron log buffer: the file is empty")
        data = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
    except OSError as e:
        raise ToolError(f"cannot map {path}: {e.strerror}") from None
    finally:
        os.close(fd)
    try:
        return _format(path, data, data_bytes, max_frames)
    finally:
        data.close()


def _format(path: str, data: mmap.mmap, data_bytes: int, max_frames: int) -> list[str]:
    m = read_metadata(data, path)
    bits = d.position_bits_to_shift(m.term_length)
    active = d.index_by_term_count(m.active_term_count)
    tid, toff = m.tail(active)
    position = d.compute_position(tid, min(toff, m.term_length), bits, m.initial_term_id)
    lines = [
        f"log buffer: {path}",
        f"  type: {_LOG_TYPES.get(m.log_type, m.log_type)}, correlation id {m.correlation_id}, "
        f"session id {m.session_id}, stream id {m.stream_id}",
        f"  term length {m.term_length}, page size {m.page_size}, mtu {m.mtu_length}, "
        f"initial term id {m.initial_term_id}, active term count {m.active_term_count} (partition {active})",
        f"  producer position {position}, end of stream position {m.end_of_stream_position}",
        f"  connected {m.is_connected}, active transports {m.active_transport_count}, "
        f"publication window {m.publication_window_length}, receiver window {m.receiver_window_length}",
        f"  so_sndbuf {m.socket_sndbuf_length}, so_rcvbuf {m.socket_rcvbuf_length}, max resend {m.max_resend}, "
        f"linger {m.linger_timeout_ns} ns, entity tag {m.entity_tag}, response correlation id "
        f"{m.response_correlation_id}",
        "  flags: " + " ".join(f"{k}={v}" for k, v in m.flags.items()),
    ]
    for index in range(d.PARTITION_COUNT):
        tid, toff = m.tail(index)
        lines.append(f"term {index}: tail term id {tid}, tail offset {toff}")
        frames, more = read_frames(data, index, m.term_length, max_frames)
        for f in frames:
            line = (f"  {f.offset:>10}: {f.type_name:<4} length={f.frame_length} flags={f.flags_text} "
                    f"term_offset={f.term_offset} session={f.session_id} stream={f.stream_id} "
                    f"term_id={f.term_id} reserved={f.reserved_value}")
            if data_bytes > 0 and f.frame_type == h.HDR_TYPE_DATA and f.frame_length > h.HEADER_LENGTH:
                start = index * m.term_length + f.offset + h.HEADER_LENGTH
                n = min(data_bytes, f.frame_length - h.HEADER_LENGTH)
                line += " data=" + data[start:start + n].hex()
            lines.append(line)
        if more:
            lines.append(f"  ... more frames (raise --max-frames above {max_frames})")
        lines.append(f"  {len(frames)} frame(s)")
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``aeronpy log-inspector``."""
    parser.add_argument("file", help="a .logbuffer file (publications/ or images/ of an Aeron directory)")
    parser.add_argument("--data-bytes", type=int, default=0, help="payload bytes to show per frame (hex)")
    parser.add_argument("--max-frames", type=int, default=1000, help="frames to show per term (default 1000)")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the report for ``args.file``."""
    out = out or sys.stdout
    if args.data_bytes < 0 or args.max_frames < 0:
        raise ToolError("--data-bytes and --max-frames must be >= 0")
    out.write("\n".join(format_log(args.file, args.data_bytes, args.max_frames)) + "\n")
    return 0
