from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from aeronpy.concurrent.atomic_buffer import PyAtomicBuffer
from aeronpy.errors import StorageSpaceError
from aeronpy.logbuffer import descriptor as d
from aeronpy.logbuffer.log_buffers import LogBufferError, LogBuffers


@pytest.mark.parametrize("sparse", [True, False])
def test_create_and_map(tmp_path: Path, sparse: bool) -> None:
    path = str(tmp_path / "1.logbuffer")
    with LogBuffers.create(path, 65536, sparse=sparse) as lb:
        assert os.path.getsize(path) == 200704 == lb.file_length
        assert lb.term_length == 65536 and lb.page_size == 4096
        assert [tb.capacity for tb in lb.term_buffers] == [65536] * 3
        d.write_log_metadata(
            lb.metadata, correlation_id=1, initial_term_id=-9, mtu_length=1408, term_length=65536,
            page_size=4096, session_id=3, stream_id=4,
        )
        lb.term_buffers[2].put_int64(65536 - 8, 0x55)
    with LogBuffers.map(path, buffer_factory=PyAtomicBuffer) as lb2:
        assert lb2.initial_term_id == -9 and lb2.mtu_length == 1408
        assert lb2.term_buffers[2].get_int64(65536 - 8) == 0x55
        assert lb2.metadata.get_int32(d.LOG_TERM_LENGTH_OFFSET) == 65536
    with open(path, "rb") as f:
        data = f.read()
    assert data[3 * 65536 + 276 : 3 * 65536 + 280] == (65536).to_bytes(4, "little")


def test_large_page_size_metadata_at_end(tmp_path: Path) -> None:
    path = str(tmp_path / "p.logbuffer")
    with LogBuffers.create(path, 65536, page_size=1 << 16) as lb:
        assert lb.file_length == 4 * 65536
        lb.metadata.put_int64(0, 0x77)
    with open(path, "rb") as f:
        f.seek(4 * 65536 - 4096)
        assert int.from_bytes(f.read(8), "little") == 0x77
    with LogBuffers.map(path) as lb:
        assert lb.page_size == 1 << 16


def test_close_idempotent_and_released(tmp_path: Path) -> None:
    lb = LogBuffers.create(str(tmp_path / "c.logbuffer"), 65536)
    tb = lb.term_buffers[0]
    lb.close()
    lb.close()
    assert lb.is_closed
    with pytest.raises(ValueError):
        tb.get_int32(0)


def test_map_truncated_and_foreign(tmp_path: Path) -> None:
    short = tmp_path / "short.logbuffer"
    short.write_bytes(b"\0" * 4096)
    with pytest.raises(LogBufferError, match="truncated"):
        LogBuffers.map(str(short))
    foreign = tmp_path / "foreign.logbuffer"
    foreign.write_bytes(b"\x01" * 200704)
    with pytest.raises(LogBufferError, match="invalid log buffer"):
        LogBuffers.map(str(foreign))
    path = str(tmp_path / "ok.logbuffer")
    LogBuffers.create(path, 65536).close()
    with open(path, "r+b") as f:
        f.truncate(200704 + 4096)
    with pytest.raises(LogBufferError):
        LogBuffers.map(str(path))


def test_create_rejects_bad_lengths(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="power of 2"):
        LogBuffers.create(str(tmp_path / "x"), 65536 + 32)
    assert not (tmp_path / "x").exists()


def test_create_no_space_removes_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(fd: int, off: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", no_space)
    path = tmp_path / "full.logbuffer"
    with pytest.raises(StorageSpaceError) as ei:
        LogBuffers.create(str(path), 65536, sparse=False)
    assert str(path) in str(ei.value) and "200704" in str(ei.value)
    assert ei.value.errno == errno.ENOSPC
    assert not path.exists()
