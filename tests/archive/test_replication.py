"""Replication between two archives on one driver: the destination connects to the source
over UDP control, replicates a stopped recording into a new entry (REPLICATE, SYNC,
REPLICATE_END signals), extends it when the source grew, and reports errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aeronpy.archive.archive import Archive
from aeronpy.archive.client import AeronArchive, AeronArchiveContext
from aeronpy.archive.codecs import RecordingSignal, SourceLocation
from aeronpy.archive.errors import ArchiveError, ErrorCode
from tests.archive.helpers import await_recorded, collect, message, publish, record, source_and_destination
from tests.conftest import wait_for
from tests.fakes import free_udp_port

CHANNEL = "aeron:ipc?term-length=64k"


def _signals_until(arc: AeronArchive, seen: list[Any], signal: RecordingSignal, timeout: float = 20) -> None:
    wait_for(lambda: seen.extend(arc.poll_for_recording_signals()) or any(s.signal is signal for s in seen),
             timeout, f"{signal.name} signal")


def test_replicate_stopped_recording_then_extend(archive_factory: Callable[..., Archive], aeron: Any,
                                                 aeron_dir: str, tmp_path: Path) -> None:
    errors: list[ArchiveError] = []
    src, dst, src_channel = source_and_destination(archive_factory, aeron, aeron_dir, tmp_path, errors)
    try:
        end, pub = record(src, aeron, CHANNEL, 7, 1000, 200)

        seen: list[Any] = []
        rid = dst.replicate(0, -1, 10, src_channel)
        _signals_until(dst, seen, RecordingSignal.REPLICATE_END)
        assert not errors, errors
        names = [s.signal for s in seen if s.correlation_id == rid]
        assert names[0] is RecordingSignal.REPLICATE and RecordingSignal.SYNC in names
        assert names[-1] is RecordingSignal.REPLICATE_END
        (d,) = dst.list_recordings()
        assert (d.start_position, d.stop_position, d.session_id, d.stream_id) == (0, end, pub.session_id, 7)
        assert collect(dst.replay(d.recording_id, "aeron:ipc", 900, 0, -1), 1000) == [message(i, 200) for i in range(1000)]

        # The source grows (extended), then replicating again into the same destination catches up.
        pub.close()  # else its image would be taken as the extension
        ext = _extend_channel(src, 0)
        src.extend_recording(0, ext, 7, SourceLocation.LOCAL)
        pub2 = aeron.add_exclusive_publication(ext, 7)
        assert pub2.position == end
        end2 = publish(pub2, 500, 200, first=1000)
        await_recorded(src, 0, end2)
        src.stop_recording_by_identity(0)
        wait_for(lambda: src.get_stop_position(0) == end2, 10, "source stopped again")
        seen.clear()
        dst.replicate(0, d.recording_id, 10, src_channel)
        _signals_until(dst, seen, RecordingSignal.REPLICATE_END)
        assert not errors, errors
        assert dst.get_stop_position(d.recording_id) == end2
        got = collect(dst.replay(d.recording_id, "aeron:ipc", 901, 0, -1), 1500)
        assert got == [message(i, 200) for i in range(1500)]
    finally:
        src.close()
        dst.close()


def _extend_channel(arc: AeronArchive, recording_id: int) -> str:
    d = arc.list_recording(recording_id)
    assert d is not None
    stop = d.stop_position
    bits = d.term_buffer_length.bit_length() - 1
    return (f"aeron:ipc?term-length={d.term_buffer_length}|init-term-id={d.initial_term_id}"
            f"|term-id={d.initial_term_id + (stop >> bits)}|term-offset={stop & (d.term_buffer_length - 1)}"
            f"|mtu={d.mtu_length}|alias=ext")


def test_replication_errors(archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str,
                           tmp_path: Path) -> None:
    port = free_udp_port()
    archive_factory(archive_dir=str(tmp_path / "src"), control_channel_enabled=True,
                    control_channel=f"aeron:udp?endpoint=127.0.0.1:{port}")
    archive_factory(archive_dir=str(tmp_path / "dst"), local_control_stream_id=11,
                    replication_channel="aeron:udp?endpoint=127.0.0.1:0", message_timeout_ns=1_000_000_000)
    errors: list[ArchiveError] = []
    with AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron, control_stream_id=11,
                                                  control_response_stream_id=21, error_handler=errors.append)) as dst:
        with pytest.raises(ArchiveError) as e:
            dst.replicate(0, 5, 10, f"aeron:udp?endpoint=127.0.0.1:{port}")
        assert e.value.error_code == ErrorCode.UNKNOWN_RECORDING
        with pytest.raises(ArchiveError) as e:
            dst.stop_replication(12345)
        assert e.value.error_code == ErrorCode.UNKNOWN_REPLICATION
        response = "aeron:udp?control-mode=response|control=127.0.0.1:10000"
        with pytest.raises(ArchiveError, match="response channels can't be used with live destinations"):
            dst.replicate(0, -1, 10, f"aeron:udp?endpoint=127.0.0.1:{port}", replication_channel=response,
                          live_destination="aeron:udp?endpoint=127.0.0.1:1")
        with pytest.raises(ArchiveError, match="response channels can't be used with tagged replication"):
            dst.replicate(0, -1, 10, f"aeron:udp?endpoint=127.0.0.1:{port}", replication_channel=response,
                          channel_tag_id=1, subscription_tag_id=2)
        with pytest.raises(ArchiveError, match="needs a UDP replication channel"):
            dst.replicate(0, -1, 10, f"aeron:udp?endpoint=127.0.0.1:{port}", replication_channel="aeron:ipc",
                          channel_tag_id=1)
        dst.replicate(9, -1, 10, f"aeron:udp?endpoint=127.0.0.1:{port}")  # no such source recording
        wait_for(lambda: dst.poll_for_recording_signals() is not None and errors, 20, "async error")
        assert errors[0].error_code == ErrorCode.UNKNOWN_RECORDING
        errors.clear()
        dst.replicate(0, -1, 10, f"aeron:udp?endpoint=127.0.0.1:{free_udp_port()}")  # nobody there
        wait_for(lambda: dst.poll_for_recording_signals() is not None and errors, 20, "connection failure")
        assert errors[0].error_code == ErrorCode.REPLICATION_CONNECTION_FAILURE


def test_replicate_into_an_empty_recording_replaces_its_parameters(
        archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str, tmp_path: Path) -> None:
    errors: list[ArchiveError] = []
    src, dst, src_channel = source_and_destination(archive_factory, aeron, aeron_dir, tmp_path, errors)
    try:
        end, pub = record(src, aeron, CHANNEL, 7, 200, 100)
        # The destination has an unrelated recording (other stream, term length), truncated to empty.
        record(dst, aeron, "aeron:ipc?term-length=128k", 99, 10)[1].close()
        dst.truncate_recording(0, 0)
        seen: list[Any] = []
        dst.replicate(0, 0, 10, src_channel)
        _signals_until(dst, seen, RecordingSignal.REPLICATE_END)
        assert not errors, errors
        (d,) = dst.list_recordings()
        assert (d.recording_id, d.stream_id, d.term_buffer_length, d.session_id, d.stop_position) == (
            0, 7, 64 * 1024, pub.session_id, end)
        assert collect(dst.replay(0, "aeron:ipc", 902, 0, -1), 200) == [message(i, 100) for i in range(200)]
    finally:
        src.close()
        dst.close()
