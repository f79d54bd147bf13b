"""The SHARED driver's eager data path: the C ``EagerDataPath`` against its Python twin over real
loopback sockets (the same sends, rebuilds, declines, work and errors), its plan, and a SHARED
driver driven by hand in process, where a message reaches the subscriber's image inside the idle
probe's check, before any duty cycle runs."""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.concurrent.ringbuffer import HEAD_POSITION_OFFSET, TAIL_POSITION_OFFSET
from aeronpy.driver import eager_data_path
from aeronpy.driver.eager_data_path import EagerDataPathPy, plan_of
from aeronpy.driver.image_rx import ImageRx, image_key
from aeronpy.driver.media.udp_transport import TRANSIENT_ERRNOS
from aeronpy.testing import ManualClock
from tests.conftest import SHM
from tests.driver.test_publication_tx import SESSION, STREAM, TERM, Side, _drain

needs_c = pytest.mark.skipif(eager_data_path.EagerDataPath is None, reason="needs the C extension on Linux")
SLOT = 2048
SLOTS = 4


class Endpoint:
    """A receive endpoint's ``dispatch_declined``: records what the fast path left to Python."""

    def __init__(self) -> None:
        self.declined: list[tuple[Any, ...]] = []

    def dispatch_declined(self, destination: Any, batch: list[tuple[int, Any]], i: int, taken: int, now_ns: int) -> None:
        self.declined.append(([length for length, _ in batch], i, taken, now_ns))
        destination.time_of_last_activity_ns = now_ns


