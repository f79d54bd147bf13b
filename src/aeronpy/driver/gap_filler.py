"""Gap filler for unreliable images (log-buffer.md §7 "Gap filler").

Instead of NAKing, a gap reported by the loss detector on a ``reliable=false`` image is
covered by a PAD frame so the subscriber can move past it.
"""

from __future__ import annotations

from aeronpy.concurrent.atomic_buffer import Buffer
from aeronpy.logbuffer.term_unblocker import reset_header
from aeronpy.protocol.data_header import FRAME_ALIGNMENT



def try_fill_gap(metadata: Buffer, term_buffer: Buffer, term_id: int, gap_offset: int, gap_length: int) -> bool:
    """Write a PAD frame of ``gap_length`` at ``gap_offset`` if the gap is still empty.

    Every 32-byte slot of the gap is checked, from the end backwards, to still have
    ``frame_length == 0`` (data may have arrived meanwhile); if any has not, nothing is
    written and ``False`` is returned.  Otherwise the default frame header from the metadata
    (``LOG_DEFAULT_FRAME_HEADER_OFFSET``) is copied to the gap start with type PAD,
    ``term_offset = gap_offset``, ``term_id``, and ``frame_length = gap_length`` is
    release-stored last.
    """
    offset = gap_offset + gap_length - FRAME_ALIGNMENT
    while offset >= gap_offset:
        if term_buffer.get_int32_volatile(offset) != 0:
            return False
        offset -= FRAME_ALIGNMENT
    reset_header(metadata, term_buffer, gap_offset, term_id, gap_length)
    return True


__all__ = ["try_fill_gap"]
