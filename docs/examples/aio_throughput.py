"""Throughput through aeronpy.aio: one publisher task and one subscriber task on one loop.

    python docs/examples/aio_throughput.py --dir /dev/shm/aeron-demo     # a driver already running
    python docs/examples/aio_throughput.py --embedded                   # an INVOKER driver on the loop

Sends ``--count`` messages of ``--size`` bytes over ``aeron:ipc`` and prints the rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from typing import AsyncIterator

from aeronpy import aio


async def measure(aeron: aio.AsyncAeron, count: int, size: int, stream_id: int) -> float:
    """Messages per second for ``count`` messages of ``size`` bytes through one IPC stream."""
    sub = await aeron.add_subscription("aeron:ipc", stream_id)
    pub = await aeron.add_exclusive_publication("aeron:ipc", stream_id)
    await pub.wait_connected(timeout=10)
    payload = bytes(size)

    async def publish() -> None:
        for _ in range(count):
            await pub.offer(payload, timeout=10)

    start = time.perf_counter()
    publisher = asyncio.create_task(publish())
    received = 0
    async for message in sub.messages():
        received += 1
        if received == count:
            break
    await publisher
    elapsed = time.perf_counter() - start
    await pub.close()
    await sub.close()
    return count / elapsed


@contextlib.asynccontextmanager
async def maybe_embedded_driver(embedded: bool, aeron_dir: str | None) -> AsyncIterator[str]:
    if not embedded:
        yield aeron_dir or os.environ.get("AERON_DIR", "")
        return
    directory = os.path.join("/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir(),
                             f"aeronpy-aio-throughput-{os.getpid()}")
    async with aio.launch_driver(aeron_dir=directory, threading_mode="INVOKER",
                                 dir_delete_on_shutdown=True, ipc_term_buffer_length=8 * 1024 * 1024):
        yield directory


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", help="Aeron directory of a running driver (default: AERON_DIR)")
    parser.add_argument("--embedded", action="store_true", help="run an INVOKER driver on this loop")
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--stream", type=int, default=1001)
    args = parser.parse_args()
    async with maybe_embedded_driver(args.embedded, args.dir) as aeron_dir:
        settings = {"aeron_dir": aeron_dir} if aeron_dir else {}
        async with aio.connect(**settings) as aeron:
            rate = await measure(aeron, args.count, args.size, args.stream)
    print(f"{args.count} messages of {args.size} B: {rate:,.0f} msg/s, {rate * args.size / 1e6:.2f} MB/s")


if __name__ == "__main__":
    asyncio.run(main())
