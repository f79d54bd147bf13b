"""Rate subscriber: receives messages and reports the rate each second (like Aeron's RateSubscriber).
Checks that sequence numbers (first 8 bytes, as streaming_publisher.py writes them) arrive in order.

    python examples/rate_subscriber.py --dir /dev/shm/aeron-demo --messages 1000000
"""

from __future__ import annotations

import sys
import time
from typing import Any

import aeronpy
from sample_config import connect, idle_strategy, parser


def main() -> int:
    args = parser(__doc__ or "", messages=1_000_000).parse_args()
    print(f"Subscribing to {args.channel} on stream id {args.stream}", flush=True)
    state = {"messages": 0, "bytes": 0, "next": 0, "error": ""}

    def on_message(buffer: Any, offset: int, length: int, header: Any) -> None:
        seq = buffer.get_int64(offset) if length >= 8 else -1
        if seq != state["next"] and not state["error"]:
            state["error"] = f"expected message {state['next']}, got {seq}"
        state["next"] = seq + 1
        state["messages"] += 1
        state["bytes"] += length

    assembler = aeronpy.FragmentAssembler(on_message)
    idle = idle_strategy()
    with connect(args.dir) as aeron:
        subscription = aeron.add_subscription(args.channel, args.stream)
        start = report_at = last_progress = time.monotonic()
        last_messages = last_bytes = 0
        while state["messages"] < args.messages:
            fragments = subscription.poll(assembler.on_fragment, 256)
            now = time.monotonic()
            if fragments:
                last_progress = now
            elif now - last_progress > args.timeout:
                print(f"timed out with {state['messages']} of {args.messages} messages", file=sys.stderr)
                return 1
            if now - report_at >= 1.0:
                dt = now - report_at
                print(f"{(state['messages'] - last_messages) / dt:,.0f} msgs/s, "
                      f"{(state['bytes'] - last_bytes) / dt / 1e6:,.2f} MB/s, "
                      f"totals {state['messages']:,} messages {state['bytes']:,} bytes", flush=True)
                report_at, last_messages, last_bytes = now, state["messages"], state["bytes"]
            idle.idle(fragments)
        elapsed = max(time.monotonic() - start, 1e-9)
        if state["error"]:
            print(f"FAILED: {state['error']}", file=sys.stderr)
            return 1
        print(f"Received {state['messages']:,} messages in order ({state['bytes']:,} bytes) "
              f"in {elapsed:.3f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
