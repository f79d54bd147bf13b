"""Side-by-side benchmarks: aeronpy and the real Aeron C 1.53 driver and client, and pyzmq.

Run: ``python benchmarks/run.py`` (options: ``--messages N``, ``--pings N``, ``--transport
ipc|udp|all``, ``--warmup-passes F``, ``--repeat N``, ``--json PATH``, ``--quick`` for a tiny
smoke run).  One run measures, each cell in its own processes (publisher and subscriber, or
ping and pong):

* throughput, IPC and UDP loopback, 32 B and 1 KB, msgs/s and MB/s, for every pairing of driver
  (aeronpy | C) and clients (aeronpy | C), plus aeronpy clients through the batch API
  (``offer_batch`` / ``poll_batch``).  Steady state: the publisher first sends enough messages
  to fill a log of the default term length once (``--warmup-passes``, default 1; 0 times from
  the first message), untimed, so no timed message pays for first-touch page faults on fresh
  log pages; the subscriber then times ``max(--messages, that many)`` more, first to last;
* the one-message-per-call loop at 32 B over IPC: an aeronpy subscriber calling
  ``poll(handler, 1)`` whose handler copies the message out, and one calling
  ``Subscription.take()`` (the next message as bytes), against pyzmq PUSH/PULL over ``ipc://``
  calling ``recv()`` once per message;
* round trip of 32 B messages (ping/pong), p50/p90/p99/p99.9/max in microseconds;
* the asyncio surface (``aeronpy.aio``, roles in ``aio_roles.py``) on the aeronpy driver: IPC 32 B
  throughput (``async for message in messages()``), round trip, and an idle async subscriber's CPU;
* each driver's idle CPU (share of one core over a quiet 5 s window, from the kernel's exact
  per-thread run time, ``/proc/PID/task/*/schedstat``) and resident memory, and its CPU time per
  message in every cell (steadier than rates when the machine is shared);
* the hypervisor's *steal* (``/proc/stat``: time this VM's CPUs had work but the host ran
  something else) during each throughput and round-trip cell and the whole run: on a shared VM a
  round trip's max or p99.9 of ~100 ms is steal, not the driver.

With ``--repeat N`` the whole pass over drivers and cells runs N times (fresh drivers each time,
so every cell is measured at N moments spread over the run) and each number shown is the median
of the cell's N measurements; the JSON keeps every measurement under ``"passes"``.  On a small
shared machine single measurements of one cell spread by a factor of two; medians much less.

Ratios are given to the C driver + C client cell of the same case and, for the one-per-call loop,
to pyzmq.  The issue's targets are printed next to the results (never asserted).  Results also go
to a JSON file (default ``benchmarks/results.json``).  Drivers run SHARED; every client yields
(``sched_yield``) when refused or idle.  A peer that cannot be had (no pyaeron wheel, no gcc, no
pyzmq) is skipped, saying why.  The C client is ``benchmarks/c_client.c``, compiled here with gcc
and linked against the wheel's exported Aeron symbols.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import aio_roles  # noqa: E402  (a sibling module: run.py is run as a script)
ROOT = HERE.parent
SHM = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
CELL_TIMEOUT_S = 300.0
IDLE_WINDOW_S = 5.0

TARGETS = [
    "IPC 32 B, Python processes, one message per call >= 5 M msgs/s (>= 0.2x C); batch API >= 0.5x C",
    "IPC 1 KB >= 1.5 M msgs/s",
    "one-message-per-call loop >= 4x pyzmq at 32 B",
    "UDP loopback 32 B aeronpy driver + aeronpy clients >= 1.5 M msgs/s; aeronpy driver + C clients >= 0.6x C driver + C clients",
    "round trip p50: IPC <= 1.5 us; UDP <= the C driver's; p99 within 2x of C",
    "idle driver <= 2 % of a core; driver RSS <= 60 MB",
]


# ----------------------------------------------------------------------- aeronpy roles


def _connect(aeron_dir: str) -> Any:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context

    return Aeron.connect(Context.from_properties(aeron_dir=aeron_dir))


def role_pub(aeron_dir: str, channel: str, stream: int, count: int, size: int, mode: str) -> None:
    with _connect(aeron_dir) as aeron:
        pub = aeron.add_publication(channel, stream)
        while not pub.is_connected:
            os.sched_yield()
        msg = bytes(size)
        yield_ = os.sched_yield
        if mode == "batch":
            sent = 0
            batch = [msg] * 256
            offer_batch = pub.offer_batch
            while sent < count:
                accepted, _ = offer_batch(batch if count - sent >= 256 else batch[: count - sent])
                sent += accepted
                if accepted < 256:
                    yield_()
            return
        offer = pub.offer
        for _ in range(count):  # as role_zpush and c_client.c: one offer per message, retried
            while offer(msg) < 0:
                yield_()  # back pressured: let the driver and subscriber run


def role_sub(aeron_dir: str, channel: str, stream: int, count: int, mode: str, warmup: int) -> None:
    """Receive ``warmup`` messages untimed, then time the next ``count`` (the publisher sends both).

    Each mode's loop is written out (no per-message indirection) and runs twice: up to the warm-up
    total, then up to the end; what is printed covers only the second run.
    """
    with _connect(aeron_dir) as aeron:
        sub = aeron.add_subscription(channel, stream)
        print("READY", flush=True)
        yield_ = os.sched_yield
        warmup = max(1, warmup)  # the first message is never timed: it waits for the connection
        total = warmup + count

        if mode == "batch":
            while sub.image_count == 0:
                yield_()
            poll_batch = sub.images[0].poll_batch

            def drain(received: int, nbytes: int, target: int) -> tuple[int, int]:
                while received < target:
                    batch = poll_batch(min(1000, target - received))
                    n = len(batch)
                    if n == 0:
                        batch.release()
                        yield_()
                        continue
                    received += n
                    nbytes += sum(batch.lengths())
                    batch.release()
                return received, nbytes

        elif mode == "take":  # recv()-style: Subscription.take() returns the next message's bytes
            take = sub.take

            def drain(received: int, nbytes: int, target: int) -> tuple[int, int]:
                idle = 0
                while received < target:
                    message = take()
                    if message is None:
                        idle += 1
                        if idle > SPINS_BEFORE_YIELD:  # caught up: a yield per empty take would dominate
                            yield_()
                        continue
                    idle = 0
                    received += 1
                    nbytes += len(message)
                return received, nbytes

        elif mode == "one":  # the recv()-style loop: one message per call, copied out
            # The handler leaves its copy in a nonlocal, the least Python that gets a message out
            # of a callback (a list cell cleared and indexed each call cost about 50 ns more
            # here); pyzmq's loop is as bare: len(recv()).
            message = b""

            def copy_handler(buffer: Any, offset: int, length: int, header: Any) -> None:
                nonlocal message
                message = buffer.get_bytes(offset, length)

            poll = sub.poll

            def drain(received: int, nbytes: int, target: int) -> tuple[int, int]:
                while received < target:
                    if poll(copy_handler, 1) == 0:
                        yield_()
                        continue
                    received += 1
                    nbytes += len(message)
                return received, nbytes

        else:
            counted = 0

            def handler(buffer: Any, offset: int, size: int, header: Any) -> None:
                nonlocal counted  # as c_client.c's on_count: add to a variable, no container
                counted += size

            poll = sub.poll

            def drain(received: int, nbytes: int, target: int) -> tuple[int, int]:
                nonlocal counted
                counted = nbytes
                while received < target:
                    n = poll(handler, min(1000, target - received))
                    if n == 0:
                        yield_()
                    received += n
                return received, counted

        received, nbytes = drain(0, 0, warmup)
        start = time.perf_counter()
        end_received, end_bytes = drain(received, nbytes, total)
        elapsed = time.perf_counter() - start
        print(f"{end_received - received} {end_bytes - nbytes} {elapsed}", flush=True)


SPINS_BEFORE_YIELD = 64
"""Round-trip roles (aeronpy and C alike) poll this many times in a row before yielding."""


def role_pong(aeron_dir: str, ping_channel: str, pong_channel: str) -> None:
    with _connect(aeron_dir) as aeron:
        sub = aeron.add_subscription(ping_channel, 2002)
        pub = aeron.add_publication(pong_channel, 2003)
        print("READY", flush=True)
        done = [False]
        offer = pub.offer

        def handler(buffer: Any, offset: int, length: int, header: Any) -> None:
            data = buffer.get_bytes(offset, length)
            if data[:4] == b"STOP":
                done[0] = True
            while offer(data) < 0:
                os.sched_yield()

        while sub.image_count == 0:
            os.sched_yield()
        poll = sub.poll
        idle = 0
        while not done[0]:
            if poll(handler, 1) == 0:
                idle += 1
                if idle > SPINS_BEFORE_YIELD:
                    os.sched_yield()  # leave the CPU to the driver: on 2 cores three spinners starve it
            else:
                idle = 0


def role_ping(aeron_dir: str, ping_channel: str, pong_channel: str, count: int, warmup: int) -> None:
    with _connect(aeron_dir) as aeron:
        pub = aeron.add_publication(ping_channel, 2002)
        sub = aeron.add_subscription(pong_channel, 2003)
        while not (pub.is_connected and sub.image_count > 0):
            os.sched_yield()
        rtts: list[int] = []
        got = [False]

        def handler(buffer: Any, offset: int, length: int, header: Any) -> None:
            got[0] = True

        msg = bytearray(32)
        offer, poll, clock = pub.offer, sub.poll, time.perf_counter_ns
        for i in range(warmup + count):
            struct.pack_into("<q", msg, 0, i)
            t0 = clock()
            while offer(msg) < 0:
                os.sched_yield()
            got[0] = False
            idle = 0
            while not got[0]:
                if poll(handler, 1) == 0:
                    idle += 1
                    if idle > SPINS_BEFORE_YIELD:
                        os.sched_yield()
            if i >= warmup:
                rtts.append(clock() - t0)
        while offer(b"STOP" + bytes(28)) < 0:
            os.sched_yield()
        print(_percentiles(rtts), flush=True)


def _percentiles(rtts: list[int]) -> str:
    rtts.sort()

    def pct(p: float) -> float:
        return rtts[min(len(rtts) - 1, int(len(rtts) * p))] / 1000.0

    return f"{pct(0.5):.1f} {pct(0.9):.1f} {pct(0.99):.1f} {pct(0.999):.1f} {rtts[-1] / 1000.0:.1f}"


# ------------------------------------------------------------------------- pyzmq roles


def role_zpull(address: str, count: int, warmup: int) -> None:
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    sock.bind(address)
    print("READY", flush=True)
    recv = sock.recv
    for _ in range(max(1, warmup)):  # untimed, as the Aeron subscribers' warm-up
        recv()
    nbytes = received = 0
    start = time.perf_counter()
    while received < count:
        nbytes += len(recv())  # one message per call, copied out (bytes)
        received += 1
    print(f"{received} {nbytes} {time.perf_counter() - start}", flush=True)
    sock.close(linger=0)
    ctx.term()


def role_zpush(address: str, count: int, size: int) -> None:
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.connect(address)
    msg = bytes(size)
    send = sock.send
    for _ in range(count):
        send(msg)
    # Closing now can lose messages still queued past the high-water mark (seen: the puller then
    # waited forever), so keep the socket open until the harness, once the puller has reported,
    # stops this process; the sleep is only a bound.
    time.sleep(CELL_TIMEOUT_S)
    sock.close(linger=0)
    ctx.term()


# ------------------------------------------------------------------------ orchestration


class Skip(Exception):
    """A peer that cannot be had; the message says why."""


def _spawn_role(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, "--role", *args], stdout=subprocess.PIPE, text=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _channel(transport: str) -> str:
    return "aeron:ipc" if transport == "ipc" else f"aeron:udp?endpoint=127.0.0.1:{_free_port()}"


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _run_ns(pid: int) -> Optional[int]:
    """Nanoseconds on a CPU so far, summed over the process's live threads (``schedstat``), or
    None where the kernel has no schedstat.  Exact, unlike clock ticks: a driver waking from
    1 ms sleeps on the timer tick is charged whole ticks far more often than it runs."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total


