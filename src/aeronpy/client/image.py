"""Image: one publisher's stream as seen by a subscription (reads the log, moves sub-pos)."""

from __future__ import annotations

from typing import Any

from aeronpy._logbuffer import Reader
from aeronpy.logbuffer import descriptor as d
from aeronpy.protocol.data_header import BEGIN_FLAG, END_FLAG, HDR_TYPE_PAD
from aeronpy.logbuffer.fragment_batch import FragmentBatchLike, PyFragmentBatch
from aeronpy.logbuffer.header import Header
from aeronpy.logbuffer.log_buffers import LogBuffers
from aeronpy.logbuffer.term_reader import (
    ControlledFragmentHandler,
    BlockHandler,
    FragmentHandler,
    controlled_read,
    read,
    read_batch,
    scan_block,
)


class Image:
    """Reader of a log buffer whose consumption is tracked by a subscriber-position counter.

    A handler exception propagates out of ``poll``; the position is first moved past the
    fragment that raised (it is not redelivered).

    ``poll``, ``bounded_poll``, ``controlled_poll`` and ``poll_batch`` run in the C term reader
    (:class:`aeronpy._logbuffer.Reader`) when the log and the position counter live in C
    ``AtomicBuffer`` s; the Python methods are their twins (``native=False`` forces them).
    """

    def __init__(
        self,
        subscription: object | None,
        log_buffers: LogBuffers,
        subscriber_position: Any,
        correlation_id: int,
        session_id: int,
        source_identity: str,
        join_position: int,
        subscriber_position_id: int,
        *,
        native: bool | None = None,
    ) -> None:
        self.subscription = subscription
        self.log_buffers = log_buffers
        self.subscriber_position = subscriber_position
        self.correlation_id = correlation_id
        self.session_id = session_id
        self.source_identity = source_identity
        self.join_position = join_position
        self.subscriber_position_id = subscriber_position_id
        meta = log_buffers.metadata
        self._meta = meta
        self.term_buffer_length = log_buffers.term_length
        self.initial_term_id = int(meta.get_int32(d.LOG_INITIAL_TERM_ID_OFFSET))
        self.mtu_length = int(meta.get_int32(d.LOG_MTU_LENGTH_OFFSET))
        self.position_bits_to_shift = d.position_bits_to_shift(self.term_buffer_length)
        self._term_buffers = tuple(log_buffers.term_buffers)
        self._mask = self.term_buffer_length - 1
        self._get = subscriber_position.get
        self._set = subscriber_position.set
        self._header = Header(self.initial_term_id, self.position_bits_to_shift, self)
        self._closed = False
        self._final_position = 0
        self._eos_position = d.INT64_MAX
        self._is_eos = False
        self._batch: PyFragmentBatch | None = None
        self._reader: Reader | None = None
        self._make_reader(native)

    def _make_reader(self, native: bool | None) -> None:
        from aeronpy.client.publication import NATIVE_DEFAULT, counter_location, native_log

        if native is None:
            native = NATIVE_DEFAULT
        location = counter_location(self.subscriber_position)
        if not native or location is None or not native_log(self.log_buffers):
            return
        reader = Reader(self._term_buffers, location[0], location[1], self._header, self.session_id)
        self._reader = reader
        # instance attributes shadow the Python twins: one Python->C call per poll
        self.poll = reader.poll  # type: ignore[method-assign]
        self.bounded_poll = reader.bounded_poll  # type: ignore[method-assign]
        self.controlled_poll = reader.controlled_poll  # type: ignore[method-assign]
        self.poll_batch = reader.poll_batch  # type: ignore[method-assign]
        self.block_poll = reader.block_poll  # type: ignore[method-assign]
        self.take = reader.take  # type: ignore[method-assign]

    @property
    def poll_target(self) -> Any:
        """What a subscription's :class:`aeronpy._logbuffer.ImageSet` polls: the C reader when
        native (called without a Python frame), else this image."""
        return self._reader if self._reader is not None else self

    @property
    def is_native(self) -> bool:
        """True if polls run in the C term reader."""
        return self._reader is not None

    # -- reading -----------------------------------------------------------------------------

    def poll(self, handler: FragmentHandler, fragment_limit: int) -> int:
        """Deliver up to ``fragment_limit`` fragments; returns the number delivered."""
        if self._closed:
            return 0
        self._settle()
        position = self._get()
        offset = position & self._mask
        tb = self._term_buffers[(position >> self.position_bits_to_shift) % 3]
        try:
            count, end = read(tb, offset, handler, fragment_limit, self._header)
        except BaseException as e:
            self._advance(position, getattr(e, "aeron_term_offset", offset) - offset)
            raise
        if end > offset and not self._closed:
            self._set(position + end - offset)
        return count

    def bounded_poll(self, handler: FragmentHandler, limit_position: int, fragment_limit: int) -> int:
        """Like :meth:`poll` but no fragment starting at or beyond ``limit_position``."""
        if self._closed:
            return 0
        self._settle()
        position = self._get()
        if position >= limit_position:
            return 0
        offset = position & self._mask
        limit_offset = min(self.term_buffer_length, limit_position - position + offset)
        tb = self._term_buffers[(position >> self.position_bits_to_shift) % 3]
        try:
            count, end = read(tb, offset, handler, fragment_limit, self._header, limit_offset)
        except BaseException as e:
            self._advance(position, getattr(e, "aeron_term_offset", offset) - offset)
            raise
        if end > offset and not self._closed:
            self._set(position + end - offset)
        return count

    def controlled_poll(self, handler: ControlledFragmentHandler, fragment_limit: int) -> int:
        """Deliver fragments to a handler returning :class:`ControlledPollAction` values."""
        if self._closed:
            return 0
        self._settle()
        position = self._get()
        offset = position & self._mask
        tb = self._term_buffers[(position >> self.position_bits_to_shift) % 3]
        term_base = position - offset

        def on_commit(term_offset: int) -> None:
            if not self._closed:
                self._set(term_base + term_offset)

        try:
            count, end = controlled_read(tb, offset, handler, fragment_limit, self._header, on_commit)
        except BaseException as e:
            self._advance(position, getattr(e, "aeron_term_offset", offset) - offset)
            raise
        if end > offset and not self._closed:
            self._set(term_base + end)
        return count

    def take(self) -> bytes | None:
        """The next whole message copied out as ``bytes``, or None if none is complete yet.

        Not an Aeron API: a ``recv()``-style call (one call per message, no handler).  A
        fragmented message is returned whole once all its fragments are committed; fragments
        whose BEGIN was missed (joined mid-message) and padding are skipped."""
        if self._closed:
            return None
        self._settle()
        position = self._get()
        start = offset = position & self._mask
        tb = self._term_buffers[(position >> self.position_bits_to_shift) % 3]
        end_limit = self.term_buffer_length - 32
        result: bytes | None = None
        while offset <= end_limit:
            frame_length = tb.get_int32_volatile(offset)
            if frame_length <= 0:
                break
            flags = tb.get_uint8(offset + 5)
            if tb.get_uint16(offset + 6) == HDR_TYPE_PAD or not flags & BEGIN_FLAG:
                offset += (frame_length + 31) & ~31
                continue
            parts = []
            scan = offset
            while True:
                fl = tb.get_int32_volatile(scan)
                if fl <= 0:
                    break
                parts.append(tb.get_bytes(scan + 32, fl - 32))
                if tb.get_uint8(scan + 5) & END_FLAG:
                    result = b"".join(parts)
                    offset = scan + ((fl + 31) & ~31)
                    break
                scan += (fl + 31) & ~31
                if scan > end_limit:
                    break
            break
        if offset > start and not self._closed:
            self._set(position + offset - start)
        return result

    def block_poll(self, handler: BlockHandler, block_length_limit: int) -> int:
        """Deliver whole committed frames, headers included, as one block of at most
        ``block_length_limit`` bytes: ``handler(term_buffer, offset, length, session_id,
        term_id)`` (Aeron's blockPoll).  A block stops before padding; padding at the start is
        a block of its own.  Returns the bytes consumed.  A handler exception propagates after
        the position moved past the block."""
        if self._closed:
            return 0
        self._settle()
        position = self._get()
        offset = position & self._mask
        tb = self._term_buffers[(position >> self.position_bits_to_shift) % 3]
        limit = min(offset + block_length_limit, self.term_buffer_length)
        end = scan_block(tb, offset, limit)
        length = int(end - offset)
        if length > 0:
            try:
                handler(tb, offset, length, self.session_id, tb.get_int32(offset + 20))
            finally:
                if not self._closed:
                    self._set(position + length)
        return length

    def poll_batch(self, max_fragments: int) -> FragmentBatchLike:
        """Take up to ``max_fragments`` fragments in one call, without a call per fragment.

        Not an Aeron API.  The returned batch gives each fragment's payload offset and length
        in the term (``offset(i)``, ``length(i)``, ``offsets()``, ``lengths()``), copies
        (``get_bytes(i)``, ``copies()``) or zero-copy memoryviews (``views()``, ``view()``).

        Validity: the fragments stay consumed-but-unacknowledged until the batch is released,
        so the publisher cannot overwrite them: the subscriber position moves past them only
        when ``batch.release()`` is called, the ``with`` block ends, the batch is garbage, or
        the next ``poll``/``bounded_poll``/``controlled_poll``/``poll_batch`` of this image
        starts.  After that every method of the batch raises
        :class:`~aeronpy._logbuffer.StaleBatchError` and every memoryview it handed out is
        released (using one raises ``ValueError``).  Copy what must outlive the batch, and do
        not slice the views (a slice is not released with them).  Padding is skipped; a batch
        never crosses the end of a term.
        """
        if max_fragments < 0:
            raise ValueError(f"max_fragments must be >= 0, got {max_fragments}")
        self._settle()
        if self._closed:
            return PyFragmentBatch.empty(self._release_batch)
        position = self._get()
        offset = position & self._mask
        tb = self._term_buffers[(position >> self.position_bits_to_shift) % 3]
        frames, end = read_batch(tb, offset, max_fragments)
        batch = PyFragmentBatch(tb, frames, position + end - offset, self._release_batch)
        self._batch = batch
        return batch

    def _release_batch(self, batch: PyFragmentBatch) -> None:
        if self._batch is batch:
            self._batch = None
            if not self._closed and self._get() < batch.position:
                self._set(batch.position)

    def _settle(self) -> None:
        batch = self._batch
        if batch is not None:
            batch.release()

    def _advance(self, position: int, delta: int) -> None:
        if delta > 0 and not self._closed:
            self._set(position + delta)

    # -- state -------------------------------------------------------------------------------

    @property
    def position(self) -> int:
        """Subscriber position (frozen once closed)."""
        if self._closed:
            return self._final_position
        return int(self._get())

    def set_position(self, new_position: int) -> None:
        """Move the position within the current term (32-byte aligned, not backwards)."""
        if self._closed:
            return
        current = int(self._get())
        limit = (current - (current & self._mask)) + self.term_buffer_length
        if new_position < current or new_position > limit:
            raise ValueError(f"new_position={new_position} outside range {current}..{limit}")
        if new_position & 31:
            raise ValueError(f"new_position={new_position} not aligned to 32")
        self._set(new_position)

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def is_end_of_stream(self) -> bool:
        if self._closed:
            return self._is_eos
        return int(self._get()) >= d.end_of_stream_position(self._meta)

    @property
    def end_of_stream_position(self) -> int:
        if self._closed:
            return self._eos_position
        return d.end_of_stream_position(self._meta)

    @property
    def active_transport_count(self) -> int:
        if self._closed:
            return 0
        return d.active_transport_count(self._meta)

    @property
    def is_publication_revoked(self) -> bool:
        return d.is_publication_revoked(self._meta)

    def reject(self, reason: str) -> None:
        """Ask the driver to reject this image (REJECT_IMAGE with the current position).

        The driver stops acknowledging the stream and tells the publisher (ERR frames for a
        network image, ON_PUBLICATION_ERROR for IPC).  Blocks for the driver's answer; raises
        :class:`~aeronpy.errors.RegistrationError` if the driver refused it."""
        conductor: Any = getattr(self.subscription, "_conductor", None)
        if conductor is None:
            raise RuntimeError("image is not attached to a client")
        conductor.reject_image(self.correlation_id, self.position, reason)

    def close(self) -> None:
        """Freeze the position; polls return 0 afterwards.  The log buffers are not closed."""
        if self._closed:
            return
        self._eos_position = d.end_of_stream_position(self._meta)
        self._final_position = int(self._get())
        self._is_eos = self._final_position >= self._eos_position
        self._closed = True
        if self._batch is not None:
            self._batch.release()
        if self._reader is not None:
            self._reader.close()

    def __repr__(self) -> str:
        return (
            f"Image(correlation_id={self.correlation_id}, session_id={self.session_id}, "
            f"source_identity={self.source_identity!r})"
        )
