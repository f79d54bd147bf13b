"""Agents and the ways to run them: a dedicated thread, a composite, or an invoker.

Follows agrona's model: an agent does a bounded amount of work per ``do_work`` call and
returns how much it did; the runner idles according to its idle strategy when nothing was done.
Exceptions from ``do_work`` go to the error handler and the loop continues;
:class:`AgentTerminationException` ends it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from aeronpy.concurrent.idle_strategy import IdleStrategy
from aeronpy.errors import AeronError

ErrorHandler = Callable[[BaseException], None]


class AgentTerminationException(AeronError):
    """Raised by an agent to end its duty cycle loop (reported to the error handler first)."""


@runtime_checkable
class Agent(Protocol):
    """A unit of work run repeatedly by a runner or invoker."""

    def role_name(self) -> str:
        """Name of the role, used for thread names and messages."""
        ...

    def do_work(self) -> int:
        """Do one duty cycle of work; return how much was done (0 = idle)."""
        ...

    def on_start(self) -> None:
        """Called once on the agent's thread before the first ``do_work``."""
        ...

    def on_close(self) -> None:
        """Called once when the agent stops."""
        ...


class AgentBase:
    """Convenience base with no-op ``on_start``/``on_close``; subclasses implement the rest."""

    def role_name(self) -> str:
        """Defaults to the class name."""
        return type(self).__name__

    def do_work(self) -> int:
        """Must be overridden."""
        raise NotImplementedError

    def on_start(self) -> None:
        """Nothing by default."""

    def on_close(self) -> None:
        """Nothing by default."""


class SupportsIncrement(Protocol):
    """An error counter (e.g. an ``AtomicCounter``)."""

    def increment(self) -> object: ...


class AgentRunner:
    """Runs an agent's duty cycle on its own thread until closed."""

    def __init__(
        self,
        idle_strategy: IdleStrategy,
        error_handler: ErrorHandler,
        agent: Agent,
        error_counter: SupportsIncrement | None = None,
    ) -> None:
        self.idle_strategy = idle_strategy
        self.error_handler = error_handler
        self.agent = agent
        self.error_counter = error_counter
        self._lock = threading.Lock()
        self._running = False
        self._close_requested = False
        self._closed = False
        self._agent_closed = False
        self._thread: threading.Thread | None = None
        self._done = threading.Event()

    @property
    def is_running(self) -> bool:
        """True while the duty cycle loop is (or is about to be) running."""
        return self._running

    @property
    def is_closed(self) -> bool:
        """True once the loop has ended and the agent has been closed."""
        return self._closed

    @property
    def thread(self) -> threading.Thread | None:
        """The runner thread once started."""
        return self._thread

    def start(self, thread_name: str | None = None) -> threading.Thread:
        """Start the agent on a new daemon thread (named after the role by default)."""
        with self._lock:
            if self._close_requested:
                raise RuntimeError("AgentRunner is closed")
            if self._thread is not None:
                raise RuntimeError("AgentRunner already started")
            self._running = True
            thread = threading.Thread(
                target=self._run, name=thread_name or self.agent.role_name(), daemon=True
            )
            self._thread = thread
        thread.start()
        return thread

    def _handle_error(self, error: BaseException) -> None:
        if self.error_counter is not None and self._running:
            try:
                self.error_counter.increment()
            except Exception:  # counter may be gone during shutdown
                pass
        self.error_handler(error)

    def _run(self) -> None:
        agent = self.agent
        idle = self.idle_strategy
        try:
            try:
                agent.on_start()
            except Exception as ex:
                self._running = False
                self.error_handler(ex)
            while self._running:
                try:
                    # the idle strategy inside too: a probed one may run the agent's data path
                    # (the SHARED driver's eager run), whose errors must not end the thread
                    idle.idle(agent.do_work())
                except AgentTerminationException as ex:
                    self._running = False
                    self._handle_error(ex)
                    break
                except Exception as ex:
                    self._handle_error(ex)
        finally:
            self._running = False
            self._close_agent()
            self._closed = True
            self._done.set()

    def _close_agent(self) -> None:
        with self._lock:
            if self._agent_closed:
                return
            self._agent_closed = True
        try:
            self.agent.on_close()
        except Exception as ex:
            self.error_handler(ex)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the loop, wait up to ``timeout_s`` for the thread and close the agent once.

        Idempotent.  If the thread does not stop in time an :class:`AeronError` is reported to
        the error handler; the agent is then closed by its own thread when it finally stops.
        Called from the agent's own thread it only signals the stop.
        """
        with self._lock:
            self._close_requested = True
            self._running = False
            thread = self._thread
        if thread is None:
            self._close_agent()
            self._closed = True
            return
        if thread is threading.current_thread():
            return
        if not self._done.wait(timeout_s):
            self.error_handler(
                AeronError(
                    f"agent {self.agent.role_name()!r} did not stop within {timeout_s} s"
                )
            )
            return
        thread.join()

    def __enter__(self) -> AgentRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AgentRunner({self.agent.role_name()!r}, running={self._running})"


class CompositeAgent:
    """Several agents run as one: work counts are summed, lifecycle calls fan out."""

    def __init__(self, *agents: Agent) -> None:
        if not agents:
            raise ValueError("CompositeAgent requires at least one agent")
        self.agents: tuple[Agent, ...] = agents
        self._role_name = "[" + ",".join(a.role_name() for a in agents) + "]"

    def role_name(self) -> str:
        """``[name1,name2,...]``."""
        return self._role_name

    def do_work(self) -> int:
        """Run each agent's duty cycle once and sum the work."""
        work_count = 0
        for agent in self.agents:
            work_count += agent.do_work()
        return work_count

    def on_start(self) -> None:
        """Start every agent; re-raise the first failure after trying them all."""
        self._each(lambda a: a.on_start())

    def on_close(self) -> None:
        """Close every agent; re-raise the first failure after trying them all."""
        self._each(lambda a: a.on_close())

    def _each(self, action: Callable[[Agent], None]) -> None:
        first: Exception | None = None
        for agent in self.agents:
            try:
                action(agent)
            except Exception as ex:
                if first is None:
                    first = ex
                else:
                    first.add_note(f"also failed in {agent.role_name()}: {ex!r}")
        if first is not None:
            raise first


