"""Consensus module settings: every ``aeron.cluster.*`` property of cluster.md §6.1 by name and
default, declared as data and loaded like the archive's (keyword arguments > ``-D`` properties >
``AERON_CLUSTER_*`` environment > properties file > default).  Invalid values raise a
:class:`~aeronpy.errors.ConfigurationError` naming the property."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aeronpy.cluster.members import ClusterMember, check_member_endpoints, find_member, parse_members
from aeronpy.concurrent.idle_strategy import parse_idle_strategy_name
from aeronpy.config import (
    PropertySpec,
    check_bounded_fields,
    default_aeron_dir,
    duration_spec,
    int_spec,
    load_context,
    parse_bool,
    parse_stripped_text,
    property_names,
    size_spec,
)
from aeronpy.errors import ConfigurationError, InvalidChannelError

__all__ = ["ConsensusModuleContext", "PROPERTY_NAMES", "SLOW_TICK_NS"]

KIB = 1024
MIB = 1024 * KIB
MS = 1_000_000
S = 1_000_000_000
#: Fixed period of the CM's "slow tick" work (cluster.md §4.1).
SLOW_TICK_NS = 10 * MS

_WHEEL = "io.aeron.cluster.WheelTimerServiceSupplier"
_HEAP = "io.aeron.cluster.PriorityHeapTimerServiceSupplier"


_text = parse_stripped_text

_SPECS: dict[str, PropertySpec] = {
    "aeron_dir": PropertySpec("aeron.dir", _text),
    "cluster_id": int_spec("aeron.cluster.id"),
    "member_id": int_spec("aeron.cluster.member.id", 0),
    "cluster_members": PropertySpec("aeron.cluster.members", _text),
    "member_endpoints": PropertySpec("aeron.cluster.member.endpoints", _text),
    "appointed_leader_id": int_spec("aeron.cluster.appointed.leader.id", -1),
    "consensus_endpoints": PropertySpec("aeron.cluster.consensus.endpoints", _text),
    "ingress_channel": PropertySpec("aeron.cluster.ingress.channel", _text),
    "ingress_stream_id": int_spec("aeron.cluster.ingress.stream.id"),
    "ingress_fragment_limit": int_spec("aeron.cluster.ingress.fragment.limit", 1),
    "ingress_ipc_allowed": PropertySpec("aeron.cluster.ingress.ipc.allowed", parse_bool),
    "egress_channel": PropertySpec("aeron.cluster.egress.channel", _text),
    "log_channel": PropertySpec("aeron.cluster.log.channel", _text),
    "log_stream_id": int_spec("aeron.cluster.log.stream.id"),
    "log_control_enable": PropertySpec("aeron.cluster.log.control.enable", parse_bool),
    "log_fragment_limit": int_spec("aeron.cluster.log.fragment.limit", 1),
    "consensus_channel": PropertySpec("aeron.cluster.consensus.channel", _text),
    "consensus_stream_id": int_spec("aeron.cluster.consensus.stream.id"),
    "consensus_control_enable": PropertySpec("aeron.cluster.consensus.control.enable", parse_bool),
    "replication_channel": PropertySpec("aeron.cluster.replication.channel", _text),
    "follower_catchup_channel": PropertySpec("aeron.cluster.follower.catchup.channel", _text),
    "leader_archive_control_channel": PropertySpec("aeron.cluster.leader.archive.control.channel", _text),
    "control_channel": PropertySpec("aeron.cluster.control.channel", _text),
    "service_stream_id": int_spec("aeron.cluster.service.stream.id"),
    "consensus_module_stream_id": int_spec("aeron.cluster.consensus.module.stream.id"),
    "replay_channel": PropertySpec("aeron.cluster.replay.channel", _text),
    "replay_stream_id": int_spec("aeron.cluster.replay.stream.id"),
    "snapshot_channel": PropertySpec("aeron.cluster.snapshot.channel", _text),
    "snapshot_stream_id": int_spec("aeron.cluster.snapshot.stream.id"),
    "service_count": int_spec("aeron.cluster.service.count", 0, 10),
    "max_sessions": int_spec("aeron.cluster.max.sessions", 0),
    "session_timeout_ns": duration_spec("aeron.cluster.session.timeout", 1),
    "leader_heartbeat_timeout_ns": duration_spec("aeron.cluster.leader.heartbeat.timeout", 1),
    "leader_heartbeat_interval_ns": duration_spec("aeron.cluster.leader.heartbeat.interval", 1),
    "startup_canvass_timeout_ns": duration_spec("aeron.cluster.startup.canvass.timeout", 1),
    "election_timeout_ns": duration_spec("aeron.cluster.election.timeout", 1),
    "election_status_interval_ns": duration_spec("aeron.cluster.election.status.interval", 1),
    "termination_timeout_ns": duration_spec("aeron.cluster.termination.timeout", 1),
    "cluster_dir": PropertySpec("aeron.cluster.dir", _text),
    "services_dir": PropertySpec("aeron.cluster.services.dir", _text),
    "mark_file_dir": PropertySpec("aeron.cluster.mark.file.dir", _text),
    "error_buffer_length": size_spec("aeron.cluster.error.buffer.length", MIB),
    "file_sync_level": int_spec("aeron.cluster.file.sync.level", 0, 2),
    "timer_service_supplier": PropertySpec("aeron.cluster.timer.service.supplier", _text),
    "wheel_tick_resolution_ns": duration_spec("aeron.cluster.wheel.tick.resolution", 1),
    "ticks_per_wheel": int_spec("aeron.cluster.ticks.per.wheel", 1),
    "cluster_clock": PropertySpec("aeron.cluster.clock", _text),
    "authenticator_supplier": PropertySpec("aeron.cluster.authenticator.supplier", _text),
    "authorisation_service_supplier": PropertySpec("aeron.cluster.authorisation.service.supplier", _text),
    "cycle_threshold_ns": duration_spec("aeron.cluster.cycle.threshold"),
    "total_snapshot_threshold_ns": duration_spec("aeron.cluster.total.snapshot.threshold"),
    "accept_standby_snapshots": PropertySpec("aeron.cluster.accept.standby.snapshots", parse_bool),
    "standby_snapshot_notification_delay_ns": duration_spec("aeron.cluster.standby.snapshot.notification.processing.delay"),
    "replication_progress_timeout_ns": duration_spec("aeron.cluster.replication.progress.timeout", 1),
    "replication_progress_interval_ns": duration_spec("aeron.cluster.replication.progress.interval", 1),
    "agent_role_name": PropertySpec("aeron.cluster.consensus.module.agent.role.name", _text),
    "extension": PropertySpec("aeron.cluster.consensus.module.extension", _text),
    "idle_strategy": PropertySpec("aeron.cluster.idle.strategy", _text),
    "archive_control_channel": PropertySpec("aeron.archive.local.control.channel", _text),
    "archive_control_stream_id": int_spec("aeron.archive.local.control.stream.id"),
}

PROPERTY_NAMES: Mapping[str, str] = property_names(_SPECS)


@dataclass
class ConsensusModuleContext:
    """Settings of one consensus module; field ``x`` is property ``PROPERTY_NAMES['x']``.

    Code-only: ``app_version`` (semantic version int), ``delete_dir_on_start``, the clocks
    (``epoch_clock`` ms for cluster time, ``nano_clock`` ns), ``aeron`` (a client to use),
    ``error_handler``, ``authenticator`` (object with ``on_connect_request(session_id,
    credentials, now_ms)`` / ``on_connected_session(proxy, now_ms)``; default accepts all) and
    ``termination_hook`` (called once the module stops after SHUTDOWN/ABORT),
    ``consensus_module_extension`` (an extension instance, instead of naming its class in
    ``aeron.cluster.consensus.module.extension``)."""

    aeron_dir: str = field(default_factory=lambda: os.environ.get("AERON_DIR") or default_aeron_dir())
    cluster_id: int = 0
    member_id: int = 0
    cluster_members: str = ""
    member_endpoints: str = ""
    appointed_leader_id: int = -1
    consensus_endpoints: str = ""
    ingress_channel: str | None = None
    ingress_stream_id: int = 101
    ingress_fragment_limit: int = 50
    ingress_ipc_allowed: bool = False
    egress_channel: str | None = None
    log_channel: str = "aeron:udp?term-length=64m"
    log_stream_id: int = 100
    log_control_enable: bool = True
    log_fragment_limit: int = 50
    consensus_channel: str = "aeron:udp"
    consensus_stream_id: int = 108
    consensus_control_enable: bool = True
    replication_channel: str | None = None
    follower_catchup_channel: str = "aeron:udp"
    leader_archive_control_channel: str = "aeron:udp?term-length=64k"
    control_channel: str = "aeron:ipc?term-length=128k"
    service_stream_id: int = 104
    consensus_module_stream_id: int = 105
    replay_channel: str = "aeron:ipc"
    replay_stream_id: int = 103
    snapshot_channel: str = "aeron:ipc?alias=snapshot"
    snapshot_stream_id: int = 107
    service_count: int = 1
    max_sessions: int = 10
    session_timeout_ns: int = 10 * S
    leader_heartbeat_timeout_ns: int = 10 * S
    leader_heartbeat_interval_ns: int = 200 * MS
    startup_canvass_timeout_ns: int = 60 * S
    election_timeout_ns: int = 1 * S
    election_status_interval_ns: int = 100 * MS
    termination_timeout_ns: int = 10 * S
    cluster_dir: str = "aeron-cluster"
    services_dir: str | None = None
    mark_file_dir: str | None = None
    error_buffer_length: int = MIB
    file_sync_level: int = 0
    timer_service_supplier: str = _WHEEL
    wheel_tick_resolution_ns: int = 8 * MS
    ticks_per_wheel: int = 128
    cluster_clock: str = "io.aeron.cluster.MillisecondClusterClock"
    authenticator_supplier: str = "io.aeron.security.DefaultAuthenticatorSupplier"
    authorisation_service_supplier: str = "io.aeron.security.DefaultAuthorisationService"
    cycle_threshold_ns: int = 100 * MS
    total_snapshot_threshold_ns: int = 1 * S
    accept_standby_snapshots: bool = False
    standby_snapshot_notification_delay_ns: int = 0
    replication_progress_timeout_ns: int = 10 * S
    replication_progress_interval_ns: int | None = None
    agent_role_name: str = ""
    extension: str = ""
    idle_strategy: str = "backoff"
    archive_control_channel: str = "aeron:ipc?term-length=64k"
    archive_control_stream_id: int = 10
    app_version: int = 1  # 0.0.1
    delete_dir_on_start: bool = False
    epoch_clock: Callable[[], int] | None = None
    nano_clock: Callable[[], int] | None = None
    aeron: Any = None
    error_handler: Callable[[BaseException], None] | None = None
    authenticator: Any = None
    authorisation_service: Callable[[int, int, int, bytes], bool] | None = None
    termination_hook: Callable[[], None] | None = None
    consensus_module_extension: Any = None

    PROPERTY_NAMES: ClassVar[Mapping[str, str]] = PROPERTY_NAMES

    @classmethod
    def from_properties(
        cls,
        properties: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        properties_file: str | None = None,
        **overrides: Any,
    ) -> ConsensusModuleContext:
        """A validated context: each field from ``overrides``, else its property in
        ``properties``, ``env`` (default ``os.environ``; ``AERON_CLUSTER_MEMBER_ID`` ...) or
        ``properties_file``, else Aeron's default."""
        return load_context(cls, _SPECS, properties, env, properties_file, overrides)

    # -- derived ---------------------------------------------------------------------------

    @property
    def members(self) -> list[ClusterMember]:
        """A fresh parse of ``cluster_members`` (each caller gets its own run-time state)."""
        return parse_members(self.cluster_members)

    @property
    def effective_services_dir(self) -> str:
        return self.services_dir or self.cluster_dir

    @property
    def effective_mark_file_dir(self) -> str:
        return self.mark_file_dir or self.cluster_dir

    @property
    def archive_response_stream_id(self) -> int:
        """``clusterId * 100 + 100 + 20`` (cluster.md §1.2)."""
        return self.cluster_id * 100 + 120

    @property
    def wheel_tick_resolution_ms(self) -> int:
        """The wheel tick in cluster time units (ms), rounded up to a power of two."""
        ms = max(1, -(-self.wheel_tick_resolution_ns // MS))
        return 1 << (ms - 1).bit_length()

    def validate(self) -> None:
        """Types, ranges and the cross-setting rules of cluster.md §6.1."""
        p = PROPERTY_NAMES
        check_bounded_fields(_SPECS, self)
        members = parse_members(self.cluster_members)
        if find_member(members, self.member_id) is None:
            raise ConfigurationError(
                f"{p['member_id']}={self.member_id} is not one of the ids in {p['cluster_members']}"
            )
        check_member_endpoints(members, self.member_id, self.member_endpoints)
        if self.appointed_leader_id != -1 and find_member(members, self.appointed_leader_id) is None:
            raise ConfigurationError(f"{p['appointed_leader_id']}={self.appointed_leader_id} is not a member")
        if not self.ingress_channel:
            raise ConfigurationError(f"{p['ingress_channel']} must be set (e.g. aeron:udp?term-length=128k)")
        if self.replication_channel is None or not self.replication_channel:
            raise ConfigurationError(f"{p['replication_channel']} must be set (e.g. aeron:udp?endpoint=localhost:0)")
        from aeronpy.cluster.consensus.channels import parse_channel

        for name in ("ingress_channel", "egress_channel", "log_channel", "consensus_channel",
                     "replication_channel", "follower_catchup_channel", "leader_archive_control_channel",
                     "control_channel", "replay_channel", "snapshot_channel", "archive_control_channel"):
            value = getattr(self, name)
            if value:
                try:
                    parse_channel(value)
                except InvalidChannelError as e:
                    raise ConfigurationError(f"{p[name]}={value}: {e}") from None
        log = parse_channel(self.log_channel)
        for forbidden in ("init-term-id", "term-id", "term-offset"):
            if forbidden in log.params:
                raise ConfigurationError(f"{p['log_channel']}={self.log_channel}: must not set {forbidden}")
        if not self.archive_control_channel.startswith("aeron:ipc"):
            raise ConfigurationError(f"{p['archive_control_channel']}={self.archive_control_channel}: must be IPC")
        has_extension = bool(self.extension) or self.consensus_module_extension is not None
        if self.service_count == 0 and not has_extension:
            raise ConfigurationError(f"{p['service_count']}=0 requires {p['extension']}")
        if has_extension and self.service_count != 0:
            raise ConfigurationError(
                f"{p['service_count']}={self.service_count}: must be 0 when {p['extension']} is set (as Aeron)")
        if self.startup_canvass_timeout_ns < 2 * self.leader_heartbeat_timeout_ns:
            raise ConfigurationError(
                f"{p['startup_canvass_timeout_ns']}={self.startup_canvass_timeout_ns}ns must be >= 2 x "
                f"{p['leader_heartbeat_timeout_ns']}={self.leader_heartbeat_timeout_ns}ns"
            )
        if self.leader_heartbeat_interval_ns >= self.leader_heartbeat_timeout_ns:
            raise ConfigurationError(
                f"{p['leader_heartbeat_interval_ns']} must be less than {p['leader_heartbeat_timeout_ns']}"
            )
        if self.timer_service_supplier not in (_WHEEL, _HEAP, "wheel", "heap"):
            raise ConfigurationError(
                f"{p['timer_service_supplier']}={self.timer_service_supplier}: must be {_WHEEL} or {_HEAP}"
            )
        if self.cluster_clock not in ("io.aeron.cluster.MillisecondClusterClock", "millis"):
            raise ConfigurationError(
                f"{p['cluster_clock']}={self.cluster_clock}: only io.aeron.cluster.MillisecondClusterClock is supported"
            )
        if self.ticks_per_wheel & (self.ticks_per_wheel - 1):
            raise ConfigurationError(f"{p['ticks_per_wheel']}={self.ticks_per_wheel}: must be a power of 2")
        parse_idle_strategy_name(self.idle_strategy, p["idle_strategy"])
