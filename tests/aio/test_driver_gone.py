"""The asyncio API when the media driver goes away or is not there: clear errors, no hangs."""

from __future__ import annotations

import asyncio
import signal
from typing import Any, Callable

import pytest

import aeronpy
from aeronpy import aio
from tests.aio.conftest import client_settings, spawn_driver, stop_driver


def test_connect_without_a_driver_raises_driver_timeout(aeron_dir: str, run: Callable[..., Any]) -> None:
    settings = client_settings(aeron_dir)
    settings["driver_timeout_ms"] = 200

    async def main() -> None:
        with pytest.raises(aeronpy.DriverTimeoutError):
            async with aio.connect(**settings):
                pass

    run(main())


def test_killed_driver_ends_waits_with_client_closed(aeron_dir: str, run: Callable[..., Any]) -> None:
    """A back-pressured offer, a message iteration and an image-event iteration are all waiting
    when the driver is SIGKILLed: each raises ClientClosedError caused by the driver timeout."""
    proc = spawn_driver(aeron_dir)
    try:

        async def main() -> None:
            async with aio.connect(**client_settings(aeron_dir)) as aeron:
                sub = await aeron.add_subscription("aeron:ipc", 31)
                pub = await aeron.add_publication("aeron:ipc", 31)
                await sub.wait_for_image(timeout=10)
                while pub.offer_nowait(bytes(1000)) != aeronpy.BACK_PRESSURED:
                    pass

                async def events() -> list[aio.ImageEventType]:
                    seen = []
                    async for event in sub.image_events():
                        seen.append(event.type)
                    return seen

                waits = [
                    asyncio.create_task(pub.offer(b"stuck")),
                    asyncio.create_task(events()),
                ]
                await asyncio.sleep(0.1)
                assert not any(w.done() for w in waits)
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                results = await asyncio.gather(*waits, return_exceptions=True)
                for result in results:
                    assert isinstance(result, aeronpy.ClientClosedError), result
                    assert isinstance(result.__cause__, aeronpy.DriverTimeoutError)
                assert aeron.is_closed
                assert isinstance(aeron.aeron.termination_cause, aeronpy.DriverTimeoutError)
                with pytest.raises(aeronpy.ClientClosedError):
                    async for _ in sub.messages():
                        pass
                with pytest.raises(aeronpy.ClientClosedError):
                    await aeron.add_publication("aeron:ipc", 32)

        run(main(), timeout=30)
    finally:
        stop_driver(proc)


def test_messages_iteration_raises_when_the_driver_dies(aeron_dir: str, run: Callable[..., Any]) -> None:
    proc = spawn_driver(aeron_dir)
    try:

        async def main() -> None:
            async with aio.connect(**client_settings(aeron_dir)) as aeron:
                sub = await aeron.add_subscription("aeron:ipc", 33)
                pub = await aeron.add_publication("aeron:ipc", 33)
                await pub.offer(b"one", timeout=10)
                got = []

                async def consume() -> None:
                    async for message in sub.messages():
                        got.append(message.data)
                        proc.send_signal(signal.SIGKILL)

                with pytest.raises(aeronpy.ClientClosedError):
                    await consume()
                assert got == [b"one"]

        run(main(), timeout=30)
    finally:
        stop_driver(proc)
