"""ReplayMerge over UDP: a live MDC publication is recorded (spy); a late subscriber replays the
recording into a manual MDS subscription, joins the live stream and drops the replay, receiving
every message once and in order."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from aeronpy.archive.client import AeronArchive
from aeronpy.archive.codecs import SourceLocation
from aeronpy.archive.replay_merge import ReplayMerge
from tests.archive.helpers import await_recorded, await_recording_counter, message, publish


def _ports(n: int) -> list[int]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_replay_merge_joins_live(archive_client: AeronArchive, aeron: Any) -> None:
    control, replay_port, live_port, record_port = _ports(4)
    live_channel = f"aeron:udp?control=127.0.0.1:{control}|control-mode=dynamic|term-length=64k"
    # The archive records as one more dynamic MDC destination of the live publication.
    archive_client.start_recording(f"aeron:udp?endpoint=127.0.0.1:{record_port}|control=127.0.0.1:{control}", 1010,
                                   SourceLocation.REMOTE)
    pub = aeron.add_exclusive_publication(live_channel, 1010)
    await_recording_counter(archive_client, 0)
    first = publish(pub, 500)
    await_recorded(archive_client, 0, first)

    sub = aeron.add_subscription("aeron:udp?control-mode=manual", 1010)
    merge = ReplayMerge(
        sub, archive_client, f"aeron:udp?session-id={pub.session_id}", f"aeron:udp?endpoint=127.0.0.1:{replay_port}",
        f"aeron:udp?endpoint=127.0.0.1:{live_port}|control=127.0.0.1:{control}", 0, 0,
    )
    got: list[bytes] = []
    sent = 500
    deadline = time.monotonic() + 30
    while not merge.is_merged:
        if merge.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 50) == 0:
            time.sleep(0.0005)
        if sent < 1500:  # the live stream keeps moving while the replay catches up
            if pub.offer(message(sent)) > 0:
                sent += 1
        assert time.monotonic() < deadline, f"merge stuck in {merge.state} after {len(got)} messages"
    publish(pub, 200, first=sent)
    total = sent + 200
    while len(got) < total:
        if sub.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 50) == 0:
            time.sleep(0.0005)
        assert time.monotonic() < deadline, f"after merge: {len(got)} of {total}"
    assert got == [message(i) for i in range(total)]
    assert merge.replay_session_id == -1  # the replay was stopped once merged
    merge.close()


def test_replay_merge_rejects_non_manual_subscription(archive_client: AeronArchive, aeron: Any) -> None:
    sub = aeron.add_subscription("aeron:udp?endpoint=127.0.0.1:0", 1011)
    with pytest.raises(ValueError, match="control-mode=manual"):
        ReplayMerge(sub, archive_client, "aeron:udp", "aeron:udp?endpoint=127.0.0.1:1", "aeron:udp?endpoint=x:1", 0, 0)
