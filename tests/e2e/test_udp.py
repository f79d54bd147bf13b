"""UDP end to end on loopback through an embedded aeronpy driver: unicast, multicast, loss, spies."""

from __future__ import annotations

import os
import socket
import struct
from typing import Any, Callable

import pytest

from aeronpy.driver.loss_report import read_loss_report
from tests.conftest import wait_for
from tests.fakes import free_udp_port as free_port

MSG = struct.Struct("<q")


def pump(pub: Any, sub: Any, count: int, size: int = 64, timeout: float = 60.0) -> list[int]:
    """Offer ``count`` numbered messages while polling; returns the sequence numbers received."""
    import time

    got: list[int] = []
    body = bytes(size - 8)

    def on_fragment(buffer: Any, offset: int, length: int, header: Any) -> None:
        got.append(buffer.get_int64(offset))

    sent = 0
    deadline = time.monotonic() + timeout
    while (sent < count or len(got) < count) and time.monotonic() < deadline:
        if sent < count and pub.offer(MSG.pack(sent) + body) > 0:
            sent += 1
        sub.poll(on_fragment, 256)
    return got


def system_counter(aeron: Any, counter_id: int) -> int:
    return int(aeron.counters_reader.get_counter_value(counter_id))


def test_unicast_round_trip_and_counters(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    channel = f"aeron:udp?endpoint=127.0.0.1:{free_port()}"
    sub = aeron.add_subscription(channel, 1)
    pub = aeron.add_publication(channel, 1)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="connection")
    assert pub.channel_status_id >= 0 and sub.channel_status_id >= 0
    got = pump(pub, sub, 20_000)
    assert got == list(range(20_000))
    image = sub.images[0]
    assert image.source_identity.startswith("127.0.0.1:")
    labels: list[str] = []
    aeron.counters_reader.for_each(lambda i, t, k, label: labels.append(label))
    for prefix in ("snd-pos:", "snd-lmt:", "snd-bpe:", "rcv-hwm:", "rcv-pos:", "rcv-channel:", "snd-channel:", "rcv-naks-sent:"):
        assert any(label.startswith(prefix) for label in labels), prefix
    assert system_counter(aeron, 0) > 0 and system_counter(aeron, 1) > 0  # bytes sent / received
    assert system_counter(aeron, 7) > 0 and system_counter(aeron, 8) > 0  # SMs sent / received


def test_fragmented_messages_over_udp(driver: Any, client_factory: Callable[..., Any]) -> None:
    from aeronpy.logbuffer.fragment_assembler import FragmentAssembler

    aeron = client_factory()
    channel = f"aeron:udp?endpoint=127.0.0.1:{free_port()}|term-length=64k"
    sub = aeron.add_subscription(channel, 2)
    pub = aeron.add_exclusive_publication(channel, 2)
    wait_for(lambda: pub.is_connected, message="connection")
    messages = [os.urandom(n) for n in (8000, 1500, 3000, 1, 8192)] * 20
    got: list[bytes] = []
    assembler = FragmentAssembler(lambda b, o, n, h: got.append(b.get_bytes(o, n)))
    for msg in messages:
        wait_for(lambda: pub.offer(msg) > 0 or sub.poll(assembler.on_fragment, 50) < 0, message="offer")
        sub.poll(assembler.on_fragment, 50)
    wait_for(lambda: sub.poll(assembler.on_fragment, 50) >= 0 and len(got) == len(messages), message="all")
    assert got == messages


