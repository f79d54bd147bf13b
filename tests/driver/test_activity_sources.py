"""The driver agents' idle probe: what it watches, that client activity trips it, that an
in-memory transport disables it, and that a SHARED driver's back-off uses it."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context
from aeronpy.concurrent.activity_probe import ActivityProbe, ProbedAgent
from aeronpy.concurrent.atomic_buffer import HAVE_C_EXTENSION
from aeronpy.concurrent.idle_strategy import BackoffIdleStrategy
from aeronpy.driver.activity_sources import probed, sources_of, version_reader
from aeronpy.driver.context import DriverContext
from aeronpy.driver.media_driver import MediaDriver
from aeronpy.testing import InMemoryNetwork, ManualClock
from tests.conftest import SHM

STREAM = 1101


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Invoked:
    """An INVOKER driver and an invoker client: every duty cycle is the test's."""

    def __init__(self, **settings: Any) -> None:
        self.dir = os.path.join(SHM, f"aeronpy-probe-{uuid.uuid4().hex[:8]}")
        ctx = DriverContext.from_properties(
            env={}, aeron_dir=self.dir, threading_mode="INVOKER", dir_delete_on_shutdown=True,
            term_buffer_sparse_file=True, term_buffer_length=64 * 1024, ipc_term_buffer_length=64 * 1024, **settings,
        )
        self.driver = MediaDriver.launch(ctx)
        self.aeron = Aeron.connect(Context.from_properties(env={}, aeron_dir=self.dir, use_conductor_agent_invoker=True, **{
            k: v for k, v in settings.items() if k in ("nano_clock", "epoch_clock")}))
        invoker = self.driver._invoker
        assert invoker is not None
        self.agent = invoker.agent

    def pump(self) -> None:
        self.driver.do_work()
        self.aeron.conductor_agent_invoker.invoke()

    def until(self, condition: Callable[[], object], what: str, advance: Callable[[], None] | None = None) -> None:
        deadline = time.monotonic() + 20
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            self.pump()
            if advance is not None:
                advance()

    def close(self) -> None:
        self.aeron.close()
        self.driver.close()


@pytest.fixture
def udp() -> Iterator[tuple[Invoked, Any, Any]]:
    env = Invoked()
    channel = f"aeron:udp?endpoint=127.0.0.1:{_free_port()}"
    sub_id = env.aeron.async_add_subscription(channel, STREAM)
    pub_id = env.aeron.async_add_publication(channel, STREAM)
    found: dict[str, Any] = {}

    def ready() -> bool:
        if "sub" not in found and (s := env.aeron.get_subscription(sub_id)) is not None:
            found["sub"] = s
        if "pub" not in found and (p := env.aeron.get_publication(pub_id)) is not None:
            found["pub"] = p
        return len(found) == 2 and found["pub"].is_connected and found["sub"].image_count == 1

    try:
        env.until(ready, "a connected UDP publication and image")
        yield env, found["pub"], found["sub"]
    finally:
        env.close()


def _quiet(env: Invoked, probe: ActivityProbe) -> None:
    """Duty cycles until the probe sees nothing after one."""
    deadline = time.monotonic() + 20
    while True:
        env.pump()
        probe.snapshot()
        env.pump()  # a second cycle: the work of the first is done
        probe.snapshot()
        if probe.check(1) == 0:
            return
        assert time.monotonic() < deadline, "the driver never went quiet"


def test_sources_name_the_ring_tail_log_tails_and_positions(udp: tuple[Invoked, Any, Any]) -> None:
    env, pub, sub = udp
    sources = sources_of(env.agent)
    assert sources is not None
    conductor = env.driver.conductor
    assert conductor is not None
    words = {(id(buffer), offset) for buffer, offset in sources.words}
    ring = conductor.to_driver
    assert (id(ring.buffer), ring.capacity + 128) in words
    network_publication = conductor.network.publications[0]
    assert (id(network_publication.metadata), 0) in words  # the log's first tail counter
    image = conductor.network.images[0]
    for position in image.subscribers:
        assert (id(position.counter.values_buffer), position.counter.offset) in words
    assert len(sources.fds) == 2  # the sender's and the receiver's epoll
    late = {(id(buffer), offset) for buffer, offset in sources.deferrable}
    assert late <= words
    assert late == {(id(network_publication.snd_pos.values_buffer), network_publication.snd_pos.offset),
                    (id(image.hwm.values_buffer), image.hwm.offset),
                    *((id(p.counter.values_buffer), p.counter.offset) for p in image.subscribers)}


