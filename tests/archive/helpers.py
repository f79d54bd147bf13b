"""Test helpers: publish numbered messages, wait for recording positions, collect replays."""

from __future__ import annotations

import time
from typing import Any

from aeronpy.archive.client import AeronArchive
from tests.conftest import wait_for


def message(i: int, size: int = 64) -> bytes:
    return i.to_bytes(8, "little") + bytes((i + k) & 0xFF for k in range(8, size))


def publish(pub: Any, count: int, size: int = 64, first: int = 0) -> int:
    deadline = time.monotonic() + 20
    for i in range(first, first + count):
        msg = message(i, size)
        while pub.offer(msg) < 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"publication stuck at message {i}")
            time.sleep(0.0001)
    return int(pub.position)


def await_recording_counter(arc: AeronArchive, recording_id: int) -> int:
    def find() -> int | None:
        arc.poll_for_recording_signals()
        cid = arc.find_recording_position_counter(recording_id)
        return cid if cid >= 0 else None

    return int(wait_for(find, 10, f"rec-pos counter of recording {recording_id}"))  # type: ignore[call-overload]


def await_recorded(arc: AeronArchive, recording_id: int, position: int) -> None:
    wait_for(lambda: arc.get_max_recorded_position(recording_id) >= position, 20,
             f"recording {recording_id} to reach {position}")


def collect(sub: Any, count: int, timeout: float = 20) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        if sub.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 100) == 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"replay delivered {len(got)} of {count} messages")
            time.sleep(0.0005)
    return got
