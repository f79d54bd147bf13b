"""``AsyncConnect``: the poll-able connect handshake of a cluster client (cluster.md §3.1).

Steps (Aeron's numbers): CREATE_EGRESS_SUBSCRIPTION (-1) -> CREATE_INGRESS_PUBLICATIONS (0) ->
AWAIT_PUBLICATION_CONNECTED (1: the egress channel's port is resolved; with ingress endpoints one
publication per member, the first connected one wins) -> SEND_MESSAGE (2: SessionConnectRequest,
or a ChallengeResponse) -> POLL_RESPONSE (3: SessionEvent OK / ERROR / REDIRECT /
AUTHENTICATION_REJECTED, or a Challenge) -> CONCLUDE_CONNECT (4) -> DONE (5).  The whole
handshake must finish within ``aeron.cluster.message.timeout``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from aeronpy.client import results
from aeronpy.cluster.client.aeron_cluster import (
    FRAGMENT_LIMIT,
    AeronCluster,
    add_ingress_publication,
    get_ingress_publication,
    release_pending,
    run_invokers,
)
from aeronpy.cluster.client.context import (
    DEFAULT_LEADER_HEARTBEAT_TIMEOUT_NS,
    PROTOCOL_SEMANTIC_VERSION,
    ClusterClientContext,
    parse_ingress_endpoints,
)
from aeronpy.cluster.client.egress_poller import EgressPoller
from aeronpy.cluster.client.errors import AuthenticationError, ClusterError, ClusterTimeoutError
from aeronpy.cluster.codecs import NULL_VALUE, EventCode, T
from aeronpy.errors import RegistrationError
from aeronpy.protocol import sbe
from aeronpy.protocol.control import ErrorCode
from aeronpy.uri import ChannelUri
from aeronpy.version import __version__

__all__ = ["AsyncConnect", "ConnectState", "MemberIngress", "try_resolve_channel_endpoint_port"]


class ConnectState(IntEnum):
    """The handshake's steps, valued as Aeron's ``AsyncConnect.State.step``."""

    CREATE_EGRESS_SUBSCRIPTION = -1
    CREATE_INGRESS_PUBLICATIONS = 0
    AWAIT_PUBLICATION_CONNECTED = 1
    SEND_MESSAGE = 2
    POLL_RESPONSE = 3
    CONCLUDE_CONNECT = 4
    DONE = 5


def try_resolve_channel_endpoint_port(aeron: Any, subscription: Any) -> str | None:
    """The subscription's channel with an ``endpoint=host:0`` port filled in from the bound
    socket, or None while the driver has not bound it yet."""
    from aeronpy.archive.channels import resolve_channel_endpoint_port

    uri = ChannelUri.parse(subscription.channel)
    endpoint = uri.get("endpoint")
    if endpoint is None or not endpoint.endswith(":0"):
        return str(uri)
    resolved = resolve_channel_endpoint_port(aeron.counters_reader, subscription)
    endpoint = ChannelUri.parse(resolved).get("endpoint") or ""
    return None if endpoint.endswith(":0") else resolved


class MemberIngress:
    """One member's ingress publication while connecting (added lazily, closed unless chosen)."""

    def __init__(self, ctx: ClusterClientContext, aeron: Any, member_id: int, endpoint: str) -> None:
        self.ctx = ctx
        self.aeron = aeron
        self.member_id = member_id
        self.endpoint = endpoint
        self.registration_id = NULL_VALUE
        self.publication: Any = None
        self.publication_error: RegistrationError | None = None

    def async_add_publication(self) -> None:
        self.registration_id = add_ingress_publication(self.ctx, self.aeron, self.ctx.ingress_channel_for(self.endpoint))
        self.publication = None

    def async_get_publication(self) -> None:
        try:
            self.publication = get_ingress_publication(self.ctx, self.aeron, self.registration_id)
            if self.publication is not None:
                self.registration_id = NULL_VALUE
        except RegistrationError as e:
            if e.error_code != ErrorCode.RESOURCE_TEMPORARILY_UNAVAILABLE:
                self.publication_error = e
            self.registration_id = NULL_VALUE

    def close(self) -> None:
        if self.publication is not None:
            self.publication.close()
        elif self.registration_id != NULL_VALUE:
            release_pending(lambda r: get_ingress_publication(self.ctx, self.aeron, r), self.registration_id)
        self.registration_id = NULL_VALUE
        self.publication = None

    def __repr__(self) -> str:
        return f"MemberIngress(member_id={self.member_id}, endpoint={self.endpoint!r}, publication={self.publication})"


