"""Agent runner, composite agent and invoker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from aeronpy.concurrent.agent import (
    Agent,
    AgentBase,
    AgentInvoker,
    AgentRunner,
    AgentTerminationException,
    CompositeAgent,
)
from aeronpy.concurrent.idle_strategy import NoOpIdleStrategy, YieldingIdleStrategy
from aeronpy.errors import AeronError

DEADLINE_S = 10.0


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)  # polling interval only, not synchronisation


class CountingAgent(AgentBase):
    def __init__(self, name: str = "counter", fail_every: int = 0, stop_at: int = 0) -> None:
        self.name = name
        self.fail_every = fail_every
        self.stop_at = stop_at
        self.work = 0
        self.starts = 0
        self.closes = 0
        self.start_thread: str | None = None
        self.lock = threading.Lock()

    def role_name(self) -> str:
        return self.name

    def on_start(self) -> None:
        self.starts += 1
        self.start_thread = threading.current_thread().name

    def do_work(self) -> int:
        self.work += 1
        if self.stop_at and self.work >= self.stop_at:
            raise AgentTerminationException("done")
        if self.fail_every and self.work % self.fail_every == 0:
            raise RuntimeError(f"boom {self.work}")
        return 1

    def on_close(self) -> None:
        self.closes += 1


class Counter:
    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> int:
        self.value += 1
        return self.value


class Errors:
    def __init__(self) -> None:
        self.items: list[BaseException] = []
        self.lock = threading.Lock()

    def __call__(self, error: BaseException) -> None:
        with self.lock:
            self.items.append(error)


def test_protocol_conformance() -> None:
    assert isinstance(CountingAgent(), Agent)
    assert isinstance(CompositeAgent(CountingAgent()), Agent)


def test_runner_runs_until_close() -> None:
    agent = CountingAgent()
    errors = Errors()
    runner = AgentRunner(NoOpIdleStrategy(), errors, agent)
    thread = runner.start()
    assert thread.name == "counter" and thread.daemon
    wait_for(lambda: agent.work > 100, "work")
    assert runner.is_running and not runner.is_closed
    runner.close()
    assert not thread.is_alive()
    assert runner.is_closed and not runner.is_running
    assert agent.starts == 1 and agent.closes == 1
    assert agent.start_thread == "counter"
    done = agent.work
    runner.close()
    assert agent.closes == 1 and agent.work == done
    assert errors.items == []


def test_runner_thread_name_and_double_start() -> None:
    runner = AgentRunner(YieldingIdleStrategy(), Errors(), CountingAgent())
    assert runner.start("custom").name == "custom"
    with pytest.raises(RuntimeError):
        runner.start()
    runner.close()
    with pytest.raises(RuntimeError):
        runner.start()


def test_runner_reports_exceptions_and_continues() -> None:
    agent = CountingAgent(fail_every=3)
    errors = Errors()
    counter = Counter()
    runner = AgentRunner(NoOpIdleStrategy(), errors, agent, counter)
    runner.start()
    wait_for(lambda: len(errors.items) >= 5, "errors")
    runner.close()
    assert all(isinstance(e, RuntimeError) for e in errors.items)
    assert counter.value >= 5
    assert agent.work >= 15


def test_runner_termination_exception_ends_loop() -> None:
    agent = CountingAgent(stop_at=10)
    errors = Errors()
    runner = AgentRunner(NoOpIdleStrategy(), errors, agent)
    thread = runner.start()
    wait_for(lambda: runner.is_closed, "termination")
    thread.join(DEADLINE_S)
    assert agent.work == 10 and agent.closes == 1
    assert len(errors.items) == 1 and isinstance(errors.items[0], AgentTerminationException)
    runner.close()
    assert agent.closes == 1


def test_runner_on_start_failure_skips_work_but_closes() -> None:
    class BadStart(CountingAgent):
        def on_start(self) -> None:
            raise ValueError("no start")

    agent = BadStart()
    errors = Errors()
    runner = AgentRunner(NoOpIdleStrategy(), errors, agent)
    runner.start()
    wait_for(lambda: runner.is_closed, "closed")
    assert agent.work == 0 and agent.closes == 1
    assert isinstance(errors.items[0], ValueError)
    runner.close()


def test_runner_close_without_start_closes_agent() -> None:
    agent = CountingAgent()
    runner = AgentRunner(NoOpIdleStrategy(), Errors(), agent)
    runner.close()
    assert runner.is_closed and agent.closes == 1 and agent.starts == 0


def test_runner_idles_with_work_count() -> None:
    seen: list[int] = []

    class Idle:
        alias = "test"

        def idle(self, work_count: int) -> None:
            seen.append(work_count)

        def idle_once(self) -> None:
            pass

        def reset(self) -> None:
            pass

    class Alternating(AgentBase):
        n = 0

        def do_work(self) -> int:
            self.n += 1
            return self.n % 2

    runner = AgentRunner(Idle(), Errors(), Alternating())
    runner.start()
    wait_for(lambda: len(seen) > 10, "idles")
    runner.close()
    assert seen[:6] == [1, 0, 1, 0, 1, 0]


def test_an_idle_strategy_that_raises_is_reported_and_the_runner_goes_on() -> None:
    """A probed idle strategy may run the agent's data path (the SHARED driver's eager run): an
    error there is the agent's error, counted and handled, and never ends the thread."""
    calls = [0]

    class FailingIdle:
        alias = "test"

        def idle(self, work_count: int) -> None:
            calls[0] += 1
            if calls[0] % 3 == 0:
                raise KeyError(f"idle {calls[0]}")

        def idle_once(self) -> None:
            pass

        def reset(self) -> None:
            pass

    agent = CountingAgent()
    errors = Errors()
    counter = Counter()
    runner = AgentRunner(FailingIdle(), errors, agent, counter)
    thread = runner.start()
    wait_for(lambda: len(errors.items) >= 5, "errors from the idle strategy")
    assert thread.is_alive() and runner.is_running
    runner.close()
    assert all(isinstance(e, KeyError) for e in errors.items)
    assert counter.value >= 5 and agent.work >= 15


