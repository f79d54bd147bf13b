"""What gives each driver agent work, for the idle probe (:mod:`aeronpy.concurrent.activity_probe`).

* conductor: the to-driver ring's tail (client commands); each IPC and network publication's
  log tails and sender position, and every subscriber (and spy) position, which move the
  publisher limits; each image's high-water mark (the receiver's rebuild, in DEDICATED mode);
  the network conductor's answer queue;
* sender: its publications' log tails, its sockets (epoll), its command queue;
* receiver: its sockets (epoll), its command queue, images with an SM or NAK to send.

Of the conductor's words, the network publications' sender positions and the images'
high-water marks and subscriber positions are *deferrable*: what the conductor does with their
moves (publisher limits, rebuild positions, loss scans, status messages to schedule) may come
late, by its next deadline.  With an eager data path (SHARED mode) they then fire no check of
their own (:meth:`~aeronpy.concurrent.activity_probe.ActivityProbe.deferred_due`), so that a
round trip's hop is not followed by duty cycles that only catch up with the hop's own moves.

Timers need no watching: a probed back-off still parks and then runs duty cycles, at least
every maximum park period while the agent has timers of its own running (``quiet_ns`` 0).  An
agent whose only timers are coarse says so in ``quiet_ns``, and a parked back-off then skips
its duty cycles for that long while nothing moves: a conductor with no network publication,
image or name resolver has only its ``aeron.timer.interval`` housekeeping; a sender or
receiver with no endpoint, publication or image has no timers; the cnc.dat watch has its own
interval.  An idle driver then wakes from its park to a probe check, not to a whole duty
cycle (which, with cold caches after a park, costs ~10x a warm one).  An agent with a
socket-less (in-memory) transport cannot be probed: ``None``.

Rebuilding these lists costs tens of microseconds, so the probe rebuilds them only when
:func:`sources_version` moved (a command ran, or a timer added or removed a resource), and
otherwise every ``max_refresh_ns`` as a safety net.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from aeronpy.concurrent.activity_probe import UNLIMITED_QUIET_NS, ActivityProbe, ActivitySources, ProbedAgent, Word
from aeronpy.concurrent.agent import CompositeAgent
from aeronpy.concurrent.idle_strategy import BackoffIdleStrategy
from aeronpy.concurrent.ringbuffer import TAIL_POSITION_OFFSET
from aeronpy.driver.conductor import DriverConductor
from aeronpy.driver.endpoints import socket_fd
from aeronpy.driver.network_agents import Receiver, Sender
from aeronpy.logbuffer.descriptor import PARTITION_COUNT, TERM_TAIL_COUNTERS_OFFSET

_LOG_TAILS = tuple(TERM_TAIL_COUNTERS_OFFSET + 8 * i for i in range(PARTITION_COUNT))


def _log_tail_words(metadata: Any) -> list[Word]:
    return [(metadata, offset) for offset in _LOG_TAILS]


def _counter_word(counter: Any) -> Word:
    return (counter.values_buffer, counter.offset)


def conductor_sources(conductor: DriverConductor) -> ActivitySources:
    """The conductor's words (see the module docstring)."""
    ring = conductor.to_driver
    words: list[Word] = [(ring.buffer, ring.capacity + TAIL_POSITION_OFFSET)]
    late: list[Word] = []
    for publication in conductor.ipc_publications:
        words += _log_tail_words(publication.metadata)
        words += [_counter_word(sub.counter) for sub in publication.subscribers]
    network = conductor.network
    for network_publication in network.publications:
        words += _log_tail_words(network_publication.metadata)
        late.append(_counter_word(network_publication.snd_pos))
        words.append(late[-1])
        words += [_counter_word(spy.counter) for spy in network_publication.spies]
    for image in network.images:
        late.append(_counter_word(image.hwm))
        late += [_counter_word(sub.counter) for sub in image.subscribers]
        words += late[-1 - len(image.subscribers):]
    # Network publications and images have timers of their own (loss, linger, liveness), and
    # so has a name resolver; without them only the housekeeping timer is left.
    coarse = not network.publications and not network.images and network.name_resolver is None
    return ActivitySources(tuple(words), (), (network.queue.pending.__len__,),
                           conductor.timer_interval_ns if coarse else 0, tuple(late))


def _epoll_fd(agent: Sender | Receiver, endpoints: list[Any]) -> tuple[int, ...] | None:
    if not endpoints:  # an empty epoll set: nothing to poll (an endpoint comes as a command)
        return ()
    for endpoint in endpoints:
        for transport in endpoint.transports():
            if socket_fd(transport) < 0:
                return None  # in-memory transport: nothing to poll
    fd = agent.ready_sockets.fileno()
    if fd < 0:  # no epoll (non-Linux): only an agent without endpoints can be probed
        return None
    return (fd,)