class AsyncConnect:
    """Connect without blocking: call :meth:`poll` until it returns the :class:`AeronCluster`.

    ``poll`` raises :class:`ClusterError` (ERROR event, lost ingress), :class:`AuthenticationError`
    or :class:`ClusterTimeoutError`; it releases everything it made before raising.  Call
    :meth:`close` to abandon a connect still in progress."""

    def __init__(self, ctx: ClusterClientContext) -> None:
        ctx.validate()
        self.ctx = ctx
        self._clock = ctx.nano_clock
        self.deadline_ns = self._clock() + ctx.message_timeout_ns
        self.state = ConnectState.CREATE_EGRESS_SUBSCRIPTION
        endpoints = parse_ingress_endpoints(ctx.ingress_endpoints)
        self._owns_aeron = ctx.aeron is None
        if self._owns_aeron:
            from aeronpy.client.aeron import Aeron
            from aeronpy.client.context import Context

            self.aeron: Any = Aeron.connect(Context(aeron_dir=ctx.aeron_dir, client_name=ctx.aeron_client_name))
        else:
            self.aeron = ctx.aeron
        self._members = {
            member_id: MemberIngress(ctx, self.aeron, member_id, endpoint) for member_id, endpoint in endpoints.items()
        }
        self._egress_registration = NULL_VALUE
        self._ingress_registration = NULL_VALUE
        self.egress_subscription: Any = None
        self.ingress_publication: Any = None
        self._poller: EgressPoller | None = None
        self._message = b""
        self.correlation_id = NULL_VALUE
        self.cluster_session_id = NULL_VALUE
        self.leadership_term_id = NULL_VALUE
        self.leader_member_id = NULL_VALUE
        self._leader_heartbeat_timeout_ns = NULL_VALUE
        self._egress_image: Any = None
        self._closed = False
        self._note = ""

    @property
    def step(self) -> int:
        """The current step number (-1 .. 5)."""
        return int(self.state)

    def poll(self) -> AeronCluster | None:
        """One step of the handshake; the connected client once done, else None."""
        if self._closed:
            raise ClusterError("AsyncConnect is closed")
        try:
            self._check_deadline()
            run_invokers(self.aeron)
            state = self.state
            if state is ConnectState.CREATE_EGRESS_SUBSCRIPTION:
                self._create_egress_subscription()
            elif state is ConnectState.CREATE_INGRESS_PUBLICATIONS:
                self._create_ingress_publications()
            elif state is ConnectState.AWAIT_PUBLICATION_CONNECTED:
                self._await_publication_connected()
            elif state is ConnectState.SEND_MESSAGE:
                self._send_message()
            elif state is ConnectState.POLL_RESPONSE:
                self._poll_response()
            elif state is ConnectState.CONCLUDE_CONNECT:
                return self._conclude_connect()
            return None
        except BaseException:
            self.close()
            raise

    # -- steps -----------------------------------------------------------------------------

    def _check_deadline(self) -> None:
        if self._clock() - self.deadline_ns < 0:
            return
        ctx = self.ctx
        sub = self.egress_subscription
        connected = sub is not None and bool(sub.is_connected)
        response = try_resolve_channel_endpoint_port(self.aeron, sub) if sub is not None else "<unknown>"
        errors = [m.publication_error for m in self._members.values() if m.publication_error is not None]
        detail = "" if not errors else f" publication errors: {'; '.join(str(e) for e in errors)}"
        raise ClusterTimeoutError(
            f"cluster connect timeout: state={self.state.name} messageTimeout={ctx.message_timeout_ns / 1e9:g}s "
            f"ingressChannel={ctx.ingress_channel} ingressEndpoints={ctx.ingress_endpoints} "
            f"ingressPublication={self.ingress_publication} egress.isConnected={connected} "
            f"responseChannel={response}{detail}{self._note}"
        )

    def _create_egress_subscription(self) -> None:
        ctx = self.ctx
        if self._egress_registration == NULL_VALUE:
            self._egress_registration = int(self.aeron.async_add_subscription(
                ctx.resolved_egress_channel, ctx.egress_stream_id
            ))
        try:
            self.egress_subscription = self.aeron.get_subscription(self._egress_registration)
        except RegistrationError as e:
            self._egress_registration = NULL_VALUE
            if e.error_code != ErrorCode.RESOURCE_TEMPORARILY_UNAVAILABLE:
                raise
        if self.egress_subscription is not None:
            self._poller = EgressPoller(self.egress_subscription, FRAGMENT_LIMIT)
            self._egress_registration = NULL_VALUE
            self.state = ConnectState.CREATE_INGRESS_PUBLICATIONS

    def _create_ingress_publications(self) -> None:
        ctx = self.ctx
        if ctx.ingress_endpoints is None:
            if self.ingress_publication is None:
                if self._ingress_registration == NULL_VALUE:
                    self._ingress_registration = add_ingress_publication(ctx, self.aeron, ctx.ingress_channel_for(None))
                try:
                    self.ingress_publication = get_ingress_publication(ctx, self.aeron, self._ingress_registration)
                except RegistrationError as e:
                    self._ingress_registration = NULL_VALUE
                    if e.error_code != ErrorCode.RESOURCE_TEMPORARILY_UNAVAILABLE:
                        raise
            if self.ingress_publication is not None:
                self._ingress_registration = NULL_VALUE
                self.state = ConnectState.AWAIT_PUBLICATION_CONNECTED
        else:
            self.state = ConnectState.AWAIT_PUBLICATION_CONNECTED

    def _await_publication_connected(self) -> None:
        response_channel = try_resolve_channel_endpoint_port(self.aeron, self.egress_subscription)
        if response_channel is None:
            return
        if self.ingress_publication is None:
            for member in self._members.values():
                if member.publication is None and member.publication_error is None:
                    if member.registration_id == NULL_VALUE:
                        member.async_add_publication()
                    member.async_get_publication()
                if member.publication is not None and member.publication.is_connected:
                    self.ingress_publication = member.publication
                    self._prepare_connect_request(response_channel)
                    return
            if self._members and all(m.publication_error is not None for m in self._members.values()):
                raise ClusterError(
                    "no ingress publication could be added: "
                    + "; ".join(f"member {m.member_id} ({m.endpoint}): {m.publication_error}" for m in self._members.values())
                )
        elif self.ingress_publication.is_connected:
            self._prepare_connect_request(response_channel)

    def _prepare_connect_request(self, response_channel: str) -> None:
        ctx = self.ctx
        self.correlation_id = int(self.aeron.next_correlation_id())
        self._message = sbe.encode(
            T.SessionConnectRequest, correlation_id=self.correlation_id, response_stream_id=ctx.egress_stream_id,
            version=PROTOCOL_SEMANTIC_VERSION, response_channel=response_channel,
            encoded_credentials=bytes(ctx.credentials_supplier.encoded_credentials()),
            client_info=f"name={ctx.client_name} version={__version__} commit=aeronpy",
        )
        self.state = ConnectState.SEND_MESSAGE

    def _prepare_challenge_response(self, encoded_credentials: bytes) -> None:
        self.correlation_id = int(self.aeron.next_correlation_id())
        self._message = sbe.encode(
            T.ChallengeResponse, correlation_id=self.correlation_id, cluster_session_id=self.cluster_session_id,
            encoded_credentials=bytes(encoded_credentials),
        )
        self.state = ConnectState.SEND_MESSAGE

    def _send_message(self) -> None:
        result = int(self.ingress_publication.offer(self._message))
        if result > 0:
            self.state = ConnectState.POLL_RESPONSE
        elif result in (results.CLOSED, results.NOT_CONNECTED):
            raise ClusterError(f"unexpected loss of connection to cluster (ingress offer {results.result_name(result)})")

    def _poll_response(self) -> None:
        poller = self._poller
        assert poller is not None
        if poller.poll() <= 0 or not poller.is_poll_complete or poller.correlation_id != self.correlation_id:
            return
        if poller.is_challenged:
            self.correlation_id = NULL_VALUE
            self.cluster_session_id = poller.cluster_session_id
            challenge = poller.encoded_challenge or b""
            self._prepare_challenge_response(self.ctx.credentials_supplier.on_challenge(challenge))
            return
        code = poller.event_code
        if code is EventCode.OK:
            self.leadership_term_id = poller.leadership_term_id
            self.leader_member_id = poller.leader_member_id
            self.cluster_session_id = poller.cluster_session_id
            self._leader_heartbeat_timeout_ns = poller.leader_heartbeat_timeout_ns
            self._egress_image = poller.egress_image
            self.state = ConnectState.CONCLUDE_CONNECT
        elif code is EventCode.ERROR:
            raise ClusterError(poller.detail)
        elif code is EventCode.REDIRECT:
            self._update_members(poller.leader_member_id, poller.detail)
        elif code is EventCode.AUTHENTICATION_REJECTED:
            raise AuthenticationError(poller.detail)

    def _update_members(self, leader_member_id: int, ingress_endpoints: str) -> None:
        """REDIRECT: keep (or add) only a publication to the leader the follower named."""
        self.leader_member_id = leader_member_id
        new_members = {
            member_id: MemberIngress(self.ctx, self.aeron, member_id, endpoint)
            for member_id, endpoint in parse_ingress_endpoints(ingress_endpoints, "REDIRECT detail").items()
        }
        new_leader = new_members.get(leader_member_id)
        if new_leader is None:
            # The follower knows no leader (an election is on): wait out this attempt's deadline.
            for member in self._members.values():
                member.close()
            if self.ingress_publication is not None:
                self.ingress_publication.close()
            self.ingress_publication = None
            self._members = {}
            self._note = f" (REDIRECT named leader {leader_member_id}, not in {ingress_endpoints!r})"
            self.state = ConnectState.AWAIT_PUBLICATION_CONNECTED
            return
        old_leader = self._members.pop(leader_member_id, None)
        if self.ingress_publication is not None and (old_leader is None or self.ingress_publication is not old_leader.publication):
            self.ingress_publication.close()
        self.ingress_publication = None
        for member in self._members.values():
            member.close()
        if old_leader is not None and old_leader.publication_error is None and old_leader.endpoint == new_leader.endpoint:
            new_leader.publication = old_leader.publication
            new_leader.registration_id = old_leader.registration_id
            self.ingress_publication = old_leader.publication
        else:
            if old_leader is not None:
                old_leader.close()
            new_leader.async_add_publication()
        # Only the leader is tried from here on (Aeron races every member again, and a
        # follower that wins answers with another REDIRECT).
        self._members = {leader_member_id: new_leader}
        self.state = ConnectState.AWAIT_PUBLICATION_CONNECTED

    def _conclude_connect(self) -> AeronCluster:
        ctx = self.ctx
        timeout = ctx.new_leader_timeout_ns
        if timeout == NULL_VALUE:
            heartbeat = self._leader_heartbeat_timeout_ns
            timeout = 2 * (heartbeat if heartbeat != NULL_VALUE else DEFAULT_LEADER_HEARTBEAT_TIMEOUT_NS)
        cluster = AeronCluster(
            ctx, self.aeron, self._owns_aeron, self.ingress_publication, self.egress_subscription,
            self._egress_image, self.cluster_session_id, self.leadership_term_id, self.leader_member_id, timeout,
        )
        for member in self._members.values():
            if member.publication is not self.ingress_publication:
                member.close()
        self._members = {}
        self.ingress_publication = None
        self.egress_subscription = None
        self.state = ConnectState.DONE
        return cluster

    def close(self) -> None:
        """Abandon the connect: release what it made (nothing once DONE).  Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.state is ConnectState.DONE:
            return
        for member in self._members.values():
            if member.publication is not self.ingress_publication:
                member.close()
        if self.ingress_publication is not None:
            self.ingress_publication.close()
        if self.egress_subscription is not None:
            self.egress_subscription.close()
        if self._owns_aeron:
            self.aeron.close()
            return
        if self.ingress_publication is None and self._ingress_registration != NULL_VALUE:
            release_pending(lambda r: get_ingress_publication(self.ctx, self.aeron, r), self._ingress_registration)
        if self.egress_subscription is None and self._egress_registration != NULL_VALUE:
            release_pending(self.aeron.get_subscription, self._egress_registration)

    def __repr__(self) -> str:
        return f"AsyncConnect(state={self.state.name}, deadline_ns={self.deadline_ns})"