@pytest.mark.skipif(not HAVE_C_EXTENSION, reason="C extension not built")
def test_an_offer_and_a_poll_trip_the_probe(udp: tuple[Invoked, Any, Any]) -> None:
    env, pub, sub = udp
    probe = ActivityProbe(lambda: sources_of(env.agent))
    _quiet(env, probe)
    assert pub.offer(b"x" * 32) > 0  # the publication's log tail moves
    assert probe.check(3) == 1
    env.until(lambda: sub.poll(lambda *a: None, 10) > 0, "the message")
    _quiet(env, probe)
    pub.offer(b"y" * 32)
    env.driver.do_work()  # sent and received: the datagram is in the image
    probe.snapshot()
    got = sub.poll(lambda *a: None, 10)
    assert got == 1
    assert probe.check(1) == 1  # the subscriber position moved
    added = env.aeron.async_add_subscription("aeron:ipc", STREAM)
    assert added > 0
    assert probe.check(1) == 1  # a client command: the to-driver ring's tail moved


def test_in_memory_transport_cannot_be_probed() -> None:
    clock = ManualClock()
    network = InMemoryNetwork()
    env = Invoked(transport_factory=network.factory(), nano_clock=clock.nano_time, epoch_clock=clock.epoch_ms)
    try:
        assert sources_of(env.agent) is not None  # no endpoints yet: nothing to poll
        env.aeron.async_add_subscription("aeron:udp?endpoint=10.0.0.2:40456", STREAM)
        env.until(lambda: env.driver.conductor is not None and env.driver.conductor.network.receive_endpoints and
                  env.driver.receiver is not None and env.driver.receiver.endpoints,
                  "the receive endpoint", advance=lambda: clock.advance_ns(100_000))
        assert sources_of(env.agent) is None
        probe = ActivityProbe(lambda: sources_of(env.agent))
        probe.snapshot()
        assert not probe.active and probe.check(5) == 1
    finally:
        env.close()


def test_only_back_off_strategies_get_a_probe() -> None:
    class Agent:
        def role_name(self) -> str:
            return "x"

        def do_work(self) -> int:
            return 0

    agent = Agent()
    assert probed(agent, object()) is agent
    backoff = BackoffIdleStrategy()
    wrapped = probed(agent, backoff)
    assert isinstance(wrapped, ProbedAgent) and backoff.probe is wrapped.probe
    wrapped.do_work()
    assert not backoff.probe.active  # an agent of unknown kind: not probeable


def test_shared_driver_backs_off_on_the_probe() -> None:
    path = os.path.join(SHM, f"aeronpy-probe-shared-{uuid.uuid4().hex[:8]}")
    driver = MediaDriver.launch(DriverContext.from_properties(
        env={}, aeron_dir=path, threading_mode="SHARED", dir_delete_on_shutdown=True, term_buffer_sparse_file=True,
    ))
    try:
        runner = driver._runners[0]
        strategy = runner.idle_strategy
        assert isinstance(strategy, BackoffIdleStrategy) and strategy.probe is not None
        deadline = time.monotonic() + 20
        while not strategy.probe.active:
            assert time.monotonic() < deadline, "the SHARED driver's probe never became active"
            time.sleep(0.01)
        with Aeron.connect(Context.from_properties(env={}, aeron_dir=path)) as aeron:
            channel = f"aeron:udp?endpoint=127.0.0.1:{_free_port()}"
            sub = aeron.add_subscription(channel, STREAM)
            pub = aeron.add_publication(channel, STREAM)
            got: list[bytes] = []
            deadline = time.monotonic() + 20
            sent = 0
            while len(got) < 50:
                assert time.monotonic() < deadline, f"only {len(got)} of 50 messages arrived"
                if sent < 50 and pub.offer(sent.to_bytes(4, "little")) > 0:
                    sent += 1
                sub.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 10)
                time.sleep(0.0005)
            assert got == [i.to_bytes(4, "little") for i in range(50)]
            assert strategy.probe.active
    finally:
        driver.close()


def test_the_version_moves_with_commands_and_resources_not_with_traffic(udp: tuple[Invoked, Any, Any]) -> None:
    env, pub, sub = udp
    version = version_reader(env.agent)
    assert version is not None
    for _ in range(20):
        env.pump()
    before = version()
    for i in range(20):  # traffic and timers: the watched set stays, so no rebuild is asked for
        assert pub.offer(b"x" * 32) > 0
        env.until(lambda: sub.poll(lambda *a: None, 10) > 0, "a message")
    assert version() == before
    added = env.aeron.async_add_publication("aeron:ipc", STREAM)
    env.until(lambda: env.aeron.get_publication(added) is not None, "an IPC publication")
    assert version() > before  # a client command ran