class Rig:
    """One eager data path (C or twin) planned over a PublicationTx (``Side``) whose datagrams go
    to a receive socket on an epoll, rebuilt into an ImageRx's terms."""

    def __init__(self, native: bool, mtu: int, max_messages: int) -> None:
        self.side = Side(True, mtu, max_messages, True, 0)
        self.clock = ManualClock(1_000_000_000)
        self.errors: list[BaseException] = []
        cls = eager_data_path.EagerDataPath if native else EagerDataPathPy
        self.eager = cls(self.clock.nano_time, self.errors.append, TRANSIENT_ERRNOS)
        self.epoll = select.epoll()
        self.sock = self.side.receiver
        self.epoll.register(self.sock.fileno(), select.EPOLLIN)
        self.terms = tuple(AtomicBuffer(bytearray(TERM)) for _ in range(3))
        self.hwm = AtomicBuffer(bytearray(64))
        self.connection = SimpleNamespace(time_of_last_frame_ns=0)
        self.rx = ImageRx(self.terms, 0, TERM, self.hwm, 0, False, self.connection, self.side.sock.getsockname())
        self.rx.last_sm_window_limit = TERM
        self.buffer = bytearray(SLOT * SLOTS)
        self.destination = SimpleNamespace(control_address=None, time_of_last_activity_ns=0)
        self.endpoint = Endpoint()
        self.bytes: list[int] = []
        self.side.pub.tx_send = self.side.tx.send
        self.entry = (self.sock, self.buffer, SLOT, SLOTS, {image_key(STREAM, SESSION): self.rx}, self.destination,
                      self.endpoint, self.bytes.append)
        self.eager.set_plan(((self.side.pub, self.side.tx),), self.epoll.fileno(), {self.sock.fileno(): self.entry})
        self.ring = AtomicBuffer(bytearray(64))  # a to-driver ring's tail (0) and head (8) words
        self.eager.set_commands(self.ring, 0, 8)
        self.eager.whole = 1

    def state(self) -> tuple[Any, ...]:
        side = self.side.state()
        planned = side[4].pop("tx_send") == self.side.tx.send  # which object it is differs between rigs
        return (side, planned, self.hwm.get_int64(0), bytes(self.terms[0].get_bytes(0, TERM)),
                self.connection.time_of_last_frame_ns, self.rx.time_of_last_packet_ns, vars(self.destination),
                self.endpoint.declined, self.bytes, self.eager.work, self.eager.runs, self.eager.handled,
                self.eager.quiet, self.eager.handled_runs, [repr(e) for e in self.errors])

    @contextlib.contextmanager
    def unplanned_ready(self) -> Iterator[None]:
        """A socket on the epoll that the plan does not name (a sender's, say), with a datagram waiting."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
            other.bind(("127.0.0.1", 0))
            self.epoll.register(other.fileno(), select.EPOLLIN)
            other.sendto(b"x" * 32, other.getsockname())
            yield
            self.epoll.unregister(other.fileno())

    def close(self) -> None:
        if isinstance(self.eager, EagerDataPathPy):
            self.eager.close()
        self.epoll.close()
        self.side.sock.close()
        self.side.receiver.close()


steps = st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(32, 600)),
    st.tuples(st.just("limit"), st.integers(-500, 4000)),
    st.tuples(st.just("accepting"), st.booleans()),
    st.tuples(st.just("window"), st.integers(0, TERM)),
    st.tuples(st.just("rebind"), st.booleans()),
    st.tuples(st.just("time"), st.integers(0, 50_000_000)),
    st.tuples(st.just("defer"), st.integers(-1000, 100_000)),
    st.tuples(st.just("command"), st.booleans()),
    st.tuples(st.just("run")),
    st.tuples(st.just("watch"), st.booleans()),
    st.tuples(st.just("deferrable"), st.booleans(), st.booleans()),
    st.tuples(st.just("run_watched"), st.booleans()),
), max_size=40)


@needs_c
@settings(max_examples=40, deadline=None)
@given(steps=steps, mtu=st.sampled_from([96, 512, 1408]), max_messages=st.integers(1, 4))
def test_the_c_eager_path_and_its_twin_send_rebuild_and_decline_the_same(
    steps: list[tuple[Any, ...]], mtu: int, max_messages: int,
) -> None:
    rigs = [Rig(native, mtu, max_messages) for native in (True, False)]
    try:
        for step in steps + [("run",)]:
            kind = step[0]
            results = []
            for rig in rigs:
                side = rig.side
                if kind == "append" and side.tail + 2 * mtu < TERM // 2:
                    side.append(min(step[1], mtu), False)
                elif kind == "limit":
                    side.snd_lmt.set(side.snd_pos.get() + step[1])
                elif kind == "accepting":
                    rig.rx.accepting = int(step[1])
                elif kind == "window":
                    rig.rx.last_sm_window_limit = step[1]
                elif kind == "rebind":  # the publication sends through something else: not planned then
                    side.pub.tx_send = side.tx.send if step[1] else (lambda now_ns: 0)
                elif kind == "time":
                    rig.clock.advance_ns(step[1])
                elif kind == "defer":  # runs may stand in for duty cycles until then
                    rig.eager.defer_until_ns = rig.clock.nano_time() + step[1]
                elif kind == "command":  # a client command waits (tail ahead of head), or none does
                    rig.ring.put_int64(0, rig.ring.get_int64(8) + (64 if step[1] else 0))
                elif kind == "run":
                    results.append(rig.eager.run())
                elif kind == "watch":  # a word moved (fires and runs), or nothing did (no run)
                    word = AtomicBuffer(bytearray(8))
                    snapshot = bytearray(8)
                    rig.eager.watch(((word, 0),), snapshot, (), 0)
                    if step[1]:
                        word.put_int64_ordered(0, 1)
                    results.append(rig.eager.watch(((word, 0),), snapshot, (), 1))
                elif kind == "deferrable":  # a client's word and the image's HWM, the latter deferrable
                    word = AtomicBuffer(bytearray(8))
                    words = ((word, 0), (rig.hwm, 0))
                    snapshot = bytearray(16)
                    rig.eager.set_deferrable(2, (1,))
                    rig.eager.deferred = 0
                    rig.eager.watch(words, snapshot, (), 0)
                    if step[1]:
                        word.put_int64_ordered(0, 1)
                    if step[2]:
                        rig.hwm.put_int64_ordered(0, rig.hwm.get_int64(0) + 32)
                    results.append((rig.eager.watch(words, snapshot, (), 1), rig.eager.deferred, bytes(snapshot)))
                elif kind == "run_watched":  # the cycle after work: a run, then the HWM taken in (or not masked)
                    words = ((AtomicBuffer(bytearray(8)), 0), (rig.hwm, 0))
                    snapshot = bytearray(16)
                    rig.eager.set_deferrable(2 if step[1] else 3, (1,))
                    rig.eager.deferred = 0
                    rig.eager.watch(words, snapshot, (), 0)
                    results.append((rig.eager.run_watched(words, snapshot), rig.eager.deferred, bytes(snapshot)))
            assert results[0] == results[1] if results else True
            assert rigs[0].state() == rigs[1].state()
            assert _drain(rigs[0].sock) == _drain(rigs[1].sock)  # what neither took (none planned: empty)
    finally:
        for rig in rigs:
            rig.close()


@pytest.fixture(params=[True, False], ids=["c", "twin"])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    if eager_data_path.EagerDataPath is None:
        pytest.skip("needs the C extension on Linux")
    built = Rig(request.param, 1408, 4)
    yield built
    built.close()


def test_a_run_sends_then_rebuilds_what_arrived_and_counts_the_work(rig: Rig) -> None:
    rig.side.append(64, False)
    rig.side.append(96, False)
    rig.side.snd_lmt.set(TERM)
    assert rig.eager.run() == 1 + 1  # one publication sent, one datagram (both frames) rebuilt
    assert rig.hwm.get_int64(0) == 64 + 96 and rig.bytes == [160]
    assert rig.destination.time_of_last_activity_ns == rig.clock.nano_time()
    assert rig.eager.work == 2 and rig.endpoint.declined == []
    assert rig.eager.run() == 0  # nothing new: the publication's idle tick is trivial here
    rig.rx.accepting = 0
    rig.side.append(64, False)
    assert rig.eager.run() == 2 and rig.endpoint.declined == [([64], 0, 0, rig.clock.nano_time())]
    assert rig.hwm.get_int64(0) == 160  # declined: left to the Python dispatch


def test_a_run_handles_its_duty_cycle_only_when_it_left_nothing_else_before_the_deadline(rig: Rig) -> None:
    rig.side.snd_lmt.set(TERM)

    def run_one() -> int:
        rig.side.append(64, False)
        rig.eager.run()
        return int(rig.eager.handled)

    assert run_one() == 0  # defer_until_ns 0: never
    rig.eager.defer_until_ns = rig.clock.nano_time() + 1000
    assert run_one() == 1 and rig.eager.handled_runs == 1
    assert rig.eager.run() == 0 and rig.eager.handled == 0  # no work: the duty cycle runs
    rig.ring.put_int64(0, 64)  # a client command waits
    assert run_one() == 0
    rig.ring.put_int64(8, 64)
    rig.rx.accepting = 0  # a datagram left to the Python dispatch
    assert run_one() == 0
    rig.rx.accepting = 1
    rig.side.pub.has_initial_connection = False  # the publication's send() must run (declined)
    assert run_one() == 0
    rig.side.pub.has_initial_connection = True
    with rig.unplanned_ready():
        assert run_one() == 0
    assert run_one() == 1
    rig.eager.whole = 0  # a publication the plan does not cover may have data
    assert run_one() == 0
    rig.eager.whole = 1
    rig.clock.advance_ns(1000)  # the deadline passed
    assert run_one() == 0 and rig.eager.handled_runs == 2


def test_a_run_is_quiet_when_a_duty_cycle_would_have_found_only_timers(rig: Rig) -> None:
    rig.side.snd_lmt.set(TERM)
    eager = rig.eager

    def quiet() -> int:
        assert eager.run() == 0
        return int(eager.quiet)

    rig.side.append(64, False)
    assert eager.run() == 2  # sent lately: no heartbeat is due, the publication's idle tick declines nothing
    assert quiet() == 0  # defer_until_ns 0: never
    eager.defer_until_ns = rig.clock.nano_time() + 1000
    assert quiet() == 1 and eager.handled == 0 and eager.handled_runs == 0
    rig.side.append(64, False)
    assert eager.run() == 2 and eager.quiet == 0 and eager.handled == 1  # work: handled, not quiet
    rig.ring.put_int64(0, 64)  # a client command waits
    assert quiet() == 0
    rig.ring.put_int64(8, 64)
    eager.whole = 0
    assert quiet() == 0
    eager.whole = 1
    with rig.unplanned_ready():
        assert quiet() == 0
    assert quiet() == 1
    eager.set_plan(((rig.side.pub, rig.side.tx),), rig.epoll.fileno(), {})  # no receive side: the epoll is not asked
    assert eager.epoll_fd == -1 and quiet() == 0
    eager.set_plan(((rig.side.pub, rig.side.tx),), rig.epoll.fileno(), {rig.sock.fileno(): rig.entry})
    assert quiet() == 1
    rig.clock.advance_ns(1000)
    assert quiet() == 0  # the deadline passed


def test_run_watched_takes_in_the_runs_own_moves_of_deferrable_words(rig: Rig) -> None:
    rig.side.snd_lmt.set(TERM)
    eager = rig.eager
    client = AtomicBuffer(bytearray(64))
    words = ((client, 0), (rig.hwm, 0))
    snapshot = bytearray(16)
    eager.set_deferrable(2, (1,))
    eager.watch(words, snapshot, (), 0)
    rig.side.append(64, False)
    assert eager.run_watched(words, snapshot) == 2 and eager.deferred == 1
    assert int.from_bytes(snapshot[8:16], "little") == rig.hwm.get_int64(0) == 64
    assert eager.watch(words, snapshot, (), 3) == 0  # nothing fires on the run's own move
    eager.deferred = 0
    assert eager.run_watched(words, snapshot) == 0 and eager.deferred == 0
    with pytest.raises(TypeError):
        eager.run_watched([(client, 0)], snapshot)
    with pytest.raises(TypeError):
        eager.run_watched(((client, 0), (object(), 0)), snapshot)


def test_deferrable_words_fire_nothing_and_a_runs_own_moves_are_taken_in(rig: Rig) -> None:
    rig.side.snd_lmt.set(TERM)
    client, late = AtomicBuffer(bytearray(64)), AtomicBuffer(bytearray(64))
    words = ((client, 0), (late, 0), (rig.hwm, 0))  # the HWM is the run's own (it rebuilds the image)
    snapshot = bytearray(24)
    eager = rig.eager
    eager.set_deferrable(3, (1, 2))
    assert eager.watch(words, snapshot, (), 0) == 0 and eager.deferred == 0
    late.put_int64_ordered(0, 7)
    assert eager.watch(words, snapshot, (), 3) == 0  # stored, no fire, no run
    assert eager.deferred == 1 and snapshot[8:16] == (7).to_bytes(8, "little") and eager.runs == 0
    eager.deferred = 0
    rig.side.append(64, False)
    client.put_int64_ordered(0, 1)  # fires: the run sends the frame and rebuilds it, moving the HWM
    assert eager.watch(words, snapshot, (), 1) == 1 and eager.work > 0
    assert int.from_bytes(snapshot[16:24], "little") == rig.hwm.get_int64(0) > 0 and eager.deferred == 1
    assert eager.watch(words, snapshot, (), 2) == 0  # the HWM's move was taken in: nothing fires
    eager.set_deferrable(4, (1,))  # made for another number of words: not used
    late.put_int64_ordered(0, 8)
    assert eager.watch(words, snapshot, (), 1) == 1
    with pytest.raises(IndexError):
        eager.set_deferrable(3, (3,))
    with pytest.raises(TypeError):
        eager.set_deferrable(3, [1])


def test_socket_errors_are_reported_and_transient_ones_are_nothing(rig: Rig) -> None:
    entry = rig.eager.receivers[rig.sock.fileno()]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    rig.epoll.register(sock.fileno(), select.EPOLLIN)
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.close()  # its fileno() is -1: recvmmsg cannot run
    receivers = {rig.sock.fileno(): entry, sock.fileno(): (dead,) + entry[1:]}
    rig.eager.set_plan(rig.eager.txs, rig.epoll.fileno(), receivers)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        tx.sendto(b"x" * 64, sock.getsockname())
    assert rig.eager.run() == 0
    assert len(rig.errors) == 1 and isinstance(rig.errors[0], OSError) and rig.errors[0].errno == errno.EBADF
    # a transient error (here EAGAIN: the socket is drained) is nothing received, not an error
    _drain(sock)
    receivers[sock.fileno()] = (sock,) + entry[1:]
    rig.eager.set_plan(rig.eager.txs, rig.epoll.fileno(), receivers)
    assert rig.eager.run() == 0 and len(rig.errors) == 1
    sock.close()


@needs_c
def test_a_plan_is_checked_when_set() -> None:
    eager = eager_data_path.EagerDataPath(ManualClock().nano_time, print, TRANSIENT_ERRNOS)
    with pytest.raises(TypeError, match="PublicationTx"):
        eager.set_plan(((object(), object()),), -1, {})
    with pytest.raises(TypeError, match="descriptor"):
        eager.set_plan((), 3, {3: (1, 2)})
    eager.set_plan((), 3, {})
    assert eager.epoll_fd == -1 and eager.run() == 0  # nothing to receive: no epoll asked
    with pytest.raises(ValueError, match="not initialised"):
        eager_data_path.EagerDataPath.__new__(eager_data_path.EagerDataPath).run()


# ------------------------------------------------------------------ a SHARED driver, in process


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SharedStack:
    """A SHARED aeronpy driver whose runner is not started: its agent and idle strategy are driven
    by hand, with a client on an agent invoker, a UDP loopback publication and subscription."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, eager: str) -> None:
        import aeronpy.driver.media_driver as md
        from aeronpy.client.aeron import Aeron
        from aeronpy.client.context import Context
        from aeronpy.driver.context import DriverContext

        runners: list[Any] = []
        monkeypatch.setattr(md.AgentRunner, "start", lambda runner, thread_name=None: runners.append(runner))
        self.dir = f"{SHM}/eager-{uuid.uuid4().hex[:8]}"
        ctx = DriverContext.from_properties(env={}, aeron_dir=self.dir, threading_mode="SHARED",
                                            dir_delete_on_shutdown=True, shared_eager_data_path=eager != "off")
        self.driver = md.MediaDriver.launch(ctx)
        runner = runners[0]
        self.agent, self.idle = runner.agent, runner.idle_strategy
        self.shared = self.agent.agent
        self.probe = self.agent.probe
        if eager == "py":  # the twin in the C path's place
            twin = EagerDataPathPy(ctx.nano_clock, self.shared._sender_agent.report, TRANSIENT_ERRNOS)
            ring = self.driver.conductor.to_driver
            twin.set_commands(ring.buffer, ring.capacity + TAIL_POSITION_OFFSET, ring.capacity + HEAD_POSITION_OFFSET)
            self.shared.eager = self.probe.eager = twin
            self.shared._plan_version = -1
        self.agent.on_start()
        self.aeron = Aeron.connect(Context.from_properties(env={}, aeron_dir=self.dir, use_conductor_agent_invoker=True))
        invoker = self.aeron.conductor_agent_invoker
        assert invoker is not None
        self.invoker = invoker
        channel = f"aeron:udp?endpoint=127.0.0.1:{_free_port()}"
        sub_id = self.aeron.async_add_subscription(channel, 1001)
        pub_id = self.aeron.async_add_publication(channel, 1001)
        self.sub: Any = None
        self.pub: Any = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.cycle()
            self.sub = self.sub or self.aeron.get_subscription(sub_id)
            self.pub = self.pub or self.aeron.get_publication(pub_id)
            if self.sub is not None and self.pub is not None and self.pub.is_connected and self.sub.image_count:
                break
        assert self.pub is not None and self.pub.is_connected and self.sub.image_count
        publications = self.shared._sender_agent.publications
        while any(p.should_send_setup for p in publications) and time.monotonic() < deadline:
            self.cycle()  # a SETUP goes until one is sent after the receivers are known (then the C path takes over)
        assert not any(p.should_send_setup for p in publications)

    def cycle(self) -> int:
        work = int(self.agent.do_work())
        self.invoker.invoke()
        return work

    def settle(self) -> None:
        """Duty cycles until the driver is idle (SMs sent, the conductor caught up)."""
        for _ in range(20):
            self.cycle()

    def close(self) -> None:
        self.aeron.close()
        self.agent.on_close()
        self.driver.close()


