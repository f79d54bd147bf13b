"""``Cluster``: what a service sees of the cluster (cluster.md §5.2) — member id, role, the log
position and cluster time of the message being applied, the open client sessions (ordered by
id), timers, service messages, session close, and an idle strategy that keeps the container
alive while the service waits.

Determinism guards (§5.3): ``offer``, ``try_claim``, ``schedule_timer``, ``cancel_timer`` and
``close_client_session`` raise :class:`~aeronpy.cluster.service.ClusterError` when called from
``on_start``, ``on_terminate``, ``on_role_change`` or ``do_background_work``.  Their
``*_reliably`` forms retry on back-pressure with the idle strategy instead of returning
False/a negative result, because every member must issue the identical sequence."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import Any

from aeronpy.client import results
from aeronpy.client.buffer_claim import BufferClaim
from aeronpy.cluster.codecs import SESSION_HEADER_LENGTH, ClusterTimeUnit
from aeronpy.cluster.counters import Role
from aeronpy.cluster.service.client_session import MOCKED_OFFER, ClientSession
from aeronpy.cluster.service.consensus_module_proxy import ConsensusModuleProxy, check_result
from aeronpy.cluster.service.errors import ClusterError
from aeronpy.cluster.service.session_header import SESSION_HEADER, SESSION_HEADER_PREFIX, pack_session_header, payload_bytes
from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.concurrent.idle_strategy import IdleStrategy

__all__ = ["Cluster", "ClusterIdleStrategy", "MAX_UDP_PAYLOAD_LENGTH"]

#: Longest message a mocked (follower) ``try_claim`` can hold, as Aeron's container.
MAX_UDP_PAYLOAD_LENGTH = 65504
_DATA_HEADER_LENGTH = 32
_pack = SESSION_HEADER.pack


class ClusterIdleStrategy:
    """The container's idle strategy plus its idle work (client invoker, liveness checks, mark
    file, background work): what services must use when they wait."""

    def __init__(self, strategy: IdleStrategy, on_idle: Callable[[], None]) -> None:
        self.strategy = strategy
        self._on_idle = on_idle

    def idle(self, work_count: int = 0) -> None:
        self.strategy.idle(work_count)
        if work_count <= 0:
            self._on_idle()

    def idle_once(self) -> None:
        self.strategy.idle_once()
        self._on_idle()

    def reset(self) -> None:
        self.strategy.reset()


class Cluster:
    """The service's view of its cluster; the container's agent keeps it up to date."""

    def __init__(self, ctx: Any, aeron: Any, proxy: ConsensusModuleProxy, idle_strategy: ClusterIdleStrategy,
                 error_handler: Callable[[BaseException], None]) -> None:
        self._ctx = ctx
        self._aeron = aeron
        self._proxy = proxy
        self._idle = idle_strategy
        self._error_handler = error_handler
        self.service_id: int = ctx.service_id
        self.member_id = -1
        self.role = Role.FOLLOWER
        self.log_position = -1
        self.time = 0
        self.time_unit: ClusterTimeUnit | None = None
        self.leadership_term_id = -1
        self._sessions: list[ClientSession] = []
        self._ids: list[int] = []
        self._by_id: dict[int, ClientSession] = {}
        self.lifecycle: str | None = None
        self._scratch: AtomicBuffer | None = None

    # -- read-only views ---------------------------------------------------------------------

    @property
    def aeron(self) -> Any:
        return self._aeron

    @property
    def context(self) -> Any:
        """The container's :class:`~aeronpy.cluster.service.ServiceContainerContext`."""
        return self._ctx

    @property
    def idle_strategy(self) -> ClusterIdleStrategy:
        return self._idle

    def get_client_session(self, cluster_session_id: int) -> ClientSession | None:
        return self._by_id.get(cluster_session_id)

    @property
    def client_sessions(self) -> tuple[ClientSession, ...]:
        """Open sessions in id order."""
        return tuple(self._sessions)

    def for_each_client_session(self, action: Callable[[ClientSession], object]) -> None:
        for session in tuple(self._sessions):
            action(session)

    def __iter__(self) -> Iterator[ClientSession]:
        return iter(tuple(self._sessions))

    # -- requests to the consensus module ----------------------------------------------------

    def _check_valid_invocation(self) -> None:
        if self.lifecycle is not None:
            raise ClusterError(f"sending messages or scheduling timers is not allowed from {self.lifecycle}")

    def close_client_session(self, cluster_session_id: int) -> bool:
        """Ask the consensus module to close a session (3 attempts); ClusterError if unknown."""
        self._check_valid_invocation()
        session = self._by_id.get(cluster_session_id)
        if session is None:
            raise ClusterError(f"unknown clusterSessionId: {cluster_session_id}")
        if session.is_closing:
            return True
        for attempt in range(3):
            if self._proxy.close_session(cluster_session_id):
                session.mark_closing()
                return True
            if attempt < 2:
                self._idle.idle()
        return False

    def schedule_timer(self, correlation_id: int, deadline: int) -> bool:
        """Schedule (or reschedule) timer ``correlation_id`` for ``deadline`` in cluster time
        units; False when back-pressured (retry with the idle strategy, or use
        :meth:`schedule_timer_reliably`)."""
        self._check_valid_invocation()
        return self._proxy.schedule_timer(correlation_id, deadline)

    def cancel_timer(self, correlation_id: int) -> bool:
        self._check_valid_invocation()
        return self._proxy.cancel_timer(correlation_id)

    def offer(self, buffer: Any, offset: int = 0, length: int = -1) -> int:
        """Send a service message into the log through the consensus module (every member's
        service must send the same ones); the offer result."""
        self._check_valid_invocation()
        payload = payload_bytes(buffer, offset, length)
        header = pack_session_header(self.leadership_term_id, self.service_id, self.time)
        return self._proxy.offer(header + payload)

    def offerv(self, buffers: list[Any]) -> int:
        return self.offer(b"".join(bytes(payload_bytes(b)) for b in buffers))

    def try_claim(self, length: int, claim: BufferClaim) -> int:
        """Claim a service message of ``length`` payload bytes; write them from
        ``claim.offset + 32`` (after the session header, already written) and commit."""
        self._check_valid_invocation()
        position = int(self._proxy.publication.try_claim(length + SESSION_HEADER_LENGTH, claim))
        if position > 0:
            claim.put_bytes(pack_session_header(self.leadership_term_id, self.service_id, self.time))
        else:
            check_result(position, "service message claim")
        return position

    def schedule_timer_reliably(self, correlation_id: int, deadline: int) -> None:
        """:meth:`schedule_timer`, retried with the idle strategy until accepted."""
        self._idle.reset()
        while not self.schedule_timer(correlation_id, deadline):
            self._idle.idle()

    def cancel_timer_reliably(self, correlation_id: int) -> None:
        self._idle.reset()
        while not self.cancel_timer(correlation_id):
            self._idle.idle()

    def offer_reliably(self, buffer: Any, offset: int = 0, length: int = -1) -> int:
        """:meth:`offer`, retried on back-pressure/admin action until accepted; the position."""
        self._idle.reset()
        while True:
            position = self.offer(buffer, offset, length)
            if position > 0:
                return position
            self._idle.idle()

    # -- egress (called by ClientSession) ----------------------------------------------------

    def offer_to_session(self, session: ClientSession, buffer: Any, offset: int, length: int) -> int:
        if self.lifecycle is not None:
            self._check_valid_invocation()
        if self.role is not Role.LEADER:
            return MOCKED_OFFER
        publication = session.response_publication
        if publication is None:
            return results.NOT_CONNECTED
        header = _pack(*SESSION_HEADER_PREFIX, self.leadership_term_id, session.id, self.time)
        if type(buffer) is bytes and offset == 0 and length < 0:
            return int(publication.offer(header + buffer))
        return int(publication.offer(header + payload_bytes(buffer, offset, length)))

    def try_claim_to_session(self, session: ClientSession, length: int, claim: BufferClaim) -> int:
        self._check_valid_invocation()
        if self.role != Role.LEADER:
            max_payload = MAX_UDP_PAYLOAD_LENGTH - _DATA_HEADER_LENGTH - SESSION_HEADER_LENGTH
            if length > max_payload:
                raise ValueError(f"claim exceeds maxPayloadLength={max_payload}, length={length}")
            size = _DATA_HEADER_LENGTH + SESSION_HEADER_LENGTH + length
            if self._scratch is None or self._scratch.capacity < size:
                self._scratch = AtomicBuffer(bytearray(max(size, 4096)))
            claim.wrap(self._scratch, _DATA_HEADER_LENGTH, SESSION_HEADER_LENGTH + length)
            return MOCKED_OFFER
        publication = session.response_publication
        if publication is None:
            return results.NOT_CONNECTED
        position = int(publication.try_claim(SESSION_HEADER_LENGTH + length, claim))
        if position > 0:
            claim.put_bytes(pack_session_header(self.leadership_term_id, session.id, self.time))
        return position

    def handle_error(self, error: BaseException) -> None:
        self._error_handler(error)

    # -- container side: the session table ---------------------------------------------------

    def add_session(self, session: ClientSession) -> None:
        i = bisect.bisect_left(self._ids, session.id)
        self._ids.insert(i, session.id)
        self._sessions.insert(i, session)
        self._by_id[session.id] = session

    def remove_session(self, cluster_session_id: int) -> ClientSession | None:
        session = self._by_id.pop(cluster_session_id, None)
        if session is not None:
            i = bisect.bisect_left(self._ids, cluster_session_id)
            del self._ids[i]
            del self._sessions[i]
        return session

    def has_session(self, cluster_session_id: int) -> bool:
        return cluster_session_id in self._by_id

    def run_lifecycle(self, name: str, callback: Callable[..., Any], *args: Any) -> Any:
        """Run a lifecycle callback with sends forbidden."""
        previous, self.lifecycle = self.lifecycle, name
        try:
            return callback(*args)
        finally:
            self.lifecycle = previous

    def __repr__(self) -> str:
        return (f"Cluster(member_id={self.member_id}, service_id={self.service_id}, role={self.role.name}, "
                f"log_position={self.log_position}, time={self.time}, sessions={len(self._sessions)})")