def test_multicast_on_loopback(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    port = free_port()
    channel = f"aeron:udp?endpoint=239.255.77.1:{port}|interface=127.0.0.1"
    sub_a = aeron.add_subscription(channel, 3)
    sub_b = aeron.add_subscription(channel, 3)
    pub = aeron.add_publication(channel, 3)
    try:
        wait_for(lambda: pub.is_connected and sub_a.image_count == 1 and sub_b.image_count == 1, timeout=10, message="multicast connection")
    except AssertionError:
        pytest.skip("multicast on the loopback interface is not available here")
    got_a: list[int] = []
    got_b: list[int] = []
    sent = 0
    while sent < 5000:
        if pub.offer(MSG.pack(sent) + bytes(24)) > 0:
            sent += 1
        sub_a.poll(lambda b, o, n, h: got_a.append(b.get_int64(o)), 100)
        sub_b.poll(lambda b, o, n, h: got_b.append(b.get_int64(o)), 100)
    wait_for(lambda: sub_a.poll(lambda b, o, n, h: got_a.append(b.get_int64(o)), 100) >= 0
             and sub_b.poll(lambda b, o, n, h: got_b.append(b.get_int64(o)), 100) >= 0
             and len(got_a) == 5000 and len(got_b) == 5000, message="multicast delivery")
    assert got_a == list(range(5000)) == got_b


LOSS = dict(
    udp_channel_incoming_interceptors="loss",
    udp_channel_transport_bindings_loss_args="rate=0.1|seed=7|recv-msg-mask=0x2",
)


def test_reliable_delivery_under_loss(driver_factory: Callable[..., Any], client_factory: Callable[..., Any], aeron_dir: str) -> None:
    driver_factory(**LOSS)
    aeron = client_factory()
    channel = f"aeron:udp?endpoint=127.0.0.1:{free_port()}"
    sub = aeron.add_subscription(channel, 4)
    pub = aeron.add_publication(channel, 4)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="connection")
    got = pump(pub, sub, 20_000)
    assert got == list(range(20_000))
    assert system_counter(aeron, 5) > 0  # NAKs sent
    assert system_counter(aeron, 6) > 0  # NAKs received
    assert system_counter(aeron, 11) > 0  # retransmits sent
    entries: list[tuple[Any, ...]] = []

    with open(os.path.join(aeron_dir, "loss-report.dat"), "rb") as f:
        data = bytearray(f.read())
    from aeronpy.concurrent.atomic_buffer import AtomicBuffer

    read_loss_report(AtomicBuffer(data), lambda *e: entries.append(e))
    assert len(entries) == 1 and entries[0][0] > 0 and entries[0][1] > 0


def test_unreliable_stream_fills_gaps(driver_factory: Callable[..., Any], client_factory: Callable[..., Any]) -> None:
    driver_factory(**LOSS)
    aeron = client_factory()
    port = free_port()
    sub = aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{port}|reliable=false", 5)
    pub = aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{port}", 5)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="connection")
    got: list[int] = []
    for i in range(5000):
        wait_for(lambda: pub.offer(MSG.pack(i) + bytes(56)) > 0 or sub.poll(lambda b, o, n, h: got.append(b.get_int64(o)), 100) < 0, message="offer")
        sub.poll(lambda b, o, n, h: got.append(b.get_int64(o)), 100)
    wait_for(lambda: sub.poll(lambda b, o, n, h: got.append(b.get_int64(o)), 100) >= 0 and sub.images[0].position >= pub.position, timeout=20, message="the image to reach the publisher position")
    assert got == sorted(got) and len(set(got)) == len(got)
    assert 0 < len(got) < 5000
    assert system_counter(aeron, 23) > 0  # loss gap fills
    assert system_counter(aeron, 5) == 0  # no NAKs for an unreliable stream


def test_spy_subscription_sees_network_publication(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    channel = f"aeron:udp?endpoint=127.0.0.1:{free_port()}"
    spy = aeron.add_subscription("aeron-spy:" + channel, 6)
    pub = aeron.add_publication(channel + "|ssc=true", 6)
    wait_for(lambda: spy.image_count == 1 and pub.is_connected, message="spy image and simulated connection")
    assert spy.images[0].source_identity == "aeron:ipc"
    got = pump(pub, spy, 3000)
    assert got == list(range(3000))


def test_publication_close_makes_image_unavailable(driver_factory: Callable[..., Any], client_factory: Callable[..., Any]) -> None:
    driver_factory(timer_interval_ns=20_000_000, status_message_timeout_ns=40_000_000)
    aeron = client_factory()
    unavailable: list[Any] = []
    channel = f"aeron:udp?endpoint=127.0.0.1:{free_port()}|linger=0"
    sub = aeron.add_subscription(channel, 7, None, unavailable.append)
    pub = aeron.add_publication(channel, 7)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="connection")
    assert pump(pub, sub, 100) == list(range(100))
    pub.close()
    wait_for(lambda: sub.poll(lambda *a: None, 10) >= 0 and len(unavailable) == 1, timeout=15, message="image unavailable after EOS")
    assert sub.image_count == 0


def test_startup_rejects_window_larger_than_socket_buffer(aeron_dir: str) -> None:
    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.media_driver import MediaDriver
    from aeronpy.errors import ConfigurationError

    ctx = DriverContext.from_properties(env={}, aeron_dir=aeron_dir, socket_rcvbuf=65536, initial_window_length=1024 * 1024 * 16)
    with pytest.raises(ConfigurationError, match="aeron.rcv.initial.window.length"):
        MediaDriver.launch(ctx)


