"""``ServiceContainerContext``: the clustered service container's settings (cluster.md §6.2) by
Aeron's property names and defaults, loaded like every aeronpy context: keyword arguments >
``-D`` properties > ``AERON_CLUSTER_*`` environment (``AERON_CLUSTER_SERVICE_ID`` ...) >
properties file > default.  Invalid values raise
:class:`~aeronpy.errors.ConfigurationError` naming the property."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aeronpy.cluster.codecs import major_version, semantic_version
from aeronpy.concurrent.idle_strategy import parse_idle_strategy_name
from aeronpy.config import (
    INT32_MAX,
    PropertySpec,
    check_bounds,
    default_aeron_dir,
    duration_spec,
    int_spec,
    load_context,
    parse_bool,
    parse_stripped_text,
    property_names,
    size_spec,
)
from aeronpy.errors import ConfigurationError
from aeronpy.uri import ChannelUri

__all__ = ["ServiceContainerContext", "PROPERTY_NAMES", "MAX_SERVICE_COUNT", "SNAPSHOT_TYPE_ID", "archive_response_stream_id"]

MIB = 1024 * 1024
MS = 1_000_000
S = 1_000_000_000
#: Services per member (ids 0..9).
MAX_SERVICE_COUNT = 10
#: SnapshotMarker.typeId of a service snapshot (the consensus module's is 1).
SNAPSHOT_TYPE_ID = 2


_text = parse_stripped_text

_SPECS: dict[str, PropertySpec] = {
    "aeron_dir": PropertySpec("aeron.dir", _text),
    "cluster_id": int_spec("aeron.cluster.id"),
    "service_id": int_spec("aeron.cluster.service.id", 0, MAX_SERVICE_COUNT - 1),
    "service_name": PropertySpec("aeron.cluster.service.name", _text),
    "service_class_name": PropertySpec("aeron.cluster.service.class.name", _text),
    "is_responding_service": PropertySpec("aeron.cluster.service.responder", parse_bool),
    "error_buffer_length": size_spec("aeron.cluster.service.error.buffer.length", MIB, INT32_MAX),
    "cycle_threshold_ns": duration_spec("aeron.cluster.service.cycle.threshold"),
    "snapshot_duration_threshold_ns": duration_spec("aeron.cluster.service.snapshot.threshold"),
    "delegating_error_handler": PropertySpec("aeron.cluster.service.delegating.error.handler", _text),
    "cluster_dir": PropertySpec("aeron.cluster.dir", _text),
    "mark_file_dir": PropertySpec("aeron.cluster.mark.file.dir", _text),
    "control_channel": PropertySpec("aeron.cluster.control.channel", _text),
    "service_stream_id": int_spec("aeron.cluster.service.stream.id"),
    "consensus_module_stream_id": int_spec("aeron.cluster.consensus.module.stream.id"),
    "replay_channel": PropertySpec("aeron.cluster.replay.channel", _text),
    "replay_stream_id": int_spec("aeron.cluster.replay.stream.id"),
    "snapshot_channel": PropertySpec("aeron.cluster.snapshot.channel", _text),
    "snapshot_stream_id": int_spec("aeron.cluster.snapshot.stream.id"),
    "log_fragment_limit": int_spec("aeron.cluster.log.fragment.limit", 1),
    "idle_strategy": PropertySpec("aeron.cluster.idle.strategy", parse_idle_strategy_name),
    "archive_control_channel": PropertySpec("aeron.archive.local.control.channel", _text),
    "archive_control_stream_id": int_spec("aeron.archive.local.control.stream.id"),
    "archive_control_response_stream_id": int_spec("aeron.archive.control.response.stream.id"),
}

PROPERTY_NAMES: Mapping[str, str] = property_names(_SPECS)


def archive_response_stream_id(cluster_id: int, service_id: int, base: int = 20) -> int:
    """The container's local archive response stream: ``clusterId*100 + 100 + base + serviceId + 1``."""
    return cluster_id * 100 + 100 + base + service_id + 1


def same_major_version(ours: int, theirs: int) -> bool:
    """Aeron's default app-version rule: compatible when the semantic major versions match."""
    return major_version(ours) == major_version(theirs)


