"""The client API rejects bad stream ids, channels and counter arguments with AeronError
subclasses (also ValueErrors) naming the argument, before anything reaches the driver."""

from __future__ import annotations

from typing import Any

import pytest

from aeronpy.client.conductor import MAX_CHANNEL_LENGTH, check_channel, check_stream_id
from aeronpy.errors import AeronError, InvalidArgumentError, InvalidChannelError


@pytest.mark.parametrize("stream_id", [2**31, -(2**31) - 1, 2**63, "1001", 1.0, True, None])
def test_check_stream_id_rejects(stream_id: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="^stream_id=") as info:
        check_stream_id(stream_id)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AeronError)


@pytest.mark.parametrize("stream_id", [0, 1, -1, 2**31 - 1, -(2**31)])
def test_check_stream_id_accepts_int32(stream_id: int) -> None:
    assert check_stream_id(stream_id) == stream_id


def test_check_channel() -> None:
    ok = "aeron:ipc?alias=" + "x" * (MAX_CHANNEL_LENGTH - 16)
    assert check_channel(ok) == ok
    with pytest.raises(InvalidChannelError, match="^channel: length 4096 bytes exceeds the max of 4095"):
        check_channel(ok + "x")
    with pytest.raises(InvalidChannelError, match="exceeds"):
        check_channel("aeron:ipc?alias=" + "é" * 2100)  # counted in UTF-8 bytes
    with pytest.raises(InvalidChannelError, match="^channel=None: must be a str"):
        check_channel(None)
    with pytest.raises(InvalidChannelError, match="UTF-8"):
        check_channel("aeron:ipc?alias=\udc80")


def test_add_calls_raise_before_sending(driver_factory: Any, aeron_dir: str) -> None:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context

    driver_factory()
    with Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir)) as aeron:
        for add in (aeron.add_publication, aeron.add_exclusive_publication, aeron.add_subscription):
            with pytest.raises(InvalidArgumentError, match="stream_id=2147483648"):
                add("aeron:ipc", 2**31)
            with pytest.raises(InvalidChannelError, match="channel: length"):
                add("aeron:ipc?alias=" + "x" * 5000, 1)
        with pytest.raises(InvalidArgumentError, match="stream_id="):
            aeron.next_available_session_id(-(2**31) - 1)
        with pytest.raises(InvalidArgumentError, match="type_id="):
            aeron.add_counter(2**40, "label")
        with pytest.raises(InvalidArgumentError, match="key: 113 bytes"):
            aeron.add_counter(1001, "label", b"k" * 113)
        assert aeron.conductor.pending == {}
        assert aeron.add_publication("aeron:ipc", 2**31 - 1).stream_id == 2**31 - 1  # still usable
