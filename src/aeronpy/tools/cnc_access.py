"""Open an Aeron directory's ``cnc.dat`` for a tool, with one clear error per failure.

Every tool that reads a running driver goes through :func:`open_cnc`: a missing directory, a
missing, foreign or half-written ``cnc.dat``, or a driver whose heartbeat stopped all raise
:class:`ToolError` with a message meant for the person at the terminal.
"""

from __future__ import annotations

import os

from aeronpy.cnc import CNC_FILE, CncFile
from aeronpy.concurrent.clock import epoch_ms
from aeronpy.errors import AeronError, CncError

__all__ = ["ToolError", "DRIVER_TIMEOUT_MS", "open_cnc", "heartbeat_age_ms"]

DRIVER_TIMEOUT_MS = 10_000
"""Aeron's default driver timeout: a heartbeat older than this means no driver is running."""


class ToolError(AeronError):
    """A tool cannot do its job; the message says why and what to do."""


def heartbeat_age_ms(cnc: CncFile, now_ms: int | None = None) -> int | None:
    """Milliseconds since the driver's last heartbeat, ``None`` if it never beat or shut down."""
    beat = cnc.to_driver_heartbeat_ms()
    if beat <= 0:
        return None
    return (epoch_ms() if now_ms is None else now_ms) - beat


def open_cnc(aeron_dir: str, *, allow_stale: bool = False, timeout_ms: int = DRIVER_TIMEOUT_MS) -> CncFile:
    """Map ``<aeron_dir>/cnc.dat`` of a live driver (any driver when ``allow_stale``)."""
    if not os.path.exists(aeron_dir):
        raise ToolError(f"Aeron directory {aeron_dir} does not exist: is the media driver running? (--dir)")
    if not os.path.isdir(aeron_dir):
        raise ToolError(f"{aeron_dir} is not a directory: pass the Aeron directory with --dir")
    path = os.path.join(aeron_dir, CNC_FILE)
    if not os.path.exists(path):
        raise ToolError(f"no {CNC_FILE} in {aeron_dir}: no media driver is running there")
    try:
        cnc = CncFile.map(path)
    except CncError as ex:
        raise ToolError(f"{path} is not a usable Aeron CnC file: {ex}") from None
    except (OSError, ValueError, IndexError) as ex:
        raise ToolError(f"{path} is not a usable Aeron CnC file: {ex}") from None
    if allow_stale:
        return cnc
    try:
        beat = cnc.to_driver_heartbeat_ms()
        pid = cnc.pid
    except (IndexError, ValueError) as ex:
        cnc.close()
        raise ToolError(f"{path} is not a usable Aeron CnC file: {ex}") from None
    age = epoch_ms() - beat
    if beat == -1 or beat <= 0 or age > timeout_ms:
        cnc.close()
        what = "shut down" if beat == -1 else (
            "never started" if beat <= 0 else f"last heartbeat {age / 1000:.1f}s ago")
        raise ToolError(
            f"driver not running: {path} is stale (pid {pid}, {what}); start the driver or pass --dir"
        )
    return cnc
