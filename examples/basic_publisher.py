"""Basic publisher: offers "Hello World!" messages, one per ``--interval`` (like Aeron's BasicPublisher).

    python examples/basic_publisher.py --dir /dev/shm/aeron-demo --messages 10
"""

from __future__ import annotations

import sys
import time

import aeronpy
from sample_config import connect, parser, wait_connected


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between messages (default 1)")
    args = p.parse_args()
    print(f"Publishing to {args.channel} on stream id {args.stream}")
    with connect(args.dir) as aeron:
        publication = aeron.add_publication(args.channel, args.stream)
        if not wait_connected(publication, args.timeout):
            print(f"no subscriber connected within {args.timeout}s", file=sys.stderr)
            return 1
        for i in range(args.messages):
            message = f"Hello World! {i}".encode()
            deadline = time.monotonic() + args.timeout
            while (result := publication.offer(message)) < 0:
                if result in (aeronpy.CLOSED, aeronpy.MAX_POSITION_EXCEEDED) or time.monotonic() > deadline:
                    print(f"offer failed: {result}", file=sys.stderr)
                    return 1
                time.sleep(0.001)  # back pressured or not connected: retry shortly
            print(f"offered message {i}: {message.decode()} (position {result})", flush=True)
            if i + 1 < args.messages:
                time.sleep(args.interval)
        print("Done sending.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
