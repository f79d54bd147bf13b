"""The driver never dies of storage: sparse logs cannot over-commit a small file system, and what
a remote sender's SETUP may impose (term length, sessions per stream) is capped and counted.

Each test mounts a small tmpfs as the Aeron dir, so "full" is reached without filling /dev/shm.
"""

from __future__ import annotations

import os
import shutil
import socket
from typing import Any, Callable, Iterator

import pytest

from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context
from aeronpy.concurrent.error_log import read_error_log
from aeronpy.driver.context import DriverContext
from aeronpy.driver.media_driver import MediaDriver
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.errors import RegistrationError
from aeronpy.protocol import control as cp
from aeronpy.protocol.frames import SetupFrame
from tests.tmpfs import small_tmpfs
from tests.fakes import free_udp_port as _free_port

MIB = 1024 * 1024
STREAM = 4242


class Harness:
    """An INVOKER driver on a small tmpfs and an invoker client, pumped by the test."""

    def __init__(self, aeron_dir: str, **settings: Any) -> None:
        ctx = DriverContext.from_properties(
            env={}, aeron_dir=aeron_dir, threading_mode="INVOKER", counters_buffer_length=MIB,
            term_buffer_sparse_file=True, **settings,
        )
        self.driver = MediaDriver.launch(ctx)
        self.aeron = Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir, use_conductor_agent_invoker=True))
        self.aeron_dir = aeron_dir

    def pump(self) -> None:
        self.driver.do_work()
        self.aeron.conductor_agent_invoker.invoke()

    def wait(self, condition: Callable[[], object], what: str, cycles: int = 50_000) -> None:
        for _ in range(cycles):
            if condition():
                return
            self.pump()
        raise AssertionError(f"gave up after {cycles} duty cycles waiting for {what}")

    def errors(self) -> list[str]:
        assert self.driver.cnc is not None
        texts: list[str] = []
        read_error_log(self.driver.cnc.error_log_buffer, lambda c, f, l, t: texts.append(t))
        return texts

    def add(self, kind: str, channel: str, stream_id: int) -> Any:
        add = getattr(self.aeron, f"async_add_{kind}")
        get = getattr(self.aeron, f"get_{kind}")
        registration = add(channel, stream_id)
        found: list[Any] = []

        def done() -> bool:
            resource = get(registration)
            if resource is not None:
                found.append(resource)
            return bool(found)

        self.wait(done, f"{kind} {channel}")
        return found[0]

    def close(self) -> None:
        self.aeron.close()
        self.driver.close()


@pytest.fixture
def harness_factory() -> Iterator[Callable[..., Harness]]:
    made: list[tuple[Harness, Any]] = []

    def make(size: str, **settings: Any) -> Harness:
        mount_cm = small_tmpfs(size)
        mount = mount_cm.__enter__()
        h = Harness(os.path.join(mount, "aeron"), **settings)
        made.append((h, mount_cm))
        return h

    yield make
    for h, mount_cm in reversed(made):
        h.close()
        mount_cm.__exit__(None, None, None)


def test_sparse_logs_cannot_promise_more_than_the_file_system_holds(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory("48m")
    free = shutil.disk_usage(h.aeron_dir).free
    term = 8 * MIB
    assert 3 * term < free < 6 * term, free  # one 8 MiB-term log fits, two do not
    sub = h.add("subscription", "aeron:ipc", 1)
    pub = h.add("publication", f"aeron:ipc?term-length={term // 1024}k", 1)
    with pytest.raises(RegistrationError) as info:
        h.add("publication", f"aeron:ipc?term-length={term // 1024}k", 2)
    assert info.value.error_code == cp.ErrorCode.STORAGE_SPACE
    assert "promised" in str(info.value)
    # Writing every page of the accepted sparse log is safe (it would SIGBUS if over-committed).
    payload = bytes(range(256)) * 16
    position = 0
    for _ in range(200_000):
        if position > 3 * term + term // 2:
            break
        result = pub.offer(payload)
        if result > 0:
            position = result
        sub.poll(lambda b, o, n, hd: None, 100)
        h.pump()
    assert position > 3 * term


def _send_setups(h: Harness, port: int, frames: list[SetupFrame]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for frame in frames:
            s.sendto(frame.encode(), ("127.0.0.1", port))
    for _ in range(200):
        h.pump()


def test_hostile_setups_with_huge_terms_are_refused_and_counted(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory("48m")
    port = _free_port()
    sub = h.add("subscription", f"aeron:udp?endpoint=127.0.0.1:{port}", STREAM)
    errors_before = h.aeron.counters_reader.get_counter_value(SystemCounterId.ERRORS)
    setups = [SetupFrame(0, 1000 + i, STREAM, 7, 7, 1 << 30, 1408) for i in range(73)]
    _send_setups(h, port, setups)
    h.wait(lambda: any("cannot create image" in t and "insufficient usable storage" in t for t in h.errors()), "refusals")
    assert sub.image_count == 0
    assert h.aeron.counters_reader.get_counter_value(SystemCounterId.ERRORS) > errors_before
    assert os.listdir(os.path.join(h.aeron_dir, "images")) == []
    # Terms that fit one at a time but not together: sparse images may not over-commit.
    _send_setups(h, port, [SetupFrame(0, 2000 + i, STREAM, 7, 7, 8 * MIB, 1408) for i in range(5)])
    h.wait(lambda: sub.image_count == 1, "one 8 MiB-term image")
    for _ in range(500):
        h.pump()
    assert sub.image_count == 1
    # The driver still serves: a small image from a well-behaved SETUP is created.
    _send_setups(h, port, [SetupFrame(0, 77, STREAM, 7, 7, 64 * 1024, 1408)])
    h.wait(lambda: sub.image_count == 2, "a small image")


def test_term_length_cap_refuses_larger_setups(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory("48m", image_max_term_length=128 * 1024)
    port = _free_port()
    sub = h.add("subscription", f"aeron:udp?endpoint=127.0.0.1:{port}", STREAM)
    _send_setups(h, port, [SetupFrame(0, 5, STREAM, 7, 7, 256 * 1024, 1408)])
    h.wait(lambda: any("aeronpy.image.max.term.length" in t for t in h.errors()), "the cap in the error log")
    assert sub.image_count == 0
    _send_setups(h, port, [SetupFrame(0, 6, STREAM, 7, 7, 128 * 1024, 1408)])
    h.wait(lambda: sub.image_count == 1, "an image at the cap")


def test_stream_session_limit_is_enforced(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory("48m", stream_session_limit=2)
    port = _free_port()
    sub = h.add("subscription", f"aeron:udp?endpoint=127.0.0.1:{port}", STREAM)
    _send_setups(h, port, [SetupFrame(0, s, STREAM, 7, 7, 64 * 1024, 1408) for s in (11, 12, 13, 14)])
    h.wait(lambda: any("exceeded session limit 2" in t for t in h.errors()), "the limit in the error log")
    assert sub.image_count == 2
    other = h.add("subscription", f"aeron:udp?endpoint=127.0.0.1:{port}", STREAM + 1)
    _send_setups(h, port, [SetupFrame(0, 11, STREAM + 1, 7, 7, 64 * 1024, 1408)])
    h.wait(lambda: other.image_count == 1, "another stream is not limited by this one")
