"""ArchiveContext: Aeron's names and defaults, precedence of sources, validation messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from aeronpy.archive.context import PROPERTY_NAMES, ArchiveContext, ArchiveThreadingMode
from aeronpy.errors import ConfigurationError

BASE = {"aeron.archive.control.channel": "aeron:udp?endpoint=localhost:8010",
        "aeron.archive.replication.channel": "aeron:udp?endpoint=localhost:0"}


def test_defaults_are_aerons() -> None:
    ctx = ArchiveContext.from_properties(BASE, env={})
    assert ctx.archive_dir == "aeron-archive"
    assert (ctx.control_stream_id, ctx.local_control_stream_id, ctx.recording_events_stream_id) == (10, 10, 30)
    assert ctx.local_control_channel == "aeron:ipc?term-length=64k"
    assert ctx.segment_file_length == 128 * 1024 * 1024 and ctx.file_io_max_length == 1024 * 1024
    assert ctx.catalog_capacity == 1024 * 1024 and ctx.low_storage_space_threshold == 128 * 1024 * 1024
    assert ctx.threading_mode is ArchiveThreadingMode.DEDICATED
    assert (ctx.max_concurrent_recordings, ctx.max_concurrent_replays) == (20, 20)
    assert ctx.connect_timeout_ns == 5_000_000_000 and ctx.session_liveness_check_interval_ns == 1_000_000_000
    assert ctx.error_buffer_length == 1024 * 1024 and ctx.archive_id == -1
    assert all(p.startswith("aeron.") for p in PROPERTY_NAMES.values())


def test_precedence_kwargs_properties_env_file(tmp_path: Path) -> None:
    f = tmp_path / "a.properties"
    f.write_text("aeron.archive.max.concurrent.replays=3\naeron.archive.max.concurrent.recordings=4\n"
                 "aeron.archive.segment.file.length=1m\naeron.archive.threading.mode=shared\n")
    env = {"AERON_ARCHIVE_MAX_CONCURRENT_RECORDINGS": "5", "AERON_ARCHIVE_SEGMENT_FILE_LENGTH": "2m"}
    props = dict(BASE, **{"aeron.archive.segment.file.length": "4m"})
    ctx = ArchiveContext.from_properties(props, env=env, properties_file=str(f), archive_id=7)
    assert ctx.max_concurrent_replays == 3  # file
    assert ctx.max_concurrent_recordings == 5  # env over file
    assert ctx.segment_file_length == 4 * 1024 * 1024  # -D over env
    assert ctx.threading_mode is ArchiveThreadingMode.SHARED
    assert ctx.archive_id == 7
    assert ctx.connect_timeout_ns == 5_000_000_000


@pytest.mark.parametrize(
    "prop, value, match",
    [
        ("aeron.archive.segment.file.length", "100k", "power of 2"),
        ("aeron.archive.segment.file.length", "32k", "out of range"),
        ("aeron.archive.file.io.max.length", "3m", "power of 2"),
        ("aeron.archive.threading.mode", "FAST", "DEDICATED, SHARED, INVOKER"),
        ("aeron.archive.control.channel", "aeron:ipc", "aeron:udp"),
        ("aeron.archive.local.control.channel", "aeron:udp?endpoint=localhost:1", "IPC"),
        ("aeron.archive.record.checksum", "MD5", "CRC-32"),
        ("aeron.archive.idle.strategy", "nap", "idle strategy"),
        ("aeron.archive.error.buffer.length", "1k", "out of range"),
        ("aeron.archive.file.sync.level", "3", "out of range"),
        ("aeron.archive.connect.timeout", "soon", "aeron.archive.connect.timeout"),
    ],
)
def test_invalid_values_name_the_property(prop: str, value: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match) as e:
        ArchiveContext.from_properties(dict(BASE, **{prop: value}), env={})
    assert prop.split(".")[-1] in str(e.value) or match in str(e.value)


def test_required_channels() -> None:
    with pytest.raises(ConfigurationError, match="aeron.archive.control.channel must be set"):
        ArchiveContext.from_properties({"aeron.archive.replication.channel": ""}, env={})
    with pytest.raises(ConfigurationError, match="aeron.archive.replication.channel must be set"):
        ArchiveContext.from_properties({"aeron.archive.control.channel.enabled": "false"}, env={})
    ctx = ArchiveContext.from_properties({"aeron.archive.control.channel.enabled": "false"}, env={},
                                         replication_channel="")  # empty passes, as in Aeron
    assert ctx.control_channel is None


def test_catalog_sync_level_below_file_sync_level_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="catalog.file.sync.level"):
        ArchiveContext.from_properties(dict(BASE, **{"aeron.archive.file.sync.level": "2",
                                                     "aeron.archive.catalog.file.sync.level": "1"}), env={})


def test_unknown_field() -> None:
    with pytest.raises(ConfigurationError, match="nope"):
        ArchiveContext.from_properties(BASE, env={}, nope=1)
