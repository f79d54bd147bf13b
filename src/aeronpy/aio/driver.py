"""An embedded media driver for asyncio programs."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generator

from aeronpy.aio.backoff import Backoff

if TYPE_CHECKING:  # the driver is imported only when one is launched
    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.media_driver import MediaDriver

__all__ = ["AsyncMediaDriver", "launch_driver"]

_log = logging.getLogger("aeronpy.aio")


class AsyncMediaDriver:
    """A :class:`~aeronpy.MediaDriver` in this process, started and closed without blocking
    the loop.  In threading mode INVOKER its duty cycle runs as a task on the loop (backing
    off when idle); in the other modes its agents have their own threads."""

    def __init__(self, driver: MediaDriver, max_idle_sleep: float = 1e-3) -> None:
        from aeronpy.driver.context import ThreadingMode

        self.driver = driver
        """The :class:`~aeronpy.MediaDriver` underneath."""
        self._task: asyncio.Task[None] | None = None
        if ThreadingMode(driver.ctx.threading_mode) is ThreadingMode.INVOKER:
            self._task = asyncio.get_running_loop().create_task(
                self._invoke(Backoff(max_sleep=max_idle_sleep, min_sleep=min(50e-6, max_idle_sleep))),
                name=f"aeronpy-driver-invoker {driver.aeron_dir}",
            )

    @property
    def aeron_dir(self) -> str:
        return self.driver.aeron_dir

    @property
    def is_running(self) -> bool:
        """False once closed, or (INVOKER) once the duty-cycle task stopped."""
        return self._task is None or not self._task.done()

    async def _invoke(self, backoff: Backoff) -> None:
        driver = self.driver
        while True:
            try:
                work = driver.do_work()
            except Exception:
                _log.exception("embedded media driver in %s stopped", driver.aeron_dir)
                return
            if work > 0:
                backoff.reset()
                await asyncio.sleep(0)
            else:
                await backoff.idle()

    async def close(self) -> None:
        """Stop the driver (its agents, then cnc.dat and the logs)."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self._task is not None:
            self.driver.close()  # INVOKER: nothing to join, close on the loop's thread
        else:
            await asyncio.to_thread(self.driver.close)

    async def __aenter__(self) -> AsyncMediaDriver:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class _Launching:
    def __init__(self, ctx: DriverContext, max_idle_sleep: float) -> None:
        self._ctx = ctx
        self._max_idle_sleep = max_idle_sleep
        self._driver: AsyncMediaDriver | None = None

    async def _launch(self) -> AsyncMediaDriver:
        from aeronpy.driver.media_driver import MediaDriver

        driver = await asyncio.to_thread(MediaDriver.launch, self._ctx)
        return AsyncMediaDriver(driver, self._max_idle_sleep)

    def __await__(self) -> Generator[Any, None, AsyncMediaDriver]:
        return self._launch().__await__()

    async def __aenter__(self) -> AsyncMediaDriver:
        self._driver = await self._launch()
        return self._driver

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._driver is not None:
            await self._driver.close()


def launch_driver(ctx: DriverContext | None = None, *, max_idle_sleep: float = 1e-3, **settings: Any) -> _Launching:
    """Start a media driver in this process: ``async with aeronpy.aio.launch_driver(aeron_dir=...)``
    (or ``driver = await launch_driver(...)``, then ``await driver.close()``).

    ``settings`` are :class:`~aeronpy.DriverContext` fields (``aeron_dir``,
    ``threading_mode``, ``ipc_term_buffer_length``, ...); or pass a whole ``ctx``.  With
    ``threading_mode="INVOKER"`` the driver runs as a task on this loop (no driver threads).
    """
    if ctx is None:
        from aeronpy.driver.context import DriverContext

        ctx = DriverContext.from_properties(**settings)
    elif settings:
        raise TypeError("pass either ctx or settings, not both")
    return _Launching(ctx, max_idle_sleep)