@dataclass
class ServiceContainerContext:
    """Container settings; field ``x`` comes from property ``PROPERTY_NAMES['x']``.

    Code-only fields: ``service`` (the :class:`~aeronpy.cluster.service.ClusteredService`
    instance; else built from ``service_class_name``: ``module:Class`` or a bundled name such as
    ``echo``/``kv``), ``aeron`` (a connected client to share; else the container connects its
    own), ``archive_context`` (an :class:`~aeronpy.archive.client.AeronArchiveContext` for the
    local archive; else built from the local control channel and the container's response
    stream), ``app_version`` (semantic version, default 0.0.1) and ``app_version_validator``,
    ``error_handler``, ``termination_hook``, and the clocks ``epoch_clock`` (ms) / ``nano_clock``."""

    aeron_dir: str = field(default_factory=lambda: os.environ.get("AERON_DIR") or default_aeron_dir())
    cluster_id: int = 0
    service_id: int = 0
    service_name: str = ""
    service_class_name: str = ""
    is_responding_service: bool = True
    error_buffer_length: int = MIB
    cycle_threshold_ns: int = 100 * MS
    snapshot_duration_threshold_ns: int = 1 * S
    delegating_error_handler: str = ""
    cluster_dir: str = "aeron-cluster"
    mark_file_dir: str = ""
    control_channel: str = "aeron:ipc?term-length=128k"
    service_stream_id: int = 104
    consensus_module_stream_id: int = 105
    replay_channel: str = "aeron:ipc"
    replay_stream_id: int = 103
    snapshot_channel: str = "aeron:ipc?alias=snapshot"
    snapshot_stream_id: int = 106
    log_fragment_limit: int = 50
    idle_strategy: str = "org.agrona.concurrent.BackoffIdleStrategy"
    archive_control_channel: str = "aeron:ipc?term-length=64k"
    archive_control_stream_id: int = 10
    archive_control_response_stream_id: int = 20
    app_version: int = semantic_version(0, 0, 1)
    app_version_validator: Callable[[int, int], bool] = same_major_version
    service: Any = None
    aeron: Any = None
    archive_context: Any = None
    error_handler: Callable[[BaseException], None] | None = None
    termination_hook: Callable[[], None] | None = None
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
    ) -> ServiceContainerContext:
        """A validated context from ``overrides``, then ``properties``, ``env`` (default
        ``os.environ``) and ``properties_file``, else Aeron's defaults."""
        return load_context(cls, _SPECS, properties, env, properties_file, overrides)

    def validate(self) -> None:
        """Types, ranges and channel syntax; a :class:`ConfigurationError` names the property."""
        for name, spec in _SPECS.items():
            value = getattr(self, name)
            if spec.low is not None:
                check_bounds(spec, value)
            elif name == "is_responding_service":
                if not isinstance(value, bool):
                    raise ConfigurationError(f"{spec.prop}={value!r}: must be a boolean")
            elif not isinstance(value, str):
                raise ConfigurationError(f"{spec.prop}={value!r}: must be text")
        for name in ("control_channel", "replay_channel", "snapshot_channel", "archive_control_channel"):
            value = getattr(self, name)
            try:
                ChannelUri.parse(value)
            except Exception as e:
                raise ConfigurationError(f"{PROPERTY_NAMES[name]}={value}: {e}") from None
        if not self.archive_control_channel.startswith("aeron:ipc"):
            raise ConfigurationError(
                f"{PROPERTY_NAMES['archive_control_channel']}={self.archive_control_channel}: "
                "local archive control must be IPC")
        if not self.cluster_dir:
            raise ConfigurationError(f"{PROPERTY_NAMES['cluster_dir']} must not be empty")
        if not isinstance(self.app_version, int) or not 0 <= self.app_version <= 0xFFFFFF:
            raise ConfigurationError(f"app_version={self.app_version!r}: must be a semantic version (0..16777215)")

    # -- derived -----------------------------------------------------------------------------

    @property
    def resolved_service_name(self) -> str:
        return self.service_name or f"clustered-service-{self.cluster_id}-{self.service_id}"

    @property
    def resolved_mark_file_dir(self) -> str:
        return self.mark_file_dir or self.cluster_dir

    @property
    def archive_response_stream_id(self) -> int:
        return archive_response_stream_id(self.cluster_id, self.service_id, self.archive_control_response_stream_id)

    def new_archive_context(self, aeron: Any) -> Any:
        """The local archive client settings (IPC, aliases ``sc-<s>-archive-ctrl-req/resp-cluster-<c>``)."""
        from aeronpy.archive.client import AeronArchiveContext

        if self.archive_context is not None:
            base = self.archive_context
            request, response = base.control_channel, base.control_response_channel
            request_stream, response_stream = base.control_stream_id, base.control_response_stream_id
            timeout, credentials = base.message_timeout_ns, base.credentials
        else:
            request = response = self.archive_control_channel
            request_stream, response_stream = self.archive_control_stream_id, self.archive_response_stream_id
            timeout, credentials = 10 * S, b""
        for channel in (request, response):
            if not channel.startswith("aeron:ipc"):
                raise ConfigurationError(f"local archive control must be IPC: {channel}")
        req_alias = f"sc-{self.service_id}-archive-ctrl-req-cluster-{self.cluster_id}"
        resp_alias = f"sc-{self.service_id}-archive-ctrl-resp-cluster-{self.cluster_id}"
        return AeronArchiveContext(
            aeron_dir=self.aeron_dir, control_channel=_with_alias(request, req_alias), control_stream_id=request_stream,
            control_response_channel=_with_alias(response, resp_alias), control_response_stream_id=response_stream,
            message_timeout_ns=timeout, credentials=credentials, aeron=aeron, client_name=self.resolved_service_name,
        )

    def new_service(self) -> Any:
        """The service to host: ``service`` if set, else an instance of ``service_class_name``."""
        if self.service is not None:
            return self.service
        if not self.service_class_name:
            raise ConfigurationError(
                f"no service: set {PROPERTY_NAMES['service_class_name']} (module:Class or a bundled name)")
        from aeronpy.cluster.examples import load_service

        return load_service(self.service_class_name)


def _with_alias(channel: str, alias: str) -> str:
    uri = ChannelUri.parse(channel)
    if "alias" in uri.params:
        return channel
    return str(uri.with_param("alias", alias))
