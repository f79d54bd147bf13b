"""Fixtures: an embedded driver + archive + Aeron client + archive client per test."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aeronpy.archive.archive import Archive
from aeronpy.archive.client import AeronArchive, AeronArchiveContext
from aeronpy.archive.context import ArchiveContext


@pytest.fixture
def archive_factory(driver: Any, aeron_dir: str, tmp_path: Path) -> Iterator[Callable[..., Archive]]:
    archives: list[Archive] = []

    def make(**overrides: Any) -> Archive:
        settings: dict[str, Any] = dict(
            aeron_dir=aeron_dir, archive_dir=str(tmp_path / "archive"), control_channel_enabled=False,
            replication_channel="", threading_mode="SHARED", segment_file_length=64 * 1024,
            low_storage_space_threshold=0, idle_strategy="sleep-ns",
        )
        settings.update(overrides)
        a = Archive.launch(ArchiveContext.from_properties(env={}, **settings))
        archives.append(a)
        return a

    yield make
    for a in archives:
        a.close()


@pytest.fixture
def archive(archive_factory: Callable[..., Archive]) -> Archive:
    return archive_factory()


@pytest.fixture
def aeron(client_factory: Callable[..., Any]) -> Any:
    return client_factory()


@pytest.fixture
def archive_client(archive: Archive, aeron: Any, aeron_dir: str) -> Iterator[AeronArchive]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron))
    yield client
    client.close()
