"""ClusterBackup settings (cluster.md §6.4): every property by Aeron's name and default, loaded
like the other contexts (keyword arguments > ``-D`` properties > ``AERON_CLUSTER_*`` environment
> properties file > default); invalid values raise a ConfigurationError naming the property."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from aeronpy.config import PropertySpec, default_aeron_dir, load_context, parse_duration_ns, parse_int, parse_text, property_names
from aeronpy.errors import ConfigurationError, InvalidChannelError

__all__ = ["ClusterBackupContext", "SourceType", "ReplayStart", "PROPERTY_NAMES"]

MS = 1_000_000
S = 1_000_000_000


class SourceType(Enum):
    """Which members may supply the log (``aeron.cluster.backup.source.type``)."""

    ANY = "ANY"
    LEADER = "LEADER"
    FOLLOWER = "FOLLOWER"

    def is_acceptable(self, leader_member_id: int, member_id: int) -> bool:
        if self is SourceType.LEADER:
            return leader_member_id == member_id
        if self is SourceType.FOLLOWER:
            return leader_member_id != member_id
        return True


class ReplayStart(Enum):
    """Where the first live log replay starts (``cluster.backup.initial.replay.start``)."""

    BEGINNING = "BEGINNING"
    LATEST_SNAPSHOT = "LATEST_SNAPSHOT"


def _enum(kind: type[Enum]) -> Callable[[str, str], Any]:
    def parse(value: str, name: str) -> Any:
        try:
            return kind(value.strip().upper())
        except ValueError:
            raise ConfigurationError(
                f"{name}={value!r}: expected one of {', '.join(str(m.value) for m in kind)}") from None
    return parse


_SPECS: dict[str, PropertySpec] = {
    "aeron_dir": PropertySpec("aeron.dir", parse_text),
    "cluster_id": PropertySpec("aeron.cluster.id", parse_int),
    "cluster_consensus_endpoints": PropertySpec("aeron.cluster.consensus.endpoints", parse_text),
    "consensus_channel": PropertySpec("aeron.cluster.consensus.channel", parse_text),
    "consensus_stream_id": PropertySpec("aeron.cluster.consensus.stream.id", parse_int),
    "log_stream_id": PropertySpec("aeron.cluster.log.stream.id", parse_int),
    "catchup_endpoint": PropertySpec("aeron.cluster.backup.catchup.endpoint", parse_text),
    "catchup_channel": PropertySpec("aeron.cluster.backup.catchup.channel", parse_text),
    "backup_interval_ns": PropertySpec("aeron.cluster.backup.interval", parse_duration_ns),
    "backup_response_timeout_ns": PropertySpec("aeron.cluster.backup.response.timeout", parse_duration_ns),
    "backup_progress_timeout_ns": PropertySpec("aeron.cluster.backup.progress.timeout", parse_duration_ns),
    "cool_down_interval_ns": PropertySpec("aeron.cluster.backup.cool.down.interval", parse_duration_ns),
    "source_type": PropertySpec("aeron.cluster.backup.source.type", _enum(SourceType)),
    "initial_replay_start": PropertySpec("cluster.backup.initial.replay.start", _enum(ReplayStart)),
    "cluster_dir": PropertySpec("aeron.cluster.dir", parse_text),
    "cluster_archive_control_channel": PropertySpec("aeron.archive.control.channel", parse_text),
    "cluster_archive_control_stream_id": PropertySpec("aeron.archive.control.stream.id", parse_int),
    "cluster_archive_response_channel": PropertySpec("aeron.archive.control.response.channel", parse_text),
    "archive_control_channel": PropertySpec("aeron.archive.local.control.channel", parse_text),
    "archive_control_stream_id": PropertySpec("aeron.archive.local.control.stream.id", parse_int),
    "replication_progress_timeout_ns": PropertySpec("aeron.cluster.replication.progress.timeout", parse_duration_ns),
    "idle_strategy": PropertySpec("aeron.cluster.idle.strategy", parse_text),
    "file_sync_level": PropertySpec("aeron.cluster.file.sync.level", parse_int),
}

PROPERTY_NAMES: Mapping[str, str] = property_names(_SPECS)


@dataclass
class ClusterBackupContext:
    """Settings of one ClusterBackup; field ``x`` is property ``PROPERTY_NAMES['x']``.

    ``consensus_channel`` is where the backup receives BackupResponses (its own endpoint);
    ``cluster_archive_*`` reach the members' archives (the endpoint is set per member);
    ``archive_*`` is the backup's own archive.  Code-only: ``aeron``, ``epoch_clock`` (ms),
    ``error_handler``, ``events_listener`` (a
    :class:`~aeronpy.cluster.backup.events.ClusterBackupEventsListener`)."""

    aeron_dir: str = field(default_factory=lambda: os.environ.get("AERON_DIR") or default_aeron_dir())
    cluster_id: int = 0
    cluster_consensus_endpoints: str = ""
    consensus_channel: str = "aeron:udp?endpoint=localhost:9877"
    consensus_stream_id: int = 108
    log_stream_id: int = 100
    catchup_endpoint: str = ""
    catchup_channel: str = "aeron:udp?alias=backup|so-sndbuf=512k|so-rcvbuf=512k|rcv-wnd=512k"
    backup_interval_ns: int = 3600 * S
    backup_response_timeout_ns: int = 5 * S
    backup_progress_timeout_ns: int = 10 * S
    cool_down_interval_ns: int = 30 * S
    source_type: SourceType = SourceType.ANY
    initial_replay_start: ReplayStart = ReplayStart.BEGINNING
    cluster_dir: str = "aeron-cluster"
    cluster_archive_control_channel: str = "aeron:udp?term-length=64k"
    cluster_archive_control_stream_id: int = 10
    cluster_archive_response_channel: str = "aeron:udp?endpoint=localhost:0"
    archive_control_channel: str = "aeron:ipc?term-length=64k"
    archive_control_stream_id: int = 10
    replication_progress_timeout_ns: int = 10 * S
    idle_strategy: str = "backoff"
    file_sync_level: int = 0
    aeron: Any = None
    epoch_clock: Callable[[], int] | None = None
    error_handler: Callable[[BaseException], None] | None = None
    events_listener: Any = None

    PROPERTY_NAMES: ClassVar[Mapping[str, str]] = PROPERTY_NAMES

    @classmethod
    def from_properties(cls, properties: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None,
                        properties_file: str | None = None, **overrides: Any) -> ClusterBackupContext:
        """A validated context (see the module doc for the precedence)."""
        return load_context(cls, _SPECS, properties, env, properties_file, overrides)

    @property
    def consensus_endpoints(self) -> list[str]:
        return [e.strip() for e in self.cluster_consensus_endpoints.split(",") if e.strip()]

    @property
    def archive_response_stream_id(self) -> int:
        """Response stream of the backup's clients of its own archive (as the CM's)."""
        return self.cluster_id * 100 + 120

    def validate(self) -> None:
        """Required settings, channels, ranges."""
        from aeronpy.cluster.consensus.channels import parse_channel

        p = PROPERTY_NAMES
        if not self.consensus_endpoints:
            raise ConfigurationError(f"{p['cluster_consensus_endpoints']} must list the members' consensus "
                                     "endpoints (host:port,host:port,...)")
        for endpoint in self.consensus_endpoints:
            host, sep, port = endpoint.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ConfigurationError(f"{p['cluster_consensus_endpoints']}: {endpoint!r} is not host:port")
        if not self.catchup_endpoint:
            raise ConfigurationError(f"{p['catchup_endpoint']} must be set (host:port the live log is sent to)")
        host, sep, port = self.catchup_endpoint.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) == 0:
            raise ConfigurationError(f"{p['catchup_endpoint']}={self.catchup_endpoint}: must be host:port with a "
                                     "fixed port (aeronpy does not resolve a :0 wildcard for the live log)")
        for name in ("consensus_channel", "catchup_channel", "cluster_archive_control_channel",
                     "cluster_archive_response_channel", "archive_control_channel"):
            value = getattr(self, name)
            try:
                parse_channel(value)
            except InvalidChannelError as e:
                raise ConfigurationError(f"{p[name]}={value}: {e}") from None
        if "endpoint" not in parse_channel(self.consensus_channel).params:
            raise ConfigurationError(f"{p['consensus_channel']}={self.consensus_channel}: needs the backup's "
                                     "endpoint (the cluster answers there)")
        for name in ("backup_interval_ns", "backup_response_timeout_ns", "backup_progress_timeout_ns",
                     "cool_down_interval_ns", "replication_progress_timeout_ns"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{p[name]}: must be > 0")
        if not 0 <= self.file_sync_level <= 2:
            raise ConfigurationError(f"{p['file_sync_level']}={self.file_sync_level}: must be 0, 1 or 2")
        from aeronpy.concurrent.idle_strategy import idle_strategy_from_name

        try:
            idle_strategy_from_name(self.idle_strategy)
        except ConfigurationError as e:
            raise ConfigurationError(f"{p['idle_strategy']}={self.idle_strategy}: {e}") from None
