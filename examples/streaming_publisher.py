"""Streaming publisher: offers ``--messages`` messages of ``--size`` bytes as fast as flow control
allows and reports the rate each second (like Aeron's StreamingPublisher).

    python examples/streaming_publisher.py --dir /dev/shm/aeron-demo --messages 1000000 --size 32
"""

from __future__ import annotations

import struct
import sys
import time

import aeronpy
from sample_config import connect, idle_strategy, parser, wait_connected


def main() -> int:
    p = parser(__doc__ or "", messages=1_000_000)
    p.add_argument("--size", type=int, default=32, help="message length in bytes (>= 8, default 32)")
    args = p.parse_args()
    if args.size < 8:
        print("--size must be >= 8 (the message carries its sequence number)", file=sys.stderr)
        return 2
    payload = bytearray(args.size)
    print(f"Streaming {args.messages:,} messages of {args.size} bytes to {args.channel} on stream id {args.stream}")
    idle = idle_strategy()
    with connect(args.dir) as aeron:
        publication = aeron.add_publication(args.channel, args.stream)
        if not wait_connected(publication, args.timeout):
            print(f"no subscriber connected within {args.timeout}s", file=sys.stderr)
            return 1
        start = report_at = time.monotonic()
        sent = back_pressured = last_sent = 0
        last_progress = start
        while sent < args.messages:
            struct.pack_into("<q", payload, 0, sent)
            result = publication.offer(payload)
            now = time.monotonic()
            if result > 0:
                sent += 1
                last_progress = now
            else:
                if result in (aeronpy.CLOSED, aeronpy.MAX_POSITION_EXCEEDED):
                    print(f"offer failed: {result}", file=sys.stderr)
                    return 1
                if now - last_progress > args.timeout:
                    print(f"stuck at message {sent} for {args.timeout}s", file=sys.stderr)
                    return 1
                back_pressured += 1
                idle.idle(0)
            if now - report_at >= 1.0:
                rate = (sent - last_sent) / (now - report_at)
                print(f"{rate:,.0f} msgs/s, {rate * args.size / 1e6:,.2f} MB/s payload, "
                      f"{back_pressured:,} back-pressured offers so far", flush=True)
                report_at, last_sent = now, sent
        elapsed = max(time.monotonic() - start, 1e-9)
        print(f"Sent {sent:,} messages in {elapsed:.3f}s ({sent / elapsed:,.0f} msgs/s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
