from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aeronpy.client.image import Image
from aeronpy.client.publication import ExclusivePublication
from aeronpy.client.results import ControlledPollAction as A
from aeronpy.concurrent.atomic_buffer import PyAtomicBuffer
from aeronpy.logbuffer import descriptor as d
from aeronpy.logbuffer.header import Header
from tests.logbuffer.test_logsupport import SESSION_ID, STREAM_ID, FakeCounter, make_log

TERM = 64 * 1024


class Rig:
    def __init__(self, lb: Any) -> None:
        self.lb = lb
        self.sub_pos = FakeCounter(0)
        self.pub = ExclusivePublication(None, lb, "aeron:ipc", STREAM_ID, SESSION_ID, FakeCounter(1 << 40), -1, 1, 1)
        self.image = Image("sub", lb, self.sub_pos, 77, SESSION_ID, "127.0.0.1:4000", 0, 5)
        self.got: list[tuple[bytes, int]] = []

    def on(self, buf: Any, off: int, n: int, h: Header) -> None:
        self.got.append((buf.get_bytes(off, n), h.position))


@pytest.fixture(params=[None, PyAtomicBuffer])
def rig(tmp_path: Path, request: Any) -> Any:
    lb = make_log(tmp_path, TERM, factory=request.param)
    yield Rig(lb)
    lb.close()


def test_constants(rig: Rig) -> None:
    im = rig.image
    assert (im.correlation_id, im.session_id, im.source_identity, im.subscriber_position_id) == (
        77, SESSION_ID, "127.0.0.1:4000", 5)
    assert im.term_buffer_length == TERM and im.mtu_length == 1408 and im.initial_term_id == 7
    assert im.join_position == 0 and im.position == 0 and not im.is_end_of_stream
    assert im.end_of_stream_position == d.INT64_MAX and im.active_transport_count == 0


def test_poll_limit_and_header(rig: Rig) -> None:
    for i in range(5):
        rig.pub.offer(bytes([i]) * (i + 1))
    assert rig.image.poll(rig.on, 3) == 3
    assert rig.sub_pos.get() == 192
    assert rig.image.poll(rig.on, 0) == 0
    assert rig.image.poll(rig.on, 10) == 2
    assert rig.got == [(bytes([i]) * (i + 1), 64 * (i + 1)) for i in range(5)]
    assert rig.image.poll(rig.on, 10) == 0 and rig.image.position == 320


def test_handler_exception_consumes_fragment(rig: Rig) -> None:
    for i in range(3):
        rig.pub.offer(bytes([i]))

    def boom(buf: Any, off: int, n: int, h: Header) -> None:
        if buf.get_uint8(off) == 1:
            raise RuntimeError("x")
        rig.on(buf, off, n, h)

    with pytest.raises(RuntimeError):
        rig.image.poll(boom, 10)
    assert rig.sub_pos.get() == 128
    assert rig.image.poll(boom, 10) == 1
    assert [m for m, _ in rig.got] == [b"\0", b"\2"]


def test_controlled_poll_actions(rig: Rig) -> None:
    for i in range(6):
        rig.pub.offer(bytes([i]))
    actions = iter([A.CONTINUE, A.ABORT])
    seen: list[int] = []

    def handler(buf: Any, off: int, n: int, h: Header) -> int:
        seen.append(buf.get_uint8(off))
        return next(actions)

    assert rig.image.controlled_poll(handler, 10) == 1
    assert rig.sub_pos.get() == 64 and seen == [0, 1]
    actions = iter([A.BREAK])
    assert rig.image.controlled_poll(handler, 10) == 1 and rig.sub_pos.get() == 128
    commits: list[int] = []

    def committing(buf: Any, off: int, n: int, h: Header) -> int:
        commits.append(rig.sub_pos.get())
        return A.COMMIT

    assert rig.image.controlled_poll(committing, 2) == 2
    assert commits == [128, 192] and rig.sub_pos.get() == 256
    assert rig.image.controlled_poll(lambda *a: A.CONTINUE, 10) == 2
    assert rig.sub_pos.get() == 384


def test_bounded_poll(rig: Rig) -> None:
    for i in range(4):
        rig.pub.offer(bytes([i]))
    assert rig.image.bounded_poll(rig.on, 100, 10) == 2  # frames starting at 0 and 64
    assert rig.sub_pos.get() == 128
    assert rig.image.bounded_poll(rig.on, 128, 10) == 0
    assert rig.image.bounded_poll(rig.on, 1 << 20, 10) == 2


def test_poll_stops_at_term_end_and_skips_padding(rig: Rig) -> None:
    msg = bytes(1000)
    while rig.pub.offer(msg) > 0:
        pass
    rig.pub.offer(msg)
    count = 0
    while rig.sub_pos.get() < TERM:
        count += rig.image.poll(rig.on, 1000)
    assert rig.sub_pos.get() == TERM and count == TERM // 1056
    assert rig.image.poll(rig.on, 10) == 1 and rig.got[-1][1] == TERM + 1056


def test_close_freezes(rig: Rig) -> None:
    rig.pub.offer(b"a")
    d.set_end_of_stream_position(rig.lb.metadata, 64)
    assert not rig.image.is_end_of_stream
    rig.image.poll(rig.on, 10)
    assert rig.image.is_end_of_stream and rig.image.end_of_stream_position == 64
    rig.pub.offer(b"b")
    rig.image.close()
    rig.image.close()
    rig.sub_pos.set(999)
    assert rig.image.is_closed and rig.image.position == 64 and rig.image.is_end_of_stream
    assert rig.image.poll(rig.on, 10) == 0 and rig.image.controlled_poll(lambda *a: 4, 10) == 0
    assert rig.image.active_transport_count == 0 and not rig.lb.is_closed


def test_set_position(rig: Rig) -> None:
    rig.image.set_position(TERM)
    assert rig.image.position == TERM
    with pytest.raises(ValueError):
        rig.image.set_position(TERM - 32)
    with pytest.raises(ValueError):
        rig.image.set_position(2 * TERM + 32)
    with pytest.raises(ValueError):
        rig.image.set_position(TERM + 8)
