"""cnc.dat layout, creation, client mapping and driver liveness."""

from __future__ import annotations

import errno
import os
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy import cnc
from aeronpy.cnc import CncFile, compute_cnc_file_length, is_driver_active
from aeronpy.errors import CncError, StorageSpaceError

SMALL: dict[str, Any] = dict(
    to_driver_buffer_length=4096 + 768,
    to_clients_buffer_length=4096 + 128,
    counters_values_buffer_length=8192,
    error_log_buffer_length=4096,
)


def _create(path: Path, **kw: Any) -> CncFile:
    args = dict(SMALL)
    args.update(
        client_liveness_timeout_ns=10_000_000_000,
        start_timestamp_ms=1_700_000_000_000,
        pid=4242,
        file_page_size=4096,
    )
    args.update(kw)
    return CncFile.create(str(path), **args)


def _heartbeat_offset(to_driver_length: int) -> int:
    return 128 + (to_driver_length - 768) + 640


def test_versions() -> None:
    assert cnc.CNC_VERSION == 0x200 == cnc.semantic_version(0, 2, 0)
    v = cnc.semantic_version(1, 2, 3)
    assert (cnc.version_major(v), cnc.version_minor(v), cnc.version_patch(v)) == (1, 2, 3)
    assert cnc.version_string(cnc.CNC_VERSION) == "0.2.0"


def test_default_layout_numbers(tmp_path: Path) -> None:
    assert cnc.TO_DRIVER_BUFFER_LENGTH_DEFAULT == 1049344
    assert cnc.TO_CLIENTS_BUFFER_LENGTH_DEFAULT == 1048704
    assert cnc.counters_metadata_buffer_length(cnc.COUNTERS_VALUES_BUFFER_LENGTH_DEFAULT) == 33554432
    assert compute_cnc_file_length(1049344, 1048704, 8388608, 4194304, 4096) == 48238592

    path = tmp_path / "cnc.dat"
    with CncFile.create(str(path), start_timestamp_ms=1, pid=2) as f:
        assert f.file_length == 48238592 == os.path.getsize(path)
        sections = [
            f.to_driver_buffer,
            f.to_clients_buffer,
            f.counters_metadata_buffer,
            f.counters_values_buffer,
            f.error_log_buffer,
        ]
        for i, section in enumerate(sections):
            section.put_int64(0, 0x1111 * (i + 1))
        assert [s.capacity for s in sections] == [1049344, 1048704, 33554432, 8388608, 4194304]
        assert f.header.capacity == 128
        assert f.client_liveness_timeout_ns == 10_000_000_000 and f.file_page_size == 4096
    raw = path.read_bytes()
    for i, offset in enumerate([128, 1049472, 2098176, 35652608, 44041216]):
        assert struct.unpack_from("<q", raw, offset)[0] == 0x1111 * (i + 1)
    # header fields at their documented offsets; version not written yet
    assert struct.unpack_from("<iiiiii", raw, 0) == (0, 1049344, 1048704, 33554432, 8388608, 4194304)
    assert struct.unpack_from("<qqqi", raw, 24) == (10_000_000_000, 1, 2, 4096)
    assert raw[52:128] == bytes(76)


