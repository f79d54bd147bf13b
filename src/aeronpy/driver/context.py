"""Media driver configuration: one typed field per ``aeron.*`` property, loading with
precedence (keyword arguments > properties mapping > ``AERON_*`` environment > properties file
> default) and start-up validation.  Invalid or out-of-range values are rejected with a
:class:`~aeronpy.errors.ConfigurationError` naming the property (the C driver clamps or warns).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from aeronpy.concurrent.clock import epoch_ms, nano_time
from aeronpy.config import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    PropertySpec,
    default_aeron_dir,
    format_duration_ns,
    format_size,
    load_context,
    parse_bool,
    parse_duration_ns,
    parse_int,
    parse_size,
    parse_text,
    property_names,
)
from aeronpy.driver.media.loss_interceptor import (
    LossInterceptor,
    loss_enabled,
    loss_properties,
    parse_incoming_interceptors,
    parse_loss_args,
)
from aeronpy.driver.media.transport_factory import TransportFactory, UdpTransportFactory
from aeronpy.driver.media.udp_channel import Resolver
from aeronpy.errors import ConfigurationError
from aeronpy.protocol.data_header import FRAME_ALIGNMENT
from aeronpy.uri import parse_endpoint, parse_interface

__all__ = ["DriverContext", "ThreadingMode"]

KIB = 1024
MIB = 1024 * 1024
GIB = 1024 * 1024 * 1024
US = 1_000
MS = 1_000_000
S = 1_000_000_000

RING_BUFFER_TRAILER_LENGTH = 768
BROADCAST_BUFFER_TRAILER_LENGTH = 128
CNC_METADATA_LENGTH = 128
COUNTERS_METADATA_MULTIPLE = 4
TERM_MIN_LENGTH = 64 * KIB
TERM_MAX_LENGTH = GIB
PAGE_MIN_SIZE = 4 * KIB
PAGE_MAX_SIZE = GIB
MAX_UDP_PAYLOAD_LENGTH = 65504
MAX_BOOTSTRAP_NEIGHBORS = 20
MAX_RESOLVER_NAME_LENGTH = 512

CONDUCTOR_BUFFER_LENGTH_DEFAULT = MIB + RING_BUFFER_TRAILER_LENGTH
CLIENTS_BUFFER_LENGTH_DEFAULT = MIB + BROADCAST_BUFFER_TRAILER_LENGTH


class ThreadingMode(str, Enum):
    """How the driver's conductor, sender and receiver agents are mapped onto threads."""

    DEDICATED = "DEDICATED"
    SHARED_NETWORK = "SHARED_NETWORK"
    SHARED = "SHARED"
    INVOKER = "INVOKER"


# Idle strategy spellings (C short names, C symbol names, Java class names) → aeronpy name.
_IDLE_STRATEGIES: dict[str, str] = {
    "backoff": "backoff",
    "aeron_idle_strategy_backoff": "backoff",
    "org.agrona.concurrent.BackoffIdleStrategy": "backoff",
    "sleeping": "sleeping",
    "sleep-ns": "sleeping",
    "aeron_idle_strategy_sleeping": "sleeping",
    "org.agrona.concurrent.SleepingIdleStrategy": "sleeping",
    "org.agrona.concurrent.SleepingMillisIdleStrategy": "sleeping",
    "yield": "yield",
    "aeron_idle_strategy_yielding": "yield",
    "org.agrona.concurrent.YieldingIdleStrategy": "yield",
    "spin": "spin",
    "aeron_idle_strategy_busy_spinning": "spin",
    "org.agrona.concurrent.BusySpinIdleStrategy": "spin",
    "noop": "noop",
    "aeron_idle_strategy_noop": "noop",
    "org.agrona.concurrent.NoOpIdleStrategy": "noop",
}

_MULTICAST_FC: dict[str, str] = {
    "max": "max",
    "multicast_max": "max",
    "aeron_max_multicast_flow_control_strategy_supplier": "max",
    "min": "min",
    "multicast_min": "min",
    "aeron_min_flow_control_strategy_supplier": "min",
    "tagged": "tagged",
    "multicast_tagged": "tagged",
    "aeron_tagged_flow_control_strategy_supplier": "tagged",
}
_UNICAST_FC: dict[str, str] = {
    "max": "max",
    "unicast_max": "max",
    "aeron_unicast_flow_control_strategy_supplier": "max",
}
_NAME_RESOLVERS: dict[str, str] = {
    "default": "default",
    "aeron_default_name_resolver_supplier": "default",
    "driver": "driver",
    "aeron_driver_name_resolver_supplier": "driver",
}
_CONGESTION_CONTROL: dict[str, str] = {  # C names, C function names, Java class names
    "default": "default",
    "aeron_congestion_control_default_strategy_supplier": "default",
    "io.aeron.driver.DefaultCongestionControlSupplier": "default",
    "static": "static",
    "aeron_static_window_congestion_control_strategy_supplier": "static",
    "cubic": "cubic",
    "aeron_cubic_congestion_control_strategy_supplier": "cubic",
    "io.aeron.driver.ext.CubicCongestionControlSupplier": "cubic",
}