@pytest.mark.parametrize("eager", ["c", "py", "off"])
def test_a_message_reaches_the_image_inside_the_probes_check(monkeypatch: pytest.MonkeyPatch, eager: str) -> None:
    if eager == "c" and eager_data_path.EagerDataPath is None:
        pytest.skip("needs the C extension on Linux")
    stack = SharedStack(monkeypatch, eager)
    got: list[bytes] = []
    try:
        for n in range(20):
            stack.settle()
            stack.probe.snapshot()
            assert stack.probe.check(1) == 0  # idle: nothing moved
            message = n.to_bytes(4, "little") * 8
            deadline = time.monotonic() + 5
            while stack.pub.offer(message) < 0 and time.monotonic() < deadline:
                stack.cycle()
            assert stack.probe.check(1) == 1  # the log tail moved
            before = len(got)
            stack.sub.poll(lambda buffer, offset, length, header: got.append(bytes(buffer.get_bytes(offset, length))), 10)
            if eager == "off":  # nothing ran yet: the next duty cycle sends and receives it
                assert len(got) == before
                stack.cycle()
                stack.sub.poll(lambda b, o, ln, h: got.append(bytes(b.get_bytes(o, ln))), 10)
            assert got[-1:] == [message]
            if eager != "off":  # the agent counts the probe's work as its own, once
                assert stack.shared.eager.work > 0
                if stack.probe.handled:  # the run stood in for this duty cycle
                    assert stack.agent.do_work() == 1 and stack.shared.eager.work > 0
                stack.cycle()
                assert stack.shared.eager.work == 0
        assert len(got) == 20
    finally:
        stack.close()


