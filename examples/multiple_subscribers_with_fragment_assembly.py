"""Two subscriptions on one channel (streams ``--stream`` and ``--stream + 1``), each with its own
FragmentAssembler, printing every reassembled message and checking its contents (like Aeron's
MultipleSubscribersWithFragmentAssembly; pair it with multiple_publishers_with_fragmentation.py).

    python examples/multiple_subscribers_with_fragment_assembly.py --dir /dev/shm/aeron-demo --messages 10
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

import aeronpy
from multiple_publishers_with_fragmentation import message
from sample_config import connect, idle_strategy, parser


def main() -> int:
    p = parser(__doc__ or "")
    p.set_defaults(stream=10)
    p.add_argument("--size", type=int, default=10_000, help="expected message length (default 10000)")
    args = p.parse_args()
    counts = {args.stream: 0, args.stream + 1: 0}
    errors: list[str] = []

    def handler(stream: int) -> Callable[[Any, int, int, Any], None]:
        def on_message(buffer: Any, offset: int, length: int, header: Any) -> None:
            data = buffer.get_bytes(offset, length)
            if data != message(stream, counts[stream], args.size):
                errors.append(f"stream {stream} message {counts[stream]}: unexpected contents ({length} bytes)")
            print(f"stream {header.stream_id} session {header.session_id}: message {counts[stream]} "
                  f"of {length} bytes reassembled", flush=True)
            counts[stream] += 1
        return on_message

    idle = idle_strategy()
    with connect(args.dir) as aeron:
        subscriptions = [(aeron.add_subscription(args.channel, s), aeronpy.FragmentAssembler(handler(s)))
                         for s in counts]
        print(f"Subscribed to {args.channel} streams {', '.join(map(str, counts))}", flush=True)
        last_progress = time.monotonic()
        while min(counts.values()) < args.messages and not errors:
            work = sum(sub.poll(assembler.on_fragment, 10) for sub, assembler in subscriptions)
            if work:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > args.timeout:
                print(f"timed out: {counts}", file=sys.stderr)
                return 1
            idle.idle(work)
    if errors:
        print("FAILED: " + errors[0], file=sys.stderr)
        return 1
    print(f"Reassembled {args.messages} messages on each stream.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
