"""SHARED mode's agent: sender and receiver every cycle, the conductor when they are idle or its
interval has run out (driven by a manual clock and scripted agents: no threads, no sockets)."""

from __future__ import annotations

import os
import uuid
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aeronpy.concurrent.activity_probe import ProbedAgent
from aeronpy.driver.context import DriverContext
from aeronpy.driver.media_driver import MediaDriver
from aeronpy.driver.network_agents import Receiver, Sender
from aeronpy.driver.shared_agent import SharedAgent
from aeronpy.testing import ManualClock
from tests.conftest import SHM

US = 1_000


class Scripted:
    """An agent whose work per cycle comes from a list (0 once it runs out); it logs its runs."""

    def __init__(self, name: str, log: list[str], work: list[int] | None = None) -> None:
        self.name, self.log, self.work = name, log, list(work or [])
        self.started = self.closed = False

    def role_name(self) -> str:
        return self.name

    def do_work(self) -> int:
        self.log.append(self.name)
        return self.work.pop(0) if self.work else 0

    def on_start(self) -> None:
        self.log.append(f"start {self.name}")

    def on_close(self) -> None:
        self.log.append(f"close {self.name}")


def _agent(interval_ns: int, sender: list[int], receiver: list[int]) -> tuple[SharedAgent, list[str], ManualClock]:
    log: list[str] = []
    clock = ManualClock()
    agent = SharedAgent(Scripted("c", log), Scripted("s", log, sender), Scripted("r", log, receiver), interval_ns, clock.nano_time)
    return agent, log, clock


def test_idle_data_path_runs_the_conductor_every_cycle() -> None:
    agent, log, _ = _agent(200 * US, [], [])
    for _ in range(3):
        assert agent.do_work() == 0
    assert log == ["s", "r", "c"] * 3 and agent.conductor_cycles == 3


def test_busy_data_path_defers_the_conductor_to_its_interval() -> None:
    agent, log, clock = _agent(200 * US, [1] * 10, [1] * 10)
    agent.do_work()  # the first busy cycle: the conductor has not run yet, so it is due
    assert log == ["s", "r", "c"]
    runs = []
    for _ in range(5):
        clock.advance_ns(50 * US)
        log.clear()
        agent.do_work()
        runs.append("c" in log)
    assert runs == [False, False, False, True, False]  # 200 us after its last run, not before


def test_first_idle_cycle_after_data_work_leaves_the_conductor_to_the_next() -> None:
    """A reply to what was just sent tends to come right back: it should not wait out a
    conductor cycle.  The second idle cycle in a row runs it."""
    agent, log, clock = _agent(200 * US, [1, 0, 0, 1, 0, 1, 0, 0], [])
    ran = []
    for _ in range(8):
        clock.advance_ns(10 * US)
        log.clear()
        agent.do_work()
        ran.append("c" in log)
    # busy (first cycle: due), idle (skipped), idle (runs), busy, idle (skipped), busy, idle, idle
    assert ran == [True, False, True, False, False, False, False, True]


def test_first_idle_cycle_still_runs_a_conductor_that_is_due() -> None:
    agent, log, clock = _agent(200 * US, [1, 1, 0], [])
    agent.do_work()
    clock.advance_ns(10 * US)
    agent.do_work()
    clock.advance_ns(200 * US)
    log.clear()
    assert agent.do_work() == 0
    assert log == ["s", "r", "c"]


def test_interval_zero_runs_the_conductor_every_cycle_as_aeron() -> None:
    agent, log, _ = _agent(0, [1, 1], [1, 0])
    assert agent.do_work() == 2 and agent.do_work() == 1
    assert log == ["s", "r", "c", "s", "r", "c"]


def test_lifecycle_fans_out_conductor_first() -> None:
    agent, log, _ = _agent(200 * US, [], [])
    agent.on_start()
    agent.on_close()
    assert log == ["start c", "start s", "start r", "close c", "close s", "close r"]
    assert agent.role_name() == "[c,s,r]"