def _steal_ms(stat_path: str = "/proc/stat") -> Optional[float]:
    """Milliseconds of *steal* so far, summed over the CPUs: time this (virtual) machine's CPUs
    had work but the hypervisor ran something else; None where the kernel does not say.  A
    cell that meets steal stalls for as long (a 100 ms one shows as a round trip's max)."""
    try:
        with open(stat_path) as f:
            for line in f:
                fields = line.split()
                if fields and fields[0] == "cpu":
                    return int(fields[8]) * 1000.0 / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else None
    except (OSError, ValueError):
        return None
    return None


def _steal_since(start: Optional[float]) -> dict[str, float]:
    """``{"steal_ms": ...}`` since ``start`` (a :func:`_steal_ms` reading), or nothing."""
    now = _steal_ms()
    return {} if start is None or now is None else {"steal_ms": now - start}


def _rss_mb(pid: int) -> tuple[float, float]:
    rss = hwm = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024.0
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024.0
    return rss, hwm


class Driver:
    """A media driver in its own process (aeronpy CLI, or the C driver from the wheel)."""

    def __init__(self, kind: str, aeron_dir: str) -> None:
        self.kind = kind
        self.aeron_dir = aeron_dir
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        if kind == "aeronpy":
            cmd = [sys.executable, "-m", "aeronpy", "driver", "--dir", aeron_dir,
                   "-D", "aeron.threading.mode=SHARED", "-D", "aeron.dir.delete.on.shutdown=true"]
        elif kind == "aeronpy-low-latency":  # Aeron's LowLatencyMediaDriver settings: busy-spins
            cmd = [sys.executable, "-m", "aeronpy", "driver", "--dir", aeron_dir, "--low-latency",
                   "-D", "aeron.dir.delete.on.shutdown=true"]
        else:
            cmd = [sys.executable, str(ROOT / "tests" / "interop" / "c_driver.py"), "--dir", aeron_dir,
                   "--threading-mode", "SHARED"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise Skip(f"{kind} driver did not start: {err.strip()[-300:]}")
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(aeron_dir, "cnc.dat")):
            if time.monotonic() > deadline:
                raise Skip(f"{kind} driver wrote no cnc.dat")
            time.sleep(0.01)

    def idle_cpu_percent(self, window_s: float) -> float:
        """Share of one core the driver uses over ``window_s`` with nothing to do."""
        t0, n0 = time.monotonic(), _run_ns(self.proc.pid)
        if n0 is None:  # no schedstat: fall back to clock ticks
            hz = os.sysconf("SC_CLK_TCK")
            c0 = _cpu_ticks(self.proc.pid)
            time.sleep(window_s)
            t1, c1 = time.monotonic(), _cpu_ticks(self.proc.pid)
            return 100.0 * (c1 - c0) / hz / (t1 - t0)
        time.sleep(window_s)
        t1, n1 = time.monotonic(), _run_ns(self.proc.pid)
        return 100.0 * ((n1 or n0) - n0) / 1e9 / (t1 - t0)

    def memory_mb(self) -> tuple[float, float]:
        return _rss_mb(self.proc.pid)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the driver process has used so far."""
        return _cpu_ticks(self.proc.pid) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.aeron_dir, ignore_errors=True)


def build_c_client(build_dir: str) -> str:
    """Compile benchmarks/c_client.c against the wheel's library; the executable's path."""
    sys.path.insert(0, str(ROOT))
    from tests.interop import reference

    reason = reference.unavailable_reason()
    if reason is not None:
        raise Skip(f"real Aeron C client/driver unavailable: {reason}")
    library = reference.library_path()
    assert library is not None
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise Skip("no C compiler (gcc) to build benchmarks/c_client.c")
    import sysconfig

    libdir = sysconfig.get_config_var("LIBDIR") or ""
    ldlibrary = f"python{sysconfig.get_config_var('LDVERSION')}"
    exe = os.path.join(build_dir, "c_client")
    cmd = [gcc, "-O2", "-o", exe, str(HERE / "c_client.c"), library, f"-L{libdir}", f"-l{ldlibrary}",
           f"-Wl,-rpath,{os.path.dirname(library)}", f"-Wl,-rpath,{libdir}", "-lm", "-ldl", "-lpthread"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise Skip(f"building the C client failed: {done.stderr.strip()[-300:]}")
    return exe


class Bench:
    def __init__(self, args: argparse.Namespace, c_client: Optional[str]) -> None:
        self.args = args
        self.c_client = c_client
        self.stream = 3000

    def _client_cmd(self, client: str, role: str, *rest: str) -> list[str]:
        if client == "c":
            assert self.c_client is not None
            return [self.c_client, role, *rest]
        return [sys.executable, __file__, "--role", role, *rest]

    def _run_pair(self, first: list[str], second: list[str], result_from_second: bool = False) -> str:
        """Start `first` (prints READY), then `second`; the last line of the one that reports."""
        a = subprocess.Popen(first, stdout=subprocess.PIPE, text=True)
        b: subprocess.Popen[str] | None = None
        try:
            assert a.stdout is not None
            if a.stdout.readline().strip() != "READY":
                raise RuntimeError(f"{first[:3]} did not get ready")
            b = subprocess.Popen(second, stdout=subprocess.PIPE, text=True)
            reporter, other = (b, a) if result_from_second else (a, b)
            reporter_cmd, other_cmd = (second, first) if result_from_second else (first, second)
            deadline = time.monotonic() + CELL_TIMEOUT_S
            while reporter.poll() is None:  # fail fast when the peer dies: the reporter would wait on
                if other.poll() not in (None, 0):
                    raise RuntimeError(f"{other_cmd[:3]} exited {other.returncode} before {reporter_cmd[:3]} reported")
                if time.monotonic() > deadline:
                    raise subprocess.TimeoutExpired(reporter_cmd, CELL_TIMEOUT_S)
                time.sleep(0.05)
            out, _ = reporter.communicate()
            if reporter.returncode != 0 or not out.strip():
                raise RuntimeError(f"{reporter_cmd[:3]} exited {reporter.returncode} without a result")
            if result_from_second:
                a.wait(timeout=30)
            return out.strip().splitlines()[-1]
        finally:
            for p in (a, b):
                if p is not None and p.poll() is None:
                    p.kill()
                    p.wait()

    def cell_counts(self, transport: str, size: int) -> tuple[int, int]:
        """``(warm-up, timed)`` messages of a throughput cell.  The warm-up, sent untimed first, is
        ``--warmup-passes`` times the messages that fill a log of the default term length once, so
        the timed run is steady state (no first-touch page faults on fresh log pages, in the
        clients or the driver); at least one.  Timed: ``--messages``, but at least a log's worth,
        or the fast cells would be over in milliseconds."""
        term_length = 64 * 1024 * 1024 if transport == "ipc" else 16 * 1024 * 1024
        frame = (size + 32 + 31) // 32 * 32
        warmup = max(1, int(self.args.warmup_passes * 3 * term_length / frame))
        return warmup, max(self.args.messages, warmup)

    def throughput(self, driver: Driver, client: str, transport: str, size: int, mode: str = "call") -> dict[str, Any]:
        self.stream += 1
        channel = _channel(transport)
        warmup, count = self.cell_counts(transport, size)
        sub_args = [driver.aeron_dir, channel, str(self.stream), str(count)]
        pub_args = [driver.aeron_dir, channel, str(self.stream), str(warmup + count), str(size)]
        if client != "c":
            sub_args.append(mode)
            pub_args.append(mode if mode == "batch" else "call")
        sub_args.append(str(warmup))
        cpu0, steal0 = driver.cpu_seconds(), _steal_ms()
        line = self._run_pair(self._client_cmd(client, "sub", *sub_args), self._client_cmd(client, "pub", *pub_args))
        cpu = driver.cpu_seconds() - cpu0
        received, nbytes, elapsed = line.split()
        seconds = max(float(elapsed), 1e-9)
        return {"msgs_per_s": int(received) / seconds, "mb_per_s": int(nbytes) / seconds / 1e6,
                "driver_cpu_us_per_msg": cpu / (int(received) + warmup) * 1e6, "warmup_messages": warmup,
                **_steal_since(steal0)}

    def round_trip(self, driver: Driver, client: str, transport: str) -> dict[str, float]:
        ping_channel, pong_channel = _channel(transport), _channel(transport)
        pings = self.args.pings
        warmup = max(100, pings // 10)
        cpu0, steal0 = driver.cpu_seconds(), _steal_ms()
        line = self._run_pair(
            self._client_cmd(client, "pong", driver.aeron_dir, ping_channel, pong_channel),
            self._client_cmd(client, "ping", driver.aeron_dir, ping_channel, pong_channel, str(pings),
                             str(warmup)),
            result_from_second=True,
        )
        cpu = driver.cpu_seconds() - cpu0
        p50, p90, p99, p999, pmax = (float(x) for x in line.split())
        return {"p50": p50, "p90": p90, "p99": p99, "p99.9": p999, "max": pmax,
                "driver_cpu_us_per_msg": cpu / (2 * (pings + warmup)) * 1e6,  # a ping and a pong each
                **_steal_since(steal0)}

    def aio_cells(self, driver: Driver) -> dict[str, Any]:
        """The asyncio surface over IPC on this driver: throughput, round trip, idle client CPU."""
        me = [sys.executable, __file__, "--role"]
        self.stream += 1
        warmup, count = self.cell_counts("ipc", 32)
        cells: dict[str, Any] = {}
        line = self._run_pair(me + ["asub", driver.aeron_dir, "aeron:ipc", str(self.stream), str(count), str(warmup)],
                              me + ["apub", driver.aeron_dir, "aeron:ipc", str(self.stream), str(warmup + count), "32"])
        received, nbytes, elapsed = line.split()
        seconds = max(float(elapsed), 1e-9)
        cells["throughput"] = {"msgs_per_s": int(received) / seconds, "mb_per_s": int(nbytes) / seconds / 1e6}
        pings = self.args.pings
        line = self._run_pair(me + ["apong", driver.aeron_dir, "aeron:ipc", "aeron:ipc"],
                              me + ["aping", driver.aeron_dir, "aeron:ipc", "aeron:ipc", str(pings),
                                    str(max(100, pings // 10))], result_from_second=True)
        p50, p90, p99, p999, pmax = (float(x) for x in line.split())
        cells["round_trip"] = {"p50": p50, "p90": p90, "p99": p99, "p99.9": p999, "max": pmax}
        idle = subprocess.run(me + ["aidle", driver.aeron_dir, str(self.args.idle_window_s)], capture_output=True,
                              text=True, timeout=CELL_TIMEOUT_S)
        if idle.returncode != 0 or not idle.stdout.strip():
            raise RuntimeError(f"idle async subscriber exited {idle.returncode}")
        cells["idle_client_cpu_percent"] = float(idle.stdout.strip().splitlines()[-1])
        return cells

    def zmq_one_per_call(self, size: int) -> dict[str, Any]:
        try:
            import zmq  # noqa: F401
        except ImportError:
            raise Skip("pyzmq is not installed (pip install -e '.[bench]')") from None
        address = f"ipc://{tempfile.gettempdir()}/aeronpy-bench-zmq-{uuid.uuid4().hex[:8]}"
        warmup, count = self.cell_counts("ipc", size)
        line = self._run_pair(
            [sys.executable, __file__, "--role", "zpull", address, str(count), str(warmup)],
            [sys.executable, __file__, "--role", "zpush", address, str(warmup + count), str(size)],
        )
        received, nbytes, elapsed = line.split()
        seconds = max(float(elapsed), 1e-9)
        return {"msgs_per_s": int(received) / seconds, "mb_per_s": int(nbytes) / seconds / 1e6}


def _fmt_rate(v: Optional[float]) -> str:
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    return f"{v / 1e3:.0f} k"


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "settings": {"messages": args.messages, "pings": args.pings, "threading": "SHARED", "repeat": args.repeat},
        "throughput": [], "round_trip": [], "one_per_call": [], "drivers": {}, "skipped": [],
        "targets": TARGETS,
    }
    build_dir = tempfile.mkdtemp(prefix="aeronpy-bench-")
    c_client: Optional[str] = None
    steal0 = _steal_ms()
    try:
        try:
            c_client = build_c_client(build_dir)
        except Skip as e:
            results["skipped"].append(f"C client: {e}")
        bench = Bench(args, c_client)
        passes = []
        for n in range(args.repeat):
            if args.repeat > 1:
                print(f"pass {n + 1} of {args.repeat}", file=sys.stderr, flush=True)
            one: dict[str, Any] = {"throughput": [], "round_trip": [], "one_per_call": [], "drivers": {}, "skipped": []}
            measure_pass(args, bench, c_client, one, last=n == args.repeat - 1)
            passes.append(one)
        results.update(merge_passes(passes))
        results["skipped"] = _unique(results["skipped"] + [r for p in passes for r in p["skipped"]])
        if args.repeat > 1:
            results["passes"] = [{k: p[k] for k in SECTIONS + ("drivers",)} for p in passes]
        for key in ("asyncio", "low_latency"):
            if key in passes[-1]:
                results[key] = passes[-1][key]
        results["machine"].update(_steal_since(steal0))
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    return results


SECTIONS = ("throughput", "round_trip", "one_per_call")
"""The result lists whose rows are cells (merged over passes by :func:`merge_passes`)."""

IDENTITY = ("peer", "driver", "client", "api", "transport", "size")
"""The fields that name a cell; every other number in a row is a measurement."""


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One cell's rows from several passes: the median of each measurement over the passes that
    measured it (``runs``: how many), or the first row when every pass failed."""
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return dict(rows[0])
    merged: dict[str, Any] = {k: ok[0][k] for k in IDENTITY if k in ok[0]}
    for key, value in ok[0].items():
        if key in IDENTITY or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        values = [r[key] for r in ok if isinstance(r.get(key), (int, float))]
        merged[key] = statistics.median(values)
    merged["runs"] = len(ok)
    return merged


