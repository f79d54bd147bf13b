"""``aeronpy sizing --check``: compare the calculator's figures with a running driver and the kernel.

Driver settings come from ``<dir>/driver-config.properties`` (the aeronpy driver writes it) or,
for other drivers, from the metadata of the log buffers in the directory; kernel limits from
``/proc/sys/net/core``; and a probe socket shows what SO_RCVBUF the kernel really grants.
"""

from __future__ import annotations

import glob
import os
import socket
import struct
from dataclasses import dataclass

from aeronpy.config import parse_size
from aeronpy.errors import ConfigurationError
from aeronpy.logbuffer import descriptor as _descriptor
from aeronpy.tools.sizing import SizingReport, _fmt_bytes, effective_receiver_window

__all__ = [
    "DRIVER_CONFIG_FILE",
    "PROC_NET_CORE",
    "CheckError",
    "Setting",
    "CheckRow",
    "read_driver_settings",
    "check_running_driver",
    "format_check",
]

DRIVER_CONFIG_FILE = "driver-config.properties"
PROC_NET_CORE = "/proc/sys/net/core"
LOG_META_DATA_LENGTH = _descriptor.LOG_META_DATA_LENGTH  # the metadata section ends the file
_LOG_FIELDS = {
    "mtu": _descriptor.LOG_MTU_LENGTH_OFFSET,
    "term_length": _descriptor.LOG_TERM_LENGTH_OFFSET,
    "receiver_window": _descriptor.LOG_RECEIVER_WINDOW_LENGTH_OFFSET,
    "so_sndbuf": _descriptor.LOG_SOCKET_SNDBUF_LENGTH_OFFSET,
    "so_rcvbuf": _descriptor.LOG_SOCKET_RCVBUF_LENGTH_OFFSET,
}
_PROPS = {
    "term_length": "aeron.term.buffer.length",
    "mtu": "aeron.mtu.length",
    "receiver_window": "aeron.rcv.initial.window.length",
    "so_rcvbuf": "aeron.socket.so_rcvbuf",
    "so_sndbuf": "aeron.socket.so_sndbuf",
}


class CheckError(Exception):
    """``--check`` cannot run (e.g. the Aeron directory does not exist)."""


@dataclass(frozen=True)
class Setting:
    """One effective driver setting and where it was read."""

    value: int
    source: str


@dataclass(frozen=True)
class CheckRow:
    """One line of the ``--check`` table."""

    name: str
    minimum: int
    recommended: int
    actual: int | None
    status: str  # "OK", "BELOW RECOMMENDED", "TOO SMALL" or "UNKNOWN"
    source: str
    reason: str


def _read_properties(path: str) -> dict[str, str]:
    result: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", "!")) or "=" not in line:
                continue
            key, _, value = line.partition("=")
            result[key.strip()] = value.strip()
    return result


