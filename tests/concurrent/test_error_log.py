"""Distinct error log: records, observations, timestamps, reading, full buffer."""

from __future__ import annotations

import errno
import os
import threading
from typing import Any

import pytest

from aeronpy.concurrent.atomic_buffer import HAVE_C_EXTENSION, AtomicBuffer
from aeronpy.concurrent.error_log import (
    ENCODED_ERROR_OFFSET,
    FIRST_OBSERVATION_TIMESTAMP_OFFSET,
    LAST_OBSERVATION_TIMESTAMP_OFFSET,
    LENGTH_OFFSET,
    OBSERVATION_COUNT_OFFSET,
    DistinctErrorLog,
    describe_error_code,
    encode_error,
    error_log_exists,
    exception_location,
    read_error_log,
)
from tests.fakes import FakeClock



def read_all(buffer: Any, since: int = 0) -> list[tuple[int, int, int, str]]:
    out: list[tuple[int, int, int, str]] = []
    n = read_error_log(buffer, lambda c, f, last, t: out.append((c, f, last, t)), since)
    assert n == len(out)
    return out


def test_record_layout_and_observations(impl: Any) -> None:
    buf = impl(bytearray(1024))
    clock = FakeClock(1_000)
    log = DistinctErrorLog(buf, clock)
    assert not error_log_exists(buf)
    assert log.record_text(-1, "first error")
    assert error_log_exists(buf)
    assert buf.get_int32(LENGTH_OFFSET) == 24 + 11
    assert buf.get_int32(OBSERVATION_COUNT_OFFSET) == 1
    assert buf.get_int64(LAST_OBSERVATION_TIMESTAMP_OFFSET) == 1_000
    assert buf.get_int64(FIRST_OBSERVATION_TIMESTAMP_OFFSET) == 1_000
    assert buf.get_bytes(ENCODED_ERROR_OFFSET, 11) == b"first error"
    clock.now = 2_000
    assert log.record_text(-1, "first error")
    assert log.record_text(-2, "first error")  # distinct by code too
    clock.now = 3_000
    assert log.record_text(-1, "second")
    assert log.num_observations == 3
    second_offset = 40  # align(35, 8)
    assert buf.get_int32(second_offset) == 24 + 11
    assert read_all(buf) == [
        (2, 1_000, 2_000, "first error"),
        (1, 2_000, 2_000, "first error"),
        (1, 3_000, 3_000, "second"),
    ]
    assert read_all(buf, since=2_500) == [(1, 3_000, 3_000, "second")]


def test_full_buffer_returns_false_and_keeps_records(
    impl: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    buf = impl(bytearray(128))
    clock = FakeClock(5)
    log = DistinctErrorLog(buf, clock)
    assert log.record_text(1, "a" * 40)  # 64 bytes
    assert log.record_text(2, "b" * 30)  # 54 -> next at 120
    assert not log.record_text(3, "does not fit")
    assert "unrecordable error does not fit" in capsys.readouterr().err
    clock.now = 9
    assert log.record_text(1, "a" * 40)  # existing records still observable
    assert read_all(buf) == [(2, 5, 9, "a" * 40), (1, 5, 5, "b" * 30)]
    assert log.num_observations == 2


def test_exactly_full_buffer_reads_cleanly(impl: Any) -> None:
    buf = impl(bytearray(64))
    log = DistinctErrorLog(buf, FakeClock())
    assert log.record_text(1, "x" * 40)
    assert read_all(buf) == [(1, 1_000, 1_000, "x" * 40)]
    assert not log.record_text(2, "")


def test_record_encodes_like_the_c_driver(impl: Any) -> None:
    buf = impl(bytearray(4096))
    log = DistinctErrorLog(buf, FakeClock())

    def on_command() -> None:
        assert log.record(-1, "invalid channel URI: foo")

    on_command()
    (count, _, _, text), = read_all(buf)
    assert count == 1
    lines = text.split("\n")
    assert lines[0] == "(-1) invalid channel"
    assert lines[1].startswith("[on_command, test_error_log.py:")
    assert lines[1].endswith("] invalid channel URI: foo")
    assert lines[2] == ""
    assert log.record(errno.ENOSPC, "no room", location="fn, file.c:12")
    assert read_all(buf)[1][3] == f"({errno.ENOSPC}) {os.strerror(errno.ENOSPC)}\n[fn, file.c:12] no room\n"


def test_describe_and_encode() -> None:
    assert describe_error_code(0) == "generic error, see message"
    assert describe_error_code(-11) == "generic error, see message"
    assert describe_error_code(-6) == "unknown command type id"
    assert describe_error_code(-1004) == "driver command buffer full"
    assert describe_error_code(-999) == "unknown error code"
    assert describe_error_code(errno.EINVAL) == os.strerror(errno.EINVAL)
    assert encode_error(-5, "m", "f, x.py:1") == "(-5) unknown counter\n[f, x.py:1] m\n"
    long = encode_error(-5, "z" * 10_000, "f, x.py:1")
    assert len(long.encode()) == 8191
    assert long.endswith("...\n")


def test_exception_location() -> None:
    def inner() -> None:
        raise ValueError("bad")

    try:
        inner()
    except ValueError as ex:
        loc = exception_location(ex)
    assert loc.startswith("inner, test_error_log.py:")


@pytest.mark.skipif(not HAVE_C_EXTENSION, reason="needs the C AtomicBuffer's atomic add")
def test_concurrent_recording_counts_every_observation() -> None:
    buf = AtomicBuffer(bytearray(8192))
    log = DistinctErrorLog(buf, FakeClock())
    threads_n, per_thread = 4, 300

    def worker(i: int) -> None:
        for j in range(per_thread):
            log.record_text(-11, f"error {j % 5}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    records = read_all(buf)
    assert len(records) == 5
    assert sum(r[0] for r in records) == threads_n * per_thread
    assert sorted(r[3] for r in records) == [f"error {k}" for k in range(5)]
