"""Processes as a user runs them: a driver, an archive and a publisher, each its own process,
recording over IPC and over UDP; then ``aeronpy replay`` checks every message arrived intact and
in order.  Also the archive-tool commands on the result and a kill -9 of the archive."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "aeronpy"]
COUNT = 20_000


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(args: list[str], banner: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(CLI + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith(banner):
        proc.kill()
        raise AssertionError(f"{args[0]} did not start: {line}{proc.stdout.read()}")
    return proc


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    return out


@pytest.fixture
def driver_process(aeron_dir: str) -> Iterator[subprocess.Popen[str]]:
    proc = _start(["driver", "--dir", aeron_dir], "aeronpy media driver running")
    yield proc
    _stop(proc)


def _archive(aeron_dir: str, archive_dir: Path) -> subprocess.Popen[str]:
    return _start(["archive", "--dir", aeron_dir, "--archive-dir", str(archive_dir),
                   "-D", "aeron.archive.segment.file.length=1m", "-D", "aeron.archive.low.storage.space.threshold=0",
                   "-D", "aeron.archive.threading.mode=SHARED"], "aeronpy archive running")


@pytest.mark.parametrize("media", ["ipc", "udp"])
def test_record_in_one_process_replay_in_another(driver_process: subprocess.Popen[str], aeron_dir: str,
                                                 tmp_path: Path, media: str) -> None:
    channel = "aeron:ipc?term-length=256k" if media == "ipc" else \
        f"aeron:udp?endpoint=127.0.0.1:{_free_udp_port()}|term-length=256k"
    archive = _archive(aeron_dir, tmp_path / "archive")
    try:
        started = run("recording", "start", "--dir", aeron_dir, "--channel", channel, "--stream", "1001",
                      *(["--local"] if media == "ipc" else []))
        assert started.returncode == 0, started.stderr
        assert "recording started: subscriptionId=" in started.stdout
        pub = run("pub", "--dir", aeron_dir, "--channel", channel, "--stream", "1001", "--count", str(COUNT),
                  "--size", "100", "--exclusive")
        assert pub.returncode == 0, pub.stderr
        listed = run("recording", "list", "--dir", aeron_dir)
        assert listed.returncode == 0 and "recordingId=0 streamId=1001" in listed.stdout, listed.stdout
        replay = run("replay", "--dir", aeron_dir, "--recording-id", "0", "--count", str(COUNT), "--timeout", "30")
        assert replay.returncode == 0, replay.stderr + replay.stdout
        assert f"replayed {COUNT} messages in order, payloads intact" in replay.stdout
        too_many = run("replay", "--dir", aeron_dir, "--recording-id", "0", "--count", str(COUNT + 1),
                       "--timeout", "2")
        assert too_many.returncode == 1 and f"{COUNT} of {COUNT + 1}" in too_many.stderr
        unknown = run("replay", "--dir", aeron_dir, "--recording-id", "7", "--count", "1")
        assert unknown.returncode == 1 and "unknown recording id" in unknown.stderr
    finally:
        out = _stop(archive)
    assert archive.returncode == 0, out
    desc = run("archive-tool", str(tmp_path / "archive"), "describe")
    assert desc.returncode == 0, desc.stderr
    assert "Catalog capacity in bytes: 1048576" in desc.stdout and "recordingId=0|" in desc.stdout
    verify = run("archive-tool", str(tmp_path / "archive"), "verify")
    assert verify.returncode == 0 and "(recordingId=0) OK" in verify.stdout, verify.stdout
    assert run("archive-tool", str(tmp_path / "archive"), "count-entries").stdout.strip() == "1"


def test_kill_9_mid_recording_then_restart_replays_everything(driver_process: subprocess.Popen[str],
                                                              aeron_dir: str, tmp_path: Path) -> None:
    import struct
    import time

    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context
    from aeronpy.samples import PayloadFactory

    channel = "aeron:ipc?term-length=64k"
    archive_dir = tmp_path / "archive"
    archive = _archive(aeron_dir, archive_dir)
    assert run("recording", "start", "--dir", aeron_dir, "--channel", channel, "--stream", "5",
               "--local").returncode == 0
    with Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir)) as aeron:
        pub = aeron.add_exclusive_publication(channel, 5)
        factory = PayloadFactory(64)
        deadline = time.monotonic() + 30
        for i in range(5000):
            msg = factory.make(i)
            while pub.offer(msg) < 0:
                assert time.monotonic() < deadline, f"stuck at {i}"
                time.sleep(0.0002)
        end = pub.position
        reader = aeron.counters_reader
        found: list[int] = []
        while not found or reader.get_counter_value(found[0]) < end:
            found.clear()
            reader.for_each(lambda cid, type_id, key, label: found.append(cid) if type_id == 100 else None)
            assert time.monotonic() < deadline, "recording did not catch up"
            time.sleep(0.01)
        archive.send_signal(signal.SIGKILL)  # the recording is still active: no stop position in the catalog
        archive.communicate(timeout=10)
        # The crash happened "long ago": age the mark file's activity timestamp past the 10 s window.
        mark = archive_dir / "archive-mark.dat"
        raw = bytearray(mark.read_bytes())
        struct.pack_into("<q", raw, 16, int(time.time() * 1000) - 60_000)
        mark.write_bytes(bytes(raw))
        archive = _archive(aeron_dir, archive_dir)
        try:
            listed = run("recording", "list", "--dir", aeron_dir)
            assert f"stop={end}" in listed.stdout, listed.stdout
            replay = run("replay", "--dir", aeron_dir, "--recording-id", "0", "--count", "5000", "--timeout", "20")
            assert replay.returncode == 0, replay.stderr
        finally:
            _stop(archive)


def test_archive_tool_on_bad_directories(tmp_path: Path) -> None:
    missing = run("archive-tool", str(tmp_path / "nope"), "describe")
    assert missing.returncode == 1 and "not found" in missing.stderr
    (tmp_path / "archive.catalog").write_bytes(b"\x00\x01\x03\x00" + bytes(4))
    corrupt = run("archive-tool", str(tmp_path), "describe")
    assert corrupt.returncode == 1 and "truncated" in corrupt.stderr
    assert "Traceback" not in corrupt.stderr


def test_archive_refuses_bad_property(aeron_dir: str, tmp_path: Path) -> None:
    result = run("archive", "--dir", aeron_dir, "--archive-dir", str(tmp_path), "--with-driver",
                 "-D", "aeron.archive.segment.file.length=3m")
    assert result.returncode == 1 and "aeron.archive.segment.file.length" in result.stderr
    assert "Traceback" not in result.stderr
    assert os.path.exists(tmp_path)
