"""The sender's C common case (PublicationTx) against its Python twin, and a network publication
driven through it (as the Sender does) against one driven by ``send()`` alone: the same
datagrams on the wire, positions, counters and state.  Real loopback UDP sockets, a manual
time passed as ``now_ns``."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.atomic_buffer import HAVE_C_EXTENSION, AtomicBuffer
from aeronpy.driver import publication_tx
from aeronpy.driver.endpoints import SendChannelEndpoint
from aeronpy.driver.media.udp_channel import UdpChannel
from aeronpy.driver.media.udp_transport import UdpChannelTransport
from aeronpy.driver.network_publication import HEARTBEAT_INTERVAL_NS
from aeronpy.driver.publication_tx import PublicationTxPy, socket_send
from aeronpy.driver.system_counters import SystemCounterId as Sys
from aeronpy.protocol.data_header import HDR_TYPE_PAD
from aeronpy.testing import InMemoryNetwork
from tests.driver.network_harness import Counters, PublicationRig

needs_c = pytest.mark.skipif(publication_tx.PublicationTx is None, reason="needs the C extension on Linux")
TERM = 64 * 1024
SESSION, STREAM = 77, 1001


def _receiver() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


def _drain(sock: socket.socket) -> list[bytes]:
    out = []
    for _ in range(1000):
        try:
            out.append(sock.recv(65536))
        except BlockingIOError:
            break
    return out


class Side:
    """One sender path (C or twin) with its own terms, counters, socket and receiver."""

    def __init__(self, native: bool, mtu: int, max_messages: int, idle_is_trivial: bool, start: int) -> None:
        self.terms = tuple(AtomicBuffer(bytearray(TERM)) for _ in range(3))
        self.counters = Counters()
        self.snd_pos, self.snd_lmt = self.counters.new(start), self.counters.new(start)
        self.bytes_sent, self.short_sends = self.counters.new(), self.counters.new()
        self.pub = SimpleNamespace(
            should_send_setup=False, has_initial_connection=True, track_sender_limits=False,
            time_of_last_data_or_heartbeat_ns=0,
        )
        self.retransmits = SimpleNamespace(_active_count=0)
        self.receiver = _receiver()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.connect(self.receiver.getsockname())
        common = (self.terms, self.snd_pos, self.snd_lmt, self.bytes_sent, self.short_sends, self.retransmits, mtu,
                  max_messages, HDR_TYPE_PAD, HEARTBEAT_INTERVAL_NS, idle_is_trivial)
        if native:
            self.tx: Any = publication_tx.PublicationTx(self.pub, self.sock, None, *common)
        else:
            self.tx = PublicationTxPy(self.pub, socket_send(self.sock), *common)
        self.tail = start

    def append(self, length: int, pad: bool) -> None:
        """A committed frame at the tail (a PAD frame to the end of the term when ``pad``)."""
        term = self.terms[(self.tail // TERM) % 3]
        offset = self.tail % TERM
        aligned = (length + 31) & ~31
        if pad or offset + aligned > TERM:
            length, frame_type = TERM - offset, HDR_TYPE_PAD
        else:
            frame_type = 1
        header = bytearray(32)
        header[5], header[6] = 0xC0, frame_type
        header[8:12] = offset.to_bytes(4, "little")
        header[12:16] = SESSION.to_bytes(4, "little")
        header[16:20] = STREAM.to_bytes(4, "little")
        term.put_bytes(offset + 4, bytes(header[4:]))
        if frame_type == 1:
            term.put_bytes(offset + 32, bytes((offset + i) & 0xFF for i in range(length - 32)))
        term.put_int32_ordered(offset, length)
        self.tail += aligned if frame_type == 1 else length

    def state(self) -> tuple[Any, ...]:
        return (self.snd_pos.get(), self.snd_lmt.get(), self.bytes_sent.get(), self.short_sends.get(),
                vars(self.pub).copy(), self.tx.handled, self.tx.declined)


steps = st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(32, 1400), st.booleans()),
    st.tuples(st.just("limit"), st.integers(-2000, 8000)),
    st.tuples(st.just("flag"), st.sampled_from(["should_send_setup", "has_initial_connection", "track_sender_limits"]),
              st.booleans()),
    st.tuples(st.just("retransmit"), st.integers(0, 1)),
    st.tuples(st.just("time"), st.integers(0, 2 * HEARTBEAT_INTERVAL_NS)),
    st.tuples(st.just("send")),
), max_size=60)


@needs_c
@settings(max_examples=60, deadline=None)
@given(steps=steps, mtu=st.sampled_from([64, 512, 1408]), max_messages=st.integers(1, 4),
       idle_is_trivial=st.booleans(), start_term=st.integers(0, 5), start_offset=st.integers(0, TERM // 32 - 1))
def test_the_c_path_and_its_twin_send_the_same_and_leave_the_same_state(
    steps: list[tuple[Any, ...]], mtu: int, max_messages: int, idle_is_trivial: bool, start_term: int,
    start_offset: int,
) -> None:
    start = start_term * TERM + start_offset * 32
    sides = [Side(native, mtu, max_messages, idle_is_trivial, start) for native in (True, False)]
    now = HEARTBEAT_INTERVAL_NS
    try:
        for step in steps + [("send",)]:
            for side in sides:
                kind = step[0]
                if kind == "append" and side.tail - side.snd_pos.get() < 2 * TERM:
                    side.append(min(step[1], mtu), step[2])
                elif kind == "limit":
                    side.snd_lmt.set(side.snd_pos.get() + step[1])
                elif kind == "flag":
                    setattr(side.pub, step[1], step[2])
                elif kind == "retransmit":
                    side.retransmits._active_count = step[1]
            if step[0] == "time":
                now += step[1]
            if step[0] != "send":
                continue
            results = [side.tx.send(now) for side in sides]
            assert results[0] == results[1]
            assert _drain(sides[0].receiver) == _drain(sides[1].receiver)
            assert sides[0].state() == sides[1].state()
    finally:
        for side in sides:
            side.sock.close()
            side.receiver.close()


@needs_c
def test_the_c_path_declines_what_send_must_do_and_does_the_rest() -> None:
    side = Side(True, 1408, 4, True, 0)
    try:
        tx, pub = side.tx, side.pub
        pub.time_of_last_data_or_heartbeat_ns = 10
        side.snd_lmt.set(4096)
        assert tx.send(20) == 0 and tx.declined == 0  # nothing committed, nothing due: done here
        side.append(100, False)
        assert tx.send(30) == 128 and side.snd_pos.get() == 128 and side.bytes_sent.get() == 128
        assert pub.time_of_last_data_or_heartbeat_ns == 30 and len(_drain(side.receiver)) == 1
        assert tx.send(30 + HEARTBEAT_INTERVAL_NS) == -1  # a heartbeat is due: send() does it
        pub.should_send_setup = True
        side.append(100, False)
        assert tx.send(40) == -1 and side.snd_pos.get() == 128  # a SETUP may be due: nothing sent
        pub.should_send_setup = False
        side.retransmits._active_count = 1
        assert tx.send(40) == -1  # a retransmit pending
        side.retransmits._active_count = 0
        side.snd_lmt.set(128)
        assert tx.send(40) == -1  # the first blocked cycle: send() counts the back-pressure event
        pub.track_sender_limits = True
        assert tx.send(40) == 0  # still blocked, already counted
        side.snd_lmt.set(4096)
        assert tx.send(50) == 128 and pub.track_sender_limits is False
        side.terms[0].release()
        assert tx.send(60) == -1  # a released term: send() decides (the log is closing)
        assert (tx.handled, tx.declined) == (4, 5)
    finally:
        side.sock.close()
        side.receiver.close()


class CountingSocket:
    """A socket whose ``fileno()`` calls are counted."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.filenos = 0

    def fileno(self) -> int:
        self.filenos += 1
        return self.sock.fileno()