def _choice(table: Mapping[str, str]) -> Callable[[str, str], str]:
    def parse(value: str, name: str) -> str:
        result = table.get(value.strip())
        if result is None:
            choices = ", ".join(sorted(set(table.values())))
            raise ConfigurationError(f"{name}={value}: must be one of {choices}")
        return result

    return parse


def _parse_threading_mode(value: str, name: str) -> ThreadingMode:
    try:
        return ThreadingMode(value.strip().upper())
    except ValueError:
        choices = ", ".join(m.value for m in ThreadingMode)
        raise ConfigurationError(f"{name}={value}: must be one of {choices}") from None


def _parse_lower_choice(*choices: str) -> Callable[[str, str], str]:
    def parse(value: str, name: str) -> str:
        v = value.strip().lower()
        if v not in choices:
            raise ConfigurationError(f"{name}={value}: must be one of {', '.join(choices)}")
        return v

    return parse


_parse_str = parse_text


def _parse_port_range(value: str, name: str) -> tuple[int, int]:
    parts = value.split()
    if len(parts) != 2 or not all(p.isdecimal() for p in parts):
        raise ConfigurationError(f"{name}={value}: expected '<low port> <high port>'")
    low, high = int(parts[0]), int(parts[1])
    if not (0 <= low <= 65535 and 0 <= high <= 65535) or low > high:
        raise ConfigurationError(f"{name}={value}: ports must be 0..65535 with low <= high")
    return low, high


def _parse_mode(value: str, name: str) -> int:
    """Permission bits in octal (``0700``, ``700`` or ``0o700``), at most ``0777``."""
    text = value.strip().lower()
    if text.startswith("0o"):
        text = text[2:]
    if not text or any(c not in "01234567" for c in text) or int(text, 8) > 0o777:
        raise ConfigurationError(f"{name}={value}: expected octal permission bits 000..777 (e.g. 0700)")
    return int(text, 8)


def _parse_interceptors(value: str, name: str) -> str:
    parse_incoming_interceptors(value, name)
    return value


def _parse_loss_args(value: str, name: str) -> str:
    parse_loss_args(value, name)
    return value


@dataclass(frozen=True)
class _Spec(PropertySpec):
    """A :class:`~aeronpy.config.PropertySpec` with the kind of value the driver checks."""

    kind: str = "int"  # int, size, duration, bool, str, mode, other
    nullable: bool = False


def _size(prop: str, low: int | None = 0, high: int | None = INT32_MAX) -> _Spec:
    return _Spec(prop, parse_size, low, high, "size")


def _dur(prop: str, low: int | None = 0, high: int | None = INT64_MAX) -> _Spec:
    return _Spec(prop, parse_duration_ns, low, high, "duration")


def _int(prop: str, low: int | None, high: int | None) -> _Spec:
    return _Spec(prop, parse_int, low, high, "int")


def _bool(prop: str) -> _Spec:
    return _Spec(prop, parse_bool, kind="bool")


def _str(prop: str, parse: Callable[[str, str], Any] = _parse_str, nullable: bool = False) -> _Spec:
    return _Spec(prop, parse, kind="str", nullable=nullable)


