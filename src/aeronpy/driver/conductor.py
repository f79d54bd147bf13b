"""Driver conductor: serves client commands from the to-driver ring buffer, owns resources.

Duty cycle (``do_work``): read commands, update publisher limits of every publication, and
every ``aeron.timer.interval`` run housekeeping (driver heartbeat, client liveness, publication
lifecycles, blocked command unblocking).  Responses go out on the to-clients broadcast buffer.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from aeronpy.concurrent import counters as ctr
from aeronpy.concurrent.agent import AgentBase
from aeronpy.concurrent.bit_util import int32
from aeronpy.concurrent.broadcast import BroadcastTransmitter
from aeronpy.concurrent.clock import epoch_ms, nano_time
from aeronpy.concurrent.counters import AtomicCounter, CountersManager
from aeronpy.concurrent.error_log import DistinctErrorLog
from aeronpy.concurrent.ringbuffer import ManyToOneRingBuffer
from aeronpy.driver.client_command_adapter import ClientCommandAdapter, CommandError
from aeronpy.driver.client_proxy import ClientProxy
from aeronpy.driver.context import DriverContext
from aeronpy.driver.resources import DriverResources
from aeronpy.driver.ipc_publication import (
    IpcPublication,
    PublicationState,
    SubscriberPosition,
    TetherState,
)
from aeronpy.driver.network_agents import Receiver, Sender
from aeronpy.driver.network_conductor import NetworkConductor
from aeronpy.driver import response_channels as rsp
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.errors import (
    InvalidChannelError,
)
from aeronpy.logbuffer import descriptor
from aeronpy.protocol import control as cp
from aeronpy.uri import ChannelUri, publication_params, subscription_params, validate_udp_channel

IPC_CHANNEL = "aeron:ipc"
IPC_MEDIA_PREFIX = "aeron:ipc"
SPY_PREFIX = "aeron-spy:"


@dataclass
class SubscriptionLink:
    """An IPC subscription registered by a client."""

    registration_id: int
    client_id: int
    stream_id: int
    channel: str
    session_id: int | None
    is_tether: bool
    is_rejoin: bool
    is_sparse: bool
    is_response: bool = False
    """``control-mode=response``: matches nothing until a response publication names it."""

    def matches(self, publication: IpcPublication) -> bool:
        return self.stream_id == publication.stream_id and rsp.matches_session(
            self.session_id, self.is_response, publication.session_id
        )


@dataclass
class ClientSession:
    """A client known to the driver, with the resources it holds."""

    client_id: int
    heartbeat: AtomicCounter
    publication_links: list[tuple[int, Any]] = field(default_factory=list)
    counter_links: list[tuple[int, AtomicCounter]] = field(default_factory=list)
    closed_by_command: bool = False


class DriverConductor(AgentBase):
    """The media driver's conductor agent."""

    def __init__(
        self,
        ctx: DriverContext,
        to_driver: ManyToOneRingBuffer,
        to_clients: BroadcastTransmitter,
        counters: CountersManager,
        error_log: DistinctErrorLog,
        system_counters: dict[int, AtomicCounter],
        nano_clock: Callable[[], int] = nano_time,
        epoch_clock: Callable[[], int] = epoch_ms,
        sender: Sender | None = None,
        receiver: Receiver | None = None,
    ) -> None:
        self.ctx = ctx
        self.to_driver = to_driver
        to_driver.corruption_handler = self._on_to_driver_corruption
        self.to_clients = to_clients
        self.counters = counters
        self.error_log = error_log
        self.system_counters = system_counters
        self.resources = DriverResources(
            ctx, to_driver, ClientProxy(to_clients), counters, error_log, system_counters, nano_clock, epoch_clock
        )
        self.client_proxy = self.resources.client_proxy
        self.log_storage = self.resources.log_storage
        self.nano_clock = nano_clock
        self.epoch_clock = epoch_clock
        self.clients: dict[int, ClientSession] = {}
        self.ipc_publications: list[IpcPublication] = []
        self.ipc_subscriptions: list[SubscriptionLink] = []
        self.timer_interval_ns = ctx.timer_interval_ns
        now = nano_clock()
        self.time_of_last_timer_ns = now
        self.sources_version = 0
        """Moves when a command ran or a timer added/removed clients, publications or images:
        the idle probe re-reads :func:`~aeronpy.driver.activity_sources.conductor_sources` then."""
        self.last_consumer_command_position = to_driver.consumer_position()
        self.time_of_last_to_driver_position_change_ns = now
        self.terminate_requested = False
        self.termination_hook: Callable[[], None] | None = None
        self._last_cycle_ns = 0
        self._max_cycle_counter = system_counters.get(SystemCounterId.CONDUCTOR_MAX_CYCLE_TIME)
        self._cycle_exceeded_counter = system_counters.get(
            SystemCounterId.CONDUCTOR_CYCLE_TIME_THRESHOLD_EXCEEDED
        )
        self.sender = sender if sender is not None else Sender(ctx.send_to_status_poll_ratio, ctx.status_message_timeout_ns, nano_clock)
        self.receiver = receiver if receiver is not None else Receiver(nano_clock)
        self.network = NetworkConductor(self.resources, self.sender, self.receiver)
        self.command_adapter = ClientCommandAdapter(to_driver, self, self.client_proxy, self.record_error)

    # ------------------------------------------------------------------ agent
    def role_name(self) -> str:
        return "conductor"

    def do_work(self) -> int:
        start_ns = self.nano_clock()
        work = self.command_adapter.receive()
        if work:
            self.sources_version += 1
        for publication in self.ipc_publications:
            work += publication.update_pub_pos_and_lmt()
        work += self.network.do_work(start_ns)
        if start_ns - self.time_of_last_timer_ns >= self.timer_interval_ns:
            self.time_of_last_timer_ns = start_ns
            work += self.on_timer(start_ns, self.epoch_clock())
        self._track_cycle_time(start_ns)
        return work

    def on_close(self) -> None:
        for publication in list(self.ipc_publications):
            self._delete_publication(publication)
        self.ipc_publications.clear()
        self.network.close()

    def _track_cycle_time(self, start_ns: int) -> None:
        cycle_ns = self.nano_clock() - start_ns
        if self._max_cycle_counter is not None:
            self._max_cycle_counter.propose_max(cycle_ns)
        if cycle_ns > self.ctx.conductor_cycle_threshold_ns and self._cycle_exceeded_counter:
            self._cycle_exceeded_counter.increment()

    # ------------------------------------------------------------------ timer
    def on_timer(self, now_ns: int, now_ms: int) -> int:
        """Housekeeping every ``aeron.timer.interval``; 1 when it added or removed a client,
        publication or image (Aeron counts every timer run as work; aeronpy does not, so the
        once-a-second housekeeping does not pull an idle driver back from its deep park)."""
        self.to_driver.set_consumer_heartbeat_time(now_ms)
        network = self.network
        shape = (len(self.clients), len(self.ipc_publications), len(network.publications), len(network.images))
        self._check_clients(now_ms)
        for publication in list(self.ipc_publications):
            self._check_ipc_cool_down(publication, now_ns)
            publication.on_time_event(now_ns, self)
            if publication.state is PublicationState.DONE:
                self._delete_publication(publication)
        self.network.on_timer(now_ns)
        self._check_for_blocked_commands(now_ns)
        self.to_driver.scrub()
        self.to_driver.check_trailer()
        if shape != (len(self.clients), len(self.ipc_publications), len(network.publications), len(network.images)):
            self.sources_version += 1
            return 1
        return 0  # housekeeping alone is no work: it must not reset a back-off's deep park

    def _on_to_driver_corruption(self, description: str) -> None:
        self.record_error(cp.ErrorCode.MALFORMED_COMMAND, description)

    def _check_for_blocked_commands(self, now_ns: int) -> None:
        consumer = self.to_driver.consumer_position()
        if consumer == self.last_consumer_command_position:
            if (
                self.to_driver.producer_position() > consumer
                and now_ns
                > self.time_of_last_to_driver_position_change_ns + self.ctx.client_liveness_timeout_ns
            ):
                if self.to_driver.unblock():
                    self.resources.increment(SystemCounterId.UNBLOCKED_COMMANDS)
        else:
            self.last_consumer_command_position = consumer
            self.time_of_last_to_driver_position_change_ns = now_ns

    def _check_clients(self, now_ms: int) -> None:
        timeout_ms = max(1, self.ctx.client_liveness_timeout_ns // 1_000_000)
        for client in list(self.clients.values()):
            if now_ms > client.heartbeat.get() + timeout_ms:
                self._remove_client(client)

    def _remove_client(self, client: ClientSession) -> None:
        if not client.closed_by_command:
            self.resources.increment(SystemCounterId.CLIENT_TIMEOUTS)
            self.client_proxy.on_client_timeout(client.client_id)
        self.client_proxy.on_unavailable_counter(client.client_id, client.heartbeat.id)
        for _, publication in client.publication_links:
            publication.decref()
        client.publication_links.clear()
        for registration_id, counter in client.counter_links:
            self.client_proxy.on_unavailable_counter(registration_id, counter.id)
            counter.close()
        client.counter_links.clear()
        for link in [s for s in self.ipc_subscriptions if s.client_id == client.client_id]:
            self._remove_subscription_link(link)
        self.network.remove_client_subscriptions(client.client_id)
        client.heartbeat.close()
        del self.clients[client.client_id]

    # ------------------------------------------------------------------ commands
    def record_error(self, code: int, message: str) -> None:
        """Write to the distinct error log and count it (see :class:`DriverResources`)."""
        self.resources.record_error(code, message)

    def _get_or_add_client(self, client_id: int) -> ClientSession:
        client = self.clients.get(client_id)
        if client is None:
            heartbeat = self.counters.new_counter(
                f"client-heartbeat: id={client_id}",
                ctr.CLIENT_HEARTBEAT_TYPE_ID,
                ctr.heartbeat_counter_key(client_id),
                registration_id=client_id,
                owner_id=client_id,
            )
            heartbeat.set(self.epoch_clock())
            client = ClientSession(client_id, heartbeat)
            self.clients[client_id] = client
            self.client_proxy.on_counter_ready(client_id, heartbeat.id)
        return client

    # publications ------------------------------------------------------
    def on_add_publication(self, msg: cp.PublicationMessage) -> None:
        self._add_publication(msg, False)

    def on_add_exclusive_publication(self, msg: cp.PublicationMessage) -> None:
        self._add_publication(msg, True)

    def _add_publication(self, msg: cp.PublicationMessage, is_exclusive: bool) -> None:
        uri = self._parse_channel(msg.channel)
        if uri.is_spy:
            raise InvalidChannelError(f"aeron-spy: channels are for subscriptions only: {msg.channel}")
        if not uri.is_ipc:
            validate_udp_channel(uri, is_publication=True)
            udp_params = publication_params(uri, self.ctx, is_ipc=False, is_exclusive=is_exclusive)
            client = self._get_or_add_client(msg.client_id)
            network_pub = self.network.add_publication(msg, uri, udp_params, is_exclusive)
            client.publication_links.append((msg.correlation_id, network_pub))
            self.client_proxy.on_publication_ready(
                msg.correlation_id, network_pub.registration_id, network_pub.session_id,
                network_pub.stream_id, network_pub.pub_lmt.id, network_pub.endpoint.status.id,
                network_pub.log_buffers.path, is_exclusive,
            )
            return
        params = publication_params(uri, self.ctx, is_ipc=True, is_exclusive=is_exclusive)
        client = self._get_or_add_client(msg.client_id)
        publication = None if is_exclusive else self._find_shared_ipc_publication(msg, params)
        if publication is None:
            self._check_session_clash(msg.stream_id, params.session_id)
            publication = self._create_ipc_publication(msg, params, is_exclusive)
            self._narrow_ipc_response_subscription(publication)
        publication.incref()
        client.publication_links.append((msg.correlation_id, publication))
        self.client_proxy.on_publication_ready(
            msg.correlation_id, publication.registration_id, publication.session_id,
            publication.stream_id, publication.pub_lmt.id, -1, publication.log_buffers.path,
            is_exclusive,
        )
        if publication.is_accepting_subscriptions():
            for link in self.ipc_subscriptions:
                if link.matches(publication) and not self._is_linked(link, publication):
                    self._link(link, publication)

    def _find_shared_ipc_publication(self, msg: cp.PublicationMessage, params: Any) -> IpcPublication | None:
        for pub in self.ipc_publications:
            if (
                pub.is_exclusive
                or pub.state is not PublicationState.ACTIVE
                or descriptor.is_publication_revoked(pub.metadata)
                or pub.stream_id != msg.stream_id
                or pub.params.response_correlation_id != params.response_correlation_id
            ):
                continue
            if params.session_id is not None and params.session_id != pub.session_id:
                continue
            self._check_matches_existing(pub, msg, params)
            return pub
        return None

    def _narrow_ipc_response_subscription(self, publication: IpcPublication) -> None:
        """IPC response channels: a new publication answering a request publication (its
        ``response-correlation-id``) narrows the request's response subscription to its session."""
        registration_id = rsp.ipc_response_subscription(
            publication.params.response_correlation_id,
            [rsp.IpcPublicationView(p.registration_id, p.params.response_correlation_id) for p in self.ipc_publications],
            (link.registration_id for link in self.ipc_subscriptions),
        )
        for link in self.ipc_subscriptions:
            if link.registration_id == registration_id:
                link.session_id = publication.session_id
                break

    def _check_matches_existing(self, pub: IpcPublication, msg: cp.PublicationMessage, params: Any) -> None:
        uri = ChannelUri.parse(msg.channel)
        if uri.get("mtu") is not None and params.mtu_length != pub.mtu_length:
            raise InvalidChannelError(
                f"existing publication has different mtu length: existing={pub.mtu_length} "
                f"requested={params.mtu_length}"
            )
        if uri.get("term-length") is not None and params.term_length != pub.term_length:
            raise InvalidChannelError(
                f"existing publication has different term length: existing={pub.term_length} "
                f"requested={params.term_length}"
            )
        if uri.get("init-term-id") is not None:
            raise InvalidChannelError(
                "existing publication has different position params: init-term-id/term-id/"
                "term-offset cannot be given for a shared publication that already exists"
            )
        if params.spies_simulate_connection != pub.params.spies_simulate_connection:
            raise InvalidChannelError(
                "existing publication has different spies simulate connection: "
                f"existing={pub.params.spies_simulate_connection} "
                f"requested={params.spies_simulate_connection}"
            )

    def _check_session_clash(self, stream_id: int, session_id: int | None) -> None:
        if session_id is None:
            return
        for pub in self.ipc_publications:
            if (
                pub.stream_id == stream_id
                and pub.session_id == session_id
                and pub.state is not PublicationState.DONE
            ):
                raise InvalidChannelError(
                    f"existing publication has clashing sessionId={session_id} for streamId={stream_id}"
                )

    def _allocate_session_id(self, stream_id: int) -> int:
        used = {
            p.session_id
            for p in self.ipc_publications
            if p.stream_id == stream_id and p.state is not PublicationState.DONE
        }
        return self.resources.allocate_session_id(stream_id, used)

    def _create_ipc_publication(self, msg: cp.PublicationMessage, params: Any, is_exclusive: bool) -> IpcPublication:
        ctx = self.ctx
        registration_id = msg.correlation_id
        session_id = params.session_id if params.session_id is not None else self._allocate_session_id(msg.stream_id)
        term_length = params.term_length
        if params.initial_term_id is not None:
            initial_term_id = params.initial_term_id
        else:
            initial_term_id = int32(random.getrandbits(32))
        path = os.path.join(ctx.aeron_dir, "publications", f"{registration_id}.logbuffer")
        log_buffers = self.log_storage.create(path, term_length, params.sparse, ctx.file_mode)
        window = params.publication_window_length
        window = term_length // 2 if window <= 0 else min(window, term_length // 2)
        pub_pos: AtomicCounter | None = None
        try:
            metadata = log_buffers.metadata
            descriptor.write_log_metadata(
                metadata,
                correlation_id=registration_id,
                initial_term_id=initial_term_id,
                mtu_length=params.mtu_length,
                term_length=term_length,
                page_size=ctx.file_page_size,
                session_id=session_id,
                stream_id=msg.stream_id,
                publication_window_length=window,
                max_resend=params.max_resend,
                entity_tag=params.entity_tag if params.entity_tag is not None else -1,
                response_correlation_id=params.response_correlation_id,
                linger_timeout_ns=params.linger_timeout_ns,
                untethered_window_limit_timeout_ns=params.untethered_window_limit_timeout_ns,
                untethered_linger_timeout_ns=params.untethered_linger_timeout_ns,
                untethered_resting_timeout_ns=params.untethered_resting_timeout_ns,
                is_response=params.is_response,
                sparse=params.sparse,
                signal_eos=params.signal_eos,
                spies_simulate_connection=params.spies_simulate_connection,
                log_type=descriptor.LOG_TYPE_EXCLUSIVE if is_exclusive else descriptor.LOG_TYPE_CONCURRENT,
            )
            descriptor.initialize_tail_counters(
                metadata, initial_term_id, params.term_id, params.term_offset
            )
            bits = descriptor.position_bits_to_shift(term_length)
            if params.term_id is not None:
                start_position = descriptor.compute_position(
                    params.term_id, params.term_offset, bits, initial_term_id
                )
            else:
                start_position = 0
            kind = "exclusive" if is_exclusive else "concurrent"
            pub_pos = self.resources.new_stream_counter(
                f"pub-pos ({kind})", registration_id, session_id, msg.stream_id, msg.channel,
                msg.client_id, ctr.PUBLISHER_POSITION_TYPE_ID,
            )
            pub_lmt = self.resources.new_stream_counter(
                "pub-lmt", registration_id, session_id, msg.stream_id, msg.channel,
                msg.client_id, ctr.PUBLISHER_LIMIT_TYPE_ID,
            )
        except BaseException:
            if pub_pos is not None:
                pub_pos.close()
            self.log_storage.delete(log_buffers)
            raise
        pub_pos.set(start_position)
        pub_lmt.set(start_position)
        publication = IpcPublication(
            registration_id=registration_id,
            session_id=session_id,
            stream_id=msg.stream_id,
            channel=msg.channel,
            is_exclusive=is_exclusive,
            log_buffers=log_buffers,
            pub_pos=pub_pos,
            pub_lmt=pub_lmt,
            term_window_length=window,
            unblock_timeout_ns=ctx.publication_unblock_timeout_ns,
            untethered_window_limit_timeout_ns=params.untethered_window_limit_timeout_ns,
            untethered_linger_timeout_ns=(
                params.untethered_linger_timeout_ns
                if params.untethered_linger_timeout_ns >= 0
                else params.untethered_window_limit_timeout_ns
            ),
            untethered_resting_timeout_ns=params.untethered_resting_timeout_ns,
            mtu_length=params.mtu_length,
            start_position=start_position,
            now_ns=self.nano_clock(),
            params=params,
        )
        self.ipc_publications.append(publication)
        return publication

    def _delete_publication(self, publication: IpcPublication) -> None:
        for sub in publication.subscribers:
            if sub.state is not TetherState.CLOSED:
                sub.counter.close()
        publication.subscribers.clear()
        publication.pub_lmt.close()
        publication.pub_pos.close()
        self.log_storage.delete(publication.log_buffers)
        if publication in self.ipc_publications:
            self.ipc_publications.remove(publication)

    def on_remove_publication(self, msg: cp.RemovePublicationMessage) -> None:
        client = self.clients.get(msg.client_id)
        if client is not None:
            for i, (registration_id, publication) in enumerate(client.publication_links):
                if registration_id == msg.registration_id:
                    del client.publication_links[i]
                    if msg.flags & cp.REMOVE_PUBLICATION_FLAG_REVOKE:
                        # REVOKE event then DECREF, as the C driver: only the (release-stored)
                        # metadata flag here; the publication's next timer tick in ACTIVE does
                        # the revoke (IPC and UDP alike), and DECREF leaves a revoked one ACTIVE
                        publication.revoke()
                    publication.decref()
                    self.client_proxy.on_operation_succeeded(msg.correlation_id)
                    return
        raise CommandError(
            cp.ErrorCode.UNKNOWN_PUBLICATION,
            f"unknown publication client_id={msg.client_id} registration_id={msg.registration_id}",
        )

    def on_ipc_publication_revoked(self, publication: IpcPublication) -> None:
        """Called by an IPC publication's timer tick when it performs a revoke (now LINGER):
        ON_UNAVAILABLE_IMAGE to each linked subscription (once) and system counter 40."""
        self.on_ipc_publication_unavailable(publication)
        self.resources.increment(SystemCounterId.PUBLICATIONS_REVOKED)

    # subscriptions -----------------------------------------------------
    def on_add_subscription(self, msg: cp.SubscriptionMessage) -> None:
        uri = self._parse_channel(msg.channel)
        if uri.is_spy or not uri.is_ipc:
            validate_udp_channel(uri.without_prefix() if uri.is_spy else uri, is_publication=False)
            self._get_or_add_client(msg.client_id)
            self.network.add_subscription(msg, uri)
            return
        params = subscription_params(uri, self.ctx)
        self._get_or_add_client(msg.client_id)
        link = SubscriptionLink(
            registration_id=msg.correlation_id,
            client_id=msg.client_id,
            stream_id=msg.stream_id,
            channel=msg.channel,
            session_id=params.session_id,
            is_tether=params.tether,
            is_rejoin=params.rejoin,
            is_sparse=params.sparse,
            is_response=params.is_response,
        )
        self.ipc_subscriptions.append(link)
        self.client_proxy.on_subscription_ready(msg.correlation_id, -1)
        for publication in self.ipc_publications:
            if link.matches(publication) and publication.is_accepting_subscriptions():
                self._link(link, publication)

    def _is_linked(self, link: SubscriptionLink, publication: IpcPublication) -> bool:
        return any(s.subscription_registration_id == link.registration_id for s in publication.subscribers)

    def _link(self, link: SubscriptionLink, publication: IpcPublication) -> None:
        join_position = publication.join_position()
        counter = self.resources.new_stream_counter(
            "sub-pos", link.registration_id, publication.session_id, publication.stream_id, link.channel,
            link.client_id, ctr.SUBSCRIBER_POSITION_TYPE_ID, f" @{join_position}",
            reference_id=publication.registration_id,
        )
        counter.set(join_position)
        sub = SubscriberPosition(
            subscription_registration_id=link.registration_id,
            counter=counter,
            is_tether=link.is_tether,
            is_rejoin=link.is_rejoin,
            time_of_last_update_ns=self.nano_clock(),
        )
        publication.add_subscriber(sub)
        self.on_available_image_for(publication, sub)

    def on_available_image_for(self, publication: IpcPublication, sub: SubscriberPosition) -> None:
        """Tell clients a subscription can read ``publication`` (IPC image)."""
        self.client_proxy.on_available_image(
            publication.registration_id, publication.session_id, publication.stream_id,
            sub.subscription_registration_id, sub.counter_id, publication.log_buffers.path, IPC_CHANNEL,
        )

    def on_unavailable_image_for(self, publication: IpcPublication, subscription_registration_id: int) -> None:
        self.client_proxy.on_unavailable_image(
            publication.registration_id, subscription_registration_id, publication.stream_id, IPC_CHANNEL
        )

    def on_ipc_publication_unavailable(self, publication: IpcPublication) -> None:
        for link in self.ipc_subscriptions:
            if self._is_linked(link, publication):
                self.on_unavailable_image_for(publication, link.registration_id)

    def on_publication_unblocked(self, publication: Any) -> None:
        self.resources.on_publication_unblocked(publication)

    def free_counter(self, counter: AtomicCounter) -> None:
        self.resources.free_counter(counter)

    def on_remove_subscription(self, msg: cp.RemoveMessage) -> None:
        # every link of the registration id goes: an MDS subscription's IPC/spy destinations too
        found = False
        for link in [s for s in self.ipc_subscriptions if s.registration_id == msg.registration_id and s.client_id == msg.client_id]:
            self._remove_subscription_link(link)
            found = True
        if self.network.remove_subscription(msg.registration_id, msg.client_id) or found:
            self.client_proxy.on_operation_succeeded(msg.correlation_id)
            return
        raise CommandError(
            cp.ErrorCode.UNKNOWN_SUBSCRIPTION,
            f"unknown subscription client_id={msg.client_id} registration_id={msg.registration_id}",
        )

    def _remove_subscription_link(self, link: SubscriptionLink) -> None:
        self.ipc_subscriptions.remove(link)
        for publication in self.ipc_publications:
            sub = publication.remove_subscriber(link.registration_id)
            if sub is not None and sub.state is not TetherState.CLOSED:
                sub.counter.close()

    # counters ----------------------------------------------------------
    def on_add_counter(self, msg: cp.CounterMessage) -> None:
        client = self._get_or_add_client(msg.client_id)
        counter = self.counters.new_counter(
            msg.label, msg.type_id, msg.key, registration_id=msg.correlation_id, owner_id=msg.client_id
        )
        client.counter_links.append((msg.correlation_id, counter))
        self.client_proxy.on_counter_ready(msg.correlation_id, counter.id)

    def on_remove_counter(self, msg: cp.RemoveMessage) -> None:
        client = self.clients.get(msg.client_id)
        if client is not None:
            for i, (registration_id, counter) in enumerate(client.counter_links):
                if registration_id == msg.registration_id:
                    del client.counter_links[i]
                    self.client_proxy.on_operation_succeeded(msg.correlation_id)
                    self.client_proxy.on_unavailable_counter(registration_id, counter.id)
                    counter.close()
                    return
        raise CommandError(
            cp.ErrorCode.UNKNOWN_COUNTER,
            f"unknown counter client_id={msg.client_id} registration_id={msg.registration_id}",
        )

    def on_add_static_counter(self, msg: cp.StaticCounterMessage) -> None:
        self._get_or_add_client(msg.client_id)
        counter_id = self.counters.find_by_type_id_and_registration_id(msg.type_id, msg.registration_id)
        if counter_id != ctr.NULL_COUNTER_ID:
            if self.counters.get_counter_owner_id(counter_id) != -1:
                raise CommandError(
                    cp.ErrorCode.GENERIC_ERROR,
                    f"cannot add static counter, because a non-static counter exists "
                    f"(counterId={counter_id}) for typeId={msg.type_id} and "
                    f"registrationId={msg.registration_id}",
                )
        else:
            counter_id = self.counters.allocate(
                msg.label, msg.type_id, msg.key, registration_id=msg.registration_id, owner_id=-1
            )
        self.client_proxy.on_static_counter(msg.correlation_id, counter_id)

    # clients -----------------------------------------------------------
    def on_client_keepalive(self, msg: cp.CorrelatedMessage) -> None:
        client = self.clients.get(msg.client_id)
        if client is not None:
            client.heartbeat.set(self.epoch_clock())

    def on_client_close(self, msg: cp.CorrelatedMessage) -> None:
        client = self.clients.get(msg.client_id)
        if client is not None:
            client.closed_by_command = True
            client.heartbeat.set(0)

    def on_terminate_driver(self, msg: cp.TerminateDriverMessage) -> None:
        if self.ctx.driver_termination_validator == "allow":
            self.terminate_requested = True
            if self.termination_hook is not None:
                self.termination_hook()

    def on_next_available_session_id(self, msg: cp.GetNextAvailableSessionIdMessage) -> None:
        publications: list[Any] = [*self.ipc_publications, *self.network.publications]
        used = {
            p.session_id
            for p in publications
            if p.stream_id == msg.stream_id and p.state.name in ("ACTIVE", "DRAINING")
        }
        session_id = self.resources.allocate_session_id(msg.stream_id, used)
        self.client_proxy.on_next_available_session_id(msg.correlation_id, session_id)

    def on_add_send_destination(self, msg: cp.DestinationMessage) -> None:
        self._get_or_add_client(msg.client_id)
        self.network.add_send_destination(msg)
        self.client_proxy.on_operation_succeeded(msg.correlation_id)

    def on_remove_send_destination(self, msg: cp.DestinationMessage) -> None:
        self._get_or_add_client(msg.client_id)
        self.network.remove_send_destination(msg)
        self.client_proxy.on_operation_succeeded(msg.correlation_id)

    def on_add_receive_destination(self, msg: cp.DestinationMessage) -> None:
        self._get_or_add_client(msg.client_id)
        if msg.channel.startswith(IPC_MEDIA_PREFIX):
            self._add_receive_ipc_destination(msg)
        elif msg.channel.startswith(SPY_PREFIX):
            self.network.add_receive_spy_destination(msg)
        else:
            self.network.add_receive_destination(msg)
            self.client_proxy.on_operation_succeeded(msg.correlation_id)

    def on_remove_receive_destination(self, msg: cp.DestinationMessage) -> None:
        self._get_or_add_client(msg.client_id)
        if msg.channel.startswith(IPC_MEDIA_PREFIX):
            self._remove_receive_ipc_destination(msg)
        elif msg.channel.startswith(SPY_PREFIX):
            self.network.remove_receive_spy_destination(msg)
        else:
            self.network.remove_receive_destination(msg)
            self.client_proxy.on_operation_succeeded(msg.correlation_id)

    def _add_receive_ipc_destination(self, msg: cp.DestinationMessage) -> None:
        """MDS: an ``aeron:ipc`` destination is one more IPC subscription link under the MDS
        subscription's registration id and stream: its client gets the IPC images too."""
        params = subscription_params(self._parse_channel(msg.channel), self.ctx)
        mds = self.network.find_mds_subscription(msg.client_id, msg.registration_id)
        link = SubscriptionLink(
            registration_id=mds.registration_id,
            client_id=msg.client_id,
            stream_id=mds.stream_id,
            channel=msg.channel,
            session_id=params.session_id,
            is_tether=params.tether,
            is_rejoin=params.rejoin,
            is_sparse=params.sparse,
        )
        self.ipc_subscriptions.append(link)
        self.client_proxy.on_operation_succeeded(msg.correlation_id)
        for publication in self.ipc_publications:
            if link.matches(publication) and publication.is_accepting_subscriptions() and not self._is_linked(link, publication):
                self._link(link, publication)

    def _remove_receive_ipc_destination(self, msg: cp.DestinationMessage) -> None:
        """Undo :meth:`_add_receive_ipc_destination` (same registration id and channel text):
        ON_UNAVAILABLE_IMAGE for each IPC image it linked, then unlink."""
        link = next(
            (s for s in self.ipc_subscriptions if s.registration_id == msg.registration_id and s.channel == msg.channel),
            None,
        )
        if link is None:
            raise CommandError(
                cp.ErrorCode.UNKNOWN_SUBSCRIPTION,
                f"unknown subscription client_id={msg.client_id} registration_id={msg.registration_id}",
            )
        self.client_proxy.on_operation_succeeded(msg.correlation_id)
        for publication in self.ipc_publications:
            if self._is_linked(link, publication):
                self.on_unavailable_image_for(publication, link.registration_id)
        self._remove_subscription_link(link)

    def on_remove_send_destination_by_id(self, msg: cp.DestinationByIdMessage) -> None:
        self._get_or_add_client(msg.client_id)
        self.network.remove_send_destination_by_id(msg.resource_registration_id, msg.destination_registration_id)
        self.client_proxy.on_operation_succeeded(msg.correlation_id)

    def on_reject_image(self, msg: cp.RejectImageMessage) -> None:
        self._get_or_add_client(msg.client_id)
        reason = msg.reason.encode()
        if len(reason) > cp.MAX_REJECT_REASON_LENGTH:
            raise CommandError(cp.ErrorCode.GENERIC_ERROR, "Invalidation reason_text must be 1023 bytes or less")
        image = self.network.find_image(msg.image_correlation_id)
        if image is not None:
            self.network.reject_image(image, reason)
        else:
            publication = next((p for p in self.ipc_publications if p.registration_id == msg.image_correlation_id), None)
            if publication is None:
                raise CommandError(
                    cp.ErrorCode.GENERIC_ERROR, f"Unable to resolve image for correlationId={msg.image_correlation_id}"
                )
            self._reject_ipc_publication(publication, reason)
        self.resources.increment(SystemCounterId.IMAGES_REJECTED)
        self.client_proxy.on_operation_succeeded(msg.correlation_id)

    def _reject_ipc_publication(self, publication: IpcPublication, reason: bytes) -> None:
        self.client_proxy.on_publication_error(
            publication.registration_id, -1, publication.session_id, publication.stream_id, -1, -1,
            ("127.0.0.1", 0), cp.ErrorCode.IMAGE_REJECTED, reason,
        )
        if not publication.in_cool_down:
            descriptor.set_is_connected(publication.metadata, False)
            for sub in list(publication.subscribers):
                self.on_unavailable_image_for(publication, sub.subscription_registration_id)
                if sub.state is not TetherState.CLOSED:
                    sub.counter.close()
            publication.subscribers.clear()
            publication.in_cool_down = True
        publication.cool_down_expire_time_ns = self.nano_clock() + self.ctx.image_liveness_timeout_ns

    def _check_ipc_cool_down(self, publication: IpcPublication, now_ns: int) -> None:
        if publication.in_cool_down and publication.cool_down_expire_time_ns < now_ns:
            publication.in_cool_down = False
            publication.cool_down_expire_time_ns = 0
            for link in self.ipc_subscriptions:
                if link.matches(publication) and publication.is_accepting_subscriptions() and not self._is_linked(link, publication):
                    self._link(link, publication)

    def _parse_channel(self, channel: str) -> ChannelUri:
        return ChannelUri.parse(channel)
