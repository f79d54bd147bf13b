"""archive.catalog: the 3.1 layout byte for byte, index, growth, mutations, reopen, corruption."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.archive.catalog import CATALOG_FILE_NAME, Catalog, checksum_function, crc32c
from aeronpy.archive.codecs import RecordingState
from aeronpy.archive.errors import CatalogError


def _add(cat: Catalog, original: str = "aeron:ipc?term-length=64k", stripped: str = "aeron:ipc",
         source: str = "aeron:ipc", start: int = 0) -> int:
    return cat.add_recording(start, 1000, 7, 128 * 1024 * 1024, 65536, 1408, 99, 1001, stripped, original, source)


def test_new_catalog_layout_matches_spec(tmp_path: Path) -> None:
    with Catalog(str(tmp_path)) as cat:
        assert cat.capacity == 1024 * 1024
        assert _add(cat) == 0
    raw = (tmp_path / CATALOG_FILE_NAME).read_bytes()
    assert len(raw) == 1024 * 1024
    version, length, next_id, alignment = struct.unpack_from("<iiqi", raw, 0)
    assert (version, length, next_id, alignment) == (0x00030100, 32, 1, 64)
    assert raw[20:32] == bytes(12)
    # The spec's example: 32 + 80 + 12 + 43 = 167 -> frame 192, length 160.
    e_len, state, checksum = struct.unpack_from("<iii", raw, 32)
    assert (e_len, state, checksum) == (160, 1, 0)
    assert raw[44:64] == bytes(20)
    fields = struct.unpack_from("<qqqqqqqiiiiii", raw, 64)
    assert fields == (0, 0, 0, 1000, -1, 0, -1, 7, 128 * 1024 * 1024, 65536, 1408, 99, 1001)
    off = 64 + 80
    strings = []
    for _ in range(3):
        (n,) = struct.unpack_from("<I", raw, off)
        strings.append(raw[off + 4 : off + 4 + n].decode())
        off += 4 + n
    assert strings == ["aeron:ipc", "aeron:ipc?term-length=64k", "aeron:ipc"]
    assert raw[off : 32 + 192] == bytes(32 + 192 - off)
    assert struct.unpack_from("<i", raw, 32 + 192)[0] == 0  # end marker


def test_mutations_and_reopen(tmp_path: Path) -> None:
    with Catalog(str(tmp_path)) as cat:
        ids = [_add(cat) for _ in range(3)]
        assert ids == [0, 1, 2]
        cat.recording_stopped(0, 4096, 2000)
        cat.update_start_position(1, 1024)
        cat.extend_recording(0, 55, 66, 77)
        cat.change_state(2, RecordingState.DELETED)
        assert cat.recording_ids() == [0, 1]
    with Catalog(str(tmp_path)) as cat:
        assert cat.recording_ids() == [0, 1]
        assert cat.next_recording_id == 3
        e0 = cat.entry(0)
        assert (e0.stop_position, e0.stop_timestamp, e0.control_session_id, e0.correlation_id, e0.session_id) == (
            -1, -1, 55, 66, 77)
        assert cat.entry(1).start_position == 1024
        assert cat.get(2) is None
        assert [e.state for e in cat.entries()] == [1, 1, 2]
        assert _add(cat) == 3  # ids never reused


def test_grows_by_half_when_full(tmp_path: Path) -> None:
    with Catalog(str(tmp_path), capacity=1024) as cat:
        for _ in range(20):
            _add(cat)
        assert cat.capacity > 1024
        assert len(cat.recording_ids()) == 20
    with Catalog(str(tmp_path), capacity=1024) as cat:
        assert len(cat.recording_ids()) == 20


def test_replace_channels_shifts_later_entries(tmp_path: Path) -> None:
    with Catalog(str(tmp_path)) as cat:
        for _ in range(3):
            _add(cat)
        long = "aeron:udp?endpoint=localhost:8010|alias=" + "x" * 200
        cat.replace_channels(1, long, "aeron:udp?endpoint=localhost:8010")
        assert cat.entry(1).original_channel == long
        assert cat.entry(2).original_channel == "aeron:ipc?term-length=64k"
        cat.replace_channels(1, "aeron:ipc", "aeron:ipc")
        assert cat.entry(1).original_channel == "aeron:ipc"
    with Catalog(str(tmp_path)) as cat:
        assert [cat.entry(i).recording_id for i in range(3)] == [0, 1, 2]


def test_replace_recording_rewrites_every_parameter(tmp_path: Path) -> None:
    with Catalog(str(tmp_path)) as cat:
        for _ in range(2):
            _add(cat)
        cat.replace_recording(0, start_position=4096, stop_position=4096, initial_term_id=-5,
                              term_buffer_length=1 << 20, mtu_length=8192, session_id=5, stream_id=42,
                              source_identity="127.0.0.1:5555 " + "y" * 100)
        with pytest.raises(ValueError, match="cannot replace"):
            cat.replace_recording(0, offset=9)
    with Catalog(str(tmp_path)) as cat:
        e = cat.entry(0)
        assert (e.start_position, e.stop_position, e.initial_term_id, e.term_buffer_length, e.mtu_length,
                e.session_id, e.stream_id) == (4096, 4096, -5, 1 << 20, 8192, 5, 42)
        assert e.source_identity.endswith("y" * 100) and cat.entry(1).stream_id == 1001


def test_descriptor_checksums(tmp_path: Path) -> None:
    crc = checksum_function("CRC-32")
    assert crc is not None
    with Catalog(str(tmp_path), checksum=crc) as cat:
        _add(cat)
        cat.recording_stopped(0, 64, 5)
        e = cat.entry(0)
        assert e.checksum == crc(cat.descriptor_bytes(0))
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value


def test_rejects_wrong_version_truncation_and_corruption(tmp_path: Path) -> None:
    path = tmp_path / CATALOG_FILE_NAME
    with Catalog(str(tmp_path)) as cat:
        _add(cat)
    raw = bytearray(path.read_bytes())
    bad = bytearray(raw)
    struct.pack_into("<i", bad, 0, 0x00040000)
    path.write_bytes(bad)
    with pytest.raises(CatalogError, match="incompatible catalog file version 4.0.0"):
        Catalog(str(tmp_path))
    path.write_bytes(raw[:100])
    with pytest.raises(CatalogError, match="corrupt"):
        Catalog(str(tmp_path), writable=False)
    path.write_bytes(raw[:10])
    with pytest.raises(CatalogError, match="truncated"):
        Catalog(str(tmp_path))
    bad = bytearray(raw)
    struct.pack_into("<I", bad, 64 + 80, 10_000)  # stripped channel length beyond the entry
    path.write_bytes(bad)
    with pytest.raises(CatalogError, match="corrupt"):
        Catalog(str(tmp_path))


def test_missing_read_only_catalog(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not found"):
        Catalog(str(tmp_path), writable=False)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.text("abc:?=|", max_size=80), st.text("xyz", max_size=40)), min_size=1, max_size=12),
       st.data())
def test_random_histories_reopen_identically(tmp_path_factory: pytest.TempPathFactory,
                                            chans: list[tuple[str, str]], data: st.DataObject) -> None:
    d = str(tmp_path_factory.mktemp("cat"))
    with Catalog(d, capacity=512) as cat:
        for original, source in chans:
            rid = _add(cat, original=original, stripped=original[:10], source=source)
            if data.draw(st.booleans()):
                cat.recording_stopped(rid, data.draw(st.integers(0, 1 << 40)) * 32, 9)
        before = list(cat.entries())
    with Catalog(d) as cat:
        assert list(cat.entries()) == before
    os.remove(os.path.join(d, CATALOG_FILE_NAME))