@needs_c
def test_the_c_path_asks_for_the_descriptor_only_when_it_sends() -> None:
    side = Side(True, 1408, 4, True, 0)
    counting = CountingSocket(side.sock)
    try:
        tx = publication_tx.PublicationTx(
            side.pub, counting, None, side.terms, side.snd_pos, side.snd_lmt, side.bytes_sent, side.short_sends,
            side.retransmits, 1408, 4, HDR_TYPE_PAD, HEARTBEAT_INTERVAL_NS, True)
        side.snd_lmt.set(4096)
        for now in range(1, 6):  # idle cycles with room to send: no syscall, no descriptor asked for
            assert tx.send(now) == 0
        assert counting.filenos == 0
        side.append(100, False)
        assert tx.send(10) == 128 and counting.filenos == 1 and len(_drain(side.receiver)) == 1
        side.sock.close()  # a closed socket: an idle cycle still finds nothing to do, a send says why
        assert tx.send(11) == 0
        side.append(100, False)
        with pytest.raises(OSError):
            tx.send(12)
        assert side.snd_pos.get() == 128
    finally:
        side.sock.close()
        side.receiver.close()


# ------------------------------------------------------------------ through NetworkPublication
class UdpRig:
    """A PublicationRig whose send endpoint has a real UDP socket, sending to ``receiver``."""

    def __init__(self, root: Path, native: bool, **kw: Any) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.receiver = _receiver()
        port = self.receiver.getsockname()[1]
        channel = UdpChannel.parse(f"aeron:udp?endpoint=127.0.0.1:{port}")
        counters = Counters()
        transport = UdpChannelTransport(("127.0.0.1", 0))
        endpoint = SendChannelEndpoint(channel, transport, ("127.0.0.1", port), counters.new(), counters.system)
        saved = publication_tx.NATIVE_TX
        publication_tx.NATIVE_TX = native
        try:
            self.rig = PublicationRig(root, InMemoryNetwork(), counters, endpoint=endpoint, **kw)
        finally:
            publication_tx.NATIVE_TX = saved
        self.pub = self.rig.pub

    def cycle(self, now_ns: int) -> int:
        """One sender duty cycle for the publication, as the Sender runs it."""
        sent = self.pub.tx_send(now_ns)
        return int(sent if sent >= 0 else self.pub.send(now_ns))

    def close(self) -> None:
        self.rig.close()
        self.rig.endpoint.transport.close()
        self.receiver.close()


