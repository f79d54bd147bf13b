"""Response channels (driver-behaviour.md §11): the decisions, apart from sockets and threads.

A requester subscribes with ``control-mode=response`` (the subscription waits, matching no
session) and publishes to a responder with ``response-correlation-id=<that subscription>``:
its SETUP carries the SEND_RESPONSE_SETUP flag.  The responder's image remembers the flag; a
publication ``control-mode=response|response-correlation-id=<image correlation id>`` is
linked to it, and the image announces that publication's session id in RSP_SETUP frames (at
the status-message cadence) until the response publication has a live receiver.  The
requester's send endpoint hands each RSP_SETUP to the conductor, which narrows the waiting
subscription to that session (or, already narrowed, asks for a SETUP again).

The pieces here take plain values and return decisions, so tests drive them without a driver:
:class:`ResponseSetupAnnouncer` (one image's RSP_SETUP schedule), :func:`on_response_setup`
(what a requester's subscription does with an RSP_SETUP), the validity rules the conductor
applies to publications (:func:`find_response_image`, :func:`check_response_subscription`,
:func:`response_term_length`), subscription matching (:func:`matches_session`) and the IPC
equivalent (:func:`ipc_response_subscription`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence, TypeVar

from aeronpy.driver.client_command_adapter import CommandError
from aeronpy.logbuffer.descriptor import TERM_MIN_LENGTH
from aeronpy.protocol import control as cp
from aeronpy.protocol import frames

NULL_VALUE = -1
PROTOTYPE_CORRELATION_ID = -2
"""``response-correlation-id=prototype``: a response publication linked to no image (it keeps
the response control endpoint open); its term length is forced to the minimum."""

SEND_RESPONSE_SETUP_FLAG = frames.SETUP_SEND_RESPONSE_FLAG


class ResponseSetupAnnouncer:
    """One image's RSP_SETUP schedule (conductor writes, receiver reads).

    ``requested``: the image's SETUP carried SEND_RESPONSE_SETUP.  The conductor links a
    response publication's session id (:meth:`link`) and unlinks it once that publication has
    a live receiver (:meth:`unlink`); the receiver asks :meth:`due` on each status-message
    pass whether to send an RSP_SETUP now."""

    __slots__ = ("requested", "response_session_id", "_send_now")

    def __init__(self, requested: bool) -> None:
        self.requested = requested
        self.response_session_id: int | None = None
        self._send_now = False

    def link(self, response_session_id: int) -> None:
        """Conductor: a response publication is linked; announce it at the next receiver pass
        instead of waiting out the current status-message timeout."""
        self.response_session_id = response_session_id
        self._send_now = True

    def unlink(self) -> None:
        """Conductor: the response publication is connected (or gone): stop announcing."""
        self.response_session_id = None
        self._send_now = False

    @property
    def is_send_now_requested(self) -> bool:
        return self._send_now

    def due(self, sm_timed_out: bool) -> int | None:
        """Receiver: the response session id to announce in an RSP_SETUP now, or ``None``.
        Announcements ride the status-message timer (or the one immediate send after a link)."""
        session_id = self.response_session_id
        if session_id is None:
            return None
        if not (sm_timed_out or self._send_now):
            return None
        self._send_now = False
        return session_id


class ResponseSetupAction(enum.Enum):
    """What a requester's subscription does with an RSP_SETUP."""

    NARROW = "narrow"
    """Still waiting: take the announced session id and subscribe to it (which asks the
    responder for a SETUP)."""
    ELICIT_SETUP = "elicit-setup"
    """Already has a session: ask the responder for a SETUP again (the first ask or the
    SETUP may have been lost)."""


def on_response_setup(link_session_id: int | None) -> ResponseSetupAction:
    """The requester's answer to an RSP_SETUP for a subscription whose session id is
    ``link_session_id`` (``None`` while it waits), as Aeron's conductor does."""
    return ResponseSetupAction.NARROW if link_session_id is None else ResponseSetupAction.ELICIT_SETUP


