"""Publication (concurrent, many writers) and ExclusivePublication (single writer).

``offer`` returns the new stream position (> 0) or a negative code from
:mod:`aeronpy.client.results`.  Messages longer than ``max_message_length`` (or claims longer
than ``max_payload_length``) raise ``ValueError``.

The per-message paths (``offer``, ``offerv``, ``try_claim``, ``append_padding``,
``offer_batch``) run in the C kernel :class:`aeronpy._logbuffer.Appender`, one call each, when
the log and the publication-limit counter live in C ``AtomicBuffer`` s; the Python methods
below are their twins (used otherwise, with ``native=False`` or ``AERONPY_PURE_PYTHON=1``).
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence

from aeronpy._logbuffer import Appender, set_source_adapter
from aeronpy.concurrent.atomic_buffer import AtomicBuffer, HAVE_C_EXTENSION

from aeronpy.client.buffer_claim import BufferClaim
from aeronpy.client.results import (
    ADMIN_ACTION,
    BACK_PRESSURED,
    CLOSED,
    MAX_POSITION_EXCEEDED,
    NOT_CONNECTED,
)
from aeronpy.errors import AeronError
from aeronpy.logbuffer import descriptor as d
from aeronpy.logbuffer.log_buffers import LogBuffers
from aeronpy.logbuffer.term_appender import (
    ExclusiveTermAppender,
    ReservedValueSupplier,
    TermAppender,
    source_view,
)

_IS_CONNECTED_OFFSET = d.LOG_IS_CONNECTED_OFFSET
ADD_DESTINATION = 0x07
REMOVE_DESTINATION = 0x08
_ACTIVE_TERM_COUNT_OFFSET = d.LOG_ACTIVE_TERM_COUNT_OFFSET

NATIVE_DEFAULT = HAVE_C_EXTENSION and os.environ.get("AERONPY_PURE_PYTHON", "") != "1"
"""Whether publications and images use the C kernels unless told otherwise."""

set_source_adapter(lambda src: source_view(src)[0])


def _join(buffers: Sequence[Any]) -> bytes:
    return b"".join(source_view(b)[0] for b in buffers)


def _source_range(buffer: Any, offset: int, length: int) -> tuple[Any, int]:
    """``offer``'s source and length (``-1``: to the end), or IndexError for a range outside it."""
    t = type(buffer)
    if t is bytes or t is bytearray:
        n = len(buffer)
    else:
        buffer, n = source_view(buffer)
    if length < 0:
        length = n - offset
    if offset < 0 or length < 0 or length > n - offset:  # an offset past the end with -1: negative
        raise IndexError(f"range {offset}+{length} outside source of {n} bytes")
    return buffer, length


def counter_location(counter: Any) -> tuple[Any, int] | None:
    """``(C AtomicBuffer, offset)`` holding a counter's value, or None if it has none."""
    buffer = getattr(counter, "values_buffer", None)
    offset = getattr(counter, "offset", None)
    if HAVE_C_EXTENSION and type(buffer) is AtomicBuffer and type(offset) is int:
        return buffer, offset
    return None


def native_log(log_buffers: Any) -> bool:
    """True if every buffer of the log is a C AtomicBuffer (the kernels can use it)."""
    return HAVE_C_EXTENSION and type(log_buffers.metadata) is AtomicBuffer and all(
        type(tb) is AtomicBuffer for tb in log_buffers.term_buffers
    )


def _offer_batch_twin(offer: Any, messages: Sequence[Any]) -> tuple[int, int]:
    accepted = 0
    result = 0
    for message in messages:
        result = offer(message)
        if result < 0:
            break
        accepted += 1
    return accepted, result