class AgentInvoker:
    """Runs an agent's duty cycle on the caller's thread, one ``invoke()`` at a time."""

    def __init__(
        self,
        error_handler: ErrorHandler,
        agent: Agent,
        error_counter: SupportsIncrement | None = None,
    ) -> None:
        self.error_handler = error_handler
        self.agent = agent
        self.error_counter = error_counter
        self._started = False
        self._running = False
        self._closed = False

    @property
    def is_started(self) -> bool:
        """True once ``start`` was called."""
        return self._started

    @property
    def is_running(self) -> bool:
        """True between a successful ``start`` and ``close``."""
        return self._running

    @property
    def is_closed(self) -> bool:
        """True once closed."""
        return self._closed

    def start(self) -> None:
        """Call ``on_start`` once; a failure is reported and closes the invoker."""
        if self._started:
            return
        self._started = True
        try:
            self.agent.on_start()
            self._running = True
        except Exception as ex:
            self.error_handler(ex)
            self.close()

    def invoke(self) -> int:
        """One duty cycle if started and not closed; returns the work count (0 otherwise)."""
        if not self._running:
            return 0
        try:
            return self.agent.do_work()
        except AgentTerminationException as ex:
            self._handle_error(ex)
            self.close()
        except Exception as ex:
            self._handle_error(ex)
        return 0

    def _handle_error(self, error: BaseException) -> None:
        if self.error_counter is not None and self._running:
            try:
                self.error_counter.increment()
            except Exception:
                pass
        self.error_handler(error)

    def close(self) -> None:
        """Stop invoking and call ``on_close`` once (failures go to the error handler)."""
        if self._closed:
            return
        self._running = False
        self._closed = True
        try:
            self.agent.on_close()
        except Exception as ex:
            self.error_handler(ex)

    def __enter__(self) -> AgentInvoker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "Agent",
    "AgentBase",
    "AgentInvoker",
    "AgentRunner",
    "AgentTerminationException",
    "CompositeAgent",
    "ErrorHandler",
    "SupportsIncrement",
]
