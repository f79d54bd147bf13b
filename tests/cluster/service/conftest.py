"""Fixtures: a driver, a client for the scripted consensus module, and containers hosting a
recording service; an embedded archive for snapshot tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aeronpy.cluster.service import ClusteredService, ClusteredServiceContainer, ServiceContainerContext
from tests.cluster.service.fake_cm import FakeConsensusModule


class RecordingService(ClusteredService):
    """Records every callback; ``hooks[name](service, *args)`` run inside a callback."""

    def __init__(self, hooks: dict[str, Callable[..., Any]] | None = None) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.hooks = hooks or {}
        self.cluster: Any = None
        self.background_calls = 0
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()

    def _record(self, name: str, *args: Any) -> None:
        with self.lock:
            self.events.append((name, *args))
        hook = self.hooks.get(name)
        if hook is not None:
            hook(self, *args)

    def on_start(self, cluster: Any, snapshot_image: Any | None) -> None:
        self.cluster = cluster
        self._record("start", snapshot_image)

    def on_session_open(self, session: Any, timestamp: int) -> None:
        self._record("open", session.id, timestamp, session.response_channel, session.encoded_principal)

    def on_session_close(self, session: Any, timestamp: int, close_reason: Any) -> None:
        self._record("close", session.id, timestamp, close_reason)

    def on_session_message(self, session: Any, timestamp: int, buffer: Any, offset: int, length: int,
                           header: Any) -> None:
        self._record("message", None if session is None else session.id, timestamp,
                     buffer.get_bytes(offset, length), self.cluster.log_position)

    def on_timer_event(self, correlation_id: int, timestamp: int) -> None:
        self._record("timer", correlation_id, timestamp)

    def on_take_snapshot(self, snapshot_publication: Any) -> None:
        self._record("snapshot", snapshot_publication)

    def on_role_change(self, new_role: Any) -> None:
        self._record("role", new_role)

    def on_terminate(self, cluster: Any) -> None:
        self._record("terminate")

    def on_new_leadership_term_event(self, *args: Any) -> None:
        self._record("term", *args)

    def do_background_work(self, now_ns: int) -> int:
        self.background_calls += 1
        hook = self.hooks.get("background")
        if hook is not None:
            hook(self, now_ns)
        return 0

    def names(self) -> list[str]:
        with self.lock:
            return [e[0] for e in self.events]

    def of(self, name: str) -> list[tuple[Any, ...]]:
        with self.lock:
            return [e for e in self.events if e[0] == name]

    def await_event(self, name: str, count: int = 1, timeout: float = 10.0) -> list[tuple[Any, ...]]:
        deadline = time.monotonic() + timeout
        while len(self.of(name)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"service saw {self.names()} within {timeout}s, wanted {count} x {name}")
            time.sleep(0.001)
        return self.of(name)

    def await_cycles(self, cycles: int = 20, timeout: float = 10.0) -> None:
        """Let the container run at least ``cycles`` more duty cycles."""
        target = self.background_calls + cycles
        deadline = time.monotonic() + timeout
        while self.background_calls < target:
            if time.monotonic() > deadline:
                raise AssertionError("container stopped cycling")
            time.sleep(0.001)


@pytest.fixture
def cm_client(client_factory: Callable[..., Any], driver: Any) -> Any:
    return client_factory()


@pytest.fixture
def fake_cm(cm_client: Any) -> Iterator[FakeConsensusModule]:
    cm = FakeConsensusModule(cm_client)
    yield cm
    cm.close()


@pytest.fixture
def container_factory(aeron_dir: str, tmp_path: Path) -> Iterator[Callable[..., ClusteredServiceContainer]]:
    made: list[ClusteredServiceContainer] = []

    def make(service: Any, start: bool = True, **overrides: Any) -> ClusteredServiceContainer:
        settings: dict[str, Any] = dict(aeron_dir=aeron_dir, cluster_dir=str(tmp_path / "cluster"),
                                        idle_strategy="backoff")
        settings.update(overrides)
        ctx = ServiceContainerContext.from_properties(env={}, **settings)
        container = ClusteredServiceContainer(ctx, service)
        made.append(container)
        return container.start() if start else container

    yield make
    for c in made:
        c.close()


@pytest.fixture
def archive(driver: Any, aeron_dir: str, tmp_path: Path) -> Iterator[Any]:
    from aeronpy.archive.archive import Archive
    from aeronpy.archive.context import ArchiveContext

    a = Archive.launch(ArchiveContext.from_properties(
        env={}, aeron_dir=aeron_dir, archive_dir=str(tmp_path / "archive"), control_channel_enabled=False,
        replication_channel="", threading_mode="SHARED", segment_file_length=64 * 1024,
        low_storage_space_threshold=0, idle_strategy="sleep-ns"))
    yield a
    a.close()