def merge_passes(passes: list[dict[str, Any]]) -> dict[str, Any]:
    """Cells (rows of :data:`SECTIONS`) and driver figures of several passes, each the median
    over the passes; rows keep the order of their first appearance."""
    merged: dict[str, Any] = {}
    for section in SECTIONS:
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for one in passes:
            for row in one[section]:
                groups.setdefault(tuple(row.get(k) for k in IDENTITY), []).append(row)
        merged[section] = [_median_row(rows) for rows in groups.values()]
    drivers: dict[str, Any] = {}
    for one in passes:
        for kind, info in one["drivers"].items():
            drivers.setdefault(kind, []).append(info)
    merged["drivers"] = {kind: _median_row(infos) for kind, infos in drivers.items()}
    for info in merged["drivers"].values():
        info.pop("runs", None)
    return merged


def measure_pass(args: argparse.Namespace, bench: Bench, c_client: Optional[str], results: dict[str, Any],
                 last: bool = True) -> None:
    """Every cell once, into ``results``' lists; the asyncio and ``--low-latency`` cells only in
    the ``last`` pass."""
    transports = ["ipc", "udp"] if args.transport == "all" else [args.transport]
    clients = ["aeronpy", "c"] if c_client else ["aeronpy"]
    driver_kinds = ["aeronpy", "c"] if c_client else ["aeronpy"]
    for kind in driver_kinds:
        try:
            driver = Driver(kind, os.path.join(SHM, f"aeronpy-bench-{kind}-{uuid.uuid4().hex[:8]}"))
        except Skip as e:
            results["skipped"].append(f"{kind} driver: {e}")
            continue
        try:
            info: dict[str, Any] = {"idle_cpu_percent": driver.idle_cpu_percent(args.idle_window_s),
                                    "idle_rss_mb": driver.memory_mb()[0]}
            for transport in transports:
                for client in clients:
                    modes = ["call", "batch"] if client == "aeronpy" else ["call"]
                    for mode in modes:
                        for size in (32, 1024):
                            cell = {"driver": kind, "client": client, "api": mode, "transport": transport, "size": size}
                            try:
                                cell.update(bench.throughput(driver, client, transport, size, mode))
                            except (RuntimeError, subprocess.TimeoutExpired) as e:
                                cell["error"] = str(e)
                            results["throughput"].append(cell)
                            _progress(cell)
                    cell = {"driver": kind, "client": client, "transport": transport, "size": 32}
                    try:
                        cell.update(bench.round_trip(driver, client, transport))
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        cell["error"] = str(e)
                    results["round_trip"].append(cell)
                    _progress(cell)
            if "ipc" in transports:
                for api in ("one", "take"):
                    cell = {"peer": "aeronpy", "api": api, "driver": kind, "transport": "ipc", "size": 32}
                    try:
                        cell.update(bench.throughput(driver, "aeronpy", "ipc", 32, api))
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        cell["error"] = str(e)
                    results["one_per_call"].append(cell)
                    _progress(cell)
            if "ipc" in transports and kind == "aeronpy" and last:
                try:
                    results["asyncio"] = bench.aio_cells(driver)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    results["asyncio"] = {"error": str(e)}
                _progress({"asyncio": results["asyncio"]})
            rss, hwm = driver.memory_mb()
            info.update({"rss_mb": rss, "peak_rss_mb": hwm})
            results["drivers"][kind] = info
        finally:
            driver.stop()
    if "ipc" in transports:
        cell = {"peer": "pyzmq", "transport": "ipc", "size": 32}
        try:
            cell.update(bench.zmq_one_per_call(32))
            results["one_per_call"].append(cell)
            _progress(cell)
        except Skip as e:
            results["skipped"].append(f"pyzmq: {e}")
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            cell["error"] = str(e)
            results["one_per_call"].append(cell)
    if "ipc" in transports and not args.quick and last:  # last: its busy-spinning threads take whole cores
        results["low_latency"] = low_latency_cells(bench)


