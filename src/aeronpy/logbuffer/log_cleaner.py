"""Zeroing consumed log regions so partitions are clean before producers reuse them."""

from __future__ import annotations

from typing import Any, Sequence


def clean_log(term_buffers: Sequence[Any], term_length: int, bits: int, clean_position: int, position: int) -> int:
    """Zero from ``clean_position`` towards ``position``, at most to the end of one term per call.

    The first 8 bytes of the region (the frame_length word) are zeroed last with a release
    store.  Returns the new clean position.
    """
    if position <= clean_position:
        return clean_position
    term = term_buffers[(clean_position >> bits) % 3]
    term_offset = clean_position & (term_length - 1)
    length = min(position - clean_position, term_length - term_offset)
    if length > 8:
        term.set_memory(term_offset + 8, length - 8, 0)
    term.put_int64_ordered(term_offset, 0)
    return clean_position + length