def _counting_sender_cycles(monkeypatch: pytest.MonkeyPatch, eager: str) -> tuple[SharedStack, list[int]]:
    """A SharedStack whose Python sender cycles are counted (a 1 each)."""
    if eager == "c" and eager_data_path.EagerDataPath is None:
        pytest.skip("needs the C extension on Linux")
    stack = SharedStack(monkeypatch, eager)
    cycles: list[int] = []
    sender_cycle = stack.shared._sender
    monkeypatch.setattr(stack.shared, "_sender", lambda: cycles.append(1) or sender_cycle())
    return stack, cycles


@pytest.mark.parametrize("eager", ["c", "py"])
def test_a_handled_run_stands_in_for_the_duty_cycle_until_the_conductor_is_due(
    monkeypatch: pytest.MonkeyPatch, eager: str,
) -> None:
    stack, cycles = _counting_sender_cycles(monkeypatch, eager)
    shared, probe = stack.shared, stack.probe

    def offer_and_check(defer_until_ns: int) -> bool:
        stack.settle()
        shared.eager.defer_until_ns = defer_until_ns
        probe.snapshot()
        assert probe.check(1) == 0
        assert stack.pub.offer(b"x" * 32) > 0
        assert probe.check(1) == 1
        return probe.handled

    try:
        assert offer_and_check(1 << 62)
        cycles.clear()
        assert stack.agent.do_work() == 1 and cycles == []  # stood in for: the agents did not run
        assert stack.agent.do_work() >= 1 and cycles == [1]  # the next one runs, and counts the run's work
        assert not offer_and_check(0)  # the conductor is due: the duty cycle runs
        assert stack.agent.do_work() >= 1
        stack.settle()
        shared.eager.defer_until_ns = 1 << 62
        probe.snapshot()
        stack.aeron.async_add_subscription(f"aeron:udp?endpoint=127.0.0.1:{_free_port()}", 1004)
        stack.invoker.invoke()  # the command is in the to-driver ring, not read yet
        assert stack.pub.offer(b"x" * 32) > 0
        assert probe.check(1) == 1 and not probe.handled  # a client command waits: the duty cycle runs
    finally:
        stack.close()


