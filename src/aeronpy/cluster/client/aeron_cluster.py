"""``AeronCluster``: a connected cluster client session (cluster.md §3).

Ingress messages go out with the 32-byte session header (messageHeader + SessionMessageHeader
{leadershipTermId, clusterSessionId, timestamp 0}) in front of the payload; egress is read by
:meth:`AeronCluster.poll_egress`, which must be called continuously: it also drives the
leader-change state machine of §3.5::

    CONNECTED --ingress NOT_CONNECTED/CLOSED, or egress image gone--> AWAIT_NEW_LEADER
    CONNECTED --ingress MAX_POSITION_EXCEEDED--> PENDING_CLOSE
    any open state --NewLeaderEvent--> AWAIT_NEW_LEADER_CONNECTION --first offer accepted--> CONNECTED
    AWAIT_* --deadline passed--> CLOSED;  SessionEvent CLOSED --> PENDING_CLOSE --> CLOSED

Messages offered to a leader that died may be lost: resend what was not answered after
``on_new_leader``.  Not thread safe: one thread uses a client at a time.
"""

from __future__ import annotations

import time
from enum import Enum
from types import TracebackType
from typing import Any, Protocol

from aeronpy.client import results
from aeronpy.client.results import ControlledPollAction
from aeronpy.cluster.client.context import ClusterClientContext, parse_ingress_endpoints
from aeronpy.cluster.client.egress_adapter import EgressDispatcher
from aeronpy.cluster.client.errors import ClusterClosedError, ClusterError, ClusterTimeoutError
from aeronpy.cluster.client.listener import MissingControlledEgressListener, MissingEgressListener, complete_listener
from aeronpy.cluster.codecs import (
    SESSION_HEADER_LENGTH,
    AdminRequestType,
    AdminResponseCode,
    EventCode,
    T,
)
from aeronpy.errors import RegistrationError
from aeronpy.logbuffer.fragment_assembler import ControlledFragmentAssembler, FragmentAssembler
from aeronpy.protocol import sbe
from aeronpy.protocol.control import ErrorCode

__all__ = ["AeronCluster", "ClientState", "PendingConnect", "SEND_ATTEMPTS", "FRAGMENT_LIMIT"]

SEND_ATTEMPTS = 3
FRAGMENT_LIMIT = 10


class ClientState(Enum):
    """Where a connected client is in the leader-change state machine (§3.5)."""

    CONNECTED = "CONNECTED"
    AWAIT_NEW_LEADER = "AWAIT_NEW_LEADER"
    AWAIT_NEW_LEADER_CONNECTION = "AWAIT_NEW_LEADER_CONNECTION"
    PENDING_CLOSE = "PENDING_CLOSE"
    CLOSED = "CLOSED"


class PendingConnect(Protocol):
    """What :meth:`AeronCluster.async_connect` returns (an
    :class:`~aeronpy.cluster.client.async_connect.AsyncConnect`)."""

    @property
    def step(self) -> int: ...

    def poll(self) -> AeronCluster | None: ...

    def close(self) -> None: ...


def session_header(leadership_term_id: int, cluster_session_id: int) -> bytes:
    """The 32 bytes in front of every ingress payload (timestamp left 0, as Aeron's client)."""
    return sbe.encode(
        T.SessionMessageHeader, leadership_term_id=leadership_term_id, cluster_session_id=cluster_session_id,
        timestamp=0,
    )


def add_ingress_publication(ctx: ClusterClientContext, aeron: Any, channel: str) -> int:
    """Start adding an ingress publication (exclusive unless ``is_ingress_exclusive=False``)."""
    if ctx.is_ingress_exclusive:
        return int(aeron.async_add_exclusive_publication(channel, ctx.ingress_stream_id))
    return int(aeron.async_add_publication(channel, ctx.ingress_stream_id))


def get_ingress_publication(ctx: ClusterClientContext, aeron: Any, registration_id: int) -> Any:
    """The publication once the driver has it, None while pending (RegistrationError if refused)."""
    if ctx.is_ingress_exclusive:
        return aeron.get_exclusive_publication(registration_id)
    return aeron.get_publication(registration_id)


