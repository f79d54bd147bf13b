"""``aeronpy`` command line: driver, pub, sub, stat, errors, loss."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Callable, Sequence

from aeronpy.errors import AeronError
from aeronpy.concurrent.stop_flag import stop_on_termination_signals


def _properties(pairs: Sequence[str]) -> dict[str, str]:
    props: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"aeronpy: -D expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        if not key.strip():
            raise SystemExit(f"aeronpy: -D {pair!r}: empty property name")
        if not value.strip():
            raise SystemExit(f"aeronpy: -D {pair!r}: empty value for {key.strip()} (leave the -D out for the default)")
        props[key.strip()] = value.strip()
    return props


def _int_in(low: int, high: int) -> Callable[[str], int]:
    """argparse type: an integer in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range [{low}, {high}]")
        return value

    return parse


def _seconds(allow_zero: bool) -> Callable[[str], float]:
    """argparse type: a finite number of seconds, > 0 (or >= 0)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            bound = ">= 0" if allow_zero else "> 0"
            raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number of seconds {bound}")
        return value

    return parse


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a probability in [0, 1]")
    return value


def _non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_SAMPLE_SIZE = 16 * 1024 * 1024
"""Aeron's largest message (16 MiB); a publication's own limit (term length / 8) may be lower."""


def _default_dir() -> str:
    from aeronpy.config import default_aeron_dir

    return os.environ.get("AERON_DIR") or default_aeron_dir()


def cmd_driver(args: argparse.Namespace) -> int:
    import warnings

    from aeronpy.driver.context import DriverContext, ThreadingMode
    from aeronpy.driver.media_driver import MediaDriver
    from aeronpy.driver import presets
    from aeronpy.concurrent.idle_strategy import BackoffIdleStrategy

    props = _properties(args.define)
    if args.dir:
        props["aeron.dir"] = args.dir
    if args.loss is not None:
        props.update(presets.loss_properties(args.loss, args.loss_seed, args.loss_types))
    elif args.loss_seed != 0 or args.loss_types != "data":
        raise SystemExit("aeronpy driver: --loss-seed and --loss-types need --loss RATE")
    ctx: DriverContext
    if args.low_latency:
        ctx = presets.low_latency_context(properties=props, properties_file=args.properties)
    else:
        ctx = DriverContext.from_properties(properties=props, properties_file=args.properties)
    stop = stop_on_termination_signals()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        driver = MediaDriver.launch(ctx)
    driver.set_termination_hook(stop.set)
    print(
        f"aeronpy media driver running: dir={driver.aeron_dir} "
        f"threading={ThreadingMode(ctx.threading_mode).value} pid={os.getpid()}",
        flush=True,
    )
    if args.low_latency:
        print(f"low-latency preset (Aeron's LowLatencyMediaDriver): {presets.describe_low_latency()} "
              "-- busy-spins one core per agent", flush=True)
    if args.loss is not None:
        loss = presets.loss_properties(args.loss, args.loss_seed, args.loss_types)
        print(f"loss: dropping received {args.loss_types} datagrams with probability {args.loss} "
              f"({'; '.join(f'{k}={v}' for k, v in loss.items())})", flush=True)
    for warning in caught:
        print(f"WARNING: {warning.message}", file=sys.stderr, flush=True)
    try:
        if ThreadingMode(ctx.threading_mode) is ThreadingMode.INVOKER:
            idle = BackoffIdleStrategy()
            while not stop.is_set():
                idle.idle(driver.do_work())
        else:
            while not stop.wait(0.2):
                pass
    except AeronError:
        if driver.failure is None:
            raise
    finally:
        driver.close()
        print("aeronpy media driver shut down", flush=True)
    if driver.failure is not None:
        print(f"aeronpy driver: {driver.failure}", file=sys.stderr, flush=True)
        return 1
    return 0


def _client(args: argparse.Namespace) -> object:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context

    ctx = Context.from_properties(aeron_dir=args.dir or _default_dir())
    return Aeron.connect(ctx)


def _lost_driver(aeron: object) -> str:
    """Why the client closed (usually: the driver is gone)."""
    cause = getattr(getattr(aeron, "conductor", None), "termination_cause", None)
    return f"the client was closed: {cause}" if cause is not None else "the client was closed"


def cmd_pub(args: argparse.Namespace) -> int:
    from aeronpy.client import results
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.publication import Publication
    from aeronpy.concurrent.idle_strategy import BackoffIdleStrategy
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
        if args.size > publication.max_message_length:
            print(
                f"pub: --size {args.size} exceeds the publication's max message length "
                f"{publication.max_message_length} (term length / 8, at most 16 MiB)",
                file=sys.stderr,
            )
            return 2
        deadline = time.monotonic() + args.timeout
        idle = BackoffIdleStrategy()
        while not publication.is_connected:
            if aeron.is_closed:
                print(f"pub: {_lost_driver(aeron)}", file=sys.stderr)
                return 5
            if time.monotonic() > deadline:
                print(f"pub: no subscriber connected within {args.timeout}s", file=sys.stderr)
                return 2
            idle.idle(0)
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
            if aeron.is_closed:
                print(f"pub: stopped at message {seq}: {_lost_driver(aeron)}", file=sys.stderr)
                return 5
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
    from aeronpy.concurrent.idle_strategy import BackoffIdleStrategy
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
        last_progress = time.monotonic()  # --timeout counts from the last message received
        handler = assembler.on_fragment
        idle = BackoffIdleStrategy()
        closed = False
        timed_out = False
        while state.next < args.count and state.error is None:
            fragments = subscription.poll(handler, 256)
            if fragments > 0:
                last_progress = time.monotonic()
            else:
                if aeron.is_closed:
                    closed = True
                    break
                if time.monotonic() - last_progress > args.timeout:
                    timed_out = True
                    break
            idle.idle(fragments)
        received = state.next
        if state.error is not None:
            print(f"sub: FAILED after {received} messages: {state.error}", file=sys.stderr)
            return 1
        if closed:
            print(f"sub: FAILED after {received} of {args.count} messages: {_lost_driver(aeron)}", file=sys.stderr)
            return 5
        if timed_out or received < args.count:
            print(
                f"sub: FAILED: timed out: no message for {args.timeout}s, {received} of {args.count} messages received",
                file=sys.stderr,
            )
            return 1
        elapsed = max(time.monotonic() - state.first, 1e-9)
        print(
            f"received {received} messages in order, payloads intact, in {elapsed:.3f}s "
            f"({received / elapsed:,.0f} msgs/s)",
            flush=True,
        )
    return 0


def cmd_stat(args: argparse.Namespace) -> int:
    from aeronpy.tools import stat

    return stat.run(args, args.dir or _default_dir())


def _dir_tool(module: str) -> object:
    """``func`` for a tools/ module whose ``run(args, aeron_dir)`` reads a driver's directory."""
    import importlib

    def func(args: argparse.Namespace) -> int:
        return int(importlib.import_module(f"aeronpy.tools.{module}").run(args, args.dir or _default_dir()))

    return func


