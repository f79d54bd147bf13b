"""AeronCluster's state machine (§3.5) in isolation: stub publication/subscription, manual clock."""

from __future__ import annotations

from typing import Any

import pytest

from aeronpy.client import results
from aeronpy.cluster.client import ClientState, ClusterClientContext, ClusterError
from aeronpy.cluster.client.aeron_cluster import AeronCluster
from aeronpy.testing import ManualClock


class StubPublication:
    def __init__(self, result: int = 64) -> None:
        self.result = result
        self.offered: list[bytes] = []
        self.is_closed = False
        self.is_connected = True
        self.channel = "aeron:udp?endpoint=stub"
        self.term_buffer_length = 65536

    def offer(self, message: bytes) -> int:
        self.offered.append(bytes(message))
        return self.result

    def close(self) -> None:
        self.is_closed = True


class StubSubscription:
    is_closed = False

    def poll(self, handler: Any, limit: int) -> int:
        return 0

    def close(self) -> None:
        self.is_closed = True


class StubImage:
    is_closed = False


class StubAeron:
    def __init__(self) -> None:
        self.added: list[tuple[str, int]] = []
        self.publications: list[StubPublication] = []
        self.conductor_agent_invoker = None

    def async_add_exclusive_publication(self, channel: str, stream_id: int) -> int:
        self.added.append((channel, stream_id))
        return len(self.added)

    def get_exclusive_publication(self, registration_id: int) -> StubPublication:
        publication = StubPublication()
        self.publications.append(publication)
        return publication

    def close(self) -> None:
        pass


def make(clock: ManualClock, **overrides: Any) -> tuple[AeronCluster, StubPublication, StubImage, StubAeron]:
    settings: dict[str, Any] = dict(
        aeron_dir="/nonexistent", ingress_channel="aeron:udp", ingress_endpoints="0=h0:1,1=h1:2",
        egress_channel="aeron:udp?endpoint=localhost:0", nano_clock=clock.nano_time,
        message_timeout_ns=1_000_000_000,
    )
    settings.update(overrides)
    ctx = ClusterClientContext.from_properties(env={}, **settings)
    publication, image, aeron = StubPublication(), StubImage(), StubAeron()
    cluster = AeronCluster(ctx, aeron, False, publication, StubSubscription(), image, 7, 3, 0, 5_000_000_000)
    return cluster, publication, image, aeron


def test_offer_not_connected_awaits_a_new_leader_until_the_deadline() -> None:
    clock = ManualClock()
    cluster, publication, _, _ = make(clock)
    publication.result = results.NOT_CONNECTED
    assert cluster.offer(b"x") == results.NOT_CONNECTED
    assert cluster.state is ClientState.AWAIT_NEW_LEADER
    assert publication.is_closed
    clock.advance_ns(4_999_999_999)
    assert cluster.poll_egress() == 0
    clock.advance_ns(1)
    assert cluster.poll_egress() == 1
    assert cluster.is_closed


def test_offer_closed_also_means_the_leader_is_gone() -> None:
    cluster, publication, _, _ = make(ManualClock())
    publication.result = results.CLOSED
    cluster.offer(b"x")
    assert cluster.state is ClientState.AWAIT_NEW_LEADER


def test_back_pressure_changes_nothing() -> None:
    cluster, publication, _, _ = make(ManualClock())
    for code in (results.BACK_PRESSURED, results.ADMIN_ACTION):
        publication.result = code
        cluster.offer(b"x")
        assert cluster.state is ClientState.CONNECTED


def test_max_position_exceeded_closes_on_the_next_poll() -> None:
    cluster, publication, _, _ = make(ManualClock())
    publication.result = results.MAX_POSITION_EXCEEDED
    cluster.offer(b"x")
    assert cluster.state is ClientState.PENDING_CLOSE and publication.is_closed
    assert cluster.poll_egress() == 1
    assert cluster.is_closed