def _payload(buffer: Any, offset: int, length: int) -> bytes:
    """``buffer[offset:offset+length]`` (length -1: to the end) of a bytes-like or AtomicBuffer."""
    t = type(buffer)
    if t is bytes or t is bytearray or t is memoryview:
        end = len(buffer) if length < 0 else offset + length
        return bytes(buffer[offset:end])
    if length < 0:
        length = buffer.capacity - offset
    return bytes(buffer.get_bytes(offset, length))


RELEASE_WAIT_NS = 1_000_000_000


def release_pending(get: Any, registration_id: int) -> None:
    """Close a resource whose registration is still pending once the driver delivers it (waits
    at most 1 s: the client has no remove-by-registration command)."""
    deadline = time.monotonic_ns() + RELEASE_WAIT_NS
    while True:
        try:
            resource = get(registration_id)
        except Exception:  # refused, unknown, or the client is closed: nothing to release
            return
        if resource is not None:
            resource.close()
            return
        if time.monotonic_ns() > deadline:
            return
        time.sleep(0.0005)


def run_invokers(aeron: Any) -> int:
    """Invoke the Aeron client's conductor when it runs in invoker mode."""
    invoker = getattr(aeron, "conductor_agent_invoker", None)
    return int(invoker.invoke()) if invoker is not None else 0


_CONNECTED = ClientState.CONNECTED


class _Egress(EgressDispatcher):
    """The session's egress decoder: messages to the listener, events into the state machine."""

    def __init__(self, cluster: AeronCluster, listener: Any, extension: Any) -> None:
        super().__init__(cluster.cluster_session_id, extension)
        self.cluster = cluster
        self.listener = listener
        self.on_message = listener.on_message  # type: ignore[method-assign]

    def on_session_event(
        self, correlation_id: int, cluster_session_id: int, leadership_term_id: int, leader_member_id: int,
        code: EventCode, detail: str,
    ) -> None:
        if code == EventCode.CLOSED:
            self.cluster._set_state(ClientState.PENDING_CLOSE, 0)
        self.listener.on_session_event(
            correlation_id, cluster_session_id, leadership_term_id, leader_member_id, code, detail
        )

    def on_new_leader(
        self, cluster_session_id: int, leadership_term_id: int, leader_member_id: int, ingress_endpoints: str,
        header: Any,
    ) -> Any:
        self.cluster._egress_image = header.context
        self.cluster.on_new_leader(cluster_session_id, leadership_term_id, leader_member_id, ingress_endpoints)
        return ControlledPollAction.COMMIT

    def on_admin_response(
        self, cluster_session_id: int, correlation_id: int, request_type: AdminRequestType,
        response_code: AdminResponseCode, message: str, payload: bytes,
    ) -> None:
        self.listener.on_admin_response(
            cluster_session_id, correlation_id, request_type, response_code, message, payload
        )


