"""Whole drivers on an in-memory network under a manual clock: no sockets, no sleeps.

Two INVOKER-mode drivers ("hosts") share one :class:`~aeronpy.testing.InMemoryNetwork`; their
clients run on the same manual clock.  The test decides time and the fate of every datagram:
loss, duplication, reordering, and silence long enough for timeouts to fire.
"""

from __future__ import annotations

import os
import socket
import struct
import uuid
from typing import Any, Callable, Iterator

import pytest

from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context
from aeronpy.driver.context import DriverContext
from aeronpy.driver.media_driver import MediaDriver
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.protocol import data_header as dh
from aeronpy.testing import Datagram, InMemoryNetwork, ManualClock
from tests.conftest import SHM

STREAM = 1001
CHANNEL = "aeron:udp?endpoint=10.0.0.2:40456|term-length=64k"


class Host:
    def __init__(self, name: str, network: InMemoryNetwork, clock: ManualClock, **settings: Any) -> None:
        self.dir = os.path.join(SHM, f"aeronpy-mem-{name}-{uuid.uuid4().hex[:8]}")
        ctx = DriverContext.from_properties(
            env={}, aeron_dir=self.dir, threading_mode="INVOKER", dir_delete_on_shutdown=True,
            term_buffer_sparse_file=True, transport_factory=network.factory(),
            nano_clock=clock.nano_time, epoch_clock=clock.epoch_ms, **settings,
        )
        self.driver = MediaDriver.launch(ctx)
        self.aeron = Aeron.connect(Context.from_properties(
            env={}, aeron_dir=self.dir, use_conductor_agent_invoker=True,
            nano_clock=clock.nano_time, epoch_clock=clock.epoch_ms,
        ))

    def pump(self) -> None:
        self.driver.do_work()
        self.aeron.conductor_agent_invoker.invoke()

    def counter(self, counter_id: int) -> int:
        return int(self.aeron.counters_reader.get_counter_value(counter_id))

    def close(self) -> None:
        self.aeron.close()
        self.driver.close()


