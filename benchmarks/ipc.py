"""IPC benchmarks: throughput (32 B and 1 KB, publisher and subscriber in two processes) and
round-trip latency (ping/pong processes), through an aeronpy media driver.

Run: ``python benchmarks/ipc.py`` (options: --messages N, --pings N).  Prints a table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import uuid

SHM = "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp"


def role_pub(aeron_dir: str, stream: int, count: int, size: int) -> None:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context

    with Aeron.connect(Context.from_properties(aeron_dir=aeron_dir)) as aeron:
        pub = aeron.add_exclusive_publication("aeron:ipc", stream)
        while not pub.is_connected:
            time.sleep(0.001)
        msg = bytearray(size)
        offer = pub.offer
        sent = 0
        while sent < count:
            if offer(msg) > 0:
                sent += 1


def role_sub(aeron_dir: str, stream: int, count: int) -> None:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context

    with Aeron.connect(Context.from_properties(aeron_dir=aeron_dir)) as aeron:
        sub = aeron.add_subscription("aeron:ipc", stream)
        print("READY", flush=True)
        received = 0
        nbytes = 0

        def handler(buffer: object, offset: int, length: int, header: object) -> None:
            nonlocal nbytes
            nbytes += length

        poll = sub.poll
        while received == 0:
            received += poll(handler, 1000)
        start = time.perf_counter()
        while received < count:
            received += poll(handler, 1000)
        elapsed = time.perf_counter() - start
        print(f"{received} {nbytes} {elapsed}", flush=True)


def role_pong(aeron_dir: str) -> None:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context

    with Aeron.connect(Context.from_properties(aeron_dir=aeron_dir)) as aeron:
        sub = aeron.add_subscription("aeron:ipc", 2002)
        pub = aeron.add_exclusive_publication("aeron:ipc", 2003)
        print("READY", flush=True)
        done = False

        def handler(buffer: object, offset: int, length: int, header: object) -> None:
            nonlocal done
            data = buffer.get_bytes(offset, length)  # type: ignore[attr-defined]
            if data[:4] == b"STOP":
                done = True
            while pub.offer(data) < 0:
                pass

        while not done:
            sub.poll(handler, 10)


def role_ping(aeron_dir: str, count: int, warmup: int) -> None:
    import struct

    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context

    with Aeron.connect(Context.from_properties(aeron_dir=aeron_dir)) as aeron:
        pub = aeron.add_exclusive_publication("aeron:ipc", 2002)
        sub = aeron.add_subscription("aeron:ipc", 2003)
        while not (pub.is_connected and sub.image_count > 0):
            time.sleep(0.001)
        rtts: list[int] = []
        got = [False]

        def handler(buffer: object, offset: int, length: int, header: object) -> None:
            got[0] = True

        msg = bytearray(32)
        for i in range(warmup + count):
            struct.pack_into("<q", msg, 0, i)
            t0 = time.perf_counter_ns()
            while pub.offer(msg) < 0:
                pass
            got[0] = False
            while not got[0]:
                sub.poll(handler, 1)
            if i >= warmup:
                rtts.append(time.perf_counter_ns() - t0)
        while pub.offer(b"STOP" + bytes(28)) < 0:
            pass
        rtts.sort()
        pct = lambda p: rtts[min(len(rtts) - 1, int(len(rtts) * p))] / 1000.0  # noqa: E731
        print(f"{pct(0.5):.1f} {pct(0.9):.1f} {pct(0.99):.1f} {pct(0.999):.1f} {rtts[-1] / 1000.0:.1f}", flush=True)


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--pings", type=int, default=20_000)
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "pub":
        role_pub(args.rest[0], int(args.rest[1]), int(args.rest[2]), int(args.rest[3]))
        return 0
    if args.role == "sub":
        role_sub(args.rest[0], int(args.rest[1]), int(args.rest[2]))
        return 0
    if args.role == "pong":
        role_pong(args.rest[0])
        return 0
    if args.role == "ping":
        role_ping(args.rest[0], int(args.rest[1]), int(args.rest[2]))
        return 0

    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.media_driver import MediaDriver

    aeron_dir = os.path.join(SHM, f"aeronpy-bench-{uuid.uuid4().hex[:8]}")
    ctx = DriverContext.from_properties(aeron_dir=aeron_dir, dir_delete_on_shutdown=True, threading_mode="SHARED")
    rows = []
    with MediaDriver.launch(ctx):
        for size in (32, 1024):
            stream = 3000 + size
            sub = _spawn("--role", "sub", aeron_dir, str(stream), str(args.messages))
            assert sub.stdout is not None
            sub.stdout.readline()
            pub = _spawn("--role", "pub", aeron_dir, str(stream), str(args.messages), str(size))
            out, _ = sub.communicate(timeout=600)
            pub.kill()
            pub.wait()
            received, nbytes, elapsed = out.split()
            rate = int(received) / float(elapsed)
            rows.append((f"throughput {size} B", f"{rate:,.0f} msgs/s", f"{int(nbytes) / float(elapsed) / 1e6:,.1f} MB/s"))
        pong = _spawn("--role", "pong", aeron_dir)
        assert pong.stdout is not None
        pong.stdout.readline()
        ping = _spawn("--role", "ping", aeron_dir, str(args.pings), str(max(1000, args.pings // 10)))
        out, _ = ping.communicate(timeout=600)
        pong.wait(timeout=30)
        p50, p90, p99, p999, pmax = out.split()
    shutil.rmtree(aeron_dir, ignore_errors=True)
    print(f"aeronpy IPC benchmark ({args.messages:,} messages per size, {args.pings:,} pings of 32 B)")
    print(f"{'case':<22}{'rate':>20}{'bandwidth':>16}")
    for name, rate, bw in rows:
        print(f"{name:<22}{rate:>20}{bw:>16}")
    print(f"{'round trip (us)':<22}  p50 {p50}  p90 {p90}  p99 {p99}  p99.9 {p999}  max {pmax}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