_SPECS: dict[str, _Spec] = {
    "aeron_dir": _str("aeron.dir"),
    "dir_mode": _Spec("aeronpy.dir.mode", _parse_mode, 0, 0o777, "mode", True),
    "file_mode": _Spec("aeronpy.file.mode", _parse_mode, 0, 0o777, "mode", True),
    "dir_delete_on_start": _bool("aeron.dir.delete.on.start"),
    "dir_delete_on_shutdown": _bool("aeron.dir.delete.on.shutdown"),
    "dir_warn_if_exists": _bool("aeron.dir.warn.if.exists"),
    "threading_mode": _Spec("aeron.threading.mode", _parse_threading_mode, kind="other"),
    "thread_naming": _str("aeron.thread.naming", _parse_lower_choice("classic", "new")),
    "conductor_buffer_length": _size("aeron.conductor.buffer.length", CONDUCTOR_BUFFER_LENGTH_DEFAULT),
    "clients_buffer_length": _size("aeron.clients.buffer.length", CLIENTS_BUFFER_LENGTH_DEFAULT),
    "counters_buffer_length": _size("aeron.counters.buffer.length", MIB, 500 * MIB),
    "error_buffer_length": _size("aeron.error.buffer.length", 4 * MIB),
    "client_liveness_timeout_ns": _dur("aeron.client.liveness.timeout", US),
    "publication_linger_timeout_ns": _dur("aeron.publication.linger.timeout", US),
    "term_buffer_length": _size("aeron.term.buffer.length", TERM_MIN_LENGTH, TERM_MAX_LENGTH),
    "ipc_term_buffer_length": _size("aeron.ipc.term.buffer.length", TERM_MIN_LENGTH, TERM_MAX_LENGTH),
    "term_buffer_sparse_file": _bool("aeron.term.buffer.sparse.file"),
    "perform_storage_checks": _bool("aeron.perform.storage.checks"),
    "low_file_store_warning_threshold": _size("aeron.low.file.store.warning.threshold", 0, INT64_MAX),
    "spies_simulate_connection": _bool("aeron.spies.simulate.connection"),
    "file_page_size": _size("aeron.file.page.size", PAGE_MIN_SIZE, PAGE_MAX_SIZE),
    "mtu_length": _size("aeron.mtu.length", FRAME_ALIGNMENT + 1, MAX_UDP_PAYLOAD_LENGTH),
    "ipc_mtu_length": _size("aeron.ipc.mtu.length", FRAME_ALIGNMENT + 1, MAX_UDP_PAYLOAD_LENGTH),
    "publication_term_window_length": _size("aeron.publication.term.window.length", 0, TERM_MAX_LENGTH),
    "ipc_publication_term_window_length": _size(
        "aeron.ipc.publication.term.window.length", 0, TERM_MAX_LENGTH
    ),
    "socket_rcvbuf": _size("aeron.socket.so_rcvbuf"),
    "socket_sndbuf": _size("aeron.socket.so_sndbuf"),
    "socket_multicast_ttl": _int("aeron.socket.multicast.ttl", 0, 255),
    "send_to_status_poll_ratio": _int("aeron.send.to.status.poll.ratio", 1, INT32_MAX),
    "status_message_timeout_ns": _dur("aeron.rcv.status.message.timeout", US),
    "image_liveness_timeout_ns": _dur("aeron.image.liveness.timeout", US),
    "initial_window_length": _size("aeron.rcv.initial.window.length", 256),
    "loss_report_buffer_length": _size("aeron.loss.report.buffer.length", KIB),
    "publication_unblock_timeout_ns": _dur("aeron.publication.unblock.timeout", US),
    "publication_connection_timeout_ns": _dur("aeron.publication.connection.timeout", US),
    "timer_interval_ns": _dur("aeron.timer.interval", US),
    "counters_free_to_reuse_timeout_ns": _dur("aeron.counters.free.to.reuse.timeout"),
    "untethered_window_limit_timeout_ns": _dur("aeron.untethered.window.limit.timeout"),
    "untethered_linger_timeout_ns": _dur("aeron.untethered.linger.timeout", -1),
    "untethered_resting_timeout_ns": _dur("aeron.untethered.resting.timeout"),
    "driver_timeout_ms": _int("aeron.driver.timeout", 0, INT64_MAX),
    "max_resend": _int("aeron.max.resend", 1, 256),
    "retransmit_unicast_delay_ns": _dur("aeron.retransmit.unicast.delay"),
    "retransmit_unicast_linger_ns": _dur("aeron.retransmit.unicast.linger", US),
    "nak_unicast_delay_ns": _dur("aeron.nak.unicast.delay", US),
    "nak_unicast_retry_delay_ratio": _int("aeron.nak.unicast.retry.delay.ratio", 1, INT64_MAX),
    "nak_multicast_group_size": _int("aeron.nak.multicast.group.size", 1, INT32_MAX),
    "nak_multicast_max_backoff_ns": _dur("aeron.nak.multicast.max.backoff", US),
    "publication_reserved_session_id_low": _int("aeron.publication.reserved.session.id.low", INT32_MIN, INT32_MAX),
    "publication_reserved_session_id_high": _int(
        "aeron.publication.reserved.session.id.high", INT32_MIN, INT32_MAX
    ),
    "receiver_group_tag": _Spec("aeron.receiver.group.tag", parse_int, INT64_MIN, INT64_MAX, "int", True),
    "flow_control_group_tag": _int("aeron.flow.control.group.tag", INT64_MIN, INT64_MAX),
    "flow_control_group_min_size": _int("aeron.flow.control.group.min.size", 0, INT32_MAX),
    "flow_control_receiver_timeout_ns": _dur("aeron.flow.control.receiver.timeout"),
    "receiver_group_consideration": _str(
        "aeron.receiver.group.consideration", _parse_lower_choice("true", "infer", "false")
    ),
    "reliable_stream": _bool("aeron.reliable.stream"),
    "tether_subscriptions": _bool("aeron.tether.subscriptions"),
    "rejoin_stream": _bool("aeron.rejoin.stream"),
    "driver_connect": _bool("aeron.driver.connect"),
    "print_configuration": _bool("aeron.print.configuration"),
    "driver_termination_validator": _str(
        "aeron.driver.termination.validator", _parse_lower_choice("deny", "allow")
    ),
    "enable_experimental_features": _bool("aeron.enable.experimental.features"),
    "stream_session_limit": _int("aeron.driver.stream.session.limit", 1, INT32_MAX),
    "image_max_term_length": _size("aeronpy.image.max.term.length", TERM_MIN_LENGTH, TERM_MAX_LENGTH),
    "reresolution_check_interval_ns": _dur("aeron.driver.reresolution.check.interval"),
    "shared_conductor_interval_ns": _dur("aeronpy.shared.conductor.interval", 0, 1_000 * MS),
    "shared_eager_data_path": _bool("aeronpy.shared.eager.data.path"),
    "resource_free_limit": _int("aeron.driver.resource.free.limit", 1, INT32_MAX),
    "receiver_io_vector_capacity": _int("aeron.receiver.io.vector.capacity", 1, 16),
    "sender_io_vector_capacity": _int("aeron.sender.io.vector.capacity", 1, 16),
    "network_publication_max_messages_per_send": _int(
        "aeron.network.publication.max.messages.per.send", 1, 16
    ),
    "conductor_cycle_threshold_ns": _dur("aeron.driver.conductor.cycle.threshold"),
    "sender_cycle_threshold_ns": _dur("aeron.driver.sender.cycle.threshold"),
    "receiver_cycle_threshold_ns": _dur("aeron.driver.receiver.cycle.threshold"),
    "name_resolver_threshold_ns": _dur("aeron.name.resolver.threshold"),
    "conductor_idle_strategy": _str("aeron.conductor.idle.strategy", _choice(_IDLE_STRATEGIES)),
    "sender_idle_strategy": _str("aeron.sender.idle.strategy", _choice(_IDLE_STRATEGIES)),
    "receiver_idle_strategy": _str("aeron.receiver.idle.strategy", _choice(_IDLE_STRATEGIES)),
    "shared_network_idle_strategy": _str("aeron.sharednetwork.idle.strategy", _choice(_IDLE_STRATEGIES)),
    "shared_idle_strategy": _str("aeron.shared.idle.strategy", _choice(_IDLE_STRATEGIES)),
    "native_resource_agent_idle_strategy": _str(
        "aeron.driver.native.resource.agent.idle.strategy", _choice(_IDLE_STRATEGIES)
    ),
    "conductor_idle_strategy_init_args": _str("aeron.conductor.idle.strategy.init.args", nullable=True),
    "sender_idle_strategy_init_args": _str("aeron.sender.idle.strategy.init.args", nullable=True),
    "receiver_idle_strategy_init_args": _str("aeron.receiver.idle.strategy.init.args", nullable=True),
    "shared_network_idle_strategy_init_args": _str(
        "aeron.sharednetwork.idle.strategy.init.args", nullable=True
    ),
    "shared_idle_strategy_init_args": _str("aeron.shared.idle.strategy.init.args", nullable=True),
    "native_resource_agent_idle_strategy_init_args": _str(
        "aeron.driver.native.resource.agent.idle.strategy.init.args", nullable=True
    ),
    "conductor_cpu_affinity": _int("aeron.conductor.cpu.affinity", -1, 255),
    "sender_cpu_affinity": _int("aeron.sender.cpu.affinity", -1, 255),
    "receiver_cpu_affinity": _int("aeron.receiver.cpu.affinity", -1, 255),
    "sender_wildcard_port_range": _Spec(
        "aeron.sender.wildcard.port.range", _parse_port_range, kind="other", nullable=True
    ),
    "receiver_wildcard_port_range": _Spec(
        "aeron.receiver.wildcard.port.range", _parse_port_range, kind="other", nullable=True
    ),
    "resolver_name": _str("aeron.driver.resolver.name", nullable=True),
    "resolver_interface": _str("aeron.driver.resolver.interface", nullable=True),
    "resolver_bootstrap_neighbor": _str("aeron.driver.resolver.bootstrap.neighbor", nullable=True),
    "resolver_neighbor_timeout_ns": _dur("aeron.driver.resolver.neighbor.timeout", MS),
    "resolver_self_resolution_interval_ns": _dur("aeron.driver.resolver.self.resolution.interval", MS),
    "resolver_neighbor_resolution_interval_ns": _dur("aeron.driver.resolver.neighbor.resolution.interval", MS),
    "resolver_bootstrap_neighbor_resolution_interval_ns": _dur(
        "aeron.driver.resolver.bootstrap.neighbor.resolution.interval", MS
    ),
    "name_resolver_supplier": _str("aeron.name.resolver.supplier", _choice(_NAME_RESOLVERS)),
    "multicast_flow_control_supplier": _str("aeron.multicast.FlowControl.supplier", _choice(_MULTICAST_FC)),
    "unicast_flow_control_supplier": _str("aeron.unicast.FlowControl.supplier", _choice(_UNICAST_FC)),
    "congestion_control_supplier": _str("aeron.CongestionControl.supplier", _choice(_CONGESTION_CONTROL)),
    "cubic_measure_rtt": _bool("aeron.CubicCongestionControl.measureRtt"),
    "cubic_initial_rtt_ns": _dur("aeron.CubicCongestionControl.initialRtt", 1),
    "cubic_tcp_mode": _bool("aeron.CubicCongestionControl.tcpMode"),
    "udp_channel_incoming_interceptors": _str(
        "aeron.udp.channel.incoming.interceptors", _parse_interceptors, nullable=True
    ),
    "udp_channel_transport_bindings_loss_args": _str(
        "aeron.udp.channel.transport.bindings.loss.args", _parse_loss_args, nullable=True
    ),
}


