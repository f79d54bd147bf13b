"""``aeronpy streams``: one line per stream with all its position counters, like Aeron's StreamStat."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from aeronpy.tools import snapshot as snap
from aeronpy.tools.cnc_access import open_cnc

__all__ = ["format_streams", "add_arguments", "run"]


def format_streams(snapshot: snap.Snapshot) -> list[str]:
    """``sessionId=.. streamId=.. channel=.. : name:value ...`` per stream."""
    lines = []
    for s in snap.streams(snapshot):
        values = " ".join(f"{x.type_name}:{x.value:,}" for x in s.counters)
        lines.append(f"sessionId={s.session_id} streamId={s.stream_id} channel={s.channel} : {values}")
    return lines or ["no streams"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``aeronpy streams``."""
    parser.add_argument("--dir", help="Aeron directory (default: AERON_DIR or Aeron's default)")


def run(args: argparse.Namespace, aeron_dir: str, out: TextIO | None = None) -> int:
    """Print every stream of the driver in ``aeron_dir``."""
    out = out or sys.stdout
    with open_cnc(aeron_dir) as cnc:
        out.write("\n".join(format_streams(snap.take(cnc))) + "\n")
    return 0
