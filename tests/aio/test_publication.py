"""aeronpy.aio publications against a media driver process: offers, back pressure, errors."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import pytest

import aeronpy
from aeronpy import aio
from tests.aio.conftest import client_settings


def test_offer_returns_the_position_the_subscriber_sees(aeron_dir: str, driver_process: Any, run: Callable[..., Any]) -> None:
    async def main() -> None:
        async with aio.connect(**client_settings(aeron_dir)) as aeron:
            sub = await aeron.add_subscription("aeron:ipc", 11)
            pub = await aeron.add_publication("aeron:ipc", 11)
            await pub.wait_connected(timeout=10)
            position = await pub.offer(b"hello", timeout=10)
            message = await sub.receive(timeout=10)
            assert message.data == b"hello"
            assert message.position == position == pub.position
            assert message.session_id == pub.session_id and message.stream_id == 11

    run(main())


def test_exclusive_publication(aeron_dir: str, driver_process: Any, run: Callable[..., Any]) -> None:
    async def main() -> None:
        async with aio.connect(**client_settings(aeron_dir)) as aeron:
            sub = await aeron.add_subscription("aeron:ipc", 12)
            pub = await aeron.add_exclusive_publication("aeron:ipc", 12)
            assert isinstance(pub.publication, aeronpy.ExclusivePublication)
            for i in range(100):
                await pub.offer(i.to_bytes(4, "little"), timeout=10)
            got = []
            async for message in sub.messages():
                got.append(int.from_bytes(message.data, "little"))
                if len(got) == 100:
                    break
            assert got == list(range(100))

    run(main())


def test_offer_without_subscriber_raises_not_connected_after_the_timeout(
    aeron_dir: str, driver_process: Any, run: Callable[..., Any]
) -> None:
    async def main() -> None:
        async with aio.connect(**client_settings(aeron_dir)) as aeron:
            pub = await aeron.add_publication("aeron:ipc", 13)
            assert pub.offer_nowait(b"x") == aeronpy.OfferResult.NOT_CONNECTED
            loop = asyncio.get_running_loop()
            start = loop.time()
            with pytest.raises(aeronpy.NotConnectedError) as info:
                await pub.offer(b"x", timeout=0.3)
            assert loop.time() - start >= 0.3
            assert info.value.result == aeronpy.NOT_CONNECTED
            with pytest.raises(aeronpy.NotConnectedError):
                await pub.wait_connected(timeout=0.1)

    run(main())


def test_offer_waits_out_back_pressure_without_blocking_the_loop(
    aeron_dir: str, driver_process: Any, run: Callable[..., Any]
) -> None:
    """A subscriber that does not read fills the window; the offer waits (other tasks keep
    running), times out with BackPressuredError, and completes once the subscriber reads."""

    async def main() -> None:
        async with aio.connect(**client_settings(aeron_dir)) as aeron:
            sub = await aeron.add_subscription("aeron:ipc", 14)
            pub = await aeron.add_publication("aeron:ipc", 14)
            await pub.wait_connected(timeout=10)
            payload = bytes(1000)
            sent = 0
            while (result := pub.offer_nowait(payload)) > 0 or result == aeronpy.ADMIN_ACTION:
                sent += result > 0
            assert result == aeronpy.OfferResult.BACK_PRESSURED

            ticks = 0
            stop = asyncio.Event()

            async def ticker() -> None:
                nonlocal ticks
                while not stop.is_set():
                    ticks += 1
                    await asyncio.sleep(0.005)

            ticking = asyncio.create_task(ticker())
            with pytest.raises(aeronpy.BackPressuredError) as info:
                await pub.offer(payload, timeout=0.3)
            assert isinstance(info.value, TimeoutError) and info.value.result == aeronpy.BACK_PRESSURED
            assert ticks >= 5, "the event loop was blocked while the offer waited"

            waiting = asyncio.create_task(pub.offer(b"last", timeout=30))
            await asyncio.sleep(0.05)
            assert not waiting.done()
            received = 0
            async for message in sub.messages():
                received += 1
                if message.data == b"last":
                    break
            assert await waiting > 0
            assert received == sent + 1
            stop.set()
            await ticking

    run(main())


def test_offer_on_a_closed_publication_raises(aeron_dir: str, driver_process: Any, run: Callable[..., Any]) -> None:
    async def main() -> None:
        async with aio.connect(**client_settings(aeron_dir)) as aeron:
            pub = await aeron.add_publication("aeron:ipc", 15)
            await pub.close()
            assert pub.is_closed
            with pytest.raises(aeronpy.PublicationClosedError):
                await pub.offer(b"x")
            await pub.close()  # idempotent

    run(main())


def test_offer_after_the_client_closed_raises_client_closed(
    aeron_dir: str, driver_process: Any, run: Callable[..., Any]
) -> None:
    async def main() -> None:
        aeron = await aio.connect(**client_settings(aeron_dir))
        pub = await aeron.add_publication("aeron:ipc", 16)
        await aeron.close()
        assert aeron.is_closed
        with pytest.raises(aeronpy.ClientClosedError):
            await pub.offer(b"x")

    run(main())


def test_driver_refusal_is_a_registration_error(aeron_dir: str, driver_process: Any, run: Callable[..., Any]) -> None:
    async def main() -> None:
        async with aio.connect(**client_settings(aeron_dir)) as aeron:
            with pytest.raises(aeronpy.RegistrationError):
                await aeron.add_publication("aeron:udp?endpoint=localhost:notaport", 17)
            with pytest.raises(aeronpy.InvalidChannelError):
                await aeron.add_publication(123, 17)  # type: ignore[arg-type]

    run(main())


class _ScriptedPublication:
    """Stands in for a publication: ``offer`` returns the scripted results in turn."""

    channel = "aeron:ipc"
    stream_id = 1
    session_id = 7
    is_closed = False

    def __init__(self, *results: int) -> None:
        self.results = list(results)
        self.offers = 0

    @property
    def position(self) -> int:
        return 0

    def offer(self, data: Any) -> int:
        self.offers += 1
        return self.results.pop(0)


class _OpenClient:
    is_closed = False
    termination_cause = None


@pytest.mark.parametrize(
    "result, error",
    [
        (aeronpy.CLOSED, aeronpy.PublicationClosedError),
        (aeronpy.MAX_POSITION_EXCEEDED, aeronpy.MaxPositionExceededError),
        (aeronpy.OfferResult.ERROR, aeronpy.PublicationError),
    ],
)
def test_final_results_raise(result: int, error: type[Exception], run: Callable[..., Any]) -> None:
    publication = _ScriptedPublication(aeronpy.BACK_PRESSURED, aeronpy.ADMIN_ACTION, result)
    pub = aio.AsyncPublication(_OpenClient(), publication, aio.Backoff())  # type: ignore[arg-type]
    with pytest.raises(error) as info:
        run(pub.offer(b"x"))
    assert info.value.result == result  # type: ignore[attr-defined]
    assert publication.offers == 3


def test_admin_action_and_back_pressure_are_retried(run: Callable[..., Any]) -> None:
    publication = _ScriptedPublication(aeronpy.ADMIN_ACTION, aeronpy.BACK_PRESSURED, aeronpy.NOT_CONNECTED, 96)
    pub = aio.AsyncPublication(_OpenClient(), publication, aio.Backoff())  # type: ignore[arg-type]
    assert run(pub.offer(b"x")) == 96
    assert publication.offers == 4
