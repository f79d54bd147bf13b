"""Archive benchmarks: recording and replay throughput (32 B and 1 KB messages, MB/s and
msgs/s) next to the raw sequential write speed of the archive's file system, in one run.

Run: ``python benchmarks/archive.py [--messages N] [--archive-dir DIR]``.  One process: an
aeronpy driver (SHARED), an archive (SHARED) and the publisher/replay subscriber on the main
thread, so the numbers are what one Python interpreter achieves end to end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
import warnings

SHM = "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp"
STALL_S = 60.0  # give up on a case that makes no progress for this long


class Stalled(RuntimeError):
    """A benchmark case made no progress for STALL_S seconds."""


def _deadline() -> float:
    return time.monotonic() + STALL_S


def _check(deadline: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise Stalled(f"no progress for {STALL_S:.0f} s while {what}")


def raw_write_mb_s(directory: str, total: int, block: int = 1 << 20) -> float:
    path = os.path.join(directory, f"raw-{uuid.uuid4().hex}.bin")
    data = os.urandom(block)
    t0 = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        written = 0
        while written < total:
            written += os.pwrite(fd, data, written)
        os.fsync(fd)
    finally:
        os.close(fd)
        elapsed = time.perf_counter() - t0
        os.remove(path)
    return total / elapsed / 1e6


def run_case(aeron_dir: str, archive_dir: str, size: int, count: int, stream: int) -> tuple[float, float, int]:
    from aeronpy.archive.client import AeronArchive, AeronArchiveContext
    from aeronpy.archive.codecs import SourceLocation
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context

    channel = "aeron:ipc?term-length=16m"
    with Aeron.connect(Context.from_properties(aeron_dir=aeron_dir)) as aeron, \
            AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron)) as arc:
        arc.start_recording(channel, stream, SourceLocation.LOCAL)
        pub = aeron.add_exclusive_publication(channel, stream)
        deadline = _deadline()
        while not pub.is_connected:
            _check(deadline, "waiting for the recording subscription")
            time.sleep(0.001)
        rid = -1
        while rid < 0:
            _check(deadline, "waiting for the recording to start")
            found = arc.list_recordings_for_uri(0, 1000, "", stream)
            rid = found[-1].recording_id if found else -1
        msg = bytes(size)
        t0 = time.perf_counter()
        sent = 0
        deadline = _deadline()
        while sent < count:
            if pub.offer(msg) > 0:
                sent += 1
                deadline = _deadline()
            else:
                _check(deadline, f"publishing (sent {sent} of {count})")
                os.sched_yield()
        end = pub.position
        deadline = _deadline()
        while arc.get_max_recorded_position(rid) < end:
            _check(deadline, "waiting for the recording to catch up")
            time.sleep(0.0005)
        record_s = time.perf_counter() - t0
        arc.stop_recording(channel, stream)
        deadline = _deadline()
        while arc.get_stop_position(rid) < 0:
            _check(deadline, "waiting for the recording to stop")
            time.sleep(0.001)
        sub = arc.replay(rid, "aeron:ipc?term-length=16m", stream + 1000, 0, -2)
        got = [0]

        def on(b: object, o: int, n: int, h: object) -> None:
            got[0] += 1

        t1 = time.perf_counter()
        deadline = _deadline()
        while got[0] < count:
            if sub.poll(on, 1000) == 0:
                _check(deadline, f"replaying (received {got[0]} of {count})")
                os.sched_yield()
            else:
                deadline = _deadline()
        replay_s = time.perf_counter() - t1
        return record_s, replay_s, end


def main() -> None:
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--archive-dir", default=None, help="default: a temporary directory under /tmp")
    args = parser.parse_args()
    from aeronpy.archive.archive import Archive
    from aeronpy.archive.context import ArchiveContext
    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.media_driver import MediaDriver

    aeron_dir = os.path.join(SHM, f"aeronpy-bench-{uuid.uuid4().hex[:8]}")
    base = args.archive_dir or tempfile.mkdtemp(prefix="aeronpy-archive-bench-")
    archive_dir = os.path.join(base, "archive")
    os.makedirs(archive_dir, exist_ok=True)
    driver = MediaDriver.launch(DriverContext.from_properties(aeron_dir=aeron_dir, threading_mode="SHARED",
                                                              term_buffer_sparse_file=True))
    try:
        actx = ArchiveContext.from_properties(aeron_dir=aeron_dir, archive_dir=archive_dir,
                                              control_channel_enabled=False, replication_channel="",
                                              threading_mode="SHARED", low_storage_space_threshold=0)
        with Archive.launch(actx):
            print(f"{'case':<10}{'record msgs/s':>15}{'record MB/s':>13}{'replay msgs/s':>15}{'replay MB/s':>13}")
            for i, size in enumerate((32, 1024)):
                count = args.messages if size == 32 else max(1, args.messages // 4)
                rec_s, rep_s, nbytes = run_case(aeron_dir, archive_dir, size, count, 100 + i)
                print(f"{size:>5} B   {count / rec_s:>15,.0f}{nbytes / rec_s / 1e6:>13.1f}"
                      f"{count / rep_s:>15,.0f}{nbytes / rep_s / 1e6:>13.1f}")
        raw = raw_write_mb_s(archive_dir, 256 << 20)
        print(f"raw sequential write of the same file system ({archive_dir}): {raw:,.0f} MB/s (1 MiB blocks + fsync)")
    finally:
        driver.close()
        if args.archive_dir is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
