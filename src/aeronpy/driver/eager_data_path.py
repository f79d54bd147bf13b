"""The SHARED driver's data path, run the moment its idle probe sees activity.

An idle SHARED driver spins and yields on its :class:`~aeronpy.concurrent.activity_probe.ActivityProbe`.
When a check fires (a client's log tail moved, a socket became readable), the duty cycle that
follows takes several microseconds of Python before the sender's ``sendmmsg`` and the receiver's
``recvmmsg`` run, and a UDP round trip waits for that on every hop.  An eager data path runs
those first steps in C inside the probe's check, before control returns to Python:

1. each planned network publication's common sender cycle (its
   :class:`~aeronpy.driver.publication_tx.PublicationTx`, while the publication still sends
   through it);
2. one ``epoll_wait(0)`` of the shared epoll, and for each ready socket of a planned receive
   endpoint one ``recvmmsg`` and the C DATA path (``dispatch_data``); a datagram that declines
   sends the rest of its batch to the endpoint's Python dispatch
   (:meth:`~aeronpy.driver.endpoints.ReceiveChannelEndpoint.dispatch_declined`).

That is what the sender's and receiver's next cycles start with, in the same order; the duty
cycle then finds the common work done.  Everything else stays with it: commands, SETUPs,
heartbeats and retransmits (a ``PublicationTx`` declines them, changing nothing), control
frames (the sender's sockets are not planned), status messages, NAKs, timers and the conductor.

A run that did work and left that duty cycle nothing to do but timers is *handled*: the plan
covers every publication (``whole``: none without a C path), every planned publication's ``PublicationTx`` served it (none declined), every ready socket was a
planned one and taken whole, nothing failed, and no client command waits in the to-driver ring
(:meth:`set_commands`).  Then, until ``defer_until_ns`` (which the agent sets to when its
conductor is next due), the agent skips that duty cycle
(:class:`~aeronpy.concurrent.activity_probe.ProbedAgent`) and its back-off starts again, as
after any work: a Python duty cycle costs about 3 us here, which the next message would wait
out.  Timers are late by at most that deadline, or by one back-off, whichever comes first.

The probe's deferrable words (:attr:`~aeronpy.concurrent.activity_probe.ActivitySources.deferrable`:
sender positions, high-water marks, image subscriber positions) fire no check in :meth:`watch`.
A move of one sets ``deferred`` instead, and so does a run's own move of one, read in again
after a run that did work.  The probe's parks then end for a duty cycle once ``defer_until_ns``
has come (:meth:`~aeronpy.concurrent.activity_probe.ActivityProbe.deferred_due`), and the agent
clears ``deferred`` when its conductor runs.

The plan (:func:`plan_of`) holds the publications with a C sender path and the receive endpoints
:meth:`~aeronpy.driver.endpoints.ReceiveChannelEndpoint.eager_receive_entry` accepts;
:class:`~aeronpy.driver.shared_agent.SharedAgent` rebuilds it whenever the sender or receiver ran
a command (only commands add or remove publications, endpoints and destinations).
:class:`EagerDataPathPy` is the twin the tests compare with the C ``EagerDataPath``.
"""

from __future__ import annotations

import os
import select
from typing import Any, Callable, Container

from aeronpy.concurrent.activity_probe import Word, watch_words_py
from aeronpy.driver.image_rx import dispatch_data_py
from aeronpy.driver.media.udp_transport import TRANSIENT_ERRNOS, recvmmsg_into_py
from aeronpy.driver.publication_tx import NATIVE_TX

EagerDataPath: Any = None
try:
    from aeronpy._atomic import EagerDataPath
except ImportError:  # pragma: no cover - C extension not built, or not Linux
    EagerDataPath = None

NATIVE_EAGER = NATIVE_TX and EagerDataPath is not None
"""Whether the C eager data path exists here (off with ``AERONPY_PURE_PYTHON=1``)."""

_MAX_EVENTS = 16
"""Events one ``epoll_wait`` of a run asks for (as many ready: maybe more, the run is not whole)."""

Plan = tuple[tuple[tuple[Any, Any], ...], int, dict[int, tuple[Any, ...]]]
"""``(txs, epoll_fd, receivers)``: ``(publication, PublicationTx)`` pairs, the shared epoll's
descriptor (-1: no receive side) and, per ready descriptor, a receive endpoint's entry."""