def test_a_timer_that_removes_a_publication_moves_the_version() -> None:
    env = Invoked(publication_linger_timeout_ns=1_000_000, timer_interval_ns=100_000)
    try:
        version = version_reader(env.agent)
        conductor = env.driver.conductor
        assert version is not None and conductor is not None
        added = env.aeron.async_add_publication("aeron:ipc", STREAM)
        found: list[Any] = []
        env.until(lambda: found or found.extend(p for p in [env.aeron.get_publication(added)] if p), "the IPC publication")
        assert len(conductor.ipc_publications) == 1
        conductor.ipc_publications[0].decref()  # as a client's removal does: it drains, lingers, goes
        deadline = time.monotonic() + 20
        while conductor.ipc_publications:  # linger, then the timer's removal
            assert time.monotonic() < deadline, "the publication was never removed"
            before = version()
            env.pump()
        assert version() > before  # the pump whose timer removed it moved the version
    finally:
        env.close()


def test_routine_housekeeping_is_no_work() -> None:
    """The conductor's once-a-second timer and the cnc.dat watch return 0 when nothing changed,
    so they do not reset an idle driver's back-off out of its deep park (idle CPU)."""
    env = Invoked()
    try:
        conductor = env.driver.conductor
        assert conductor is not None
        env.aeron.async_add_subscription("aeron:ipc", STREAM)  # the client's first command registers it
        env.until(lambda: conductor.clients, "the client")
        for _ in range(5):
            env.pump()
        now_ns = conductor.nano_clock()
        assert conductor.on_timer(now_ns, conductor.epoch_clock()) == 0
        conductor.clients[next(iter(conductor.clients))].heartbeat.set(0)  # the client looks dead
        assert conductor.on_timer(now_ns, conductor.epoch_clock()) == 1 and not conductor.clients
    finally:
        env.close()


def test_only_a_driver_without_network_timers_may_stay_quiet(udp: tuple[Invoked, Any, Any]) -> None:
    """A UDP publication and image have timers of their own (heartbeats, SMs, loss): a duty
    cycle at least every max park period.  Without them, the conductor's timer interval."""
    env, pub, sub = udp
    sources = sources_of(env.agent)
    assert sources is not None and sources.quiet_ns == 0
    bare = Invoked(timer_interval_ns=250_000_000)
    try:
        found = sources_of(bare.agent)
        assert found is not None
        assert found.quiet_ns == 250_000_000  # the conductor's housekeeping (the cnc watch: 1 s at least)
        assert found.fds == ()  # no endpoints: no epoll to poll while parked
    finally:
        bare.close()


@pytest.mark.skipif(not HAVE_C_EXTENSION, reason="C extension not built")
@pytest.mark.parametrize("mode, expected", [("SHARED", [True]), ("SHARED_NETWORK", [False, False]),
                                            ("DEDICATED", [False, False, False])])
def test_pending_checks_wait_for_a_duty_cycle_only_where_one_thread_runs_all_three(mode: str,
                                                                                  expected: list[bool]) -> None:
    """The queues between conductor, sender and receiver, and the SMs and NAKs the conductor
    schedules, change only in duty cycles when one thread runs all three (SHARED, INVOKER)."""
    path = os.path.join(SHM, f"aeronpy-probe-{mode.lower()}-{uuid.uuid4().hex[:8]}")
    driver = MediaDriver.launch(DriverContext.from_properties(
        env={}, aeron_dir=path, threading_mode=mode, dir_delete_on_shutdown=True, term_buffer_sparse_file=True))
    try:
        found = [sources_of(getattr(runner.agent, "agent", runner.agent)) for runner in driver._runners]
        assert [f is not None and f.pending_in_cycles for f in found] == expected
    finally:
        driver.close()
    invoked = Invoked()
    try:
        found_invoked = sources_of(invoked.agent)
        assert found_invoked is not None and found_invoked.pending_in_cycles
    finally:
        invoked.close()


def test_an_idle_shared_driver_wakes_to_the_probe_not_to_duty_cycles() -> None:
    """Parked at 8 ms, an idle driver used to run a whole duty cycle on every wake (~125 a
    second, most of its idle CPU); with nothing to watch moving and no timer due before the
    next housekeeping, it now runs about one a second, and still answers a client at once."""
    path = os.path.join(SHM, f"aeronpy-probe-quiet-{uuid.uuid4().hex[:8]}")
    driver = MediaDriver.launch(DriverContext.from_properties(
        env={}, aeron_dir=path, threading_mode="SHARED", dir_delete_on_shutdown=True, term_buffer_sparse_file=True,
    ))
    try:
        agent = driver._runners[0].agent.agent  # the ProbedAgent's SharedAgent
        deadline = time.monotonic() + 20
        while True:  # into the deep park: the rate of duty cycles settles
            before = agent.conductor_cycles
            time.sleep(1.5)
            cycles = agent.conductor_cycles - before
            if cycles <= 4:
                break
            assert time.monotonic() < deadline, f"{cycles} duty cycles in 1.5 s of an idle driver"
        started = time.monotonic()
        with Aeron.connect(Context.from_properties(env={}, aeron_dir=path)) as aeron:
            aeron.add_publication("aeron:ipc", STREAM)
        assert time.monotonic() - started < 5
    finally:
        driver.close()
