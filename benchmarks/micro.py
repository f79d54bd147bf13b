"""Per-call cost of the client's hot paths in one process: C kernels vs their Python twins.

Run: ``python benchmarks/micro.py [--messages N]``.  Measures, on an in-memory log (no driver):
``offer`` (concurrent and exclusive, 32 B and 1 KB), ``offer_batch``, ``try_claim``+``commit``,
``poll`` per fragment with a trivial handler, and ``poll_batch`` per fragment.  The Python twin
is what the client ran before the C kernels (``native=False``).  Prints ns per message.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any, Callable

from aeronpy.client.buffer_claim import BufferClaim, PyBufferClaim
from aeronpy.client.image import Image
from aeronpy.client.publication import ExclusivePublication, Publication
from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.logbuffer import descriptor as d
from aeronpy.logbuffer.log_buffers import LogBuffers

TERM = 16 * 1024 * 1024
SESSION, STREAM = 77, 1001


class Position:
    """A counter in an 8-byte C AtomicBuffer (what the kernels need)."""

    def __init__(self, value: int) -> None:
        self.values_buffer = AtomicBuffer(bytearray(8))
        self.offset = 0
        self.values_buffer.put_int64_ordered(0, value)

    def get(self) -> int:
        return int(self.values_buffer.get_int64_volatile(0))

    def set(self, value: int) -> None:
        self.values_buffer.put_int64_ordered(0, value)


def new_log(directory: str, name: str) -> LogBuffers:
    lb = LogBuffers.create(os.path.join(directory, name), TERM)
    d.write_log_metadata(
        lb.metadata, correlation_id=1, initial_term_id=0, mtu_length=1408, term_length=TERM,
        page_size=4096, session_id=SESSION, stream_id=STREAM,
    )
    d.initialize_tail_counters(lb.metadata, 0)
    d.set_is_connected(lb.metadata, True)
    for tb in lb.term_buffers:  # fault the pages in now, not inside the timed loops
        tb.set_memory(0, tb.capacity, 0)
    return lb


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    t0 = time.perf_counter_ns()
    n = fn()
    return (time.perf_counter_ns() - t0), n


def bench(directory: str, native: bool, kind: Any, size: int, count: int) -> dict[str, float]:
    lb = new_log(directory, f"{native}-{kind.__name__}-{size}.logbuffer")
    limit = Position(1 << 62)
    pub = kind(None, lb, "aeron:ipc", STREAM, SESSION, limit, -1, 1, 1, native=native)
    sub_pos = Position(0)
    image = Image(None, lb, sub_pos, 1, SESSION, "ipc", 0, 2, native=native)
    msg = bytes(size)
    per_term = min(count, TERM // (((size + 32 + 31) // 32) * 32) - 1)
    out: dict[str, float] = {}

    def offers() -> int:
        offer = pub.offer
        for _ in range(per_term):
            offer(msg)
        return per_term

    ns, n = timed(offers)
    out["offer"] = ns / n

    seen = [0]

    def handler(buffer: Any, offset: int, length: int, header: Any) -> None:
        seen[0] += 1

    def polls() -> int:
        poll = image.poll
        total = 0
        while total < per_term:
            total += poll(handler, 1000)
        return total

    ns, n = timed(polls)
    out["poll/fragment"] = ns / n

    def copied_polls() -> int:
        poll = image.poll
        got: list[bytes] = []

        def copy(buffer: Any, offset: int, length: int, header: Any) -> None:
            got.append(buffer.get_bytes(offset, length))

        for _ in range(per_term):
            got.clear()
            poll(copy, 1)
        return per_term

    def takes() -> int:
        take = image.take
        for _ in range(per_term):
            take()
        return per_term

    sub_pos.set(0)
    ns, n = timed(copied_polls)
    out["poll(h, 1)+get_bytes/message"] = ns / n
    sub_pos.set(0)
    ns, n = timed(takes)
    out["take/message"] = ns / n
    lb.close()

    lb = new_log(directory, f"{native}-{kind.__name__}-{size}-b.logbuffer")
    pub = kind(None, lb, "aeron:ipc", STREAM, SESSION, Position(1 << 62), -1, 1, 1, native=native)
    image = Image(None, lb, Position(0), 1, SESSION, "ipc", 0, 2, native=native)
    batch = [msg] * 1000

    def batches() -> int:
        sent = 0
        while sent + 1000 <= per_term:
            accepted, _ = pub.offer_batch(batch)
            sent += accepted
        return sent

    ns, n = timed(batches)
    out["offer_batch/msg"] = ns / n

    def poll_batches() -> int:
        total = 0
        while total < n:
            b = image.poll_batch(1000)
            total += len(b)
            b.release()
        return total

    ns, m = timed(poll_batches)
    out["poll_batch/fragment"] = ns / m
    lb.close()

    lb = new_log(directory, f"{native}-{kind.__name__}-{size}-c.logbuffer")
    pub = kind(None, lb, "aeron:ipc", STREAM, SESSION, Position(1 << 62), -1, 1, 1, native=native)
    claim = BufferClaim() if native else PyBufferClaim()

    def claims() -> int:
        try_claim = pub.try_claim
        for _ in range(per_term):
            try_claim(size, claim)
            claim.commit()
        return per_term

    if size <= pub.max_payload_length:
        ns, n = timed(claims)
        out["try_claim+commit"] = ns / n
    lb.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as directory:
        rows = []
        for kind in (Publication, ExclusivePublication):
            for size in (32, 1024):
                py = bench(directory, False, kind, size, args.messages)
                c = bench(directory, True, kind, size, args.messages)
                for key in py:
                    rows.append((f"{kind.__name__} {size} B {key}", py[key], c[key]))
    print(f"{'path (ns per message)':<52}{'Python twin':>12}{'C kernel':>10}{'speed-up':>10}")
    for name, py_ns, c_ns in rows:
        print(f"{name:<52}{py_ns:>12.0f}{c_ns:>10.0f}{py_ns / c_ns:>9.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