@settings(max_examples=15, deadline=None)
@given(
    td=st.sampled_from([1024, 4096, 65536]),
    tc=st.sampled_from([1024, 8192]),
    cv=st.sampled_from([1024, 4096, 16384]),
    el=st.integers(0, 10_000),
    page=st.sampled_from([4096, 8192, 65536]),
    liveness=st.integers(1, 2**62),
    ts=st.integers(0, 2**62),
    pid=st.integers(1, 2**31),
)
def test_create_map_round_trip_custom(
    tmp_path_factory: pytest.TempPathFactory,
    td: int,
    tc: int,
    cv: int,
    el: int,
    page: int,
    liveness: int,
    ts: int,
    pid: int,
) -> None:
    path = tmp_path_factory.mktemp("cnc") / "cnc.dat"
    lengths = dict(
        to_driver_buffer_length=td + 768,
        to_clients_buffer_length=tc + 128,
        counters_values_buffer_length=cv,
        error_log_buffer_length=el,
    )
    with _create(
        path,
        **lengths,
        client_liveness_timeout_ns=liveness,
        start_timestamp_ms=ts,
        pid=pid,
        file_page_size=page,
    ) as driver:
        expected_length = compute_cnc_file_length(td + 768, tc + 128, cv, el, page)
        assert driver.file_length == expected_length == os.path.getsize(path)
        assert expected_length % page == 0
        assert driver.cnc_version == 0
        driver.signal_ready()
        with CncFile.map(str(path)) as client:
            assert client.cnc_version == cnc.CNC_VERSION
            assert client.file_length == expected_length
            assert client.client_liveness_timeout_ns == liveness
            assert client.start_timestamp_ms == ts
            assert client.pid == pid
            assert client.file_page_size == page
            assert client.to_driver_buffer.capacity == td + 768
            assert client.to_clients_buffer.capacity == tc + 128
            assert client.counters_metadata_buffer.capacity == 4 * cv
            assert client.counters_values_buffer.capacity == cv
            assert client.error_log_buffer.capacity == el
            # shared memory: a write through one mapping is seen through the other
            driver.counters_values_buffer.put_int64_ordered(0, 99)
            assert client.counters_values_buffer.get_int64_volatile(0) == 99
            client.to_driver_buffer.put_int64(0, 7)
            assert driver.to_driver_buffer.get_int64(0) == 7


def test_heartbeat_offset(tmp_path: Path) -> None:
    path = tmp_path / "cnc.dat"
    with _create(path) as f:
        f.signal_ready()
        f.to_driver_buffer.put_int64_ordered(SMALL["to_driver_buffer_length"] - 768 + 640, 12345)
        assert f.to_driver_heartbeat_ms() == 12345
    raw = path.read_bytes()
    assert struct.unpack_from("<q", raw, _heartbeat_offset(SMALL["to_driver_buffer_length"]))[0] == 12345


def test_close_is_idempotent_and_releases(tmp_path: Path) -> None:
    f = _create(tmp_path / "cnc.dat")
    buf = f.to_driver_buffer
    f.close()
    f.close()
    assert f.is_closed
    with pytest.raises(ValueError):
        buf.get_int64(0)


# ------------------------------------------------------------------ map errors


def test_map_missing(tmp_path: Path) -> None:
    with pytest.raises(CncError, match="not created"):
        CncFile.map(str(tmp_path / "cnc.dat"))


@pytest.mark.parametrize("size", [0, 64, 128])
def test_map_too_short(tmp_path: Path, size: int) -> None:
    path = tmp_path / "cnc.dat"
    path.write_bytes(bytes(size))
    with pytest.raises(CncError, match="not created"):
        CncFile.map(str(path))


def test_map_version_zero(tmp_path: Path) -> None:
    path = tmp_path / "cnc.dat"
    _create(path).close()
    with pytest.raises(CncError, match="created but not initialised"):
        CncFile.map(str(path))


@pytest.mark.parametrize("major", [1, 2, 255])
def test_map_wrong_major(tmp_path: Path, major: int) -> None:
    path = tmp_path / "cnc.dat"
    with _create(path) as f:
        f.header.put_int32_ordered(0, cnc.semantic_version(major, 2, 0))
    with pytest.raises(CncError, match=rf"CnC version not compatible: file={major}\.2\.0 client=0\.2\.0"):
        CncFile.map(str(path))


def test_map_other_minor_is_compatible(tmp_path: Path) -> None:
    path = tmp_path / "cnc.dat"
    with _create(path) as f:
        f.header.put_int32_ordered(0, cnc.semantic_version(0, 3, 1))
    with CncFile.map(str(path)) as m:
        assert m.cnc_version == 0x301


