"""asyncio API: the Aeron client (and an embedded driver) for ``async``/``await`` code.

::

    async with aeronpy.aio.connect(aeron_dir="/dev/shm/demo") as aeron:
        sub = await aeron.add_subscription("aeron:ipc", 1001)
        pub = await aeron.add_publication("aeron:ipc", 1001)
        await pub.offer(b"hello")             # waits out back pressure, never blocks the loop
        async for message in sub.messages():  # whole messages, reassembled
            print(message.data, message.session_id, message.position)

It is built on the blocking client (``async_add_*`` + ``get_*``, ``poll``): nothing blocks the
loop, and idle waits back off (``sleep(0)`` a few times, then sleeps growing to
``max_idle_sleep``) instead of spinning.  Works with any asyncio loop (uvloop too).
"""

from __future__ import annotations

from aeronpy.aio.backoff import Backoff
from aeronpy.aio.client import AsyncAeron, connect
from aeronpy.aio.driver import AsyncMediaDriver, launch_driver
from aeronpy.aio.message import ImageEvent, ImageEventType, Message
from aeronpy.aio.publication import AsyncExclusivePublication, AsyncPublication
from aeronpy.aio.subscription import AsyncSubscription

__all__ = [
    "connect",
    "launch_driver",
    "AsyncAeron",
    "AsyncPublication",
    "AsyncExclusivePublication",
    "AsyncSubscription",
    "AsyncMediaDriver",
    "Message",
    "ImageEvent",
    "ImageEventType",
    "Backoff",
]