class AeronCluster:
    """A client session with a cluster; make one with :meth:`connect` or :meth:`async_connect`."""

    def __init__(
        self,
        ctx: ClusterClientContext,
        aeron: Any,
        owns_aeron: bool,
        publication: Any,
        subscription: Any,
        egress_image: Any,
        cluster_session_id: int,
        leadership_term_id: int,
        leader_member_id: int,
        new_leader_timeout_ns: int,
    ) -> None:
        self.ctx = ctx
        self.aeron = aeron
        self._owns_aeron = owns_aeron
        self._publication = publication
        self._publication_offer = publication.offer
        self._subscription = subscription
        self._egress_image = egress_image
        self._cluster_session_id = cluster_session_id
        self._leadership_term_id = leadership_term_id
        self._leader_member_id = leader_member_id
        self.new_leader_timeout_ns = new_leader_timeout_ns
        self._clock = ctx.nano_clock
        self._idle = ctx.idle_strategy
        listener = complete_listener(ctx.egress_listener) if ctx.egress_listener is not None else MissingEgressListener()
        self.egress_listener = listener
        self._egress = _Egress(self, listener, ctx.egress_listener_extension)
        self._assembler = FragmentAssembler(self._egress.dispatch)
        self._on_fragment = self._assembler.on_fragment
        controlled = ctx.controlled_egress_listener
        self.controlled_egress_listener = (
            complete_listener(controlled) if controlled is not None else MissingControlledEgressListener()
        )
        self._controlled = _Egress(self, self.controlled_egress_listener, ctx.egress_listener_extension)
        self._controlled_assembler = ControlledFragmentAssembler(self._on_controlled_fragment)
        self._header = session_header(leadership_term_id, cluster_session_id)
        self._state = ClientState.CONNECTED
        self._state_deadline = 0

    # -- connecting ------------------------------------------------------------------------

    @classmethod
    def connect(cls, ctx: ClusterClientContext) -> AeronCluster:
        """Connect (blocking, up to ``aeron.cluster.message.timeout``); raises ClusterError,
        AuthenticationError or ClusterTimeoutError."""
        from aeronpy.cluster.client.async_connect import AsyncConnect

        connect = AsyncConnect(ctx)
        idle = ctx.idle_strategy
        step = connect.step
        while True:
            cluster = connect.poll()
            if cluster is not None:
                return cluster
            if step != connect.step:
                step = connect.step
                idle.reset()
            else:
                idle.idle(0)

    @classmethod
    def async_connect(cls, ctx: ClusterClientContext) -> PendingConnect:
        """The poll-able form of :meth:`connect`: call ``poll()`` until it returns the client."""
        from aeronpy.cluster.client.async_connect import AsyncConnect

        return AsyncConnect(ctx)

    # -- properties ------------------------------------------------------------------------

    @property
    def cluster_session_id(self) -> int:
        return self._cluster_session_id

    @property
    def leadership_term_id(self) -> int:
        return self._leadership_term_id

    @property
    def leader_member_id(self) -> int:
        return self._leader_member_id

    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def is_closed(self) -> bool:
        return self._state is ClientState.CLOSED

    @property
    def ingress_publication(self) -> Any:
        return self._publication

    @property
    def egress_subscription(self) -> Any:
        return self._subscription

    @property
    def egress_image(self) -> Any:
        """The image egress of the current leader arrives on."""
        return self._egress_image

    # -- ingress ---------------------------------------------------------------------------

    def offer(self, buffer: Any, offset: int = 0, length: int = -1) -> int:
        """Offer ``buffer[offset:offset+length]`` (bytes-like or AtomicBuffer) behind the
        session header; the new ingress position or an Aeron result code (< 0)."""
        if offset == 0 and length < 0 and type(buffer) is bytes:
            result: int = self._publication_offer(self._header + buffer)
        else:
            result = self._publication_offer(self._header + _payload(buffer, offset, length))
        if result < 0 or self._state is not _CONNECTED:
            self.track_ingress_publication_result(result)
        return result

    def offerv(self, buffers: list[Any]) -> int:
        """Offer the concatenation of ``buffers`` (bytes-like) as one message."""
        return self.offer(b"".join(bytes(b) for b in buffers))

    def try_claim(self, length: int, buffer_claim: Any) -> int:
        """Claim ``length`` payload bytes; the session header is written, so write the payload
        at ``buffer_claim.offset + SESSION_HEADER_LENGTH`` then ``commit()``."""
        result = int(self._publication.try_claim(length + SESSION_HEADER_LENGTH, buffer_claim))
        self.track_ingress_publication_result(result)
        if result > 0:
            buffer_claim.put_bytes(self._header)
        return result

    def track_ingress_publication_result(self, result: int) -> None:
        """Feed an ingress offer result into the leader-change state machine."""
        if self._state is ClientState.CONNECTED:
            if result == results.NOT_CONNECTED or result == results.CLOSED:
                self._on_disconnected()
            elif result == results.MAX_POSITION_EXCEEDED:
                self._publication.close()
                self._set_state(ClientState.PENDING_CLOSE, 0)
        elif self._state is ClientState.AWAIT_NEW_LEADER_CONNECTION and result > 0:
            self._set_state(ClientState.CONNECTED, 0)

    def _send_control(self, message: bytes, what: str, raise_on_closed: bool) -> bool:
        self._idle.reset()
        for attempt in range(SEND_ATTEMPTS):
            result = int(self._publication.offer(message))
            self.track_ingress_publication_result(result)
            if result > 0:
                return True
            if result == results.CLOSED and raise_on_closed:
                raise ClusterError(f"{what}: ingress publication is closed")
            if result == results.MAX_POSITION_EXCEEDED:
                raise ClusterError(f"{what}: max position exceeded: term-length={self._term_length()}")
            if attempt + 1 < SEND_ATTEMPTS:
                self._idle.idle(0)
        return False

    def _term_length(self) -> int:
        return int(getattr(self._publication, "term_buffer_length", -1))

    def send_keep_alive(self) -> bool:
        """SessionKeepAlive (3 attempts); False if the ingress would not take it."""
        self._check_open("send_keep_alive")
        message = sbe.encode(
            T.SessionKeepAlive, leadership_term_id=self._leadership_term_id,
            cluster_session_id=self._cluster_session_id,
        )
        return self._send_control(message, "keepalive", False)

    def send_admin_request_to_take_a_snapshot(self, correlation_id: int) -> bool:
        """AdminRequest SNAPSHOT (3 attempts); the answer comes as ``on_admin_response``."""
        self._check_open("send_admin_request_to_take_a_snapshot")
        message = sbe.encode(
            T.AdminRequest, leadership_term_id=self._leadership_term_id,
            cluster_session_id=self._cluster_session_id, correlation_id=correlation_id,
            request_type=AdminRequestType.SNAPSHOT, payload=b"",
        )
        return self._send_control(message, "admin request", True)

    def _check_open(self, what: str) -> None:
        if self._state is ClientState.CLOSED:
            raise ClusterClosedError(f"{what}: the cluster client is closed")

    # -- egress ----------------------------------------------------------------------------

    def poll_egress(self) -> int:
        """Deliver egress to the listener and advance the state machine; returns work done."""
        if self._state is ClientState.CLOSED:
            return 0
        work = int(self._subscription.poll(self._on_fragment, FRAGMENT_LIMIT))
        state = self._state
        if (state is ClientState.CONNECTED or state is ClientState.AWAIT_NEW_LEADER_CONNECTION) and \
                self._egress_image is not None and self._egress_image.is_closed:
            self._on_disconnected()
            work += 1
        return work + self.poll_state_changes()

    def controlled_poll_egress(self) -> int:
        """:meth:`poll_egress` for a ``controlled_egress_listener``, whose ``on_message``
        returns a :class:`~aeronpy.client.results.ControlledPollAction` (ABORT redelivers)."""
        if self._state is ClientState.CLOSED:
            return 0
        work = int(self._subscription.controlled_poll(self._controlled_assembler.on_fragment, FRAGMENT_LIMIT))
        state = self._state
        if (state is ClientState.CONNECTED or state is ClientState.AWAIT_NEW_LEADER_CONNECTION) and \
                self._egress_image is not None and self._egress_image.is_closed:
            self._on_disconnected()
            work += 1
        return work + self.poll_state_changes()

    def _on_controlled_fragment(self, buffer: Any, offset: int, length: int, header: Any) -> Any:
        action = self._controlled.dispatch(buffer, offset, length, header)
        return ControlledPollAction.CONTINUE if action is None else action

    def poll_state_changes(self) -> int:
        """Close on PENDING_CLOSE or an expired new-leader deadline; 1 if that happened."""
        state = self._state
        if state is ClientState.PENDING_CLOSE or (
            (state is ClientState.AWAIT_NEW_LEADER or state is ClientState.AWAIT_NEW_LEADER_CONNECTION)
            and self._clock() - self._state_deadline >= 0
        ):
            self.close()
            return 1
        return 0

    def on_new_leader(
        self, cluster_session_id: int, leadership_term_id: int, leader_member_id: int, ingress_endpoints: str
    ) -> None:
        """A NewLeaderEvent for this session: reconnect ingress to the new leader."""
        if cluster_session_id != self._cluster_session_id:
            raise ClusterError(
                f"invalid clusterSessionId={cluster_session_id} expected={self._cluster_session_id}"
            )
        self._set_state(ClientState.AWAIT_NEW_LEADER_CONNECTION, self._clock() + self.ctx.message_timeout_ns)
        self._leadership_term_id = leadership_term_id
        self._leader_member_id = leader_member_id
        self._header = session_header(leadership_term_id, self._cluster_session_id)
        self._publication.close()
        if self.ctx.ingress_endpoints is None:
            channel = self.ctx.ingress_channel_for(None)
        else:
            endpoints = parse_ingress_endpoints(ingress_endpoints, "NewLeaderEvent.ingressEndpoints")
            endpoint = endpoints.get(leader_member_id)
            if endpoint is None:
                raise ClusterError(
                    f"NewLeaderEvent: leader member {leader_member_id} is not in ingressEndpoints={ingress_endpoints}"
                )
            self.ctx.ingress_endpoints = ingress_endpoints
            channel = self.ctx.ingress_channel_for(endpoint)
        self._publication = self._add_new_leader_publication(channel)
        self._publication_offer = self._publication.offer
        self._assembler.clear()
        self._controlled_assembler = ControlledFragmentAssembler(self._on_controlled_fragment)
        self.egress_listener.on_new_leader(cluster_session_id, leadership_term_id, leader_member_id, ingress_endpoints)
        self.controlled_egress_listener.on_new_leader(
            cluster_session_id, leadership_term_id, leader_member_id, ingress_endpoints
        )

    def _add_new_leader_publication(self, channel: str) -> Any:
        aeron = self.aeron
        registration_id = add_ingress_publication(self.ctx, aeron, channel)
        deadline = self._clock() + self.ctx.message_timeout_ns
        wall_deadline = time.monotonic_ns() + self.ctx.message_timeout_ns  # also bounded if the clock is manual
        while True:
            try:
                publication = get_ingress_publication(self.ctx, aeron, registration_id)
                if publication is not None:
                    return publication
            except RegistrationError as e:
                if e.error_code != ErrorCode.RESOURCE_TEMPORARILY_UNAVAILABLE:
                    raise
                registration_id = add_ingress_publication(self.ctx, aeron, channel)
            if self._clock() - deadline >= 0 or time.monotonic_ns() > wall_deadline:
                release_pending(lambda r: get_ingress_publication(self.ctx, aeron, r), registration_id)
                raise ClusterTimeoutError(
                    f"failed to add new leader ingress publication (leaderMemberId={self._leader_member_id}, "
                    f"leadershipTermId={self._leadership_term_id}, channel={channel}, "
                    f"streamId={self.ctx.ingress_stream_id}) within {self.ctx.message_timeout_ns / 1e9:g} s"
                )
            self._idle.idle(run_invokers(aeron))

    def _on_disconnected(self) -> None:
        self._publication.close()
        self._set_state(ClientState.AWAIT_NEW_LEADER, self._clock() + self.new_leader_timeout_ns)

    def _set_state(self, state: ClientState, deadline: int) -> None:
        self._state = state
        self._state_deadline = deadline

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Send SessionCloseRequest (3 attempts) if connected, release everything.  Idempotent."""
        if self._state is ClientState.CLOSED:
            return
        try:
            if self._state is ClientState.CONNECTED and self._publication.is_connected:
                message = sbe.encode(
                    T.SessionCloseRequest, leadership_term_id=self._leadership_term_id,
                    cluster_session_id=self._cluster_session_id,
                )
                self._send_control(message, "close", False)
        except Exception as e:  # closing must finish whatever the ingress does
            self._report(e)
        self._set_state(ClientState.CLOSED, 0)
        for resource in (self._subscription, self._publication):
            try:
                resource.close()
            except Exception as e:
                self._report(e)
        if self._owns_aeron:
            self.aeron.close()

    def _report(self, error: BaseException) -> None:
        if self.ctx.error_handler is not None:
            self.ctx.error_handler(error)

    def __enter__(self) -> AeronCluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"AeronCluster(cluster_session_id={self._cluster_session_id}, leadership_term_id="
            f"{self._leadership_term_id}, leader_member_id={self._leader_member_id}, state={self._state.name})"
        )
