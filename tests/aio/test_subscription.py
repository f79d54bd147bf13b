"""aeronpy.aio subscriptions against a media driver process: messages, headers, image events."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

import pytest

import aeronpy
from aeronpy import aio
from aeronpy.protocol.data_header import BEGIN_AND_END_FLAGS
from tests.aio.conftest import client_settings


def test_messages_are_whole_reassembled_and_carry_their_header(
    aeron_dir: str, driver_process: Any, run: Callable[..., Any]
) -> None:
    async def main() -> None:
        async with aio.connect(**client_settings(aeron_dir)) as aeron:
            sub = await aeron.add_subscription("aeron:ipc", 21)
            pub = await aeron.add_publication("aeron:ipc", 21)
            big = bytes(range(256)) * 24  # 6144 bytes: several frames at the 1408-byte MTU
            assert len(big) > pub.publication.max_payload_length
            sizes = [1, len(big), 100, len(big)]
            positions = [await pub.offer(big[:n], timeout=10) for n in sizes]
            got = []
            async for message in sub.messages():
                got.append(message)
                if len(got) == len(sizes):
                    break
            assert [m.data for m in got] == [big[:n] for n in sizes]
            assert [m.position for m in got] == positions
            starts = [0, *positions[:-1]]  # one publisher, no term rotation: back to back
            for m, start in zip(got, starts):
                assert m.session_id == pub.session_id and m.stream_id == 21
                assert m.flags & BEGIN_AND_END_FLAGS == BEGIN_AND_END_FLAGS
                assert m.term_offset == start and m.term_id == got[0].term_id
            with pytest.raises(AttributeError):
                got[0].data = b""  # type: ignore[misc]

    run(main())


def test_messages_of_two_publishers_each_in_order(aeron_dir: str, driver_process: Any, run: Callable[..., Any]) -> None:
    async def main() -> None:
        async with aio.connect(**client_settings(aeron_dir)) as aeron:
            sub = await aeron.add_subscription("aeron:ipc", 22)
            pubs = [await aeron.add_exclusive_publication("aeron:ipc", 22) for _ in range(2)]
            count = 300

            async def produce(pub: aio.AsyncExclusivePublication) -> None:
                for i in range(count):
                    await pub.offer(i.to_bytes(4, "little") + bytes(2000 if i % 7 == 0 else 10), timeout=10)

            producers = [asyncio.create_task(produce(p)) for p in pubs]
            seen: dict[int, list[int]] = {p.session_id: [] for p in pubs}
            async for message in sub.messages():
                seen[message.session_id].append(int.from_bytes(message.data[:4], "little"))
                if sum(map(len, seen.values())) == 2 * count:
                    break
            await asyncio.gather(*producers)
            assert all(v == list(range(count)) for v in seen.values())

    run(main())


def test_image_events_available_then_unavailable(aeron_dir: str, driver_process: Any, run: Callable[..., Any]) -> None:
    async def main() -> None:
        async with aio.connect(**client_settings(aeron_dir)) as aeron:
            sub = await aeron.add_subscription("aeron:ipc", 23)
            events = sub.image_events()
            pub = await aeron.add_publication("aeron:ipc", 23)
            event = await anext(events)
            assert event.type is aio.ImageEventType.AVAILABLE
            assert event.session_id == pub.session_id and event.source_identity == "aeron:ipc"
            assert event.image in sub.images
            assert await sub.wait_for_image(timeout=1) is event.image
            await pub.close()
            event = await anext(events)
            assert event.type is aio.ImageEventType.UNAVAILABLE and event.session_id == pub.session_id
            assert event.image.is_closed and not sub.images

    run(main())


def test_iteration_ends_when_the_subscription_is_closed(aeron_dir: str, driver_process: Any, run: Callable[..., Any]) -> None:
    async def main() -> None:
        async with aio.connect(**client_settings(aeron_dir)) as aeron:
            sub = await aeron.add_subscription("aeron:ipc", 24)

            async def drain() -> int:
                return len([m async for m in sub.messages()])

            async def events() -> int:
                return len([e async for e in sub.image_events()])

            readers = asyncio.gather(drain(), events())
            await asyncio.sleep(0.05)
            await sub.close()
            assert await readers == [0, 0]
            with pytest.raises(aeronpy.AeronError):
                await sub.receive(timeout=1)

    run(main())


def test_receive_times_out(aeron_dir: str, driver_process: Any, run: Callable[..., Any]) -> None:
    async def main() -> None:
        async with aio.connect(**client_settings(aeron_dir)) as aeron:
            sub = await aeron.add_subscription("aeron:ipc", 25)
            with pytest.raises(TimeoutError):
                await sub.receive(timeout=0.2)
            with pytest.raises(TimeoutError):
                await sub.wait_for_image(timeout=0.1)

    run(main())


def test_an_idle_subscriber_does_not_spin(aeron_dir: str, driver_process: Any, run: Callable[..., Any]) -> None:
    """Waiting for messages for a second costs this process far less than a second of CPU."""

    async def main() -> float:
        async with aio.connect(**client_settings(aeron_dir)) as aeron:
            sub = await aeron.add_subscription("aeron:ipc", 26)
            cpu = time.process_time()
            with pytest.raises(TimeoutError):
                await sub.receive(timeout=1.0)
            return time.process_time() - cpu

    assert run(main()) < 0.5


def test_positions_match_the_offers_across_term_rotations(
    aeron_dir: str, driver_process: Any, run: Callable[..., Any]
) -> None:
    """Positions (computed from each header) equal what offer returned, over several 64 KiB terms."""

    async def main() -> None:
        async with aio.connect(**client_settings(aeron_dir)) as aeron:
            sub = await aeron.add_subscription("aeron:ipc", 27)
            pub = await aeron.add_publication("aeron:ipc", 27)
            count = 400
            offered: list[int] = []

            async def produce() -> None:
                for i in range(count):
                    offered.append(await pub.offer(bytes([i % 256]) * (1000 + 3000 * (i % 5 == 0)), timeout=10))

            producer = asyncio.create_task(produce())
            got = []
            async for message in sub.messages():
                got.append(message)
                if len(got) == count:
                    break
            await producer
            assert offered[-1] > 4 * 64 * 1024
            assert [m.position for m in got] == offered
            assert len({m.term_id for m in got}) >= 4
            assert all(m.data == bytes([i % 256]) * len(m.data) for i, m in enumerate(got))

    run(main())
