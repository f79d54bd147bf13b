"""Term readers (log-buffer.md §7): deliver committed fragments of one term to a handler.

``handler(buffer, offset, length, header)`` receives the payload region; PAD frames are
skipped but consume space.  A read never crosses the end of the term.  These functions do not
touch a position counter; :class:`aeronpy.client.image.Image` wraps them with one.
"""

from __future__ import annotations

from typing import Any, Callable

from aeronpy.logbuffer.header import Header
from aeronpy.protocol.data_header import HDR_TYPE_PAD

FragmentHandler = Callable[[Any, int, int, Header], None]
BlockHandler = Callable[[Any, int, int, int, int], None]
"""``handler(term_buffer, offset, length, session_id, term_id)`` for a block of whole frames."""
ControlledFragmentHandler = Callable[[Any, int, int, Header], Any]

_ABORT = 1
_BREAK = 2
_COMMIT = 3


def read(
    term_buffer: Any,
    term_offset: int,
    handler: FragmentHandler,
    fragment_limit: int,
    header: Header,
    limit_offset: int = -1,
) -> tuple[int, int]:
    """Deliver up to ``fragment_limit`` fragments from ``term_offset``.

    Returns ``(fragments_read, new_term_offset)``.  If the handler raises, the exception
    propagates with attribute ``aeron_term_offset`` set to the offset just after the frame
    being handled (the position a caller should commit).
    """
    if limit_offset < 0 or limit_offset > term_buffer.capacity:
        limit_offset = term_buffer.capacity
    frames, end = term_buffer.scan_frames(term_offset, limit_offset, fragment_limit, HDR_TYPE_PAD)
    if frames:
        header.buffer = term_buffer
        fo = fl = 0
        try:
            for fo, fl in frames:
                header.offset = fo
                handler(term_buffer, fo + 32, fl - 32, header)
        except BaseException as e:
            try:
                e.aeron_term_offset = fo + ((fl + 31) & ~31)  # type: ignore[attr-defined]
            except AttributeError:  # pragma: no cover - exceptions without a __dict__
                pass
            raise
    return len(frames), end


def scan_block(term_buffer: Any, term_offset: int, limit_offset: int) -> int:
    """Offset after the whole committed frames from ``term_offset`` that fit below
    ``limit_offset`` (Aeron's term block scan): stops before padding, unless the padding is
    first, then the block is just that padding."""
    offset = term_offset
    while offset < limit_offset:
        frame_length = term_buffer.get_int32_volatile(offset)
        if frame_length <= 0:
            break
        aligned = (frame_length + 31) & ~31
        if term_buffer.get_uint16(offset + 6) == HDR_TYPE_PAD:
            if offset == term_offset:
                offset += aligned
            break
        if offset + aligned > limit_offset:
            break
        offset += aligned
    return offset


def read_batch(term_buffer: Any, term_offset: int, max_fragments: int) -> tuple[list[tuple[int, int]], int]:
    """Payload ``(offset, length)`` of up to ``max_fragments`` committed fragments from
    ``term_offset`` (padding skipped) and the term offset after the last frame taken."""
    frames, end = term_buffer.scan_frames(term_offset, term_buffer.capacity, max_fragments, HDR_TYPE_PAD)
    return [(fo + 32, fl - 32) for fo, fl in frames], end


def controlled_read(
    term_buffer: Any,
    term_offset: int,
    handler: ControlledFragmentHandler,
    fragment_limit: int,
    header: Header,
    on_commit: Callable[[int], None] | None = None,
    limit_offset: int = -1,
) -> tuple[int, int]:
    """Controlled variant: honours ABORT/BREAK/COMMIT/CONTINUE (see ``ControlledPollAction``).

    ``on_commit(term_offset)`` is called for COMMIT with the offset consumed so far.  Returns
    ``(fragments_read, new_term_offset)``; on a handler exception it behaves like :func:`read`.
    """
    if limit_offset < 0 or limit_offset > term_buffer.capacity:
        limit_offset = term_buffer.capacity
    frames, end = term_buffer.scan_frames(term_offset, limit_offset, fragment_limit, HDR_TYPE_PAD)
    if not frames:
        return 0, end
    header.buffer = term_buffer
    count = 0
    fo = fl = 0
    try:
        for fo, fl in frames:
            header.offset = fo
            action = handler(term_buffer, fo + 32, fl - 32, header)
            if action == _ABORT:
                return count, fo
            count += 1
            if action == _BREAK:
                return count, fo + ((fl + 31) & ~31)
            if action == _COMMIT and on_commit is not None:
                on_commit(fo + ((fl + 31) & ~31))
    except BaseException as e:
        try:
            e.aeron_term_offset = fo + ((fl + 31) & ~31)  # type: ignore[attr-defined]
        except AttributeError:  # pragma: no cover
            pass
        raise
    return count, end