def sender_sources(sender: Sender) -> ActivitySources | None:
    """The sender's words, epoll and queue."""
    fds = _epoll_fd(sender, sender.endpoints)
    if fds is None:
        return None
    words: list[Word] = []
    for publication in sender.publications:
        words += _log_tail_words(publication.metadata)
    quiet = UNLIMITED_QUIET_NS if not sender.publications and not sender.endpoints else 0
    return ActivitySources(tuple(words), fds, (sender.commands.pending.__len__,), quiet)


def receiver_sources(receiver: Receiver) -> ActivitySources | None:
    """The receiver's epoll, queue and images with an SM/NAK due (set by the conductor)."""
    fds = _epoll_fd(receiver, receiver.endpoints)
    if fds is None:
        return None
    quiet = UNLIMITED_QUIET_NS if not receiver.images and not receiver.endpoints else 0
    return ActivitySources((), fds, (receiver.commands.pending.__len__, receiver.has_feedback_due), quiet)


def sources_of(agent: Any) -> ActivitySources | None:
    """An agent's activity sources; ``None`` when it (or a part of it) cannot be probed."""
    if isinstance(agent, CompositeAgent):
        total = ActivitySources(quiet_ns=UNLIMITED_QUIET_NS)
        for part in agent.agents:
            found = sources_of(part)
            if found is None:
                return None
            total = total + found
        if _runs_all_three(agent):
            total = replace(total, pending_in_cycles=True)
        return total
    if isinstance(agent, DriverConductor):
        return conductor_sources(agent)
    if isinstance(agent, Sender):
        return sender_sources(agent)
    if isinstance(agent, Receiver):
        return receiver_sources(agent)
    own = getattr(agent, "activity_sources", None)
    return own() if callable(own) else None


def _runs_all_three(agent: CompositeAgent) -> bool:
    """Whether the composite runs conductor, sender and receiver (SHARED, INVOKER): on one thread,
    only its duty cycles fill the queues between them and schedule the receiver's feedback, so
    its probe asks those pending checks once per cycle (:attr:`ActivitySources.pending_in_cycles`)."""
    kinds: set[type] = set()
    parts = list(agent.agents)
    while parts:
        part = parts.pop()
        if isinstance(part, CompositeAgent):
            parts += part.agents
        else:
            kinds.add(type(part))
    return all(any(issubclass(k, role) for k in kinds) for role in (DriverConductor, Sender, Receiver))


def _version_terms(agent: Any) -> list[tuple[Any, str]] | None:
    if isinstance(agent, CompositeAgent):
        terms: list[tuple[Any, str]] = []
        for part in agent.agents:
            found = _version_terms(part)
            if found is None:
                return None
            terms += found
        return terms
    if isinstance(agent, DriverConductor):
        return [(agent, "sources_version"), (agent.network.queue, "drained")]
    if isinstance(agent, (Sender, Receiver)):
        return [(agent.commands, "drained")]
    if getattr(agent, "activity_sources", None) is not None:
        return [(agent, "sources_version")] if hasattr(agent, "sources_version") else []
    return None


def version_reader(agent: Any) -> Callable[[], int] | None:
    """A reader of a number that moves whenever the agent's sources may have changed (commands
    drained, the conductor's resources added or removed); ``None`` for an agent that keeps none
    (its probe then rebuilds after any work, at most every ``refresh_ns``)."""
    terms = _version_terms(agent)
    if terms is None:
        return None
    owners = tuple(owner for owner, _ in terms)
    names = tuple(name for _, name in terms)
    return lambda: sum(map(getattr, owners, names))  # one C loop: read every duty cycle


def probed(agent: Any, idle_strategy: Any) -> Any:
    """``agent`` wrapped so that a back-off ``idle_strategy`` spins and yields on a probe of it;
    unchanged for other strategies (they do not spin on duty cycles) and for subclasses such as
    the doorbell's, whose parks end on their own signals."""
    if type(idle_strategy) is not BackoffIdleStrategy:
        return agent
    probe = ActivityProbe(lambda: sources_of(agent), version=version_reader(agent),
                          eager=getattr(agent, "eager", None))
    idle_strategy.probe = probe
    if probe.eager is not None:  # a SharedAgent starts its cycle after work with the probe's run
        agent.probe = probe
    return ProbedAgent(agent, probe)


__all__ = ["conductor_sources", "probed", "receiver_sources", "sender_sources", "sources_of", "version_reader"]