def test_startup_warns_when_rmem_max_caps_the_buffer(aeron_dir: str, capsys: Any) -> None:
    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.media.socket_validation import read_os_limit
    from aeronpy.driver.media_driver import MediaDriver

    rmem_max = read_os_limit("rmem_max")
    ctx = DriverContext.from_properties(env={}, aeron_dir=aeron_dir, socket_rcvbuf=rmem_max * 2, dir_delete_on_shutdown=True)
    with MediaDriver.launch(ctx) as driver:
        assert any("rmem_max" in w for w in driver.startup_warnings)
    assert "rmem_max" in capsys.readouterr().err


def test_image_refused_when_sender_mtu_exceeds_receiver_window(driver: Any, client_factory: Callable[..., Any], aeron_dir: str) -> None:
    from aeronpy.cnc import CncFile
    from aeronpy.tools.errors import format_errors

    aeron = client_factory()
    port = free_port()
    sub = aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{port}|rcv-wnd=4k", 8)
    pub = aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{port}|mtu=8k", 8)

    def logged() -> bool:
        with CncFile.map(os.path.join(aeron_dir, "cnc.dat")) as cnc:
            return "greater than the receiver window" in "\n".join(format_errors(cnc))

    wait_for(logged, message="the refused SETUP to be logged")
    assert sub.image_count == 0 and not pub.is_connected


def test_image_setup_checks() -> None:
    from aeronpy.driver.network_conductor import _image_setup_problem

    assert _image_setup_problem(1408, 131072, 262144) is None
    assert "MTU" in str(_image_setup_problem(8192, 4096, 262144))
    assert "SO_RCVBUF" in str(_image_setup_problem(1408, 1 << 20, 262144))
    assert "invalid" in str(_image_setup_problem(1000, 1 << 20, 0))


def test_ipv6_loopback_unicast(driver: Any, client_factory: Callable[..., Any]) -> None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
            port = int(s.getsockname()[1])
    except OSError as ex:
        pytest.skip(f"IPv6 loopback unavailable: {ex}")
    aeron = client_factory()
    channel = f"aeron:udp?endpoint=[::1]:{port}"
    sub = aeron.add_subscription(channel, 9)
    pub = aeron.add_publication(channel, 9)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="IPv6 connection")
    assert sub.images[0].source_identity.startswith("[::1]:")
    assert pump(pub, sub, 2000) == list(range(2000))


def test_host_name_endpoint(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    channel = f"aeron:udp?endpoint=localhost:{free_port()}"
    sub = aeron.add_subscription(channel, 10)
    pub = aeron.add_publication(channel, 10)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="connection by host name")
    assert pump(pub, sub, 500) == list(range(500))


def test_spies_only_publication_keeps_flowing_with_ssc(driver: Any, client_factory: Callable[..., Any]) -> None:
    """ssc=true and only a spy: the sender position follows the spy, beyond one term window."""
    aeron = client_factory()
    channel = f"aeron:udp?endpoint=127.0.0.1:{free_port()}|term-length=64k"
    spy = aeron.add_subscription("aeron-spy:" + channel, 11)
    pub = aeron.add_publication(channel + "|ssc=true", 11)
    wait_for(lambda: spy.image_count == 1 and pub.is_connected, message="spy connection")
    got = pump(pub, spy, 6000, size=64)  # 6000 x 96 B = 9 term windows of 32 KiB
    assert got == list(range(6000))


def test_hostile_session_ids_do_not_grow_pending_setups(driver: Any, client_factory: Callable[..., Any]) -> None:
    from aeronpy.driver.endpoints import MAX_PENDING_SETUPS
    from aeronpy.protocol.frames import DataFrame

    aeron = client_factory()
    port = free_port()
    aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{port}", 12)
    endpoint = wait_for(lambda: next(iter(driver.conductor.network.receive_endpoints.values()), None), message="endpoint")
    start = aeron.counters_reader.get_counter_value(1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for chunk in range(12):  # in chunks, so the socket buffer never overflows
            for i in range(MAX_PENDING_SETUPS // 4):
                session = 5000 + chunk * MAX_PENDING_SETUPS + i
                s.sendto(DataFrame.data(term_offset=0, session_id=session, stream_id=12, term_id=1, payload=b"x" * 8).encode_aligned(), ("127.0.0.1", port))
            expected = start + (chunk + 1) * (MAX_PENDING_SETUPS // 4) * 64
            wait_for(lambda: aeron.counters_reader.get_counter_value(1) >= expected, timeout=20, message="the chunk to be received")
    interest = endpoint.streams[12]
    assert len(interest.pending_setup) <= MAX_PENDING_SETUPS