def cmd_log_inspector(args: argparse.Namespace) -> int:
    from aeronpy.tools import log_inspector

    return log_inspector.run(args)


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
    p.add_argument("--dir", type=_non_empty, help="Aeron directory (default: AERON_DIR or Aeron's default)")
    p.add_argument("-D", dest="define", action="append", default=[], metavar="KEY=VALUE", help="aeron.* property")
    p.add_argument("--properties", type=_non_empty, metavar="FILE_OR_URL",
                   help="aeron.* settings from a properties file or an http://, https:// or file:// URL")
    p.add_argument("--low-latency", action="store_true",
                   help="Aeron's LowLatencyMediaDriver settings (dedicated busy-spinning threads)")
    p.add_argument("--loss", type=_rate, default=None, metavar="RATE",
                   help="drop received datagrams with this probability (testing; the C driver's loss interceptor)")
    p.add_argument("--loss-seed", type=_int_in(0, 2**64 - 1), default=0, metavar="N", help="loss generator seed")
    p.add_argument("--loss-types", type=_non_empty, default="data", metavar="TYPES",
                   help="comma-separated frame types to drop: data,setup,sm,nak,rttm,err,pad,res,rsp-setup (default data)")
    p.set_defaults(func=cmd_driver)

    for name, func, helptext in (("pub", cmd_pub, "publish sample messages"), ("sub", cmd_sub, "receive and verify sample messages")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--dir", type=_non_empty, help="Aeron directory")
        p.add_argument("--channel", type=_non_empty, default="aeron:ipc")
        p.add_argument("--stream", type=_int_in(INT32_MIN, INT32_MAX), default=1001, help="stream id (int32)")
        p.add_argument("--count", type=_int_in(0, 2**63 - 1), default=10, help="number of messages (>= 0)")
        if name == "pub":
            p.add_argument("--timeout", type=_seconds(False), default=30.0,
                           help="seconds to wait for a subscriber, and for progress when back-pressured")
            p.add_argument("--size", type=_int_in(8, MAX_SAMPLE_SIZE), default=32,
                           help="message size in bytes (8 .. the publication's max message length)")
            p.add_argument("--exclusive", action="store_true")
            p.add_argument("--linger", type=_seconds(True), default=0.0, help="seconds to keep the publication open after sending")
        else:
            p.add_argument("--timeout", type=_seconds(False), default=30.0,
                           help="give up after this many seconds without a message (counted from the last one)")
            p.add_argument("--size", type=_int_in(8, MAX_SAMPLE_SIZE), default=None, help="also check every message has this size")
        p.set_defaults(func=func)

    from aeronpy.tools import backlog, log_inspector, stat, streams

    p = sub.add_parser("stat", help="print counters (like AeronStat); --watch, --serve HOST:PORT")
    stat.add_arguments(p)
    p.set_defaults(func=cmd_stat)

    p = sub.add_parser("backlog", help="per-stream positions and backlogs (like BacklogStat)")
    backlog.add_arguments(p)
    p.set_defaults(func=_dir_tool("backlog"))

    p = sub.add_parser("streams", help="per-stream position counters (like StreamStat)")
    streams.add_arguments(p)
    p.set_defaults(func=_dir_tool("streams"))

    p = sub.add_parser("log-inspector", help="a .logbuffer's metadata and frames (like LogInspector)")
    log_inspector.add_arguments(p)
    p.set_defaults(func=cmd_log_inspector)

    from aeronpy.tools.dashboard import server as dashboard

    p = sub.add_parser("dashboard", help="serve a live web dashboard of a driver on 127.0.0.1")
    dashboard.add_arguments(p)
    p.set_defaults(func=_dir_tool("dashboard.server"))

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

    from aeronpy.archive.cli import add_commands as add_archive_commands

    add_archive_commands(sub)  # archive, archive-tool, recording, replay

    from aeronpy.cluster.cli import add_commands as add_cluster_commands

    add_cluster_commands(sub)  # cluster-node, cluster-client, cluster-tool
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from aeronpy.fault_report import install_sigbus_report

    install_sigbus_report()
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
