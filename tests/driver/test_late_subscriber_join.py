"""A subscription added to an existing network image joins at the slowest subscriber's
position (Aeron's ``PublicationImage.joinPosition``), not at the receiver position, so a
late subscriber sharing an endpoint (the cluster's services beside their consensus module)
sees everything the first one has not consumed yet."""

from __future__ import annotations

from typing import Any, Callable

from tests.conftest import wait_for
from tests.fakes import free_udp_port


def test_late_subscriber_joins_at_the_slowest_subscriber(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    port = free_udp_port()
    channel = f"aeron:udp?endpoint=localhost:{port}|tags=91"
    first = aeron.add_subscription(channel, 1001)
    reader = aeron.add_subscription(channel, 1001)
    pub = aeron.add_publication(f"aeron:udp?endpoint=localhost:{port}", 1001)
    wait_for(lambda: pub.is_connected and first.image_count == 1 and reader.image_count == 1, 5, "the images")
    for i in range(5):
        wait_for(lambda i=i: pub.offer(b"m%d" % i) > 0, 5, "offer")
    image = first.images[0]
    seen: list[bytes] = []
    wait_for(lambda: reader.poll(lambda b, o, n, h: seen.append(b""), 10) or len(seen) >= 5, 5, "received")
    late = aeron.add_subscription(channel, 1001)
    wait_for(lambda: late.image_count == 1, 5, "the late image")
    assert late.images[0].join_position == image.position == 0
    got: list[bytes] = []
    wait_for(lambda: late.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 10) or len(got) >= 5, 5, "all 5")
    assert got == [b"m%d" % i for i in range(5)]
