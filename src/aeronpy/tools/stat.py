"""``aeronpy stat``: print every counter in cnc.dat, like AeronStat."""

from __future__ import annotations

import datetime
from typing import TextIO

from aeronpy.cnc import CncFile, version_major, version_minor, version_patch
from aeronpy.concurrent.clock import epoch_ms
from aeronpy.concurrent.counters import CountersReader


def format_counters(cnc: CncFile) -> list[str]:
    """Header line, separator and one ``id: value - label`` line per allocated counter."""
    reader = CountersReader(cnc.counters_metadata_buffer, cnc.counters_values_buffer)
    heartbeat = cnc.to_driver_heartbeat_ms()
    age = epoch_ms() - heartbeat if heartbeat > 0 else heartbeat
    version = cnc.cnc_version
    now = datetime.datetime.now().strftime("%H:%M:%S")
    lines = [
        f"{now} - Aeron Stat (CnC v{version_major(version)}.{version_minor(version)}."
        f"{version_patch(version)}), pid {cnc.pid}, heartbeat age {age}ms",
        "=" * 70,
    ]
    width = len(str(reader.max_counter_id))

    def add(counter_id: int, type_id: int, key: bytes, label: str) -> None:
        value = reader.get_counter_value(counter_id)
        lines.append(f"{counter_id:{width}d}: {value:26,d} - {label}")

    reader.for_each(add)
    return lines


def print_stat(cnc_path: str, out: TextIO) -> None:
    with CncFile.map(cnc_path) as cnc:
        out.write("\n".join(format_counters(cnc)) + "\n")
