"""Fragment assemblers: rebuild messages split into BEGIN..END fragments, per session.

Pass ``assembler.on_fragment`` as the poll handler.  Unfragmented frames go straight to the
delegate; a reassembled message is delivered from the assembler's own buffer with a header
whose frame length covers the whole message and whose position is after the last fragment.
"""

from __future__ import annotations

from typing import Any, Callable

from aeronpy._logbuffer import AssemblerBase
from aeronpy.concurrent.atomic_buffer import AtomicBuffer, PyAtomicBuffer, view_of
from aeronpy.logbuffer.descriptor import compute_fragmented_length
from aeronpy.logbuffer.header import Header
from aeronpy.protocol.data_header import BEGIN_AND_END_FLAGS, BEGIN_FLAG, END_FLAG

FragmentHandler = Callable[[Any, int, int, Header], None]
ControlledFragmentHandler = Callable[[Any, int, int, Header], Any]

_ABORT = 1
_CONTINUE = 4
_MAX_CAPACITY = (1 << 31) - 9


class BufferBuilder:
    """Growable reassembly buffer plus a private copy of the first fragment's header."""

    __slots__ = ("buffer", "capacity", "limit", "next_term_offset", "first_frame_length", "header", "image")

    def __init__(self, initial_length: int = 4096) -> None:
        self.capacity = max(initial_length, 32)
        self.buffer: Any = AtomicBuffer(bytearray(self.capacity))
        self.limit = 0
        self.next_term_offset = -1
        self.first_frame_length = 0
        self.header = Header(0, 16)
        self.header.buffer = AtomicBuffer(bytearray(32))
        self.image: Any = None  # the image (header context) its fragments came from

    def reset(self) -> None:
        self.limit = 0
        self.next_term_offset = -1

    def append(self, src: Any, offset: int, length: int) -> None:
        required = self.limit + length
        if required > self.capacity:
            capacity = self.capacity
            while capacity < required:
                capacity = min(capacity + (capacity >> 1), _MAX_CAPACITY)
                if capacity == _MAX_CAPACITY and capacity < required:
                    raise ValueError(f"reassembled message exceeds max capacity {_MAX_CAPACITY}")
            new = AtomicBuffer(bytearray(capacity))
            new.put_bytes(0, self.buffer, 0, self.limit)
            self.buffer.release()
            self.buffer = new
            self.capacity = capacity
        if type(src) is PyAtomicBuffer:
            src = view_of(src)
        self.buffer.put_bytes(self.limit, src, offset, length)
        self.limit = required

    def capture_header(self, header: Header) -> None:
        self.image = header.context
        h = self.header
        h.initial_term_id = header.initial_term_id
        h.position_bits_to_shift = header.position_bits_to_shift
        h.context = header.context
        h.fragmented_frame_length = -1
        src = header.buffer
        if type(src) is PyAtomicBuffer:
            src = view_of(src)
        h.buffer.put_bytes(0, src, header.offset, 32)
        self.first_frame_length = h.buffer.get_int32(0)

    def complete_header(self, header: Header) -> Header:
        h = self.header
        h.context = header.context
        hb = h.buffer
        h.fragmented_frame_length = compute_fragmented_length(self.limit, self.first_frame_length - 32)
        hb.put_int32(0, 32 + self.limit)
        hb.put_uint8(5, hb.get_uint8(5) | header.flags)
        return h


def _image_gone(builder: BufferBuilder) -> bool:
    return bool(getattr(builder.image, "is_closed", False))


class _SessionBuffers:
    """Per-session builders.  A builder whose image has closed is freed when the next new
    session needs one, so session churn (publishers coming and going) cannot grow the map
    without bound; :meth:`on_unavailable_image` frees one at once."""

    _builders: dict[int, BufferBuilder]
    initial_buffer_length: int

    def _builder_for(self, session_id: int) -> BufferBuilder:
        builder = self._builders.get(session_id)
        if builder is None or _image_gone(builder):
            for sid in [sid for sid, b in self._builders.items() if _image_gone(b)]:
                self.free_session_buffer(sid)
            builder = self._builders[session_id] = BufferBuilder(self.initial_buffer_length)
        return builder

    def free_session_buffer(self, session_id: int) -> bool:
        """Forget a session's partial message and its buffer (e.g. its image went away)."""
        builder = self._builders.pop(session_id, None)
        if builder is None:
            return False
        builder.buffer.release()
        return True

    def on_unavailable_image(self, image: Any) -> None:
        """Usable as a subscription's ``unavailable_image_handler``: frees that session's buffer."""
        self.free_session_buffer(image.session_id)

    @property
    def session_buffer_count(self) -> int:
        return len(self._builders)