def low_latency_cells(bench: Bench) -> dict[str, Any]:
    """IPC 32 B through the aeronpy driver started with ``--low-latency`` (DEDICATED threads,
    busy-spinning conductor, no-op sender/receiver idle): what the preset changes here."""
    try:
        driver = Driver("aeronpy-low-latency", os.path.join(SHM, f"aeronpy-bench-ll-{uuid.uuid4().hex[:8]}"))
    except Skip as e:
        return {"error": str(e)}
    try:
        cells: dict[str, Any] = {"idle_cpu_percent": driver.idle_cpu_percent(bench.args.idle_window_s)}
        try:
            cells["throughput"] = bench.throughput(driver, "aeronpy", "ipc", 32, "call")
            cells["round_trip"] = bench.round_trip(driver, "aeronpy", "ipc")
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            cells["error"] = str(e)
        return cells
    finally:
        driver.stop()


def _progress(cell: dict[str, Any]) -> None:
    print("  " + json.dumps(cell), file=sys.stderr, flush=True)


def _find(rows: list[dict[str, Any]], **match: Any) -> Optional[dict[str, Any]]:
    for row in rows:
        if all(row.get(k) == v for k, v in match.items()) and "error" not in row:
            return row
    return None


def table(results: dict[str, Any]) -> str:
    """The results as markdown tables (what README's Benchmarks section shows)."""
    out: list[str] = []
    tp = results["throughput"]
    cells = [("aeronpy", "aeronpy", "call"), ("aeronpy", "aeronpy", "batch"), ("c", "c", "call"),
             ("c", "aeronpy", "call"), ("c", "aeronpy", "batch"), ("aeronpy", "c", "call")]
    names = {("aeronpy", "aeronpy", "call"): "aeronpy driver + aeronpy clients",
             ("aeronpy", "aeronpy", "batch"): "aeronpy driver + aeronpy clients, batch API",
             ("c", "c", "call"): "C driver + C clients",
             ("c", "aeronpy", "call"): "C driver + aeronpy clients",
             ("c", "aeronpy", "batch"): "C driver + aeronpy clients, batch API",
             ("aeronpy", "c", "call"): "aeronpy driver + C clients"}
    out.append("| throughput after a one-log warm-up, msgs/s (MB/s) [x C] | IPC 32 B | IPC 1 KB | UDP 32 B | UDP 1 KB |")
    out.append("|---|---:|---:|---:|---:|")
    for key in cells:
        driver, client, api = key
        row = [names[key]]
        any_value = False
        for transport in ("ipc", "udp"):
            for size in (32, 1024):
                cell = _find(tp, driver=driver, client=client, api=api, transport=transport, size=size)
                ref = _find(tp, driver="c", client="c", api="call", transport=transport, size=size)
                if cell is None:
                    row.append("-")
                    continue
                any_value = True
                text = f"{_fmt_rate(cell['msgs_per_s'])} ({cell['mb_per_s']:.0f})"
                if ref is not None and key != ("c", "c", "call"):
                    text += f" [{cell['msgs_per_s'] / ref['msgs_per_s']:.2f}x]"
                row.append(text)
        if any_value:
            out.append("| " + " | ".join(row) + " |")
    out.append("")
    out.append("| round trip 32 B, µs p50 / p90 / p99 / p99.9 | IPC | UDP |")
    out.append("|---|---:|---:|")
    for driver, client in (("aeronpy", "aeronpy"), ("c", "c"), ("c", "aeronpy"), ("aeronpy", "c")):
        row = [f"{'aeronpy' if driver == 'aeronpy' else 'C'} driver + {'aeronpy' if client == 'aeronpy' else 'C'} clients"]
        found = False
        for transport in ("ipc", "udp"):
            cell = _find(results["round_trip"], driver=driver, client=client, transport=transport)
            if cell is None:
                row.append("-")
            else:
                found = True
                row.append(f"{cell['p50']:.1f} / {cell['p90']:.1f} / {cell['p99']:.1f} / {cell['p99.9']:.1f}")
        if found:
            out.append("| " + " | ".join(row) + " |")
    out.append("")
    steal = results.get("machine", {}).get("steal_ms")
    if steal is not None:
        worst = max((c.get("steal_ms", 0.0) for p in results.get("passes", [results]) for c in p["round_trip"]),
                    default=0.0)
        out.append(f"Hypervisor steal (time the host ran something else on this VM's CPUs) during the run: "
                   f"{steal:.0f} ms in all, {worst:.0f} ms in the worst round-trip cell.")
        out.append("")
    zmq = _find(results["one_per_call"], peer="pyzmq")
    out.append("| one message per call, IPC 32 B, copied out | msgs/s | x pyzmq |")
    out.append("|---|---:|---:|")
    for cell in results["one_per_call"]:
        call = "take()" if cell.get("api") == "take" else "poll(handler, 1) + get_bytes"
        name = "pyzmq PUSH/PULL ipc:// recv()" if cell["peer"] == "pyzmq" else \
            f"aeronpy {call}, {'aeronpy' if cell['driver'] == 'aeronpy' else 'C'} driver"
        if "error" in cell:
            out.append(f"| {name} | failed: {cell['error'][:120]} | - |")
            continue
        ratio = f"{cell['msgs_per_s'] / zmq['msgs_per_s']:.2f}x" if zmq is not None else "-"
        out.append(f"| {name} | {_fmt_rate(cell['msgs_per_s'])} | {ratio} |")
    out.append("")
    out.append("| driver CPU per message, µs (CPU time: steadier than rates on a loaded machine) "
               "| IPC 32 B | IPC 1 KB | UDP 32 B | UDP 1 KB | UDP round trip (per hop) |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for driver, client in (("aeronpy", "aeronpy"), ("c", "c"), ("c", "aeronpy"), ("aeronpy", "c")):
        row = [f"{'aeronpy' if driver == 'aeronpy' else 'C'} driver + {'aeronpy' if client == 'aeronpy' else 'C'} clients"]
        cells_found = [_find(tp, driver=driver, client=client, api="call", transport=t, size=n)
                       for t in ("ipc", "udp") for n in (32, 1024)]
        cells_found.append(_find(results["round_trip"], driver=driver, client=client, transport="udp"))
        if not any(cells_found):
            continue
        row += [f"{c['driver_cpu_us_per_msg']:.2f}" if c is not None and "driver_cpu_us_per_msg" in c else "-"
                for c in cells_found]
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    out.append("| driver process | idle CPU (% of a core) | RSS MB idle | RSS MB after the run (peak), incl. mapped logs |")
    out.append("|---|---:|---:|---:|")
    for kind, info in results["drivers"].items():
        out.append(f"| {'aeronpy' if kind == 'aeronpy' else 'C (in a Python host process)'} | "
                   f"{info['idle_cpu_percent']:.1f} | {info['idle_rss_mb']:.0f} | "
                   f"{info['rss_mb']:.0f} ({info['peak_rss_mb']:.0f}) |")
    aio_cells = results.get("asyncio")
    if aio_cells is not None and "error" not in aio_cells:
        base_tp = _find(tp, driver="aeronpy", client="aeronpy", api="call", transport="ipc", size=32)
        rt = aio_cells["round_trip"]
        ratio = f" [{aio_cells['throughput']['msgs_per_s'] / base_tp['msgs_per_s']:.2f}x sync]" if base_tp else ""
        out.append("")
        out.append("| asyncio (`aeronpy.aio`), aeronpy driver, IPC 32 B | msgs/s | round trip p50 / p99 µs "
                   "| idle async subscriber CPU % |")
        out.append("|---|---:|---:|---:|")
        out.append(f"| `async for m in sub.messages()` / `await pub.offer()` | "
                   f"{_fmt_rate(aio_cells['throughput']['msgs_per_s'])}{ratio} | {rt['p50']:.1f} / {rt['p99']:.1f} | "
                   f"{aio_cells['idle_client_cpu_percent']:.1f} |")
    ll = results.get("low_latency")
    if ll is not None and "throughput" in ll and "round_trip" in ll:
        base_tp = _find(tp, driver="aeronpy", client="aeronpy", api="call", transport="ipc", size=32)
        base_rt = _find(results["round_trip"], driver="aeronpy", client="aeronpy", transport="ipc")
        rt = ll["round_trip"]
        out.append("")
        out.append("| aeronpy driver, IPC 32 B, aeronpy clients | msgs/s | round trip p50 / p99 µs | idle driver CPU % |")
        out.append("|---|---:|---:|---:|")
        if base_tp is not None and base_rt is not None and "error" not in base_tp and "error" not in base_rt:
            out.append(f"| default (SHARED, backoff idle) | {_fmt_rate(base_tp['msgs_per_s'])} | "
                       f"{base_rt['p50']:.1f} / {base_rt['p99']:.1f} | {results['drivers']['aeronpy']['idle_cpu_percent']:.1f} |")
        out.append(f"| `--low-latency` (DEDICATED, busy-spin: it uses whole cores even when idle) | "
                   f"{_fmt_rate(ll['throughput']['msgs_per_s'])} | {rt['p50']:.1f} / {rt['p99']:.1f} | "
                   f"{ll['idle_cpu_percent']:.1f} |")
    return "\n".join(out)


def results_path(given: Optional[str], quick: bool) -> str:
    """Where the JSON goes: ``--json`` if given; else the published ``benchmarks/results.json``,
    except for a ``--quick`` smoke run, whose tiny counts must not replace the published results."""
    if given:
        return given
    if quick:
        return os.path.join(tempfile.gettempdir(), "aeronpy-bench-quick.json")
    return str(HERE / "results.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--pings", type=int, default=20_000)
    parser.add_argument("--transport", choices=["ipc", "udp", "all"], default="all")
    parser.add_argument("--json", help="where to write the results (default: benchmarks/results.json; "
                                        "with --quick a file in the temporary directory)")
    parser.add_argument("--warmup-passes", type=float, default=1.0,
                        help="untimed messages before each throughput cell, in fills of a default-size log "
                             "(0: time from the first message, first-touch page faults included)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the whole pass N times and show each cell's median (default 1)")
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run of the harness")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    r = args.rest
    if args.role:
        roles = {
            "pub": lambda: role_pub(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), r[5]),
            "sub": lambda: role_sub(r[0], r[1], int(r[2]), int(r[3]), r[4], int(r[5])),
            "pong": lambda: role_pong(r[0], r[1], r[2]),
            "ping": lambda: role_ping(r[0], r[1], r[2], int(r[3]), int(r[4])),
            "zpull": lambda: role_zpull(r[0], int(r[1]), int(r[2])),
            "zpush": lambda: role_zpush(r[0], int(r[1]), int(r[2])),
        }
        if args.role in aio_roles.ROLES:
            aio_roles.run_role(args.role, r)
        else:
            roles[args.role]()
        return 0
    if args.repeat < 1:
        parser.error(f"--repeat {args.repeat}: must be at least 1")
    if args.quick:
        args.messages, args.pings = min(args.messages, 2000), min(args.pings, 200)
        args.warmup_passes = min(args.warmup_passes, 0.0002)
    args.idle_window_s = 1.0 if args.quick else IDLE_WINDOW_S
    args.json = results_path(args.json, args.quick)
    results = run(args)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    medians = f"; each cell the median of {args.repeat} passes" if args.repeat > 1 else ""
    print(f"aeronpy benchmark: {args.messages:,} messages per throughput cell, {args.pings:,} pings; "
          f"drivers SHARED; {os.cpu_count()} CPUs{medians}; {results['when']}")
    print(table(results))
    for reason in results["skipped"]:
        print(f"skipped: {reason}")
    print("targets (from issue 7, not asserted):")
    for target in TARGETS:
        print(f"  - {target}")
    print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
