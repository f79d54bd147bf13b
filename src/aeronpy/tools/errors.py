"""``aeronpy errors``: print the distinct error log in cnc.dat, like ErrorStat."""

from __future__ import annotations

import datetime

from aeronpy.cnc import CncFile
from aeronpy.concurrent.error_log import read_error_log


def _fmt(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def format_errors(cnc: CncFile) -> list[str]:
    lines: list[str] = []

    def consume(count: int, first_ms: int, last_ms: int, text: str) -> None:
        lines.append("***")
        lines.append(f"{count} observations from {_fmt(first_ms)} to {_fmt(last_ms)} for:")
        lines.append(f" {text}")

    distinct = read_error_log(cnc.error_log_buffer, consume)
    lines.append("")
    lines.append(f"{distinct} distinct errors observed.")
    return lines
