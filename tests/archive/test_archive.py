"""Embedded archive end to end (one process): connect, record IPC, list, positions, replay,
bounded/partial replay, live follow, stop replay, errors, truncate, purge, threading modes,
authentication and crash recovery."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aeronpy.archive.archive import Archive
from aeronpy.archive.catalog import Catalog
from aeronpy.archive.client import REPLAY_ALL_AND_STOP, AeronArchive, AeronArchiveContext
from aeronpy.archive.codecs import RecordingSignal, SourceLocation
from aeronpy.archive.errors import ArchiveError, ErrorCode, MarkFileError
from tests.archive.helpers import await_recorded, await_recording_counter, collect, message, publish, record
from tests.conftest import wait_for

CHANNEL = "aeron:ipc?term-length=64k"
STREAM = 1001


def _record(arc: AeronArchive, aeron: Any, count: int, size: int = 64, stop: bool = True) -> tuple[int, int, Any]:
    end, pub = record(arc, aeron, CHANNEL, STREAM, count, size, stop)
    return 0, end, pub


def test_connect_and_archive_id(archive: Archive, archive_client: AeronArchive) -> None:
    assert archive_client.control_session_id >= 0
    assert archive_client.archive_id == archive.archive_id


def test_record_list_and_replay(archive_client: AeronArchive, aeron: Any) -> None:
    rid, end, pub = _record(archive_client, aeron, 3000, 100)
    descs = archive_client.list_recordings()
    assert len(descs) == 1
    d = descs[0]
    assert (d.recording_id, d.start_position, d.stop_position, d.stream_id) == (0, 0, end, STREAM)
    assert (d.term_buffer_length, d.session_id, d.initial_term_id) == (65536, pub.session_id, pub.initial_term_id)
    assert d.original_channel == CHANNEL and d.stripped_channel == "aeron:ipc"
    one = archive_client.list_recording(0)
    assert one is not None and one == dataclasses.replace(d, correlation_id=one.correlation_id)
    assert archive_client.list_recording(5) is None
    assert [r.recording_id for r in archive_client.list_recordings_for_uri(0, 10, "ipc", STREAM)] == [0]
    assert archive_client.list_recordings_for_uri(0, 10, "udp", STREAM) == []
    assert archive_client.get_start_position(0) == 0
    assert archive_client.get_recording_position(0) == -1
    assert archive_client.find_last_matching_recording(0, "ipc", STREAM, pub.session_id) == 0
    assert archive_client.find_last_matching_recording(0, "ipc", STREAM, pub.session_id + 1) == -1
    sub = archive_client.replay(0, "aeron:ipc", 2002, 0, -1)
    got = collect(sub, 3000)
    assert got == [message(i, 100) for i in range(3000)]
    wait_for(lambda: sub.images and sub.images[0].is_end_of_stream or not sub.images, 10, "replay end of stream")


def test_partial_replay_from_position(archive_client: AeronArchive, aeron: Any) -> None:
    _record(archive_client, aeron, 100, 64)
    frame = 96  # 32-byte header + 64 bytes
    sub = archive_client.replay(0, "aeron:ipc", 2003, 10 * frame, 20 * frame)
    assert collect(sub, 20) == [message(i) for i in range(10, 30)]
    time.sleep(0.05)
    assert sub.poll(lambda *a: None, 10) == 0


def test_replay_follows_live_recording(archive_client: AeronArchive, aeron: Any) -> None:
    _, end, pub = _record(archive_client, aeron, 50, stop=False)
    sub = archive_client.replay(0, "aeron:ipc", 2004, 0, -1)
    assert collect(sub, 50) == [message(i) for i in range(50)]
    publish(pub, 50, first=50)
    assert collect(sub, 50) == [message(i) for i in range(50, 100)]


def test_signals(archive_client: AeronArchive, aeron: Any) -> None:
    signals: list[Any] = []
    sub_id = archive_client.start_recording(CHANNEL, STREAM, SourceLocation.LOCAL)
    pub = aeron.add_exclusive_publication(CHANNEL, STREAM)
    wait_for(lambda: signals.extend(archive_client.poll_for_recording_signals()) or signals, 10, "START")
    assert signals[0].signal is RecordingSignal.START and signals[0].subscription_id == sub_id
    publish(pub, 10)
    archive_client.stop_recording_subscription(sub_id)
    wait_for(lambda: signals.extend(archive_client.poll_for_recording_signals()) or len(signals) > 1, 10, "STOP")
    assert signals[1].signal is RecordingSignal.STOP and signals[1].position == archive_client.get_stop_position(0)


def test_errors_carry_aeron_codes(archive_client: AeronArchive, aeron: Any) -> None:
    with pytest.raises(ArchiveError) as e:
        archive_client.get_stop_position(42)
    assert e.value.error_code == ErrorCode.UNKNOWN_RECORDING
    with pytest.raises(ArchiveError) as e:
        archive_client.stop_recording("aeron:ipc", 9)
    assert e.value.error_code == ErrorCode.UNKNOWN_SUBSCRIPTION
    archive_client.start_recording(CHANNEL, STREAM)
    with pytest.raises(ArchiveError) as e:
        archive_client.start_recording("aeron:ipc?term-length=128k", STREAM)  # same key
    assert e.value.error_code == ErrorCode.ACTIVE_SUBSCRIPTION
    with pytest.raises(ArchiveError) as e:
        archive_client.start_recording("aeron:bogus", STREAM + 1)
    assert e.value.error_code == ErrorCode.GENERIC
    archive_client.stop_recording(CHANNEL, STREAM)
    _record(archive_client, aeron, 10)
    with pytest.raises(ArchiveError) as e:
        archive_client.start_replay(0, "aeron:ipc", 3000, position=40)
    assert e.value.error_code == ErrorCode.GENERIC  # not 32-byte aligned
    with pytest.raises(ArchiveError) as e:
        archive_client.start_replay(0, "aeron:ipc", 3000, position=archive_client.get_stop_position(0))
    assert e.value.error_code == ErrorCode.INVALID_POSITION
    with pytest.raises(ArchiveError) as e:
        archive_client.truncate_recording(0, 33)
    assert e.value.error_code == ErrorCode.INVALID_POSITION


def test_truncate_and_purge(archive_client: AeronArchive, aeron: Any, archive: Archive) -> None:
    _, end, _ = _record(archive_client, aeron, 2000, 100)  # 2000 * 160 bytes over 64 KiB segments
    adir = archive.ctx.archive_dir
    before = sorted(f for f in os.listdir(adir) if f.endswith(".rec"))
    assert len(before) == 5
    deleted = archive_client.truncate_recording(0, 64 * 1024 + 160 * 10)  # a frame start in the 2nd segment
    assert deleted == 3
    assert archive_client.get_stop_position(0) == 64 * 1024 + 1600
    segments = lambda: sorted(f for f in os.listdir(adir) if f.endswith(".rec"))  # noqa: E731
    # the response comes first; the files go right after it (as Aeron, ending with a DELETE signal)
    wait_for(lambda: len(segments()) == 2, 10, "truncated segments deleted")
    assert archive_client.purge_recording(0) == 2
    wait_for(lambda: segments() == [], 10, "purged segments deleted")
    assert archive_client.list_recordings() == []
    with pytest.raises(ArchiveError):
        archive_client.get_start_position(0)


def test_stop_replay(archive_client: AeronArchive, aeron: Any) -> None:
    _record(archive_client, aeron, 20, stop=False)
    replay_id = archive_client.start_replay(0, "aeron:ipc", 2005)
    assert replay_id >> 32 == 1
    archive_client.stop_replay(replay_id)
    archive_client.stop_replay(replay_id)  # OK even when gone
    archive_client.stop_all_replays()


@pytest.mark.parametrize("mode", ["DEDICATED", "INVOKER"])
def test_threading_modes(archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str, mode: str) -> None:
    import threading

    archive = archive_factory(threading_mode=mode)
    stop = threading.Event()
    thread = None
    if mode == "INVOKER":
        invoker = archive.invoker()
        assert invoker is not None

        def run() -> None:
            while not stop.is_set():
                if invoker.invoke() == 0:
                    time.sleep(0.0005)

        thread = threading.Thread(target=run)
        thread.start()
    try:
        with AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron)) as arc:
            _record(arc, aeron, 200)
            assert collect(arc.replay(0, "aeron:ipc", 2006, 0, REPLAY_ALL_AND_STOP), 200) == [
                message(i) for i in range(200)]
    finally:
        stop.set()
        if thread is not None:
            thread.join()


class _Challenger:
    def __init__(self, accept: bool) -> None:
        self.accept = accept
        self.credentials: dict[int, bytes] = {}

    def on_connect_request(self, session_id: int, credentials: bytes, now_ms: int) -> None:
        self.credentials[session_id] = credentials

    def on_challenge_response(self, session_id: int, credentials: bytes, now_ms: int) -> None:
        self.credentials[session_id] = credentials

    def on_connected_session(self, proxy: Any, now_ms: int) -> None:
        if self.credentials.get(proxy.session_id()) == b"user":
            proxy.challenge(b"password?")

    def on_challenged_session(self, proxy: Any, now_ms: int) -> None:
        cred = self.credentials.get(proxy.session_id())
        if cred == b"secret" and self.accept:
            proxy.authenticate(b"user")
        elif cred != b"user":
            proxy.reject()


def test_challenge_response(archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str) -> None:
    archive_factory(authenticator=_Challenger(True))
    ctx = AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron, credentials=b"user", on_challenge=lambda c: b"secret")
    with AeronArchive.connect(ctx) as arc:
        assert arc.archive_id >= 0
    bad = AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron, credentials=b"user", on_challenge=lambda c: b"wrong")
    with pytest.raises(ArchiveError) as e:
        AeronArchive.connect(bad)
    assert e.value.error_code == ErrorCode.AUTHENTICATION_REJECTED


def test_second_archive_on_same_dir_is_refused(archive: Archive, archive_factory: Callable[..., Archive]) -> None:
    with pytest.raises(MarkFileError, match="active Mark file"):
        archive_factory()


def test_recovers_stop_position_of_unclosed_recording(archive_factory: Callable[..., Archive], aeron: Any,
                                                      aeron_dir: str, tmp_path: Path) -> None:
    a = archive_factory()
    with AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron)) as arc:
        _, end, _ = _record(arc, aeron, 500, stop=False)
    # Simulate a crash: forget the stop, as if the archive died mid-recording.
    a.close()
    with Catalog(a.ctx.archive_dir) as cat:
        cat.recording_stopped(0, -1, -1)
    mark = os.path.join(a.ctx.archive_dir, "archive-mark.dat")
    assert os.path.exists(mark)
    b = archive_factory()
    with AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron)) as arc:
        assert arc.get_stop_position(0) == end
        assert collect(arc.replay(0, "aeron:ipc", 2007, 0, -1), 500) == [message(i) for i in range(500)]
    b.close()


def test_control_over_udp(archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str) -> None:
    import socket

    ports = []
    for _ in range(2):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    archive_factory(control_channel_enabled=True, control_channel=f"aeron:udp?endpoint=127.0.0.1:{ports[0]}")
    ctx = AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron,
                              control_channel=f"aeron:udp?endpoint=127.0.0.1:{ports[0]}",
                              control_response_channel=f"aeron:udp?endpoint=127.0.0.1:{ports[1]}")
    with AeronArchive.connect(ctx) as arc:
        _record(arc, aeron, 100)
        assert len(arc.list_recordings()) == 1
    # A response channel on port 0 (as Java clients configure it) is resolved before connecting.
    ctx.control_response_channel = "aeron:udp?endpoint=127.0.0.1:0"
    with AeronArchive.connect(ctx) as arc:
        assert len(arc.list_recordings()) == 1


def test_extend_recording_across_the_seam(archive_client: AeronArchive, aeron: Any) -> None:
    _, end, pub = _record(archive_client, aeron, 300)
    pub.close()
    d = archive_client.list_recording(0)
    assert d is not None
    bits = d.term_buffer_length.bit_length() - 1
    term_id = d.initial_term_id + (end >> bits)
    ext = (f"aeron:ipc?term-length={d.term_buffer_length}|init-term-id={d.initial_term_id}|term-id={term_id}"
           f"|term-offset={end & (d.term_buffer_length - 1)}|mtu={d.mtu_length}")
    archive_client.extend_recording(0, ext, STREAM, SourceLocation.LOCAL)
    pub2 = aeron.add_exclusive_publication(ext, STREAM)
    assert pub2.position == end
    wait_for(lambda: any(s.signal is RecordingSignal.EXTEND for s in archive_client.poll_for_recording_signals()),
             10, "EXTEND signal")
    end2 = publish(pub2, 300, first=300)
    await_recorded(archive_client, 0, end2)
    assert collect(archive_client.replay(0, "aeron:ipc", 2010, 0, end2), 600) == [message(i) for i in range(600)]


def test_extend_with_mismatched_image_is_refused(archive_client: AeronArchive, aeron: Any) -> None:
    errors: list[ArchiveError] = []
    archive_client.ctx.error_handler = errors.append
    _, _, pub = _record(archive_client, aeron, 10)
    pub.close()  # else its image (joining at the stop position) would be a valid extension
    archive_client.extend_recording(0, "aeron:ipc?term-length=64k|alias=x", STREAM, SourceLocation.LOCAL)
    aeron.add_exclusive_publication("aeron:ipc?term-length=64k|alias=x", STREAM)  # starts at 0, not the stop
    wait_for(lambda: archive_client.poll_for_recording_signals() is not None and errors, 10, "async error")
    assert errors[0].error_code == ErrorCode.INVALID_EXTENSION
    with pytest.raises(ArchiveError) as e:
        archive_client.extend_recording(0, "aeron:ipc", STREAM + 1)
    assert e.value.error_code == ErrorCode.UNKNOWN_RECORDING


def test_subscriptions_listing_and_stop_by_identity(archive_client: AeronArchive, aeron: Any) -> None:
    s1 = archive_client.start_recording("aeron:ipc?alias=one", 1)
    s2 = archive_client.start_recording("aeron:udp?endpoint=localhost:40999", 2)
    subs = archive_client.list_recording_subscriptions(0, 10, "")
    assert sorted(s.subscription_id for s in subs) == sorted([s1, s2])
    assert [s.stream_id for s in archive_client.list_recording_subscriptions(0, 10, "udp")] == [2]
    assert [s.subscription_id for s in archive_client.list_recording_subscriptions(0, 10, "", 1, True)] == [s1]
    assert archive_client.list_recording_subscriptions(5, 10, "") == []
    pub = aeron.add_exclusive_publication("aeron:ipc?alias=one", 1)
    await_recording_counter(archive_client, 0)
    publish(pub, 5)
    assert archive_client.stop_recording_by_identity(0) is True
    wait_for(lambda: archive_client.get_stop_position(0) >= 0, 10, "stopped")
    assert [s.subscription_id for s in archive_client.list_recording_subscriptions(0, 10, "")] == [s2]
    assert archive_client.stop_recording_by_identity(0) is False


def test_bounded_replay_follows_a_limit_counter(archive_client: AeronArchive, aeron: Any) -> None:
    _record(archive_client, aeron, 100)
    limit = aeron.add_counter(1001, "replay limit")
    limit.set(10 * 96)
    rsid = archive_client.start_bounded_replay(0, limit.id, "aeron:ipc", 2011, 0)
    session_id = rsid & 0xFFFFFFFF
    session_id = session_id - (1 << 32) if session_id & 0x80000000 else session_id
    sub = aeron.add_subscription(f"aeron:ipc?session-id={session_id}", 2011)
    assert collect(sub, 10) == [message(i) for i in range(10)]
    time.sleep(0.05)
    assert sub.poll(lambda *a: None, 10) == 0
    limit.set(30 * 96)
    assert collect(sub, 20) == [message(i) for i in range(10, 30)]


def test_max_concurrent_replays_and_recordings(archive_factory: Callable[..., Archive], aeron: Any,
                                               aeron_dir: str) -> None:
    archive_factory(max_concurrent_replays=1, max_concurrent_recordings=1)
    with AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron)) as arc:
        _record(arc, aeron, 10, stop=False)
        with pytest.raises(ArchiveError) as e:
            arc.start_recording("aeron:ipc", 77)
        assert e.value.error_code == ErrorCode.MAX_RECORDINGS
        arc.start_replay(0, "aeron:ipc", 2012)
        with pytest.raises(ArchiveError) as e:
            arc.start_replay(0, "aeron:ipc", 2013)
        assert e.value.error_code == ErrorCode.MAX_REPLAYS


def test_update_channel(archive_client: AeronArchive, aeron: Any) -> None:
    _record(archive_client, aeron, 5)
    archive_client.update_channel(0, "aeron:udp?endpoint=localhost:5555|alias=" + "z" * 100)
    d = archive_client.list_recording(0)
    assert d is not None and d.original_channel.endswith("z" * 100)
    assert d.stripped_channel == "aeron:udp?endpoint=localhost:5555|alias=" + "z" * 100
    assert collect(archive_client.replay(0, "aeron:ipc", 2014, 0, -1), 5) == [message(i) for i in range(5)]


def test_client_of_another_major_version_is_refused(archive: Archive, aeron: Any) -> None:
    from aeronpy.protocol import sbe
    from aeronpy.archive.codecs import T

    sub = aeron.add_subscription("aeron:ipc?session-id=777", 21)
    pub = aeron.add_exclusive_publication("aeron:ipc?session-id=777", 10)
    wait_for(lambda: pub.is_connected, 10, "control publication")
    msg = sbe.encode(T.AuthConnectRequest, correlation_id=5, response_stream_id=21, version=2 << 16,
                     response_channel="aeron:ipc?session-id=777")
    while pub.offer(msg) < 0:
        time.sleep(0.001)
    seen: list[Any] = []
    wait_for(lambda: sub.poll(lambda b, o, n, h: seen.append(sbe.decode(
        __import__("aeronpy.archive.codecs", fromlist=["x"]).ARCHIVE_SCHEMA, b.get_bytes(o, n))), 10) or seen, 10,
        "version error")
    r = seen[0]
    assert r.spec.name == "ControlResponse" and r.get_int("code") == 1
    assert "invalid client version 2.0.0" in r.get_str("error_message")
    assert r.get_int("relevant_id") == r.get_int("control_session_id")


def _counters(aeron: Any, type_id: int) -> list[tuple[int, bytes, str, int]]:
    found: list[tuple[int, bytes, str, int]] = []
    reader = aeron.counters_reader
    reader.for_each(lambda cid, t, key, label: found.append((cid, key, label, reader.get_counter_value(cid)))
                    if t == type_id else None)
    return found


def test_archive_counters(archive: Archive, aeron: Any, aeron_dir: str) -> None:
    import struct

    from aeronpy.archive.counters import decode_recording_position_key

    aid = archive.archive_id
    assert [c[2] for c in _counters(aeron, 102)] == [f"Archive Control Sessions - archiveId={aid}"]
    assert _counters(aeron, 101)[0][2].startswith(f"Archive Errors - archiveId={aid} version=")
    with AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron, client_name="me")) as arc:
        sessions = wait_for(lambda: [c for c in _counters(aeron, 113) if c[3] == arc.control_session_id], 10,
                            "control-session counter")
        cid, key, label, _ = sessions[0]  # type: ignore[index]
        assert struct.unpack_from("<qq", key) == (aid, arc.control_session_id)
        # Reference ids as Aeron sets them: control-session -> the response publication's
        # registration id (AeronCounters.setReferenceId); every other archive counter keeps 0.
        reader = aeron.counters_reader
        response_pub = archive.conductor.sessions[arc.control_session_id].publication
        wait_for(lambda: reader.get_counter_reference_id(cid) == response_pub.registration_id, 10,
                 "control-session reference id")
        for type_id in (101, 102, 111, 112):
            assert [reader.get_counter_reference_id(c[0]) for c in _counters(aeron, type_id)] == [0]
        assert label.startswith("control-session: name=me version=") and label.endswith(f"- archiveId={aid}")
        assert _counters(aeron, 102)[0][3] == 1
        _, end, pub = _record(arc, aeron, 10, stop=False)
        (rec,) = _counters(aeron, 100)
        assert reader.get_counter_reference_id(rec[0]) == 0  # RecordingPos.allocate sets none
        assert reader.get_counter_owner_id(rec[0]) == archive.conductor.aeron.client_id
        assert decode_recording_position_key(rec[1]) == (0, pub.session_id, "aeron:ipc", aid)
        assert rec[2] == f"rec-pos: 0 {pub.session_id} {STREAM} aeron:ipc - archiveId={aid}"
        assert rec[3] == end
        assert _counters(aeron, 111)[0][3] == 1
    wait_for(lambda: not _counters(aeron, 113), 10, "control-session counter removed")
    wait_for(lambda: _counters(aeron, 102)[0][3] == 0, 10, "control sessions back to 0")


def test_recording_events_stream(archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str) -> None:
    from aeronpy.protocol import sbe
    from aeronpy.archive.codecs import ARCHIVE_SCHEMA

    archive_factory(recording_events_enabled=True, recording_events_channel="aeron:ipc", recording_events_stream_id=30)
    events = aeron.add_subscription("aeron:ipc", 30)
    seen: list[Any] = []

    def poll() -> int:
        return int(events.poll(lambda b, o, n, h: seen.append(sbe.decode(ARCHIVE_SCHEMA, b.get_bytes(o, n))), 100))

    with AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron)) as arc:
        _, end, pub = _record(arc, aeron, 50)
    wait_for(lambda: poll() or any(m.spec.name == "RecordingStopped" for m in seen), 10, "RecordingStopped")
    names = [m.spec.name for m in seen]
    assert names[0] == "RecordingStarted" and "RecordingProgress" in names and names[-1] == "RecordingStopped"
    assert seen[0].get_int("session_id") == pub.session_id and seen[0].get_str("channel") == CHANNEL
    assert seen[-1].get_int("stop_position") == end
    progress = [m.get_int("position") for m in seen if m.spec.name == "RecordingProgress"]
    assert progress == sorted(progress) and progress[-1] == end


def test_detach_delete_attach_and_purge_segments(archive_client: AeronArchive, aeron: Any, archive: Archive) -> None:
    _, end, _ = _record(archive_client, aeron, 2000, 100)  # 5 segments of 64 KiB (fixture)
    seg = 64 * 1024
    adir = archive.ctx.archive_dir

    def files() -> list[int]:
        return sorted(int(f.split("-")[1][:-4]) for f in os.listdir(adir) if f.startswith("0-") and f.endswith(".rec"))

    for bad in (100 * 32, 0, 5 * seg):
        with pytest.raises(ArchiveError) as e:
            archive_client.detach_segments(0, bad)  # unaligned, not above the first segment, beyond the stop
        assert e.value.error_code == ErrorCode.GENERIC
    archive_client.detach_segments(0, 2 * seg)
    assert archive_client.get_start_position(0) == 2 * seg and files() == [0, seg, 2 * seg, 3 * seg, 4 * seg]
    assert archive_client.attach_segments(0) == 2
    assert archive_client.get_start_position(0) == 0
    archive_client.detach_segments(0, seg)
    # the OK (file count) goes out before the archive removes the files, as in Aeron: wait for them
    assert archive_client.delete_detached_segments(0) == 1
    wait_for(lambda: files() == [seg, 2 * seg, 3 * seg, 4 * seg], 10, "detached segment deleted")
    assert archive_client.purge_segments(0, 3 * seg) == 2
    wait_for(lambda: files() == [3 * seg, 4 * seg], 10, "purged segments deleted")
    frame = 160
    first = (3 * seg) // seg * (seg // frame)  # messages in the three purged terms (each ends with padding)
    got = collect(archive_client.replay(0, "aeron:ipc", 2020, 3 * seg, -1), 2000 - first)
    assert got == [message(i, 100) for i in range(first, 2000)]
    assert end == archive_client.get_stop_position(0)


def test_corrupt_catalog_is_a_clear_error_at_start(archive_factory: Callable[..., Archive], tmp_path: Path) -> None:
    from aeronpy.archive.errors import CatalogError

    adir = tmp_path / "archive"
    adir.mkdir()
    (adir / "archive.catalog").write_bytes(struct_pack_catalog_header(version=0x00020000))
    with pytest.raises(CatalogError, match="incompatible catalog file version 2.0.0"):
        archive_factory()
    (adir / "archive.catalog").write_bytes(b"\x01\x02")
    with pytest.raises(CatalogError, match="truncated"):
        archive_factory()


def struct_pack_catalog_header(version: int) -> bytes:
    import struct

    return struct.pack("<iiqi", version, 32, 0, 64) + bytes(12 + 1024)


def test_replay_token_admits_a_request_from_another_publication(archive_client: AeronArchive, aeron: Any) -> None:
    from aeronpy.protocol import sbe
    from aeronpy.archive.codecs import T

    _record(archive_client, aeron, 20)
    token = archive_client.get_replay_token(0)
    assert token != -1
    other = aeron.add_exclusive_publication("aeron:ipc?session-id=4711", 10)
    wait_for(lambda: other.is_connected, 10, "second control publication")

    def replay_request(corr: int, tok: int, stream: int) -> None:
        msg = sbe.encode(T.ReplayRequest, control_session_id=archive_client.control_session_id, correlation_id=corr,
                         recording_id=0, position=0, length=-1, replay_stream_id=stream, file_io_max_length=-1,
                         replay_token=tok, replay_channel="aeron:ipc")
        while other.offer(msg) < 0:
            time.sleep(0.001)

    replay_request(9001, token + 1, 2100)  # wrong token: refused
    replay_request(9002, token, 2101)
    seen: list[Any] = []

    def responses() -> list[Any]:
        archive_client._poll()
        while archive_client._inbox:
            seen.append(archive_client._inbox.popleft())
        return [m for m in seen if m.spec.name == "ControlResponse" and m.get_int("correlation_id") in (9001, 9002)]

    got = wait_for(lambda: len(responses()) == 2 and responses(), 10, "both answers")
    by_corr = {m.get_int("correlation_id"): m for m in got}  # type: ignore[union-attr]
    assert by_corr[9001].get_int("code") == 1 and "token" in by_corr[9001].get_str("error_message")
    assert by_corr[9002].get_int("code") == 0
    sid = by_corr[9002].get_int("relevant_id") & 0xFFFFFFFF
    sid = sid - (1 << 32) if sid & 0x80000000 else sid
    sub = aeron.add_subscription(f"aeron:ipc?session-id={sid}", 2101)
    assert collect(sub, 20) == [message(i) for i in range(20)]
    replay_request(9003, token, 2102)  # a token is used once

    def answer_9003() -> Any:
        responses()
        return next((m for m in seen if m.spec.name == "ControlResponse" and m.get_int("correlation_id") == 9003), None)

    assert wait_for(answer_9003, 10, "reused token refused").get_int("code") == 1  # type: ignore[attr-defined]


def test_async_connect(archive: Archive, aeron: Any, aeron_dir: str) -> None:
    connect = AeronArchive.async_connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron))
    steps = set()
    client = None
    deadline = time.monotonic() + 10
    while client is None:
        steps.add(connect.step)
        client = connect.poll()
        assert time.monotonic() < deadline
        time.sleep(0.0005)
    assert {"ADD_SESSION_ID", "AWAIT_RESPONSE"} <= steps
    with client:
        assert client.archive_id == archive.archive_id and client.list_recordings() == []


def test_async_connect_times_out_without_an_archive(driver: Any, aeron: Any, aeron_dir: str) -> None:
    connect = AeronArchive.async_connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron,
                                                             message_timeout_ns=200_000_000))
    with pytest.raises(TimeoutError, match="AWAIT_PUBLICATION_CONNECTED"):
        while connect.poll() is None:
            time.sleep(0.001)


def test_record_and_replay_checksums(archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str) -> None:
    import struct
    import zlib

    a = archive_factory(record_checksum="CRC-32", replay_checksum="CRC-32")
    errors: list[ArchiveError] = []
    with AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron, error_handler=errors.append)) as arc:
        _record(arc, aeron, 50)
        seg = os.path.join(a.ctx.archive_dir, "0-0.rec")
        with open(seg, "rb") as f:
            head = f.read(96)
        crc = zlib.crc32(head[32:96])
        assert struct.unpack_from("<i", head, 12)[0] == (crc - (1 << 32) if crc & 0x80000000 else crc)
        assert collect(arc.replay(0, "aeron:ipc", 2030, 0, -1), 50) == [message(i) for i in range(50)]
        with open(seg, "r+b") as f:  # corrupt one payload byte of message 10
            f.seek(10 * 96 + 40)
            f.write(b"\xff")
        sub = arc.replay(0, "aeron:ipc", 2031, 0, -1)
        got = collect(sub, 10)
        assert got == [message(i) for i in range(10)]
        wait_for(lambda: arc.poll_for_recording_signals() is not None and errors, 10, "checksum error")
        assert "CRC checksum mismatch at position=960" in errors[0].error_message


def test_migrate_segments_prepends_a_contiguous_recording(archive_client: AeronArchive, aeron: Any) -> None:
    _, _, pub = _record(archive_client, aeron, 1365)  # two full terms + one message in the third
    pub.close()
    assert archive_client.truncate_recording(0, 2 * 65536) == 1  # now [0, 131072)
    d = archive_client.list_recording(0)
    assert d is not None
    b_channel = (f"aeron:ipc?term-length=65536|init-term-id={d.initial_term_id}|term-id={d.initial_term_id + 2}"
                 f"|term-offset=0|mtu={d.mtu_length}|alias=b")
    archive_client.start_recording(b_channel, STREAM, SourceLocation.LOCAL)
    pub_b = aeron.add_exclusive_publication(b_channel, STREAM)
    await_recording_counter(archive_client, 1)
    end_b = publish(pub_b, 100, first=2000)
    await_recorded(archive_client, 1, end_b)
    archive_client.stop_recording(b_channel, STREAM)
    wait_for(lambda: archive_client.get_stop_position(1) == end_b, 10, "b stopped")
    assert archive_client.get_start_position(1) == 2 * 65536
    with pytest.raises(ArchiveError, match="not contiguous"):
        archive_client.migrate_segments(0, 0)
    assert archive_client.migrate_segments(0, 1) == 2
    assert archive_client.get_start_position(1) == 0
    assert archive_client.get_stop_position(0) == archive_client.get_start_position(0) == 0
    got = collect(archive_client.replay(1, "aeron:ipc", 2040, 0, -1), 1364 + 100)
    assert got == [message(i) for i in range(1364)] + [message(i) for i in range(2000, 2100)]


def test_authorisation_service_refuses_templates(archive_factory: Callable[..., Archive], aeron: Any,
                                                 aeron_dir: str) -> None:
    from aeronpy.archive.codecs import T

    asked: list[tuple[int, int, bytes]] = []

    def no_purge(schema_id: int, template_id: int, principal: bytes) -> bool:
        asked.append((schema_id, template_id, principal))
        return template_id != T.PurgeRecordingRequest.template_id

    archive_factory(authorisation_service=no_purge)
    with AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron)) as arc:
        _record(arc, aeron, 5)
        with pytest.raises(ArchiveError) as e:
            arc.purge_recording(0)
        assert e.value.error_code == ErrorCode.UNAUTHORISED_ACTION and e.value.error_message == "unauthorised action"
        assert arc.get_stop_position(0) > 0
    assert (101, T.PurgeRecordingRequest.template_id, b"") in asked