def test_keepalive_at_max_position_raises() -> None:
    cluster, publication, _, _ = make(ManualClock())
    publication.result = results.MAX_POSITION_EXCEEDED
    with pytest.raises(ClusterError, match="max position exceeded: term-length=65536"):
        cluster.send_keep_alive()


def test_keepalive_and_admin_request_try_three_times() -> None:
    cluster, publication, _, _ = make(ManualClock())
    publication.result = results.BACK_PRESSURED
    assert not cluster.send_keep_alive()
    assert len(publication.offered) == 3
    publication.result = results.CLOSED
    cluster._set_state(ClientState.CONNECTED, 0)
    with pytest.raises(ClusterError, match="ingress publication is closed"):
        cluster.send_admin_request_to_take_a_snapshot(1)


def test_egress_image_closing_awaits_a_new_leader() -> None:
    cluster, _, image, _ = make(ManualClock())
    image.is_closed = True
    assert cluster.poll_egress() == 1
    assert cluster.state is ClientState.AWAIT_NEW_LEADER


def test_new_leader_rewrites_the_header_and_connects_to_its_endpoint() -> None:
    clock = ManualClock()
    cluster, old, image, aeron = make(clock)
    cluster.offer(b"a")
    assert old.offered[-1][8:24] == (3).to_bytes(8, "little") + (7).to_bytes(8, "little")
    cluster.on_new_leader(7, 4, 1, "0=h0:1,1=h9:9")
    assert old.is_closed
    assert aeron.added == [("aeron:udp?endpoint=h9:9", 101)]
    assert cluster.ctx.ingress_endpoints == "0=h0:1,1=h9:9"
    new = aeron.publications[-1]
    new.result = results.NOT_CONNECTED
    cluster.offer(b"b")
    assert cluster.state is ClientState.AWAIT_NEW_LEADER_CONNECTION
    new.result = 128
    cluster.offer(b"c")
    assert cluster.state is ClientState.CONNECTED
    assert new.offered[-1][8:24] == (4).to_bytes(8, "little") + (7).to_bytes(8, "little")
    assert new.offered[-1][32:] == b"c"


def test_new_leader_connection_deadline_is_the_message_timeout() -> None:
    clock = ManualClock()
    cluster, _, _, _ = make(clock)
    cluster.on_new_leader(7, 4, 1, "0=h0:1,1=h1:2")
    clock.advance_ms(999)
    cluster.poll_egress()
    assert cluster.state is ClientState.AWAIT_NEW_LEADER_CONNECTION
    clock.advance_ms(1)
    cluster.poll_egress()
    assert cluster.is_closed


def test_new_leader_with_multicast_ingress_reuses_the_channel() -> None:
    cluster, _, _, aeron = make(ManualClock(), ingress_channel="aeron:udp?endpoint=239.1.1.1:4000", ingress_endpoints=None)
    cluster.on_new_leader(7, 4, 1, "")
    assert aeron.added == [("aeron:udp?endpoint=239.1.1.1:4000", 101)]


def test_new_leader_events_that_make_no_sense_are_errors() -> None:
    cluster, _, _, _ = make(ManualClock())
    with pytest.raises(ClusterError, match="invalid clusterSessionId=8 expected=7"):
        cluster.on_new_leader(8, 4, 1, "0=h0:1")
    with pytest.raises(ClusterError, match="leader member 5 is not in"):
        cluster.on_new_leader(7, 4, 5, "0=h0:1,1=h1:2")


def test_close_sends_close_request_only_when_connected() -> None:
    cluster, publication, _, _ = make(ManualClock())
    cluster.close()
    assert publication.offered[-1][2] == 4 and publication.offered[-1][8:24] == (3).to_bytes(8, "little") + (7).to_bytes(8, "little")
    assert cluster.is_closed and cluster.egress_subscription.is_closed
    cluster2, publication2, _, _ = make(ManualClock())
    publication2.result = results.NOT_CONNECTED
    cluster2.offer(b"x")
    cluster2.close()
    assert all(m[2] != 4 for m in publication2.offered)
