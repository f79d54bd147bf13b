from __future__ import annotations

from pathlib import Path
from typing import Any

from aeronpy.client.image import Image
from aeronpy.client.publication import ExclusivePublication
from aeronpy.client.subscription import Subscription
from aeronpy.logbuffer.header import Header
from tests.logbuffer.test_logsupport import STREAM_ID, FakeCounter, make_log

TERM = 64 * 1024


class FakeConductor:
    def __init__(self) -> None:
        self.released: list[Any] = []

    def release_subscription(self, sub: Any) -> None:
        self.released.append(sub)


def build(tmp_path: Path, n: int) -> tuple[Subscription, list[Any], list[ExclusivePublication]]:
    sub = Subscription(FakeConductor(), "aeron:ipc", STREAM_ID, 10, 11)
    logs, pubs = [], []
    for i in range(n):
        lb = make_log(tmp_path, TERM)
        logs.append(lb)
        pubs.append(ExclusivePublication(None, lb, "aeron:ipc", STREAM_ID, 100 + i, FakeCounter(1 << 40), -1, i, i))
        sub._add_image(Image(sub, lb, FakeCounter(0), 1000 + i, 100 + i, f"src{i}", 0, i))
    return sub, logs, pubs


def test_round_robin_and_limit(tmp_path: Path) -> None:
    sub, logs, pubs = build(tmp_path, 3)
    try:
        for p in pubs:
            for _ in range(4):
                p.offer(p.session_id.to_bytes(4, "little"))
        order: list[int] = []

        def on(buf: Any, off: int, n: int, h: Header) -> None:
            order.append(h.session_id)

        assert sub.poll(on, 2) == 2 and order == [100, 100]
        order.clear()
        assert sub.poll(on, 2) == 2 and order == [101, 101]
        order.clear()
        assert sub.poll(on, 5) == 5 and order == [102, 102, 102, 102, 100]
        order.clear()
        assert sub.poll(on, 10) == 3 and sorted(order) == [100, 101, 101]
        assert sub.controlled_poll(lambda *a: 4, 10) == 0
    finally:
        for lb in logs:
            lb.close()


def test_images_management(tmp_path: Path) -> None:
    sub, logs, _ = build(tmp_path, 2)
    try:
        before = sub.images
        assert sub.image_count == 2 and sub.is_connected
        assert sub.image_by_session_id(101) is before[1] and sub.image_by_session_id(5) is None
        removed = sub._remove_image(1000)
        assert removed is before[0] and removed.is_closed
        assert len(before) == 2 and sub.images == (before[1],)  # copy on write
        assert sub._remove_image(1000) is None
        conductor = sub._conductor
        sub.close()
        sub.close()
        assert conductor.released == [sub]  # type: ignore[attr-defined]
        assert sub.is_closed and len(sub.images) == 0 and not sub.is_connected
        assert before[1].is_closed
        assert sub.poll(lambda *a: None, 10) == 0
    finally:
        for lb in logs:
            lb.close()


def test_internal_close_returns_images(tmp_path: Path) -> None:
    sub, logs, _ = build(tmp_path, 2)
    try:
        images = sub._internal_close()
        assert [im.correlation_id for im in images] == [1000, 1001]
        assert all(im.is_closed for im in images)
    finally:
        for lb in logs:
            lb.close()


def test_single_native_image_binds_poll_to_its_reader(tmp_path: Path) -> None:
    sub, logs, pubs = build(tmp_path, 1)
    try:
        image = sub.images[0]
        assert image.is_native and sub.poll == image.poll  # one Python->C call per poll
        pubs[0].offer(b"abc")
        got: list[bytes] = []
        assert sub.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 10) == 1 and got == [b"abc"]
        assert sub.take == image.take
        pubs[0].offer(b"def")
        assert sub.take() == b"def" and sub.take() is None
        lb = make_log(tmp_path, TERM)
        logs.append(lb)
        sub._add_image(Image(sub, lb, FakeCounter(0), 2000, 200, "src", 0, 9))
        assert "poll" not in sub.__dict__ and "take" not in sub.__dict__  # two images: round-robin again
        pubs[0].offer(b"ghi")
        assert sub.take() == b"ghi"
        sub._remove_image(2000)
        assert sub.poll == sub.images[0].poll
        sub._internal_close()
        assert "poll" not in sub.__dict__ and sub.poll(lambda *a: None, 10) == 0
    finally:
        for lb in logs:
            lb.close()


def test_poll_batch_takes_the_next_image_with_fragments(tmp_path: Path) -> None:
    sub, logs, pubs = build(tmp_path, 2)
    try:
        pubs[1].offer(b"one")
        pubs[1].offer(b"two")
        batch = sub.poll_batch(10)
        assert batch.copies() == [b"one", b"two"]
        batch.release()
        assert len(sub.poll_batch(10)) == 0
    finally:
        for lb in logs:
            lb.close()