class World:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.network = InMemoryNetwork()
        self.hosts: list[Host] = []

    def host(self, name: str, **settings: Any) -> Host:
        h = Host(name, self.network, self.clock, **settings)
        self.hosts.append(h)
        return h

    def run(self, condition: Callable[[], object], what: str, step_us: int = 100, cycles: int = 100_000) -> None:
        for _ in range(cycles):
            if condition():
                return
            for h in self.hosts:
                h.pump()
            self.clock.advance_ns(step_us * 1000)
        raise AssertionError(f"gave up after {cycles} cycles ({cycles * step_us / 1e6:.1f} s of manual time) waiting for {what}")

    def add(self, host: Host, kind: str, channel: str, stream_id: int) -> Any:
        registration = getattr(host.aeron, f"async_add_{kind}")(channel, stream_id)
        found: list[Any] = []

        def done() -> bool:
            resource = getattr(host.aeron, f"get_{kind}")(registration)
            if resource is not None:
                found.append(resource)
            return bool(found)

        self.run(done, kind)
        return found[0]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = World()

    def no_sockets(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a socket was opened in an in-memory test")

    monkeypatch.setattr(socket, "socket", no_sockets)
    yield w
    for h in w.hosts:
        h.close()


def _frame_type(d: Datagram) -> int:
    return struct.unpack_from("<H", d.data, 6)[0] if len(d.data) >= 8 else -1


def exchange(world: World, sender: Host, receiver: Host, count: int, channel: str = CHANNEL) -> tuple[Any, Any, list[int]]:
    sub = world.add(receiver, "subscription", channel, STREAM)
    pub = world.add(sender, "publication", channel, STREAM)
    world.run(lambda: pub.is_connected and sub.image_count == 1, "connection")
    got: list[int] = []
    sent = 0

    def step() -> bool:
        nonlocal sent
        while sent < count and pub.offer(struct.pack("<q", sent) + bytes(56)) > 0:
            sent += 1
        sub.poll(lambda b, o, n, h: got.append(b.get_int64(o)), 100)
        return len(got) >= count

    world.run(step, f"{count} messages")
    return pub, sub, got


def test_messages_cross_the_in_memory_network_in_order(world: World) -> None:
    a, b = world.host("a"), world.host("b")
    _, _, got = exchange(world, a, b, 2000)
    assert got == list(range(2000))
    types = {_frame_type(d) for d in world.network.sent}
    assert {dh.HDR_TYPE_SETUP, dh.HDR_TYPE_SM, dh.HDR_TYPE_DATA} <= types


def test_lost_data_is_nakked_and_retransmitted(world: World) -> None:
    a, b = world.host("a"), world.host("b")
    dropped: list[Datagram] = []
    data_seen = 0

    def drop_some(d: Datagram) -> bool:
        nonlocal data_seen
        if _frame_type(d) == dh.HDR_TYPE_DATA and len(d.data) > 32:
            data_seen += 1
            if data_seen % 7 == 3:
                dropped.append(d)
                return True
        return False

    world.network.drop = drop_some
    _, _, got = exchange(world, a, b, 3000)
    assert got == list(range(3000))
    assert dropped
    assert any(_frame_type(d) == dh.HDR_TYPE_NAK for d in world.network.sent)
    assert b.counter(SystemCounterId.NAK_MESSAGES_SENT) > 0
    assert a.counter(SystemCounterId.RETRANSMITS_SENT) > 0


def test_duplicated_and_reordered_datagrams_are_delivered_once_in_order(world: World) -> None:
    a, b = world.host("a"), world.host("b")
    network = world.network
    network.auto_deliver = False
    original_run = world.run

    def shuffling_run(condition: Callable[[], object], what: str, step_us: int = 100, cycles: int = 100_000) -> None:
        def condition_with_chaos() -> object:
            flight = network.in_flight
            if len(flight) >= 2:
                flight[0], flight[1] = flight[1], flight[0]  # reorder
                flight.append(flight[0])  # and duplicate
            network.deliver()
            return condition()

        original_run(condition_with_chaos, what, step_us, cycles)

    world.run = shuffling_run  # type: ignore[method-assign]
    _, _, got = exchange(world, a, b, 2000)
    assert got == list(range(2000))


def test_silent_publisher_times_the_image_out_by_the_manual_clock(world: World) -> None:
    a, b = world.host("a"), world.host("b")
    pub, sub, _ = exchange(world, a, b, 10)
    world.network.drop = lambda d: True  # the network goes silent
    start = world.clock.nano_time()
    world.run(lambda: sub.image_count == 0, "image liveness timeout", step_us=10_000, cycles=2_000)
    assert world.clock.nano_time() - start >= 10_000_000_000  # aeron.image.liveness.timeout
    world.run(lambda: not pub.is_connected, "publication connection timeout", step_us=10_000, cycles=2_000)


def test_a_driver_in_memory_opens_no_socket(world: World) -> None:
    a = world.host("a")
    world.add(a, "subscription", "aeron:udp?endpoint=10.0.0.9:40001", STREAM)
    world.add(a, "publication", "aeron:udp?endpoint=10.0.0.9:40001", STREAM)  # loops back in memory
    assert world.network.sent  # SETUP went through the in-memory network


def test_multicast_reaches_every_member(world: World) -> None:
    a, b, c = world.host("a"), world.host("b"), world.host("c")
    channel = "aeron:udp?endpoint=239.255.7.7:40600|interface=127.0.0.1|term-length=64k"
    subs = [world.add(h, "subscription", channel, STREAM) for h in (b, c)]
    pub = world.add(a, "publication", channel, STREAM)
    world.run(lambda: pub.is_connected and all(s.image_count == 1 for s in subs), "both members")
    got: dict[int, list[int]] = {0: [], 1: []}
    sent = 0

    def step() -> bool:
        nonlocal sent
        while sent < 500 and pub.offer(struct.pack("<q", sent)) > 0:
            sent += 1
        for i, s in enumerate(subs):
            s.poll(lambda buf, o, n, h, i=i: got[i].append(buf.get_int64(o)), 100)
        return all(len(v) >= 500 for v in got.values())

    world.run(step, "500 multicast messages at both members")
    assert got[0] == got[1] == list(range(500))


def test_client_sees_a_dead_driver_by_the_manual_clock(world: World) -> None:
    a = world.host("a")
    errors: list[BaseException] = []
    a.aeron.conductor.ctx.error_handler = errors.append
    world.hosts.remove(a)  # the driver stops doing work: no more heartbeats
    invoker = a.aeron.conductor_agent_invoker
    for _ in range(200):
        invoker.invoke()
        world.clock.advance_ms(100)
        if a.aeron.is_closed:
            break
    world.hosts.append(a)
    assert a.aeron.is_closed
    assert world.clock.nano_time() >= 10_000_000_000  # aeron.driver.timeout elapsed in manual time


def test_invalid_status_messages_count_as_invalid_packets_not_as_received(world: World) -> None:
    from aeronpy.protocol.frames import SM_LAYOUT

    a, b = world.host("a"), world.host("b")
    pub, _, _ = exchange(world, a, b, 10)
    control = next(d.source for d in world.network.sent if _frame_type(d) == dh.HDR_TYPE_DATA)
    rogue = world.network.bind(("10.0.0.66", 0))
    invalid_before = a.counter(SystemCounterId.INVALID_PACKETS)
    received_before = a.counter(SystemCounterId.STATUS_MESSAGES_RECEIVED)
    for term_offset, window in ((33, 4096), (-32, 4096), (0, -1), (0, 1 << 30)):
        rogue.send(SM_LAYOUT.pack(36, 0, 0, dh.HDR_TYPE_SM, pub.session_id, STREAM, 0, term_offset, window, 1), control)
    for _ in range(20):
        a.pump()
    assert a.counter(SystemCounterId.INVALID_PACKETS) == invalid_before + 4
    assert a.counter(SystemCounterId.STATUS_MESSAGES_RECEIVED) - received_before < 4  # only the real receiver's


def _counters_of_type(host: Host, type_id: int) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    reader = host.aeron.counters_reader

    def visit(counter_id: int, counter_type: int, key: bytes, label: str) -> None:
        if counter_type == type_id:
            found.append((counter_id, label))

    reader.for_each(visit)
    return found


@pytest.mark.parametrize("fc", ["min", "tagged,g:7/2"])
def test_fc_receivers_counter_tracks_min_and_tagged_flow_control(world: World, fc: str) -> None:
    from aeronpy.concurrent import counters as ctr

    a, b, c = world.host("a"), world.host("b"), world.host("c")
    base = "aeron:udp?endpoint=239.255.7.9:40700|interface=127.0.0.1|term-length=64k"
    tag = "|gtag=7" if fc.startswith("tagged") else ""
    subs = [world.add(h, "subscription", base + tag, STREAM) for h in (b, c)]
    pub = world.add(a, "publication", f"{base}|fc={fc}", STREAM)
    world.run(lambda: pub.is_connected and all(s.image_count == 1 for s in subs), "both receivers")
    (counter_id, label), = _counters_of_type(a, ctr.FLOW_CONTROL_RECEIVERS_TYPE_ID)
    assert label.startswith("fc-receivers: ")
    world.run(lambda: a.counter(counter_id) == 2, "two receivers counted")
    plain = world.add(a, "publication", "aeron:udp?endpoint=239.255.7.11:40702|interface=127.0.0.1", STREAM)
    assert plain is not None and len(_counters_of_type(a, ctr.FLOW_CONTROL_RECEIVERS_TYPE_ID)) == 1  # max: none


def test_a_draining_publication_waits_for_live_receivers_not_for_connected(world: World) -> None:
    """fc=min with a group of 2: once one member leaves, the publication is no longer connected,
    yet the other receiver is live, so the closed publication with unsent data stays DRAINING
    while that receiver is heard from (as the C driver does), and lingers once it is gone."""
    from aeronpy.driver.lifecycle import LifecycleState

    a, b, c = world.host("a"), world.host("b"), world.host("c")
    base = "aeron:udp?endpoint=239.255.7.13:40710|interface=127.0.0.1|term-length=64k"
    subs = [world.add(h, "subscription", f"{base}|rcv-wnd=4096", STREAM) for h in (b, c)]
    pub = world.add(a, "publication", f"{base}|fc=min,g:/2,t:500ms", STREAM)
    world.run(lambda: pub.is_connected and all(s.image_count == 1 for s in subs), "the group of two")
    network_pub = a.driver.conductor.network.publications[0]
    accepted: list[int] = []

    def offer_until_held_back() -> bool:
        result = pub.offer(b"x" * 1000)
        if result > 0:
            accepted.append(result)
        return len(accepted) > 5 and network_pub.producer_position() > network_pub.snd_pos.get() + 8192

    world.run(offer_until_held_back, "unsent data held back by the receivers' windows (nobody polls)")
    assert network_pub.producer_position() > network_pub.snd_pos.get()
    c_transports = {id(e.transport) for e in c.driver.conductor.network.receive_endpoints.values()}
    world.network.drop = lambda d: id(d.sender) in c_transports  # c falls silent
    world.run(lambda: not pub.is_connected, "the group broken (c timed out of min flow control)",
              step_us=10_000, cycles=1_000)
    from aeronpy.protocol import control as cp  # the client's REMOVE_PUBLICATION, without blocking on it

    ring = a.aeron.conductor.to_driver
    ring.write(cp.REMOVE_PUBLICATION, cp.RemovePublicationMessage(
        a.aeron.conductor.client_id, ring.next_correlation_id(), pub.registration_id).encode())
    world.run(lambda: network_pub.state is LifecycleState.DRAINING, "DRAINING")
    for _ in range(200):  # 2 s with b still sending status messages
        for h in world.hosts:
            h.pump()
        world.clock.advance_ms(10)
    assert network_pub.state is LifecycleState.DRAINING
    world.network.drop = lambda d: True  # b goes away too: its liveness times out
    world.run(lambda: network_pub.state is not LifecycleState.DRAINING, "LINGER once no receiver is live",
              step_us=10_000, cycles=3_000)


def test_spies_are_released_when_the_publication_lingers(world: World) -> None:
    """As C: at LINGER each spy gets ON_UNAVAILABLE_IMAGE and its sub-pos counter is freed, not
    only when the publication is finally deleted."""
    from aeronpy.concurrent import counters as ctr
    from aeronpy.driver.lifecycle import LifecycleState
    from aeronpy.protocol import control as cp

    a = world.host("a", publication_linger_timeout_ns=60_000_000_000)  # DONE far away
    channel = "aeron:udp?endpoint=10.0.0.2:40720|term-length=64k"
    spy = world.add(a, "subscription", f"aeron-spy:{channel}", STREAM)
    pub = world.add(a, "publication", f"{channel}|ssc=true", STREAM)
    world.run(lambda: spy.image_count == 1, "the spy's image")
    assert len(_counters_of_type(a, ctr.SUBSCRIBER_POSITION_TYPE_ID)) == 1
    network_pub = a.driver.conductor.network.publications[0]
    ring = a.aeron.conductor.to_driver
    ring.write(cp.REMOVE_PUBLICATION, cp.RemovePublicationMessage(
        a.aeron.conductor.client_id, ring.next_correlation_id(), pub.registration_id).encode())
    world.run(lambda: network_pub.state is LifecycleState.LINGER, "LINGER", step_us=1_000)
    world.run(lambda: spy.image_count == 0, "the spy's image unavailable")
    assert _counters_of_type(a, ctr.SUBSCRIBER_POSITION_TYPE_ID) == []
    assert network_pub.state is LifecycleState.LINGER  # freed before the publication itself


def test_elicited_setups_do_not_hold_back_heartbeats(world: World) -> None:
    """As C, a SETUP does not reset the heartbeat timer: a receiver asking for SETUPs over and
    over still sees a heartbeat every 100 ms from an idle publication."""
    from aeronpy.protocol.frames import SM_LAYOUT

    a, b = world.host("a"), world.host("b")
    pub, _, _ = exchange(world, a, b, 1)
    control = next(d.source for d in world.network.sent if _frame_type(d) == dh.HDR_TYPE_DATA)
    rogue = world.network.bind(("10.0.0.67", 0))
    start = len(world.network.sent)
    for _ in range(50):  # 1 s: a SEND_SETUP status message every 20 ms
        rogue.send(SM_LAYOUT.pack(36, 0, 0x80, dh.HDR_TYPE_SM, pub.session_id, STREAM, 0, 0, 0, 99), control)
        for _ in range(20):
            for h in world.hosts:
                h.pump()
            world.clock.advance_ms(1)
    window = world.network.sent[start:]
    setups = [d for d in window if _frame_type(d) == dh.HDR_TYPE_SETUP]
    heartbeats = [d for d in window if _frame_type(d) == dh.HDR_TYPE_DATA and struct.unpack_from("<i", d.data)[0] == 0]
    assert len(setups) >= 5
    assert len(heartbeats) >= 8


def test_publisher_limit_waits_for_the_cleaner(world: World) -> None:
    """As C: pub-lmt does not move into a term while the term two behind is not yet cleaned."""
    a, b = world.host("a"), world.host("b")
    pub, _, _ = exchange(world, a, b, 3000)  # 64 B each: about three 64 KiB terms
    network_pub = a.driver.conductor.network.publications[0]
    assert network_pub.snd_pos.get() > 2 * 65536
    limit = network_pub.pub_lmt.get()
    network_pub.clean_position = 0  # as if the cleaner had fallen far behind
    network_pub.pub_lmt.set(limit - 4096)  # and the consumers had just moved on
    network_pub.update_pub_pos_and_lmt()
    assert network_pub.pub_lmt.get() == limit - 4096  # held back: the dirty term is too far behind
    for _ in range(8):  # the cleaner catches up one term per call
        network_pub.update_pub_pos_and_lmt()
    assert network_pub.pub_lmt.get() >= limit
