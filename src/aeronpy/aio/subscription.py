"""Subscriptions for asyncio: ``async for message in sub.messages()``, image events."""

from __future__ import annotations

import asyncio
import collections
import logging
import struct
from types import TracebackType
from typing import Any, AsyncIterator

from aeronpy.aio._closing import client_closed_error
from aeronpy.aio.backoff import Backoff
from aeronpy.aio.message import ImageEvent, ImageEventType, Message
from aeronpy.client.aeron import Aeron
from aeronpy.client.image import Image
from aeronpy.client.subscription import Subscription
from aeronpy.errors import AeronError
from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
from aeronpy.logbuffer.header import Header

__all__ = ["AsyncSubscription"]

_log = logging.getLogger("aeronpy.aio")

_HEADER = struct.Struct("<i1xB2xiiiiq")
"""A DATA frame header: frame length, (version), flags, (type), term offset, session id,
stream id, term id, reserved value."""

_EVENT_CHECK_INTERVAL = 0.1
"""How often a waiting :meth:`AsyncSubscription.image_events` checks whether the client closed."""


class ImageEventSink:
    """Receives image handler calls on any thread and queues them on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.queue: asyncio.Queue[ImageEvent] = asyncio.Queue()

    def _post(self, kind: ImageEventType, image: Image) -> None:
        event = ImageEvent(kind, image.session_id, image.correlation_id, image.source_identity, image)
        try:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, event)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            _log.debug("image event dropped (event loop closed): %s", event)

    def on_available(self, image: Image) -> None:
        self._post(ImageEventType.AVAILABLE, image)

    def on_unavailable(self, image: Image) -> None:
        self._post(ImageEventType.UNAVAILABLE, image)


class AsyncSubscription:
    """A subscription for asyncio.  Messages are reassembled per session with a
    :class:`~aeronpy.FragmentAssembler` and copied out of the log."""

    def __init__(
        self,
        aeron: Aeron,
        subscription: Subscription,
        events: ImageEventSink,
        backoff: Backoff,
        fragment_limit: int = 256,
    ) -> None:
        self._aeron = aeron
        self.subscription = subscription
        """The blocking subscription underneath (``poll``, ``images``, ...)."""
        self._events = events
        self._backoff = backoff
        self.fragment_limit = fragment_limit
        """Most fragments read per poll of the log."""
        self._pending: collections.deque[Message] = collections.deque()
        self._assembler = FragmentAssembler(self._on_message)

    # -- identity and state ------------------------------------------------------------------
    @property
    def channel(self) -> str:
        return self.subscription.channel

    @property
    def stream_id(self) -> int:
        return self.subscription.stream_id

    @property
    def registration_id(self) -> int:
        return self.subscription.registration_id

    @property
    def images(self) -> tuple[Image, ...]:
        """The images (one per publisher session) connected now."""
        return self.subscription.images

    @property
    def is_connected(self) -> bool:
        return self.subscription.is_connected

    @property
    def is_closed(self) -> bool:
        return self.subscription.is_closed

    # -- messages ----------------------------------------------------------------------------
    def _on_message(self, buffer: Any, offset: int, length: int, header: Header) -> None:
        frame_length, flags, term_offset, session_id, stream_id, term_id, reserved = _HEADER.unpack_from(
            header.buffer.get_bytes(header.offset, 32)
        )
        # Header.position, from the one read of the header (log-buffer.md §4)
        if header.fragmented_frame_length > frame_length:
            frame_length = header.fragmented_frame_length
        term_count = ((term_id - header.initial_term_id + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        position = (term_count << header.position_bits_to_shift) + ((term_offset + frame_length + 31) & ~31)
        self._pending.append(
            Message(
                buffer.get_bytes(offset, length), session_id, stream_id, term_id, term_offset,
                position, flags, reserved,
            )
        )

    def poll_nowait(self) -> int:
        """Read up to :attr:`fragment_limit` fragments into the queue of whole messages;
        returns the number of fragments read."""
        return self.subscription.poll(self._assembler.on_fragment, self.fragment_limit)

    def _check_open(self) -> bool:
        """False if the application closed the subscription; raises if the client closed."""
        if not self.subscription.is_closed:
            return True
        error = client_closed_error(self._aeron, f"subscription to {self.channel} stream {self.stream_id}")
        if error is not None:
            raise error
        return False

    async def receive(self, timeout: float | None = None) -> Message:
        """The next whole message; ``TimeoutError`` after ``timeout`` seconds without one,
        :class:`~aeronpy.ClientClosedError` if the client closes (e.g. it lost the driver),
        :class:`~aeronpy.errors.AeronError` if the subscription was closed."""
        pending = self._pending
        if pending:
            return pending.popleft()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        backoff = self._backoff
        backoff.reset()
        while True:
            if not self._check_open():
                raise _closed(self)
            if self.poll_nowait() > 0 and pending:
                return pending.popleft()
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError(f"no message on {self.channel} stream {self.stream_id} within {timeout}s")
            await backoff.idle()

    async def messages(self) -> AsyncIterator[Message]:
        """Every whole message, in order per publisher, until the subscription is closed
        (then the iteration ends).  Raises :class:`~aeronpy.ClientClosedError` if the client
        closes (e.g. it lost the driver).  Waits back off; the loop is yielded to after
        every batch read, so a busy stream does not starve other tasks."""
        pending = self._pending
        backoff = self._backoff
        backoff.reset()
        while True:
            while pending:
                yield pending.popleft()
            if not self._check_open():
                return
            if self.poll_nowait() > 0:
                backoff.reset()
                await asyncio.sleep(0)
            else:
                await backoff.idle()

    # -- images ------------------------------------------------------------------------------
    async def image_events(self) -> AsyncIterator[ImageEvent]:
        """Images becoming available or unavailable, in the order the driver reported them,
        from the subscription's start (events are kept until read).  Ends when the
        subscription is closed; raises :class:`~aeronpy.ClientClosedError` if the client
        closes, after the images' UNAVAILABLE events."""
        queue = self._events.queue
        while True:
            try:
                yield queue.get_nowait()
                continue
            except asyncio.QueueEmpty:
                pass
            if not self._check_open():
                return
            try:
                event = await asyncio.wait_for(queue.get(), _EVENT_CHECK_INTERVAL)
            except TimeoutError:
                continue
            yield event

    async def wait_for_image(self, timeout: float | None = None) -> Image:
        """Return an image once one is connected; ``TimeoutError`` after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        backoff = self._backoff
        backoff.reset()
        while True:
            if not self._check_open():
                raise _closed(self)
            images = self.subscription.images
            if images:
                return images[0]
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError(f"no image on {self.channel} stream {self.stream_id} within {timeout}s")
            await backoff.idle()

    # -- closing -----------------------------------------------------------------------------
    async def close(self) -> None:
        """Release the subscription (in a worker thread: the driver's answer is waited for)."""
        if not self.subscription.is_closed:
            await asyncio.to_thread(self.subscription.close)

    async def __aenter__(self) -> AsyncSubscription:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncSubscription({self.channel!r}, stream_id={self.stream_id}, images={len(self.images)})"


def _closed(sub: AsyncSubscription) -> AeronError:
    return AeronError(f"subscription to {sub.channel} stream {sub.stream_id} is closed")
