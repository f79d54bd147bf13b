"""Worker process for the multi-process tests.

pub:   python worker.py pub DIR CHANNEL STREAM PUBLISHER_ID COUNT
sub:   python worker.py sub DIR CHANNEL STREAM PUBLISHERS COUNT_EACH TIMEOUT
claim: python worker.py claim DIR CHANNEL STREAM   (claims a frame, never commits, then waits to be killed)
hold:  python worker.py hold DIR CHANNEL STREAM    (adds resources, then waits to be killed)

Message: int32 publisher id, int64 sequence, 20 bytes of filler (32 bytes in all).
"""

from __future__ import annotations

import struct
import sys
import time

from aeronpy.client.aeron import Aeron
from aeronpy.client.buffer_claim import BufferClaim
from aeronpy.client.context import Context

MSG = struct.Struct("<iq20s")


def main(argv: list[str]) -> int:
    mode, aeron_dir, channel, stream = argv[0], argv[1], argv[2], int(argv[3])
    aeron = Aeron.connect(Context.from_properties(aeron_dir=aeron_dir))
    if mode == "pub":
        publisher_id, count = int(argv[4]), int(argv[5])
        publication = aeron.add_publication(channel, stream)
        deadline = time.monotonic() + 60
        while not publication.is_connected:
            if time.monotonic() > deadline:
                print("pub: never connected", flush=True)
                return 2
            time.sleep(0.001)
        buf = bytearray(MSG.size)
        pack_into = MSG.pack_into
        offer = publication.offer
        filler = b"f" * 20
        seq = 0
        while seq < count:
            pack_into(buf, 0, publisher_id, seq, filler)
            if offer(buf) > 0:
                seq += 1
            elif time.monotonic() > deadline + 240:
                print(f"pub {publisher_id}: stuck at {seq}", flush=True)
                return 3
        print(f"pub {publisher_id}: sent {count}", flush=True)
        aeron.close()
        return 0
    if mode == "sub":
        publishers, count_each, timeout = int(argv[4]), int(argv[5]), float(argv[6])
        subscription = aeron.add_subscription(channel, stream)
        print("READY", flush=True)
        expected = [0] * publishers
        problems: list[str] = []
        unpack_from = MSG.unpack_from

        def handler(buffer: object, offset: int, length: int, header: object) -> None:
            pid, seq, _ = unpack_from(memoryview(buffer), offset)  # type: ignore[arg-type]
            if length != MSG.size or seq != expected[pid]:
                if len(problems) < 5:
                    problems.append(f"publisher {pid}: expected {expected[pid]}, got {seq} (length {length})")
            expected[pid] = seq + 1

        total = publishers * count_each
        deadline = time.monotonic() + timeout
        received = 0
        while received < total and time.monotonic() < deadline:
            n = subscription.poll(handler, 1000)
            received += n
            if n == 0:
                time.sleep(0)
        aeron.close()
        if problems or received != total or expected != [count_each] * publishers:
            print(f"sub: FAILED received={received} expected={expected} problems={problems}", flush=True)
            return 1
        print(f"sub: received {received} exactly once, in per-publisher order", flush=True)
        return 0
    if mode == "claim":
        publication = aeron.add_publication(channel, stream)
        claim = BufferClaim()
        while publication.try_claim(100, claim) < 0:
            time.sleep(0.001)
        print("CLAIMED", flush=True)
        time.sleep(600)
        return 0
    if mode == "hold":
        aeron.add_publication(channel, stream)
        aeron.add_subscription(channel, stream)
        aeron.add_counter(2001, "held counter")
        print(f"HOLDING {aeron.client_id}", flush=True)
        time.sleep(600)
        return 0
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
