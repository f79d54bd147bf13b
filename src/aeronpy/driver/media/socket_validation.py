"""Start-up socket buffer probe and checks (driver-behaviour.md §2 item 5).

On a probe UDP socket the driver reads the OS default ``SO_SNDBUF``/``SO_RCVBUF``, sets the
configured ``aeron.socket.so_sndbuf``/``so_rcvbuf`` (when > 0) and reads them back.  The
effective value (read-back, else the OS default) must hold one MTU (send) and the initial
receiver window (receive), else the driver refuses to start.

Linux doubles the value set (bookkeeping overhead) and caps the request at
``net.core.wmem_max``/``rmem_max`` first, so a request above the cap can read back as large as
asked while the kernel actually limited it: that case gets a warning too.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Protocol

from aeronpy.errors import ConfigurationError


class SocketSettings(Protocol):
    """The driver settings checked against the kernel's socket buffers (``DriverContext`` has them)."""

    socket_sndbuf: int
    socket_rcvbuf: int
    mtu_length: int
    initial_window_length: int

__all__ = ["PROC_NET_CORE", "SocketBufferInfo", "probe_socket_buffers", "read_os_limit", "validate_socket_buffers"]

PROC_NET_CORE = "/proc/sys/net/core"

PROP_MTU = "aeron.mtu.length"
PROP_SO_SNDBUF = "aeron.socket.so_sndbuf"
PROP_SO_RCVBUF = "aeron.socket.so_rcvbuf"
PROP_INITIAL_WINDOW = "aeron.rcv.initial.window.length"


@dataclass(frozen=True)
class SocketBufferInfo:
    """What the probe found; ``os_max_*`` is 0 when the limit could not be read."""

    os_default_sndbuf: int
    os_default_rcvbuf: int
    os_max_sndbuf: int
    os_max_rcvbuf: int
    effective_sndbuf: int
    effective_rcvbuf: int
    requested_sndbuf: int = 0
    requested_rcvbuf: int = 0


def read_os_limit(name: str, root: str = PROC_NET_CORE) -> int:
    """Read an integer from ``<root>/<name>`` (e.g. ``rmem_max``); 0 when unavailable."""
    try:
        with open(os.path.join(root, name), encoding="ascii") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def probe_socket_buffers(so_sndbuf: int, so_rcvbuf: int, *, proc_root: str = PROC_NET_CORE) -> SocketBufferInfo:
    """Probe an IPv4 UDP socket: OS defaults, OS maxima, and the read-back of the requested
    sizes (the OS default when a request is 0)."""
    if so_sndbuf < 0 or so_rcvbuf < 0:
        raise ConfigurationError(
            f"socket buffer lengths must not be negative: {PROP_SO_SNDBUF}={so_sndbuf}, {PROP_SO_RCVBUF}={so_rcvbuf}"
        )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        default_sndbuf = int(probe.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
        default_rcvbuf = int(probe.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
        effective_sndbuf = default_sndbuf
        effective_rcvbuf = default_rcvbuf
        if so_sndbuf > 0:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, so_sndbuf)
            effective_sndbuf = int(probe.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
        if so_rcvbuf > 0:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, so_rcvbuf)
            effective_rcvbuf = int(probe.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    return SocketBufferInfo(
        os_default_sndbuf=default_sndbuf,
        os_default_rcvbuf=default_rcvbuf,
        os_max_sndbuf=read_os_limit("wmem_max", proc_root),
        os_max_rcvbuf=read_os_limit("rmem_max", proc_root),
        effective_sndbuf=effective_sndbuf,
        effective_rcvbuf=effective_rcvbuf,
        requested_sndbuf=so_sndbuf,
        requested_rcvbuf=so_rcvbuf,
    )


def _buffer_warnings(prop: str, sysctl: str, requested: int, effective: int, os_max: int) -> list[str]:
    if requested <= 0:
        return []
    if requested > effective:
        return [
            f"WARNING: Could not get desired SO_{prop[-6:].upper()}, adjust OS buffer to match {prop}: "
            f"attempted={requested}, actual={effective}"
        ]
    if os_max > 0 and requested > os_max:
        return [
            f"WARNING: {prop}={requested} exceeds net.core.{sysctl}={os_max}; the kernel capped it "
            f"(read-back {effective} is 2 x the capped value), raise net.core.{sysctl} to get it"
        ]
    return []


def validate_socket_buffers(ctx: SocketSettings, info: SocketBufferInfo) -> list[str]:
    """Return warnings; raise :class:`ConfigurationError` when one MTU does not fit the
    effective ``SO_SNDBUF`` or the initial window does not fit the effective ``SO_RCVBUF``.

    ``info`` should come from ``probe_socket_buffers(ctx.socket_sndbuf, ctx.socket_rcvbuf)``;
    its ``requested_*`` fields (or the context's, when 0) drive the warnings."""
    requested_sndbuf = info.requested_sndbuf or ctx.socket_sndbuf
    requested_rcvbuf = info.requested_rcvbuf or ctx.socket_rcvbuf
    warnings = _buffer_warnings(PROP_SO_SNDBUF, "wmem_max", requested_sndbuf, info.effective_sndbuf, info.os_max_sndbuf)
    warnings += _buffer_warnings(PROP_SO_RCVBUF, "rmem_max", requested_rcvbuf, info.effective_rcvbuf, info.os_max_rcvbuf)

    if ctx.mtu_length > info.effective_sndbuf:
        raise ConfigurationError(
            f"MTU greater than socket SO_SNDBUF, adjust {PROP_SO_SNDBUF} to match MTU: "
            f"{PROP_MTU}={ctx.mtu_length}, SO_SNDBUF={info.effective_sndbuf}"
        )
    if ctx.initial_window_length > info.effective_rcvbuf:
        raise ConfigurationError(
            f"Window length greater than socket SO_RCVBUF, increase {PROP_SO_RCVBUF} to match window "
            f"(or reduce {PROP_INITIAL_WINDOW}): {PROP_INITIAL_WINDOW}={ctx.initial_window_length}, "
            f"SO_RCVBUF={info.effective_rcvbuf}"
        )
    return warnings
