"""asyncio roles for ``benchmarks/run.py``: the same cells through :mod:`aeronpy.aio`.

Each role is one process with one event loop: a publisher awaiting ``offer``, a subscriber
consuming ``async for message in subscription.messages()``, ping/pong for round trips, and an
idle subscriber measuring its own CPU while it waits (the loop backs off to sleeps).  Output
lines match the synchronous roles so ``run.py`` parses them the same way.
"""

from __future__ import annotations

import asyncio
import struct
import time


async def _pub(aeron_dir: str, channel: str, stream: int, count: int, size: int) -> None:
    from aeronpy import aio

    async with aio.connect(aeron_dir=aeron_dir) as aeron:
        pub = await aeron.add_publication(channel, stream)
        await pub.wait_connected(30)
        data = bytes(size)
        offer_nowait, offer = pub.offer_nowait, pub.offer
        for _ in range(count):
            if offer_nowait(data) < 0:  # refused: await the slow path (it backs off)
                await offer(data)
        await asyncio.sleep(1.0)  # let the subscriber drain before the publication goes


async def _sub(aeron_dir: str, channel: str, stream: int, count: int, warmup: int) -> None:
    from aeronpy import aio

    async with aio.connect(aeron_dir=aeron_dir) as aeron:
        sub = await aeron.add_subscription(channel, stream)
        print("READY", flush=True)
        warmup = max(1, warmup)  # untimed, as the synchronous subscribers' warm-up
        received = nbytes = 0
        start = 0.0
        async for message in sub.messages():
            received += 1
            if received <= warmup:
                if received == warmup:
                    start = time.perf_counter()
                continue
            nbytes += len(message.data)
            if received >= warmup + count:
                break
        print(f"{received - warmup} {nbytes} {time.perf_counter() - start}", flush=True)


async def _pong(aeron_dir: str, ping_channel: str, pong_channel: str) -> None:
    from aeronpy import aio

    async with aio.connect(aeron_dir=aeron_dir) as aeron:
        sub = await aeron.add_subscription(ping_channel, 2102)
        pub = await aeron.add_publication(pong_channel, 2103)
        print("READY", flush=True)
        async for message in sub.messages():
            await pub.offer(message.data)
            if message.data[:4] == b"STOP":
                return


async def _ping(aeron_dir: str, ping_channel: str, pong_channel: str, count: int, warmup: int) -> None:
    from aeronpy import aio

    async with aio.connect(aeron_dir=aeron_dir) as aeron:
        pub = await aeron.add_publication(ping_channel, 2102)
        sub = await aeron.add_subscription(pong_channel, 2103)
        await pub.wait_connected(30)
        await sub.wait_for_image(30)
        msg = bytearray(32)
        rtts: list[int] = []
        clock = time.perf_counter_ns
        for i in range(warmup + count):
            struct.pack_into("<q", msg, 0, i)
            t0 = clock()
            await pub.offer(msg)
            await sub.receive(timeout=30)
            if i >= warmup:
                rtts.append(clock() - t0)
        await pub.offer(b"STOP" + bytes(28))
        rtts.sort()

        def pct(p: float) -> float:
            return rtts[min(len(rtts) - 1, int(len(rtts) * p))] / 1000.0

        print(f"{pct(0.5):.1f} {pct(0.9):.1f} {pct(0.99):.1f} {pct(0.999):.1f} {rtts[-1] / 1000.0:.1f}", flush=True)


async def _idle(aeron_dir: str, seconds: float) -> None:
    """CPU share of one core this process uses while an async subscriber waits for nothing
    (its event loop, and the client's conductor thread)."""
    from aeronpy import aio

    async with aio.connect(aeron_dir=aeron_dir) as aeron:
        sub = await aeron.add_subscription("aeron:ipc", 2199)
        await asyncio.sleep(0.5)
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            await sub.receive(timeout=seconds)
        except TimeoutError:
            pass
        share = (time.process_time() - cpu) / (time.perf_counter() - wall) * 100.0
        print(f"{share:.2f}", flush=True)


def run_role(role: str, rest: list[str]) -> None:
    r = rest
    coroutines = {
        "apub": lambda: _pub(r[0], r[1], int(r[2]), int(r[3]), int(r[4])),
        "asub": lambda: _sub(r[0], r[1], int(r[2]), int(r[3]), int(r[4])),
        "apong": lambda: _pong(r[0], r[1], r[2]),
        "aping": lambda: _ping(r[0], r[1], r[2], int(r[3]), int(r[4])),
        "aidle": lambda: _idle(r[0], float(r[1])),
    }
    asyncio.run(coroutines[role]())


ROLES = ("apub", "asub", "apong", "aping", "aidle")
