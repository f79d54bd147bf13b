"""``ClusterClientContext``: the settings of a cluster client (Aeron's ``AeronCluster.Context``).

Every property of cluster.md §6.3 by its Aeron name, loaded with the usual precedence:
keyword arguments > ``properties`` mapping > ``AERON_CLUSTER_*`` environment > properties file
> default.  Code-only settings (credentials supplier, listeners, an existing Aeron client,
the idle strategy, clocks) are keyword arguments.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aeronpy.client.context import MAX_CLIENT_NAME_LENGTH
from aeronpy.cluster.client.credentials import CredentialsSupplier, NullCredentialsSupplier
from aeronpy.concurrent.clock import nano_time
from aeronpy.concurrent.idle_strategy import BackoffIdleStrategy, IdleStrategy
from aeronpy.config import INT64_MAX, PropertySpec, default_aeron_dir, load_context, parse_duration_ns, parse_int, parse_text, property_names
from aeronpy.errors import ConfigurationError, InvalidChannelError
from aeronpy.uri import ChannelUri, parse_endpoint

__all__ = [
    "ClusterClientContext",
    "parse_ingress_endpoints",
    "parse_channel",
    "PROTOCOL_SEMANTIC_VERSION",
    "DEFAULT_LEADER_HEARTBEAT_TIMEOUT_NS",
]

_S = 1_000_000_000
#: Client <-> consensus module protocol version 0.3.0 (sent in SessionConnectRequest).
PROTOCOL_SEMANTIC_VERSION = (0 << 16) | (3 << 8) | 0
#: The CM's default leader heartbeat timeout, used for the new-leader timeout when the
#: cluster's OK event does not carry one.
DEFAULT_LEADER_HEARTBEAT_TIMEOUT_NS = 10 * _S


_text = parse_text


_PROPERTIES: dict[str, PropertySpec] = {
    "aeron_dir": PropertySpec("aeron.dir", _text),
    "ingress_channel": PropertySpec("aeron.cluster.ingress.channel", _text),
    "ingress_endpoints": PropertySpec("aeron.cluster.ingress.endpoints", _text),
    "ingress_stream_id": PropertySpec("aeron.cluster.ingress.stream.id", parse_int),
    "egress_channel": PropertySpec("aeron.cluster.egress.channel", _text),
    "egress_stream_id": PropertySpec("aeron.cluster.egress.stream.id", parse_int),
    "message_timeout_ns": PropertySpec("aeron.cluster.message.timeout", parse_duration_ns),
    "client_name": PropertySpec("aeron.cluster.client.name", _text),
}


def parse_ingress_endpoints(text: str | None, name: str = "aeron.cluster.ingress.endpoints") -> dict[int, str]:
    """``"0=host:port,1=host:port"`` -> ``{0: "host:port", 1: "host:port"}`` (in order).

    Raises :class:`ConfigurationError` naming ``name`` for a malformed entry."""
    found: dict[int, str] = {}
    if text is None:
        return found
    for entry in text.split(","):
        entry = entry.strip()
        member, sep, endpoint = entry.partition("=")
        if not sep:
            raise ConfigurationError(f"{name}={text}: endpoint missing '=' separator: {entry!r}")
        try:
            member_id = int(member.strip())
        except ValueError:
            raise ConfigurationError(f"{name}={text}: member id {member!r} is not an integer") from None
        endpoint = endpoint.strip()
        try:
            parse_endpoint(endpoint)
        except InvalidChannelError as e:
            raise ConfigurationError(f"{name}={text}: {e}") from None
        if member_id in found:
            raise ConfigurationError(f"{name}={text}: member id {member_id} appears twice")
        found[member_id] = endpoint
    return found


def parse_channel(text: str) -> ChannelUri:
    """Parse a channel, also accepting a bare ``aeron:udp`` (endpoints are added later)."""
    if text.strip() in ("aeron:udp", "aeron:udp?"):
        return ChannelUri("", "udp", {})
    return ChannelUri.parse(text)


def _default_idle() -> IdleStrategy:
    # Aeron's client backs off to 1 us parks (a busy spin); this caps at 1 ms so an idle
    # client shares the CPU.
    return BackoffIdleStrategy(1, 10, 1_000, 1_000_000)


@dataclass
class ClusterClientContext:
    """Settings of :class:`~aeronpy.cluster.client.AeronCluster`.

    ``ingress_channel`` and ``egress_channel`` are required (e.g. ``aeron:udp`` with
    ``ingress_endpoints="0=host:port,..."`` and ``aeron:udp?endpoint=localhost:0``).
    ``new_leader_timeout_ns`` -1 means 2 x the leader heartbeat timeout announced by the
    cluster.  ``aeron`` is an existing client to use (else one is connected to ``aeron_dir``
    and closed with the cluster client).  ``nano_clock`` drives every deadline."""

    aeron_dir: str = field(default_factory=lambda: os.environ.get("AERON_DIR") or default_aeron_dir())
    ingress_channel: str | None = None
    ingress_endpoints: str | None = None
    ingress_stream_id: int = 101
    egress_channel: str | None = None
    egress_stream_id: int = 102
    message_timeout_ns: int = 5 * _S
    client_name: str = ""
    new_leader_timeout_ns: int = -1
    is_ingress_exclusive: bool = True
    credentials_supplier: CredentialsSupplier = field(default_factory=NullCredentialsSupplier)
    egress_listener: Any = None
    controlled_egress_listener: Any = None
    egress_listener_extension: Any = None
    idle_strategy: IdleStrategy = field(default_factory=_default_idle)
    aeron: Any = None
    error_handler: Callable[[BaseException], None] | None = None
    nano_clock: Callable[[], int] = nano_time

    PROPERTY_NAMES: ClassVar[Mapping[str, str]] = property_names(_PROPERTIES)

    @classmethod
    def from_properties(
        cls,
        properties: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        properties_file: str | None = None,
        **overrides: Any,
    ) -> ClusterClientContext:
        """A validated context from ``overrides``, then ``properties``, ``env`` (default
        ``os.environ``: ``AERON_CLUSTER_INGRESS_CHANNEL``, ...) and ``properties_file``."""
        return load_context(cls, _PROPERTIES, properties, env, properties_file, overrides)

    def validate(self) -> None:
        """Reject invalid settings with a :class:`ConfigurationError` naming the property."""
        prop = self.PROPERTY_NAMES
        if not isinstance(self.aeron_dir, str) or not self.aeron_dir:
            raise ConfigurationError(f"aeron.dir={self.aeron_dir!r}: must be a non-empty path")
        for name in ("ingress_channel", "egress_channel"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError(f"{prop[name]} must be specified")
            try:
                parse_channel(value)
            except InvalidChannelError as e:
                raise ConfigurationError(f"{prop[name]}={value}: {e}") from None
        assert self.ingress_channel is not None
        if self.ingress_endpoints is not None and not self.ingress_endpoints.strip():
            self.ingress_endpoints = None
        ingress = parse_channel(self.ingress_channel)
        if self.ingress_endpoints is None and ingress.is_udp and "endpoint" not in ingress:
            raise ConfigurationError(
                f"{prop['ingress_channel']}={self.ingress_channel}: needs endpoint= unless "
                f"{prop['ingress_endpoints']} is set"
            )
        if self.ingress_endpoints is not None:
            if ingress.is_ipc:
                raise ConfigurationError(
                    f"{prop['ingress_endpoints']}={self.ingress_endpoints}: must be unset with IPC ingress "
                    f"({prop['ingress_channel']}={self.ingress_channel})"
                )
            if not parse_ingress_endpoints(self.ingress_endpoints):
                raise ConfigurationError(f"{prop['ingress_endpoints']}: no endpoints")
        for name in ("ingress_stream_id", "egress_stream_id"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not -(1 << 31) <= value < (1 << 31):
                raise ConfigurationError(f"{prop[name]}={value}: must be a 32-bit integer")
        if not isinstance(self.message_timeout_ns, int) or not 0 < self.message_timeout_ns <= INT64_MAX:
            raise ConfigurationError(f"{prop['message_timeout_ns']}={self.message_timeout_ns}: must be > 0")
        if not isinstance(self.new_leader_timeout_ns, int) or not (
            self.new_leader_timeout_ns == -1 or 0 < self.new_leader_timeout_ns <= INT64_MAX
        ):
            raise ConfigurationError(f"new_leader_timeout_ns={self.new_leader_timeout_ns}: must be > 0 or -1")
        if not isinstance(self.client_name, str):
            raise ConfigurationError(f"{prop['client_name']}={self.client_name!r}: must be a string")
        if len(self.client_name.encode("utf-8")) > MAX_CLIENT_NAME_LENGTH:
            raise ConfigurationError(
                f"{prop['client_name']}={self.client_name}: length must be <= {MAX_CLIENT_NAME_LENGTH} bytes"
            )
        if not isinstance(self.is_ingress_exclusive, bool):
            raise ConfigurationError(f"is_ingress_exclusive={self.is_ingress_exclusive!r}: must be a bool")
        supplier = self.credentials_supplier
        if not callable(getattr(supplier, "encoded_credentials", None)) or not callable(
            getattr(supplier, "on_challenge", None)
        ):
            raise ConfigurationError(
                f"credentials_supplier={supplier!r}: needs encoded_credentials() and on_challenge(challenge)"
            )
        for name in ("egress_listener", "controlled_egress_listener"):
            listener = getattr(self, name)
            if listener is not None and not callable(getattr(listener, "on_message", None)):
                raise ConfigurationError(f"{name}={listener!r}: needs an on_message(cluster_session_id, timestamp, "
                                         "buffer, offset, length, header) method")
        for name in ("error_handler", "nano_clock"):
            handler = getattr(self, name)
            if handler is not None and not callable(handler):
                raise ConfigurationError(f"{name}={handler!r}: must be callable or None")

    # -- derived settings ------------------------------------------------------------------

    @property
    def resolved_egress_channel(self) -> str:
        """The egress subscription's channel: ``rejoin=false`` added for UDP (no silent gaps)."""
        assert self.egress_channel is not None
        uri = parse_channel(self.egress_channel)
        if uri.is_udp:
            uri = uri.with_param("rejoin", "false")
        return str(uri)

    @property
    def aeron_client_name(self) -> str:
        """The name of the Aeron client connected on this context's behalf."""
        return self.client_name or "cluster-client"

    def ingress_channel_for(self, endpoint: str | None) -> str:
        """The ingress channel with ``endpoint`` substituted (UDP only; IPC/multicast as is)."""
        assert self.ingress_channel is not None
        uri = parse_channel(self.ingress_channel)
        if endpoint is not None and uri.is_udp:
            uri = uri.with_param("endpoint", endpoint)
        return str(uri)