def _read_logbuffer_metadata(path: str) -> dict[str, int] | None:
    """The sizing fields of a ``.logbuffer``'s metadata section (the file's last 4 KiB)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            if size < LOG_META_DATA_LENGTH:
                return None
            f.seek(size - LOG_META_DATA_LENGTH)
            meta = f.read(LOG_META_DATA_LENGTH)
    except OSError:
        return None
    if len(meta) < LOG_META_DATA_LENGTH:
        return None
    return {name: struct.unpack_from("<i", meta, off)[0] for name, off in _LOG_FIELDS.items()}


def read_driver_settings(aeron_dir: str) -> tuple[dict[str, Setting], list[str]]:
    """Effective driver settings of ``aeron_dir`` and notes.

    Preferred source: ``<dir>/driver-config.properties`` (written by the aeronpy driver at
    start).  Missing values (or the whole file, e.g. a C driver) fall back to the metadata of
    ``publications/*.logbuffer`` / ``images/*.logbuffer``; image logs carry the receiver window.
    Raises :class:`CheckError` when the directory does not exist.
    """
    if not os.path.isdir(aeron_dir):
        raise CheckError(
            f"Aeron directory {aeron_dir} does not exist: start the driver first or pass --dir"
        )
    notes: list[str] = []
    settings: dict[str, Setting] = {}
    cnc = os.path.join(aeron_dir, "cnc.dat")
    if os.path.exists(cnc):
        notes.append(_describe_cnc(cnc))
    else:
        notes.append(f"no cnc.dat in {aeron_dir}: no driver is running there")
    config_path = os.path.join(aeron_dir, DRIVER_CONFIG_FILE)
    if os.path.exists(config_path):
        try:
            props = _read_properties(config_path)
        except OSError as e:
            notes.append(f"cannot read {config_path}: {e.strerror or e}")
            props = {}
        for name, prop in _PROPS.items():
            if prop in props:
                try:
                    settings[name] = Setting(parse_size(props[prop], prop), f"{DRIVER_CONFIG_FILE} {prop}")
                except ConfigurationError:
                    notes.append(f"{config_path}: bad value {prop}={props[prop]!r}")
        if "term_length" in settings and "receiver_window" in settings:
            # the driver clamps an image's window to half its term (driver-behaviour.md §7)
            clamp = effective_receiver_window(settings["receiver_window"].value, settings["term_length"].value)
            if settings["receiver_window"].value > clamp:
                settings["receiver_window"] = Setting(
                    clamp, f"{DRIVER_CONFIG_FILE}: {_PROPS['term_length']} / 2 (window clamp)"
                )
    else:
        notes.append(f"no {DRIVER_CONFIG_FILE} (not an aeronpy driver?): using log-buffer metadata")
    logs = sorted(glob.glob(os.path.join(aeron_dir, "images", "*.logbuffer"))) + sorted(
        glob.glob(os.path.join(aeron_dir, "publications", "*.logbuffer"))
    )
    for path in logs:
        meta = _read_logbuffer_metadata(path)
        if meta is None:
            continue
        rel = os.path.relpath(path, aeron_dir)
        for name, value in meta.items():
            if name not in settings and value > 0:
                settings[name] = Setting(value, f"log-buffer metadata of {rel}")
    if not settings:
        notes.append(
            f"no {DRIVER_CONFIG_FILE} and no log buffers in {aeron_dir}: driver settings unknown"
        )
    return settings, notes


def _describe_cnc(path: str) -> str:
    from aeronpy.cnc import CncFile
    from aeronpy.errors import CncError

    try:
        cnc = CncFile.map(path)
    except (CncError, OSError, ValueError) as e:
        return f"cnc.dat present but unreadable: {e}"
    try:
        pid = getattr(cnc, "pid", None)
        return f"cnc.dat: driver pid {pid}" if pid is not None else "cnc.dat present"
    finally:
        cnc.close()


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _probe_rcvbuf(request: int) -> int:
    """``getsockopt(SO_RCVBUF)`` of a UDP socket after requesting ``request`` (0: OS default)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        if request > 0:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, request)
        return int(probe.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


def _row(name: str, need: tuple[int, int], actual: int | None, source: str, ok_reason: str, bad_reason: str) -> CheckRow:
    minimum, recommended = need
    if actual is None:
        return CheckRow(name, minimum, recommended, None, "UNKNOWN", source, "not available")
    if actual >= recommended:
        return CheckRow(name, minimum, recommended, actual, "OK", source, ok_reason)
    if actual >= minimum:
        return CheckRow(name, minimum, recommended, actual, "BELOW RECOMMENDED", source,
                        f"meets the minimum only: {bad_reason}")
    return CheckRow(name, minimum, recommended, actual, "TOO SMALL", source, bad_reason)


def _need(report: SizingReport, key: str) -> tuple[int, int]:
    q = report[key]
    return int(q.min), int(q.recommended)


def check_running_driver(
    report: SizingReport, aeron_dir: str, proc_net_core: str = PROC_NET_CORE
) -> tuple[list[CheckRow], list[str]]:
    """Compare ``report`` with the driver of ``aeron_dir`` and the kernel's socket buffers.

    Returns the table rows and notes; raises :class:`CheckError` if ``aeron_dir`` is missing.
    """
    settings, notes = read_driver_settings(aeron_dir)
    rows: list[CheckRow] = []

    def setting(name: str) -> tuple[int | None, str]:
        s = settings.get(name)
        return (s.value, s.source) if s is not None else (None, "unknown")

    term, src = setting("term_length")
    rows.append(_row(
        "term length", _need(report, "term_buffer"), term, src,
        "holds 2 × window and 2 × λ × stall",
        "term too small: the window is clamped to term/2 (Constraint A) or a stall overruns the publisher",
    ))
    window, src = setting("receiver_window")
    rows.append(_row(
        "receiver window", _need(report, "initial_window"), window, src,
        "covers 2–4 × the bandwidth-delay product",
        "window below 2–4 × BDP: the sender stalls on flow control",
    ))
    mtu, src = setting("mtu")
    rows.append(_row(
        "mtu", (report.inputs.mtu, report.inputs.mtu), mtu, src, "at least the MTU the figures assume",
        "smaller MTU than assumed: more fragments and packets per message",
    ))
    so_rcvbuf, src = setting("so_rcvbuf")
    rmem_default = _read_int(os.path.join(proc_net_core, "rmem_default"))
    rmem_max = _read_int(os.path.join(proc_net_core, "rmem_max"))
    wmem_max = _read_int(os.path.join(proc_net_core, "wmem_max"))
    need_rcvbuf = _need(report, "so_rcvbuf")
    if so_rcvbuf == 0:
        rows.append(_row(
            "so_rcvbuf (driver)", need_rcvbuf, rmem_default, f"{src} = 0 → net.core.rmem_default",
            "the OS default is large enough",
            "aeron.socket.so_rcvbuf unset: sockets get net.core.rmem_default, below the need",
        ))
    else:
        rows.append(_row(
            "so_rcvbuf (driver)", need_rcvbuf, so_rcvbuf, src, "requested size is enough",
            "requested SO_RCVBUF below the need: raise aeron.socket.so_rcvbuf",
        ))
    rows.append(_row(
        "net.core.rmem_max", _need(report, "rmem_max"), rmem_max,
        os.path.join(proc_net_core, "rmem_max"), "kernel allows the SO_RCVBUF request",
        "kernel caps SO_RCVBUF requests here: the driver's request is silently reduced",
    ))
    rows.append(_row(
        "net.core.rmem_default", need_rcvbuf if not so_rcvbuf else (0, 0), rmem_default,
        os.path.join(proc_net_core, "rmem_default"),
        "used only when aeron.socket.so_rcvbuf is 0" if so_rcvbuf else "default socket size is enough",
        "default socket receive buffer below the need",
    ))
    so_sndbuf, _ = setting("so_sndbuf")
    rows.append(_row(
        "net.core.wmem_max", (so_sndbuf or 0, so_sndbuf or 0), wmem_max, os.path.join(proc_net_core, "wmem_max"),
        "kernel allows the driver's SO_SNDBUF request",
        "kernel caps the driver's aeron.socket.so_sndbuf request",
    ))
    request = so_rcvbuf if so_rcvbuf else need_rcvbuf[1]
    readback = _probe_rcvbuf(request)
    # Linux doubles the request for bookkeeping overhead and reports the doubled value
    granted = readback // 2 if os.uname().sysname == "Linux" else readback
    rows.append(_row(
        "SO_RCVBUF (probe)", need_rcvbuf, granted,
        f"probe socket: requested {request} B, getsockopt read back {readback} B"
        + (" (÷2: Linux doubles it)" if granted != readback else ""),
        "the kernel grants the size",
        "the kernel granted less than requested (capped by net.core.rmem_max)" if granted < request
        else "the kernel grants the request, but the request (the driver's so_rcvbuf) is below the need",
    ))
    return rows, notes


def format_check(rows: list[CheckRow], notes: list[str]) -> str:
    """The ``--check`` table: setting, min, recommended, actual, status, reason and source."""
    table = [
        (r.name, _fmt_bytes(r.minimum), _fmt_bytes(r.recommended), "?" if r.actual is None else _fmt_bytes(r.actual), r.status,
         f"{r.reason} [{r.source}]")
        for r in rows
    ]
    head = ("setting", "min", "recommended", "actual", "status", "reason [source]")
    widths = [max(len(head[i]), *(len(t[i]) for t in table)) for i in range(5)]
    lines = ["check against the running driver and kernel:", ""]
    def line(t: tuple[str, ...]) -> str:
        return (f"{t[0]:<{widths[0]}}  {t[1]:>{widths[1]}}  {t[2]:>{widths[2]}}  {t[3]:>{widths[3]}}  "
                f"{t[4]:<{widths[4]}}  {t[5]}")

    lines.append(line(head))
    lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 15)
    lines.extend(line(t) for t in table)
    lines.append("")
    lines.extend(f"note: {n}" for n in notes)
    return "\n".join(lines)
