"""Receive-path sizing calculator following seed 004, "The Four Receive-Path Buffers".

A datagram passes the NIC RX ring, the socket receive buffer (``SO_RCVBUF``), the receiver
window (flow-control credit) and the term buffer before a subscriber reads it.  From a message
size, a message rate, the RTT, a stall to survive, the receiver count and the NIC/CPU figures
(an instance family, or ring size and L3 size), :func:`compute` derives a **min** and a
**recommended** value for every quantity the seed's calculator shows, checks Constraints A, B
and C on both configurations, and says who decides each figure where the seed's rule and the
driver's enforced limits differ.  Pure arithmetic, no I/O.

The rules, as the seed gives them:

* on-wire bytes = payload + 32 B header, aligned to 32 (per fragment); λ = rate × bytes; BDP = λ × RTT
* window = 2–4 × BDP, floored at the 128 KiB default and at the MTU (rounded up to a power of
  two, the way the 125,000 B textbook BDP became the 128 KiB default)
* term ≥ 2 × window (Constraint A) and ≥ 2 × λ × stall (a publisher races at most term/2
  ahead), power of two in [64 KiB, 1 GiB]
* SO_RCVBUF ≥ window (Constraint C), 2 × for stall headroom; rmem_max ≥ SO_RCVBUF (or the
  kernel silently caps the request: the back door)
* PPS: rate ÷ messages-per-datagram (batched) up to rate × datagrams-per-message (unbatched)
* ring stall survival = ring entries ÷ worst-case PPS
* NAK: multicast backoff ≥ 2 × RTT, linger ≈ 3 × (backoff + RTT), group size = receivers
"""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from aeronpy.config import format_size, parse_duration_ns, parse_size
from aeronpy.errors import ConfigurationError
from aeronpy.tools import instance_families

__all__ = [
    "HEADER_LENGTH",
    "FRAME_ALIGNMENT",
    "TERM_MIN_LENGTH",
    "TERM_MAX_LENGTH",
    "DEFAULT_WINDOW",
    "DEFAULT_MTU",
    "JUMBO_MTU",
    "SizingInputs",
    "Quantity",
    "Constraint",
    "SizingReport",
    "on_wire_length",
    "next_power_of_two",
    "effective_receiver_window",
    "ring_stall_survival_s",
    "compute",
    "format_report",
    "check_against_system",
    "inputs_from_strings",
    "add_arguments",
    "run",
]

HEADER_LENGTH = 32
FRAME_ALIGNMENT = 32
TERM_MIN_LENGTH = 64 * 1024
TERM_MAX_LENGTH = 1024 * 1024 * 1024
MAX_UDP_PAYLOAD = 65504
MAX_MESSAGE_LENGTH_CAP = 16 * 1024 * 1024
DEFAULT_WINDOW = 128 * 1024
"""``aeron.rcv.initial.window.length`` default, and the window floor of the seed's rule."""
DEFAULT_MTU = 1408
JUMBO_MTU = 8192
DEFAULT_NAK_MULTICAST_MAX_BACKOFF_S = 10e-3
DEFAULT_NAK_MULTICAST_GROUP_SIZE = 10
HIGH_BANDWIDTH = 125_000_000
"""1 Gbit/s in bytes per second: from here on the MTU recommendation is 8192 (jumbo frames)."""

SEED = "seed"
DRIVER = "driver"
KERNEL = "kernel"