@pytest.mark.parametrize("eager", ["c", "py"])
def test_after_a_handled_hop_only_the_conductors_deadline_brings_a_duty_cycle(
    monkeypatch: pytest.MonkeyPatch, eager: str,
) -> None:
    """The hop's own moves (sender position, HWM) and the subscriber's poll fire no check; the
    probe's parks end for a duty cycle once the conductor is due, and the conductor takes them."""
    if eager == "c" and eager_data_path.EagerDataPath is None:
        pytest.skip("needs the C extension on Linux")
    stack = SharedStack(monkeypatch, eager)
    shared, probe = stack.shared, stack.probe
    try:
        stack.settle()
        shared.eager.defer_until_ns = 1 << 62
        probe.snapshot()
        assert probe.check(1) == 0
        assert stack.pub.offer(b"x" * 32) > 0
        assert probe.check(1) == 1 and probe.handled
        assert probe.check(5) == 0 and shared.eager.deferred == 1 and not probe.deferred_due()
        assert stack.sub.poll(lambda *a: None, 10) == 1  # the subscriber position moves
        assert probe.check(5) == 0
        shared.eager.defer_until_ns = shared._conductor_due_ns = 0  # the conductor is due
        assert probe.deferred_due()
        cycles = shared.conductor_cycles
        probe.handled = False
        stack.cycle()
        assert shared.conductor_cycles > cycles and shared.eager.deferred == 0 and not probe.deferred_due()
    finally:
        stack.close()


