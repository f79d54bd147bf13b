"""A full file system during recording (a 1 MiB tmpfs): the recording stops with a
STORAGE_SPACE error and a STOP signal, the catalog holds the last fully written position, and
everything before it replays intact.  Skipped where tmpfs cannot be mounted (not root)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aeronpy.archive.archive import Archive
from aeronpy.archive.client import AeronArchive, AeronArchiveContext
from aeronpy.archive.codecs import RecordingSignal, SourceLocation
from aeronpy.archive.errors import ArchiveError, ErrorCode
from tests.archive.helpers import await_recording_counter, collect, message
from tests.conftest import wait_for


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip() or r.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_disk_full_stops_recording_cleanly(archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str,
                                           small_fs: Path) -> None:
    archive_factory(archive_dir=str(small_fs / "archive"), catalog_capacity=64 * 1024,
                    segment_file_length=256 * 1024, error_buffer_length=1 << 20)
    errors: list[ArchiveError] = []
    signals: list[Any] = []
    ctx = AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron, error_handler=errors.append,
                              recording_signal_consumer=signals.append)
    with AeronArchive.connect(ctx) as arc:
        arc.start_recording("aeron:ipc?term-length=64k", 9, SourceLocation.LOCAL)
        pub = aeron.add_exclusive_publication("aeron:ipc?term-length=64k", 9)
        await_recording_counter(arc, 0)
        sent = 0
        import time

        deadline = time.monotonic() + 30
        while not any(s.signal is RecordingSignal.STOP for s in signals):
            if pub.offer(message(sent, 1000)) > 0:
                sent += 1
            else:
                arc.poll_for_recording_signals()
                time.sleep(0.0005)
            assert time.monotonic() < deadline, f"recording never hit the full disk ({sent} messages sent)"
        wait_for(lambda: arc.poll_for_recording_signals() is not None and errors, 10, "STORAGE_SPACE error")
        assert errors[0].error_code == ErrorCode.STORAGE_SPACE
        stop = arc.get_stop_position(0)
        assert 0 < stop < pub.position
        per_term = 65536 // 1056  # 32 + 1000 aligned to 1056; each term ends with padding
        frames = (stop // 65536) * per_term + (stop % 65536) // 1056
        replayed = collect(arc.replay(0, "aeron:ipc", 99, 0, -1), frames)
        assert replayed == [message(i, 1000) for i in range(frames)]