@dataclass(frozen=True)
class SizingInputs:
    """What the calculator is given (seconds, bytes, messages per second)."""

    message_size: int
    rate: float
    rtt_s: float
    stall_s: float
    receivers: int = 1
    mtu: int = DEFAULT_MTU
    ring_entries: int = instance_families.DEFAULT_RING_ENTRIES
    ring_max: int = instance_families.DEFAULT_RING_MAX
    l3_bytes: int | None = None
    instance_family: str | None = None

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad input."""
        if self.message_size < 0:
            raise ValueError(f"message size must be >= 0, got {self.message_size}")
        if not self.rate > 0 or math.isinf(self.rate):
            raise ValueError(f"rate must be a positive number of messages per second, got {self.rate}")
        if self.rtt_s < 0:
            raise ValueError(f"rtt must be >= 0, got {self.rtt_s}")
        if self.stall_s < 0:
            raise ValueError(f"stall must be >= 0, got {self.stall_s}")
        if self.receivers < 1:
            raise ValueError(f"receivers must be >= 1, got {self.receivers}")
        if not HEADER_LENGTH < self.mtu <= MAX_UDP_PAYLOAD or self.mtu % FRAME_ALIGNMENT:
            raise ValueError(
                f"mtu must be a multiple of 32 in ({HEADER_LENGTH}, {MAX_UDP_PAYLOAD}], got {self.mtu}"
            )
        if self.ring_entries < 1 or self.ring_max < 1:
            raise ValueError("ring entries and ring max must be >= 1")
        if self.ring_max < self.ring_entries:
            raise ValueError(f"ring max {self.ring_max} is below the ring entries {self.ring_entries}")
        if self.l3_bytes is not None and self.l3_bytes <= 0:
            raise ValueError(f"l3 size must be > 0, got {self.l3_bytes}")


@dataclass(frozen=True)
class Quantity:
    """One output row: min and recommended values, the rule, and who decides it."""

    key: str
    label: str
    unit: str  # "B", "B/s", "s", "pkt/s", "count", "text"
    min: float
    recommended: float
    rule: str
    decides: str = SEED
    why: str = ""
    prop: str = ""
    note: str = ""


@dataclass(frozen=True)
class Constraint:
    """Constraint A, B or C (or the rmem_max back door) evaluated on one configuration."""

    name: str
    config: str  # "min" or "recommended"
    ok: bool
    text: str
    enforced_by: str


@dataclass(frozen=True)
class SizingReport:
    """The whole calculation: inputs, quantities in the seed's table order, checks, warnings."""

    inputs: SizingInputs
    quantities: tuple[Quantity, ...]
    constraints: tuple[Constraint, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def __getitem__(self, key: str) -> Quantity:
        for q in self.quantities:
            if q.key == key:
                return q
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the dashboard's calculator endpoint)."""
        def finite(d: dict[str, Any]) -> dict[str, Any]:
            return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in d.items()}

        return {
            "inputs": asdict(self.inputs),
            "quantities": [finite(asdict(q)) | {"min_text": _fmt(q, q.min),
                                                "recommended_text": _fmt(q, q.recommended)}
                           for q in self.quantities],
            "constraints": [asdict(c) for c in self.constraints],
            "warnings": list(self.warnings),
        }


def next_power_of_two(value: int) -> int:
    """Smallest power of two ≥ ``value`` (1 for value ≤ 1)."""
    return 1 if value <= 1 else 1 << (value - 1).bit_length()


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) & ~(alignment - 1)


