"""``aeronpy stat``: every counter in cnc.dat, like AeronStat; ``--watch`` refreshes a screen
with per-second rates; ``--serve HOST:PORT`` exposes them as OpenMetrics (see metrics.py)."""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from typing import TextIO

from aeronpy.cnc import CncFile, version_major, version_minor, version_patch
from aeronpy.concurrent.clock import epoch_ms
from aeronpy.concurrent.counters import CountersReader
from aeronpy.tools import snapshot as snap
from aeronpy.tools.cnc_access import ToolError, open_cnc

__all__ = ["format_counters", "format_watch_screen", "print_stat", "add_arguments", "run", "CLEAR_SCREEN"]

CLEAR_SCREEN = "\x1b[H\x1b[2J"
"""ANSI: cursor home, erase the screen."""


def _header(version: int, pid: int, age: int | None) -> str:
    now = datetime.datetime.now().strftime("%H:%M:%S")
    return (f"{now} - Aeron Stat (CnC v{version_major(version)}.{version_minor(version)}."
            f"{version_patch(version)}), pid {pid}, heartbeat age {age}ms")


def format_counters(cnc: CncFile) -> list[str]:
    """Header line, separator and one ``id: value - label`` line per allocated counter."""
    reader = CountersReader(cnc.counters_metadata_buffer, cnc.counters_values_buffer)
    heartbeat = cnc.to_driver_heartbeat_ms()
    age = epoch_ms() - heartbeat if heartbeat > 0 else heartbeat
    lines = [_header(cnc.cnc_version, cnc.pid, age), "=" * 70]
    width = len(str(reader.max_counter_id))

    def add(counter_id: int, type_id: int, key: bytes, label: str) -> None:
        value = reader.get_counter_value(counter_id)
        lines.append(f"{counter_id:{width}d}: {value:26,d} - {label}")

    reader.for_each(add)
    return lines


def format_watch_screen(current: snap.Snapshot, previous: snap.Snapshot | None) -> list[str]:
    """The ``--watch`` screen: header, then ``id: value rate/s - label`` per counter."""
    per_s = snap.rates(previous, current)
    lines = [_header(current.cnc_version, current.pid, current.heartbeat_age_ms), "=" * 70]
    width = max((len(str(x.counter_id)) for x in current.counters), default=1)
    lines.append(f"{'id':>{width}}  {'value':>26}  {'rate/s':>16} - label")
    for x in current.counters:
        rate = per_s.get(x.counter_id)
        rate_text = "" if rate is None else f"{rate:,.1f}"
        lines.append(f"{x.counter_id:{width}d}: {x.value:26,d}  {rate_text:>16} - {x.label}")
    return lines


def print_stat(cnc_path: str, out: TextIO) -> None:
    """Print the counters of the CnC file at ``cnc_path`` once."""
    with CncFile.map(cnc_path) as cnc:
        out.write("\n".join(format_counters(cnc)) + "\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``aeronpy stat``."""
    parser.add_argument("--dir", help="Aeron directory (default: AERON_DIR or Aeron's default)")
    parser.add_argument("--watch", action="store_true", help="refresh the screen with per-second rates")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    parser.add_argument("--count", type=int, default=0, help="with --watch: stop after N screens (0: never)")
    parser.add_argument("--serve", metavar="HOST:PORT", help="serve every counter as OpenMetrics at /metrics")
    parser.add_argument("--allow-stale", action="store_true", help="read a cnc.dat whose driver has stopped")


def _watch(aeron_dir: str, args: argparse.Namespace, out: TextIO) -> int:
    previous: snap.Snapshot | None = None
    shown = 0
    cnc = open_cnc(aeron_dir, allow_stale=args.allow_stale)
    try:
        while True:
            current = snap.take(cnc)
            out.write(CLEAR_SCREEN + "\n".join(format_watch_screen(current, previous)) + "\n")
            out.flush()
            previous = current
            shown += 1
            if args.count and shown >= args.count:
                return 0
            time.sleep(args.interval)
            age = current.heartbeat_age_ms
            if not args.allow_stale and (age is None or age > 10_000):
                raise ToolError(f"driver not running: heartbeat in {aeron_dir}/cnc.dat stopped")
    finally:
        cnc.close()


def run(args: argparse.Namespace, aeron_dir: str, out: TextIO | None = None) -> int:
    """Run ``aeronpy stat``; :class:`ToolError` for a missing/stale/foreign driver."""
    out = out or sys.stdout
    if args.interval <= 0:
        raise ToolError(f"--interval must be > 0, got {args.interval}")
    if args.serve:
        from aeronpy.tools import metrics

        return metrics.serve_forever(aeron_dir, args.serve, out)
    if args.watch:
        try:
            return _watch(aeron_dir, args, out)
        except KeyboardInterrupt:
            return 0
    with open_cnc(aeron_dir, allow_stale=args.allow_stale) as cnc:
        out.write("\n".join(format_counters(cnc)) + "\n")
    return 0
