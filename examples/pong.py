"""Pong: echoes every message from the ping stream back on the pong stream (like Aeron's Pong).

    python examples/pong.py --dir /dev/shm/aeron-demo --messages 1100
"""

from __future__ import annotations

import sys
import time
from typing import Any

from sample_config import (DEFAULT_PING_CHANNEL, DEFAULT_PING_STREAM, DEFAULT_PONG_CHANNEL, DEFAULT_PONG_STREAM,
                           connect, idle_strategy, parser)


def main() -> int:
    p = parser(__doc__ or "", messages=1100)
    p.set_defaults(channel=DEFAULT_PING_CHANNEL, stream=DEFAULT_PING_STREAM)
    p.add_argument("--pong-channel", default=DEFAULT_PONG_CHANNEL)
    p.add_argument("--pong-stream", type=int, default=DEFAULT_PONG_STREAM)
    args = p.parse_args()
    idle = idle_strategy()
    echoed = 0
    with connect(args.dir) as aeron:
        ping_subscription = aeron.add_subscription(args.channel, args.stream)
        pong_publication = aeron.add_publication(args.pong_channel, args.pong_stream)
        print(f"Pong: echoing {args.channel} stream {args.stream} to {args.pong_channel} stream {args.pong_stream}",
              flush=True)

        def echo(buffer: Any, offset: int, length: int, header: Any) -> None:
            nonlocal echoed
            deadline = time.monotonic() + args.timeout
            while pong_publication.offer(buffer, offset, length) < 0:
                if time.monotonic() > deadline:
                    raise TimeoutError("could not echo within the timeout")
                idle.idle(0)
            echoed += 1

        last_progress = time.monotonic()
        while echoed < args.messages:
            work = ping_subscription.poll(echo, 1)
            if work:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > args.timeout:
                print(f"no ping for {args.timeout}s after {echoed} echoes", file=sys.stderr)
                return 1
            idle.idle(work)
        print(f"Echoed {echoed} messages.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