def on_wire_length(message_size: int, mtu: int) -> tuple[int, int]:
    """``(fragments, bytes)`` of one message: each fragment carries up to ``mtu − 32`` payload
    bytes behind a 32-byte header, each frame aligned to 32."""
    max_payload = mtu - HEADER_LENGTH
    if message_size <= max_payload:
        return 1, _align(message_size + HEADER_LENGTH, FRAME_ALIGNMENT)
    fragments = -(-message_size // max_payload)
    last = message_size - (fragments - 1) * max_payload
    return fragments, (fragments - 1) * mtu + _align(last + HEADER_LENGTH, FRAME_ALIGNMENT)


def effective_receiver_window(initial_window: int, term_length: int) -> int:
    """Constraint A as the driver applies it: ``min(initial window, term length / 2)``."""
    return min(initial_window, term_length // 2)


def ring_stall_survival_s(ring_entries: int, packets_per_s: float) -> float:
    """How long a NIC ring of ``ring_entries`` descriptors absorbs a drain stall at a packet rate."""
    return math.inf if packets_per_s <= 0 else ring_entries / packets_per_s


def _term_for(window: int, stall_bytes: float, message_size: int) -> tuple[int, str, str]:
    """Term length for ``window``: (length, what set it, who decides)."""
    needs = [
        (2 * window, "2 × window (Constraint A)", SEED),
        (math.ceil(2 * stall_bytes), "2 × λ × stall (publisher races at most term/2 ahead)", SEED),
        (TERM_MIN_LENGTH, "the driver's 64 KiB minimum term", DRIVER),
        (8 * message_size, "max message length = term/8 (the driver rejects longer messages)", DRIVER),
    ]
    need, reason, who = max(needs, key=lambda n: n[0])
    term = next_power_of_two(need)
    if term > TERM_MAX_LENGTH:
        return TERM_MAX_LENGTH, f"{reason} needs {format_size(term)}, over the driver's 1 GiB maximum", DRIVER
    return term, reason, who


def _fmt_bytes(value: float) -> str:
    if value == math.inf:
        return "inf"
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


def _fmt(q: Quantity, value: float) -> str:
    if q.unit == "B":
        return _fmt_bytes(value)
    if q.unit == "B/s":
        return f"{value / 1e6:,.3f} MB/s ({value * 8 / 1e9:.3g} Gbit/s)"
    if q.unit == "s":
        return _fmt_seconds(value)
    if q.unit == "pkt/s":
        return f"{value:,.0f} pkt/s"
    if q.unit == "count":
        return f"{value:,.0f}"
    return f"{value:g} {q.unit}"


def compute(inputs: SizingInputs) -> SizingReport:
    """Apply the seed's rules to ``inputs`` (``ValueError`` on bad input)."""
    inputs.validate()
    mtu, rate, rtt = inputs.mtu, inputs.rate, inputs.rtt_s
    fragments, wire = on_wire_length(inputs.message_size, mtu)
    bandwidth = wire * rate
    bdp = bandwidth * rtt
    stall_bytes = bandwidth * inputs.stall_s
    floor = max(DEFAULT_WINDOW, mtu)
    warnings: list[str] = []
    q: list[Quantity] = []

    q.append(Quantity(
        "on_wire_bytes", "On-wire bytes/msg", "B", wire, wire,
        "payload + 32 B frame header, aligned to 32 B"
        + (f"; {fragments} fragments at MTU {mtu}" if fragments > 1 else ""),
    ))
    q.append(Quantity("bandwidth", "Bandwidth λ", "B/s", bandwidth, bandwidth, "λ = rate × on-wire bytes/msg"))
    q.append(Quantity("bdp", "BDP", "B", bdp, bdp, "BDP = λ × RTT"))

    # window: 2–4 × BDP floored at 128 KiB and at the MTU, then capped by Constraint A if the
    # term hits the driver's 1 GiB ceiling
    windows: dict[str, int] = {}
    terms: dict[str, int] = {}
    term_why: dict[str, tuple[str, str]] = {}
    for config, factor in (("min", 2), ("recommended", 4)):
        w = next_power_of_two(max(math.ceil(factor * bdp), floor))
        t, reason, who = _term_for(w, stall_bytes, inputs.message_size)
        if w > t // 2:
            warnings.append(
                f"{config}: the window {format_size(w)} exceeds term/2 = {format_size(t // 2)} at the driver's "
                "1 GiB term maximum; Constraint A caps it (the driver decides), so the BDP is not covered"
            )
            w = t // 2
        windows[config], terms[config], term_why[config] = w, t, (reason, who)
    window_capped = windows["min"] < next_power_of_two(max(math.ceil(2 * bdp), floor))
    window_floor_decides = next_power_of_two(max(math.ceil(2 * bdp), floor)) == next_power_of_two(floor)
    q.append(Quantity(
        "initial_window", "Initial window", "B", windows["min"], windows["recommended"],
        "2–4 × BDP, floored at the 128 KiB default and at MTU, rounded up to a power of two",
        decides=DRIVER if window_capped else SEED,
        why=("the driver's Constraint A (window ≤ term/2 at the 1 GiB term maximum) caps it" if window_capped
             else "the seed's 128 KiB floor: the driver itself only requires window ≥ MTU (Constraint B)"
             if window_floor_decides else "the seed's 2–4 × BDP rule; the driver only requires ≥ MTU and ≤ term/2"),
        prop="aeron.rcv.initial.window.length",
    ))
    t_reason, t_who = term_why["recommended"]
    q.append(Quantity(
        "term_buffer", "Term buffer", "B", terms["min"], terms["recommended"],
        "≥ 2 × window (Constraint A) and ≥ 2 × λ × stall, power of 2, 64 KiB–1 GiB",
        decides=t_who, why=f"set by {t_reason}", prop="aeron.term.buffer.length",
    ))
    if terms["recommended"] == TERM_MAX_LENGTH and 2 * stall_bytes > TERM_MAX_LENGTH:
        warnings.append(
            f"2 × λ × stall = {_fmt_bytes(2 * stall_bytes)} exceeds the driver's 1 GiB term maximum: the "
            "driver decides; shorten the stall or lower the rate"
        )
    if inputs.message_size > min(terms["recommended"] // 8, MAX_MESSAGE_LENGTH_CAP):
        warnings.append(
            f"a {inputs.message_size} B message exceeds the driver's max message length "
            f"min(term/8, 16 MiB) = {min(terms['recommended'] // 8, MAX_MESSAGE_LENGTH_CAP)} B: the driver "
            "rejects it; split it in the application"
        )

    rcv_min, rcv_rec = windows["min"], 2 * windows["recommended"]
    q.append(Quantity(
        "so_rcvbuf", "OS socket receive buffer SO_RCVBUF", "B", rcv_min, rcv_rec,
        "≥ window (Constraint C — the driver refuses to start otherwise); 2 × window for stall headroom",
        decides=SEED,
        why="the seed: SO_RCVBUF ≥ window. The Java driver checks exactly that; the C driver (and aeronpy) "
            "compare the window with the kernel's read-back value, which Linux doubles, so they would start "
            "with half of this",
        prop="aeron.socket.so_rcvbuf",
    ))
    q.append(Quantity(
        "rmem_max", "net.core.rmem_max", "B", rcv_min, rcv_rec,
        "kernel ceiling for SO_RCVBUF (sysctl): ≥ the SO_RCVBUF you request",
        decides=KERNEL,
        why="the kernel silently caps a larger SO_RCVBUF request; the driver only warns and starts anyway",
        prop="sysctl net.core.rmem_max",
    ))

    if fragments > 1:
        batched = rate * fragments
        per_datagram = f"{fragments} datagrams per message"
    else:
        per = max(1, mtu // wire)
        batched = rate / per
        per_datagram = f"{per} message(s) per datagram"
    unbatched = rate * fragments
    q.append(Quantity(
        "pps", "PPS (packets/sec)", "pkt/s", batched, unbatched,
        f"min: batched, rate ÷ messages-per-datagram ({per_datagram}); "
        "recommended (plan for): unbatched worst case, rate × datagrams-per-message",
    ))

    surv_min = ring_stall_survival_s(inputs.ring_entries, unbatched)
    surv_rec = ring_stall_survival_s(inputs.ring_max, unbatched)
    q.append(Quantity(
        "ring_stall_survival", "NIC RX ring stall survival (at worst-case PPS)", "s", surv_min, surv_rec,
        f"ring entries ÷ worst-case PPS: min with {inputs.ring_entries} entries (current), recommended "
        f"with the ring at its max {inputs.ring_max} (ethtool -G <dev> rx {inputs.ring_max}, at deploy time)",
        decides=SEED, prop="ethtool -G rx",
    ))
    if surv_rec < inputs.stall_s:
        warnings.append(
            f"even a {inputs.ring_max}-entry ring survives only {_fmt_seconds(surv_rec)} at "
            f"{unbatched:,.0f} pkt/s, less than the {_fmt_seconds(inputs.stall_s)} stall: cut the packet rate "
            "(batching, a bigger MTU) or the stall"
        )
    elif surv_min < inputs.stall_s:
        warnings.append(
            f"a {inputs.ring_entries}-entry ring survives {_fmt_seconds(surv_min)} at {unbatched:,.0f} pkt/s, "
            f"less than the {_fmt_seconds(inputs.stall_s)} stall: set the RX ring to its max ({inputs.ring_max})"
        )
    q.append(Quantity(
        "rx_queue_pps", "NIC RX queues (ethtool -L)", "pkt/s", unbatched, unbatched,
        "RSS hashes each flow (5-tuple) to ONE queue: a single Aeron stream lands on one queue/ring/IRQ "
        "vCPU, so that one queue takes the whole stream's packet rate; more queues help only more flows",
    ))

    backoff_min = 2 * rtt
    backoff_rec = backoff_min if inputs.receivers < DEFAULT_NAK_MULTICAST_GROUP_SIZE else max(
        backoff_min, DEFAULT_NAK_MULTICAST_MAX_BACKOFF_S)
    q.append(Quantity(
        "nak_multicast_max_backoff", "NAK multicast max backoff", "s", backoff_min, backoff_rec,
        "≥ 2 × RTT (≈ ½ the per-loss budget); the 10 ms default suits fan-out ≥ 10 — for fewer receivers "
        "it is pure tail latency",
        prop="aeron.nak.multicast.max.backoff",
    ))
    q.append(Quantity(
        "retransmit_linger", "Retransmit linger", "s", 3 * (backoff_min + rtt), 3 * (backoff_rec + rtt),
        "≈ 3 × (backoff + RTT)", prop="aeron.retransmit.unicast.linger",
    ))
    q.append(Quantity(
        "nak_group_size", "NAK multicast group size", "count", inputs.receivers, inputs.receivers,
        "the real receiver count", prop="aeron.nak.multicast.group.size",
    ))

    fits_default = inputs.message_size <= DEFAULT_MTU - HEADER_LENGTH
    mtu_rec = DEFAULT_MTU if fits_default and bandwidth < HIGH_BANDWIDTH else JUMBO_MTU
    q.append(Quantity(
        "mtu", "MTU recommendation", "B", DEFAULT_MTU, mtu_rec,
        "1408 fits a 1500 B Ethernet frame; 8192 (VPC jumbo frames, MTU 9001) when bandwidth is high "
        "(≥ 1 Gbit/s here) or a message does not fit 1408 — fewer packets, but one loss NAKs more data; "
        "stay at 1408 cross-region; window ≥ MTU (Constraint B) and SO_SNDBUF ≥ MTU are enforced",
        decides=SEED, prop="aeron.mtu.length",
    ))

    ws_min = terms["min"] + rcv_min
    ws_rec = terms["recommended"] + rcv_rec
    l3 = inputs.l3_bytes
    if l3 is None:
        l3_note = "L3 size unknown: give --instance-family or --l3"
    else:
        l3_note = (f"L3 {_fmt_bytes(l3)}: min working set {'fits' if ws_min <= l3 else 'does NOT fit'}, "
                   f"recommended {'fits' if ws_rec <= l3 else 'does NOT fit'}")
        if ws_rec > l3:
            warnings.append(
                f"the recommended working set {_fmt_bytes(ws_rec)} (term + SO_RCVBUF) exceeds the "
                f"{_fmt_bytes(l3)} L3: catch-up and retransmit reads come from memory"
            )
    q.append(Quantity(
        "l3_working_set", "L3 cache fit (working set)", "B", ws_min, ws_rec,
        "working set = term buffer (the retransmit history the subscriber and sender read) + SO_RCVBUF, "
        "against one L3 sharing domain",
        note=l3_note,
    ))

    constraints: list[Constraint] = []
    for config in ("min", "recommended"):
        w, t = windows[config], terms[config]
        rcv = rcv_min if config == "min" else rcv_rec
        constraints.append(Constraint(
            "A", config, w <= t // 2, f"window {_fmt_bytes(w)} ≤ term/2 {_fmt_bytes(t // 2)}",
            "driver (silently caps the window at term/2)"))
        constraints.append(Constraint(
            "B", config, mtu <= w, f"MTU {mtu} ≤ window {_fmt_bytes(w)}", "driver (refuses to start)"))
        constraints.append(Constraint(
            "C", config, w <= rcv, f"window {_fmt_bytes(w)} ≤ SO_RCVBUF {_fmt_bytes(rcv)}",
            "driver (refuses to start)"))
        constraints.append(Constraint(
            "rmem_max", config, True,
            f"net.core.rmem_max ≥ SO_RCVBUF {_fmt_bytes(rcv)}: the back door — if rmem_max is lower the kernel "
            "silently caps the buffer and the driver only warns, starting with a socket buffer smaller than "
            "the window (kernel drops in-flight packets → RcvbufErrors → NAKs)",
            "nobody (kernel caps silently)"))
    return SizingReport(inputs, tuple(q), tuple(constraints), tuple(warnings))


def format_report(report: SizingReport) -> str:
    """The report as a text table: quantity, min, recommended, rule and who decides."""
    i = report.inputs
    family = f", instance family {i.instance_family}" if i.instance_family else ""
    l3 = _fmt_bytes(i.l3_bytes) if i.l3_bytes else "unknown"
    lines = [
        f"inputs: message {i.message_size} B, {i.rate:,.0f} msg/s, RTT {_fmt_seconds(i.rtt_s)}, "
        f"stall {_fmt_seconds(i.stall_s)}, {i.receivers} receiver(s), MTU {i.mtu}, NIC ring {i.ring_entries} "
        f"(max {i.ring_max}), L3 {l3}{family}",
        "",
    ]
    rows = [(x.label, _fmt(x, x.min), _fmt(x, x.recommended)) for x in report.quantities]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows + [("", "min", "")])
    w2 = max(len(r[2]) for r in rows)
    lines.append(f"{'quantity':<{w0}}  {'min':>{w1}}  {'recommended':>{w2}}")
    lines.append(f"{'-' * w0}  {'-' * w1}  {'-' * w2}")
    for x, (label, lo, hi) in zip(report.quantities, rows):
        lines.append(f"{label:<{w0}}  {lo:>{w1}}  {hi:>{w2}}")
        detail = x.rule + (f" [{x.prop}]" if x.prop else "")
        lines.append(f"{'':<{w0}}    rule: {detail}")
        if x.why:
            lines.append(f"{'':<{w0}}    decides: {x.decides} — {x.why}")
        if x.note:
            lines.append(f"{'':<{w0}}    {x.note}")
    lines.append("")
    lines.append("constraints:")
    for c in report.constraints:
        status = "ok" if c.ok else "VIOLATED"
        if c.name == "rmem_max":
            status = "check"
        lines.append(f"  {c.name:<8} {c.config:<11} {status:<8} {c.text} [enforced by {c.enforced_by}]")
    lines.append("")
    lines.extend(f"WARNING: {w}" for w in report.warnings)
    return "\n".join(lines).rstrip("\n")


def check_against_system(
    report: SizingReport, rmem_max_path: str = "/proc/sys/net/core/rmem_max"
) -> list[str]:
    """Warnings comparing the recommended SO_RCVBUF with the system's ``net.core.rmem_max``."""
    try:
        with open(rmem_max_path, encoding="ascii") as f:
            text = f.read().strip()
    except OSError as e:
        return [f"cannot read {rmem_max_path}: {e.strerror or e}"]
    try:
        current = int(text)
    except ValueError:
        return [f"unexpected content in {rmem_max_path}: {text!r}"]
    need_min = int(report["rmem_max"].min)
    need = int(report["rmem_max"].recommended)
    if current < need:
        level = "below the minimum" if current < need_min else "below the recommended"
        return [
            f"net.core.rmem_max is {current} B, {level} {need if current >= need_min else need_min} B: the back "
            f"door — an SO_RCVBUF request above it is silently capped; run `sysctl -w net.core.rmem_max={need}`"
        ]
    return []


def inputs_from_strings(values: dict[str, Any]) -> SizingInputs:
    """Build :class:`SizingInputs` from CLI/form strings (sizes like ``4k``, durations like ``100us``).

    Keys: message_size, rate, rtt, stall, receivers, mtu, instance_family, ring_entries, ring_max,
    l3.  Raises ``ValueError`` with the field's name on bad input.
    """

    def text(key: str, default: str | None = None) -> str | None:
        v = values.get(key)
        if v is None or str(v).strip() == "":
            return default
        return str(v).strip()

    def need(key: str, default: str | None = None) -> str:
        v = text(key, default)
        if v is None:
            raise ValueError(f"{key.replace('_', '-')} is required")
        return v

    def integer(key: str, default: str) -> int:
        v = need(key, default)
        try:
            return int(v)
        except ValueError:
            raise ValueError(f"{key.replace('_', '-')}: not an integer: {v!r}") from None

    try:
        rate_text = need("rate")
        try:
            rate = float(rate_text.replace("_", "").replace(",", ""))
        except ValueError:
            raise ValueError(f"rate: not a number of messages per second: {rate_text!r}") from None
        family_name = text("instance_family")
        family = instance_families.lookup(family_name) if family_name else None
        ring_entries = integer("ring_entries", str(family.ring_entries if family else
                                                   instance_families.DEFAULT_RING_ENTRIES))
        ring_max = integer("ring_max", str(max(ring_entries, family.ring_max if family else
                                               instance_families.DEFAULT_RING_MAX)))
        l3_text = text("l3")
        l3 = parse_size(l3_text, "l3") if l3_text else (family.l3_bytes if family else None)
        return SizingInputs(
            message_size=parse_size(need("message_size"), "message-size"),
            rate=rate,
            rtt_s=parse_duration_ns(need("rtt"), "rtt") / 1e9,
            stall_s=parse_duration_ns(need("stall", "10ms"), "stall") / 1e9,
            receivers=integer("receivers", "1"),
            mtu=parse_size(need("mtu", str(DEFAULT_MTU)), "mtu"),
            ring_entries=ring_entries,
            ring_max=ring_max,
            l3_bytes=l3,
            instance_family=family.name if family else None,
        )
    except ConfigurationError as e:
        raise ValueError(str(e)) from None
    except KeyError as e:
        raise ValueError(str(e.args[0])) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``aeronpy sizing``."""
    from aeronpy.tools import sizing_check

    parser.add_argument("--message-size", required=True, help="message payload size, e.g. 100 or 4k")
    parser.add_argument("--rate", required=True, help="messages per second (TPS)")
    parser.add_argument("--rtt", required=True, help="round-trip time between the nodes, e.g. 100us, 2ms")
    parser.add_argument("--stall", default="10ms", help="receiver stall to survive (default 10ms)")
    parser.add_argument("--receivers", default="1", help="number of receivers of the stream (default 1)")
    parser.add_argument("--mtu", default=str(DEFAULT_MTU), help=f"aeron.mtu.length (default {DEFAULT_MTU})")
    parser.add_argument("--instance-family", default=None,
                        help="EC2 instance family (c6in, c7g, ...) for ring and L3 figures")
    parser.add_argument("--ring-entries", default=None, help="current NIC RX ring size (ethtool -g; default 1024)")
    parser.add_argument("--ring-max", default=None, help="NIC RX ring maximum (ethtool -g; default 8192)")
    parser.add_argument("--l3", default=None, help="L3 size of one sharing domain, e.g. 32m")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
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
        "--proc-net-core", default=sizing_check.PROC_NET_CORE, help=argparse.SUPPRESS,  # tests: fake sysctls
    )


def run(args: argparse.Namespace) -> int:
    """Run ``aeronpy sizing``: 0 all fine, 1 warnings or checks failed, 2 bad input."""
    import json

    from aeronpy.config import default_aeron_dir
    from aeronpy.tools import sizing_check

    try:
        report = compute(inputs_from_strings({
            "message_size": args.message_size, "rate": args.rate, "rtt": args.rtt, "stall": args.stall,
            "receivers": args.receivers, "mtu": args.mtu, "instance_family": args.instance_family,
            "ring_entries": args.ring_entries, "ring_max": args.ring_max, "l3": args.l3,
        }))
    except ValueError as e:
        print(f"sizing: {e}")
        return 2
    system = [] if args.no_system_check else check_against_system(report, args.rmem_max_path)
    if args.json:
        print(json.dumps(report.to_dict() | {"system": system}, indent=2, default=str))
    else:
        print(format_report(report))
        for w in system:
            print(f"WARNING: {w}")
    status = 1 if system or report.warnings else 0
    if getattr(args, "check", False):
        aeron_dir = args.dir if args.dir else default_aeron_dir()
        try:
            rows, notes = sizing_check.check_running_driver(report, aeron_dir, proc_net_core=args.proc_net_core)
        except sizing_check.CheckError as e:
            print(f"sizing --check: {e}")
            return 2
        print()
        print(sizing_check.format_check(rows, notes))
        if any(r.status != "OK" for r in rows):
            status = 1
    return status
