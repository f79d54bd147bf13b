"""Message rates from byte rates: the mean bytes per message, read from a stream's log buffer.

Counters only carry byte positions.  The driver zeroes a log behind its slowest consumer, so
the frames that made up the last second are usually gone by the time a tool looks; what is
left is a contiguous run of frames from the clean position (the first non-zero word of the
term, always a frame boundary: cleaning stops at consumer positions) up to the tail.  Walking
that run gives bytes per message (DATA frames with the BEGIN flag count one message, however
many fragments), and message rate = byte rate ÷ bytes per message.
"""

from __future__ import annotations

import mmap
import os
import struct

from aeronpy.logbuffer import descriptor as d
from aeronpy.protocol import data_header as h

__all__ = ["MessageCounter", "mean_message_length"]

MAX_FRAMES = 20_000
"""Walk at most this many frames per look."""


def mean_message_length(data: bytes | mmap.mmap, term_base: int, term_length: int,
                        limit: int = MAX_FRAMES) -> float | None:
    """Bytes per message in the intact frames of the term at ``term_base`` (``None`` if none)."""
    chunk = bytes(data[term_base:term_base + term_length])
    start = (len(chunk) - len(chunk.lstrip(b"\0"))) & ~(h.FRAME_ALIGNMENT - 1)
    offset, messages, total, frames = start, 0, 0, 0
    while offset <= term_length - h.HEADER_LENGTH and frames < limit:
        length, _, flags, frame_type = struct.unpack_from("<iBBh", chunk, offset)
        if length <= 0:
            break
        step = (length + h.FRAME_ALIGNMENT - 1) & ~(h.FRAME_ALIGNMENT - 1)
        if frame_type == h.HDR_TYPE_DATA:
            total += step
            if flags & h.BEGIN_FLAG:
                messages += 1
        offset += step
        frames += 1
    return total / messages if messages else None


class _Log:
    def __init__(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            if size < d.compute_log_length(d.TERM_MIN_LENGTH, d.PAGE_MIN_SIZE):
                raise ValueError("not a log buffer")
            self.data = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        meta = size - d.LOG_META_DATA_LENGTH
        self.term_length = int(struct.unpack_from("<i", self.data, meta + d.LOG_TERM_LENGTH_OFFSET)[0])
        d.check_term_length(self.term_length)
        if 3 * self.term_length > size:
            raise ValueError("truncated log buffer")
        self.bits = d.position_bits_to_shift(self.term_length)

    def mean_at(self, position: int) -> float | None:
        """Bytes per message in the term holding ``position`` (the term before at a term start)."""
        p = max(0, position - 1)
        return mean_message_length(self.data, d.index_by_position(p, self.bits) * self.term_length, self.term_length)

    def close(self) -> None:
        self.data.close()


class MessageCounter:
    """Tracks bytes per message of each log (``<subdir>/<registration id>.logbuffer``)."""

    def __init__(self, aeron_dir: str) -> None:
        self.aeron_dir = aeron_dir
        self._logs: dict[tuple[str, int], _Log | None] = {}
        self._mean: dict[tuple[str, int], float] = {}

    def bytes_per_message(self, registration_id: int, position: int, subdir: str = "publications") -> float | None:
        """Current estimate for the log near ``position`` (the last one seen if nothing is readable)."""
        key = (subdir, registration_id)
        if key in self._logs:
            log = self._logs[key]
        else:
            try:
                log = _Log(os.path.join(self.aeron_dir, subdir, f"{registration_id}.logbuffer"))
            except (OSError, ValueError):
                log = None
            self._logs[key] = log
        if log is None:
            return None
        try:
            mean = log.mean_at(position)
        except (ValueError, struct.error):
            mean = None
        if mean is not None:
            self._mean[key] = mean
        return self._mean.get(key)

    def retain(self, keys: set[tuple[str, int]]) -> None:
        """Forget logs (``(subdir, registration id)``) that are gone."""
        for key in [k for k in self._logs if k not in keys]:
            log = self._logs.pop(key)
            if log is not None:
                log.close()
            self._mean.pop(key, None)

    def close(self) -> None:
        """Unmap every log."""
        self.retain(set())
