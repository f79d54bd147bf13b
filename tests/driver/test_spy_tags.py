"""A spy naming only a channel tag (``aeron-spy:aeron:udp?tags=N|session-id=S``) finds the
network publication tagged N, as Aeron's driver does (the cluster records and reads its log so)."""

from __future__ import annotations

from typing import Any, Callable

from tests.conftest import wait_for


def test_spy_by_channel_tag_sees_the_tagged_publication(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    pub = aeron.add_exclusive_publication(
        "aeron:udp?tags=71,72|control-mode=manual|control=localhost:0|ssc=true|term-length=64k", 1001)
    spy = aeron.add_subscription(f"aeron-spy:aeron:udp?tags=71|session-id={pub.session_id}", 1001)
    wait_for(lambda: spy.image_count == 1, 5, "the spy image")
    wait_for(lambda: pub.offer(b"tagged") > 0, 5, "the spy-simulated connection")
    got: list[bytes] = []
    wait_for(lambda: spy.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 10) or got, 5, "the message")
    assert got == [b"tagged"]


def test_spy_of_another_tag_sees_nothing(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    aeron.add_exclusive_publication("aeron:udp?tags=81,82|control-mode=manual|control=localhost:0", 1001)
    spy = aeron.add_subscription("aeron-spy:aeron:udp?tags=83", 1001)
    other = aeron.add_subscription("aeron-spy:aeron:udp?tags=81", 1001)
    wait_for(lambda: other.image_count == 1, 5, "the matching spy")
    assert spy.image_count == 0