_CODE_ONLY_FIELDS = frozenset(
    {"error_handler", "nano_clock", "epoch_clock", "epoch_ns_clock", "transport_factory", "name_resolver"}
)
"""DriverContext fields that are set in code only (no property)."""


@dataclass
class DriverContext:
    """Media driver configuration; field ``x`` is read from the property in
    ``PROPERTY_NAMES['x']`` (env ``AERON_...``) by :meth:`from_properties`.

    Threading: the default is ``ThreadingMode.SHARED`` (one thread running conductor, sender
    and receiver), *unlike* Aeron's ``DEDICATED``.  Under the GIL, dedicated agent threads
    mostly contend for the interpreter and add latency rather than parallelism.  ``DEDICATED``,
    ``SHARED_NETWORK`` and ``INVOKER`` remain available (``aeron.threading.mode``).
    """

    aeron_dir: str = field(default_factory=default_aeron_dir)
    dir_mode: int | None = None
    """Permission bits of the Aeron dir and its ``publications``/``images`` dirs (property
    ``aeronpy.dir.mode``, octal); None = ``0777`` less the umask, as Aeron."""
    file_mode: int | None = None
    """Permission bits of cnc.dat, loss-report.dat, driver-config.properties and every log
    buffer (``aeronpy.file.mode``, octal); None = ``0666`` less the umask, as Aeron."""
    dir_delete_on_start: bool = False
    dir_delete_on_shutdown: bool = False
    dir_warn_if_exists: bool = False
    threading_mode: ThreadingMode = ThreadingMode.SHARED
    thread_naming: str = "classic"
    conductor_buffer_length: int = CONDUCTOR_BUFFER_LENGTH_DEFAULT
    clients_buffer_length: int = CLIENTS_BUFFER_LENGTH_DEFAULT
    counters_buffer_length: int = 8 * MIB
    """Counters *values* buffer length; the metadata buffer is 4× this."""
    error_buffer_length: int = 4 * MIB
    client_liveness_timeout_ns: int = 10 * S
    publication_linger_timeout_ns: int = 5 * S
    term_buffer_length: int = 16 * MIB
    ipc_term_buffer_length: int = 64 * MIB
    term_buffer_sparse_file: bool = True
    perform_storage_checks: bool = True
    low_file_store_warning_threshold: int = 160 * MIB
    spies_simulate_connection: bool = False
    file_page_size: int = 4 * KIB
    mtu_length: int = 1408
    ipc_mtu_length: int = 1408
    publication_term_window_length: int = 0
    ipc_publication_term_window_length: int = 0
    socket_rcvbuf: int = 128 * KIB
    socket_sndbuf: int = 0
    socket_multicast_ttl: int = 0
    send_to_status_poll_ratio: int = 6
    status_message_timeout_ns: int = 200 * MS
    image_liveness_timeout_ns: int = 10 * S
    initial_window_length: int = 128 * KIB
    loss_report_buffer_length: int = MIB
    publication_unblock_timeout_ns: int = 15 * S
    publication_connection_timeout_ns: int = 5 * S
    timer_interval_ns: int = 1 * S
    counters_free_to_reuse_timeout_ns: int = 1 * S
    untethered_window_limit_timeout_ns: int = 5 * S
    untethered_linger_timeout_ns: int = -1
    """-1 = unset: the window-limit timeout is used."""
    untethered_resting_timeout_ns: int = 10 * S
    driver_timeout_ms: int = 10_000
    max_resend: int = 16
    retransmit_unicast_delay_ns: int = 0
    retransmit_unicast_linger_ns: int = 10 * MS
    nak_unicast_delay_ns: int = 1 * US
    nak_unicast_retry_delay_ratio: int = 100
    nak_multicast_group_size: int = 10
    nak_multicast_max_backoff_ns: int = 10 * MS
    publication_reserved_session_id_low: int = -1
    publication_reserved_session_id_high: int = 1000
    receiver_group_tag: int | None = None
    flow_control_group_tag: int = -1
    flow_control_group_min_size: int = 0
    flow_control_receiver_timeout_ns: int = 5 * S
    receiver_group_consideration: str = "infer"
    """``true``, ``infer`` or ``false``."""
    reliable_stream: bool = True
    tether_subscriptions: bool = True
    rejoin_stream: bool = True
    driver_connect: bool = True
    print_configuration: bool = False
    driver_termination_validator: str = "deny"
    enable_experimental_features: bool = False
    stream_session_limit: int = INT32_MAX
    """Most images per stream per receive endpoint; a SETUP past it is refused (as Aeron)."""
    image_max_term_length: int = TERM_MAX_LENGTH
    """Largest term a remote sender's SETUP may impose on an image (``aeronpy.image.max.term.length``;
    Aeron has no such cap, hence the default of 1 GiB): larger ones are refused and logged."""
    reresolution_check_interval_ns: int = 1 * S
    shared_conductor_interval_ns: int = 200 * US
    """``SHARED`` mode only (``aeronpy.shared.conductor.interval``; Aeron has no such setting): the
    conductor runs in a duty cycle where sender and receiver were idle (and in the one before),
    and at least this often while they stay busy (:mod:`aeronpy.driver.shared_agent`); 0 runs
    it every cycle, as Aeron."""
    shared_eager_data_path: bool = True
    """``SHARED`` mode only (``aeronpy.shared.eager.data.path``; Aeron has no such setting): when the
    idle probe sees activity, the common send and receive run at once in C, before the duty cycle
    (:mod:`aeronpy.driver.eager_data_path`); false leaves everything to the duty cycle."""
    resource_free_limit: int = 1
    receiver_io_vector_capacity: int = 4
    sender_io_vector_capacity: int = 4
    network_publication_max_messages_per_send: int = 16
    """Datagrams one sender duty cycle sends per publication.  Aeron's default is 4; aeronpy's is
    the allowed maximum, 16, because a Python duty cycle costs tens of times a C one: with 4,
    a busy 32 B UDP stream on this driver ran at about 0.4x the C driver's rate, with 16 at about
    0.7x (``benchmarks/run.py``).  Set it to 4 for Aeron's burst shape."""
    conductor_cycle_threshold_ns: int = 100 * MS
    sender_cycle_threshold_ns: int = 100 * MS
    receiver_cycle_threshold_ns: int = 100 * MS
    name_resolver_threshold_ns: int = 5 * S
    conductor_idle_strategy: str = "backoff"
    sender_idle_strategy: str = "backoff"
    receiver_idle_strategy: str = "backoff"
    shared_network_idle_strategy: str = "backoff"
    shared_idle_strategy: str = "backoff"
    native_resource_agent_idle_strategy: str = "sleeping"
    conductor_idle_strategy_init_args: str | None = None
    sender_idle_strategy_init_args: str | None = None
    receiver_idle_strategy_init_args: str | None = None
    shared_network_idle_strategy_init_args: str | None = None
    shared_idle_strategy_init_args: str | None = None
    native_resource_agent_idle_strategy_init_args: str | None = None
    conductor_cpu_affinity: int = -1
    sender_cpu_affinity: int = -1
    receiver_cpu_affinity: int = -1
    sender_wildcard_port_range: tuple[int, int] | None = None
    receiver_wildcard_port_range: tuple[int, int] | None = None
    resolver_name: str | None = None
    resolver_interface: str | None = None
    resolver_bootstrap_neighbor: str | None = None
    resolver_neighbor_timeout_ns: int = 10 * S
    resolver_self_resolution_interval_ns: int = 1 * S
    resolver_neighbor_resolution_interval_ns: int = 2 * S
    resolver_bootstrap_neighbor_resolution_interval_ns: int = 10 * S
    name_resolver_supplier: str = "default"
    """``default`` (host names through DNS) or ``driver`` (the driver name resolver, which
    needs ``aeron.driver.resolver.interface``); setting the interface alone also starts it, as
    in Java."""
    multicast_flow_control_supplier: str = "max"
    """Default ``fc`` strategy for multicast/MDC: ``max``, ``min`` or ``tagged``."""
    unicast_flow_control_supplier: str = "max"
    congestion_control_supplier: str = "default"
    """``default`` (each channel's ``cc``, else static), ``static`` or ``cubic`` (every image)."""
    cubic_measure_rtt: bool = False
    """``cc=cubic`` images originate RTTM frames to measure the round trip (Aeron's default: off)."""
    cubic_initial_rtt_ns: int = 100 * US
    """``cc=cubic``: the RTT assumed before a measurement; also the window update interval."""
    cubic_tcp_mode: bool = False
    """``cc=cubic``: after a loss, grow at least as fast as TCP Reno would (TCP-friendly region)."""
    udp_channel_incoming_interceptors: str | None = None
    """Comma separated incoming UDP interceptor names, as the C driver; only ``loss`` exists."""
    udp_channel_transport_bindings_loss_args: str | None = None
    """``loss`` interceptor args, e.g. ``rate=0.2|seed=7|recv-msg-mask=0x2`` (C syntax)."""
    error_handler: Callable[[BaseException], None] | None = field(default=None, compare=False, repr=False)
    """Called on the agent's thread with each error the driver records in its distinct error
    log (an :class:`~aeronpy.errors.DriverError` carrying the code, or the exception an agent
    raised).  An exception it raises is itself recorded; it never stops an agent.  Not a
    property: set it in code."""
    nano_clock: Callable[[], int] = field(default=nano_time, compare=False, repr=False)
    """Monotonic nanoseconds for every agent of the driver; tests inject a manual clock."""
    epoch_clock: Callable[[], int] = field(default=epoch_ms, compare=False, repr=False)
    """Wall-clock milliseconds (heartbeats, error and loss timestamps); injectable likewise."""
    epoch_ns_clock: Callable[[], int] = field(default=time.time_ns, compare=False, repr=False)
    """Wall-clock nanoseconds for the ``channel-rcv-ts-offset``/``channel-snd-ts-offset``
    timestamps written into frames; injectable likewise (``ManualClock.epoch_ns``)."""
    transport_factory: TransportFactory = field(default_factory=UdpTransportFactory, compare=False, repr=False)
    """Opens the driver's datagram transports: UDP sockets, or an in-memory network in tests."""
    name_resolver: Resolver | None = field(default=None, compare=False, repr=False)
    """Resolves host names in channels (``resolve(name, family) -> literal address``); None =
    DNS (``getaddrinfo``).  The driver name resolver, when enabled, asks its cache first."""

    PROPERTY_NAMES: ClassVar[Mapping[str, str]] = property_names(_SPECS)

    def __post_init__(self) -> None:
        if not isinstance(self.threading_mode, ThreadingMode):
            self.threading_mode = _parse_threading_mode(str(self.threading_mode), "aeron.threading.mode")

    @classmethod
    def from_properties(
        cls,
        properties: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        properties_file: str | None = None,
        **overrides: Any,
    ) -> DriverContext:
        """Build a validated context: each field from ``overrides``, else its property looked
        up in ``properties``, ``env`` (default ``os.environ``) and ``properties_file``, else its
        default."""
        return load_context(cls, _SPECS, properties, env, properties_file, overrides, set(_SPECS) | _CODE_ONLY_FIELDS)

    def validate(self) -> None:
        """Check every field's type and range, then driver-behaviour §2 items 1-4 and 7-9;
        raise :class:`ConfigurationError` naming the offending property."""
        for name, spec in _SPECS.items():
            _check_field(spec, getattr(self, name))
        if self.error_handler is not None and not callable(self.error_handler):
            raise ConfigurationError(f"error_handler={self.error_handler!r}: must be callable or None")
        prop = self.PROPERTY_NAMES

        for name in ("term_buffer_length", "ipc_term_buffer_length", "file_page_size"):
            if not _is_power_of_two(getattr(self, name)):
                raise _err(prop[name], getattr(self, name), "must be a power of 2")
        for name in ("mtu_length", "ipc_mtu_length"):
            if getattr(self, name) % FRAME_ALIGNMENT:
                raise _err(prop[name], getattr(self, name), f"must be a multiple of {FRAME_ALIGNMENT}")
        for name, trailer in (
            ("conductor_buffer_length", RING_BUFFER_TRAILER_LENGTH),
            ("clients_buffer_length", BROADCAST_BUFFER_TRAILER_LENGTH),
        ):
            if not _is_power_of_two(getattr(self, name) - trailer):
                raise _err(prop[name], getattr(self, name), f"capacity (length - {trailer}) must be a power of 2")
        if self.cnc_file_length() > INT32_MAX:
            raise _err(
                prop["counters_buffer_length"],
                self.counters_buffer_length,
                f"CnC file length {self.cnc_file_length()} exceeds {INT32_MAX}",
            )
        if self.publication_unblock_timeout_ns <= self.client_liveness_timeout_ns:
            raise _err(
                prop["publication_unblock_timeout_ns"],
                self.publication_unblock_timeout_ns,
                f"must be greater than {prop['client_liveness_timeout_ns']}={self.client_liveness_timeout_ns}",
            )
        if self.client_liveness_timeout_ns <= self.timer_interval_ns:
            raise _err(
                prop["client_liveness_timeout_ns"],
                self.client_liveness_timeout_ns,
                f"must be greater than {prop['timer_interval_ns']}={self.timer_interval_ns}",
            )
        untethered = ["untethered_window_limit_timeout_ns", "untethered_resting_timeout_ns"]
        if self.untethered_linger_timeout_ns != -1:
            untethered.append("untethered_linger_timeout_ns")
        for name in untethered:
            if getattr(self, name) <= self.timer_interval_ns:
                raise _err(
                    prop[name],
                    getattr(self, name),
                    f"must be greater than {prop['timer_interval_ns']}={self.timer_interval_ns}",
                )
        if self.nak_unicast_delay_ns * self.nak_unicast_retry_delay_ratio > INT64_MAX:
            raise _err(
                prop["nak_unicast_retry_delay_ratio"],
                self.nak_unicast_retry_delay_ratio,
                f"times {prop['nak_unicast_delay_ns']}={self.nak_unicast_delay_ns} exceeds 2^63-1",
            )
        if self.resolver_interface is not None and not self.resolver_name:
            raise _err(
                prop["resolver_interface"],
                self.resolver_interface,
                f"requires {prop['resolver_name']} to be set",
            )
        if self.resolver_name is not None and len(self.resolver_name.encode("utf-8")) > MAX_RESOLVER_NAME_LENGTH:
            raise _err(prop["resolver_name"], self.resolver_name, f"longer than {MAX_RESOLVER_NAME_LENGTH} bytes")
        if self.name_resolver_supplier == "driver" and self.resolver_interface is None:
            raise _err(
                prop["name_resolver_supplier"],
                self.name_resolver_supplier,
                f"requires {prop['resolver_interface']} (and {prop['resolver_name']}) to be set",
            )
        if self.resolver_bootstrap_neighbor is not None:
            neighbors = self.resolver_bootstrap_neighbor.split(",")
            if len(neighbors) > MAX_BOOTSTRAP_NEIGHBORS:
                raise _err(
                    prop["resolver_bootstrap_neighbor"],
                    self.resolver_bootstrap_neighbor,
                    f"at most {MAX_BOOTSTRAP_NEIGHBORS} neighbors",
                )
            for neighbor in neighbors:
                try:
                    parse_endpoint(neighbor.strip(), prop["resolver_bootstrap_neighbor"])
                except ValueError as e:
                    raise ConfigurationError(str(e)) from None
        if self.resolver_interface is not None:
            try:
                interface = parse_interface(self.resolver_interface, prop["resolver_interface"])
            except ValueError as e:
                raise ConfigurationError(str(e)) from None
            if interface.host is None:
                raise _err(prop["resolver_interface"], self.resolver_interface, "must be host[:port], not an interface name")
        if self.name_resolver is not None and not callable(self.name_resolver):
            raise ConfigurationError(f"name_resolver={self.name_resolver!r}: must be callable or None")

    def with_loss(self, rate: float, seed: int = 0, types: str | Sequence[str] = "data") -> DriverContext:
        """A copy that drops received datagrams of ``types`` (``data``, ``setup``, ``sm``,
        ``nak``, ...) with probability ``rate`` using generator ``seed``: the C driver's
        ``loss`` interceptor settings, so it acts on both the sending side (SM, NAK) and the
        receiving side (DATA, SETUP) of this driver.  See :mod:`aeronpy.driver.presets`."""
        props = loss_properties(rate, seed, types)
        copy = self.replace(
            udp_channel_incoming_interceptors=props[self.PROPERTY_NAMES["udp_channel_incoming_interceptors"]],
            udp_channel_transport_bindings_loss_args=props[
                self.PROPERTY_NAMES["udp_channel_transport_bindings_loss_args"]
            ],
        )
        copy.validate()
        return copy

    def loss_interceptor(self) -> LossInterceptor | None:
        """A new ``loss`` interceptor when ``udp_channel_incoming_interceptors`` lists it."""
        prop = self.PROPERTY_NAMES
        if not loss_enabled(self.udp_channel_incoming_interceptors, prop["udp_channel_incoming_interceptors"]):
            return None
        params = parse_loss_args(
            self.udp_channel_transport_bindings_loss_args, prop["udp_channel_transport_bindings_loss_args"]
        )
        return LossInterceptor.from_params(params)

    def cnc_file_length(self) -> int:
        """Length of ``cnc.dat`` for this configuration (page aligned)."""
        data = (
            CNC_METADATA_LENGTH
            + self.conductor_buffer_length
            + self.clients_buffer_length
            + self.counters_buffer_length * (COUNTERS_METADATA_MULTIPLE + 1)
            + self.error_buffer_length
        )
        page = self.file_page_size
        return (data + page - 1) // page * page if page > 0 else data

    def cnc_file(self) -> str:
        """``<aeron_dir>/cnc.dat``."""
        return os.path.join(self.aeron_dir, "cnc.dat")

    def loss_report_file(self) -> str:
        """``<aeron_dir>/loss-report.dat``."""
        return os.path.join(self.aeron_dir, "loss-report.dat")

    def publications_dir(self) -> str:
        """``<aeron_dir>/publications`` (network and IPC publication logs)."""
        return os.path.join(self.aeron_dir, "publications")

    def images_dir(self) -> str:
        """``<aeron_dir>/images`` (image logs)."""
        return os.path.join(self.aeron_dir, "images")

    def idle_strategy(self, agent: str) -> tuple[str, str | None]:
        """``(name, init_args)`` for ``conductor``, ``sender``, ``receiver``,
        ``shared_network``, ``shared`` or ``native_resource_agent``."""
        name: str = getattr(self, f"{agent}_idle_strategy")
        args: str | None = getattr(self, f"{agent}_idle_strategy_init_args")
        return name, args

    def as_properties(self) -> dict[str, str]:
        """Every setting as ``{property: text}`` in Aeron syntax (unset values omitted)."""
        result: dict[str, str] = {}
        for name, spec in _SPECS.items():
            value = getattr(self, name)
            if value is None or (spec.kind == "duration" and value < 0):
                continue  # unset (e.g. untethered linger -1)
            if spec.kind == "bool":
                result[spec.prop] = "true" if value else "false"
            elif spec.kind == "size":
                result[spec.prop] = format_size(value)
            elif spec.kind == "duration":
                result[spec.prop] = format_duration_ns(value)
            elif spec.kind == "mode":
                result[spec.prop] = f"0{value:o}"
            elif isinstance(value, Enum):
                result[spec.prop] = str(value.value)
            elif isinstance(value, tuple):
                result[spec.prop] = " ".join(str(v) for v in value)
            else:
                result[spec.prop] = str(value)
        return result

    def replace(self, **changes: Any) -> DriverContext:
        """Return a copy with ``changes`` applied (not validated)."""
        return dataclasses.replace(self, **changes)


def _err(prop: str, value: object, reason: str) -> ConfigurationError:
    return ConfigurationError(f"{prop}={value}: {reason}")


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def _check_field(spec: _Spec, value: Any) -> None:
    if value is None:
        if not spec.nullable:
            raise _err(spec.prop, value, "must be set")
        return
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise _err(spec.prop, value, "must be a bool")
        return
    if spec.kind == "mode":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0o777:
            raise _err(spec.prop, value, "must be permission bits 0..0o777 (e.g. 0o700)")
        return
    if spec.kind == "str":
        if not isinstance(value, str):
            raise _err(spec.prop, value, "must be a string")
        spec.parse(value, spec.prop)  # re-check choices
        return
    if spec.kind == "other":
        if spec.parse is _parse_threading_mode and not isinstance(value, ThreadingMode):
            raise _err(spec.prop, value, "must be a ThreadingMode")
        if isinstance(value, tuple):
            _parse_port_range(" ".join(str(v) for v in value), spec.prop)
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise _err(spec.prop, value, "must be an int")
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
        lo = "-inf" if spec.low is None else spec.low
        hi = "+inf" if spec.high is None else spec.high
        raise _err(spec.prop, value, f"out of range [{lo}, {hi}]")
