"""Receive-path sizing calculator: "The Four Receive-Path Buffers".

A datagram travels NIC ring → socket receive buffer (``SO_RCVBUF``) → receiver window
(flow control, how far the sender may run ahead) → term buffer (the image log).  Given a
message size, a message rate, the round-trip time and how long the receiver may stall, this
module derives a size for each buffer, with a one-line reason per figure.

Pure arithmetic: :func:`compute` does no I/O; :func:`check_against_system` reads one procfs
file (path is a parameter).  The ``aeronpy sizing`` CLI command uses :func:`add_arguments`
and :func:`run`.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import socket
import struct
from dataclasses import dataclass, fields

from aeronpy.config import default_aeron_dir, format_size, parse_duration_ns, parse_size
from aeronpy.errors import ConfigurationError
from aeronpy.logbuffer import descriptor as _descriptor

__all__ = [
    "HEADER_LENGTH",
    "FRAME_ALIGNMENT",
    "TERM_MIN_LENGTH",
    "TERM_MAX_LENGTH",
    "MAX_MESSAGE_LENGTH_CAP",
    "DEFAULT_NIC_RING_SLOTS",
    "Figure",
    "SizingReport",
    "on_wire_length",
    "next_power_of_two",
    "compute",
    "format_report",
    "check_against_system",
    "add_arguments",
    "run",
    "DRIVER_CONFIG_FILE",
    "Setting",
    "CheckRow",
    "read_driver_settings",
    "check_running_driver",
    "format_check",
]

HEADER_LENGTH = 32
FRAME_ALIGNMENT = 32
TERM_MIN_LENGTH = 64 * 1024
TERM_MAX_LENGTH = 1024 * 1024 * 1024
MAX_MESSAGE_LENGTH_CAP = 16 * 1024 * 1024
MAX_UDP_PAYLOAD = 65504
DEFAULT_NIC_RING_SLOTS = 1024
MIN_RECEIVER_WINDOW = 256
ETHERNET_UDP_PAYLOAD = 1500 - 20 - 8
NAK_UNICAST_DELAY_S = 1e-6
NAK_UNICAST_RETRY_RATIO = 100
NAK_MULTICAST_MAX_BACKOFF_S = 10e-3
SO_RCVBUF_GRANULE = 64 * 1024


@dataclass(frozen=True)
class Figure:
    """One computed figure: value, unit and a one-line reason."""

    value: float
    unit: str
    reason: str


@dataclass(frozen=True)
class SizingReport:
    """All figures of a sizing run (the inputs are kept for reference)."""

    message_size: int
    rate_msgs_per_s: float
    rtt_s: float
    stall_budget_s: float
    mtu: int
    nic_ring_slots: int
    fragments_per_message: Figure
    on_wire_bytes_per_message: Figure
    bandwidth_bytes_per_s: Figure
    bdp_bytes: Figure
    receiver_window: Figure
    term_length: Figure
    max_message_length: Figure
    so_rcvbuf: Figure
    rmem_max: Figure
    packets_per_s_batched: Figure
    packets_per_s_unbatched: Figure
    nic_ring_survival_batched_s: Figure
    nic_ring_survival_unbatched_s: Figure
    nak_unicast_retry_delay_s: Figure
    nak_multicast_max_backoff_s: Figure
    mtu_note: str
    warnings: tuple[str, ...]

    def figures(self) -> list[tuple[str, Figure]]:
        """``(field name, figure)`` in table order."""
        return [(f.name, v) for f in fields(self) if isinstance(v := getattr(self, f.name), Figure)]


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) & ~(alignment - 1)


def next_power_of_two(value: int) -> int:
    """Smallest power of two ≥ ``value`` (1 for value ≤ 1)."""
    return 1 if value <= 1 else 1 << (value - 1).bit_length()


def on_wire_length(message_size: int, mtu: int) -> tuple[int, int]:
    """``(fragments, bytes)`` a message occupies on the wire/in the term: each fragment carries
    up to ``mtu − 32`` payload bytes behind a 32-byte header, frames aligned to 32."""
    max_payload = mtu - HEADER_LENGTH
    if message_size <= max_payload:
        return 1, _align(message_size + HEADER_LENGTH, FRAME_ALIGNMENT)
    fragments = -(-message_size // max_payload)
    last = message_size - (fragments - 1) * max_payload
    return fragments, (fragments - 1) * mtu + _align(last + HEADER_LENGTH, FRAME_ALIGNMENT)


def _fmt_bytes(value: float) -> str:
    v = math.ceil(value)
    exact = format_size(v)
    return f"{v:,} B" + (f" ({exact})" if not exact.isdigit() else "")


def _fmt_seconds(value: float) -> str:
    if value == math.inf:
        return "inf"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def compute(
    message_size: int,
    rate_msgs_per_s: float,
    rtt_s: float,
    stall_budget_s: float,
    mtu: int = 1408,
    nic_ring_slots: int = DEFAULT_NIC_RING_SLOTS,
) -> SizingReport:
    """Size the four receive-path buffers for a steady stream of equal-sized messages."""
    if message_size < 0:
        raise ValueError("message_size must be >= 0")
    if rate_msgs_per_s <= 0:
        raise ValueError("rate_msgs_per_s must be > 0")
    if rtt_s < 0 or stall_budget_s < 0:
        raise ValueError("rtt_s and stall_budget_s must be >= 0")
    if not HEADER_LENGTH < mtu <= MAX_UDP_PAYLOAD or mtu % FRAME_ALIGNMENT:
        raise ValueError(f"mtu must be in ({HEADER_LENGTH}, {MAX_UDP_PAYLOAD}] and a multiple of 32")
    if nic_ring_slots <= 0:
        raise ValueError("nic_ring_slots must be > 0")

    warnings: list[str] = []
    fragments, wire = on_wire_length(message_size, mtu)
    bandwidth = wire * rate_msgs_per_s
    bdp = bandwidth * rtt_s

    window = next_power_of_two(max(math.ceil(bdp), mtu, MIN_RECEIVER_WINDOW))
    term_floor = max(2 * window, 8 * message_size, TERM_MIN_LENGTH)
    term = next_power_of_two(term_floor)
    if term > TERM_MAX_LENGTH:
        term = TERM_MAX_LENGTH
        warnings.append(
            f"term length capped at 1 GiB; needed {format_size(next_power_of_two(term_floor))}"
        )
    if window > term // 2:
        window = term // 2
        warnings.append("receiver window capped at term_length/2 (the driver's clamp); BDP not covered")
    max_msg = min(term // 8, MAX_MESSAGE_LENGTH_CAP)
    if message_size > max_msg:
        warnings.append(
            f"message of {message_size} B exceeds the max message length {max_msg} B "
            "(min(term/8, 16 MiB)); split it in the application"
        )

    stall_bytes = math.ceil(bandwidth * stall_budget_s)
    rcvbuf = _align(max(window, stall_bytes, mtu), SO_RCVBUF_GRANULE)
    unbatched = rate_msgs_per_s * fragments
    batched = min(unbatched, math.ceil(bandwidth / mtu))
    surv_b = nic_ring_slots / batched if batched > 0 else math.inf
    surv_u = nic_ring_slots / unbatched if unbatched > 0 else math.inf
    if surv_u < stall_budget_s:
        warnings.append(
            f"NIC ring of {nic_ring_slots} slots lasts {_fmt_seconds(surv_u)} at the unbatched packet "
            f"rate, less than the stall budget {_fmt_seconds(stall_budget_s)} if softirq processing stalls"
        )

    retry = max(NAK_UNICAST_DELAY_S * NAK_UNICAST_RETRY_RATIO, rtt_s)
    ratio = math.ceil(retry / NAK_UNICAST_DELAY_S - 1e-9)
    backoff = max(NAK_MULTICAST_MAX_BACKOFF_S, 2 * rtt_s)

    max_payload = mtu - HEADER_LENGTH
    if fragments > 1:
        mtu_note = (
            f"messages fragment into {fragments} frames at MTU {mtu}; a larger MTU (up to 8 KiB with "
            "jumbo frames end to end) cuts header overhead and packet rate"
        )
    elif mtu > ETHERNET_UDP_PAYLOAD:
        mtu_note = (
            f"MTU {mtu} exceeds the {ETHERNET_UDP_PAYLOAD} B UDP payload of a 1500 B Ethernet frame: "
            "needs jumbo frames on every hop or IP fragments (loss of one loses the datagram)"
        )
    else:
        mtu_note = (
            f"each message fits one frame (payload ≤ {max_payload} B); MTU {mtu} fits a 1500 B "
            "Ethernet frame without IP fragmentation"
        )

    return SizingReport(
        message_size=message_size,
        rate_msgs_per_s=rate_msgs_per_s,
        rtt_s=rtt_s,
        stall_budget_s=stall_budget_s,
        mtu=mtu,
        nic_ring_slots=nic_ring_slots,
        fragments_per_message=Figure(
            fragments, "frames", f"payload per frame is MTU − 32 = {max_payload} B"
        ),
        on_wire_bytes_per_message=Figure(
            wire, "B", "32 B header per fragment, each frame aligned to 32 B"
        ),
        bandwidth_bytes_per_s=Figure(bandwidth, "B/s", "on-wire bytes per message × message rate"),
        bdp_bytes=Figure(bdp, "B", "bandwidth × RTT: bytes in flight needed to keep the pipe full"),
        receiver_window=Figure(
            window,
            "B",
            "≥ BDP and ≥ MTU, rounded up to a power of two (aeron.rcv.initial.window.length / rcv-wnd)",
        ),
        term_length=Figure(
            term,
            "B",
            "≥ 2 × window and ≥ 8 × message, power of two in [64 KiB, 1 GiB] (term-length)",
        ),
        max_message_length=Figure(max_msg, "B", "min(term_length / 8, 16 MiB)"),
        so_rcvbuf=Figure(
            rcvbuf,
            "B",
            f"≥ window and ≥ {_fmt_bytes(stall_bytes)} arriving during the stall budget, 64 KiB granules "
            "(aeron.socket.so_rcvbuf)",
        ),
        rmem_max=Figure(
            rcvbuf,
            "B",
            "Linux caps SO_RCVBUF requests at net.core.rmem_max (it then doubles the value for overhead)",
        ),
        packets_per_s_batched=Figure(
            batched, "pkt/s", "frames batched into datagrams up to MTU: ceil(bandwidth / MTU)"
        ),
        packets_per_s_unbatched=Figure(
            unbatched, "pkt/s", "one datagram per frame (no batching, e.g. a slow trickle)"
        ),
        nic_ring_survival_batched_s=Figure(
            surv_b, "s", "NIC ring slots / batched packet rate: tolerated softirq stall"
        ),
        nic_ring_survival_unbatched_s=Figure(
            surv_u, "s", "NIC ring slots / unbatched packet rate: worst-case tolerated stall"
        ),
        nak_unicast_retry_delay_s=Figure(
            retry,
            "s",
            f"retry NAK no sooner than max(100 us, RTT): nak-delay 1us with retry ratio {ratio}",
        ),
        nak_multicast_max_backoff_s=Figure(
            backoff,
            "s",
            "multicast NAK backoff ≥ 2 × RTT so suppression works (aeron.nak.multicast.max.backoff, default 10 ms)",
        ),
        mtu_note=mtu_note,
        warnings=tuple(warnings),
    )


def _format_value(fig: Figure) -> str:
    if fig.unit == "B":
        return _fmt_bytes(fig.value)
    if fig.unit == "B/s":
        return f"{fig.value / 1e6:,.3f} MB/s"
    if fig.unit == "s":
        return _fmt_seconds(fig.value)
    if fig.unit == "pkt/s":
        return f"{fig.value:,.0f} pkt/s"
    return f"{fig.value:g} {fig.unit}"


def format_report(report: SizingReport) -> str:
    """The report as a three-column text table (figure, value, reason) plus notes."""
    lines = [
        f"inputs: message {report.message_size} B, {report.rate_msgs_per_s:,.0f} msg/s, "
        f"RTT {_fmt_seconds(report.rtt_s)}, stall budget {_fmt_seconds(report.stall_budget_s)}, "
        f"MTU {report.mtu}, NIC ring {report.nic_ring_slots} slots",
        "",
    ]
    rows = [(name.replace("_", " "), _format_value(fig), fig.reason) for name, fig in report.figures()]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines.append(f"{'figure':<{w0}}  {'value':>{w1}}  reason")
    lines.append(f"{'-' * w0}  {'-' * w1}  {'-' * 6}")
    lines.extend(f"{a:<{w0}}  {b:>{w1}}  {c}" for a, b, c in rows)
    lines.append("")
    lines.append(f"MTU: {report.mtu_note}")
    lines.extend(f"WARNING: {w}" for w in report.warnings)
    return "\n".join(lines)


def check_against_system(
    report: SizingReport, rmem_max_path: str = "/proc/sys/net/core/rmem_max"
) -> list[str]:
    """Warnings comparing the report with the running system's ``net.core.rmem_max``."""
    try:
        with open(rmem_max_path, encoding="ascii") as f:
            text = f.read().strip()
    except OSError as e:
        return [f"cannot read {rmem_max_path}: {e.strerror or e}"]
    try:
        current = int(text)
    except ValueError:
        return [f"unexpected content in {rmem_max_path}: {text!r}"]
    need = int(report.rmem_max.value)
    if current < need:
        return [
            f"net.core.rmem_max is {current} B but {need} B is needed: the SO_RCVBUF request will be "
            f"silently capped; run `sysctl -w net.core.rmem_max={need}`"
        ]
    return []


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``aeronpy sizing``."""
    parser.add_argument("--message-size", required=True, help="message payload size, e.g. 100 or 4k")
    parser.add_argument("--rate", required=True, type=float, help="messages per second")
    parser.add_argument("--rtt", required=True, help="round-trip time, e.g. 100us, 2ms")
    parser.add_argument("--stall", default="10ms", help="receiver stall budget (default 10ms)")
    parser.add_argument("--mtu", default="1408", help="aeron mtu length (default 1408)")
    parser.add_argument(
        "--nic-ring-slots", type=int, default=DEFAULT_NIC_RING_SLOTS,
        help=f"NIC RX ring descriptors (ethtool -g; default {DEFAULT_NIC_RING_SLOTS})",
    )
    parser.add_argument(
        "--rmem-max-path", default="/proc/sys/net/core/rmem_max", help="where to read net.core.rmem_max"
    )
    parser.add_argument("--no-system-check", action="store_true", help="skip the rmem_max check")
    parser.add_argument(
        "--check", action="store_true",
        help="compare the recommendations with the running driver's settings (--dir) and the kernel's buffers",
    )
    parser.add_argument("--dir", default=None, help="Aeron directory for --check (default: aeron.dir default)")
    parser.add_argument(
        "--proc-net-core", default=PROC_NET_CORE, help=argparse.SUPPRESS,  # tests point this at fake sysctls
    )


def run(args: argparse.Namespace) -> int:
    """Run ``aeronpy sizing``: print the table and system warnings; 0 ok, 1 warnings, 2 bad input."""
    try:
        report = compute(
            message_size=parse_size(str(args.message_size), "message-size"),
            rate_msgs_per_s=float(args.rate),
            rtt_s=parse_duration_ns(str(args.rtt), "rtt") / 1e9,
            stall_budget_s=parse_duration_ns(str(args.stall), "stall") / 1e9,
            mtu=parse_size(str(args.mtu), "mtu"),
            nic_ring_slots=int(args.nic_ring_slots),
        )
    except (ConfigurationError, ValueError) as e:
        print(f"sizing: {e}")
        return 2
    print(format_report(report))
    system = [] if args.no_system_check else check_against_system(report, args.rmem_max_path)
    for w in system:
        print(f"WARNING: {w}")
    status = 1 if system or report.warnings else 0
    if getattr(args, "check", False):
        aeron_dir = args.dir if args.dir else default_aeron_dir()
        try:
            rows, notes = check_running_driver(report, aeron_dir, proc_net_core=args.proc_net_core)
        except CheckError as e:
            print(f"sizing --check: {e}")
            return 2
        print()
        print(format_check(rows, notes))
        if any(r.status != "OK" for r in rows):
            status = 1
    return status


# --------------------------------------------------------------------------------------
# --check: the running driver and the kernel
# --------------------------------------------------------------------------------------

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
    recommended: int
    actual: int | None
    status: str  # "OK", "TOO SMALL" or "UNKNOWN"
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
            clamp = settings["term_length"].value // 2
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


def _row(name: str, recommended: int, actual: int | None, source: str, ok_reason: str, bad_reason: str) -> CheckRow:
    if actual is None:
        return CheckRow(name, recommended, None, "UNKNOWN", source, "not available")
    if actual >= recommended:
        return CheckRow(name, recommended, actual, "OK", source, ok_reason)
    return CheckRow(name, recommended, actual, "TOO SMALL", source, bad_reason)


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
        "term length", int(report.term_length.value), term, src,
        "holds 2 × window and 8 × message",
        "term smaller than recommended: window clamped to term/2 or messages over term/8 rejected",
    ))
    window, src = setting("receiver_window")
    rows.append(_row(
        "receiver window", int(report.receiver_window.value), window, src,
        "covers the bandwidth-delay product",
        "window < BDP: the sender stalls on flow control before an RTT of data is in flight",
    ))
    mtu, src = setting("mtu")
    rows.append(_row(
        "mtu", report.mtu, mtu, src, "at least the MTU the figures assume",
        "smaller MTU than assumed: more fragments and packets per message",
    ))
    so_rcvbuf, src = setting("so_rcvbuf")
    rmem_default = _read_int(os.path.join(proc_net_core, "rmem_default"))
    rmem_max = _read_int(os.path.join(proc_net_core, "rmem_max"))
    wmem_max = _read_int(os.path.join(proc_net_core, "wmem_max"))
    need_rcvbuf = int(report.so_rcvbuf.value)
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
        "net.core.rmem_max", int(report.rmem_max.value), rmem_max,
        os.path.join(proc_net_core, "rmem_max"), "kernel allows the SO_RCVBUF request",
        "kernel caps SO_RCVBUF requests here: the driver's request is silently reduced",
    ))
    rows.append(_row(
        "net.core.rmem_default", need_rcvbuf if not so_rcvbuf else 0, rmem_default,
        os.path.join(proc_net_core, "rmem_default"),
        "used only when aeron.socket.so_rcvbuf is 0" if so_rcvbuf else "default socket size is enough",
        "default socket receive buffer below the need",
    ))
    so_sndbuf, _ = setting("so_sndbuf")
    rows.append(_row(
        "net.core.wmem_max", so_sndbuf or 0, wmem_max, os.path.join(proc_net_core, "wmem_max"),
        "kernel allows the driver's SO_SNDBUF request",
        "kernel caps the driver's aeron.socket.so_sndbuf request",
    ))
    request = so_rcvbuf if so_rcvbuf else need_rcvbuf
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
    """The ``--check`` table: setting, recommended, actual, status, reason and source."""
    table = [
        (r.name, _fmt_bytes(r.recommended), "?" if r.actual is None else _fmt_bytes(r.actual), r.status,
         f"{r.reason} [{r.source}]")
        for r in rows
    ]
    head = ("setting", "recommended", "actual", "status", "reason [source]")
    widths = [max(len(head[i]), *(len(t[i]) for t in table)) for i in range(4)]
    lines = ["check against the running driver and kernel:", ""]
    lines.append(f"{head[0]:<{widths[0]}}  {head[1]:>{widths[1]}}  {head[2]:>{widths[2]}}  {head[3]:<{widths[3]}}  {head[4]}")
    lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 15)
    for t in table:
        lines.append(f"{t[0]:<{widths[0]}}  {t[1]:>{widths[1]}}  {t[2]:>{widths[2]}}  {t[3]:<{widths[3]}}  {t[4]}")
    lines.append("")
    lines.extend(f"note: {n}" for n in notes)
    return "\n".join(lines)
