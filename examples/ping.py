"""Ping: sends a timestamped message on the ping stream and waits for pong.py to echo it on the pong
stream, then prints round-trip percentiles (like Aeron's Ping; run pong.py first).

    python examples/ping.py --dir /dev/shm/aeron-demo --messages 1000 --warmup 100
"""

from __future__ import annotations

import struct
import sys
import time
from typing import Any

from sample_config import (DEFAULT_PING_CHANNEL, DEFAULT_PING_STREAM, DEFAULT_PONG_CHANNEL, DEFAULT_PONG_STREAM,
                           connect, idle_strategy, parser, wait_connected)


def percentile(sorted_values: list[int], fraction: float) -> int:
    """The value at ``fraction`` (0..1) of a sorted list."""
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def main() -> int:
    p = parser(__doc__ or "", messages=1000)
    p.set_defaults(channel=DEFAULT_PING_CHANNEL, stream=DEFAULT_PING_STREAM)
    p.add_argument("--pong-channel", default=DEFAULT_PONG_CHANNEL)
    p.add_argument("--pong-stream", type=int, default=DEFAULT_PONG_STREAM)
    p.add_argument("--warmup", type=int, default=100, help="round trips before measuring (default 100)")
    p.add_argument("--size", type=int, default=32, help="message length (>= 8)")
    args = p.parse_args()
    payload = bytearray(max(8, args.size))
    rtts: list[int] = []
    pending = {"reply": False}

    def on_pong(buffer: Any, offset: int, length: int, header: Any) -> None:
        rtts.append(time.perf_counter_ns() - buffer.get_int64(offset))
        pending["reply"] = True

    idle = idle_strategy()
    print(f"Ping on {args.channel} stream {args.stream}, pong on {args.pong_channel} stream {args.pong_stream}")
    with connect(args.dir) as aeron:
        pong_subscription = aeron.add_subscription(args.pong_channel, args.pong_stream)
        ping_publication = aeron.add_publication(args.channel, args.stream)
        if not wait_connected(ping_publication, args.timeout):
            print("pong is not running (no subscriber on the ping stream)", file=sys.stderr)
            return 1
        deadline = time.monotonic() + args.timeout
        while not pong_subscription.is_connected:
            if time.monotonic() > deadline:
                print("pong never connected back on the pong stream", file=sys.stderr)
                return 1
            time.sleep(0.01)
        for i in range(args.warmup + args.messages):
            struct.pack_into("<q", payload, 0, time.perf_counter_ns())
            deadline = time.monotonic() + args.timeout
            while ping_publication.offer(payload) < 0:
                if time.monotonic() > deadline:
                    print(f"could not send ping {i}", file=sys.stderr)
                    return 1
                idle.idle(0)
            pending["reply"] = False
            while not pending["reply"]:
                work = pong_subscription.poll(on_pong, 1)
                if not work and time.monotonic() > deadline:
                    print(f"no pong for ping {i} within {args.timeout}s", file=sys.stderr)
                    return 1
                idle.idle(work)
            if i + 1 == args.warmup:
                rtts.clear()
        values = sorted(rtts)
        print(f"{len(values)} round trips of {len(payload)} bytes; RTT us: "
              + ", ".join(f"p{int(q * 100)}={percentile(values, q) / 1000:.1f}" for q in (0.5, 0.9, 0.99))
              + f", max={values[-1] / 1000:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