def matches_session(link_session_id: int | None, link_is_response: bool, session_id: int) -> bool:
    """Whether a subscription takes ``session_id``: a wildcard one takes every session, a
    waiting response subscription none, a narrowed or ``session-id`` one its own."""
    if link_session_id is None:
        return not link_is_response
    return link_session_id == session_id


class ResponseImage(Protocol):
    """What :func:`find_response_image` needs of an image."""

    @property
    def correlation_id(self) -> int: ...

    @property
    def response_setup(self) -> ResponseSetupAnnouncer: ...


ImageT = TypeVar("ImageT", bound=ResponseImage)


def find_response_image(images: Iterable[ImageT], is_response: bool, response_correlation_id: int) -> ImageT | None:
    """The image a new ``control-mode=response`` publication links to (``None`` for a
    non-response publication or a ``prototype``); :class:`CommandError` as Aeron refuses it."""
    if not is_response:
        return None
    if response_correlation_id == NULL_VALUE:
        raise CommandError(
            cp.ErrorCode.GENERIC_ERROR, "control-mode=response was specified, but no response-correlation-id set"
        )
    if response_correlation_id == PROTOTYPE_CORRELATION_ID:
        return None
    for image in images:
        if image.correlation_id == response_correlation_id:
            if image.response_setup.requested:
                return image
            raise CommandError(
                cp.ErrorCode.GENERIC_ERROR,
                f"image.correlationId={response_correlation_id} did not request a response channel",
            )
    raise CommandError(cp.ErrorCode.GENERIC_ERROR, f"image.correlationId={response_correlation_id} not found")


def check_response_subscription(
    is_response: bool, response_correlation_id: int, subscription_registration_ids: Iterable[int]
) -> None:
    """A request publication (``response-correlation-id`` without ``control-mode=response``)
    needs the subscription it names to exist; :class:`CommandError` otherwise."""
    if is_response or response_correlation_id == NULL_VALUE:
        return
    if any(registration_id == response_correlation_id for registration_id in subscription_registration_ids):
        return
    raise CommandError(
        cp.ErrorCode.GENERIC_ERROR,
        f"unable to find response subscription for response-correlation-id={response_correlation_id}",
    )


def response_term_length(is_response: bool, response_correlation_id: int, term_length: int) -> int:
    """A new network publication's term length: the minimum for a response ``prototype``."""
    if is_response and response_correlation_id == PROTOTYPE_CORRELATION_ID:
        return TERM_MIN_LENGTH
    return term_length


def setup_flags(is_response: bool, response_correlation_id: int, is_group: bool) -> int:
    """SETUP frame flags: SEND_RESPONSE_SETUP on a request publication, GROUP for group semantics."""
    flags = frames.SETUP_GROUP_FLAG if is_group else 0
    if not is_response and response_correlation_id != NULL_VALUE:
        flags |= SEND_RESPONSE_SETUP_FLAG
    return flags


@dataclass(frozen=True)
class IpcPublicationView:
    """An IPC publication as :func:`ipc_response_subscription` sees it."""

    registration_id: int
    response_correlation_id: int


def ipc_response_subscription(
    response_correlation_id: int,
    publications: Sequence[IpcPublicationView],
    subscription_registration_ids: Iterable[int],
) -> int | None:
    """IPC: the registration id of the response subscription a new IPC publication with
    ``response_correlation_id`` answers, or ``None``.  The id names the request publication
    (its "image"); that publication's own ``response-correlation-id`` names the subscription."""
    if response_correlation_id == NULL_VALUE:
        return None
    request = next((p for p in publications if p.registration_id == response_correlation_id), None)
    if request is None:
        return None
    wanted = request.response_correlation_id
    return next((r for r in subscription_registration_ids if r == wanted), None)


__all__ = [
    "IpcPublicationView",
    "NULL_VALUE",
    "PROTOTYPE_CORRELATION_ID",
    "ResponseImage",
    "ResponseSetupAction",
    "ResponseSetupAnnouncer",
    "check_response_subscription",
    "find_response_image",
    "ipc_response_subscription",
    "matches_session",
    "on_response_setup",
    "response_term_length",
    "setup_flags",
]
