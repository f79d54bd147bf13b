"""Gap scanning and NAK timing on a receiver image (driver-behaviour.md §7, log-buffer.md §7).

Sans-IO: the caller passes the term buffer, positions and ``now_ns``; nothing here sleeps,
sends or reads a clock.

* :func:`scan_for_gap` finds the first gap (run of zero ``frame_length`` words) between the
  rebuild offset and a limit within one term.
* :class:`LossDetector` keeps one *active* gap and a timer.  A scanned gap that differs from
  the active one (term id, offset or length) becomes active and arms the timer at
  ``now + generate_delay_ns()``.  Whenever a gap is present and ``now_ns >= expiry`` the
  active gap is reported (returned for NAKing / filling) and the timer re-armed at
  ``now + retry_delay_ns()``.  When the scan finds no gap the timer is simply not looked at,
  so a gap that was filled never fires.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from aeronpy.concurrent.atomic_buffer import Buffer
from aeronpy.driver.feedback_delay import FeedbackDelayGenerator
from aeronpy.concurrent.bit_util import int32
from aeronpy.protocol.data_header import FRAME_ALIGNMENT, HEADER_LENGTH

TIMER_INACTIVE = -1

_scan_for_gap: Any = None
_CAtomicBuffer: Any = None
try:  # the C kernel of the scan below (the Python code is its twin)
    from aeronpy import _atomic

    _CAtomicBuffer, _scan_for_gap = _atomic.AtomicBuffer, _atomic.scan_for_gap
except ImportError:  # pragma: no cover - without the C extension
    pass


class Gap(NamedTuple):
    term_id: int
    term_offset: int
    length: int


def scan_for_gap_offset(
    term_buffer: Buffer, term_id: int, rebuild_offset: int, limit_offset: int
) -> tuple[int, Gap | None]:
    """Scan one term from ``rebuild_offset`` up to ``limit_offset`` (exclusive).

    Returns ``(gap_begin_offset, gap)``: the offset after the last contiguous complete frame
    (where the rebuild position can advance to) and the first gap, or ``None`` if the frames
    are contiguous up to the limit.  The gap extends in 32-byte steps while ``frame_length``
    stays 0, ending at the first non-zero word or at the limit.
    """
    if _scan_for_gap is not None and type(term_buffer) is _CAtomicBuffer:
        gap_begin, gap_length = _scan_for_gap(term_buffer, rebuild_offset, limit_offset)
        return gap_begin, (Gap(term_id, gap_begin, gap_length) if gap_length else None)
    offset = rebuild_offset
    while offset < limit_offset:
        frame_length = term_buffer.get_int32_volatile(offset)
        if frame_length <= 0:
            break
        offset += (frame_length + (FRAME_ALIGNMENT - 1)) & ~(FRAME_ALIGNMENT - 1)

    gap_begin = offset
    if offset >= limit_offset:
        return gap_begin, None

    offset += HEADER_LENGTH
    while offset < limit_offset:
        if term_buffer.get_int32_volatile(offset) != 0:
            break
        offset += HEADER_LENGTH
    return gap_begin, Gap(term_id, gap_begin, offset - gap_begin)


def scan_for_gap(term_buffer: Buffer, term_id: int, rebuild_offset: int, hwm_offset: int) -> Gap | None:
    """The first gap in ``[rebuild_offset, hwm_offset)`` of one term, or ``None``."""
    return scan_for_gap_offset(term_buffer, term_id, rebuild_offset, hwm_offset)[1]


def new_rebuild_position(rebuild_position: int, rebuild_offset: int, term_length_mask: int) -> int:
    """Position corresponding to the term offset :meth:`LossDetector.scan` returned."""
    return (rebuild_position - (rebuild_position & term_length_mask)) + rebuild_offset


class LossDetector:
    """Detects the first gap after the rebuild position and times its NAKs."""

    __slots__ = ("_delay_generator", "_active_gap", "_expiry_ns", "loss_found")

    def __init__(self, delay_generator: FeedbackDelayGenerator) -> None:
        self._delay_generator = delay_generator
        self._active_gap = Gap(0, -1, 0)
        self._expiry_ns = TIMER_INACTIVE
        #: True if the last :meth:`scan` activated a new gap (Aeron's ``loss_found``).
        self.loss_found = False

    @property
    def active_gap(self) -> Gap | None:
        """The gap the timer currently belongs to (``None`` before the first gap)."""
        return None if self._active_gap.term_offset < 0 else self._active_gap

    @property
    def expiry_ns(self) -> int:
        """When the timer fires next (``-1`` before any gap was seen)."""
        return self._expiry_ns

    def scan(
        self,
        term_buffer: Buffer,
        rebuild_position: int,
        hwm_position: int,
        now_ns: int,
        term_length_mask: int,
        bits: int,
        initial_term_id: int,
    ) -> tuple[int, Gap | None]:
        """Scan the rebuild term; returns ``(rebuild_offset, gap_to_report_now)``.

        ``term_buffer`` is the partition holding ``rebuild_position``.  ``rebuild_offset`` is
        the term offset the rebuild position may advance to (see :func:`new_rebuild_position`);
        the gap is returned only when its timer has expired (then NAK it, or fill it when
        unreliable).  :attr:`loss_found` tells whether a new gap was activated.
        """
        self.loss_found = False
        rebuild_offset = rebuild_position & term_length_mask
        if rebuild_position >= hwm_position:
            return rebuild_offset, None

        rebuild_term_count = int32(rebuild_position >> bits)
        hwm_term_count = int32(hwm_position >> bits)
        rebuild_term_id = int32(initial_term_id + rebuild_term_count)
        limit_offset = (hwm_position & term_length_mask) if rebuild_term_count == hwm_term_count else term_length_mask + 1

        rebuild_offset, scanned = scan_for_gap_offset(term_buffer, rebuild_term_id, rebuild_offset, limit_offset)
        report: Gap | None = None
        if scanned is not None:
            if scanned != self._active_gap:
                self._active_gap = scanned
                self._expiry_ns = now_ns + self._delay_generator.generate_delay_ns()
                self.loss_found = True
            if now_ns >= self._expiry_ns:
                report = self._active_gap
                self._expiry_ns = now_ns + self._delay_generator.retry_delay_ns()
        return rebuild_offset, report


__all__ = ["Gap", "LossDetector", "scan_for_gap", "scan_for_gap_offset", "new_rebuild_position", "TIMER_INACTIVE"]
