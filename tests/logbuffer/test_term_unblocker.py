from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aeronpy.client.image import Image
from aeronpy.client.publication import Publication
from aeronpy.logbuffer import descriptor as d
from aeronpy.logbuffer.header import Header
from aeronpy.logbuffer.term_appender import write_pad
from aeronpy.logbuffer.term_unblocker import UnblockStatus, unblock, unblock_log
from tests.logbuffer.test_logsupport import SESSION_ID, STREAM_ID, FakeCounter, make_log

TERM = 64 * 1024


class Rig:
    def __init__(self, lb: Any) -> None:
        self.lb = lb
        self.sub_pos = FakeCounter(0)
        self.pub = Publication(None, lb, "aeron:ipc", STREAM_ID, SESSION_ID, FakeCounter(1 << 40), -1, 1, 1)
        self.image = Image(None, lb, self.sub_pos, 1, SESSION_ID, "ipc", 0, 1)
        self.got: list[bytes] = []

    def on(self, buf: Any, off: int, n: int, h: Header) -> None:
        self.got.append(buf.get_bytes(off, n))

    def poll(self) -> int:
        return self.image.poll(self.on, 100)

    def dead_reservation(self, length: int, write_negative: bool) -> int:
        """A publisher that reserved ``length`` payload bytes then died."""
        aligned = (length + 32 + 31) & ~31
        count = d.active_term_count(self.lb.metadata)
        raw = self.lb.metadata.get_and_add_int64((count % 3) * 8, aligned)
        offset = raw & 0xFFFFFFFF
        if write_negative:
            self.lb.term_buffers[count % 3].put_int32_ordered(offset, -(length + 32))
        return int(offset)


@pytest.fixture
def rig(tmp_path: Path) -> Any:
    lb = make_log(tmp_path, TERM)
    yield Rig(lb)
    lb.close()


@pytest.mark.parametrize("write_negative", [True, False])
def test_dead_publisher_is_padded(rig: Rig, write_negative: bool) -> None:
    assert rig.pub.offer(b"before") == 64
    blocked = rig.dead_reservation(100, write_negative)
    assert rig.pub.offer(b"after") > 0
    rig.poll()
    assert rig.got == [b"before"] and rig.sub_pos.get() == blocked
    assert unblock_log(rig.lb.term_buffers, rig.lb.metadata, rig.sub_pos.get())
    tb = rig.lb.term_buffers[0]
    assert tb.get_int32(blocked) == (132 if write_negative else 160)
    assert tb.get_uint16(blocked + 6) == 0 and tb.get_int32(blocked + 8) == blocked
    assert tb.get_int32(blocked + 12) == SESSION_ID and tb.get_int32(blocked + 20) == 7
    rig.poll()
    assert rig.got == [b"before", b"after"]
    assert rig.sub_pos.get() == rig.pub.position
    assert not unblock_log(rig.lb.term_buffers, rig.lb.metadata, rig.sub_pos.get())


def test_zero_hole_to_end_of_term_rotates(rig: Rig) -> None:
    rig.pub.offer(bytes(100))
    tail = d.raw_tail_volatile(rig.lb.metadata, 0) & 0xFFFFFFFF
    rig.dead_reservation(TERM - tail, False)  # reserves past the end, dies before padding
    rig.poll()
    assert rig.sub_pos.get() == tail
    assert unblock_log(rig.lb.term_buffers, rig.lb.metadata, tail)
    assert rig.lb.term_buffers[0].get_int32(tail) == TERM - tail
    assert d.active_term_count(rig.lb.metadata) == 1
    assert rig.pub.offer(b"next") == TERM + 64
    rig.poll()
    rig.poll()
    assert rig.got[-1] == b"next"


def test_rotation_only_when_blocked_at_term_start(rig: Rig) -> None:
    # a publisher padded the term end and died before rotating the log
    rig.pub.offer(bytes(100))
    tail = rig.dead_reservation(TERM, False)
    write_pad(rig.lb.term_buffers[0], tail, TERM, 7, SESSION_ID, STREAM_ID)
    rig.poll()
    assert rig.sub_pos.get() == TERM and d.active_term_count(rig.lb.metadata) == 0
    assert unblock_log(rig.lb.term_buffers, rig.lb.metadata, TERM)
    assert d.active_term_count(rig.lb.metadata) == 1
    assert d.raw_tail_volatile(rig.lb.metadata, 1) == 8 << 32


def test_no_action_cases(rig: Rig) -> None:
    assert unblock(rig.lb.metadata, rig.lb.term_buffers[0], 0, 0, 7) == UnblockStatus.NO_ACTION
    rig.pub.offer(b"x")
    assert unblock(rig.lb.metadata, rig.lb.term_buffers[0], 0, 64, 7) == UnblockStatus.NO_ACTION
    # a hole whose later frame is not yet visible: nothing padded before the tail
    rig.dead_reservation(10, False)
    assert unblock(rig.lb.metadata, rig.lb.term_buffers[0], 64, 128, 7) == UnblockStatus.NO_ACTION
    assert rig.lb.term_buffers[0].get_int32(64) == 0
