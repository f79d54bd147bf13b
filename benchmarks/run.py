"""Benchmarks through an aeronpy media driver, over IPC and UDP loopback: throughput (32 B and
1 KB, publisher and subscriber in two processes) and round-trip latency (ping/pong processes).

Run: ``python benchmarks/run.py`` (options: --messages N, --pings N, --transport ipc|udp|all).
Prints a table.  Clients yield the CPU when they find no work: on a small machine, busy-spinning
clients would starve the driver (UDP needs it in the data path) for a scheduler slice.
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


def role_pub(aeron_dir: str, channel: str, stream: int, count: int, size: int) -> None:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context

    with Aeron.connect(Context.from_properties(aeron_dir=aeron_dir)) as aeron:
        pub = aeron.add_exclusive_publication(channel, stream)
        while not pub.is_connected:
            time.sleep(0.001)
        msg = bytearray(size)
        offer = pub.offer
        sent = 0
        while sent < count:
            if offer(msg) > 0:
                sent += 1
            else:
                os.sched_yield()  # back pressured: let the driver and subscriber run


def role_sub(aeron_dir: str, channel: str, stream: int, count: int) -> None:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context

    with Aeron.connect(Context.from_properties(aeron_dir=aeron_dir)) as aeron:
        sub = aeron.add_subscription(channel, stream)
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
            n = poll(handler, 1000)
            if n == 0:
                os.sched_yield()
            received += n
        elapsed = time.perf_counter() - start
        print(f"{received} {nbytes} {elapsed}", flush=True)


def role_pong(aeron_dir: str, ping_channel: str, pong_channel: str) -> None:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context

    with Aeron.connect(Context.from_properties(aeron_dir=aeron_dir)) as aeron:
        sub = aeron.add_subscription(ping_channel, 2002)
        pub = aeron.add_exclusive_publication(pong_channel, 2003)
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
            if sub.poll(handler, 10) == 0:
                os.sched_yield()  # leave the CPU to the driver: on 2 cores three spinners starve it


def role_ping(aeron_dir: str, ping_channel: str, pong_channel: str, count: int, warmup: int) -> None:
    import struct

    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context

    with Aeron.connect(Context.from_properties(aeron_dir=aeron_dir)) as aeron:
        pub = aeron.add_exclusive_publication(ping_channel, 2002)
        sub = aeron.add_subscription(pong_channel, 2003)
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
                if sub.poll(handler, 1) == 0:
                    os.sched_yield()
            if i >= warmup:
                rtts.append(time.perf_counter_ns() - t0)
        while pub.offer(b"STOP" + bytes(28)) < 0:
            pass
        rtts.sort()
        pct = lambda p: rtts[min(len(rtts) - 1, int(len(rtts) * p))] / 1000.0  # noqa: E731
        print(f"{pct(0.5):.1f} {pct(0.9):.1f} {pct(0.99):.1f} {pct(0.999):.1f} {rtts[-1] / 1000.0:.1f}", flush=True)


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _channels(transport: str) -> tuple[str, str, str]:
    """(data channel, ping channel, pong channel) for one transport."""
    if transport == "ipc":
        return "aeron:ipc", "aeron:ipc", "aeron:ipc"
    return tuple(f"aeron:udp?endpoint=127.0.0.1:{_free_port()}" for _ in range(3))  # type: ignore[return-value]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--pings", type=int, default=20_000)
    parser.add_argument("--transport", choices=["ipc", "udp", "all"], default="all")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    r = args.rest
    if args.role == "pub":
        role_pub(r[0], r[1], int(r[2]), int(r[3]), int(r[4]))
        return 0
    if args.role == "sub":
        role_sub(r[0], r[1], int(r[2]), int(r[3]))
        return 0
    if args.role == "pong":
        role_pong(r[0], r[1], r[2])
        return 0
    if args.role == "ping":
        role_ping(r[0], r[1], r[2], int(r[3]), int(r[4]))
        return 0

    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.media_driver import MediaDriver

    aeron_dir = os.path.join(SHM, f"aeronpy-bench-{uuid.uuid4().hex[:8]}")
    ctx = DriverContext.from_properties(aeron_dir=aeron_dir, dir_delete_on_shutdown=True, threading_mode="SHARED", shared_idle_strategy=os.environ.get("BENCH_IDLE", "backoff"))
    transports = ["ipc", "udp"] if args.transport == "all" else [args.transport]
    rows = []
    latencies = []
    with MediaDriver.launch(ctx):
        for transport in transports:
            for size in (32, 1024):
                channel = _channels(transport)[0]
                stream = 3000 + size
                sub = _spawn("--role", "sub", aeron_dir, channel, str(stream), str(args.messages))
                assert sub.stdout is not None
                sub.stdout.readline()
                pub = _spawn("--role", "pub", aeron_dir, channel, str(stream), str(args.messages), str(size))
                out, _ = sub.communicate(timeout=900)
                pub.kill()
                pub.wait()
                received, nbytes, elapsed = out.split()
                rate = int(received) / float(elapsed)
                rows.append((f"{transport} throughput {size} B", f"{rate:,.0f} msgs/s", f"{int(nbytes) / float(elapsed) / 1e6:,.1f} MB/s"))
            _, ping_channel, pong_channel = _channels(transport)
            pong = _spawn("--role", "pong", aeron_dir, ping_channel, pong_channel)
            assert pong.stdout is not None
            pong.stdout.readline()
            ping = _spawn("--role", "ping", aeron_dir, ping_channel, pong_channel, str(args.pings), str(max(1000, args.pings // 10)))
            out, _ = ping.communicate(timeout=900)
            pong.wait(timeout=60)
            latencies.append((transport, out.split()))
    shutil.rmtree(aeron_dir, ignore_errors=True)
    print(f"aeronpy benchmark ({args.messages:,} messages per case, {args.pings:,} pings of 32 B; driver threading SHARED)")
    print(f"{'case':<26}{'rate':>20}{'bandwidth':>16}")
    for name, rate, bw in rows:
        print(f"{name:<26}{rate:>20}{bw:>16}")
    for transport, (p50, p90, p99, p999, pmax) in latencies:
        print(f"{transport + ' round trip (us)':<26}  p50 {p50}  p90 {p90}  p99 {p99}  p99.9 {p999}  max {pmax}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
