"""Basic subscriber: prints each message it receives (like Aeron's BasicSubscriber).

    python examples/basic_subscriber.py --dir /dev/shm/aeron-demo --messages 10
"""

from __future__ import annotations

import sys
import time
from typing import Any

import aeronpy
from sample_config import connect, idle_strategy, parser


def main() -> int:
    args = parser(__doc__ or "").parse_args()
    print(f"Subscribing to {args.channel} on stream id {args.stream}", flush=True)
    received = 0

    def on_message(buffer: Any, offset: int, length: int, header: Any) -> None:
        nonlocal received
        text = buffer.get_bytes(offset, length).decode(errors="replace")
        print(f"Message to stream {header.stream_id} from session {header.session_id} "
              f"({length}@{offset}) <<{text}>>", flush=True)
        received += 1

    assembler = aeronpy.FragmentAssembler(on_message)
    idle = idle_strategy()
    with connect(args.dir) as aeron:
        subscription = aeron.add_subscription(
            args.channel, args.stream,
            available_image_handler=lambda image: print(f"Available image: session {image.session_id}", flush=True),
            unavailable_image_handler=lambda image: print(f"Unavailable image: session {image.session_id}", flush=True),
        )
        last_progress = time.monotonic()
        while received < args.messages:
            fragments = subscription.poll(assembler.on_fragment, 10)
            if fragments:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > args.timeout:
                print(f"timed out with {received} of {args.messages} messages", file=sys.stderr)
                return 1
            idle.idle(fragments)
        print(f"Received {received} messages.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