class _PublicationBase:
    """State and accessors shared by both publication kinds."""

    def __init__(
        self,
        conductor: object | None,
        log_buffers: LogBuffers,
        channel: str,
        stream_id: int,
        session_id: int,
        publication_limit: Any,
        channel_status_id: int,
        registration_id: int,
        original_registration_id: int,
    ) -> None:
        self._conductor = conductor
        self.log_buffers = log_buffers
        self.channel = channel
        self.stream_id = stream_id
        self.session_id = session_id
        self.publication_limit = publication_limit
        self.channel_status_id = channel_status_id
        self.registration_id = registration_id
        self.original_registration_id = original_registration_id
        meta = log_buffers.metadata
        self._meta = meta
        self.term_buffer_length = log_buffers.term_length
        self.initial_term_id = int(meta.get_int32(d.LOG_INITIAL_TERM_ID_OFFSET))
        self.mtu_length = int(meta.get_int32(d.LOG_MTU_LENGTH_OFFSET))
        self.position_bits_to_shift = d.position_bits_to_shift(self.term_buffer_length)
        self.max_payload_length = self.mtu_length - 32
        self.max_message_length = d.max_message_length(self.term_buffer_length)
        self.max_possible_position = self.term_buffer_length << 31
        self._limit_get = publication_limit.get
        self._closed = False
        self._kernel: Appender | None = None

    def _make_kernel(self, native: bool | None, exclusive: bool) -> None:
        """Bind the per-message methods to a C :class:`Appender` if the log allows it."""
        if native is None:
            native = NATIVE_DEFAULT
        location = counter_location(self.publication_limit)
        if not native or location is None or not native_log(self.log_buffers):
            return
        kernel = Appender(
            self.log_buffers.term_buffers, self._meta, location[0], location[1],
            self.session_id, self.stream_id, exclusive,
        )
        self._kernel = kernel
        # instance attributes shadow the Python twins: one Python->C call per message
        self.offer = kernel.offer
        self.offerv = kernel.offerv
        self.try_claim = kernel.try_claim
        self.offer_batch = kernel.offer_batch  # type: ignore[method-assign]

    @property
    def is_native(self) -> bool:
        """True if offers run in the C kernel."""
        return self._kernel is not None

    def offer_batch(self, messages: Sequence[Any]) -> tuple[int, int]:
        """Offer each message of ``messages`` (any buffers) in order, in one call.

        Stops at the first message refused.  Returns ``(accepted, result)``: how many were
        appended, and the last result: the new position if all were accepted, else the code
        that stopped the batch (``BACK_PRESSURED``, ``ADMIN_ACTION``, ...; that message and
        the ones after it were not sent, so retry from ``messages[accepted]``).  ``(0, 0)`` for
        no messages.  Not an Aeron API: it saves the per-call cost of Python.
        """
        return _offer_batch_twin(self.offer, messages)

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def is_connected(self) -> bool:
        """True while open and the driver reports subscribers/receivers."""
        return not self._closed and self._meta.get_int32_volatile(_IS_CONNECTED_OFFSET) == 1

    @property
    def position_limit(self) -> int:
        """Position up to which offers may proceed, or CLOSED."""
        if self._closed:
            return CLOSED
        return int(self._limit_get())

    @property
    def publication_limit_id(self) -> int:
        return int(getattr(self.publication_limit, "counter_id", getattr(self.publication_limit, "id", -1)))

    @property
    def is_publication_revoked(self) -> bool:
        return d.is_publication_revoked(self._meta)

    def _check_message_length(self, length: int) -> None:
        if length > self.max_message_length:
            raise ValueError(
                f"message exceeds max_message_length of {self.max_message_length}, length={length}"
            )

    def _check_claim_length(self, length: int) -> None:
        if length > self.max_payload_length:
            raise ValueError(
                f"claim exceeds max_payload_length of {self.max_payload_length}, length={length}"
            )
        if length < 0:
            raise ValueError(f"negative claim length {length}")

    def _not_connected_status(self) -> int:
        return BACK_PRESSURED if self._meta.get_int32_volatile(_IS_CONNECTED_OFFSET) == 1 else NOT_CONNECTED

    def close(self) -> None:
        """Release the publication via the conductor (if any) and mark it closed."""
        if self._closed:
            return
        if self._conductor is not None:
            self._conductor.release_publication(self)  # type: ignore[attr-defined]
        self._internal_close()

    def revoke(self) -> None:
        """Revoke and close (Java ``Publication.revoke()``): REMOVE_PUBLICATION with the REVOKE
        flag.  The driver ends the stream at the current producer position for every publisher
        sharing the log, and subscribers' images go unavailable without draining."""
        if self._closed:
            return
        if self._conductor is not None:
            self._conductor.release_publication(self, revoke=True)  # type: ignore[attr-defined]
        self._internal_close()

    def _internal_close(self) -> None:
        """Mark closed: offers return CLOSED.  The log buffers stay with the conductor."""
        self._closed = True
        if self._kernel is not None:
            self._kernel.close()

    # -- multi-destination-cast (control-mode=manual publications) ----------------------------

    def _destination_conductor(self) -> Any:
        if self._closed:
            raise AeronError("publication is closed")
        if self._conductor is None:
            raise AeronError("publication has no client conductor")
        return self._conductor

    def async_add_destination(self, endpoint_channel: str) -> int:
        """Send ADD_DESTINATION; returns the correlation id (poll with
        ``aeron.is_command_active``; it is also the id for :meth:`remove_destination_by_id`)."""
        return int(self._destination_conductor().async_destination_command(ADD_DESTINATION, self.registration_id, endpoint_channel))

    def async_remove_destination(self, endpoint_channel: str) -> int:
        return int(self._destination_conductor().async_destination_command(REMOVE_DESTINATION, self.registration_id, endpoint_channel))

    def async_remove_destination_by_id(self, destination_registration_id: int) -> int:
        return int(self._destination_conductor().async_remove_destination_by_id(self.registration_id, destination_registration_id))

    def add_destination(self, endpoint_channel: str) -> int:
        """Add a destination (``aeron:udp?endpoint=host:port``) to an MDC publication and wait for
        the driver; returns the destination registration id.  Raises RegistrationError."""
        correlation_id = self.async_add_destination(endpoint_channel)
        self._destination_conductor().await_registration(correlation_id)
        return correlation_id

    def remove_destination(self, endpoint_channel: str) -> None:
        """Remove a destination previously added with :meth:`add_destination` and wait."""
        self._destination_conductor().await_registration(self.async_remove_destination(endpoint_channel))

    def remove_destination_by_id(self, destination_registration_id: int) -> None:
        self._destination_conductor().await_registration(self.async_remove_destination_by_id(destination_registration_id))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(channel={self.channel!r}, stream_id={self.stream_id}, "
            f"session_id={self.session_id}, registration_id={self.registration_id})"
        )


