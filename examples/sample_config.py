"""Settings shared by the samples, in the shape of Aeron's SampleConfiguration.

Every sample takes ``--dir`` (the media driver's directory: an ``aeronpy driver`` or a real
Aeron driver), ``--channel``, ``--stream`` and ``--messages``; defaults follow Aeron's samples.
"""

from __future__ import annotations

import argparse
import os
import time

import aeronpy
from aeronpy.concurrent.idle_strategy import BackoffIdleStrategy

DEFAULT_CHANNEL = "aeron:udp?endpoint=localhost:20121"
DEFAULT_STREAM = 1001
DEFAULT_PING_CHANNEL = "aeron:udp?endpoint=localhost:20123"
DEFAULT_PONG_CHANNEL = "aeron:udp?endpoint=localhost:20124"
DEFAULT_PING_STREAM = 1002
DEFAULT_PONG_STREAM = 1003


def parser(description: str, messages: int = 10) -> argparse.ArgumentParser:
    """An argument parser with the common options."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--dir", default=os.environ.get("AERON_DIR"), help="media driver directory (default AERON_DIR or Aeron's)")
    p.add_argument("--channel", default=DEFAULT_CHANNEL)
    p.add_argument("--stream", type=int, default=DEFAULT_STREAM)
    p.add_argument("--messages", type=int, default=messages, help="how many messages (default %(default)s)")
    p.add_argument("--timeout", type=float, default=30.0, help="give up after this many seconds of no progress")
    return p


def connect(aeron_dir: str | None) -> aeronpy.Aeron:
    """Connect to the media driver in ``aeron_dir`` (Aeron's default directory when None)."""
    props = {"aeron_dir": aeron_dir} if aeron_dir else {}
    return aeronpy.Aeron.connect(aeronpy.Context.from_properties(**props))


def idle_strategy() -> BackoffIdleStrategy:
    """Spin, yield, then sleep when there is nothing to do (never burns a core while idle)."""
    return BackoffIdleStrategy()


def wait_connected(publication: aeronpy.Publication, timeout: float) -> bool:
    """Wait until ``publication`` has a subscriber; False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not publication.is_connected:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