def _next_term_offset(buffer: Any, offset: int, length: int) -> int:
    term_offset: int = buffer.get_int32(offset - 24)
    return (term_offset + length + 32 + 31) & ~31


class FragmentAssembler(AssemblerBase, _SessionBuffers):
    """Reassembles fragmented messages per session id before calling ``delegate``.

    Its common path (an unfragmented frame goes straight to the delegate) is taken by the C
    reader itself when ``on_fragment`` is the poll handler and not overridden.
    """

    def __init__(self, delegate: FragmentHandler, initial_buffer_length: int = 4096) -> None:
        self.delegate = delegate
        self.fast_function = FragmentAssembler.on_fragment if type(self).on_fragment is FragmentAssembler.on_fragment else None
        self.initial_buffer_length = initial_buffer_length
        self._builders: dict[int, BufferBuilder] = {}

    def on_fragment(self, buffer: Any, offset: int, length: int, header: Header) -> None:
        flags = buffer.get_uint8(offset - 27)
        if flags & BEGIN_AND_END_FLAGS == BEGIN_AND_END_FLAGS:
            self.delegate(buffer, offset, length, header)
            return
        session_id = buffer.get_int32(offset - 20)
        builder = self._builders.get(session_id)
        if flags & BEGIN_FLAG:
            if builder is None or builder.image is not header.context:
                builder = self._builder_for(session_id)
            builder.reset()
            builder.capture_header(header)
            builder.append(buffer, offset, length)
            builder.next_term_offset = _next_term_offset(buffer, offset, length)
        elif builder is not None:
            if builder.next_term_offset == buffer.get_int32(offset - 24):
                builder.append(buffer, offset, length)
                if flags & END_FLAG:
                    try:
                        self.delegate(builder.buffer, 0, builder.limit, builder.complete_header(header))
                    finally:
                        builder.reset()
                else:
                    builder.next_term_offset = _next_term_offset(buffer, offset, length)
            else:
                builder.reset()


    def clear(self) -> None:
        for builder in self._builders.values():
            builder.reset()

    __call__ = on_fragment


class ControlledFragmentAssembler(AssemblerBase, _SessionBuffers):
    """Controlled variant: the delegate's action for a reassembled message is honoured.

    On ABORT of a reassembled message the last fragment is un-appended so it can be redelivered.
    """

    def __init__(self, delegate: ControlledFragmentHandler, initial_buffer_length: int = 4096) -> None:
        self.delegate = delegate
        self.fast_function = (
            ControlledFragmentAssembler.on_fragment
            if type(self).on_fragment is ControlledFragmentAssembler.on_fragment else None
        )
        self.initial_buffer_length = initial_buffer_length
        self._builders: dict[int, BufferBuilder] = {}

    def on_fragment(self, buffer: Any, offset: int, length: int, header: Header) -> Any:
        flags = buffer.get_uint8(offset - 27)
        if flags & BEGIN_AND_END_FLAGS == BEGIN_AND_END_FLAGS:
            return self.delegate(buffer, offset, length, header)
        session_id = buffer.get_int32(offset - 20)
        builder = self._builders.get(session_id)
        action: Any = _CONTINUE
        if flags & BEGIN_FLAG:
            if builder is None or builder.image is not header.context:
                builder = self._builder_for(session_id)
            builder.reset()
            builder.capture_header(header)
            builder.append(buffer, offset, length)
            builder.next_term_offset = _next_term_offset(buffer, offset, length)
        elif builder is not None:
            if builder.next_term_offset == buffer.get_int32(offset - 24):
                limit = builder.limit
                builder.append(buffer, offset, length)
                if flags & END_FLAG:
                    action = self.delegate(builder.buffer, 0, builder.limit, builder.complete_header(header))
                    if action == _ABORT:
                        builder.limit = limit
                        # the captured header's length/flags are rewritten on completion
                        builder.header.buffer.put_int32(0, builder.first_frame_length)
                    else:
                        builder.reset()
                else:
                    builder.next_term_offset = _next_term_offset(buffer, offset, length)
            else:
                builder.reset()
        return action


    __call__ = on_fragment