@pytest.mark.parametrize("eager", ["c", "py"])
def test_the_cycle_after_a_hop_is_the_eager_run_when_that_leaves_nothing_else(
    monkeypatch: pytest.MonkeyPatch, eager: str,
) -> None:
    """A stream of hops stays in the eager run: the duty cycle after one that did work starts with
    it and, handled or quiet, the Python sender and receiver do not run."""
    stack, cycles = _counting_sender_cycles(monkeypatch, eager)
    shared, probe = stack.shared, stack.probe
    got: list[bytes] = []
    try:
        assert shared.probe is probe
        stack.settle()
        shared._conductor_due_ns = shared.eager.defer_until_ns = 1 << 62  # the conductor not due meanwhile
        assert stack.pub.offer(b"a" * 32) > 0
        cycles.clear()
        assert stack.agent.do_work() >= 1 and cycles == [1]  # a whole cycle sends it
        for n in range(5):
            message = bytes([n]) * 32
            assert stack.pub.offer(message) > 0
            stand_ins = shared.stand_ins
            assert stack.agent.do_work() >= 1 and cycles == [1]  # the eager run stood in
            assert shared.stand_ins == stand_ins + 1
            stack.sub.poll(lambda b, o, ln, h: got.append(bytes(b.get_bytes(o, ln))), 10)
            assert got[-1] == message
        assert stack.agent.do_work() == 0 and cycles == [1] and shared.eager.quiet == 1  # quiet: an idle cycle
        stack.agent.do_work()
        assert cycles == [1, 1]  # then a whole one again (status messages and timers)
    finally:
        stack.close()


