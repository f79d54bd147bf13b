"""The conductor's UDP half: send/receive endpoints, network publications, images, spies.

Owned and run by :class:`aeronpy.driver.conductor.DriverConductor` on the conductor thread; what
it shares with the IPC part (counters, error log, log storage, client proxy, clocks, ids) comes
in as :class:`~aeronpy.driver.resources.DriverResources`.
Sender and receiver state changes go through their command queues; the receiver asks for new
images through this object's queue.
"""

from __future__ import annotations

import os
import random
from functools import partial
from dataclasses import dataclass
from typing import Any

from aeronpy.concurrent import counters as ctr
from aeronpy.concurrent.bit_util import int32
from aeronpy.concurrent.counters import AtomicCounter
from aeronpy.driver import destination_tracker
from aeronpy.driver.agent_proxies import DriverConductorProxy, ReceiverProxy, SenderProxy
from aeronpy.driver.resources import DriverResources
from aeronpy.driver.client_command_adapter import CommandError
from aeronpy.driver import congestion_control as cc
from aeronpy.driver.destination_tracker import DestinationTracker
from aeronpy.driver.endpoints import ReceiveChannelEndpoint, ReceiveDestination, SendChannelEndpoint
from aeronpy.driver.feedback_delay import OptimalMulticastDelayGenerator, StaticDelayGenerator
from aeronpy.driver.flow_control import MinMulticastFlowControl, flow_control_from_channel
from aeronpy.driver.tether import SubscriberPosition, TetherState, UntetheredTimeouts
from aeronpy.driver.loss_detector import LossDetector
from aeronpy.driver.media.timestamps import ReceiveTimestamps, describe_offset, receive_offsets, send_offset
from aeronpy.driver.media.udp_channel import UdpChannel, default_resolver, resolve_host_and_port
from aeronpy.driver.name_resolver import DriverNameResolver, TimeTrackingResolver, is_enabled, open_driver_name_resolver
from aeronpy.driver.network_agents import CommandQueue, Receiver, Sender
from aeronpy.driver.network_publication import NetworkPublication, NetworkPublicationState
from aeronpy.driver.publication_image import ImageState, PublicationImage
from aeronpy.driver import response_channels as rsp
from aeronpy.driver.retransmit_handler import RetransmitHandler
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.errors import InvalidChannelError
from aeronpy.logbuffer import descriptor
from aeronpy.protocol import control as cp
from aeronpy.uri import (
    CHANNEL_RCV_TS_OFFSET,
    CHANNEL_SND_TS_OFFSET,
    CONTROL,
    ENDPOINT,
    MEDIA_RCV_TS_OFFSET,
    ChannelUri,
    parse_endpoint,
    subscription_params,
    validate_udp_channel,
)



def _format_address(address: Any) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


@dataclass
class NetworkSubscriptionLink:
    """A UDP (or spy) subscription registered by a client."""

    registration_id: int
    client_id: int
    stream_id: int
    channel: str
    session_id: int | None
    endpoint: ReceiveChannelEndpoint | None
    params: Any
    is_spy: bool = False
    spy_canonical_form: str = ""
    spy_channel_tag: int | None = None
    is_response: bool = False
    """``control-mode=response``: matches no session until an RSP_SETUP narrows it."""

    def matches_session(self, endpoint: ReceiveChannelEndpoint, stream_id: int, session_id: int) -> bool:
        return (
            not self.is_spy
            and self.endpoint is endpoint
            and self.stream_id == stream_id
            and rsp.matches_session(self.session_id, self.is_response, session_id)
        )

    def matches_image(self, image: PublicationImage) -> bool:
        return self.matches_session(image.endpoint, image.stream_id, image.session_id)

    def matches_publication(self, publication: NetworkPublication) -> bool:
        return (
            self.is_spy
            and (
                publication.endpoint.channel.canonical_form == self.spy_canonical_form
                or (self.spy_channel_tag is not None and publication.endpoint.channel.channel_tag == self.spy_channel_tag)
            )
            and publication.stream_id == self.stream_id
            and (self.session_id is None or self.session_id == publication.session_id)
        )


