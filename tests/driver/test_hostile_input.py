"""Bad input never crashes the driver: malformed commands, hostile records, a full filesystem."""

from __future__ import annotations

import os
import struct
import uuid
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeronpy.cnc import CncFile
from aeronpy.concurrent.ringbuffer import ManyToOneRingBuffer
from aeronpy.driver.context import DriverContext
from aeronpy.driver.media_driver import MediaDriver
from aeronpy.errors import RegistrationError, StorageSpaceError
from aeronpy.protocol import control as cp
from tests.conftest import SHM
from tests.tmpfs import small_tmpfs


@pytest.fixture(scope="module")
def invoker_driver() -> Iterator[tuple[MediaDriver, ManyToOneRingBuffer, CncFile]]:
    path = os.path.join(SHM, f"aeronpy-hostile-{uuid.uuid4().hex[:8]}")
    ctx = DriverContext.from_properties(env={}, aeron_dir=path, threading_mode="INVOKER", dir_delete_on_shutdown=True)
    driver = MediaDriver.launch(ctx)
    cnc = CncFile.map(os.path.join(path, "cnc.dat"))
    try:
        yield driver, ManyToOneRingBuffer(cnc.to_driver_buffer), cnc
    finally:
        cnc.close()
        driver.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    msg_type_id=st.one_of(st.integers(1, 0x12), st.integers(1, 2**31 - 1)),
    payload=st.binary(max_size=300),
)
def test_random_command_records_never_crash_the_conductor(
    invoker_driver: tuple[MediaDriver, ManyToOneRingBuffer, CncFile], msg_type_id: int, payload: bytes
) -> None:
    driver, ring, _ = invoker_driver
    assert ring.write(msg_type_id, payload)
    for _ in range(3):
        driver.do_work()
    assert ring.size() == 0  # the command was consumed, whatever it was


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(channel=st.text(max_size=120), stream_id=st.integers(-(2**31), 2**31 - 1))
def test_random_channels_get_an_error_not_a_crash(
    invoker_driver: tuple[MediaDriver, ManyToOneRingBuffer, CncFile], channel: str, stream_id: int
) -> None:
    driver, ring, _ = invoker_driver
    msg = cp.PublicationMessage(client_id=999, correlation_id=ring.next_correlation_id(), stream_id=stream_id, channel=channel)
    assert ring.write(cp.ADD_PUBLICATION, msg.encode())
    for _ in range(3):
        driver.do_work()
    assert ring.size() == 0


def test_truncated_commands_are_logged_as_malformed(invoker_driver: tuple[MediaDriver, ManyToOneRingBuffer, CncFile]) -> None:
    driver, ring, cnc = invoker_driver
    from aeronpy.concurrent.error_log import read_error_log

    good = cp.PublicationMessage(client_id=5, correlation_id=77, stream_id=1, channel="aeron:ipc").encode()
    assert ring.write(cp.ADD_PUBLICATION, good[:20])
    assert ring.write(cp.ADD_PUBLICATION, good[:24] + struct.pack("<i", 10_000)[:0])
    for _ in range(3):
        driver.do_work()
    texts: list[str] = []
    read_error_log(cnc.error_log_buffer, lambda c, f, l, t: texts.append(t))
    assert any("command=0x1" in t for t in texts)


def test_full_filesystem_at_start_is_a_clear_error() -> None:
    with small_tmpfs("8m") as mount:
        ctx = DriverContext.from_properties(env={}, aeron_dir=os.path.join(mount, "aeron"))
        with pytest.raises(StorageSpaceError, match="cnc.dat|space|No space"):
            MediaDriver.launch(ctx)
        assert not os.path.exists(os.path.join(mount, "aeron", "cnc.dat"))


def test_full_filesystem_for_a_log_is_a_storage_space_error(client_factory: Callable[..., Any]) -> None:
    with small_tmpfs("64m") as mount:
        aeron_dir = os.path.join(mount, "aeron")
        for checks in (True, False):
            ctx = DriverContext.from_properties(
                env={}, aeron_dir=aeron_dir, dir_delete_on_start=True, perform_storage_checks=checks,
                term_buffer_sparse_file=False,
            )
            with MediaDriver.launch(ctx):
                aeron = client_factory(aeron_dir=aeron_dir)
                with pytest.raises(RegistrationError) as info:
                    aeron.add_publication("aeron:ipc?term-length=16m", 1)
                assert info.value.error_code == cp.ErrorCode.STORAGE_SPACE
                assert os.listdir(os.path.join(aeron_dir, "publications")) == []
                small = aeron.add_publication("aeron:ipc?term-length=64k", 1)  # still works
                assert small.session_id is not None
                aeron.close()
