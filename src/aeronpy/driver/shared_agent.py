"""The one agent of ``SHARED`` threading mode: sender and receiver every duty cycle, the
conductor off the data path.

Aeron's SHARED mode runs conductor, sender and receiver one after the other every duty cycle.
In C a conductor cycle costs well under a microsecond; in Python it costs several, and a
message that arrives during it waits.  So here, as if the conductor had a thread of its own (as
in ``DEDICATED``, Aeron's default), the conductor runs in a cycle where the sender and receiver
found nothing to do, and at least every ``conductor_interval_ns`` while they stay busy.  Its
work under load (publisher limits, status messages and NAK scheduling, client commands) then
lags the data path by at most that interval.  An interval of 0 runs it every cycle, as Aeron.

Sender and receiver share one ``epoll`` here (``ReadySockets(shared=True)``): the first agent
to ask in a cycle (the sender, after sending, when it polls for control frames; else the
receiver) makes the one ``epoll_wait`` of the cycle, which on the project's VM is most of an
idle cycle's cost.

"Found nothing to do" means two cycles in a row: the first idle cycle after data-path work
leaves the conductor to the next one, because a reply to what was just sent or delivered
(a pong, an acknowledgement) tends to arrive within microseconds and would otherwise wait out
a whole conductor cycle.  The idle strategy's back-off (spins, then yields, each a cheap
probe) runs in between, so the conductor is late by a few microseconds, not a park.

With an eager data path (:mod:`aeronpy.driver.eager_data_path`, ``eager=True`` and the C
extension) the probe's check runs the common send and receive in C as soon as it fires; this
agent keeps its plan current (rebuilt after any command the sender or receiver ran) and counts
its work as the data path's, so the conductor still waits for two idle cycles after it.  A run
that left the duty cycle nothing else to do stands in for it until the conductor is next due
(``defer_until_ns``): the conductor runs at least every ``conductor_interval_ns`` as before.

The cycle right after one that did work starts with the eager run
(:meth:`~aeronpy.concurrent.activity_probe.ActivityProbe.run_eager`, on the probe the driver
gives this agent).  When that run handled the cycle, or found nothing where the sender and
receiver would have found nothing but timers (``eager.quiet``), it stands in for them: one C
call instead of a Python cycle (about 2 us in a tight loop on the project's VM, several times
that between hops on a busy one), so under a stream of round-trip hops the driver does not run
one Python cycle after another, each catching the next hop late.  After a cycle that ran the
conductor, only when the conductor left the sender and receiver nothing a run does not do: no
command queued for either, no status message or NAK scheduled (else that cycle is whole, so they
take it at once).  Under round trips the conductor's cycle used to be followed by a whole Python
cycle that found nothing (about 5 us on the project's VM), which the next hop waited out.
"""

from __future__ import annotations

from typing import Any, Callable

from aeronpy.concurrent.agent import Agent, CompositeAgent
from aeronpy.concurrent.ringbuffer import HEAD_POSITION_OFFSET, TAIL_POSITION_OFFSET
from aeronpy.driver.eager_data_path import new_eager_data_path, plan_of
from aeronpy.driver.network_agents import ReadySockets, Receiver, Sender


