"""``aeronpy loss``: print ``loss-report.dat`` like Aeron's ``LossStat`` (Java).

Output: the CSV header ``#OBSERVATION_COUNT,TOTAL_BYTES_LOST,FIRST_OBSERVATION,
LAST_OBSERVATION,SESSION_ID,STREAM_ID,CHANNEL,SOURCE``, one line per entry with timestamps as
``yyyy-MM-dd HH:mm:ss.SSSZ`` (e.g. ``2024-05-01 12:00:00.123+0200``), then ``N loss entries``.
"""

from __future__ import annotations

import datetime
import mmap
import os

from aeronpy.concurrent.atomic_buffer import AtomicBuffer, Buffer
from aeronpy.driver.loss_report import ENTRY_ALIGNMENT, LOSS_REPORT_FILE, read_loss_report
from aeronpy.tools.cnc_access import ToolError

__all__ = ["LOSS_REPORT_CSV_HEADER", "format_loss_report", "format_timestamp", "format_loss_report_file"]

LOSS_REPORT_CSV_HEADER = (
    "#OBSERVATION_COUNT,TOTAL_BYTES_LOST,FIRST_OBSERVATION,LAST_OBSERVATION,SESSION_ID,STREAM_ID,CHANNEL,SOURCE"
)


def format_timestamp(epoch_ms: int, tz: datetime.tzinfo | None = None) -> str:
    """``yyyy-MM-dd HH:mm:ss.SSSZ`` in ``tz`` (default: local time); the raw number when the
    value is outside the calendar's range."""
    try:
        seconds, millis = divmod(epoch_ms, 1000)
        when = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).astimezone(tz)
    except (OverflowError, OSError, ValueError):
        return str(epoch_ms)
    return f"{when:%Y-%m-%d %H:%M:%S}.{millis:03d}{when:%z}"


def format_loss_report(buffer: Buffer, tz: datetime.tzinfo | None = None) -> list[str]:
    """Header, one CSV line per entry, and a final ``N loss entries`` line."""
    lines = [LOSS_REPORT_CSV_HEADER]

    def consume(
        observation_count: int,
        total_bytes_lost: int,
        first_ts: int,
        last_ts: int,
        session_id: int,
        stream_id: int,
        channel: str,
        source: str,
    ) -> None:
        lines.append(
            f"{observation_count},{total_bytes_lost},{format_timestamp(first_ts, tz)},"
            f"{format_timestamp(last_ts, tz)},{session_id},{stream_id},{channel},{source}"
        )

    entries = read_loss_report(buffer, consume)
    lines.append(f"{entries} loss entries")
    return lines


def format_loss_report_file(aeron_dir: str, tz: datetime.tzinfo | None = None) -> list[str]:
    """Map ``<aeron_dir>/loss-report.dat`` (copy-on-write, never modified) and format it.

    Raises :class:`FileNotFoundError` naming the file when it does not exist and
    :class:`ToolError` when it cannot be a loss report.
    """
    path = os.path.join(aeron_dir, LOSS_REPORT_FILE)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return format_loss_report(AtomicBuffer(bytearray(0)), tz)
        if size % ENTRY_ALIGNMENT:
            raise ToolError(
                f"{path} is not an Aeron loss report: {size} bytes is not a multiple of its "
                f"{ENTRY_ALIGNMENT}-byte entry alignment"
            )
        with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY) as mapped:
            buffer = AtomicBuffer(mapped)
            try:
                return format_loss_report(buffer, tz)
            finally:
                buffer.release()
