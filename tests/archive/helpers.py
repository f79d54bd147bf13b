"""Test helpers: publish numbered messages, record them, wait for recording positions, collect replays."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aeronpy.archive.client import AeronArchive, AeronArchiveContext
from aeronpy.archive.codecs import SourceLocation
from aeronpy.archive.errors import ArchiveError
from tests.conftest import wait_for
from tests.fakes import free_udp_port


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


def record(arc: AeronArchive, aeron: Any, channel: str, stream_id: int, count: int, size: int = 64,
           stop: bool = True) -> tuple[int, Any]:
    """Record ``count`` messages published on a new exclusive publication as the archive's first
    recording (id 0); with ``stop``, stop it and wait for its stop position.  Returns the end
    position and the publication."""
    arc.start_recording(channel, stream_id, SourceLocation.LOCAL)
    pub = aeron.add_exclusive_publication(channel, stream_id)
    await_recording_counter(arc, 0)
    end = publish(pub, count, size)
    await_recorded(arc, 0, end)
    if stop:
        arc.stop_recording(channel, stream_id)
        wait_for(lambda: arc.get_stop_position(0) == end, 10, "recording 0 to stop")
    return end, pub


def collect(sub: Any, count: int, timeout: float = 20) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        if sub.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 100) == 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"replay delivered {len(got)} of {count} messages")
            time.sleep(0.0005)
    return got


def source_and_destination(archive_factory: Callable[..., Any], aeron: Any, aeron_dir: str, tmp_path: Path,
                           errors: list[ArchiveError]) -> tuple[AeronArchive, AeronArchive, str]:
    """Two archives on one driver for replication: the source (``tmp_path/src``) with a UDP
    control channel, the destination (``tmp_path/dst``, local control stream 11) replicating over
    UDP; clients of both (the destination's ERRORs go to ``errors``) and the source's control
    channel."""
    src_channel = f"aeron:udp?endpoint=127.0.0.1:{free_udp_port()}"
    archive_factory(archive_dir=str(tmp_path / "src"), control_channel_enabled=True, control_channel=src_channel)
    archive_factory(archive_dir=str(tmp_path / "dst"), local_control_stream_id=11,
                    replication_channel="aeron:udp?endpoint=127.0.0.1:0")
    src = AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron))
    dst = AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron, control_stream_id=11,
                                                   control_response_stream_id=21, error_handler=errors.append))
    return src, dst, src_channel
