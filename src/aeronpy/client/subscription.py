"""Subscription: the set of images for a channel/stream, polled round-robin."""

from __future__ import annotations

from typing import Any, Callable, Optional

from aeronpy._logbuffer import ImageSet
from aeronpy.client.image import Image
from aeronpy.errors import AeronError
from aeronpy.logbuffer.term_reader import ControlledFragmentHandler, FragmentHandler

ImageHandler = Callable[[Image], None]
ADD_RCV_DESTINATION = 0x0C
REMOVE_RCV_DESTINATION = 0x0D


class Subscription:
    """Images are replaced copy-on-write by the conductor; polls read the current tuple.

    With the C extension, ``poll`` and ``take`` are bound for the subscription's whole life to
    an :class:`aeronpy._logbuffer.ImageSet` that the conductor keeps current: one Python->C
    call per poll, round-robin in C, calling native image readers directly.  A reference to
    ``sub.poll`` taken at any time stays correct as images come and go.  The methods below are
    its twins (and the path without the extension).
    """

    def __init__(
        self,
        conductor: object | None,
        channel: str,
        stream_id: int,
        registration_id: int,
        channel_status_id: int,
        available_image_handler: Optional[ImageHandler] = None,
        unavailable_image_handler: Optional[ImageHandler] = None,
    ) -> None:
        self._conductor = conductor
        self.channel = channel
        self.stream_id = stream_id
        self.registration_id = registration_id
        self.channel_status_id = channel_status_id
        self.available_image_handler = available_image_handler
        self.unavailable_image_handler = unavailable_image_handler
        self._images: tuple[Image, ...] = ()
        self._round_robin_index = 0
        self._closed = False
        self._image_set: ImageSet | None = None
        from aeronpy.client.publication import NATIVE_DEFAULT

        if NATIVE_DEFAULT:
            self._image_set = ImageSet()
            self.poll = self._image_set.poll  # type: ignore[method-assign]
            self.take = self._image_set.take  # type: ignore[method-assign]

    def poll(self, handler: FragmentHandler, fragment_limit: int) -> int:
        """Poll each image in turn, starting one further along each call."""
        images = self._images
        length = len(images)
        if length == 0:
            return 0
        if length == 1:
            return images[0].poll(handler, fragment_limit)
        start = self._round_robin_index
        self._round_robin_index = start + 1
        if start >= length:
            start = 0
            self._round_robin_index = 1
        fragments = 0
        for i in range(start, length):
            if fragments >= fragment_limit:
                return fragments
            fragments += images[i].poll(handler, fragment_limit - fragments)
        for i in range(0, start):
            if fragments >= fragment_limit:
                return fragments
            fragments += images[i].poll(handler, fragment_limit - fragments)
        return fragments

    def controlled_poll(self, handler: ControlledFragmentHandler, fragment_limit: int) -> int:
        """Round-robin :meth:`Image.controlled_poll` over the images."""
        images = self._images
        length = len(images)
        if length == 0:
            return 0
        start = self._round_robin_index
        self._round_robin_index = start + 1
        if start >= length:
            start = 0
            self._round_robin_index = 1
        fragments = 0
        for i in (*range(start, length), *range(0, start)):
            if fragments >= fragment_limit:
                break
            fragments += images[i].controlled_poll(handler, fragment_limit - fragments)
        return fragments

    def poll_batch(self, max_fragments: int) -> Any:
        """:meth:`Image.poll_batch` on the next image in round-robin order that has fragments
        (an empty batch when none has); see there for how long the batch stays valid."""
        images = self._images
        if not images:
            raise AeronError("subscription has no images to poll_batch")
        length = len(images)
        start = self._round_robin_index % length
        self._round_robin_index = start + 1
        batch: Any = None
        for i in (*range(start, length), *range(0, start)):
            batch = images[i].poll_batch(max_fragments)
            if len(batch):
                return batch
        return batch

    def take(self) -> bytes | None:
        """:meth:`Image.take` over the images round-robin: the next whole message as bytes,
        or None when no image has one."""
        images = self._images
        length = len(images)
        if length == 1:
            return images[0].take()
        if length == 0:
            return None
        start = self._round_robin_index % length
        self._round_robin_index = start + 1
        for i in (*range(start, length), *range(0, start)):
            message: bytes | None = images[i].take()
            if message is not None:
                return message
        return None

    def _bind_poll(self) -> None:
        """Hand the current images to the C image set (native readers themselves)."""
        if self._image_set is not None:
            self._image_set.set(tuple(image.poll_target for image in self._images))

    def block_poll_images(self) -> tuple[Image, ...]:
        return self._images

    @property
    def images(self) -> tuple[Image, ...]:
        return self._images

    @property
    def image_count(self) -> int:
        return len(self._images)

    def image_by_session_id(self, session_id: int) -> Image | None:
        for image in self._images:
            if image.session_id == session_id:
                return image
        return None

    def image_at_index(self, index: int) -> Image:
        return self._images[index]

    @property
    def is_connected(self) -> bool:
        """True while open and at least one image is not closed."""
        return not self._closed and any(not img.is_closed for img in self._images)

    @property
    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release via the conductor (if any), then close locally."""
        if self._closed:
            return
        if self._conductor is not None:
            self._conductor.release_subscription(self)  # type: ignore[attr-defined]
        self._internal_close()

    # -- multi-destination subscriptions (control-mode=manual) -------------------------------

    def _destination_conductor(self) -> Any:
        if self._closed:
            raise AeronError("subscription is closed")
        if self._conductor is None:
            raise AeronError("subscription has no client conductor")
        return self._conductor

    def async_add_destination(self, endpoint_channel: str) -> int:
        """Send ADD_RCV_DESTINATION; returns the correlation id (``aeron.is_command_active``)."""
        return int(self._destination_conductor().async_destination_command(ADD_RCV_DESTINATION, self.registration_id, endpoint_channel))

    def async_remove_destination(self, endpoint_channel: str) -> int:
        return int(self._destination_conductor().async_destination_command(REMOVE_RCV_DESTINATION, self.registration_id, endpoint_channel))

    def add_destination(self, endpoint_channel: str) -> None:
        """Add a receive destination (e.g. ``aeron:udp?endpoint=host:port``) to an MDS
        subscription and wait for the driver.  Raises RegistrationError."""
        self._destination_conductor().await_registration(self.async_add_destination(endpoint_channel))

    def remove_destination(self, endpoint_channel: str) -> None:
        self._destination_conductor().await_registration(self.async_remove_destination(endpoint_channel))

    # -- conductor side ----------------------------------------------------------------------

    def _add_image(self, image: Image) -> None:
        self._images = (*self._images, image)
        self._bind_poll()

    def _remove_image(self, correlation_id: int) -> Image | None:
        """Drop the image with ``correlation_id`` (closing it); returns it or None."""
        images = self._images
        for i, image in enumerate(images):
            if image.correlation_id == correlation_id:
                self._images = images[:i] + images[i + 1 :]
                image.close()
                self._bind_poll()
                return image
        return None

    def has_image(self, correlation_id: int) -> bool:
        return any(img.correlation_id == correlation_id for img in self._images)

    def _internal_close(self) -> list[Image]:
        """Mark closed, close and drop all images; returns them for the conductor to release."""
        self._closed = True
        images = list(self._images)
        self._images = ()
        self._bind_poll()
        for image in images:
            image.close()
        return images

    def __repr__(self) -> str:
        return (
            f"Subscription(channel={self.channel!r}, stream_id={self.stream_id}, "
            f"registration_id={self.registration_id}, images={len(self._images)})"
        )
