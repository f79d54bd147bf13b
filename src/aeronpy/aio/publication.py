"""Publications for asyncio: ``await pub.offer(data)`` waits out back pressure."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Generic, TypeVar

from aeronpy.aio._closing import client_closed_error
from aeronpy.aio.backoff import Backoff
from aeronpy.client.aeron import Aeron
from aeronpy.client.publication import ExclusivePublication, Publication
from aeronpy.client.results import (
    ADMIN_ACTION,
    BACK_PRESSURED,
    CLOSED,
    MAX_POSITION_EXCEEDED,
    NOT_CONNECTED,
    OfferResult,
)
from aeronpy.errors import (
    AeronError,
    BackPressuredError,
    MaxPositionExceededError,
    NotConnectedError,
    PublicationClosedError,
    PublicationError,
)

__all__ = ["AsyncPublication", "AsyncExclusivePublication"]

P = TypeVar("P", bound=Publication)


class _AsyncPublicationBase(Generic[P]):
    """What both publication kinds share: offers that wait, connection, close."""

    def __init__(self, aeron: Aeron, publication: P, backoff: Backoff) -> None:
        self._aeron = aeron
        self.publication: P = publication
        """The blocking publication underneath (``offer_nowait`` is its ``offer``)."""
        self._backoff = backoff

    # -- identity and state ------------------------------------------------------------------
    @property
    def channel(self) -> str:
        return self.publication.channel

    @property
    def stream_id(self) -> int:
        return self.publication.stream_id

    @property
    def session_id(self) -> int:
        return self.publication.session_id

    @property
    def registration_id(self) -> int:
        return self.publication.registration_id

    @property
    def max_message_length(self) -> int:
        """Longest message ``offer`` accepts (term length / 8, at most 16 MiB)."""
        return self.publication.max_message_length

    @property
    def position(self) -> int:
        """The stream position after the last message appended (or CLOSED)."""
        return self.publication.position

    @property
    def is_connected(self) -> bool:
        """True while at least one subscriber is connected."""
        return self.publication.is_connected

    @property
    def is_closed(self) -> bool:
        return self.publication.is_closed

    # -- offering ----------------------------------------------------------------------------
    def offer_nowait(self, data: Any) -> int:
        """One attempt: the new position (> 0) or an :class:`~aeronpy.OfferResult` code (< 0)."""
        return self.publication.offer(data)

    async def offer(self, data: Any, *, timeout: float | None = None) -> int:
        """Append ``data`` (bytes-like) as one message and return the new stream position.

        Waits, yielding to the event loop and backing off, while the result is
        BACK_PRESSURED, ADMIN_ACTION or NOT_CONNECTED.  With ``timeout`` (seconds) it gives up
        after that long with :class:`~aeronpy.NotConnectedError` (no subscriber) or
        :class:`~aeronpy.BackPressuredError`; without one it waits until the message goes or
        the publication closes.  Raises :class:`~aeronpy.ClientClosedError` when the client
        closed (e.g. it lost the driver), :class:`~aeronpy.PublicationClosedError` when the
        publication was closed, :class:`~aeronpy.MaxPositionExceededError` at the end of the
        stream, and ``ValueError`` for a message longer than :attr:`max_message_length`.
        """
        result = self.publication.offer(data)
        if result > 0:
            return result
        return await self._offer_slowly(data, result, timeout)

    async def _offer_slowly(self, data: Any, result: int, timeout: float | None) -> int:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        backoff = self._backoff
        backoff.reset()
        offer = self.publication.offer
        while True:
            if result > 0:
                return result
            if result == ADMIN_ACTION:  # the log rotated: retry at once
                result = offer(data)
                continue
            if result not in (BACK_PRESSURED, NOT_CONNECTED):
                raise self._failure(result)
            if deadline is not None and loop.time() >= deadline:
                if result == NOT_CONNECTED:
                    raise NotConnectedError(
                        f"no subscriber connected to {self.channel} stream {self.stream_id} within {timeout}s"
                    )
                raise BackPressuredError(
                    f"{self.channel} stream {self.stream_id} stayed back-pressured for {timeout}s "
                    f"at position {self.position}"
                )
            await backoff.idle()
            result = offer(data)

    def _failure(self, result: int) -> AeronError:
        where = f"{self.channel} stream {self.stream_id}"
        if result == CLOSED:
            closed = client_closed_error(self._aeron, f"offer to {where}")
            return closed or PublicationClosedError(f"offer to {where}: the publication is closed")
        if result == MAX_POSITION_EXCEEDED:
            return MaxPositionExceededError(
                f"offer to {where}: the stream reached its maximum position; add a new publication"
            )
        try:
            name = OfferResult(result).name
        except ValueError:
            name = f"UNKNOWN({result})"
        return PublicationError(f"offer to {where} failed: {name}", result)

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Return once a subscriber is connected; :class:`~aeronpy.NotConnectedError` after
        ``timeout`` seconds, :class:`~aeronpy.ClientClosedError` if the client closes."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        backoff = self._backoff
        backoff.reset()
        while not self.publication.is_connected:
            if self.publication.is_closed:
                raise self._failure(CLOSED)
            if deadline is not None and loop.time() >= deadline:
                raise NotConnectedError(f"no subscriber connected to {self.channel} stream {self.stream_id} within {timeout}s")
            await backoff.idle()

    # -- closing -----------------------------------------------------------------------------
    async def close(self) -> None:
        """Release the publication (in a worker thread: the driver's answer is waited for)."""
        if not self.publication.is_closed:
            await asyncio.to_thread(self.publication.close)

    async def __aenter__(self) -> _AsyncPublicationBase[P]:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.channel!r}, stream_id={self.stream_id}, session_id={self.session_id})"


class AsyncPublication(_AsyncPublicationBase[Publication]):
    """A concurrent publication (any number of writers share one log) for asyncio."""


class AsyncExclusivePublication(_AsyncPublicationBase[ExclusivePublication]):
    """An exclusive publication (one writer, its own log and session) for asyncio."""
