"""``aeronpy.aio.connect``: an asyncio client on top of the blocking, poll-able one."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Callable, Generator

from aeronpy.aio.backoff import Backoff
from aeronpy.aio.publication import AsyncExclusivePublication, AsyncPublication
from aeronpy.aio.subscription import AsyncSubscription, ImageEventSink
from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context
from aeronpy.errors import DriverTimeoutError

__all__ = ["AsyncAeron", "connect"]


class AsyncAeron:
    """A connected client for asyncio; get one with :func:`connect`.

    Commands go to the driver with the client's ``async_add_*`` and are polled for with
    back-off, so the loop is never blocked; the client conductor (keepalives, driver
    liveness) runs on its own thread as in the blocking client.
    """

    def __init__(self, aeron: Aeron, max_idle_sleep: float = 1e-3) -> None:
        self.aeron = aeron
        """The blocking :class:`~aeronpy.Aeron` client underneath."""
        self.max_idle_sleep = max_idle_sleep
        """Longest sleep of an idle wait (offer under back pressure, a quiet subscription)."""

    def _backoff(self) -> Backoff:
        return Backoff(max_sleep=self.max_idle_sleep, min_sleep=min(50e-6, self.max_idle_sleep))

    @property
    def context(self) -> Context:
        return self.aeron.ctx

    @property
    def client_id(self) -> int:
        return self.aeron.client_id

    @property
    def is_closed(self) -> bool:
        """True once closed by the application or after losing the driver."""
        return self.aeron.is_closed

    async def _registered(self, registration_id: int, get: Callable[[int], Any]) -> Any:
        """Poll ``get(registration_id)`` with back-off until the driver answers (the driver's
        error is raised) or ``aeron.driver.timeout`` passes (:class:`DriverTimeoutError`)."""
        loop = asyncio.get_running_loop()
        timeout_ms = self.aeron.ctx.driver_timeout_ms
        deadline = loop.time() + timeout_ms / 1000.0
        backoff = self._backoff()
        while True:
            resource = get(registration_id)
            if resource is not None:
                return resource
            if loop.time() > deadline:
                raise DriverTimeoutError(
                    f"no response from the media driver within {timeout_ms}ms (registration id {registration_id})"
                )
            await backoff.idle()

    async def add_publication(self, channel: str, stream_id: int) -> AsyncPublication:
        """Add a concurrent publication; raises :class:`~aeronpy.RegistrationError` if the
        driver refuses it (e.g. a bad channel)."""
        registration_id = self.aeron.async_add_publication(channel, stream_id)
        publication = await self._registered(registration_id, self.aeron.get_publication)
        return AsyncPublication(self.aeron, publication, self._backoff())

    async def add_exclusive_publication(self, channel: str, stream_id: int) -> AsyncExclusivePublication:
        """Add an exclusive publication (a single writer with its own session)."""
        registration_id = self.aeron.async_add_exclusive_publication(channel, stream_id)
        publication = await self._registered(registration_id, self.aeron.get_exclusive_publication)
        return AsyncExclusivePublication(self.aeron, publication, self._backoff())

    async def add_subscription(self, channel: str, stream_id: int, *, fragment_limit: int = 256) -> AsyncSubscription:
        """Add a subscription; its images' comings and goings are queued for
        :meth:`AsyncSubscription.image_events` from the start."""
        sink = ImageEventSink(asyncio.get_running_loop())
        registration_id = self.aeron.async_add_subscription(channel, stream_id, sink.on_available, sink.on_unavailable)
        subscription = await self._registered(registration_id, self.aeron.get_subscription)
        return AsyncSubscription(self.aeron, subscription, sink, self._backoff(), fragment_limit)

    async def close(self) -> None:
        """Close every resource and the client (in a worker thread: it joins the conductor)."""
        await asyncio.to_thread(self.aeron.close)

    async def __aenter__(self) -> AsyncAeron:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncAeron(aeron_dir={self.aeron.ctx.aeron_dir!r}, client_id={self.client_id})"


class _Connecting:
    """What :func:`connect` returns: await it, or use it with ``async with``."""

    def __init__(self, ctx: Context, max_idle_sleep: float) -> None:
        self._ctx = ctx
        self._max_idle_sleep = max_idle_sleep
        self._client: AsyncAeron | None = None

    async def _connect(self) -> AsyncAeron:
        aeron = await asyncio.to_thread(Aeron.connect, self._ctx)
        return AsyncAeron(aeron, self._max_idle_sleep)

    def __await__(self) -> Generator[Any, None, AsyncAeron]:
        return self._connect().__await__()

    async def __aenter__(self) -> AsyncAeron:
        self._client = await self._connect()
        return self._client

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            await self._client.close()


def connect(ctx: Context | None = None, *, max_idle_sleep: float = 1e-3, **settings: Any) -> _Connecting:
    """Connect to the media driver: ``async with aeronpy.aio.connect(aeron_dir=...) as aeron``
    (or ``aeron = await aeronpy.aio.connect(...)``, then ``await aeron.close()``).

    ``settings`` are :class:`~aeronpy.Context` fields (``aeron_dir``, ``driver_timeout_ms``,
    ``client_name``, ...) and take the usual precedence over ``AERON_*`` variables; or pass a
    whole ``ctx``.  Waiting for the driver (up to ``aeron.driver.timeout``) happens in a worker
    thread; :class:`~aeronpy.DriverTimeoutError` if none is there.  ``max_idle_sleep`` bounds
    the back-off of idle waits (seconds).
    """
    if ctx is None:
        ctx = Context.from_properties(**settings)
    elif settings:
        raise TypeError("pass either ctx or settings, not both")
    if not 0 < max_idle_sleep <= 1.0:
        raise ValueError(f"max_idle_sleep={max_idle_sleep}: must be in (0, 1] seconds")
    return _Connecting(ctx, max_idle_sleep)