def test_runner_close_timeout_reported() -> None:
    release = threading.Event()

    class Stuck(AgentBase):
        def do_work(self) -> int:
            release.wait(DEADLINE_S)
            return 0

    errors = Errors()
    runner = AgentRunner(NoOpIdleStrategy(), errors, Stuck())
    thread = runner.start()
    runner.close(timeout_s=0.01)
    assert len(errors.items) == 1 and isinstance(errors.items[0], AeronError)
    assert "did not stop" in str(errors.items[0])
    release.set()
    thread.join(DEADLINE_S)
    assert runner.is_closed


def test_runner_close_from_agent_thread() -> None:
    holder: list[AgentRunner] = []

    class SelfClosing(AgentBase):
        def do_work(self) -> int:
            holder[0].close()
            return 1

    runner = AgentRunner(NoOpIdleStrategy(), Errors(), SelfClosing())
    holder.append(runner)
    runner.start()
    wait_for(lambda: runner.is_closed, "self close")


def test_composite() -> None:
    a, b = CountingAgent("a"), CountingAgent("b")
    comp = CompositeAgent(a, b)
    assert comp.role_name() == "[a,b]"
    comp.on_start()
    assert comp.do_work() == 2
    assert a.starts == b.starts == 1
    comp.on_close()
    assert a.closes == b.closes == 1
    with pytest.raises(ValueError):
        CompositeAgent()


def test_composite_lifecycle_errors_continue_and_raise_first() -> None:
    class Bad(CountingAgent):
        def on_start(self) -> None:
            raise KeyError(self.name)

        def on_close(self) -> None:
            super().on_close()
            raise OSError(self.name)

    x, good, y = Bad("x"), CountingAgent("g"), Bad("y")
    comp = CompositeAgent(x, good, y)
    with pytest.raises(KeyError) as start_err:
        comp.on_start()
    assert start_err.value.args == ("x",) and good.starts == 1
    assert any("y" in n for n in getattr(start_err.value, "__notes__", []))
    with pytest.raises(OSError) as close_err:
        comp.on_close()
    assert close_err.value.args == ("x",)
    assert (x.closes, good.closes, y.closes) == (1, 1, 1)


def test_composite_in_runner() -> None:
    a, b = CountingAgent("a"), CountingAgent("b")
    runner = AgentRunner(NoOpIdleStrategy(), Errors(), CompositeAgent(a, b))
    assert runner.start().name == "[a,b]"
    wait_for(lambda: a.work > 10 and b.work > 10, "composite work")
    runner.close()
    assert a.closes == b.closes == 1


def test_invoker() -> None:
    agent = CountingAgent()
    errors = Errors()
    invoker = AgentInvoker(errors, agent)
    assert invoker.invoke() == 0 and agent.work == 0  # not started
    assert not invoker.is_started
    invoker.start()
    invoker.start()
    assert invoker.is_started and invoker.is_running and agent.starts == 1
    assert invoker.invoke() == 1 and agent.work == 1
    invoker.close()
    invoker.close()
    assert invoker.is_closed and not invoker.is_running and agent.closes == 1
    assert invoker.invoke() == 0 and agent.work == 1


def test_invoker_errors() -> None:
    agent = CountingAgent(fail_every=2, stop_at=5)
    errors = Errors()
    counter = Counter()
    invoker = AgentInvoker(errors, agent, counter)
    invoker.start()
    results = [invoker.invoke() for _ in range(6)]
    assert results == [1, 0, 1, 0, 0, 0]
    assert [type(e) for e in errors.items] == [RuntimeError, RuntimeError, AgentTerminationException]
    assert invoker.is_closed and agent.closes == 1 and agent.work == 5
    assert counter.value == 3


def test_invoker_start_failure_closes() -> None:
    class BadStart(CountingAgent):
        def on_start(self) -> None:
            raise ValueError("x")

    agent = BadStart()
    errors = Errors()
    invoker = AgentInvoker(errors, agent)
    invoker.start()
    assert invoker.is_closed and not invoker.is_running and agent.closes == 1
    assert invoker.invoke() == 0