def test_map_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cnc.dat"
    with _create(path) as f:
        f.signal_ready()
    os.truncate(path, 4096)
    with pytest.raises(CncError, match="stale or foreign cnc.dat"):
        CncFile.map(str(path))


@pytest.mark.parametrize(
    ("offset", "value"), [(4, -5), (8, 10**9), (16, -1), (20, 2**31 - 1), (4, 100), (8, 4)]
)
def test_map_foreign_lengths(tmp_path: Path, offset: int, value: int) -> None:
    path = tmp_path / "cnc.dat"
    with _create(path) as f:
        f.header.put_int32(offset, value)
        f.signal_ready()
    with pytest.raises(CncError, match="stale or foreign cnc.dat"):
        CncFile.map(str(path))


def test_create_enospc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)
    path = tmp_path / "cnc.dat"
    with pytest.raises(StorageSpaceError, match="insufficient space") as info:
        _create(path)
    assert info.value.errno == errno.ENOSPC
    assert not path.exists()


def test_create_replaces_existing(tmp_path: Path) -> None:
    path = tmp_path / "cnc.dat"
    path.write_bytes(b"\xff" * 100_000)
    with _create(path) as f:
        assert f.cnc_version == 0
        assert f.counters_values_buffer.get_bytes(0, 64) == bytes(64)


# ------------------------------------------------------------------ liveness


def _driver(tmp_path: Path, heartbeat: int | None) -> CncFile:
    f = _create(tmp_path / "cnc.dat")
    if heartbeat is not None:
        f.to_driver_buffer.put_int64_ordered(SMALL["to_driver_buffer_length"] - 768 + 640, heartbeat)
    f.signal_ready()
    return f


def test_is_driver_active_fresh(tmp_path: Path) -> None:
    with _driver(tmp_path, 1_000_000):
        assert is_driver_active(str(tmp_path), 10_000, 1_000_000)
        assert is_driver_active(str(tmp_path), 10_000, 1_010_000)  # age == timeout
        assert not is_driver_active(str(tmp_path), 10_000, 1_010_001)


def test_is_driver_active_old(tmp_path: Path) -> None:
    with _driver(tmp_path, 1_000):
        assert not is_driver_active(str(tmp_path), 10_000, 1_000_000)


def test_is_driver_active_shutdown(tmp_path: Path) -> None:
    with _driver(tmp_path, -1):
        assert not is_driver_active(str(tmp_path), 10_000, 1_000_000)


def test_is_driver_active_missing_or_uninitialised(tmp_path: Path) -> None:
    assert not is_driver_active(str(tmp_path / "nope"), 10_000, 0)
    assert not is_driver_active(str(tmp_path), 10_000, 0)
    with _create(tmp_path / "cnc.dat") as f:
        f.to_driver_buffer.put_int64(SMALL["to_driver_buffer_length"] - 768 + 640, 5)
        assert not is_driver_active(str(tmp_path), 10_000, 5)


@settings(max_examples=30, deadline=None)
@given(garbage=st.binary(min_size=0, max_size=600))
def test_is_driver_active_garbage_never_raises(
    tmp_path_factory: pytest.TempPathFactory, garbage: bytes
) -> None:
    d = tmp_path_factory.mktemp("garbage")
    # a plausible version so validation reaches the length checks some of the time
    data = bytearray(garbage)
    if len(data) >= 4 and data[0] & 1:
        struct.pack_into("<i", data, 0, cnc.CNC_VERSION)
    (d / "cnc.dat").write_bytes(bytes(data))
    assert is_driver_active(str(d), 10_000, 0) in (True, False)


def test_is_driver_active_misaligned_heartbeat_does_not_raise(tmp_path: Path) -> None:
    with _create(tmp_path / "cnc.dat") as f:
        f.header.put_int32(4, SMALL["to_driver_buffer_length"] + 1)  # odd length, still fits
        f.header.put_int32(8, SMALL["to_clients_buffer_length"] - 1)
        f.signal_ready()
    assert is_driver_active(str(tmp_path), 10_000, 0) is False