class NetworkConductor:
    """UDP resources of the driver (conductor thread)."""

    def __init__(self, resources: DriverResources, sender: Sender, receiver: Receiver) -> None:
        self.resources = resources
        self.ctx = resources.ctx
        self.sender = sender
        self.receiver = receiver
        self.queue = CommandQueue()
        self.sender_proxy = SenderProxy(sender)
        self.receiver_proxy = ReceiverProxy(receiver)
        self.conductor_proxy = DriverConductorProxy(self, self.queue)
        sender.conductor_proxy = self.conductor_proxy
        receiver.conductor_proxy = self.conductor_proxy
        self.send_endpoints: dict[str, SendChannelEndpoint] = {}
        self.receive_endpoints: dict[str, ReceiveChannelEndpoint] = {}
        self.publications: list[NetworkPublication] = []
        self.subscriptions: list[NetworkSubscriptionLink] = []
        self.images: list[PublicationImage] = []
        self._removed: set[int] = set()
        self.next_receiver_id = random.getrandbits(63) | 1
        self._unique = 0
        self.loss_reporter: Any = None
        sender.error_handler = self.report_network_error
        receiver.error_handler = self.report_network_error
        self.interceptor: Any = resources.ctx.loss_interceptor()
        sender.reresolution_check_interval_ns = receiver.reresolution_check_interval_ns = (
            self.ctx.reresolution_check_interval_ns
        )
        # Host names: the driver name resolver (when enabled) first, then the delegate (DNS),
        # every call timed for system counters 32/33.
        delegate = self.ctx.name_resolver if self.ctx.name_resolver is not None else default_resolver
        self.name_resolver: DriverNameResolver | None = None
        if is_enabled(self.ctx):
            self.name_resolver = open_driver_name_resolver(
                self.ctx, resources.counters, resources.system_counters, resources.epoch_clock(), delegate,
                self._report_resolver_error,
            )
        counters = resources.system_counters
        self.resolve = TimeTrackingResolver(
            self.name_resolver.resolve if self.name_resolver is not None else delegate,
            resources.nano_clock,
            counters.get(SystemCounterId.NAME_RESOLVER_MAX_TIME),
            counters.get(SystemCounterId.NAME_RESOLVER_TIME_THRESHOLD_EXCEEDED),
            self.ctx.name_resolver_threshold_ns,
        )

    def _report_resolver_error(self, ex: BaseException) -> None:
        self.resources.record_error(cp.ErrorCode.GENERIC_ERROR, f"name resolver: {ex}")

    def report_network_error(self, ex: BaseException) -> None:
        """Sender/receiver threads: a socket error goes to the distinct error log (thread-safe)."""
        self.resources.record_error(cp.ErrorCode.GENERIC_ERROR, f"{type(ex).__name__}: {ex}")

    # ------------------------------------------------------------------ duty cycle
    def do_work(self, now_ns: int) -> int:
        work = self.queue.drain()
        if self.name_resolver is not None:
            work += self.name_resolver.do_work(self.resources.epoch_clock())
        for publication in self.publications:
            work += publication.update_pub_pos_and_lmt()
        for image in self.images:
            work += image.track_rebuild(now_ns)
        return work

    def on_timer(self, now_ns: int) -> None:
        for publication in list(self.publications):
            before = publication.state
            if publication.spies:
                publication.check_untethered_spies(
                    now_ns,
                    partial(self._spy_unavailable, publication),
                    partial(self._spy_available, publication),
                    self.resources.free_counter,
                )
            publication.on_time_event(
                now_ns,
                partial(self.resources.on_publication_unblocked, publication),
                partial(self._cleanup_spies, publication),
            )
            if publication.state is NetworkPublicationState.LINGER and before is not NetworkPublicationState.LINGER:
                self._cleanup_spies(publication)  # as C: unavailable, unlinked, sub-pos freed at LINGER
            if publication.state is NetworkPublicationState.DONE and id(publication) not in self._removed:
                self._removed.add(id(publication))
                self.sender_proxy.remove_publication(publication)
        for image in list(self.images):
            before_state = image.state
            image.check_untethered_subscriptions(
                now_ns,
                partial(self._image_unavailable_for, image),
                partial(self._image_available_for, image),
                self.resources.free_counter,
            )
            image.on_time_event(now_ns)
            if image.state is ImageState.LINGER and before_state is not ImageState.LINGER:
                self._image_unavailable(image)
                self._image_to_linger(image)
            if image.state is ImageState.DONE and id(image) not in self._removed:
                self._removed.add(id(image))
                self.receiver_proxy.release_image(image)

    def close(self) -> None:
        for publication in list(self.publications):
            self._free_publication(publication)
        for image in list(self.images):
            self._free_image(image)
        for send_endpoint in list(self.send_endpoints.values()):
            send_endpoint.close()
        for receive_endpoint in list(self.receive_endpoints.values()):
            receive_endpoint.close()
        self.send_endpoints.clear()
        self.receive_endpoints.clear()
        if self.name_resolver is not None:
            self.name_resolver.close()

    # ------------------------------------------------------------------ helpers
    def _new_counter(self, label: str, type_id: int, key: bytes, registration_id: int, owner_id: int, reference_id: int = 0) -> AtomicCounter:
        return self.resources.new_counter(label[: ctr.MAX_LABEL_LENGTH], type_id, key, registration_id, owner_id, reference_id)

    def _parse(self, uri: ChannelUri) -> UdpChannel:
        return UdpChannel.parse(uri, resolve=self.resolve, default_multicast_ttl=self.ctx.socket_multicast_ttl)

    def _canonical(self, udp: UdpChannel) -> str:
        form = str(udp.canonical_form)
        return form

    # ------------------------------------------------------------------ send endpoints
    def _get_or_create_send_endpoint(self, udp: UdpChannel, channel: str, registration_id: int) -> SendChannelEndpoint:
        key = self._canonical(udp)
        endpoint = self.send_endpoints.get(key)
        if endpoint is not None:
            _check_timestamp_offset(CHANNEL_SND_TS_OFFSET, send_offset(endpoint.channel.uri), send_offset(udp.uri), endpoint.channel, udp)
            return endpoint
        ctx = self.ctx
        transport = ctx.transport_factory.open_send(
            udp, connect=ctx.driver_connect, so_rcvbuf=ctx.socket_rcvbuf, so_sndbuf=ctx.socket_sndbuf,
            multicast_ttl=ctx.socket_multicast_ttl,
        )
        local = _format_address(transport.local_address)
        status = self._new_counter(
            f"snd-channel: {channel} {local}", ctr.SEND_CHANNEL_STATUS_TYPE_ID,
            ctr.channel_counter_key(channel), registration_id, 0,
        )
        tracker = None
        if udp.is_multidestination:
            num_dest = self._new_counter(
                f"{ctr.MDC_DESTINATIONS_NAME}: {channel}", ctr.MDC_DESTINATIONS_TYPE_ID,
                ctr.channel_counter_key(channel), registration_id, 0,
            )
            tracker = DestinationTracker(
                udp.is_manual_control_mode, destination_tracker.DESTINATION_TIMEOUT_NS, num_dest
            )
        endpoint = SendChannelEndpoint(udp, transport, udp.remote_data, status, self.resources.system_counters, tracker)
        endpoint.error_handler = self.report_network_error
        snd_ts_offset = send_offset(udp.uri)
        if snd_ts_offset is not None:
            endpoint.enable_send_timestamps(snd_ts_offset, ctx.epoch_ns_clock)
        endpoint.local_sockaddr = self._new_counter(  # type: ignore[attr-defined]
            f"snd-local-sockaddr: {status.id} {local}", ctr.LOCAL_SOCKADDR_TYPE_ID,
            _sockaddr_key(status.id, local), registration_id, 0,
        )
        endpoint.local_sockaddr.set(1)  # type: ignore[attr-defined]
        self.send_endpoints[key] = endpoint
        self.sender_proxy.add_endpoint(endpoint)
        return endpoint

    def _release_send_endpoint(self, endpoint: SendChannelEndpoint) -> None:
        endpoint.refcnt -= 1
        if endpoint.refcnt > 0:
            return
        for key, value in list(self.send_endpoints.items()):
            if value is endpoint:
                del self.send_endpoints[key]
        self.sender_proxy.remove_endpoint(endpoint)

    def on_endpoint_removed(self, endpoint: Any) -> None:
        """The sender or receiver let go of ``endpoint``: close its sockets and counters."""
        endpoint.close()
        if endpoint.status is not None:
            endpoint.status.close()
        sockaddr = getattr(endpoint, "local_sockaddr", None)
        if sockaddr is not None:
            sockaddr.close()
        tracker = getattr(endpoint, "tracker", None)
        if tracker is not None and isinstance(tracker.counter, AtomicCounter):
            tracker.counter.close()
        for destination in getattr(endpoint, "conductor_destinations", ()):
            if destination.local_sockaddr is not None:
                destination.local_sockaddr.close()
            destination.transport.close()

    # ------------------------------------------------------------------ publications
    def add_publication(self, msg: cp.PublicationMessage, uri: ChannelUri, params: Any, is_exclusive: bool) -> NetworkPublication:
        udp = self._parse(uri)
        is_response = udp.is_response_control_mode
        rsp.check_response_subscription(
            is_response, params.response_correlation_id, (s.registration_id for s in self.subscriptions)
        )
        existing_endpoint = self.send_endpoints.get(self._canonical(udp))
        if existing_endpoint is not None and not is_exclusive:
            shared = self._find_shared_publication(existing_endpoint, msg, params)
            if shared is not None:
                image = rsp.find_response_image(self.images, is_response, params.response_correlation_id)
                shared.incref()
                if image is not None and not shared.has_receivers:  # connected already: nothing to announce
                    image.link_response_publication(shared.session_id)
                return shared
        # as Aeron, a response publication finds its image before any endpoint is made for it
        image = rsp.find_response_image(self.images, is_response, params.response_correlation_id)
        params.term_length = rsp.response_term_length(is_response, params.response_correlation_id, params.term_length)
        endpoint = self._get_or_create_send_endpoint(udp, msg.channel, msg.correlation_id)
        try:
            publication = self._create_publication(msg, udp, endpoint, params, is_exclusive)
        except BaseException:
            if endpoint.refcnt == 0 and not any(p.endpoint is endpoint for p in self.publications):
                endpoint.refcnt = 1
                self._release_send_endpoint(endpoint)
            raise
        endpoint.refcnt += 1
        publication.incref()
        if image is not None:
            image.link_response_publication(publication.session_id)
        return publication

    def _find_shared_publication(self, endpoint: SendChannelEndpoint, msg: cp.PublicationMessage, params: Any) -> NetworkPublication | None:
        """An ACTIVE concurrent publication on ``endpoint`` and stream a new one joins (same
        ``response-correlation-id``, and ``session-id`` if given); mtu and term length must match."""
        for pub in self.publications:
            if (
                pub.endpoint is endpoint and pub.stream_id == msg.stream_id and not pub.is_exclusive
                and pub.state is NetworkPublicationState.ACTIVE and not descriptor.is_publication_revoked(pub.metadata)
                and (params.session_id is None or params.session_id == pub.session_id)
                and pub.response_correlation_id == params.response_correlation_id
            ):
                if params.has_mtu_length and params.mtu_length != pub.mtu_length:
                    raise InvalidChannelError(f"existing publication has different mtu length: existing={pub.mtu_length} requested={params.mtu_length}")
                if params.has_term_length and params.term_length != pub.term_length:
                    raise InvalidChannelError(f"existing publication has different term length: existing={pub.term_length} requested={params.term_length}")
                return pub
        return None

    def _session_id_for(self, endpoint: SendChannelEndpoint, stream_id: int, requested: int | None) -> int:
        used = {p.session_id for p in self.publications if p.endpoint is endpoint and p.stream_id == stream_id and p.state is not NetworkPublicationState.DONE}
        if requested is not None:
            if requested in used:
                raise InvalidChannelError(f"existing publication has clashing sessionId={requested} for streamId={stream_id}")
            return requested
        return self.resources.allocate_session_id(stream_id, used)

    def _create_publication(self, msg: cp.PublicationMessage, udp: UdpChannel, endpoint: SendChannelEndpoint, params: Any, is_exclusive: bool) -> NetworkPublication:
        ctx = self.ctx
        registration_id = msg.correlation_id
        session_id = self._session_id_for(endpoint, msg.stream_id, params.session_id)
        term_length = params.term_length
        initial_term_id = params.initial_term_id if params.initial_term_id is not None else int32(random.getrandbits(32))
        mtu = params.mtu_length
        path = os.path.join(ctx.aeron_dir, "publications", f"{registration_id}.logbuffer")
        log_buffers = self.resources.log_storage.create(path, term_length, params.sparse, ctx.file_mode)
        window = params.publication_window_length
        window = term_length // 2 if window <= 0 else min(window, term_length // 2)
        is_group = udp.has_group_semantics
        flow_control = flow_control_from_channel(
            params.flow_control, is_group, ctx.flow_control_receiver_timeout_ns, ctx.flow_control_group_tag,
            ctx.flow_control_group_min_size,
        )
        counters: dict[str, AtomicCounter] = {}
        try:
            descriptor.write_log_metadata(
                log_buffers.metadata,
                correlation_id=registration_id, initial_term_id=initial_term_id, mtu_length=mtu,
                term_length=term_length, page_size=ctx.file_page_size, session_id=session_id,
                stream_id=msg.stream_id, publication_window_length=window, max_resend=params.max_resend,
                entity_tag=params.entity_tag if params.entity_tag is not None else -1,
                response_correlation_id=params.response_correlation_id, linger_timeout_ns=params.linger_timeout_ns,
                untethered_window_limit_timeout_ns=params.untethered_window_limit_timeout_ns,
                untethered_linger_timeout_ns=params.untethered_linger_timeout_ns,
                untethered_resting_timeout_ns=params.untethered_resting_timeout_ns,
                group=is_group, sparse=params.sparse, signal_eos=params.signal_eos,
                spies_simulate_connection=params.spies_simulate_connection,
                log_type=descriptor.LOG_TYPE_EXCLUSIVE if is_exclusive else descriptor.LOG_TYPE_CONCURRENT,
            )
            descriptor.initialize_tail_counters(log_buffers.metadata, initial_term_id, params.term_id, params.term_offset)
            bits = descriptor.position_bits_to_shift(term_length)
            start = descriptor.compute_position(params.term_id, params.term_offset, bits, initial_term_id) if params.term_id is not None else 0
            owner = msg.client_id
            ch = msg.channel
            kind = "exclusive" if is_exclusive else "concurrent"
            if isinstance(flow_control, MinMulticastFlowControl):  # allocated first, as Aeron
                counters["fc-receivers"] = self.resources.new_stream_counter(
                    "fc-receivers", registration_id, session_id, msg.stream_id, ch, -1, ctr.FLOW_CONTROL_RECEIVERS_TYPE_ID
                )
            counters |= {
                "pub-pos": self.resources.new_stream_counter(f"pub-pos ({kind})", registration_id, session_id, msg.stream_id, ch, owner, ctr.PUBLISHER_POSITION_TYPE_ID),
                "pub-lmt": self.resources.new_stream_counter("pub-lmt", registration_id, session_id, msg.stream_id, ch, owner, ctr.PUBLISHER_LIMIT_TYPE_ID),
                "snd-pos": self.resources.new_stream_counter("snd-pos", registration_id, session_id, msg.stream_id, ch, owner, ctr.SENDER_POSITION_TYPE_ID),
                "snd-lmt": self.resources.new_stream_counter("snd-lmt", registration_id, session_id, msg.stream_id, ch, owner, ctr.SENDER_LIMIT_TYPE_ID),
                "snd-bpe": self.resources.new_stream_counter("snd-bpe", registration_id, session_id, msg.stream_id, ch, owner, ctr.SENDER_BPE_TYPE_ID),
                "snd-naks-received": self.resources.new_stream_counter("snd-naks-received", registration_id, session_id, msg.stream_id, ch, owner, ctr.SENDER_NAKS_RECEIVED_TYPE_ID),
            }
        except BaseException:
            for counter in counters.values():
                counter.close()
            self.resources.log_storage.delete(log_buffers)
            raise
        for name in ("pub-pos", "pub-lmt", "snd-pos", "snd-lmt"):
            counters[name].set(start)
        retransmit = RetransmitHandler(
            ctx.retransmit_unicast_delay_ns, ctx.retransmit_unicast_linger_ns, params.max_resend, has_group_semantics=is_group
        )
        now_ns = self.resources.nano_clock()
        publication = NetworkPublication(
            registration_id=registration_id, session_id=session_id, stream_id=msg.stream_id, channel=msg.channel,
            is_exclusive=is_exclusive, log_buffers=log_buffers, endpoint=endpoint, counters=counters,
            flow_control=flow_control, retransmit_handler=retransmit, system_counters=self.resources.system_counters,
            term_window_length=window, mtu_length=mtu, linger_timeout_ns=params.linger_timeout_ns,
            connection_timeout_ns=ctx.publication_connection_timeout_ns, unblock_timeout_ns=ctx.publication_unblock_timeout_ns,
            max_messages_per_send=ctx.network_publication_max_messages_per_send, is_group=is_group,
            ttl=udp.multicast_ttl if udp.is_multicast else 0, signal_eos=params.signal_eos,
            spies_simulate_connection=params.spies_simulate_connection, params=params, start_position=start, now_ns=now_ns,
        )
        publication.on_publication_error = self.conductor_proxy.on_publication_error
        publication.on_response_setup_frame = self.conductor_proxy.on_response_setup
        if publication.is_response:
            publication.on_response_connected = self.conductor_proxy.on_response_connected
        self.publications.append(publication)
        self.sender_proxy.add_publication(publication)
        for link in self.subscriptions:
            if link.matches_publication(publication) and not any(
                spy.subscription_registration_id == link.registration_id for spy in publication.spies
            ):  # an MDS subscription's spy destinations share its registration id: one image each
                self._link_spy(link, publication)
        return publication

    def _free_publication(self, publication: NetworkPublication) -> None:
        if publication.is_response:  # a response publication gone unconnected: stop announcing it
            self.on_response_connected(publication.response_correlation_id, publication.session_id)
        for spy in publication.spies:
            if spy.state is not TetherState.CLOSED:
                spy.counter.close()
        publication.spies.clear()
        for counter in publication.counters.values():
            counter.close()
        self.resources.log_storage.delete(publication.log_buffers)
        if publication in self.publications:
            self.publications.remove(publication)

    def on_publication_removed(self, publication: NetworkPublication) -> None:
        self._removed.discard(id(publication))
        self._free_publication(publication)
        self._release_send_endpoint(publication.endpoint)

    # ------------------------------------------------------------------ subscriptions
    def add_subscription(self, msg: cp.SubscriptionMessage, uri: ChannelUri) -> int:
        """Register a UDP or spy subscription; returns the channel status counter id (or -1)."""
        params = subscription_params(uri, self.ctx)
        if uri.is_spy:
            udp = self._parse(uri.without_prefix())
            link = NetworkSubscriptionLink(
                msg.correlation_id, msg.client_id, msg.stream_id, msg.channel, params.session_id, None, params,
                is_spy=True, spy_canonical_form=str(udp.canonical_form), spy_channel_tag=udp.channel_tag,
            )
            self.subscriptions.append(link)
            self.resources.client_proxy.on_subscription_ready(msg.correlation_id, -1)
            for publication in self.publications:
                if link.matches_publication(publication) and publication.state is NetworkPublicationState.ACTIVE:
                    self._link_spy(link, publication)
            return -1
        udp = self._parse(uri)
        is_response = udp.is_response_control_mode
        self._check_response_mode_clash(udp, msg, params.session_id, is_response)
        endpoint = self._get_or_create_receive_endpoint(udp, msg.channel, msg.correlation_id)
        endpoint.refcnt += 1
        link = NetworkSubscriptionLink(
            msg.correlation_id, msg.client_id, msg.stream_id, msg.channel, params.session_id, endpoint, params,
            is_response=is_response,
        )
        self.subscriptions.append(link)
        if not link.is_response or link.session_id is not None:  # a waiting response one asks for nothing yet
            self.receiver_proxy.add_subscription(endpoint, msg.stream_id, params.session_id)
        assert endpoint.status is not None
        self.resources.client_proxy.on_subscription_ready(msg.correlation_id, endpoint.status.id)
        for image in self.images:
            if link.matches_image(image) and image.state is ImageState.ACTIVE:
                self._link_image(link, image, image.current_join_position())
        return int(endpoint.status.id)

    def _check_response_mode_clash(self, udp: UdpChannel, msg: cp.SubscriptionMessage, session_id: int | None, is_response: bool) -> None:
        """Subscriptions of one endpoint, stream and session must agree on response mode."""
        endpoint = self.receive_endpoints.get(self._canonical(udp))
        if endpoint is None:
            return
        for link in self.subscriptions:
            if (
                not link.is_spy and link.endpoint is endpoint and link.stream_id == msg.stream_id
                and link.session_id == session_id and link.is_response != is_response
            ):
                raise InvalidChannelError(
                    f"option conflicts with existing subscription: isResponse={'true' if is_response else 'false'} "
                    f"existingChannel={link.channel} channel={msg.channel}"
                )

    def remove_subscription(self, registration_id: int, client_id: int) -> bool:
        """Remove every link of ``registration_id`` (an MDS subscription's spy destinations too)."""
        links = [s for s in self.subscriptions if s.registration_id == registration_id and s.client_id == client_id]
        for link in links:
            self._remove_link(link)
        return bool(links)

    def remove_client_subscriptions(self, client_id: int) -> None:
        for link in [s for s in self.subscriptions if s.client_id == client_id]:
            self._remove_link(link)

    def _remove_link(self, link: NetworkSubscriptionLink) -> None:
        self.subscriptions.remove(link)
        if link.is_spy:
            for publication in self.publications:
                for i, spy in enumerate(publication.spies):
                    if spy.subscription_registration_id == link.registration_id:
                        del publication.spies[i]
                        if spy.state is not TetherState.CLOSED:
                            spy.counter.close()
                        publication.update_connected()
                        break
            return
        for image in self.images:
            sub = _remove_subscriber(image.subscribers, link.registration_id)
            if sub is not None and sub.state is not TetherState.CLOSED:
                sub.counter.close()
        endpoint = link.endpoint
        assert endpoint is not None
        if not link.is_response or link.session_id is not None:  # a waiting response one has no interest
            self.receiver_proxy.remove_subscription(endpoint, link.stream_id, link.session_id)
        self._release_receive_endpoint(endpoint)

    def _get_or_create_receive_endpoint(self, udp: UdpChannel, channel: str, registration_id: int) -> ReceiveChannelEndpoint:
        key = self._canonical(udp)
        endpoint = self.receive_endpoints.get(key)
        if endpoint is not None:
            existing, requested = receive_offsets(endpoint.channel.uri), receive_offsets(udp.uri)
            _check_timestamp_offset(MEDIA_RCV_TS_OFFSET, existing[0], requested[0], endpoint.channel, udp)
            _check_timestamp_offset(CHANNEL_RCV_TS_OFFSET, existing[1], requested[1], endpoint.channel, udp)
            return endpoint
        receiver_id = self.next_receiver_id
        self.next_receiver_id += 1
        if udp.is_manual_control_mode:  # MDS: transports come with ADD_RCV_DESTINATION
            status = self._new_counter(
                f"rcv-channel: {channel}", ctr.RECEIVE_CHANNEL_STATUS_TYPE_ID,
                ctr.channel_counter_key(channel), registration_id, 0,
            )
            endpoint = ReceiveChannelEndpoint(udp, None, None, status, self.resources.system_counters, receiver_id, self.conductor_proxy.on_setup)
            endpoint.timestamps = self._receive_timestamps(udp)
            endpoint.interceptor = self.interceptor
            endpoint.error_handler = self.report_network_error
            self.receive_endpoints[key] = endpoint
            self.receiver_proxy.add_endpoint(endpoint)
            return endpoint
        transport = self._open_receive_transport(udp)
        local = _format_address(transport.local_address)
        status = self._new_counter(
            f"rcv-channel: {channel} {local}", ctr.RECEIVE_CHANNEL_STATUS_TYPE_ID,
            ctr.channel_counter_key(channel), registration_id, 0,
        )
        endpoint = ReceiveChannelEndpoint(udp, transport, _receive_control_address(udp), status, self.resources.system_counters, receiver_id, self.conductor_proxy.on_setup)
        endpoint.timestamps = self._receive_timestamps(udp)
        self._enable_media_timestamps(endpoint, transport)
        endpoint.interceptor = self.interceptor
        endpoint.error_handler = self.report_network_error
        endpoint.local_sockaddr = self._new_counter(  # type: ignore[attr-defined]
            f"rcv-local-sockaddr: {status.id} {local}", ctr.LOCAL_SOCKADDR_TYPE_ID,
            _sockaddr_key(status.id, local), registration_id, 0,
        )
        endpoint.local_sockaddr.set(1)  # type: ignore[attr-defined]
        self.receive_endpoints[key] = endpoint
        self.receiver_proxy.add_endpoint(endpoint)
        return endpoint

    def _receive_timestamps(self, udp: UdpChannel) -> ReceiveTimestamps | None:
        media, channel = receive_offsets(udp.uri)
        if media is None and channel is None:
            return None
        return ReceiveTimestamps(media, channel, self.ctx.epoch_ns_clock)

    def _enable_media_timestamps(self, endpoint: ReceiveChannelEndpoint, transport: Any) -> None:
        """``media-rcv-ts-offset``: kernel receive times on ``transport``; where it cannot give
        them, a warning in the error log and no media timestamps (as C)."""
        if endpoint.timestamps is None or not endpoint.timestamps.wants_media:
            return
        enable = getattr(transport, "enable_media_rcv_timestamps", None)
        try:
            if enable is None:
                raise OSError("the transport gives no kernel receive timestamps")
            enable()
        except OSError as ex:
            self.resources.record_error(
                cp.ErrorCode.GENERIC_ERROR, f"WARNING: unable to setup media timestamping: {ex}: {endpoint.channel.original_uri}"
            )

    def _open_receive_transport(self, udp: UdpChannel) -> Any:
        ctx = self.ctx
        return ctx.transport_factory.open_receive(
            udp, so_rcvbuf=ctx.socket_rcvbuf, so_sndbuf=ctx.socket_sndbuf, multicast_ttl=ctx.socket_multicast_ttl
        )

    # ------------------------------------------------------------------ MDC send destinations
    def _manual_send_endpoint(self, publication_registration_id: int) -> SendChannelEndpoint:

        publication = next((p for p in self.publications if p.registration_id == publication_registration_id), None)
        if publication is None:
            raise CommandError(cp.ErrorCode.UNKNOWN_PUBLICATION, f"unknown publication registration_id={publication_registration_id}")
        endpoint: SendChannelEndpoint = publication.endpoint
        if endpoint.tracker is None or not endpoint.tracker.is_manual_control_mode:
            raise CommandError(
                cp.ErrorCode.GENERIC_ERROR,
                f"channel does not allow manual control of destinations: publication_registration_id={publication_registration_id}",
            )
        return endpoint

    def _send_destination_address(self, channel: str) -> Any:
        """Validate a send destination URI as the C driver does; returns its resolved address."""

        if channel.startswith("aeron-spy:"):
            raise InvalidChannelError(f"Aeron spies are invalid as send destinations: {channel}")
        uri = ChannelUri.parse(channel)
        endpoint_text = uri.get(ENDPOINT)
        if not uri.is_udp or uri.is_spy or endpoint_text is None:
            raise CommandError(cp.ErrorCode.GENERIC_ERROR, f"incorrect URI format for destination: {channel}")
        if parse_endpoint(endpoint_text, ENDPOINT)[1] == 0:
            raise CommandError(cp.ErrorCode.GENERIC_ERROR, f"endpoint has port=0 for send destination: channel={channel}")
        validate_udp_channel(uri, is_publication=True, is_destination=True)
        udp = UdpChannel.parse(
            uri, is_destination=True, resolve=self.resolve, default_multicast_ttl=self.ctx.socket_multicast_ttl
        )
        return udp.remote_data

    def add_send_destination(self, msg: cp.DestinationMessage) -> None:
        endpoint = self._manual_send_endpoint(msg.registration_id)
        address = self._send_destination_address(msg.channel)
        assert endpoint.tracker is not None
        self.sender_proxy.add_destination(endpoint, address, msg.correlation_id, msg.channel)

    def remove_send_destination(self, msg: cp.DestinationMessage) -> None:
        endpoint = self._manual_send_endpoint(msg.registration_id)
        address = self._send_destination_address(msg.channel)
        assert endpoint.tracker is not None
        self.sender_proxy.remove_destination(endpoint, address)

    def remove_send_destination_by_id(self, publication_registration_id: int, destination_registration_id: int) -> None:
        endpoint = self._manual_send_endpoint(publication_registration_id)
        assert endpoint.tracker is not None
        self.sender_proxy.remove_destination_by_id(endpoint, destination_registration_id)

    # ------------------------------------------------------------------ MDS receive destinations
    def find_mds_subscription(self, client_id: int, registration_id: int) -> NetworkSubscriptionLink:
        """The UDP subscription ``registration_id``, which must be an MDS one (``control-mode=manual``)."""
        link = next((s for s in self.subscriptions if s.registration_id == registration_id and not s.is_spy), None)
        if link is None:
            raise CommandError(
                cp.ErrorCode.UNKNOWN_SUBSCRIPTION,
                f"unknown subscription client_id={client_id} registration_id={registration_id}",
            )
        if link.endpoint is None or not link.endpoint.channel.is_manual_control_mode:
            raise InvalidChannelError("channel does not allow manual control")
        return link

    def _mds_endpoint(self, msg: cp.DestinationMessage) -> ReceiveChannelEndpoint:
        endpoint = self.find_mds_subscription(msg.client_id, msg.registration_id).endpoint
        assert endpoint is not None
        return endpoint

    def add_receive_spy_destination(self, msg: cp.DestinationMessage) -> None:
        """MDS: an ``aeron-spy:`` destination is a spy link under the MDS subscription's
        registration id and stream: its client gets images of the matching local network
        publications too (after the operation succeeded, as C)."""
        uri = ChannelUri.parse(msg.channel)
        inner = uri.without_prefix()
        validate_udp_channel(inner, is_publication=False)
        params = subscription_params(uri, self.ctx)
        udp = self._parse(inner)
        mds = self.find_mds_subscription(msg.client_id, msg.registration_id)
        link = NetworkSubscriptionLink(
            mds.registration_id, msg.client_id, mds.stream_id, msg.channel, params.session_id, None, params,
            is_spy=True, spy_canonical_form=str(udp.canonical_form), spy_channel_tag=udp.channel_tag,
        )
        self.subscriptions.append(link)
        self.resources.client_proxy.on_operation_succeeded(msg.correlation_id)
        for publication in self.publications:
            if (
                link.matches_publication(publication) and publication.state is NetworkPublicationState.ACTIVE
                and not any(spy.subscription_registration_id == link.registration_id for spy in publication.spies)
            ):
                self._link_spy(link, publication)

    def remove_receive_spy_destination(self, msg: cp.DestinationMessage) -> None:
        """Undo :meth:`add_receive_spy_destination` (same registration id and channel text):
        ON_UNAVAILABLE_IMAGE for each publication it spied on, then unlink."""
        link = next(
            (s for s in self.subscriptions if s.is_spy and s.registration_id == msg.registration_id and s.channel == msg.channel),
            None,
        )
        if link is None:
            raise CommandError(
                cp.ErrorCode.UNKNOWN_SUBSCRIPTION,
                f"unknown subscription client_id={msg.client_id} registration_id={msg.registration_id}",
            )
        self.resources.client_proxy.on_operation_succeeded(msg.correlation_id)
        for publication in self.publications:
            for spy in publication.spies:
                if spy.subscription_registration_id == link.registration_id and spy.is_active:
                    self._spy_unavailable(publication, spy)
        self._remove_link(link)

    def _receive_destination_channel(self, channel: str) -> UdpChannel:
        uri = ChannelUri.parse(channel)
        validate_udp_channel(uri, is_publication=False, is_destination=True)
        return UdpChannel.parse(
            uri, is_destination=True, resolve=self.resolve, default_multicast_ttl=self.ctx.socket_multicast_ttl
        )

    def add_receive_destination(self, msg: cp.DestinationMessage) -> None:
        endpoint = self._mds_endpoint(msg)
        udp = self._receive_destination_channel(msg.channel)
        for existing in endpoint.conductor_destinations:
            if existing.channel.canonical_form == udp.canonical_form:
                raise InvalidChannelError(f"destination already added: {msg.channel}")
        transport = self._open_receive_transport(udp)
        try:
            local = _format_address(transport.local_address)
            assert endpoint.status is not None
            sockaddr = self._new_counter(
                f"rcv-local-sockaddr: {endpoint.status.id} {local}", ctr.LOCAL_SOCKADDR_TYPE_ID,
                _sockaddr_key(endpoint.status.id, local), msg.registration_id, 0,
            )
        except BaseException:
            transport.close()
            raise
        sockaddr.set(1)
        self._enable_media_timestamps(endpoint, transport)
        destination = ReceiveDestination(
            udp, transport, _receive_control_address(udp),
            has_explicit_control=bool(udp.has_explicit_control and not udp.is_multicast), local_sockaddr=sockaddr,
        )
        endpoint.conductor_destinations.append(destination)
        self.receiver_proxy.add_destination(endpoint, destination)

    def remove_receive_destination(self, msg: cp.DestinationMessage) -> None:

        endpoint = self._mds_endpoint(msg)
        udp = self._receive_destination_channel(msg.channel)
        destination = next(
            (d for d in endpoint.conductor_destinations if d.channel.canonical_form == udp.canonical_form), None
        )
        if destination is None:
            raise CommandError(cp.ErrorCode.GENERIC_ERROR, f"unknown receive destination: {msg.channel}")
        endpoint.conductor_destinations.remove(destination)
        self.receiver_proxy.remove_destination(endpoint, destination)

    def on_receive_destination_removed(self, destination: ReceiveDestination) -> None:
        _close_receive_destination(destination)

    def _release_receive_endpoint(self, endpoint: ReceiveChannelEndpoint) -> None:
        endpoint.refcnt -= 1
        if endpoint.refcnt > 0 or any(i.endpoint is endpoint and i.state is not ImageState.DONE for i in self.images):
            return
        self._close_receive_endpoint_if_unused(endpoint)

    def _close_receive_endpoint_if_unused(self, endpoint: ReceiveChannelEndpoint) -> None:
        if endpoint.refcnt > 0 or any(i.endpoint is endpoint for i in self.images):
            return
        for key, value in list(self.receive_endpoints.items()):
            if value is endpoint:
                del self.receive_endpoints[key]
                self.receiver_proxy.remove_endpoint(endpoint)

    # ------------------------------------------------------------------ spies
    def _link_spy(self, link: NetworkSubscriptionLink, publication: NetworkPublication) -> None:
        join = publication.snd_pos.get()
        counter = self.resources.new_stream_counter(
            "sub-pos", link.registration_id, publication.session_id, publication.stream_id, link.channel,
            link.client_id, ctr.SUBSCRIBER_POSITION_TYPE_ID, f" @{join}", reference_id=publication.registration_id,
        )
        counter.set(join)
        sub = SubscriberPosition(link.registration_id, counter, link.params.tether, link.params.rejoin, time_of_last_update_ns=self.resources.nano_clock())
        publication.spies.append(sub)
        publication.update_connected()
        self.resources.client_proxy.on_available_image(
            publication.registration_id, publication.session_id, publication.stream_id, link.registration_id,
            counter.id, publication.log_buffers.path, "aeron:ipc",
        )

    def _cleanup_spies(self, publication: NetworkPublication) -> None:
        """LINGER (drained or revoked): ON_UNAVAILABLE_IMAGE to each linked (active) spy, then
        unlink all spies and free their sub-pos counters."""
        for spy in publication.spies:
            if spy.is_active:
                self._spy_unavailable(publication, spy)
            if spy.state is not TetherState.CLOSED:
                self.resources.free_counter(spy.counter)
        publication.spies.clear()

    def _spy_unavailable(self, publication: NetworkPublication, spy: SubscriberPosition) -> None:
        self.resources.client_proxy.on_unavailable_image(publication.registration_id, spy.subscription_registration_id, publication.stream_id, "aeron:ipc")

    def _spy_available(self, publication: NetworkPublication, spy: SubscriberPosition) -> None:
        """An untethered spy rejoins after resting: same sub-pos counter, image available again."""
        self.resources.client_proxy.on_available_image(
            publication.registration_id, publication.session_id, publication.stream_id, spy.subscription_registration_id,
            spy.counter_id, publication.log_buffers.path, "aeron:ipc",
        )

    # ------------------------------------------------------------------ re-resolution
    def _re_resolve(self, name: str, key: str) -> Any:
        """``host:port`` resolved again (a host name's address may have changed); None, with
        the error logged, when it does not resolve now."""
        try:
            return resolve_host_and_port(name, key, self.resolve)
        except (InvalidChannelError, OSError) as e:
            self.resources.record_error(cp.ErrorCode.GENERIC_ERROR, f"re-resolution of {key}={name} failed: {e}")
            return None

    def on_re_resolve_endpoint(self, name: str, endpoint: SendChannelEndpoint, existing: Any) -> None:
        """The sender heard nothing from ``name`` for a while: resolve it again and, when its
        address changed, move the endpoint (or MDC destination) there."""
        if not any(e is endpoint for e in self.send_endpoints.values()):
            return
        address = self._re_resolve(name, ENDPOINT)
        if address is not None and not destination_tracker.same_address(address, existing):
            self.sender_proxy.resolution_change(endpoint, name, address)

    def on_re_resolve_control(
        self, name: str, endpoint: ReceiveChannelEndpoint, destination: ReceiveDestination, existing: Any
    ) -> None:
        """A receive destination heard nothing from its ``control`` address for a while."""
        if not any(e is endpoint for e in self.receive_endpoints.values()):
            return
        address = self._re_resolve(name, CONTROL)
        if address is not None and not destination_tracker.same_address(address, existing):
            self.receiver_proxy.resolution_change(endpoint, destination, address)

    def on_publication_error(self, *args: Any) -> None:
        """An ERR frame from a live receiver (via the conductor proxy): tell the clients."""
        self.resources.client_proxy.on_publication_error(*args)

    # ------------------------------------------------------------------ images
    def find_image(self, correlation_id: int) -> PublicationImage | None:
        for image in self.images:
            if image.correlation_id == correlation_id:
                return image
        return None

    def reject_image(self, image: PublicationImage, reason: bytes) -> None:
        self.receiver_proxy.reject_image(image, reason)

    def _image_limit_problem(self, endpoint: ReceiveChannelEndpoint, stream_id: int, term_length: int) -> str | None:
        """What a remote sender may not impose: oversized terms, more sessions than the limit."""
        if term_length > self.ctx.image_max_term_length:
            return (
                f"term length {term_length} is above aeronpy.image.max.term.length "
                f"{self.ctx.image_max_term_length}"
            )
        receiving = sum(
            1 for i in self.images
            if i.endpoint is endpoint and i.stream_id == stream_id and i.state in _RECEIVING_STATES
        )
        if receiving >= self.ctx.stream_session_limit:
            return f"exceeded session limit {self.ctx.stream_session_limit} for stream {stream_id}"
        return None

    def on_create_image(
        self, endpoint: ReceiveChannelEndpoint, session_id: int, stream_id: int, initial_term_id: int,
        active_term_id: int, term_offset: int, term_length: int, mtu: int, flags: int,
        control_address: Any, source_address: Any,
    ) -> None:
        links = [s for s in self.subscriptions if s.matches_session(endpoint, stream_id, session_id)]
        if not links:
            self.receiver_proxy.clear_init_in_progress(endpoint, stream_id, session_id)
            return
        ctx = self.ctx
        params = links[0].params
        problem = _image_setup_problem(
            mtu,
            min(params.receiver_window_length or ctx.initial_window_length, term_length // 2),
            _effective_rcvbuf(endpoint),
        ) or self._image_limit_problem(endpoint, stream_id, term_length)
        if problem is not None:
            self.resources.record_error(
                cp.ErrorCode.GENERIC_ERROR,
                f"cannot create image for session {session_id} stream {stream_id} from {source_address}: {problem}",
            )
            self.receiver_proxy.clear_init_in_progress(endpoint, stream_id, session_id)
            return
        try:
            correlation_id = self.resources.next_correlation_id()
            path = os.path.join(ctx.aeron_dir, "images", f"{correlation_id}.logbuffer")
            log_buffers = self.resources.log_storage.create(path, term_length, params.sparse, ctx.file_mode)
        except Exception as ex:
            self.resources.record_error(cp.ErrorCode.STORAGE_SPACE, f"cannot create image for session {session_id}: {ex}")
            self.receiver_proxy.clear_init_in_progress(endpoint, stream_id, session_id)
            return
        configured_window = params.receiver_window_length or ctx.initial_window_length
        window = min(configured_window, term_length // 2)
        is_multicast = endpoint.channel.is_multicast or bool(flags & 0x40)
        group = getattr(params, "group", "infer")
        treat_as_multicast = group is True or group == "true" or ((group is None or group == "infer") and is_multicast)
        descriptor.write_log_metadata(
            log_buffers.metadata, correlation_id=correlation_id, initial_term_id=initial_term_id,
            mtu_length=mtu, term_length=term_length, page_size=ctx.file_page_size, session_id=session_id,
            stream_id=stream_id, receiver_window_length=window, entity_tag=0, response_correlation_id=0,
            is_response=bool(getattr(params, "is_response", False)), group=treat_as_multicast, rejoin=params.rejoin, reliable=params.reliable, sparse=params.sparse,
            tether=params.tether, log_type=descriptor.LOG_TYPE_IMAGE, max_resend=0,
        )
        descriptor.initialize_tail_counters(log_buffers.metadata, initial_term_id, active_term_id, term_offset)
        owner = links[0].client_id
        ch = links[0].channel
        hwm = self.resources.new_stream_counter("rcv-hwm", correlation_id, session_id, stream_id, ch, owner, ctr.RECEIVER_HWM_TYPE_ID)
        rcv_pos = self.resources.new_stream_counter("rcv-pos", correlation_id, session_id, stream_id, ch, owner, ctr.RECEIVER_POSITION_TYPE_ID)
        naks = self.resources.new_stream_counter("rcv-naks-sent", correlation_id, session_id, stream_id, ch, owner, ctr.RECEIVER_NAKS_SENT_TYPE_ID)
        if not params.reliable:
            delay: Any = StaticDelayGenerator(0, 0)
        elif treat_as_multicast:
            delay = OptimalMulticastDelayGenerator(ctx.nak_multicast_max_backoff_ns, ctx.nak_multicast_group_size)
        else:
            nak_delay = params.nak_delay_ns if getattr(params, "nak_delay_ns", None) else ctx.nak_unicast_delay_ns
            delay = StaticDelayGenerator(nak_delay, nak_delay * ctx.nak_unicast_retry_delay_ratio)
        group_tag = params.group_tag if getattr(params, "group_tag", None) is not None else ctx.receiver_group_tag
        now_ns = self.resources.nano_clock()
        congestion_control = self._new_congestion_control(
            params, window, mtu, now_ns, correlation_id, session_id, stream_id, ch
        )
        image = PublicationImage(
            correlation_id=correlation_id, session_id=session_id, stream_id=stream_id,
            initial_term_id=initial_term_id, active_term_id=active_term_id, term_offset=term_offset,
            mtu_length=mtu, log_buffers=log_buffers, endpoint=endpoint, control_address=control_address,
            source_identity=_format_address(source_address), hwm=hwm, rcv_pos=rcv_pos, naks_sent=naks,
            loss_detector=LossDetector(delay), receiver_window=window, receiver_id=endpoint.receiver_id,
            # group semantics (treat_as_multicast: NAK back-off, metadata) are not multicast addressing:
            # a group=true unicast image (the cluster's log) answers each source, as C does
            group_tag=group_tag, is_reliable=params.reliable, is_multicast=bool(endpoint.channel.is_multicast),
            sm_timeout_ns=ctx.status_message_timeout_ns, image_liveness_timeout_ns=ctx.image_liveness_timeout_ns,
            system_counters=self.resources.system_counters, loss_reporter=self.loss_reporter, channel=ch, now_ns=now_ns,
            epoch_clock=self.resources.epoch_clock, congestion_control=congestion_control,
            untethered_timeouts=UntetheredTimeouts(
                params.untethered_window_limit_timeout_ns, params.untethered_linger_timeout_ns,
                params.untethered_resting_timeout_ns,
            ),
            send_response_setup=bool(flags & rsp.SEND_RESPONSE_SETUP_FLAG),
        )
        self.images.append(image)
        for link in links:
            self._link_image(link, image, image.join_position)
        self.receiver_proxy.add_image(image)

    def _new_congestion_control(
        self, params: Any, window: int, mtu: int, now_ns: int, correlation_id: int, session_id: int,
        stream_id: int, channel: str,
    ) -> cc.CongestionControl:
        """The image's congestion control: the driver's supplier or the channel's ``cc``; cubic
        gets its per-image rcv-cc-cubic-rtt/-wnd indicators (type 10, no owner, as C)."""
        ctx = self.ctx
        name = cc.select_congestion_control(ctx.congestion_control_supplier, getattr(params, "congestion_control", None))
        if name != cc.CUBIC:
            return cc.new_congestion_control(name, window_length=window, mtu=mtu, now_ns=now_ns)

        def indicator(label: str) -> AtomicCounter:
            return self.resources.new_stream_counter(
                label, correlation_id, session_id, stream_id, channel, -1, ctr.PER_IMAGE_TYPE_ID
            )

        rtt = indicator(cc.CUBIC_RTT_INDICATOR_NAME)
        return cc.new_congestion_control(
            name, window_length=window, mtu=mtu, now_ns=now_ns,
            settings=cc.CubicSettings(ctx.cubic_measure_rtt, ctx.cubic_initial_rtt_ns, ctx.cubic_tcp_mode),
            rtt_indicator=rtt, window_indicator=indicator(cc.CUBIC_WINDOW_INDICATOR_NAME),
        )

    def _link_image(self, link: NetworkSubscriptionLink, image: PublicationImage, join: int) -> None:
        counter = self.resources.new_stream_counter(
            "sub-pos", link.registration_id, image.session_id, image.stream_id, link.channel,
            link.client_id, ctr.SUBSCRIBER_POSITION_TYPE_ID, f" @{join}", reference_id=image.correlation_id,
        )
        counter.set(join)
        image.subscribers.append(
            SubscriberPosition(link.registration_id, counter, link.params.tether, link.params.rejoin, time_of_last_update_ns=self.resources.nano_clock())
        )
        self.resources.client_proxy.on_available_image(
            image.correlation_id, image.session_id, image.stream_id, link.registration_id, counter.id,
            image.log_buffers.path, image.source_identity,
        )

    def _image_unavailable(self, image: PublicationImage) -> None:
        for sub in image.subscribers:
            if sub.is_active:  # untethered subscribers that left already had the image made unavailable
                self._image_unavailable_for(image, sub)

    def _image_unavailable_for(self, image: PublicationImage, sub: SubscriberPosition) -> None:
        link = next((s for s in self.subscriptions if s.registration_id == sub.subscription_registration_id), None)
        channel = link.channel if link is not None else image.channel
        self.resources.client_proxy.on_unavailable_image(image.correlation_id, sub.subscription_registration_id, image.stream_id, channel)

    def _image_available_for(self, image: PublicationImage, sub: SubscriberPosition) -> None:
        """An untethered subscriber rejoins after resting: same sub-pos counter, image available again."""
        self.resources.client_proxy.on_available_image(
            image.correlation_id, image.session_id, image.stream_id, sub.subscription_registration_id, sub.counter_id,
            image.log_buffers.path, image.source_identity,
        )

    def _free_image(self, image: PublicationImage) -> None:
        for sub in image.subscribers:
            if sub.state is not TetherState.CLOSED:
                sub.counter.close()
        image.subscribers.clear()
        image.hwm.close()
        image.rcv_pos.close()
        image.naks_sent.close()
        image.congestion_control.close()
        self.resources.log_storage.delete(image.log_buffers)
        if image in self.images:
            self.images.remove(image)

    def _image_to_linger(self, image: PublicationImage) -> None:
        """DRAINING -> LINGER: out of the receiver's dispatch at once (log and counters stay until
        DONE); without EOS the session cools down, cleared now if every matching subscription
        has rejoin=true, else when the image is DONE."""
        endpoint = image.endpoint
        rejoin = all(link.params.rejoin for link in self.subscriptions if link.matches_image(image))
        self.receiver_proxy.remove_image(image)
        if rejoin:
            self.receiver_proxy.remove_cool_down(endpoint, image.stream_id, image.session_id)

    # ------------------------------------------------------------------ response channels
    def on_response_setup(self, response_correlation_id: int, response_session_id: int) -> None:
        """An RSP_SETUP reached a request publication (sender thread, via the proxy): the
        response subscription it names takes the announced session, or asks for a SETUP again."""
        link = next(
            (s for s in self.subscriptions if s.registration_id == response_correlation_id and not s.is_spy), None
        )
        if link is None or link.endpoint is None:
            return
        if rsp.on_response_setup(link.session_id) is rsp.ResponseSetupAction.ELICIT_SETUP:
            assert link.session_id is not None
            self.receiver_proxy.request_setup(link.endpoint, link.stream_id, link.session_id)
            return
        link.session_id = response_session_id
        link.is_response = False
        self.receiver_proxy.add_subscription(link.endpoint, link.stream_id, response_session_id)

    def on_response_connected(self, response_correlation_id: int, session_id: int | None = None) -> None:
        """A response publication has a live receiver (or is gone): its image, if still
        announcing it (``session_id``, any when ``None``), stops the RSP_SETUPs."""
        for image in self.images:
            if image.correlation_id == response_correlation_id and image.response_setup.requested:
                if session_id is None or image.response_setup.response_session_id == session_id:
                    image.response_setup.unlink()

    def on_image_released(self, image: PublicationImage) -> None:
        """The receiver let go of ``image`` for good: free it and tell the receiver the session
        may set up again."""
        self._removed.discard(id(image))
        endpoint = image.endpoint
        self._free_image(image)
        self.receiver_proxy.image_deleted(endpoint, image.stream_id, image.session_id)
        self._close_receive_endpoint_if_unused(endpoint)


def _check_timestamp_offset(key: str, existing: int | None, requested: int | None, existing_channel: UdpChannel, channel: UdpChannel) -> None:
    """A channel sharing an endpoint must ask for the same timestamp offsets (as C)."""
    if existing != requested:
        raise InvalidChannelError(
            f"option conflicts with existing subscription: {key}={describe_offset(requested)} "
            f"existingChannel={existing_channel.original_uri} channel={channel.original_uri}"
        )


def _receive_control_address(udp: UdpChannel) -> Any:
    """Where a receive destination sends SMs/NAKs: the multicast control group, an MDC
    publisher's ``control`` address, or ``None`` (reply to the data source)."""
    if udp.is_multicast:
        return udp.remote_control
    if udp.has_explicit_control:
        return udp.local_control
    return None


def _close_receive_destination(destination: ReceiveDestination) -> None:
    destination.transport.close()
    if destination.local_sockaddr is not None:
        destination.local_sockaddr.close()


def _effective_rcvbuf(endpoint: Any) -> int:
    """SO_RCVBUF of the endpoint's (first) socket, or 0 when unknown."""
    transport = getattr(endpoint, "transport", None)
    value = getattr(transport, "effective_so_rcvbuf", 0) if transport is not None else 0
    return int(value) if isinstance(value, int) else 0


_RECEIVING_STATES = frozenset({ImageState.INIT, ImageState.ACTIVE, ImageState.DRAINING})


def _image_setup_problem(mtu: int, window: int, so_rcvbuf: int) -> str | None:
    """Aeron's checks before creating an image from a SETUP (driver-behaviour.md §7)."""
    if mtu < 32 or mtu > 65504 or mtu % 32:
        return f"sender MTU {mtu} is invalid (must be a multiple of 32 in [32, 65504])"
    if mtu > window:
        return f"sender MTU {mtu} is greater than the receiver window {window}: increase rcv-wnd / aeron.rcv.initial.window.length"
    if so_rcvbuf and window > so_rcvbuf:
        return f"receiver window {window} is greater than SO_RCVBUF {so_rcvbuf}: increase so-rcvbuf / aeron.socket.so_rcvbuf"
    if so_rcvbuf and mtu > so_rcvbuf:
        return f"sender MTU {mtu} is greater than SO_RCVBUF {so_rcvbuf}"
    return None


def _remove_subscriber(subscribers: list[SubscriberPosition], registration_id: int) -> SubscriberPosition | None:
    for i, sub in enumerate(subscribers):
        if sub.subscription_registration_id == registration_id:
            del subscribers[i]
            return sub
    return None


def _sockaddr_key(channel_status_id: int, address: str) -> bytes:
    encoded = address.encode("ascii", "replace")[:103]
    return channel_status_id.to_bytes(4, "little", signed=True) + len(encoded).to_bytes(4, "little") + encoded + b"\0"
