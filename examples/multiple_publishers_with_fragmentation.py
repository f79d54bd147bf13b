"""Two publications on one channel (streams ``--stream`` and ``--stream + 1``) sending messages larger
than the MTU, so every message is fragmented (like Aeron's MultiplePublishersWithFragmentation).

    python examples/multiple_publishers_with_fragmentation.py --dir /dev/shm/aeron-demo --messages 10
"""

from __future__ import annotations

import sys
import time

import aeronpy
from sample_config import connect, parser, wait_connected


def message(stream: int, index: int, size: int) -> bytes:
    """``size`` bytes: a text head naming stream and index, then a repeating pattern."""
    head = f"stream {stream} message {index}:".encode()
    return head + bytes((i * 7 + index) & 0xFF for i in range(size - len(head)))


def main() -> int:
    p = parser(__doc__ or "")
    p.set_defaults(stream=10)
    p.add_argument("--size", type=int, default=10_000, help="message length (default 10000: 8 fragments at MTU 1408)")
    args = p.parse_args()
    with connect(args.dir) as aeron:
        publications = [aeron.add_publication(args.channel, args.stream + i) for i in range(2)]
        for pub in publications:
            if not wait_connected(pub, args.timeout):
                print(f"no subscriber on stream {pub.stream_id}", file=sys.stderr)
                return 1
        for i in range(args.messages):
            for pub in publications:
                deadline = time.monotonic() + args.timeout
                while (result := pub.offer(message(pub.stream_id, i, args.size))) < 0:
                    if result in (aeronpy.CLOSED, aeronpy.MAX_POSITION_EXCEEDED) or time.monotonic() > deadline:
                        print(f"offer failed on stream {pub.stream_id}: {result}", file=sys.stderr)
                        return 1
                    time.sleep(0.001)
        print(f"Sent {args.messages} messages of {args.size} bytes on streams {args.stream} and {args.stream + 1}.",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
