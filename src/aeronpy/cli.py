"""``aeronpy`` command line: driver, pub, sub, stat, errors, loss."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import Sequence

from aeronpy.errors import AeronError


def _properties(pairs: Sequence[str]) -> dict[str, str]:
    props: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"aeronpy: -D expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        props[key.strip()] = value.strip()
    return props


def _default_dir() -> str:
    from aeronpy.config import default_aeron_dir

    return os.environ.get("AERON_DIR") or default_aeron_dir()


def cmd_driver(args: argparse.Namespace) -> int:
    from aeronpy.driver.context import DriverContext, ThreadingMode
    from aeronpy.driver.media_driver import MediaDriver
    from aeronpy.concurrent.idle_strategy import BackoffIdleStrategy

    props = _properties(args.define)
    if args.dir:
        props["aeron.dir"] = args.dir
    ctx = DriverContext.from_properties(properties=props, properties_file=args.properties)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    driver = MediaDriver.launch(ctx)
    driver.set_termination_hook(stop.set)
    print(
        f"aeronpy media driver running: dir={driver.aeron_dir} "
        f"threading={ThreadingMode(ctx.threading_mode).value} pid={os.getpid()}",
        flush=True,
    )
    try:
        if ThreadingMode(ctx.threading_mode) is ThreadingMode.INVOKER:
            idle = BackoffIdleStrategy()
            while not stop.is_set():
                idle.idle(driver.do_work())
        else:
            while not stop.wait(0.2):
                pass
    finally:
        driver.close()
        print("aeronpy media driver shut down", flush=True)
    return 0


def _client(args: argparse.Namespace) -> object:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context

    ctx = Context.from_properties(aeron_dir=args.dir or _default_dir())
    return Aeron.connect(ctx)


def cmd_pub(args: argparse.Namespace) -> int:
    from aeronpy.client import results
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.publication import Publication
    from aeronpy.samples import PayloadFactory

    factory = PayloadFactory(args.size)
    aeron = _client(args)
    assert isinstance(aeron, Aeron)
    with aeron:
        publication: Publication
        if args.exclusive:
            publication = aeron.add_exclusive_publication(args.channel, args.stream)
        else:
            publication = aeron.add_publication(args.channel, args.stream)
        deadline = time.monotonic() + args.timeout
        while not publication.is_connected:
            if time.monotonic() > deadline:
                print(f"pub: no subscriber connected within {args.timeout}s", file=sys.stderr)
                return 2
            time.sleep(0.001)
        start = time.monotonic()
        offer = publication.offer
        make = factory.make
        seq = 0
        retries = 0
        stalled_seq = -1  # fail when no message could be sent for --timeout seconds
        stalled_since = start
        while seq < args.count:
            result = offer(make(seq))
            if result > 0:
                seq += 1
                continue
            if result in (results.CLOSED, results.MAX_POSITION_EXCEEDED):
                print(f"pub: offer failed at message {seq}: {results.result_name(result)}", file=sys.stderr)
                return 3
            retries += 1
            if retries & 0x3FF == 0:
                now = time.monotonic()
                if seq != stalled_seq:
                    stalled_seq, stalled_since = seq, now
                elif now - stalled_since > args.timeout:
                    print(f"pub: stuck at message {seq} for {args.timeout}s: {results.result_name(result)}", file=sys.stderr)
                    return 4
            os.sched_yield()
        elapsed = max(time.monotonic() - start, 1e-9)
        print(
            f"sent {args.count} messages of {args.size} bytes on {args.channel} stream {args.stream} "
            f"in {elapsed:.3f}s ({args.count / elapsed:,.0f} msgs/s)",
            flush=True,
        )
        if args.linger > 0:
            time.sleep(args.linger)
    return 0


class _SubState:
    """What ``aeronpy sub`` has seen so far."""

    def __init__(self) -> None:
        self.next = 0
        self.error: str | None = None
        self.first = 0.0


def cmd_sub(args: argparse.Namespace) -> int:
    from aeronpy.client.aeron import Aeron
    from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
    from aeronpy.samples import check_payload

    aeron = _client(args)
    assert isinstance(aeron, Aeron)
    state = _SubState()
    expected_size: int | None = args.size

    def on_message(buffer: object, offset: int, length: int, header: object) -> None:
        if state.error is not None:
            return
        if state.next == 0:
            state.first = time.monotonic()
        data = memoryview(buffer)[offset : offset + length]  # type: ignore[arg-type]
        problem = check_payload(data, state.next)
        if problem is None and expected_size is not None and length != expected_size:
            problem = f"message {state.next}: {length} bytes, expected {expected_size}"
        if problem is not None:
            state.error = problem
        else:
            state.next += 1

    assembler = FragmentAssembler(on_message)
    with aeron:
        subscription = aeron.add_subscription(args.channel, args.stream)
        print(f"subscribed to {args.channel} stream {args.stream}", flush=True)
        deadline = time.monotonic() + args.timeout
        handler = assembler.on_fragment
        while state.next < args.count and state.error is None:
            if subscription.poll(handler, 256) == 0:
                if time.monotonic() > deadline:
                    break
                os.sched_yield()
        received = state.next
        if state.error is not None:
            print(f"sub: FAILED after {received} messages: {state.error}", file=sys.stderr)
            return 1
        if received < args.count:
            print(f"sub: FAILED: timed out after {args.timeout}s with {received} of {args.count} messages", file=sys.stderr)
            return 1
        elapsed = max(time.monotonic() - state.first, 1e-9)
        print(
            f"received {received} messages in order, payloads intact, in {elapsed:.3f}s "
            f"({received / elapsed:,.0f} msgs/s)",
            flush=True,
        )
    return 0


def cmd_stat(args: argparse.Namespace) -> int:
    from aeronpy.cnc import CncFile
    from aeronpy.tools.stat import format_counters

    path = os.path.join(args.dir or _default_dir(), "cnc.dat")
    with CncFile.map(path) as cnc:
        while True:
            print("\n".join(format_counters(cnc)), flush=True)
            if not args.watch:
                return 0
            try:
                time.sleep(args.interval)
            except KeyboardInterrupt:
                return 0


def cmd_errors(args: argparse.Namespace) -> int:
    from aeronpy.cnc import CncFile
    from aeronpy.tools.errors import format_errors

    path = os.path.join(args.dir or _default_dir(), "cnc.dat")
    with CncFile.map(path) as cnc:
        print("\n".join(format_errors(cnc)))
    return 0


def cmd_loss(args: argparse.Namespace) -> int:
    from aeronpy.tools.loss import format_loss_report_file

    aeron_dir = args.dir or _default_dir()
    try:
        lines = format_loss_report_file(aeron_dir)
    except FileNotFoundError:
        path = os.path.join(aeron_dir, "loss-report.dat")
        print(f"aeronpy loss: loss report does not exist: {path}", file=sys.stderr)
        return 1
    print("\n".join(lines), flush=True)
    return 0


def cmd_terminate(args: argparse.Namespace) -> int:
    from aeronpy.client.aeron import request_driver_termination

    aeron_dir = args.dir or _default_dir()
    if not request_driver_termination(aeron_dir, args.token.encode()):
        print(f"aeronpy terminate: no driver found in {aeron_dir}", file=sys.stderr)
        return 1
    print(f"termination requested for the driver in {aeron_dir} (it obeys only if its validator allows)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aeronpy", description="Aeron media driver, clients and tools in Python")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("driver", help="run a media driver until Ctrl-C/SIGTERM")
    p.add_argument("--dir", help="Aeron directory (default: AERON_DIR or Aeron's default)")
    p.add_argument("-D", dest="define", action="append", default=[], metavar="KEY=VALUE", help="aeron.* property")
    p.add_argument("--properties", help="a properties file of aeron.* settings")
    p.set_defaults(func=cmd_driver)

    for name, func, helptext in (("pub", cmd_pub, "publish sample messages"), ("sub", cmd_sub, "receive and verify sample messages")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--dir", help="Aeron directory")
        p.add_argument("--channel", default="aeron:ipc")
        p.add_argument("--stream", type=int, default=1001)
        p.add_argument("--count", type=int, default=10)
        p.add_argument("--timeout", type=float, default=30.0)
        if name == "pub":
            p.add_argument("--size", type=int, default=32, help="message size in bytes (>= 8)")
            p.add_argument("--exclusive", action="store_true")
            p.add_argument("--linger", type=float, default=0.0, help="seconds to keep the publication open after sending")
        else:
            p.add_argument("--size", type=int, default=None, help="also check every message has this size")
        p.set_defaults(func=func)

    p = sub.add_parser("stat", help="print counters (like AeronStat)")
    p.add_argument("--dir")
    p.add_argument("--watch", action="store_true")
    p.add_argument("--interval", type=float, default=1.0)
    p.set_defaults(func=cmd_stat)

    from aeronpy.tools import sizing

    p = sub.add_parser("sizing", help="size the receive path (window, term, SO_RCVBUF, rmem_max, ...)")
    sizing.add_arguments(p)
    p.set_defaults(func=sizing.run)

    p = sub.add_parser("terminate", help="ask a driver to terminate (aeron.driver.termination.validator=allow)")
    p.add_argument("--dir")
    p.add_argument("--token", default="")
    p.set_defaults(func=cmd_terminate)

    p = sub.add_parser("errors", help="print the distinct error log (like ErrorStat)")
    p.add_argument("--dir")
    p.set_defaults(func=cmd_errors)

    p = sub.add_parser("loss", help="print the loss report (like LossStat)")
    p.add_argument("--dir", help="Aeron directory (default: AERON_DIR or Aeron's default)")
    p.set_defaults(func=cmd_loss)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except AeronError as ex:
        print(f"aeronpy {args.command}: {ex}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
