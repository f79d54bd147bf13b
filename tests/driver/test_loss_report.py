"""Loss report writer and reader: layout per ipc-buffers.md §5."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.atomic_buffer import AtomicBuffer, PyAtomicBuffer
from aeronpy.driver.loss_report import LossReport, entry_length, read_loss_report

Entry = tuple[int, int, int, int, int, int, str, str]


def read_all(buffer: Any) -> list[Entry]:
    entries: list[Entry] = []

    def consume(*args: Any) -> None:
        entries.append(args)

    count = read_loss_report(buffer, consume)
    assert count == len(entries)
    return entries


@pytest.fixture(params=[AtomicBuffer, PyAtomicBuffer], ids=["c", "py"])
def buffer_type(request: pytest.FixtureRequest) -> Any:
    return request.param


def test_empty_report_reads_nothing(buffer_type: Any) -> None:
    assert read_all(buffer_type(bytearray(4096))) == []
    assert read_all(buffer_type(bytearray(0))) == []


def test_create_entry_layout_bytes(buffer_type: Any) -> None:
    raw = bytearray(1024)
    report = LossReport(buffer_type(raw))
    offset = report.create_entry(100, 1_700_000_000_123, -7, 1001, "aeron:udp?endpoint=x:1", "127.0.0.1:5")
    assert offset == 0

    def q(o: int) -> int:
        return int(struct.unpack_from("<q", raw, o)[0])

    def i(o: int) -> int:
        return int(struct.unpack_from("<i", raw, o)[0])

    assert q(0) == 1
    assert q(8) == 100
    assert q(16) == 1_700_000_000_123
    assert q(24) == 1_700_000_000_123
    assert i(32) == -7
    assert i(36) == 1001
    channel = b"aeron:udp?endpoint=x:1"  # L = 22, align(22, 4) = 24
    assert i(40) == len(channel)
    assert raw[44 : 44 + 22] == channel
    assert raw[66:68] == b"\0\0"  # padding
    assert i(44 + 24) == len(b"127.0.0.1:5")
    assert raw[72 : 72 + 11] == b"127.0.0.1:5"
    assert report.next_record_offset == 128  # align(40 + 28 + 4 + 11 = 83, 64)
    assert not any(raw[83:])
    # second entry at the next 64-byte boundary
    assert report.create_entry(1, 2, 3, 4, "c", "s") == 128
    assert q(128) == 1 and i(128 + 40) == 1 and raw[128 + 44] == ord("c")
    assert i(128 + 48) == 1 and raw[128 + 52] == ord("s")
    assert report.next_record_offset == 192


def test_observations_accumulate(buffer_type: Any) -> None:
    buffer = buffer_type(bytearray(4096))
    report = LossReport(buffer)
    a = report.create_entry(10, 1000, 1, 2, "aeron:udp?endpoint=a:1", "10.0.0.1:40000")
    b = report.create_entry(20, 1500, 3, 4, "aeron:udp?endpoint=b:2", "10.0.0.2:40001")
    report.record_observation(a, 5, 2000)
    report.record_observation(a, 7, 3000)
    report.record_observation(b, 1, 4000)
    report.record_observation(-1, 1, 5000)  # entry that could not be created: ignored
    assert read_all(buffer) == [
        (3, 22, 1000, 3000, 1, 2, "aeron:udp?endpoint=a:1", "10.0.0.1:40000"),
        (2, 21, 1500, 4000, 3, 4, "aeron:udp?endpoint=b:2", "10.0.0.2:40001"),
    ]


def test_full_buffer_returns_minus_one(buffer_type: Any) -> None:
    buffer = buffer_type(bytearray(128))
    report = LossReport(buffer)
    assert report.create_entry(1, 1, 1, 1, "c" * 20, "s" * 20) == 0  # needs 88 -> reserves 128
    assert report.create_entry(1, 1, 1, 1, "", "") == -1
    assert report.next_record_offset == 128
    assert len(read_all(buffer)) == 1


def test_exact_fit_and_one_byte_short(buffer_type: Any) -> None:
    need = 40 + 8 + 4 + 4  # L = 4, S = 4 -> 56 bytes
    assert LossReport(buffer_type(bytearray(need))).create_entry(1, 1, 1, 1, "abcd", "efgh") == 0
    assert LossReport(buffer_type(bytearray(need - 1))).create_entry(1, 1, 1, 1, "abcd", "efgh") == -1
    buf = buffer_type(bytearray(need))
    assert read_all(buf) == []  # still zero
    LossReport(buf).create_entry(3, 4, 5, 6, "abcd", "efgh")
    assert read_all(buf) == [(1, 3, 4, 4, 5, 6, "abcd", "efgh")]


def test_non_ascii_is_written_as_question_mark(buffer_type: Any) -> None:
    buffer = buffer_type(bytearray(256))
    LossReport(buffer).create_entry(1, 1, 1, 1, "aeron:udp?endpoint=é:1", "ü")
    assert read_all(buffer)[0][6:] == ("aeron:udp?endpoint=?:1", "?")


def test_reader_stops_at_malformed_entry() -> None:
    raw = bytearray(256)
    buffer = PyAtomicBuffer(raw)
    LossReport(buffer).create_entry(1, 1, 1, 1, "abc", "def")
    struct.pack_into("<q", raw, 64, 1)  # a count with a hostile channel length
    struct.pack_into("<i", raw, 64 + 40, 10_000)
    assert len(read_all(buffer)) == 1
    struct.pack_into("<i", raw, 64 + 40, -1)
    assert len(read_all(buffer)) == 1


def test_reader_uses_writer_step_when_c_step_differs() -> None:
    # L = 13, S = 15: writer reserves align(40 + 20 + 4 + 15 = 79, 64) = 128; the C reader's
    # step align(48 + 13 + 15 = 76, 64) = 128 too; pick L = 1, S = 15: writer 40+8+4+15 = 67
    # -> 128, C 48+1+15 = 64 -> 64.  Our reader must find the second entry at 128.
    buffer = PyAtomicBuffer(bytearray(512))
    report = LossReport(buffer)
    assert report.create_entry(1, 1, 1, 1, "x", "s" * 15) == 0
    assert entry_length(1, 15) == 128
    assert report.create_entry(2, 2, 2, 2, "second", "src") == 128
    assert [e[6] for e in read_all(buffer)] == ["x", "second"]


_ascii = st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=127), max_size=80)


@settings(max_examples=60, deadline=None)
@given(entries=st.lists(st.tuples(_ascii, _ascii, st.integers(-(2**31), 2**31 - 1)), max_size=12))
def test_round_trip_any_ascii_strings(entries: list[tuple[str, str, int]]) -> None:
    buffer = AtomicBuffer(bytearray(2048))
    report = LossReport(buffer)
    expected: list[Entry] = []
    offset_expected = 0
    for n, (channel, source, session_id) in enumerate(entries):
        offset = report.create_entry(n, 1000 + n, session_id, n, channel, source)
        if offset < 0:
            assert offset_expected + 40 + ((4 + len(channel) + 3) & ~3) + 4 + len(source) > 2048
            break
        assert offset == offset_expected and offset % 64 == 0
        offset_expected += entry_length(len(channel), len(source))
        expected.append((1, n, 1000 + n, 1000 + n, session_id, n, channel, source))
    assert read_all(buffer) == expected