def test_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="conductor_interval_ns=-1"):
        _agent(-1, [], [])


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 300)), max_size=60), st.integers(1, 250))
def test_conductor_is_never_late_and_never_runs_early_while_busy(cycles: list[tuple[int, int]], interval_us: int) -> None:
    """Against a model: a cycle runs the conductor exactly when the data path did no work in
    it and in the cycle before, or ``interval`` has passed since the conductor's last run."""
    interval = interval_us * US
    log: list[str] = []
    clock = ManualClock()
    sender = Scripted("s", log, [w for w, _ in cycles])
    agent = SharedAgent(Scripted("c", log), sender, Scripted("r", log), interval, clock.nano_time)
    last_run: int | None = None
    previous_idle = True
    for work, step_us in cycles:
        clock.advance_ns(step_us * US)
        log.clear()
        agent.do_work()
        now = clock.nano_time()
        expected = (work == 0 and previous_idle) or last_run is None or now - last_run >= interval
        assert ("c" in log) == expected, (work, now, last_run, previous_idle)
        if expected:
            last_run = now
        previous_idle = work == 0


def test_a_shared_driver_runs_the_shared_agent_with_the_configured_interval() -> None:
    path = os.path.join(SHM, f"aeronpy-shared-agent-{uuid.uuid4().hex[:8]}")
    driver = MediaDriver.launch(DriverContext.from_properties(
        env={}, properties={"aeronpy.shared.conductor.interval": "150us"}, aeron_dir=path,
        threading_mode="SHARED", dir_delete_on_shutdown=True,
    ))
    try:
        agent = driver._runners[0].agent
        shared = agent.agent if isinstance(agent, ProbedAgent) else agent
        assert isinstance(shared, SharedAgent) and shared.conductor_interval_ns == 150 * US
    finally:
        driver.close()


@pytest.mark.parametrize("setting", ["true", "false"])
def test_a_shared_driver_gives_its_probe_the_eager_data_path_unless_told_not_to(setting: str) -> None:
    from aeronpy.driver import eager_data_path

    path = os.path.join(SHM, f"aeronpy-shared-agent-{uuid.uuid4().hex[:8]}")
    driver = MediaDriver.launch(DriverContext.from_properties(
        env={}, properties={"aeronpy.shared.eager.data.path": setting}, aeron_dir=path,
        threading_mode="SHARED", dir_delete_on_shutdown=True,
    ))
    try:
        agent = driver._runners[0].agent
        assert isinstance(agent, ProbedAgent) and isinstance(agent.agent, SharedAgent)
        expected = setting == "true" and eager_data_path.NATIVE_EAGER
        assert (agent.agent.eager is not None) == expected
        assert agent.probe.eager is agent.agent.eager
    finally:
        driver.close()


def test_a_shared_epoll_gets_a_new_cycle_every_duty_cycle() -> None:
    from aeronpy.driver.network_agents import ReadySockets

    clock, log = ManualClock(), []  # type: ignore[var-annotated]
    sockets = ReadySockets(shared=True)
    sender, receiver = Scripted("s", log, [1, 0]), Scripted("r", log, [0, 0])
    sender.ready_sockets = receiver.ready_sockets = sockets  # type: ignore[attr-defined]
    calls: list[int] = []
    sockets.new_cycle = lambda: calls.append(len(log))  # type: ignore[method-assign]
    agent = SharedAgent(Scripted("c", log), sender, receiver, 1_000, clock.nano_time)
    agent.do_work()
    agent.do_work()
    assert len(calls) == 2 and [log[i] for i in calls] == ["s", "s"]  # every cycle, before the sender
    receiver.ready_sockets = ReadySockets(shared=True)  # type: ignore[attr-defined]
    assert SharedAgent(Scripted("c", log), sender, receiver, 1_000, clock.nano_time)._new_cycle is None
    sockets.close()
    receiver.ready_sockets.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode, shared", [("SHARED", True), ("DEDICATED", False)])