@needs_c
def test_the_plan_follows_publications_and_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    stack = SharedStack(monkeypatch, "c")
    try:
        eager = stack.shared.eager
        sender, receiver = stack.shared._sender_agent, stack.shared._receiver_agent
        assert [pub for pub, _ in eager.txs] == sender.publications
        assert list(eager.receivers) == list(receiver.endpoints_by_fd) and eager.epoll_fd == receiver.ready_sockets.fileno()
        assert plan_of(sender, receiver) == (eager.txs, eager.epoll_fd, eager.receivers)
        assert eager.whole == 1  # every publication has its C path here
        endpoint = next(iter(receiver.endpoints_by_fd.values()))
        endpoint.interceptor = object()  # a loss interceptor: the endpoint is read by the duty cycle
        assert plan_of(sender, receiver)[2] == {}
        endpoint.interceptor = None
        channel = f"aeron:udp?endpoint=127.0.0.1:{_free_port()}"
        registration = stack.aeron.async_add_publication(channel, 1002)
        sub_registration = stack.aeron.async_add_subscription(channel, 1002)
        deadline = time.monotonic() + 5
        while (len(eager.txs) < 2 or len(eager.receivers) < 2) and time.monotonic() < deadline:
            stack.cycle()  # the new publication gets its C path once a receiver is known
        assert stack.aeron.get_publication(registration) is not None and stack.aeron.get_subscription(sub_registration)
        assert [pub for pub, _ in eager.txs] == sender.publications and len(eager.receivers) == 2
        first = sender.publications[0]
        sender.commands.offer(sender.on_remove_publication, first)  # as the conductor's proxy does
        stack.cycle()
        assert [pub for pub, _ in eager.txs] == sender.publications and first not in sender.publications
    finally:
        stack.close()


