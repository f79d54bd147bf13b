"""Archive server configuration: every ``aeron.archive.*`` property by Aeron's name and default
(archive.md §8.1), declared as data and loaded with the same precedence as the driver's
settings: keyword arguments > ``-D`` properties > ``AERON_ARCHIVE_*`` environment > properties
file > default.  Invalid values raise :class:`~aeronpy.errors.ConfigurationError` naming the
property."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from aeronpy.concurrent.idle_strategy import parse_idle_strategy_name
from aeronpy.config import (
    INT32_MAX,
    INT64_MAX,
    INT64_MIN,
    PropertySpec,
    check_bounded_fields,
    default_aeron_dir,
    duration_spec,
    int_spec,
    load_context,
    parse_bool,
    parse_text,
    property_names,
    size_spec,
)
from aeronpy.errors import ConfigurationError, InvalidChannelError

__all__ = ["ArchiveContext", "ArchiveThreadingMode", "PROPERTY_NAMES"]

KIB = 1024
MIB = 1024 * 1024
GIB = 1024 * MIB
MS = 1_000_000
S = 1_000_000_000


class ArchiveThreadingMode(str, Enum):
    """How conductor, recorder and replayer map onto threads."""

    DEDICATED = "DEDICATED"
    SHARED = "SHARED"
    INVOKER = "INVOKER"


def _mode(value: str, name: str) -> ArchiveThreadingMode:
    try:
        return ArchiveThreadingMode(value.strip().upper())
    except ValueError:
        raise ConfigurationError(f"{name}={value}: must be one of DEDICATED, SHARED, INVOKER") from None


_text = parse_text


def _checksum(value: str, name: str) -> str:
    from aeronpy.archive.catalog import checksum_function

    try:
        checksum_function(value)
    except ValueError:
        raise ConfigurationError(f"{name}={value}: must be CRC-32 or CRC-32C (or their Java class names)") from None
    return value.strip()


_SPECS: dict[str, PropertySpec] = {
    "aeron_dir": PropertySpec("aeron.dir", _text),
    "archive_dir": PropertySpec("aeron.archive.dir", _text),
    "mark_file_dir": PropertySpec("aeron.archive.mark.file.dir", _text),
    "delete_archive_on_start": PropertySpec("aeron.archive.dir.delete.on.start", parse_bool),
    "control_channel": PropertySpec("aeron.archive.control.channel", _text),
    "control_channel_enabled": PropertySpec("aeron.archive.control.channel.enabled", parse_bool),
    "control_stream_id": int_spec("aeron.archive.control.stream.id", -(1 << 31), INT32_MAX),
    "local_control_channel": PropertySpec("aeron.archive.local.control.channel", _text),
    "local_control_stream_id": int_spec("aeron.archive.local.control.stream.id", -(1 << 31), INT32_MAX),
    "control_term_buffer_sparse": PropertySpec("aeron.archive.control.term.buffer.sparse", parse_bool),
    "control_term_buffer_length": size_spec("aeron.archive.control.term.buffer.length", 64 * KIB, GIB),
    "control_mtu_length": size_spec("aeron.archive.control.mtu.length", 64, 65504),
    "recording_events_enabled": PropertySpec("aeron.archive.recording.events.enabled", parse_bool),
    "recording_events_channel": PropertySpec("aeron.archive.recording.events.channel", _text),
    "recording_events_stream_id": int_spec("aeron.archive.recording.events.stream.id", -(1 << 31), INT32_MAX),
    "replication_channel": PropertySpec("aeron.archive.replication.channel", _text),
    "segment_file_length": size_spec("aeron.archive.segment.file.length", 64 * KIB, GIB),
    "file_io_max_length": size_spec("aeron.archive.file.io.max.length", 64 * KIB, GIB),
    "file_sync_level": int_spec("aeron.archive.file.sync.level", 0, 2),
    "catalog_file_sync_level": int_spec("aeron.archive.catalog.file.sync.level", 0, 2),
    "catalog_capacity": size_spec("aeron.archive.catalog.capacity", 32, INT32_MAX),
    "max_catalog_entries": int_spec("aeron.archive.max.catalog.entries", 0, INT32_MAX),
    "low_storage_space_threshold": size_spec("aeron.archive.low.storage.space.threshold", 0, INT64_MAX),
    "threading_mode": PropertySpec("aeron.archive.threading.mode", _mode),
    "idle_strategy": PropertySpec("aeron.archive.idle.strategy", parse_idle_strategy_name),
    "recorder_idle_strategy": PropertySpec("aeron.archive.recorder.idle.strategy", parse_idle_strategy_name),
    "replayer_idle_strategy": PropertySpec("aeron.archive.replayer.idle.strategy", parse_idle_strategy_name),
    "max_concurrent_recordings": int_spec("aeron.archive.max.concurrent.recordings", 1, INT32_MAX),
    "max_concurrent_replays": int_spec("aeron.archive.max.concurrent.replays", 1, INT32_MAX),
    "connect_timeout_ns": duration_spec("aeron.archive.connect.timeout", 1),
    "session_liveness_check_interval_ns": duration_spec("aeron.archive.session.liveness.check.interval", 1),
    "replay_linger_timeout_ns": duration_spec("aeron.archive.replay.linger.timeout"),
    "conductor_cycle_threshold_ns": duration_spec("aeron.archive.conductor.cycle.threshold"),
    "recorder_cycle_threshold_ns": duration_spec("aeron.archive.recorder.cycle.threshold"),
    "replayer_cycle_threshold_ns": duration_spec("aeron.archive.replayer.cycle.threshold"),
    "error_buffer_length": size_spec("aeron.archive.error.buffer.length", MIB, INT32_MAX),
    "record_checksum": PropertySpec("aeron.archive.record.checksum", _checksum),
    "replay_checksum": PropertySpec("aeron.archive.replay.checksum", _checksum),
    "archive_id": int_spec("aeron.archive.id", INT64_MIN, INT64_MAX),
    "authenticator_supplier": PropertySpec("aeron.archive.authenticator.supplier", _text),
    "authorisation_service_supplier": PropertySpec("aeron.archive.authorisation.service.supplier", _text),
    "thread_naming": PropertySpec("aeron.thread.naming", _text),
    "message_timeout_ns": duration_spec("aeron.archive.message.timeout", 1),
    "message_retry_attempts": int_spec("aeron.archive.message.retry.attempts", 1, INT32_MAX),
}

PROPERTY_NAMES: Mapping[str, str] = property_names(_SPECS)


def _is_power_of_two(v: int) -> bool:
    return v > 0 and v & (v - 1) == 0


@dataclass
class ArchiveContext:
    """Archive server settings; field ``x`` comes from property ``PROPERTY_NAMES['x']``.

    Code-only fields: ``authenticator`` (an object with the
    :class:`~aeronpy.archive.auth.Authenticator` methods; default accepts everyone),
    ``authorisation_service(schema_id, template_id, encoded_principal) -> bool`` (default allows all),
    ``error_handler`` and the clocks (``epoch_clock`` ms, ``nano_clock`` ns)."""

    aeron_dir: str = field(default_factory=lambda: os.environ.get("AERON_DIR") or default_aeron_dir())
    archive_dir: str = "aeron-archive"
    mark_file_dir: str | None = None
    delete_archive_on_start: bool = False
    control_channel: str | None = None
    control_channel_enabled: bool = True
    control_stream_id: int = 10
    local_control_channel: str = "aeron:ipc?term-length=64k"
    local_control_stream_id: int = 10
    control_term_buffer_sparse: bool = True
    control_term_buffer_length: int = 64 * KIB
    control_mtu_length: int = 1408
    recording_events_enabled: bool = False
    recording_events_channel: str | None = None
    recording_events_stream_id: int = 30
    replication_channel: str | None = None
    segment_file_length: int = 128 * MIB
    file_io_max_length: int = MIB
    file_sync_level: int = 0
    catalog_file_sync_level: int = 0
    catalog_capacity: int = MIB
    max_catalog_entries: int = 8192
    low_storage_space_threshold: int = 128 * MIB
    threading_mode: ArchiveThreadingMode = ArchiveThreadingMode.DEDICATED
    idle_strategy: str = "backoff"
    recorder_idle_strategy: str | None = None
    replayer_idle_strategy: str | None = None
    max_concurrent_recordings: int = 20
    max_concurrent_replays: int = 20
    connect_timeout_ns: int = 5 * S
    session_liveness_check_interval_ns: int = 1 * S
    replay_linger_timeout_ns: int = 5 * S
    conductor_cycle_threshold_ns: int = 100 * MS
    recorder_cycle_threshold_ns: int = 100 * MS
    replayer_cycle_threshold_ns: int = 100 * MS
    error_buffer_length: int = MIB
    record_checksum: str | None = None
    replay_checksum: str | None = None
    archive_id: int = -1
    authenticator_supplier: str = "io.aeron.security.DefaultAuthenticatorSupplier"
    authorisation_service_supplier: str = "io.aeron.security.AuthorisationService.ALLOW_ALL"
    thread_naming: str = "classic"
    message_timeout_ns: int = 10 * S
    message_retry_attempts: int = 3
    authenticator: Any = None
    authorisation_service: Callable[[int, int, bytes], bool] | None = None
    error_handler: Callable[[BaseException], None] | None = None
    epoch_clock: Callable[[], int] | None = None
    nano_clock: Callable[[], int] | None = None

    PROPERTY_NAMES: ClassVar[Mapping[str, str]] = PROPERTY_NAMES

    @classmethod
    def from_properties(
        cls,
        properties: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        properties_file: str | None = None,
        **overrides: Any,
    ) -> ArchiveContext:
        """A validated context: each field from ``overrides``, else its property in
        ``properties``, ``env`` (default ``os.environ``; ``AERON_ARCHIVE_DIR`` ...) or
        ``properties_file``, else Aeron's default."""
        return load_context(cls, _SPECS, properties, env, properties_file, overrides)

    def validate(self) -> None:
        """Check types, ranges and the cross-setting rules of archive.md §8.1."""
        p = PROPERTY_NAMES
        check_bounded_fields(_SPECS, self)
        if not isinstance(self.threading_mode, ArchiveThreadingMode):
            self.threading_mode = _mode(str(self.threading_mode), p["threading_mode"])
        for name in ("segment_file_length", "file_io_max_length", "control_term_buffer_length"):
            if not _is_power_of_two(getattr(self, name)):
                raise ConfigurationError(f"{p[name]}={getattr(self, name)}: must be a power of 2")
        if self.control_mtu_length % 32:
            raise ConfigurationError(f"{p['control_mtu_length']}={self.control_mtu_length}: must be a multiple of 32")
        if self.catalog_file_sync_level < self.file_sync_level:
            self.catalog_file_sync_level = self.file_sync_level if self.catalog_file_sync_level == 0 else (
                _raise(f"{p['catalog_file_sync_level']}={self.catalog_file_sync_level}: must be >= "
                       f"{p['file_sync_level']}={self.file_sync_level}"))
        from aeronpy.uri import ChannelUri

        if self.control_channel_enabled:
            if not self.control_channel:
                raise ConfigurationError(f"{p['control_channel']} must be set (or {p['control_channel_enabled']}=false)")
            if not self.control_channel.startswith("aeron:udp"):
                raise ConfigurationError(f"{p['control_channel']}={self.control_channel}: must be an aeron:udp channel")
        if not self.local_control_channel.startswith("aeron:ipc"):
            raise ConfigurationError(f"{p['local_control_channel']}={self.local_control_channel}: must be an IPC channel")
        for name in ("control_channel", "local_control_channel", "recording_events_channel"):
            value = getattr(self, name)
            if value:
                try:
                    ChannelUri.parse(value)
                except InvalidChannelError as e:
                    raise ConfigurationError(f"{p[name]}={value}: {e}") from None
        if self.recording_events_enabled and not self.recording_events_channel:
            raise ConfigurationError(f"{p['recording_events_channel']} must be set when recording events are enabled")
        if self.replication_channel is None:
            raise ConfigurationError(f"{p['replication_channel']} must be set (e.g. aeron:udp?endpoint=localhost:0)")
        for name in ("record_checksum", "replay_checksum"):
            if getattr(self, name):
                _checksum(getattr(self, name), p[name])
        for name in ("idle_strategy", "recorder_idle_strategy", "replayer_idle_strategy"):
            if getattr(self, name):
                parse_idle_strategy_name(getattr(self, name), p[name])
        if self.thread_naming not in ("classic", "new"):
            raise ConfigurationError(f"{p['thread_naming']}={self.thread_naming}: must be classic or new")
        if self.authorisation_service is not None and not callable(self.authorisation_service):
            raise ConfigurationError(f"authorisation_service={self.authorisation_service!r}: must be callable")
        if self.authenticator is not None:
            for method in ("on_connect_request", "on_challenge_response", "on_connected_session", "on_challenged_session"):
                if not callable(getattr(self.authenticator, method, None)):
                    raise ConfigurationError(f"authenticator={self.authenticator!r}: lacks {method}()")

    @property
    def effective_mark_file_dir(self) -> str:
        return self.mark_file_dir or self.archive_dir


def _raise(message: str) -> int:
    raise ConfigurationError(message)