def test_only_a_shared_driver_gives_sender_and_receiver_one_epoll(mode: str, shared: bool) -> None:
    path = os.path.join(SHM, f"aeronpy-shared-epoll-{uuid.uuid4().hex[:8]}")
    driver = MediaDriver.launch(DriverContext.from_properties(
        env={}, aeron_dir=path, threading_mode=mode, dir_delete_on_shutdown=True,
    ))
    try:
        same = driver.sender.ready_sockets is driver.receiver.ready_sockets
        assert same is shared and driver.sender.ready_sockets.shared is shared
    finally:
        driver.close()


def test_running_the_conductor_takes_in_the_deferred_words() -> None:
    agent, log, clock = _agent(1_000, [0, 0, 0], [0, 0, 0])
    agent.eager = SimpleNamespace(deferred=1, defer_until_ns=0, work=0)
    agent._keep_plan = lambda eager: None  # type: ignore[method-assign]
    agent.do_work()
    assert agent.eager.deferred == 0 and agent.eager.defer_until_ns == clock.nano_time() + 1_000


class StandInProbe:
    """A probe whose eager runs come from a list of ``(work, handled, quiet)``; it logs them."""

    def __init__(self, eager: SimpleNamespace, log: list[str], runs: list[tuple[int, int, int]]) -> None:
        self.eager, self.log, self.runs = eager, log, list(runs)

    def run_eager(self) -> int | None:
        self.log.append("eager")
        work, self.eager.handled, self.eager.quiet = self.runs.pop(0) if self.runs else (0, 0, 0)
        self.eager.work += work
        return work

    def stand_in(self) -> None:
        self.stood_in = True


def _standing_in(runs: list[tuple[int, int, int]], sender: list[int],
                 interval_ns: int = 200 * US) -> tuple[SharedAgent, list[str], ManualClock]:
    agent, log, clock = _agent(interval_ns, sender, [])
    agent.eager = SimpleNamespace(deferred=0, defer_until_ns=0, work=0, handled=0, quiet=0)
    agent._keep_plan = lambda eager: None  # type: ignore[method-assign]
    agent.probe = StandInProbe(agent.eager, log, runs)
    return agent, log, clock


def test_the_cycle_after_work_starts_with_the_eager_run_which_stands_in_when_handled_or_quiet() -> None:
    agent, log, clock = _standing_in([(1, 1, 0), (1, 1, 0), (0, 0, 1)], [0, 1])
    assert agent.do_work() == 0 and log == ["s", "r", "c"]  # idle: the conductor runs, no eager run after it
    log.clear()
    clock.advance_ns(10 * US)
    assert agent.do_work() == 1 and log == ["s", "r"]  # work: the next cycle starts with the run
    log.clear()
    assert agent.do_work() == 1 and log == ["eager"]  # handled: it stood in for sender and receiver
    assert agent.eager.work == 0 and agent.eager.handled == 0  # its work counted, once
    assert agent.do_work() == 1 and log == ["eager"] * 2  # after work again
    assert agent.do_work() == 0 and log == ["eager"] * 3  # quiet: an idle cycle, not the conductor's yet
    assert agent.stand_ins == 3 and agent.conductor_cycles == 1
    assert agent.do_work() == 0 and log == ["eager"] * 3 + ["s", "r", "c"]  # the second idle cycle: conductor


def test_a_run_that_neither_handled_nor_was_quiet_leaves_the_cycle_to_go_on() -> None:
    agent, log, clock = _standing_in([(1, 0, 0), (0, 0, 0)], [0, 1, 0, 1])
    agent.do_work()
    clock.advance_ns(10 * US)
    assert agent.do_work() == 1
    log.clear()
    assert agent.do_work() == 1 and log == ["eager", "s", "r"]  # its work counts in the cycle it started
    assert agent.eager.work == 0
    clock.advance_ns(10 * US)
    assert agent.do_work() == 1 and log == ["eager", "s", "r"] * 2
    assert agent.stand_ins == 0


