from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeronpy.client.image import Image
from aeronpy.client.publication import NATIVE_DEFAULT, ExclusivePublication
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


@pytest.mark.skipif(not NATIVE_DEFAULT, reason="the C image set exists only with the C kernels")
def test_poll_and_take_stay_bound_to_the_image_set(tmp_path: Path) -> None:
    sub, logs, pubs = build(tmp_path, 1)
    try:
        image = sub.images[0]
        assert image.is_native and sub._image_set is not None
        assert sub.poll == sub._image_set.poll and sub.take == sub._image_set.take  # one call into C
        assert sub._image_set.images == (image.poll_target,) and image.poll_target is image._reader
        pubs[0].offer(b"abc")
        got: list[bytes] = []
        assert sub.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 10) == 1 and got == [b"abc"]
        pubs[0].offer(b"def")
        assert sub.take() == b"def" and sub.take() is None
        sub._internal_close()
        assert sub._image_set.images == () and sub.poll(lambda *a: None, 10) == 0 and sub.take() is None
    finally:
        for lb in logs:
            lb.close()


def test_a_poll_fetched_early_sees_images_that_come_later(tmp_path: Path) -> None:
    """The benchmark's pong fetched ``sub.poll`` with one image there (a publication about to go
    away); when the publisher's new image arrived, a poll bound to the first image's reader never
    read it and the ping waited forever."""
    sub, logs, pubs = build(tmp_path, 1)
    poll, take = sub.poll, sub.take
    try:
        lb = make_log(tmp_path, TERM)
        logs.append(lb)
        later = ExclusivePublication(None, lb, "aeron:ipc", STREAM_ID, 200, FakeCounter(1 << 40), -1, 9, 9)
        sub._add_image(Image(sub, lb, FakeCounter(0), 2000, 200, "src", 0, 9))
        sub._remove_image(1000)
        later.offer(b"new")
        got: list[int] = []
        assert poll(lambda b, o, n, h: got.append(h.session_id), 10) == 1 and got == [200]
        later.offer(b"again")
        assert take() == b"again"
    finally:
        for lb in logs:
            lb.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    counts=st.lists(st.integers(0, 6), min_size=0, max_size=4),
    calls=st.lists(st.one_of(st.integers(1, 7), st.just("take"), st.just("drop")), max_size=25),
)
def test_image_set_matches_the_python_round_robin(tmp_path: Path, counts: list[int], calls: list[Any]) -> None:
    """Twin: the C ImageSet and Subscription's Python poll/take deliver the same fragments in
    the same order and return the same counts, as images are dropped between calls."""
    runs: list[list[Any]] = []
    for native in (True, False):
        sub = Subscription(FakeConductor(), "aeron:ipc", STREAM_ID, 10, 11)
        if not native:
            sub.__dict__.pop("poll", None)
            sub.__dict__.pop("take", None)
            sub._image_set = None
        logs = []
        for i, count in enumerate(counts):
            lb = make_log(tmp_path, TERM)
            logs.append(lb)
            pub = ExclusivePublication(None, lb, "aeron:ipc", STREAM_ID, 100 + i, FakeCounter(1 << 40), -1, i, i)
            for k in range(count):
                pub.offer(bytes([i, k]))
            sub._add_image(Image(sub, lb, FakeCounter(0), 1000 + i, 100 + i, f"src{i}", 0, i))
        seen: list[Any] = []
        try:
            for call in calls:
                if call == "take":
                    seen.append(sub.take())
                elif call == "drop":
                    if sub.images:
                        sub._remove_image(sub.images[0].correlation_id)
                    seen.append("dropped")
                else:
                    out: list[bytes] = []
                    seen.append((sub.poll(lambda b, o, n, h: out.append(b.get_bytes(o, n)), call), out))
        finally:
            sub._internal_close()
            for lb in logs:
                lb.close()
        runs.append(seen)
    assert runs[0] == runs[1]


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