def test_a_publication_on_a_socket_gets_the_c_path_and_pure_python_keeps_send(tmp_path: Path) -> None:
    c, py = UdpRig(tmp_path / "c", True), UdpRig(tmp_path / "py", False)
    try:
        assert py.pub.tx_send == py.pub.send
        if publication_tx.PublicationTx is not None:
            assert isinstance(c.pub.tx_send.__self__, publication_tx.PublicationTx)
    finally:
        c.close()
        py.close()


def test_an_in_memory_publication_keeps_send(tmp_path: Path) -> None:
    rig = PublicationRig(tmp_path, InMemoryNetwork(), Counters())
    try:
        assert rig.pub.tx_send == rig.pub.send
    finally:
        rig.close()


@needs_c
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.one_of(
    st.tuples(st.just("offer"), st.integers(1, 1300), st.integers(1, 6)),
    st.tuples(st.just("sm"), st.integers(0, 3), st.sampled_from([4096, 32 * 1024])),
    st.tuples(st.just("nak"), st.integers(0, 2)),
    st.tuples(st.just("time"), st.sampled_from([1_000, 1_000_000, 20_000_000, HEARTBEAT_INTERVAL_NS])),
    st.tuples(st.just("cycle"), st.integers(1, 4)),
), min_size=10, max_size=50), cold_start=st.booleans())
def test_the_sender_way_and_send_alone_put_the_same_on_the_wire(plan: list[tuple[Any, ...]], cold_start: bool) -> None:
    with tempfile.TemporaryDirectory() as root:
        rigs = (UdpRig(Path(root) / "c", True, max_messages_per_send=4),
                UdpRig(Path(root) / "py", False, max_messages_per_send=4))
        try:
            now = 1_000
            # connected first (SETUP, an SM, the next SETUP clears the flag), unless the plan starts cold
            prologue: list[tuple[Any, ...]] = [("cycle", 1), ("sm", 0, 32 * 1024), ("time", HEARTBEAT_INTERVAL_NS + 1)]
            for step in ([] if cold_start else prologue) + plan + [("cycle", 2)]:
                kind = step[0]
                if kind == "time":
                    now += step[1]
                for _ in range(step[1] if kind == "cycle" else 0):
                    results = [r.cycle(now) for r in rigs]
                    assert results[0] == results[1]
                for r in rigs:
                    if kind == "offer":
                        for _ in range(step[2]):
                            r.rig.writer.offer(b"m" * step[1])
                    elif kind == "sm":  # a receiver at snd-pos minus a few frames, window as drawn
                        position = max(0, r.rig.counter("snd-pos") - step[1] * 64)
                        term_id = 7 + position // (64 * 1024)
                        r.pub.on_status_message(0, term_id, position % (64 * 1024), step[2], 99, None, now, True)
                    elif kind == "nak":
                        position = r.rig.counter("snd-pos")
                        if position:
                            r.pub.on_nak(7 + (position - 1) // (64 * 1024), 0, min(position, 64 * 1024) // 2, now)
                assert _drain(rigs[0].receiver) == _drain(rigs[1].receiver)
                for name in ("snd-pos", "snd-lmt", "snd-bpe"):
                    assert rigs[0].rig.counter(name) == rigs[1].rig.counter(name), name
                for counter in (Sys.BYTES_SENT, Sys.HEARTBEATS_SENT, Sys.SHORT_SENDS, Sys.RETRANSMITS_SENT):
                    assert rigs[0].rig.counters[counter] == rigs[1].rig.counters[counter], counter
                a, b = rigs[0].pub, rigs[1].pub
                assert (a.time_of_last_data_or_heartbeat_ns, a.track_sender_limits, a.has_initial_connection) == (
                    b.time_of_last_data_or_heartbeat_ns, b.track_sender_limits, b.has_initial_connection)
            if HAVE_C_EXTENSION:
                assert rigs[0].pub.tx_send.__self__.handled + rigs[0].pub.tx_send.__self__.declined > 0
        finally:
            for r in rigs:
                r.close()