def plan_of(sender: Any, receiver: Any) -> Plan:
    """What the eager data path can do for ``sender`` and ``receiver`` now (they share one
    epoll): the publications whose ``tx_send`` is a C ``PublicationTx``, and the plain receive
    endpoints read on the shared epoll that the sender does not also read."""
    txs = []
    for publication in sender.publications:
        tx = getattr(getattr(publication, "tx_send", None), "__self__", None)
        if tx is not None and tx is not publication and callable(getattr(tx, "send", None)):
            txs.append((publication, tx))
    epoll_fd = receiver.ready_sockets.fileno()
    receivers: dict[int, tuple[Any, ...]] = {}
    if epoll_fd >= 0 and sender.ready_sockets is receiver.ready_sockets:
        sender_fds = sender.endpoints_by_fd
        for fd, endpoint in receiver.endpoints_by_fd.items():
            entry_of = getattr(endpoint, "eager_receive_entry", None)
            entry = entry_of() if entry_of is not None and fd not in sender_fds else None
            if entry is not None:
                receivers[fd] = entry
    return tuple(txs), epoll_fd if receivers else -1, receivers


def new_eager_data_path(
    clock: Callable[[], int], report: Callable[[BaseException], object], native: bool | None = None,
) -> Any:
    """The C ``EagerDataPath`` when ``native`` (default :data:`NATIVE_EAGER`), else ``None``."""
    if native is None:
        native = NATIVE_EAGER
    if not native or EagerDataPath is None:
        return None
    return EagerDataPath(clock, report, TRANSIENT_ERRNOS)


