"""Tagged and live-merge replication (archive.md §7.1) between two archives on one driver.

Tagged: the destination records through a ``control-mode=manual|tags=<channel>,<subscription>``
subscription, so a user subscription with the same tags sees the replicated stream too.
Live merge: the destination replays the source's live recording, joins the live MDC stream,
drops the replay (MERGE) and keeps recording the live stream after the replication has ended:
the destination recording holds every message once, in order.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aeronpy.archive.archive import Archive
from aeronpy.archive.codecs import RecordingSignal, SourceLocation, T
from aeronpy.archive.errors import ArchiveError
from aeronpy.archive.replication import destination_uri
from tests.archive.helpers import (
    await_recorded,
    await_recording_counter,
    collect,
    message,
    publish,
    record,
    source_and_destination,
)
from tests.conftest import wait_for


def _ports(n: int) -> list[int]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [int(s.getsockname()[1]) for s in socks]
    for s in socks:
        s.close()
    return ports


def test_destination_uri_keeps_interface() -> None:
    assert destination_uri("aeron:udp?endpoint=a:0|interface=10.0.0.1|term-length=64k", "a:0") == \
        "aeron:udp?endpoint=a:0|interface=10.0.0.1"
    assert destination_uri("aeron:udp?endpoint=a:5", "a:5") == "aeron:udp?endpoint=a:5"


@pytest.mark.parametrize("template", ["ReplicateRequest2", "TaggedReplicateRequest"])
def test_tagged_replication_shares_the_stream_with_a_tagged_subscription(
        archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str, tmp_path: Path, template: str) -> None:
    errors: list[ArchiveError] = []
    src, dst, src_channel = source_and_destination(archive_factory, aeron, aeron_dir, tmp_path, errors)
    try:
        end, pub = record(src, aeron, "aeron:ipc?term-length=64k", 7, 300, 100)

        channel_tag, subscription_tag = aeron.next_correlation_id(), aeron.next_correlation_id()
        tagged = aeron.add_subscription(
            f"aeron:udp?control-mode=manual|rejoin=false|tags={channel_tag},{subscription_tag}", 7)
        if template == "ReplicateRequest2":
            rid = dst.tagged_replicate(0, -1, channel_tag, subscription_tag, 10, src_channel)
        else:  # the legacy template 62, as older clients send it
            rid = dst._request(T.TaggedReplicateRequest, src_recording_id=0, dst_recording_id=-1,
                               channel_tag_id=channel_tag, subscription_tag_id=subscription_tag,
                               src_control_stream_id=10, src_control_channel=src_channel, live_destination="")
        got = collect(tagged, 300)  # the replay reaches the user's subscription through the shared tag
        assert got == [message(i, 100) for i in range(300)]
        seen: list[Any] = []
        wait_for(lambda: seen.extend(dst.poll_for_recording_signals()) or
                 any(s.signal is RecordingSignal.REPLICATE_END for s in seen), 20, "REPLICATE_END")
        assert not errors, errors
        names = [s.signal for s in seen if s.correlation_id == rid]
        assert names[0] is RecordingSignal.REPLICATE and RecordingSignal.EXTEND in names
        assert RecordingSignal.SYNC in names and names[-1] is RecordingSignal.REPLICATE_END
        (d,) = dst.list_recordings()
        assert d.stop_position == end
        assert collect(dst.replay(d.recording_id, "aeron:ipc", 900, 0, -1), 300) == [message(i, 100) for i in range(300)]
    finally:
        src.close()
        dst.close()


def test_live_merge_replication_keeps_recording_the_live_stream(
        archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str, tmp_path: Path) -> None:
    errors: list[ArchiveError] = []
    src, dst, src_channel = source_and_destination(archive_factory, aeron, aeron_dir, tmp_path, errors)
    control, record_port, live_port = _ports(3)
    try:
        # fc=min: the live publisher waits for its slowest receiver, so a destination lagging on a
        # loaded machine is never left more than a term behind (max flow control would lose it).
        live_channel = f"aeron:udp?control=127.0.0.1:{control}|control-mode=dynamic|term-length=64k|fc=min"
        # The source archive records as one dynamic MDC destination of the live publication.
        src.start_recording(f"aeron:udp?endpoint=127.0.0.1:{record_port}|control=127.0.0.1:{control}", 1033,
                            SourceLocation.REMOTE)
        pub = aeron.add_exclusive_publication(live_channel, 1033)
        await_recording_counter(src, 0)
        sent = 400
        await_recorded(src, 0, publish(pub, sent, 100))

        live_destination = f"aeron:udp?endpoint=127.0.0.1:{live_port}|control=127.0.0.1:{control}"
        rid = dst.replicate(0, -1, 10, src_channel, live_destination=live_destination)
        seen: list[Any] = []
        deadline = time.monotonic() + 40
        while not any(s.signal is RecordingSignal.REPLICATE_END for s in seen):
            seen.extend(dst.poll_for_recording_signals())
            if sent < 3000 and pub.offer(message(sent, 100)) > 0:  # the live stream keeps moving meanwhile
                sent += 1
            else:
                time.sleep(0.0005)
            assert time.monotonic() < deadline, f"no merge: signals {[s.signal.name for s in seen]}, errors {errors}"
        assert not errors, errors
        names = [s.signal for s in seen if s.correlation_id == rid]
        assert names[0] is RecordingSignal.REPLICATE and RecordingSignal.EXTEND in names
        assert RecordingSignal.MERGE in names and names[-1] is RecordingSignal.REPLICATE_END
        assert RecordingSignal.STOP not in names  # the recording goes on from the live stream
        (d,) = dst.list_recordings()
        assert d.stop_position == -1  # still active

        end = publish(pub, 500, 100, first=sent)  # after the merge: only the live transport delivers
        total = sent + 500
        deadline = time.monotonic() + 30
        while dst.get_recording_position(d.recording_id) < end:
            assert time.monotonic() < deadline, (
                f"destination at {dst.get_recording_position(d.recording_id)}, live stream at {end} (merged at "
                f"{[s.position for s in seen if s.signal is RecordingSignal.MERGE]})")
            time.sleep(0.005)
        assert dst.get_recording_position(d.recording_id) == end
        got = collect(dst.replay(d.recording_id, "aeron:ipc", 901, 0, end), total)
        assert got == [message(i, 100) for i in range(total)]  # no gap, no duplicate

        pub.close()  # the live stream ends: the destination recording stops (STOP signal, stop position)
        wait_for(lambda: seen.extend(dst.poll_for_recording_signals()) or
                 any(s.signal is RecordingSignal.STOP for s in seen), 30, "destination STOP")
        assert dst.get_stop_position(d.recording_id) == end
    finally:
        src.close()
        dst.close()


def test_live_merge_needs_an_active_source(archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str,
                                           tmp_path: Path) -> None:
    errors: list[ArchiveError] = []
    src, dst, src_channel = source_and_destination(archive_factory, aeron, aeron_dir, tmp_path, errors)
    try:
        record(src, aeron, "aeron:ipc?term-length=64k", 7, 10)
        dst.replicate(0, -1, 10, src_channel, live_destination="aeron:udp?endpoint=127.0.0.1:1")
        wait_for(lambda: dst.poll_for_recording_signals() is not None and errors, 20, "async error")
        assert "cannot live merge without active source recording" in str(errors[0])
    finally:
        src.close()
        dst.close()