@needs_c
def test_an_error_in_the_eager_runs_python_path_is_counted_and_the_driver_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The eager run hands what the DATA fast path declined (here stray datagrams) to the
    endpoint's Python dispatch, inside the idle strategy: an error raised there reaches the
    runner's error handler (the driver's errors counter and log) and the SHARED driver goes on."""
    import sys

    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context
    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.endpoints import ReceiveChannelEndpoint
    from aeronpy.driver.media_driver import MediaDriver
    from aeronpy.driver.system_counters import SystemCounterId

    original = ReceiveChannelEndpoint.dispatch_declined
    raised: list[str] = []

    def failing(self: Any, *args: Any) -> None:
        if sys._getframe(1).f_code.co_name == "check" and len(raised) < 3:  # called by the probe's eager run
            raised.append("injected")
            raise RuntimeError("injected: a bug in the declined path")
        original(self, *args)

    monkeypatch.setattr(ReceiveChannelEndpoint, "dispatch_declined", failing)
    path = f"{SHM}/aeronpy-eager-error-{uuid.uuid4().hex[:8]}"
    driver = MediaDriver.launch(DriverContext.from_properties(
        env={}, aeron_dir=path, threading_mode="SHARED", dir_delete_on_shutdown=True, term_buffer_sparse_file=True))
    port = _free_port()
    try:
        with Aeron.connect(Context.from_properties(env={}, aeron_dir=path)) as aeron, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stray:
            sub = aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{port}", 1001)
            pub = aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{port}", 1001)
            deadline = time.monotonic() + 30
            while not (pub.is_connected and sub.image_count):
                assert time.monotonic() < deadline, "never connected"
                time.sleep(0.001)
            while len(raised) < 3:  # the idle driver takes each in its probe's eager run
                assert time.monotonic() < deadline, f"only {len(raised)} stray datagrams met the eager run"
                stray.sendto(b"\x00" * 12, ("127.0.0.1", port))
                time.sleep(0.005)
            got: list[bytes] = []
            while pub.offer(b"after") < 0:
                assert time.monotonic() < deadline, "the message was never taken"
                time.sleep(0.001)
            while not got:
                assert time.monotonic() < deadline, "the message never arrived"
                sub.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 10)
                time.sleep(0.001)
            assert got == [b"after"]
            thread = driver._runners[0].thread
            assert thread is not None and thread.is_alive()
            assert aeron.counters_reader.get_counter_value(SystemCounterId.ERRORS) >= 3
    finally:
        driver.close()