class Publication(_PublicationBase):
    """Concurrent publication: safe for many threads and processes sharing the log."""

    def __init__(
        self,
        conductor: object | None,
        log_buffers: LogBuffers,
        channel: str,
        stream_id: int,
        session_id: int,
        publication_limit: Any,
        channel_status_id: int,
        registration_id: int,
        original_registration_id: int,
        *,
        native: bool | None = None,
    ) -> None:
        super().__init__(
            conductor, log_buffers, channel, stream_id, session_id, publication_limit,
            channel_status_id, registration_id, original_registration_id,
        )
        self._appender = TermAppender(
            log_buffers.term_buffers, self._meta, session_id, stream_id, self.initial_term_id,
            self.mtu_length,
        )
        self._append_unfragmented = self._appender.append_unfragmented
        self._append_fragmented = self._appender.append_fragmented
        self._make_kernel(native, exclusive=False)

    @property
    def position(self) -> int:
        """Current tail position of the log, or CLOSED."""
        if self._closed:
            return CLOSED
        return d.producer_position(self._meta, self.term_buffer_length, self.initial_term_id)

    def offer(
        self,
        buffer: Any,
        offset: int = 0,
        length: int = -1,
        reserved_value_supplier: Optional[ReservedValueSupplier] = None,
    ) -> int:
        """Append ``buffer[offset:offset+length]`` as one message; new position or a result code."""
        if self._closed:
            return CLOSED
        buffer, length = _source_range(buffer, offset, length)
        if length > self.max_payload_length and length > self.max_message_length:
            self._check_message_length(length)
        limit = self._limit_get()
        meta = self._meta
        term_count = meta.get_int32_volatile(_ACTIVE_TERM_COUNT_OFFSET)
        index = term_count % 3
        raw = meta.get_int64_volatile(index << 3)
        if term_count != ((raw >> 32) - self.initial_term_id + 0x80000000 & 0xFFFFFFFF) - 0x80000000:
            return ADMIN_ACTION
        term_offset = raw & 0xFFFFFFFF
        if term_offset > self.term_buffer_length:
            term_offset = self.term_buffer_length
        position = (term_count << self.position_bits_to_shift) + term_offset
        if position < limit:
            if length <= self.max_payload_length:
                return self._append_unfragmented(index, buffer, offset, length, reserved_value_supplier)
            return self._append_fragmented(index, buffer, offset, length, reserved_value_supplier)
        return self._back_pressure_status(position, length)

    def offerv(
        self, buffers: Sequence[Any], reserved_value_supplier: Optional[ReservedValueSupplier] = None
    ) -> int:
        """Offer the concatenation of ``buffers`` as one message."""
        return self.offer(_join(buffers), 0, -1, reserved_value_supplier)

    def try_claim(self, length: int, buffer_claim: BufferClaim) -> int:
        """Reserve a ``length``-byte frame to fill in place; commit or abort the claim after."""
        self._check_claim_length(length)
        if self._closed:
            return CLOSED
        limit = self._limit_get()
        meta = self._meta
        term_count = meta.get_int32_volatile(_ACTIVE_TERM_COUNT_OFFSET)
        index = term_count % 3
        raw = meta.get_int64_volatile(index << 3)
        if term_count != d.compute_term_count(d.term_id(raw), self.initial_term_id):
            return ADMIN_ACTION
        position = (term_count << self.position_bits_to_shift) + d.term_offset(raw, self.term_buffer_length)
        if position < limit:
            return self._appender.claim(index, length, buffer_claim)
        return self._back_pressure_status(position, length)

    def _back_pressure_status(self, position: int, length: int) -> int:
        if position + ((length + 32 + 31) & ~31) >= self.max_possible_position:
            return MAX_POSITION_EXCEEDED
        return self._not_connected_status()