def test_after_the_conductor_ran_the_next_cycle_is_whole() -> None:
    """The conductor may have queued commands for the sender or receiver: they take them at once."""
    agent, log, clock = _standing_in([(1, 1, 0)] * 5, [1] * 5, interval_ns=1_000)
    agent.do_work()  # busy, and the conductor is due: it runs
    assert log == ["s", "r", "c"]
    assert agent.do_work() == 1 and log[3:] == ["s", "r"]  # not after the conductor: a whole cycle
    assert agent.do_work() == 1 and log[5:] == ["eager"]
    clock.advance_ns(1_000)  # the conductor is due: a run stands in no more (its deadline)
    agent.eager.handled = 0
    agent.probe.runs = [(1, 0, 0)]
    assert agent.do_work() >= 1 and log[6:] == ["eager", "s", "r", "c"]


class Queuing:
    """A conductor whose cycles do work and, when told, leave the receiver a command or an image
    with a status message due (what a stand-in would not do)."""

    def __init__(self, log: list[str], receiver: Receiver) -> None:
        self.log, self.receiver, self.leave = log, receiver, ""

    def role_name(self) -> str:
        return "c"

    def do_work(self) -> int:
        self.log.append("c")
        if self.leave == "command":
            self.receiver.commands.offer(self.log.append, "command")
        elif self.leave == "feedback":
            self.receiver.images = [SimpleNamespace(
                sm_change=1, last_sm_change=0, loss_change=0, last_loss_change=0, measures_rtt=False,
                send_pending_status_message=lambda now_ns: self.log.append("sm") or 1)]
        self.leave = ""
        return 1


@pytest.mark.parametrize("leave", ["command", "feedback"])
def test_after_the_conductor_the_next_cycle_stands_in_unless_it_left_the_data_path_something(leave: str) -> None:
    """Real sender and receiver (no endpoints): after a conductor cycle with work the next one
    starts with the eager run, as after data-path work, unless the conductor queued a command
    for them or scheduled feedback: then that cycle is whole."""
    log: list[str] = []
    clock = ManualClock()
    sender, receiver = Sender(4, 200_000_000, clock.nano_time), Receiver(clock.nano_time)
    conductor = Queuing(log, receiver)
    agent = SharedAgent(conductor, sender, receiver, 200 * US, clock.nano_time)
    agent.eager = SimpleNamespace(deferred=0, defer_until_ns=0, work=0, handled=0, quiet=0)
    agent._keep_plan = lambda eager: None  # type: ignore[method-assign]
    agent.probe = StandInProbe(agent.eager, log, [(0, 0, 1)] * 4)
    try:
        assert agent.do_work() == 1 and log == ["c"]  # idle data path: the conductor, with work
        assert agent.do_work() == 0 and log == ["c", "eager"]  # quiet: it stood in
        clock.advance_ns(200 * US)
        conductor.leave = leave
        assert agent.do_work() == 1 and log == ["c", "eager", "c"]  # not after work: whole, and the conductor
        log.clear()
        agent.do_work()
        assert "eager" not in log  # whole: the receiver took what the conductor left
        assert ("command" if leave == "command" else "sm") in log
        assert agent.stand_ins == 1
    finally:
        sender.on_close()
        receiver.on_close()


def test_no_probe_or_interval_zero_never_runs_eager_first() -> None:
    agent, log, _ = _standing_in([(1, 1, 0)] * 3, [1, 1, 1], interval_ns=0)
    for _ in range(3):
        agent.do_work()
    assert "eager" not in log
    agent, log, _ = _standing_in([(1, 1, 0)] * 3, [1, 1, 1])
    agent.probe = None
    for _ in range(3):
        agent.do_work()
    assert "eager" not in log
