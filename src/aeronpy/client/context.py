"""Client configuration (the ``Aeron.Context`` of the Java/C clients).

Settings load with the same precedence as the driver: keyword arguments > ``properties``
mapping > ``AERON_*`` environment > properties file > default.  Handlers are keyword-only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aeronpy.concurrent.clock import epoch_ms, nano_time
from aeronpy.config import (
    INT64_MAX,
    PropertySpec,
    default_aeron_dir,
    load_context,
    parse_bool,
    parse_duration_ns,
    parse_int,
    parse_text,
    property_names,
)
from aeronpy.errors import ConfigurationError
from aeronpy.protocol.control import PublicationErrorFrame

__all__ = ["MAX_CLIENT_NAME_LENGTH", "Context"]

MAX_CLIENT_NAME_LENGTH = 100
"""Client names longer than this (in UTF-8 bytes) are rejected, as in the C client."""

_MS = 1_000_000
_S = 1_000_000_000


# The env variable of each property follows config.property_to_env.
_PROPERTIES: dict[str, PropertySpec] = {
    "aeron_dir": PropertySpec("aeron.dir", parse_text),
    "driver_timeout_ms": PropertySpec("aeron.driver.timeout", parse_int),
    "client_name": PropertySpec("aeron.client.name", parse_text),
    "resource_linger_duration_ns": PropertySpec("aeron.client.resource.linger.duration", parse_duration_ns),
    "idle_sleep_duration_ns": PropertySpec("aeron.client.idle.sleep.duration", parse_duration_ns),
    "pre_touch_mapped_memory": PropertySpec("aeron.pre.touch.mapped.memory", parse_bool),
}


@dataclass
class Context:
    """Client settings, handlers and the Aeron directory to connect through.

    ``available_image_handler``/``unavailable_image_handler`` receive the
    :class:`~aeronpy.client.Image`; ``on_new_publication(channel, stream_id, session_id,
    correlation_id)`` and ``on_new_subscription(channel, stream_id, correlation_id)`` are
    called when the driver confirms the resource.  ``error_handler`` gets errors raised on the
    client conductor (default: logged at ERROR level to the ``aeronpy.client`` logger).  ``publication_error_frame_handler`` gets the
    :class:`~aeronpy.protocol.control.PublicationErrorFrame` of each ON_PUBLICATION_ERROR for
    one of this client's publications (a receiver rejected its image).
    """

    aeron_dir: str = field(default_factory=lambda: os.environ.get("AERON_DIR") or default_aeron_dir())
    """Default: ``$AERON_DIR``, else :func:`~aeronpy.config.default_aeron_dir`."""
    driver_timeout_ms: int = 10_000
    client_name: str = ""
    keepalive_interval_ns: int = 500 * _MS
    resource_linger_duration_ns: int = 3 * _S
    idle_sleep_duration_ns: int = 16 * _MS
    pre_touch_mapped_memory: bool = False
    use_conductor_agent_invoker: bool = False
    error_handler: Callable[[BaseException], None] | None = None
    available_image_handler: Callable[[Any], None] | None = None
    unavailable_image_handler: Callable[[Any], None] | None = None
    on_new_publication: Callable[[str, int, int, int], None] | None = None
    on_new_subscription: Callable[[str, int, int], None] | None = None
    publication_error_frame_handler: Callable[[PublicationErrorFrame], None] | None = None
    nano_clock: Callable[[], int] = nano_time
    """Monotonic nanoseconds for the client conductor's timers; tests inject a manual clock."""
    epoch_clock: Callable[[], int] = epoch_ms
    """Wall-clock milliseconds for keepalives and driver liveness; injectable likewise."""

    PROPERTY_NAMES: ClassVar[Mapping[str, str]] = property_names(_PROPERTIES)

    @classmethod
    def from_properties(
        cls,
        properties: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        properties_file: str | None = None,
        **overrides: Any,
    ) -> Context:
        """Build a validated context from ``overrides``, then ``properties``, ``env`` (default
        ``os.environ``, e.g. ``AERON_DIR``, ``AERON_CLIENT_NAME``) and ``properties_file``."""
        return load_context(cls, _PROPERTIES, properties, env, properties_file, overrides)

    def validate(self) -> None:
        """Reject invalid settings with a :class:`ConfigurationError` naming the property."""
        prop = self.PROPERTY_NAMES
        if not isinstance(self.aeron_dir, str) or not self.aeron_dir:
            raise ConfigurationError(f"{prop['aeron_dir']}={self.aeron_dir!r}: must be a non-empty path")
        if not isinstance(self.client_name, str):
            raise ConfigurationError(f"{prop['client_name']}={self.client_name!r}: must be a string")
        name_length = len(self.client_name.encode("utf-8"))
        if name_length > MAX_CLIENT_NAME_LENGTH:
            raise ConfigurationError(
                f"{prop['client_name']}={self.client_name}: length {name_length} exceeds "
                f"{MAX_CLIENT_NAME_LENGTH} bytes"
            )
        for name, low in (
            ("driver_timeout_ms", 1),
            ("keepalive_interval_ns", 1),
            ("resource_linger_duration_ns", 0),
            ("idle_sleep_duration_ns", 0),
        ):
            value = getattr(self, name)
            label = prop.get(name, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= INT64_MAX:
                raise ConfigurationError(f"{label}={value}: must be an int in [{low}, {INT64_MAX}]")
        for name in ("pre_touch_mapped_memory", "use_conductor_agent_invoker"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(f"{prop.get(name, name)}={getattr(self, name)!r}: must be a bool")
        for name in (
            "error_handler",
            "available_image_handler",
            "unavailable_image_handler",
            "on_new_publication",
            "on_new_subscription",
            "publication_error_frame_handler",
            "nano_clock",
            "epoch_clock",
        ):
            handler = getattr(self, name)
            if handler is not None and not callable(handler):
                raise ConfigurationError(f"{name}={handler!r}: must be callable or None")

    def cnc_file(self) -> str:
        """``<aeron_dir>/cnc.dat``."""
        return os.path.join(self.aeron_dir, "cnc.dat")
