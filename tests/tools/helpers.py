"""Shared helpers for the tools tests: a publishing stream on an embedded driver."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import wait_for
from tests.fakes import free_udp_port  # noqa: F401  (re-exported for the tools tests)


def publish(pub: Any, count: int, size: int = 64) -> None:
    """Offer ``count`` messages, retrying back pressure until a deadline."""
    deadline = time.monotonic() + 20
    sent = 0
    payload = bytes(size)
    while sent < count:
        if pub.offer(payload) > 0:
            sent += 1
        elif time.monotonic() > deadline:
            raise AssertionError(f"published only {sent} of {count}")
        else:
            time.sleep(0.0005)


def drain(sub: Any, count: int) -> int:
    """Poll ``sub`` until ``count`` fragments arrived (deadline 20 s)."""
    got = [0]

    def on_fragment(buffer: Any, offset: int, length: int, header: Any) -> None:
        got[0] += 1

    def done() -> bool:
        sub.poll(on_fragment, 100)
        return got[0] >= count

    wait_for(done, 20, f"{count} fragments")
    return got[0]
