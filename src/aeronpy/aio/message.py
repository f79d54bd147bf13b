"""Values the asyncio API hands out: whole messages and image events."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aeronpy.client.image import Image

__all__ = ["Message", "ImageEvent", "ImageEventType"]


@dataclass(frozen=True, slots=True)
class Message:
    """One whole (reassembled) message and the fields of its DATA frame header."""

    data: bytes
    """The payload (a copy: it stays valid after the log moves on)."""
    session_id: int
    """The publication's session id (one per publisher of the stream)."""
    stream_id: int
    term_id: int
    """Term of the message's first fragment."""
    term_offset: int
    """Offset of the message's first frame in its term."""
    position: int
    """Stream position just after the message (what the subscriber position becomes)."""
    flags: int
    """Frame flags (BEGIN 0x80 | END 0x40 for a whole message, EOS 0x20)."""
    reserved_value: int
    """The 64-bit reserved value of the (first) frame, e.g. a checksum set by the publisher."""


class ImageEventType(enum.Enum):
    """Whether an image (one publisher's stream, as seen by a subscription) came or went."""

    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class ImageEvent:
    """An image became available to, or unavailable from, a subscription."""

    type: ImageEventType
    session_id: int
    correlation_id: int
    """The image's registration (correlation) id in the driver."""
    source_identity: str
    """Where the stream comes from: ``aeron:ipc`` or the sender's ``address:port``."""
    image: Image
    """The client's :class:`~aeronpy.client.Image` (closed once unavailable)."""
