"""Where a UDP round trip's time goes, leg by leg, on the aeronpy driver.

Run: ``python benchmarks/udp_hops.py`` (``--pings N``, ``--json PATH``).  A ping and a pong
(``run.py``'s pong role, each in its own process, yielding when idle as there) exchange 32 B
messages over two UDP loopback channels through one SHARED aeronpy driver, itself in its own
process with two probes put in: the moment the sender (its C common case ``tx_send``, or
``_send_data`` when that declines) has sent a message and the moment the receiver
(``_poll_common``, a plain endpoint's path, or ``_poll_transport``) has rebuilt it into the
image.  Every message carries its sequence number, so each round trip splits into five legs
(one clock, ``perf_counter_ns``, which is ``CLOCK_MONOTONIC`` in every process):

* ping offered -> sent by the driver: waiting for the sender's next duty cycle, then sending;
* ping sent -> rebuilt: the rest of the sender's cycle, then the receiver's (epoll, recvmmsg, rebuild);
* ping rebuilt -> pong sent: the pong sees it, offers its echo, the sender's next cycle sends it;
* pong sent -> rebuilt: as the second leg;
* pong rebuilt -> the ping has it.  The probe stamps after the image is written, so a ping that
  spins on another core can see the message first: this leg is near zero and, when the driver is
  descheduled between the write and its stamp, below it.

The driver runs with ``aeronpy.shared.eager.data.path=false``: the eager data path sends and
rebuilds inside the idle probe's check, in C, where these probes cannot see it, so the legs are
those of the duty-cycle path (``run.py`` measures the round trip with it on).

Medians and 90th percentiles are printed in microseconds.  The probes add about a microsecond
to each leg they end, so the total is a little above ``run.py``'s round trip.  This is a
diagnostic for work on the driver's data path, not a comparison: it has no C side.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import run  # noqa: E402  (benchmarks/run.py: the pong role, channels, client connect)

PING_STREAM, PONG_STREAM = 2002, 2003  # run.py's round-trip streams
LEGS = ("ping offered -> sent", "ping sent -> rebuilt", "ping rebuilt -> pong sent", "pong sent -> rebuilt",
        "pong rebuilt -> ping has it")
_SEQ = struct.Struct("<q")


def driver_role(aeron_dir: str, out: str) -> None:
    """An aeronpy SHARED driver with the two probes; runs until stdin closes, then writes ``out``."""
    from aeronpy.driver import endpoints, network_publication
    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.media_driver import MediaDriver

    clock = time.perf_counter_ns
    sent: dict[int, dict[int, int]] = {PING_STREAM: {}, PONG_STREAM: {}}
    rebuilt: dict[int, dict[int, int]] = {PING_STREAM: {}, PONG_STREAM: {}}
    send_data = network_publication.NetworkPublication._send_data
    poll_transport = endpoints._Endpoint._poll_transport
    poll_common = endpoints.ReceiveChannelEndpoint._poll_common

    def probed_send_data(self: Any, now_ns: int, snd_pos: int) -> int:
        term = self.term_buffers[(snd_pos >> self.bits) % 3]
        offset = snd_pos & self.term_mask
        result = int(send_data(self, now_ns, snd_pos))
        if result and self.stream_id in sent:
            sent[self.stream_id][_SEQ.unpack_from(memoryview(term), offset + 32)[0]] = clock()
        return result

    def seen_rebuilt(self: Any, count: int) -> int:
        if count:
            stream_id = struct.unpack_from("<i", self._buffer, 16)[0]
            if stream_id in rebuilt:
                rebuilt[stream_id][_SEQ.unpack_from(self._buffer, 32)[0]] = clock()
        return count

    def probed_poll_transport(self: Any, transport: Any, now_ns: int) -> int:
        return seen_rebuilt(self, int(poll_transport(self, transport, now_ns)))

    def probed_poll_common(self: Any, destination: Any, kernel: Any, now_ns: int) -> int:
        return seen_rebuilt(self, int(poll_common(self, destination, kernel, now_ns)))

    bind_kernel = network_publication.NetworkPublication._bind_kernel

    def probed_bind_kernel(self: Any, kernel: Any) -> None:  # the C common case (tx_send), probed too
        bind_kernel(self, kernel)
        tx_send = self.tx_send
        if tx_send == self.send:
            return

        def probed_tx_send(now_ns: int) -> int:
            snd_pos = self._snd_pos_plain()
            result = int(tx_send(now_ns))
            if result > 0 and self.stream_id in sent:
                term = self.term_buffers[(snd_pos >> self.bits) % 3]
                sent[self.stream_id][_SEQ.unpack_from(memoryview(term), (snd_pos & self.term_mask) + 32)[0]] = clock()
            return result

        self.tx_send = probed_tx_send

    network_publication.NetworkPublication._bind_kernel = probed_bind_kernel  # type: ignore[method-assign]
    network_publication.NetworkPublication._send_data = probed_send_data  # type: ignore[method-assign]
    endpoints._Endpoint._poll_transport = probed_poll_transport  # type: ignore[method-assign]
    endpoints.ReceiveChannelEndpoint._poll_common = probed_poll_common  # type: ignore[method-assign]
    driver = MediaDriver.launch(DriverContext.from_properties(
        env={}, properties={"aeronpy.dir.mode": "0700", "aeronpy.file.mode": "0600",
                            "aeronpy.shared.eager.data.path": "false"}, aeron_dir=aeron_dir,
        threading_mode="SHARED", dir_delete_on_shutdown=True))
    print("READY", flush=True)
    sys.stdin.read()
    driver.close()
    with open(out, "w") as f:
        json.dump({"sent": sent, "rebuilt": rebuilt}, f)


def ping_role(aeron_dir: str, ping_channel: str, pong_channel: str, count: int, out: str) -> None:
    """Send ``count`` pings (each its sequence number), one at a time; write offer and return times."""
    with run._connect(aeron_dir) as aeron:
        pub = aeron.add_publication(ping_channel, PING_STREAM)
        sub = aeron.add_subscription(pong_channel, PONG_STREAM)
        while not (pub.is_connected and sub.image_count > 0):
            os.sched_yield()
        got = [False]

        def handler(buffer: Any, offset: int, length: int, header: Any) -> None:
            got[0] = True

        msg = bytearray(32)
        clock = time.perf_counter_ns
        times: dict[int, tuple[int, int]] = {}
        for i in range(count):
            _SEQ.pack_into(msg, 0, i)
            t0 = clock()
            while pub.offer(msg) < 0:
                os.sched_yield()
            got[0] = False
            idle = 0
            while not got[0]:
                if sub.poll(handler, 1) == 0:
                    idle += 1
                    if idle > run.SPINS_BEFORE_YIELD:
                        os.sched_yield()
            times[i] = (t0, clock())
        while pub.offer(b"STOP" + bytes(28)) < 0:
            os.sched_yield()
    with open(out, "w") as f:
        json.dump(times, f)


def legs(ping: dict[str, list[int]], driver: dict[str, Any], warmup: int) -> dict[str, list[float]]:
    """Each round trip's five legs and total (microseconds), for pings past ``warmup`` that every
    probe saw."""
    sent, rebuilt = driver["sent"], driver["rebuilt"]
    ping_sent, ping_rebuilt = sent[str(PING_STREAM)], rebuilt[str(PING_STREAM)]
    pong_sent, pong_rebuilt = sent[str(PONG_STREAM)], rebuilt[str(PONG_STREAM)]
    out: dict[str, list[float]] = {name: [] for name in (*LEGS, "round trip")}
    for seq, (offered, returned) in ping.items():
        if int(seq) < warmup or not all(seq in m for m in (ping_sent, ping_rebuilt, pong_sent, pong_rebuilt)):
            continue
        marks = (offered, ping_sent[seq], ping_rebuilt[seq], pong_sent[seq], pong_rebuilt[seq], returned)
        for name, a, b in zip(LEGS, marks, marks[1:]):
            out[name].append((b - a) / 1000)
        out["round trip"].append((returned - offered) / 1000)
    return out


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pings", type=int, default=6000)
    parser.add_argument("--json", default=None, help="also write the summary here")
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        role, *rest = args.role
        if role == "driver":
            driver_role(*rest)
        elif role == "ping":
            ping_role(rest[0], rest[1], rest[2], int(rest[3]), rest[4])
        else:
            parser.error(f"unknown role {role}")
        return 0
    if args.pings < 2:
        parser.error("--pings must be at least 2")
    work = tempfile.mkdtemp(prefix="aeronpy-udp-hops-")
    aeron_dir = os.path.join("/dev/shm" if os.path.isdir("/dev/shm") else work, f"udp-hops-{uuid.uuid4().hex[:8]}")
    me = [sys.executable, __file__, "--role"]
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    driver_out, ping_out = os.path.join(work, "driver.json"), os.path.join(work, "ping.json")
    driver = subprocess.Popen(me + ["driver", aeron_dir, driver_out], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=env)
    assert driver.stdin is not None and driver.stdout is not None
    try:
        if driver.stdout.readline().strip() != "READY":
            raise SystemExit("the instrumented driver did not start")
        ping_channel, pong_channel = run._channel("udp"), run._channel("udp")
        pong = subprocess.Popen([sys.executable, str(HERE / "run.py"), "--role", "pong", aeron_dir, ping_channel,
                                 pong_channel], stdout=subprocess.PIPE, text=True, env=env)
        assert pong.stdout is not None
        if pong.stdout.readline().strip() != "READY":
            raise SystemExit("the pong did not start")
        subprocess.run(me + ["ping", aeron_dir, ping_channel, pong_channel, str(args.pings), ping_out], check=True,
                       timeout=600, env=env)
        pong.wait(timeout=60)
    finally:
        driver.stdin.close()
        driver.wait(timeout=60)
    with open(ping_out) as f:
        ping = json.load(f)
    with open(driver_out) as f:
        probes = json.load(f)
    found = legs(ping, probes, warmup=max(1, args.pings // 6))
    summary = {name: {"p50_us": _pct(v, 0.5), "p90_us": _pct(v, 0.9), "count": len(v)} for name, v in found.items()}
    print(f"UDP loopback round trip of 32 B on the aeronpy driver (SHARED), {len(found['round trip'])} pings:")
    for name, row in summary.items():
        print(f"  {name:28s} p50 {row['p50_us']:7.1f} us   p90 {row['p90_us']:7.1f} us")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