class ExclusivePublication(Publication):
    """Single-writer publication: keeps term id/offset locally (log-buffer.md §6).

    Not thread safe: exactly one thread may offer at a time.  Subclasses :class:`Publication`
    (as in Java) so either kind can be held where a publication is expected.
    """

    def __init__(
        self,
        conductor: object | None,
        log_buffers: LogBuffers,
        channel: str,
        stream_id: int,
        session_id: int,
        publication_limit: Any,
        channel_status_id: int,
        registration_id: int,
        original_registration_id: int,
        *,
        native: bool | None = None,
    ) -> None:
        _PublicationBase.__init__(
            self,
            conductor, log_buffers, channel, stream_id, session_id, publication_limit,
            channel_status_id, registration_id, original_registration_id,
        )
        self._x_appender = ExclusiveTermAppender(
            log_buffers.term_buffers, self._meta, session_id, stream_id, self.initial_term_id,
            self.mtu_length,
        )
        term_count = d.active_term_count(self._meta)
        self._index = term_count % 3
        raw = d.raw_tail_volatile(self._meta, self._index)
        self._term_id = d.term_id(raw)
        self._term_offset = d.term_offset(raw, self.term_buffer_length)
        self._term_begin_position = d.compute_term_begin_position(
            self._term_id, self.position_bits_to_shift, self.initial_term_id
        )
        self._x_append_unfragmented = self._x_appender.append_unfragmented
        self._x_append_fragmented = self._x_appender.append_fragmented
        self._make_kernel(native, exclusive=True)
        if self._kernel is not None:
            self.append_padding = self._kernel.append_padding  # type: ignore[method-assign]

    @property
    def position(self) -> int:
        if self._closed:
            return CLOSED
        if self._kernel is not None:
            return self._kernel.position
        return self._term_begin_position + self._term_offset

    @property
    def term_id(self) -> int:
        return self._kernel.term_id if self._kernel is not None else self._term_id

    @property
    def term_offset(self) -> int:
        return self._kernel.term_offset if self._kernel is not None else self._term_offset

    def offer(
        self,
        buffer: Any,
        offset: int = 0,
        length: int = -1,
        reserved_value_supplier: Optional[ReservedValueSupplier] = None,
    ) -> int:
        """Append ``buffer[offset:offset+length]`` as one message; new position or a result code."""
        if self._closed:
            return CLOSED
        buffer, length = _source_range(buffer, offset, length)
        term_offset = self._term_offset
        position = self._term_begin_position + term_offset
        if position < self._limit_get():
            try:
                if length <= self.max_payload_length:
                    resulting = self._x_append_unfragmented(
                        self._index, self._term_id, term_offset, buffer, offset, length,
                        reserved_value_supplier,
                    )
                else:
                    self._check_message_length(length)
                    resulting = self._x_append_fragmented(
                        self._index, self._term_id, term_offset, buffer, offset, length,
                        reserved_value_supplier,
                    )
            except BaseException:
                if reserved_value_supplier is not None:  # its frames became padding: step past them
                    raw = d.raw_tail_volatile(self._meta, self._index)
                    self._term_offset = d.term_offset(raw, self.term_buffer_length)
                raise
            if resulting > 0:
                self._term_offset = resulting
                return self._term_begin_position + resulting
            return self._end_of_term()
        if length > self.max_payload_length:
            self._check_message_length(length)
        return self._back_pressure_status(position, length)

    def offerv(
        self, buffers: Sequence[Any], reserved_value_supplier: Optional[ReservedValueSupplier] = None
    ) -> int:
        """Offer the concatenation of ``buffers`` as one message."""
        return self.offer(_join(buffers), 0, -1, reserved_value_supplier)

    def try_claim(self, length: int, buffer_claim: BufferClaim) -> int:
        """Reserve a ``length``-byte frame to fill in place; commit or abort the claim after."""
        self._check_claim_length(length)
        if self._closed:
            return CLOSED
        position = self._term_begin_position + self._term_offset
        if position < self._limit_get():
            resulting = self._x_appender.claim(
                self._index, self._term_id, self._term_offset, length, buffer_claim
            )
            if resulting > 0:
                self._term_offset = resulting
                return self._term_begin_position + resulting
            return self._end_of_term()
        return self._back_pressure_status(position, length)

    def append_padding(self, length: int) -> int:
        """Append a PAD frame of ``length`` bytes of payload (consumes stream space)."""
        self._check_message_length(length)
        if length < 0:
            raise ValueError(f"negative padding length {length}")
        if self._closed:
            return CLOSED
        position = self._term_begin_position + self._term_offset
        if position < self._limit_get():
            resulting = self._x_appender.append_padding(self._index, self._term_id, self._term_offset, length)
            if resulting > 0:
                self._term_offset = resulting
                return self._term_begin_position + resulting
            return self._end_of_term()
        return self._back_pressure_status(position, length)

    def _end_of_term(self) -> int:
        if self._term_begin_position + self.term_buffer_length >= self.max_possible_position:
            return MAX_POSITION_EXCEEDED
        next_term_id = d._i32(self._term_id + 1)
        next_term_count = d.compute_term_count(next_term_id, self.initial_term_id)
        next_index = next_term_count % 3
        self._index = next_index
        self._term_id = next_term_id
        self._term_offset = 0
        self._term_begin_position += self.term_buffer_length
        self._meta.put_int64_ordered(next_index << 3, d.pack_tail(next_term_id, 0))
        self._meta.put_int32_ordered(_ACTIVE_TERM_COUNT_OFFSET, next_term_count)
        return ADMIN_ACTION

    def _back_pressure_status(self, position: int, length: int) -> int:
        if position + length >= self.max_possible_position:
            return MAX_POSITION_EXCEEDED
        return self._not_connected_status()
