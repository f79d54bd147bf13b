"""The asyncio API on uvloop: a round trip, back pressure waited out, an INVOKER driver task."""

from __future__ import annotations

import asyncio

import pytest

import aeronpy
from aeronpy import aio

uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed (pip install uvloop)")


def test_round_trip_and_back_pressure_on_uvloop(aeron_dir: str) -> None:
    async def main() -> str:
        async with aio.launch_driver(aeron_dir=aeron_dir, threading_mode="INVOKER",
                                     ipc_term_buffer_length=64 * 1024, env={}):
            async with aio.connect(aeron_dir=aeron_dir, env={}) as aeron:
                sub = await aeron.add_subscription("aeron:ipc", 51)
                pub = await aeron.add_publication("aeron:ipc", 51)
                await pub.wait_connected(timeout=10)
                while pub.offer_nowait(bytes(1000)) != aeronpy.BACK_PRESSURED:
                    pass
                waiting = asyncio.create_task(pub.offer(b"after", timeout=30))
                async for message in sub.messages():
                    if message.data == b"after":
                        break
                assert await waiting > 0
        return type(asyncio.get_running_loop()).__module__

    async def bounded() -> str:
        return await asyncio.wait_for(main(), 60)

    assert uvloop.run(bounded()).startswith("uvloop")