class EagerDataPathPy:
    """Python twin of the C ``EagerDataPath``: the same plan, run with the Python kernels
    (``recvmmsg_into_py``, ``dispatch_data_py``, ``watch_words_py``)."""

    def __init__(self, clock: Callable[[], int], report: Callable[[BaseException], object],
                 transient_errnos: Container[int]) -> None:
        self._clock = clock
        self._report = report
        self._transient = transient_errnos
        self.txs: tuple[tuple[Any, Any], ...] = ()
        self.receivers: dict[int, tuple[Any, ...]] = {}
        self.epoll_fd = -1
        self._epoll: Any = None
        self._ring: tuple[Any, int, int] | None = None
        self.defer_until_ns = 0
        self.whole = 0
        self.handled = 0
        self.quiet = 0
        self.handled_runs = 0
        self.work = 0
        self.runs = 0
        self._complete = True
        self.deferred = 0
        self._deferrable: frozenset[int] = frozenset()
        self._deferrable_count = -1

    def set_commands(self, ring_buffer: Any, tail_offset: int, head_offset: int) -> None:
        for offset in (tail_offset, head_offset):
            if offset < 0 or offset & 7 or offset > ring_buffer.capacity - 8:
                raise IndexError(f"set_commands: offset {offset} is not an aligned word of the ring")
        self._ring = (ring_buffer, tail_offset, head_offset)

    def _commands_waiting(self) -> bool:
        if self._ring is None:
            return True
        buffer, tail, head = self._ring
        if buffer.released:
            return True
        return bool(buffer.get_int64_volatile(tail) != buffer.get_int64_volatile(head))

    def set_plan(self, txs: tuple[tuple[Any, Any], ...], epoll_fd: int, receivers: dict[int, tuple[Any, ...]]) -> None:
        for pair in txs:
            if len(pair) != 2 or not callable(getattr(pair[1], "send", None)):
                raise TypeError("set_plan: each tx must be (publication, PublicationTx)")
        for fd, entry in receivers.items():
            if type(fd) is not int or len(entry) != 8 or not isinstance(entry[4], dict):
                raise TypeError("set_plan: receivers maps a descriptor to an 8-tuple")
        self.txs, self.receivers = txs, receivers
        epoll_fd = epoll_fd if epoll_fd >= 0 and receivers else -1
        if epoll_fd != self.epoll_fd:
            if self._epoll is not None:
                self._epoll.close()
            # a duplicate descriptor names the same epoll instance (closed with this twin's copy only)
            self._epoll = select.epoll.fromfd(os.dup(epoll_fd)) if epoll_fd >= 0 else None
            self.epoll_fd = epoll_fd

    def run(self) -> int:
        now_ns = self._clock()
        self.runs += 1
        self.handled = self.quiet = 0
        self._complete = True
        work = sent = 0
        for publication, tx in self.txs:
            if id(getattr(publication.tx_send, "__self__", None)) != id(tx):  # it sends through something else now
                self._complete = False
                continue
            try:
                bytes_sent = tx.send(now_ns)
            except OSError as ex:
                self._complete = False
                self._report(ex)
                continue
            if bytes_sent > 0:
                sent += bytes_sent
            elif bytes_sent < 0:
                self._complete = False
        if sent:
            work = 1
        if self._epoll is not None:
            events = self._epoll.poll(0, _MAX_EVENTS)
            if len(events) == _MAX_EVENTS:
                self._complete = False
            for fd, _ in events:
                entry = self.receivers.get(fd)
                if entry is None:
                    self._complete = False
                else:
                    work += self._receive(entry, now_ns)
        self.work += work
        if (self._complete and self.whole and now_ns < self.defer_until_ns and (work > 0 or self._epoll is not None)
                and not self._commands_waiting()):
            if work > 0:
                self.handled = 1
                self.handled_runs += 1
            else:
                self.quiet = 1
        return work

    def _receive(self, entry: tuple[Any, ...], now_ns: int) -> int:
        sock, buffer, slot_length, max_messages, images, destination, endpoint, add_bytes = entry
        try:
            batch = recvmmsg_into_py(sock, buffer, slot_length, max_messages)
        except OSError as ex:
            self._complete = False
            if ex.errno not in self._transient:
                self._report(ex)
            return 0
        if not batch:
            return 0
        i, taken = dispatch_data_py(images, buffer, slot_length, batch, 0, now_ns, destination.control_address)
        if i >= len(batch):
            if add_bytes is not None:
                add_bytes(taken)
            destination.time_of_last_activity_ns = now_ns
        else:
            self._complete = False
            endpoint.dispatch_declined(destination, batch, i, taken, now_ns)
        return len(batch)

    def set_deferrable(self, count: int, indices: tuple[int, ...]) -> None:
        if count < 0 or not isinstance(indices, tuple):
            raise TypeError("set_deferrable(count, indices): count >= 0 and a tuple of indices")
        for index in indices:
            if not 0 <= index < count:
                raise IndexError(f"set_deferrable: index {index} outside the {count} words")
        self._deferrable, self._deferrable_count = frozenset(indices), count

    def watch(self, words: tuple[Word, ...], snapshot: Any, fds: tuple[int, ...], checks: int) -> int:
        masked = len(words) == self._deferrable_count
        moved: list[int] = []
        fired = watch_words_py(words, snapshot, fds, checks, self._deferrable if masked else (), moved)
        if moved:
            self.deferred = 1
        if fired > 0 and self.run() > 0 and masked:  # the run's own moves of deferrable words
            self._reread_deferrable(words, snapshot)
        return fired

    def run_watched(self, words: tuple[Word, ...], snapshot: Any) -> int:
        if not isinstance(words, tuple):
            raise TypeError("run_watched(words, snapshot): words must be a tuple")
        masked = len(words) == self._deferrable_count
        if masked:
            for pair in words:
                if (not isinstance(pair, tuple) or len(pair) != 2 or not isinstance(pair[1], int)
                        or not hasattr(pair[0], "get_int64_volatile")):
                    raise TypeError("run_watched: each word must be (AtomicBuffer, offset)")
        work = self.run()
        if work > 0 and masked:
            self._reread_deferrable(words, snapshot)
        return work

    def _reread_deferrable(self, words: tuple[Word, ...], snapshot: Any) -> None:
        view = memoryview(snapshot).cast("B").cast("q")
        for i in self._deferrable:
            if i >= len(view):
                continue
            buffer, offset = words[i]
            if not buffer.released and 0 <= offset <= buffer.capacity - 8 and not offset & 7:
                value = int(buffer.get_int64_volatile(offset))
                if value != view[i]:
                    view[i] = value
                    self.deferred = 1

    def close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None
            self.epoll_fd = -1


__all__ = ["NATIVE_EAGER", "EagerDataPath", "EagerDataPathPy", "Plan", "new_eager_data_path", "plan_of"]