class SharedAgent(CompositeAgent):
    """Sender then receiver every cycle; the conductor when they were idle in this cycle and the
    one before, or its interval ran out.  Lifecycle calls go to conductor, sender, receiver in
    that order."""

    def __init__(self, conductor: Agent, sender: Agent, receiver: Agent, conductor_interval_ns: int,
                 nano_clock: Callable[[], int], eager: bool = True, eager_data_path: Any = None,
                 commands_ring: Any = None) -> None:
        super().__init__(conductor, sender, receiver)
        if conductor_interval_ns < 0:
            raise ValueError(f"conductor_interval_ns={conductor_interval_ns}: must be >= 0")
        self._conductor = conductor.do_work
        self._sender = sender.do_work
        self._receiver = receiver.do_work
        self.conductor_interval_ns = conductor_interval_ns
        self._clock = nano_clock
        self._conductor_due_ns = 0
        self._data_path_was_idle = True
        self.conductor_cycles = 0
        """How many duty cycles ran the conductor (for tests and diagnostics)."""
        self._new_cycle: Callable[[], None] | None = None
        """Sender and receiver share one epoll (``ReadySockets(shared=True)``): each cycle asks it afresh."""
        sockets = getattr(sender, "ready_sockets", None)
        if isinstance(sockets, ReadySockets) and sockets.shared:
            new_cycle = sockets.new_cycle
            if getattr(receiver, "ready_sockets", None) is sockets:
                self._new_cycle = new_cycle
        self.eager: Any = None
        """The eager data path the probe runs (C ``EagerDataPath``, or what ``eager_data_path``
        gave), else None: only for a real sender and receiver sharing one epoll."""
        self._sender_agent, self._receiver_agent = sender, receiver
        self._queued_for_data_path = _queued_check(sender, receiver)
        """After a conductor cycle: whether it left the sender or receiver something a stand-in
        would not do (commands, a status message or NAK scheduled); then the next cycle is whole."""
        self._plan_version = -1
        self.probe: Any = None
        """The idle probe whose eager run starts the cycle after work (set by ``probed``), or None."""
        self._eager_first = False
        self.stand_ins = 0
        """Cycles the eager run stood in for (for tests and diagnostics)."""
        if eager and self._new_cycle is not None and isinstance(sender, Sender) and isinstance(receiver, Receiver):
            self.eager = eager_data_path if eager_data_path is not None else new_eager_data_path(nano_clock, sender.report)
            if self.eager is not None and commands_ring is not None:
                # a run handles its duty cycle only while no client command waits (see eager_data_path)
                self.eager.set_commands(commands_ring.buffer, commands_ring.capacity + TAIL_POSITION_OFFSET,
                                        commands_ring.capacity + HEAD_POSITION_OFFSET)

    def do_work(self) -> int:
        eager = self.eager
        if self._eager_first:
            self._eager_first = False
            stood_in = self._stand_in(eager)
            if stood_in is not None:
                return stood_in
        new_cycle = self._new_cycle
        if new_cycle is not None:
            new_cycle()
        work = self._sender() + self._receiver()
        if eager is not None:
            eager_work = eager.work
            if eager_work:  # what the probe's run did before this cycle counts as its data path's
                eager.work = 0
                work += eager_work
            self._keep_plan(eager)
        if self.conductor_interval_ns == 0:
            return work + self._run_conductor(None)
        if work == 0:
            if self._data_path_was_idle:
                work = self._run_conductor(None)
                self._eager_first = work > 0 and self.probe is not None and not self._queued_for_data_path()
                return work
            self._data_path_was_idle = True  # the next idle cycle runs it (if none is due now)
        else:
            self._data_path_was_idle = False
        now_ns = self._clock()
        if now_ns - self._conductor_due_ns >= 0:
            work += self._run_conductor(now_ns)
            self._eager_first = work > 0 and self.probe is not None and not self._queued_for_data_path()
            return work
        self._eager_first = work > 0 and self.probe is not None
        return work

    def _stand_in(self, eager: Any) -> int | None:
        """The eager run in place of this cycle's sender and receiver: its work when it handled
        the cycle or was quiet, else None (the cycle goes on, counting the run's work)."""
        work = self.probe.run_eager()
        if work is None or not (eager.handled or eager.quiet):
            return None
        eager.handled = 0
        eager.work = 0
        self.stand_ins += 1
        self.probe.stand_in()  # no command ran: the probe's sources and pending checks are as they were
        self._data_path_was_idle = work == 0  # a quiet run is an idle cycle: the next idle one runs the conductor
        self._eager_first = work > 0
        return int(work)

    def _keep_plan(self, eager: Any) -> None:
        """Rebuild the eager plan after the sender or receiver ran a command (the first time, too)."""
        sender, receiver = self._sender_agent, self._receiver_agent
        version = sender.commands.drained + receiver.commands.drained  # type: ignore[attr-defined]
        if version != self._plan_version:
            self._plan_version = version
            plan = plan_of(sender, receiver)
            eager.set_plan(*plan)
            # a publication left out (no C path, or one bound later) may have data: no run stands in
            eager.whole = int(len(plan[0]) == len(sender.publications))  # type: ignore[attr-defined]

    def on_close(self) -> None:
        eager = self.eager
        if eager is not None:
            eager.set_plan((), -1, {})  # the epoll closes with the agents: run() must not ask it
            close = getattr(eager, "close", None)
            if close is not None:
                close()
        super().on_close()

    def _run_conductor(self, now_ns: int | None) -> int:
        if self.conductor_interval_ns:
            self._conductor_due_ns = (self._clock() if now_ns is None else now_ns) + self.conductor_interval_ns
            if self.eager is not None:  # its runs may stand in for duty cycles until then
                self.eager.defer_until_ns = self._conductor_due_ns
        if self.eager is not None:  # the conductor takes in the deferrable words' moves now
            self.eager.deferred = 0
        self.conductor_cycles += 1
        return int(self._conductor())


def _queued_check(sender: Agent, receiver: Agent) -> Callable[[], bool]:
    """What :attr:`SharedAgent._queued_for_data_path` asks: the sender's and receiver's command
    queues and the receiver's feedback due.  Agents without them (test doubles): always true,
    so a cycle after the conductor's is always whole for them."""
    if not (isinstance(sender, Sender) and isinstance(receiver, Receiver)):
        return lambda: True
    sender_queue, receiver_queue = sender.commands.pending, receiver.commands.pending
    feedback_due = receiver.has_feedback_due
    return lambda: bool(sender_queue or receiver_queue) or feedback_due()


__all__ = ["SharedAgent"]
