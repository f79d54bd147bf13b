"""LogStorage: every live log's full length is accounted against free space (no file system needed)."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from aeronpy.driver.log_storage import LogStorage, allocated_bytes
from aeronpy.errors import StorageSpaceError
from aeronpy.logbuffer import descriptor
from tests.conftest import SHM
from tests.fakes import FakeCounter

TERM = 64 * 1024
LOG = descriptor.compute_log_length(TERM, 4096)


@pytest.fixture
def directory(tmp_path: object) -> Iterator[str]:
    path = os.path.join(SHM, f"aeronpy-logstorage-{os.getpid()}-{id(tmp_path)}")
    os.makedirs(path)
    yield path
    for name in os.listdir(path):
        os.unlink(os.path.join(path, name))
    os.rmdir(path)


def make(directory: str, free: int, backed: dict[str, int] | None = None, checks: bool = True,
         warnings: list[str] | None = None, counter: FakeCounter | None = None) -> LogStorage:
    backed = backed if backed is not None else {}
    return LogStorage(
        directory, 4096, checks, 0, (warnings if warnings is not None else []).append, counter,
        free=lambda _: free, allocated=lambda path: backed.get(path, 0),
    )


def test_sparse_logs_promise_their_full_length(directory: str) -> None:
    storage = make(directory, free=2 * LOG + LOG // 2)
    storage.create(os.path.join(directory, "1.logbuffer"), TERM, sparse=True)
    storage.create(os.path.join(directory, "2.logbuffer"), TERM, sparse=True)
    with pytest.raises(StorageSpaceError, match="promised to 2 live logs"):
        storage.create(os.path.join(directory, "3.logbuffer"), TERM, sparse=True)
    assert not os.path.exists(os.path.join(directory, "3.logbuffer"))


def test_pages_already_backed_are_not_counted_twice(directory: str) -> None:
    backed: dict[str, int] = {}
    storage = make(directory, free=LOG + LOG // 2, backed=backed)
    first = os.path.join(directory, "1.logbuffer")
    storage.create(first, TERM, sparse=True)
    assert storage.promised_bytes() == LOG
    backed[first] = LOG  # fully written: the free space reported already excludes it
    storage.check(LOG)


def test_deleting_a_log_releases_its_promise_and_mapped_bytes(directory: str) -> None:
    counter = FakeCounter()
    storage = make(directory, free=LOG + 1, counter=counter)
    log = storage.create(os.path.join(directory, "1.logbuffer"), TERM, sparse=True)
    assert counter.value == LOG and storage.live_count() == 1
    with pytest.raises(StorageSpaceError):
        storage.check(LOG)
    storage.delete(log)
    assert counter.value == 0 and storage.live_count() == 0
    assert not os.path.exists(os.path.join(directory, "1.logbuffer"))
    storage.check(LOG)


def test_checks_off_skips_the_accounting(directory: str) -> None:
    storage = make(directory, free=0, checks=False)
    storage.create(os.path.join(directory, "1.logbuffer"), TERM, sparse=True)


def test_low_space_warns_about_what_remains_after_the_log(directory: str) -> None:
    warnings: list[str] = []
    storage = LogStorage(directory, 4096, True, 10 * LOG, warnings.append, free=lambda _: 3 * LOG,
                         allocated=lambda _: 0)
    storage.check(LOG)
    assert warnings and "running low" in warnings[0]


def test_allocated_bytes_reads_the_blocks_a_file_holds(directory: str) -> None:
    path = os.path.join(directory, "f")
    with open(path, "wb") as f:
        f.truncate(1 << 20)
    assert allocated_bytes(path) < 1 << 20  # sparse: nothing written yet
    with open(path, "r+b") as f:
        f.write(b"x" * 8192)
    assert allocated_bytes(path) >= 8192
    assert allocated_bytes(os.path.join(directory, "missing")) == 0
