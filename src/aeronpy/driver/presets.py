"""Named driver set-ups: Aeron's ``LowLatencyMediaDriver`` sample and a driver that loses
datagrams on purpose (Aeron's test driver with loss).

* :func:`low_latency_context` applies the settings of Aeron's ``LowLatencyMediaDriver`` sample
  (pre-allocated, non-sparse log files; one thread per agent; the conductor busy-spins and the
  sender and receiver never idle).  Like the sample, the preset is applied *after* properties
  are loaded, so it wins over ``-D``/environment/file values; keyword arguments win over it.
  It busy-spins three threads: on a machine without three spare cores it makes things worse.
* :func:`loss_properties` / :func:`lossy_context` map a rate, a seed and frame type names onto
  the C driver's ``loss`` interceptor settings (``aeron.udp.channel.incoming.interceptors``
  and ``aeron.udp.channel.transport.bindings.loss.args``), which keep working on their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aeronpy.driver.context import DriverContext, ThreadingMode
from aeronpy.driver.media.loss_interceptor import LOSS_FRAME_TYPES, loss_properties, parse_loss_types

__all__ = [
    "LOSS_FRAME_TYPES",
    "LOW_LATENCY_SETTINGS",
    "LossyMediaDriver",
    "LowLatencyMediaDriver",
    "describe_low_latency",
    "loss_properties",
    "lossy_context",
    "low_latency_context",
    "parse_loss_types",
]

LOW_LATENCY_SETTINGS: Mapping[str, Any] = {
    "term_buffer_sparse_file": False,
    "threading_mode": ThreadingMode.DEDICATED,
    "conductor_idle_strategy": "spin",
    "receiver_idle_strategy": "noop",
    "sender_idle_strategy": "noop",
}
"""DriverContext fields set by Aeron's LowLatencyMediaDriver sample (its Windows timer
setting has no counterpart here)."""



def describe_low_latency() -> str:
    """The preset's settings as ``property=value`` pairs, for printing at start."""
    names = DriverContext.PROPERTY_NAMES
    parts = []
    for name, value in LOW_LATENCY_SETTINGS.items():
        text = value.value if isinstance(value, ThreadingMode) else ("true" if value is True else "false" if value is False else str(value))
        parts.append(f"{names[name]}={text}")
    return ", ".join(parts)


def low_latency_context(
    properties: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    properties_file: str | None = None,
    **overrides: Any,
) -> DriverContext:
    """A validated context with Aeron's low-latency sample settings on top of the usual
    property sources; ``overrides`` win over the preset."""
    merged = {**LOW_LATENCY_SETTINGS, **overrides}
    return DriverContext.from_properties(properties, env, properties_file, **merged)


def lossy_context(
    rate: float,
    seed: int = 0,
    types: str | Sequence[str] = "data",
    properties: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    properties_file: str | None = None,
    **overrides: Any,
) -> DriverContext:
    """A validated context whose driver loses datagrams as :func:`loss_properties` says."""
    merged = {**(dict(properties) if properties else {}), **loss_properties(rate, seed, types)}
    return DriverContext.from_properties(merged, env, properties_file, **overrides)


class LowLatencyMediaDriver:
    """``LowLatencyMediaDriver.launch(**overrides)``: a MediaDriver with the low-latency preset."""

    @staticmethod
    def launch(**overrides: Any) -> Any:
        """Launch and return a :class:`~aeronpy.driver.media_driver.MediaDriver`."""
        from aeronpy.driver.media_driver import MediaDriver

        return MediaDriver.launch(low_latency_context(**overrides))


class LossyMediaDriver:
    """``LossyMediaDriver.launch(rate, seed, types, **overrides)``: a MediaDriver that drops
    received datagrams (test use)."""

    @staticmethod
    def launch(rate: float, seed: int = 0, types: str | Sequence[str] = "data", **overrides: Any) -> Any:
        """Launch and return a :class:`~aeronpy.driver.media_driver.MediaDriver`."""
        from aeronpy.driver.media_driver import MediaDriver

        return MediaDriver.launch(lossy_context(rate, seed, types, **overrides))
