"""The archive through response channels (archive.md §1.2/§1.4): control responses and replays
come back over the path the client opened to the archive (``control-mode=response``)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aeronpy.archive.archive import Archive
from aeronpy.archive.client import AeronArchive, AeronArchiveContext
from aeronpy.archive.codecs import RecordingSignal
from aeronpy.archive.errors import ArchiveError
from tests.archive.helpers import collect, message, record
from tests.conftest import wait_for
from tests.fakes import free_udp_port

LO = "127.0.0.1"
CHANNEL = "aeron:ipc?term-length=64k"
STREAM = 1001


def _connect(aeron: Any, aeron_dir: str, control: str, response: str) -> AeronArchive:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return AeronArchive.connect(AeronArchiveContext(
            aeron_dir=aeron_dir, aeron=aeron, control_channel=control, control_response_channel=response,
        ))


def _labels(aeron: Any) -> list[str]:
    found: list[str] = []
    aeron.counters_reader.for_each(lambda counter_id, type_id, key, label: found.append(label))
    return found


def test_control_session_over_a_udp_response_channel(
    archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str,
) -> None:
    control = f"{LO}:{free_udp_port()}"
    response_control = f"{LO}:{free_udp_port()}"
    archive = archive_factory(control_channel_enabled=True, control_channel=f"aeron:udp?endpoint={control}")
    client = _connect(
        aeron, aeron_dir, f"aeron:udp?endpoint={control}", f"aeron:udp?control-mode=response|control={response_control}"
    )
    try:
        assert client.archive_id == archive.archive_id
        assert client.control_session_id >= 0
        # the request publication names the response subscription; the archive's answer names its image
        labels = _labels(aeron)
        assert any(f"response-correlation-id={client.subscription.registration_id}" in label for label in labels)
        assert any("control-mode=response" in label and "response-correlation-id=" in label
                   and label.startswith("pub-lmt") for label in labels)
        assert client.list_recordings() == []
    finally:
        client.close()


def test_replay_over_a_response_channel(archive_client: AeronArchive, aeron: Any) -> None:
    end, _ = record(archive_client, aeron, CHANNEL, STREAM, 200)

    replay = archive_client.replay(0, "aeron:ipc?control-mode=response", 2201, 0, end)
    try:
        got: list[int] = []
        wait_for(lambda: replay.poll(lambda b, o, n, h: got.append(b.get_int64(o)), 50) >= 0 and len(got) >= 200,
                 20, "replayed messages")
        assert got == list(range(200))
    finally:
        replay.close()


def test_replay_over_a_udp_response_channel(
    archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str,
) -> None:
    control = f"{LO}:{free_udp_port()}"
    archive_factory(control_channel_enabled=True, control_channel=f"aeron:udp?endpoint={control}")
    client = _connect(
        aeron, aeron_dir, f"aeron:udp?endpoint={control}",
        f"aeron:udp?control-mode=response|control={LO}:{free_udp_port()}",
    )
    try:
        end, _ = record(client, aeron, CHANNEL, STREAM, 100, stop=False)
        replay_control = f"{LO}:{free_udp_port()}"
        replay = client.replay(0, f"aeron:udp?control-mode=response|control={replay_control}", 2202, 0, end)
        try:
            got: list[int] = []
            wait_for(lambda: replay.poll(lambda b, o, n, h: got.append(b.get_int64(o)), 50) >= 0 and len(got) >= 100,
                     20, "replayed messages")
            assert got == list(range(100))
        finally:
            replay.close()
    finally:
        client.close()


def test_start_replay_over_a_response_channel_needs_the_subscription(archive_client: AeronArchive) -> None:
    with pytest.raises(ArchiveError, match="subscription_registration_id must be set"):
        archive_client.start_replay(0, "aeron:ipc?control-mode=response", 2203)


@pytest.mark.parametrize("src_response", [False, True])
def test_replication_over_a_response_channel(
    archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str, tmp_path: Path, src_response: bool,
) -> None:
    """The destination archive asks the source for the replay over a response channel: the
    replay comes back to the destination's recording subscription on the path it opened.  With
    ``src_response`` the control session to the source is a response channel too, the same
    channel, as a cluster member with an archive response endpoint replicates its log."""
    port = free_udp_port()
    response_channel = f"aeron:udp?control-mode=response|control={LO}:{free_udp_port()}"
    archive_factory(archive_dir=str(tmp_path / "src"), control_channel_enabled=True,
                    control_channel=f"aeron:udp?endpoint={LO}:{port}")
    archive_factory(archive_dir=str(tmp_path / "dst"), local_control_stream_id=11,
                    replication_channel=response_channel)
    errors: list[ArchiveError] = []
    src = _connect(aeron, aeron_dir, "aeron:ipc", "aeron:ipc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dst = AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron, control_stream_id=11,
                                                       control_response_stream_id=21, error_handler=errors.append))
    try:
        end, _ = record(src, aeron, CHANNEL, 7, 300, 200)
        seen: list[Any] = []
        dst.replicate(0, -1, 10, f"aeron:udp?endpoint={LO}:{port}",
                      src_response_channel=response_channel if src_response else "")
        wait_for(lambda: seen.extend(dst.poll_for_recording_signals()) or any(
            s.signal is RecordingSignal.REPLICATE_END for s in seen), 30, "REPLICATE_END")
        assert not errors, errors
        (d,) = dst.list_recordings()
        assert (d.start_position, d.stop_position) == (0, end)
        assert collect(dst.replay(d.recording_id, "aeron:ipc", 902, 0, -1), 300) == [message(i, 200) for i in range(300)]
    finally:
        src.close()
        dst.close()


def test_control_response_publication_uses_the_stripped_response_channel(
    archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str,
) -> None:
    # archive.md §1.2: the response publication is the stripped response channel plus term-length,
    # sparse and mtu; parameters the archive does not keep (linger, eos, reliable ...) are dropped
    control = f"{LO}:{free_udp_port()}"
    response = f"{LO}:{free_udp_port()}"
    archive_factory(control_channel_enabled=True, control_channel=f"aeron:udp?endpoint={control}")
    client = _connect(
        aeron, aeron_dir, f"aeron:udp?endpoint={control}",
        f"aeron:udp?endpoint={response}|linger=0|eos=false|reliable=true|term-length=131072|alias=resp",
    )
    try:
        session = client.control_session_id
        labels = [label for label in _labels(aeron) if label.startswith("pub-lmt") and f"endpoint={response}" in label]
        assert labels, f"no response publication for session {session}"
        channel = labels[0][labels[0].index("aeron:udp"):]
        assert channel.startswith(f"aeron:udp?endpoint={response}|mtu=")
        assert "term-length=128k" in channel and "alias=resp" in channel and "sparse=" in channel
        for dropped in ("linger=", "eos=", "reliable="):
            assert dropped not in channel, channel
    finally:
        client.close()
