"""``AeronArchive``: the archive client (archive.md §1.4 client side, §3).

Connects through a media driver: a response subscription, an exclusive request publication
(both carrying the same ``session-id``), AuthConnectRequest, optional challenge, then
ArchiveIdRequest.  Every request is a blocking method waiting up to
``aeron.archive.message.timeout`` for its response; recording signals that arrive meanwhile go
to ``recording_signal_consumer`` (or are kept for :meth:`AeronArchive.poll_for_recording_signals`).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aeronpy.protocol import sbe
from aeronpy.archive.codecs import ARCHIVE_SCHEMA, BooleanType, ControlResponseCode, SourceLocation, T
from aeronpy.archive.control_session import PROTOCOL_VERSION
from aeronpy.archive.counters import RECORDING_POSITION_TYPE_ID, decode_recording_position_key
from aeronpy.archive.descriptors import RecordingDescriptor, RecordingSignalEvent, RecordingSubscriptionDescriptor
from aeronpy.archive.errors import ArchiveError, ErrorCode
from aeronpy.client import results
from aeronpy.config import PropertySpec, default_aeron_dir, load_context, parse_bool, parse_duration_ns, parse_int, parse_size, parse_text
from aeronpy.errors import AeronError, ConfigurationError
from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
from aeronpy.uri import ChannelUri
from aeronpy.version import __version__

__all__ = ["AeronArchive", "AeronArchiveContext", "REPLAY_ALL_AND_FOLLOW", "REPLAY_ALL_AND_STOP", "NULL_POSITION"]

NULL_POSITION = -1
NULL_LENGTH = -1
REPLAY_ALL_AND_FOLLOW = -1
REPLAY_ALL_AND_STOP = -2
_S = 1_000_000_000

_CLIENT_PROPERTIES: dict[str, PropertySpec] = {
    "aeron_dir": PropertySpec("aeron.dir", parse_text),
    "control_channel": PropertySpec("aeron.archive.control.channel", parse_text),
    "control_stream_id": PropertySpec("aeron.archive.control.stream.id", parse_int),
    "control_response_channel": PropertySpec("aeron.archive.control.response.channel", parse_text),
    "control_response_stream_id": PropertySpec("aeron.archive.control.response.stream.id", parse_int),
    "recording_events_channel": PropertySpec("aeron.archive.recording.events.channel", parse_text),
    "recording_events_stream_id": PropertySpec("aeron.archive.recording.events.stream.id", parse_int),
    "message_timeout_ns": PropertySpec("aeron.archive.message.timeout", parse_duration_ns),
    "message_retry_attempts": PropertySpec("aeron.archive.message.retry.attempts", parse_int),
    "control_term_buffer_length": PropertySpec("aeron.archive.control.term.buffer.length", parse_size),
    "control_term_buffer_sparse": PropertySpec("aeron.archive.control.term.buffer.sparse", parse_bool),
    "control_mtu_length": PropertySpec("aeron.archive.control.mtu.length", parse_size),
    "client_name": PropertySpec("aeron.archive.client.name", parse_text),
}


@dataclass
class AeronArchiveContext:
    """Client settings by Aeron's property names (archive.md §8.2).  Code-only: ``aeron`` (an
    existing client to use), ``credentials`` and ``on_challenge(challenge) -> credentials``,
    ``recording_signal_consumer``, ``error_handler`` (ERRORs for other correlation ids)."""

    aeron_dir: str = field(default_factory=lambda: os.environ.get("AERON_DIR") or default_aeron_dir())
    control_channel: str = "aeron:ipc"
    control_stream_id: int = 10
    control_response_channel: str = "aeron:ipc"
    control_response_stream_id: int = 20
    recording_events_channel: str | None = None
    recording_events_stream_id: int = 30
    message_timeout_ns: int = 10 * _S
    message_retry_attempts: int = 3
    control_term_buffer_length: int = 64 * 1024
    control_term_buffer_sparse: bool = True
    control_mtu_length: int = 1408
    client_name: str = ""
    aeron: Any = None
    credentials: bytes = b""
    on_challenge: Callable[[bytes], bytes] | None = None
    recording_signal_consumer: Callable[[RecordingSignalEvent], None] | None = None
    error_handler: Callable[[ArchiveError], None] | None = None

    @classmethod
    def from_properties(
        cls,
        properties: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        properties_file: str | None = None,
        **overrides: Any,
    ) -> AeronArchiveContext:
        return load_context(cls, _CLIENT_PROPERTIES, properties, env, properties_file, overrides)

    def validate(self) -> None:
        for name in ("control_channel", "control_response_channel"):
            value = getattr(self, name)
            if not value:
                raise ConfigurationError(f"{_CLIENT_PROPERTIES[name].prop} must be set")
            ChannelUri.parse(value)
        if self.message_timeout_ns <= 0:
            raise ConfigurationError(f"aeron.archive.message.timeout={self.message_timeout_ns}: must be > 0")
        if self.message_retry_attempts <= 0:
            raise ConfigurationError(f"aeron.archive.message.retry.attempts={self.message_retry_attempts}: must be > 0")


def _with_control_params(channel: str, ctx: AeronArchiveContext, session_id: int | None) -> str:
    uri = ChannelUri.parse(channel)
    params = dict(uri.params)
    params.setdefault("term-length", str(ctx.control_term_buffer_length))
    params.setdefault("sparse", "true" if ctx.control_term_buffer_sparse else "false")
    params.setdefault("mtu", str(ctx.control_mtu_length))
    if session_id is not None:
        params["session-id"] = str(session_id)
    return str(ChannelUri(uri.prefix, uri.media, params))


class AeronArchive:
    """A connected archive client; not thread safe (one caller at a time)."""

    def __init__(self, ctx: AeronArchiveContext, aeron: Any, owns_aeron: bool) -> None:
        self.ctx = ctx
        self.aeron = aeron
        self._owns_aeron = owns_aeron
        self.control_session_id = -1
        self.archive_id = -1
        self._inbox: deque[sbe.Decoded] = deque()
        self._signals: deque[RecordingSignalEvent] = deque()
        self._assembler = FragmentAssembler(self._on_fragment)
        self._closed = False
        self.subscription: Any = None
        self.publication: Any = None

    # -- connect ---------------------------------------------------------------------------

    @classmethod
    def connect(cls, ctx: AeronArchiveContext | None = None) -> AeronArchive:
        """Connect to an archive; raises :class:`ArchiveError` (rejected) or TimeoutError."""
        ctx = ctx or AeronArchiveContext.from_properties()
        ctx.validate()
        owns = ctx.aeron is None
        if owns:
            from aeronpy.client.aeron import Aeron
            from aeronpy.client.context import Context

            aeron = Aeron.connect(Context.from_properties(aeron_dir=ctx.aeron_dir))
        else:
            aeron = ctx.aeron
        client = cls(ctx, aeron, owns)
        try:
            client._connect()
        except BaseException:
            client.close()
            raise
        return client

    def _deadline(self) -> float:
        return time.monotonic() + self.ctx.message_timeout_ns / 1e9

    @classmethod
    def async_connect(cls, ctx: AeronArchiveContext | None = None) -> AsyncConnect:
        """The pollable form of :meth:`connect`: call ``poll()`` until it returns the client."""
        ctx = ctx or AeronArchiveContext.from_properties()
        ctx.validate()
        owns = ctx.aeron is None
        if owns:
            from aeronpy.client.aeron import Aeron
            from aeronpy.client.context import Context

            aeron = Aeron.connect(Context.from_properties(aeron_dir=ctx.aeron_dir))
        else:
            aeron = ctx.aeron
        return AsyncConnect(cls(ctx, aeron, owns))

    def _connect(self) -> None:
        connect = AsyncConnect(self)
        while connect.poll() is None:
            self._idle(connect.deadline, f"archive connect ({connect.step})")

    def _resolve_port(self, deadline: float) -> str:
        """The response channel with its ``:0`` port replaced by the port the driver bound."""
        from aeronpy.archive.channels import resolve_channel_endpoint_port

        while True:
            channel = resolve_channel_endpoint_port(self.aeron.counters_reader, self.subscription)
            if not channel.split("endpoint=", 1)[1].split("|", 1)[0].endswith(":0"):
                return channel
            self._idle(deadline, "the response channel's port to be resolved")

    # -- transport -------------------------------------------------------------------------

    def _idle(self, deadline: float, what: str) -> None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what} after {self.ctx.message_timeout_ns / 1e9:g} s")
        invoker = getattr(self.aeron, "conductor_agent_invoker", None)
        if invoker is not None:
            invoker.invoke()
        time.sleep(0.0005)

    def _send(self, msg: bytes, deadline: float | None = None, publication: Any = None) -> None:
        deadline = deadline or self._deadline()
        attempts = 0
        publication = publication if publication is not None else self.publication
        while True:
            result = publication.offer(msg)
            if result > 0:
                return
            attempts += 1
            if result in (results.CLOSED, results.MAX_POSITION_EXCEEDED) or (attempts > self.ctx.message_retry_attempts and time.monotonic() > deadline):
                raise ArchiveError(f"failed to send archive request: offer result {result}", ErrorCode.GENERIC)
            self._idle(deadline, "archive request to be sent")

    def _on_fragment(self, buffer: Any, offset: int, length: int, header: Any) -> None:
        try:
            d = sbe.decode(ARCHIVE_SCHEMA, buffer.get_bytes(offset, length))
        except sbe.CodecError:
            return
        if d is None or d.spec.name == "Ping":
            return
        if "control_session_id" in d.values and self.control_session_id != -1 and \
                d.get_int("control_session_id") != self.control_session_id:
            return
        if d.spec.name == "RecordingSignalEvent":
            event = RecordingSignalEvent.from_decoded(d)
            if self.ctx.recording_signal_consumer is not None:
                self.ctx.recording_signal_consumer(event)
            else:
                self._signals.append(event)
            return
        self._inbox.append(d)

    def _poll(self) -> int:
        return int(self.subscription.poll(self._assembler.on_fragment, 10))

    def _next(self, deadline: float, what: str) -> sbe.Decoded:
        while not self._inbox:
            if self._poll() == 0:
                self._idle(deadline, what)
        return self._inbox.popleft()

    def _encode(self, spec: sbe.MessageSpec, corr: int, **values: Any) -> bytes:
        return sbe.encode(spec, control_session_id=self.control_session_id, correlation_id=corr, **values)

    def _request(self, spec: sbe.MessageSpec, request_publication: Any = None, **values: Any) -> int:
        """Send a request (on the control publication, or ``request_publication``) and return
        the OK response's relevantId (ArchiveError otherwise)."""
        self._check_open()
        corr = self.aeron.next_correlation_id()
        deadline = self._deadline()
        self._send(self._encode(spec, corr, **values), deadline, request_publication)
        while True:
            msg = self._next(deadline, f"response to {spec.name}")
            if msg.spec.name != "ControlResponse":
                continue
            if msg.get_int("correlation_id") != corr:
                self._stray(msg)
                continue
            code = msg.get_int("code")
            if code == ControlResponseCode.ERROR:
                raise ArchiveError(msg.get_str("error_message"), msg.get_int("relevant_id"), corr)
            return msg.get_int("relevant_id")

    def _stray(self, msg: sbe.Decoded) -> None:
        if msg.get_int("code") == ControlResponseCode.ERROR and self.ctx.error_handler is not None:
            self.ctx.error_handler(ArchiveError(msg.get_str("error_message"), msg.get_int("relevant_id"),
                                                msg.get_int("correlation_id")))

    def _list(self, spec: sbe.MessageSpec, count: int, **values: Any) -> list[sbe.Decoded]:
        self._check_open()
        corr = self.aeron.next_correlation_id()
        deadline = self._deadline()
        self._send(self._encode(spec, corr, **values), deadline)
        found: list[sbe.Decoded] = []
        while len(found) < count:
            msg = self._next(deadline, f"descriptors for {spec.name}")
            if msg.get_int("correlation_id") != corr:
                if msg.spec.name == "ControlResponse":
                    self._stray(msg)
                continue
            if msg.spec.name == "ControlResponse":
                code = msg.get_int("code")
                if code == ControlResponseCode.ERROR:
                    raise ArchiveError(msg.get_str("error_message"), msg.get_int("relevant_id"), corr)
                break
            found.append(msg)
            deadline = self._deadline()
        return found

    def _check_open(self) -> None:
        if self._closed:
            raise AeronError("AeronArchive is closed")

    # -- recording -------------------------------------------------------------------------

    def start_recording(self, channel: str, stream_id: int, source_location: SourceLocation = SourceLocation.REMOTE,
                        auto_stop: bool = False) -> int:
        """Record every image of ``channel``/``stream_id``; returns the subscription id."""
        return self._request(T.StartRecordingRequest2, stream_id=stream_id, source_location=source_location,
                             auto_stop=BooleanType.TRUE if auto_stop else BooleanType.FALSE, channel=channel)

    def extend_recording(self, recording_id: int, channel: str, stream_id: int,
                         source_location: SourceLocation = SourceLocation.REMOTE, auto_stop: bool = False) -> int:
        return self._request(T.ExtendRecordingRequest2, recording_id=recording_id, stream_id=stream_id,
                             source_location=source_location,
                             auto_stop=BooleanType.TRUE if auto_stop else BooleanType.FALSE, channel=channel)

    def stop_recording(self, channel: str, stream_id: int) -> None:
        self._request(T.StopRecordingRequest, stream_id=stream_id, channel=channel)

    def stop_recording_subscription(self, subscription_id: int) -> None:
        self._request(T.StopRecordingSubscriptionRequest, subscription_id=subscription_id)

    def stop_recording_by_identity(self, recording_id: int) -> bool:
        return self._request(T.StopRecordingByIdentityRequest, recording_id=recording_id) != 0

    def get_recording_position(self, recording_id: int) -> int:
        return self._request(T.RecordingPositionRequest, recording_id=recording_id)

    def get_start_position(self, recording_id: int) -> int:
        return self._request(T.StartPositionRequest, recording_id=recording_id)

    def get_stop_position(self, recording_id: int) -> int:
        return self._request(T.StopPositionRequest, recording_id=recording_id)

    def get_max_recorded_position(self, recording_id: int) -> int:
        return self._request(T.MaxRecordedPositionRequest, recording_id=recording_id)

    def find_last_matching_recording(self, min_recording_id: int, channel_fragment: str, stream_id: int,
                                     session_id: int) -> int:
        return self._request(T.FindLastMatchingRecordingRequest, min_recording_id=min_recording_id,
                             session_id=session_id, stream_id=stream_id, channel=channel_fragment)

    def truncate_recording(self, recording_id: int, position: int) -> int:
        return self._request(T.TruncateRecordingRequest, recording_id=recording_id, position=position)

    def purge_recording(self, recording_id: int) -> int:
        return self._request(T.PurgeRecordingRequest, recording_id=recording_id)

    def update_channel(self, recording_id: int, channel: str) -> None:
        self._request(T.UpdateChannelRequest, recording_id=recording_id, channel=channel)

    def detach_segments(self, recording_id: int, new_start_position: int) -> None:
        self._request(T.DetachSegmentsRequest, recording_id=recording_id, new_start_position=new_start_position)

    def delete_detached_segments(self, recording_id: int) -> int:
        return self._request(T.DeleteDetachedSegmentsRequest, recording_id=recording_id)

    def purge_segments(self, recording_id: int, new_start_position: int) -> int:
        return self._request(T.PurgeSegmentsRequest, recording_id=recording_id, new_start_position=new_start_position)

    def migrate_segments(self, src_recording_id: int, dst_recording_id: int) -> int:
        """Move the segment files of a stopped, contiguous recording into another; returns the count."""
        return self._request(T.MigrateSegmentsRequest, src_recording_id=src_recording_id,
                             dst_recording_id=dst_recording_id)

    def attach_segments(self, recording_id: int) -> int:
        return self._request(T.AttachSegmentsRequest, recording_id=recording_id)

    def segment_file_base_position(self, start_position: int, position: int, term_length: int,
                                   segment_length: int) -> int:
        from aeronpy.archive.segments import segment_file_base_position

        return segment_file_base_position(start_position, position, term_length, segment_length)

    def replicate(self, src_recording_id: int, dst_recording_id: int, src_control_stream_id: int,
                  src_control_channel: str, live_destination: str = "", stop_position: int = NULL_POSITION,
                  replication_channel: str = "", replication_session_id: int = -1, file_io_max_length: int = -1,
                  src_response_channel: str = "", encoded_credentials: bytes = b"", channel_tag_id: int = -1,
                  subscription_tag_id: int = -1) -> int:
        """Replicate a recording from another archive into this one; returns the replication id
        (the correlation id of its signals and asynchronous errors).  ``live_destination``: merge
        onto that live stream once caught up and keep recording it (MERGE signal); tag ids: record
        through ``aeron:udp?control-mode=manual|tags=<channel>,<subscription>`` (-1: the replication id)."""
        return self._request(
            T.ReplicateRequest2, src_recording_id=src_recording_id, dst_recording_id=dst_recording_id,
            stop_position=stop_position, channel_tag_id=channel_tag_id, subscription_tag_id=subscription_tag_id,
            src_control_stream_id=src_control_stream_id, file_io_max_length=file_io_max_length,
            replication_session_id=replication_session_id, src_control_channel=src_control_channel,
            live_destination=live_destination, replication_channel=replication_channel,
            encoded_credentials=encoded_credentials, src_response_channel=src_response_channel,
        )

    def tagged_replicate(self, src_recording_id: int, dst_recording_id: int, channel_tag_id: int,
                         subscription_tag_id: int, src_control_stream_id: int, src_control_channel: str,
                         live_destination: str = "") -> int:
        """Aeron's ``taggedReplicate``: :meth:`replicate` with channel and subscription tag ids."""
        return self.replicate(src_recording_id, dst_recording_id, src_control_stream_id, src_control_channel,
                              live_destination=live_destination, channel_tag_id=channel_tag_id,
                              subscription_tag_id=subscription_tag_id)

    def stop_replication(self, replication_id: int) -> None:
        self._request(T.StopReplicationRequest, replication_id=replication_id)

    # -- listing ---------------------------------------------------------------------------

    def list_recordings(self, from_recording_id: int = 0, record_count: int = 100) -> list[RecordingDescriptor]:
        if record_count <= 0:
            raise ValueError(f"record_count={record_count}: must be positive")
        return [RecordingDescriptor.from_decoded(d) for d in self._list(
            T.ListRecordingsRequest, record_count, from_recording_id=from_recording_id, record_count=record_count)]

    def list_recordings_for_uri(self, from_recording_id: int, record_count: int, channel_fragment: str,
                                stream_id: int) -> list[RecordingDescriptor]:
        if record_count <= 0:
            raise ValueError(f"record_count={record_count}: must be positive")
        return [RecordingDescriptor.from_decoded(d) for d in self._list(
            T.ListRecordingsForUriRequest, record_count, from_recording_id=from_recording_id,
            record_count=record_count, stream_id=stream_id, channel=channel_fragment)]

    def list_recording(self, recording_id: int) -> RecordingDescriptor | None:
        found = self._list(T.ListRecordingRequest, 1, recording_id=recording_id)
        return RecordingDescriptor.from_decoded(found[0]) if found else None

    def list_recording_subscriptions(self, pseudo_index: int = 0, subscription_count: int = 100,
                                     channel_fragment: str = "", stream_id: int = 0,
                                     apply_stream_id: bool = False) -> list[RecordingSubscriptionDescriptor]:
        return [RecordingSubscriptionDescriptor.from_decoded(d) for d in self._list(
            T.ListRecordingSubscriptionsRequest, subscription_count, pseudo_index=pseudo_index,
            subscription_count=subscription_count,
            apply_stream_id=BooleanType.TRUE if apply_stream_id else BooleanType.FALSE, stream_id=stream_id,
            channel=channel_fragment)]

    # -- replay ----------------------------------------------------------------------------

    def start_replay(self, recording_id: int, replay_channel: str, replay_stream_id: int, position: int = NULL_POSITION,
                     length: int = REPLAY_ALL_AND_FOLLOW, file_io_max_length: int = -1,
                     subscription_registration_id: int = -1) -> int:
        """Start a replay; returns the 64-bit replay session id (low 32 bits = stream session id).
        A ``control-mode=response`` replay channel needs ``subscription_registration_id``: the
        caller's (response) subscription the replay is to come back to."""
        if ChannelUri.parse(replay_channel).get("control-mode") == "response":
            if subscription_registration_id == -1:
                raise ArchiveError("when using start_replay with a response channel, subscription_registration_id "
                                   "must be set", ErrorCode.GENERIC)
            return self._start_replay_via_response_channel(
                recording_id, replay_channel, replay_stream_id, position, length, file_io_max_length,
                subscription_registration_id)
        return self._request(T.ReplayRequest, recording_id=recording_id, position=position, length=length,
                             replay_stream_id=replay_stream_id, file_io_max_length=file_io_max_length,
                             replay_token=-1, replay_channel=replay_channel)

    def start_bounded_replay(self, recording_id: int, limit_counter_id: int, replay_channel: str,
                             replay_stream_id: int, position: int = NULL_POSITION,
                             length: int = REPLAY_ALL_AND_FOLLOW, file_io_max_length: int = -1) -> int:
        return self._request(T.BoundedReplayRequest, recording_id=recording_id, position=position, length=length,
                             limit_counter_id=limit_counter_id, replay_stream_id=replay_stream_id,
                             file_io_max_length=file_io_max_length, replay_token=-1, replay_channel=replay_channel)

    def replay(self, recording_id: int, replay_channel: str, replay_stream_id: int, position: int = NULL_POSITION,
               length: int = REPLAY_ALL_AND_FOLLOW) -> Any:
        """Start a replay and return a subscription to it (``session-id`` pinned).  A
        ``control-mode=response`` replay channel replays over a response channel, as Aeron's
        client does: the replay comes back over the path this client opens to the archive."""
        if ChannelUri.parse(replay_channel).get("control-mode") == "response":
            return self._replay_via_response_channel(recording_id, replay_channel, replay_stream_id, position, length)
        replay_session_id = self.start_replay(recording_id, replay_channel, replay_stream_id, position, length)
        session_id = replay_session_id & 0xFFFFFFFF
        if session_id & 0x80000000:
            session_id -= 1 << 32
        channel = str(ChannelUri.parse(replay_channel).with_param("session-id", str(session_id)))
        return self.aeron.add_subscription(channel, replay_stream_id)

    def _replay_via_response_channel(self, recording_id: int, replay_channel: str, replay_stream_id: int,
                                     position: int, length: int) -> Any:
        """The replay subscription (``control-mode=response``), then the replay started for it."""
        subscription = self.aeron.add_subscription(replay_channel, replay_stream_id)
        try:
            self._start_replay_via_response_channel(
                recording_id, replay_channel, replay_stream_id, position, length, -1, subscription.registration_id)
            deadline = self._deadline()
            while not subscription.is_connected:
                self._idle(deadline, "replay over the response channel to connect")
        except BaseException:
            subscription.close()
            raise
        return subscription

    def _start_replay_via_response_channel(self, recording_id: int, replay_channel: str, replay_stream_id: int,
                                           position: int, length: int, file_io_max_length: int,
                                           subscription_registration_id: int) -> int:
        """As Aeron's client: a replay token, a second request publication naming the replay's
        subscription (``response-correlation-id``), the replay request (with the token) sent
        there; the archive answers on the control session and replays to that publication's
        image, so the replay comes back over the path this client opened."""
        token = self.get_replay_token(recording_id)
        uri = ChannelUri.parse(self.ctx.control_channel)
        params = {k: v for k, v in uri.params.items()
                  if k not in ("session-id", "init-term-id", "term-id", "term-offset", "ssc")}
        params["response-correlation-id"] = str(subscription_registration_id)
        params["term-length"] = str(self.ctx.control_term_buffer_length)
        request = self.aeron.add_exclusive_publication(
            str(ChannelUri(uri.prefix, uri.media, params)), self.ctx.control_stream_id)
        try:
            deadline = self._deadline()
            while not request.is_connected:
                self._idle(deadline, "replay request publication to connect")
            return self._request(T.ReplayRequest, request_publication=request, recording_id=recording_id,
                                 position=position, length=length, replay_stream_id=replay_stream_id,
                                 file_io_max_length=file_io_max_length, replay_token=token,
                                 replay_channel=replay_channel)
        finally:
            request.close()

    def get_replay_token(self, recording_id: int) -> int:
        """A token letting a replay request for ``recording_id`` come from another publication
        (replays through response channels); valid for the archive's connect timeout."""
        return self._request(T.ReplayTokenRequest, recording_id=recording_id)

    def stop_replay(self, replay_session_id: int) -> None:
        self._request(T.StopReplayRequest, replay_session_id=replay_session_id)

    def stop_all_replays(self, recording_id: int = -1) -> None:
        self._request(T.StopAllReplaysRequest, recording_id=recording_id)

    # -- signals, counters -----------------------------------------------------------------

    def poll_for_recording_signals(self) -> list[RecordingSignalEvent]:
        """Poll the response stream once and return the signals received so far."""
        self._poll()
        while self._inbox:
            msg = self._inbox.popleft()
            if msg.spec.name == "ControlResponse":
                self._stray(msg)
        events = list(self._signals)
        self._signals.clear()
        return events

    def find_recording_position_counter(self, recording_id: int) -> int:
        """Counter id of the active recording's ``rec-pos`` counter, or -1."""
        reader = self.aeron.counters_reader
        found = [-1]

        def visit(counter_id: int, type_id: int, key: bytes, label: str) -> None:
            if type_id == RECORDING_POSITION_TYPE_ID and found[0] == -1:
                rid, _, _, archive_id = decode_recording_position_key(key)
                if rid == recording_id and (self.archive_id == -1 or archive_id == self.archive_id):
                    found[0] = counter_id

        reader.for_each(visit)
        return found[0]

    # -- close -----------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self.publication is not None and self.control_session_id != -1:
                self.publication.offer(sbe.encode(T.CloseSessionRequest, control_session_id=self.control_session_id))
        except Exception:
            pass
        for resource in (self.publication, self.subscription):
            if resource is not None:
                try:
                    resource.close()
                except Exception:
                    pass
        if self._owns_aeron:
            self.aeron.close()

    def __enter__(self) -> AeronArchive:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncConnect:
    """Connect step by step without blocking (archive.md §1.4, client side).

    ``poll()`` returns None while connecting and the connected :class:`AeronArchive` once done;
    it raises :class:`ArchiveError` if the archive refused and TimeoutError after
    ``aeron.archive.message.timeout``.  ``close()`` abandons the attempt."""

    def __init__(self, client: AeronArchive) -> None:
        self.client = client
        self.step = "ADD_SESSION_ID"
        self.deadline = client._deadline()
        self._registration = -1
        self._session_id: int | None = None
        self._response_channel = ""
        self._corr = -1
        self._pending: bytes | None = None
        response_uri = ChannelUri.parse(client.ctx.control_response_channel)
        if response_uri.get("control-mode") == "response":
            self.step = "ADD_SUBSCRIPTION"

    def close(self) -> None:
        self.client.close()

    def poll(self) -> AeronArchive | None:
        c = self.client
        ctx = c.ctx
        if time.monotonic() > self.deadline:
            c.close()
            raise TimeoutError(f"archive connect timed out in step {self.step}")
        aeron = c.aeron
        if self.step == "ADD_SESSION_ID":
            if self._registration == -1:
                self._registration = aeron.conductor.async_next_session_id(ctx.control_stream_id)
            result = aeron.conductor.poll_registration(self._registration)
            if result is None:
                return None
            self._session_id = int(result)
            self._registration = -1
            self.step = "ADD_SUBSCRIPTION"
        if self.step == "ADD_SUBSCRIPTION":
            if self._registration == -1:
                self._response_channel = _with_control_params(ctx.control_response_channel, ctx, self._session_id)
                self._registration = aeron.async_add_subscription(self._response_channel,
                                                                  ctx.control_response_stream_id)
            sub = aeron.get_subscription(self._registration)
            if sub is None:
                return None
            c.subscription = sub
            self._registration = -1
            self.step = "ADD_PUBLICATION"
        if self.step == "ADD_PUBLICATION":
            if self._registration == -1:
                request = _with_control_params(ctx.control_channel, ctx, self._session_id)
                if self._session_id is None:  # a response channel: the requests name its subscription
                    request = str(ChannelUri.parse(request).with_param(
                        "response-correlation-id", str(c.subscription.registration_id)))
                self._registration = aeron.async_add_exclusive_publication(request, ctx.control_stream_id)
            pub = aeron.get_exclusive_publication(self._registration)
            if pub is None:
                return None
            c.publication = pub
            self._registration = -1
            self.step = "AWAIT_PUBLICATION_CONNECTED"
        if self.step == "AWAIT_PUBLICATION_CONNECTED":
            if not c.publication.is_connected:
                return None
            self.step = "RESOLVE_PORT"
        if self.step == "RESOLVE_PORT":
            endpoint = ChannelUri.parse(self._response_channel).get("endpoint") or ""
            if endpoint.endswith(":0"):
                from aeronpy.archive.channels import resolve_channel_endpoint_port

                resolved = resolve_channel_endpoint_port(aeron.counters_reader, c.subscription)
                if (ChannelUri.parse(resolved).get("endpoint") or "").endswith(":0"):
                    return None
                self._response_channel = resolved
            self._corr = aeron.next_correlation_id()
            self._pending = sbe.encode(
                T.AuthConnectRequest, correlation_id=self._corr, response_stream_id=ctx.control_response_stream_id,
                version=PROTOCOL_VERSION, response_channel=self._response_channel,
                encoded_credentials=ctx.credentials,
                client_info=f"name={ctx.client_name} version={__version__} commit=aeronpy",
            )
            self.step = "SEND_CONNECT"
        if self.step in ("SEND_CONNECT", "SEND_CHALLENGE_RESPONSE", "SEND_ARCHIVE_ID"):
            assert self._pending is not None
            result = c.publication.offer(self._pending)
            if result < 0:
                if result in (results.CLOSED, results.MAX_POSITION_EXCEEDED):
                    c.close()
                    raise ArchiveError(f"failed to send connect request: offer result {result}")
                return None
            self._pending = None
            self.step = "AWAIT_ARCHIVE_ID" if self.step == "SEND_ARCHIVE_ID" else "AWAIT_RESPONSE"
        if c._poll() == 0 and not c._inbox:
            return None
        while c._inbox:
            msg = c._inbox.popleft()
            if "correlation_id" not in msg.values or msg.get_int("correlation_id") != self._corr:
                continue
            if msg.spec.name == "Challenge" and self.step == "AWAIT_RESPONSE":
                if ctx.on_challenge is None:
                    c.close()
                    raise ArchiveError("archive sent a challenge but no on_challenge handler is set",
                                       ErrorCode.AUTHENTICATION_REJECTED, self._corr)
                c.control_session_id = msg.get_int("control_session_id")
                self._corr = aeron.next_correlation_id()
                self._pending = sbe.encode(T.ChallengeResponse, control_session_id=c.control_session_id,
                                           correlation_id=self._corr,
                                           encoded_credentials=ctx.on_challenge(msg.get_bytes("encoded_challenge")))
                self.step = "SEND_CHALLENGE_RESPONSE"
                return None
            if msg.spec.name != "ControlResponse":
                continue
            if msg.get_int("code") != ControlResponseCode.OK:
                c.control_session_id = msg.get_int("control_session_id")
                error = ArchiveError(msg.get_str("error_message"), msg.get_int("relevant_id"), self._corr)
                c.close()
                raise error
            if self.step == "AWAIT_RESPONSE":
                c.control_session_id = msg.get_int("control_session_id")
                self._corr = aeron.next_correlation_id()
                self._pending = c._encode(T.ArchiveIdRequest, self._corr)
                self.step = "SEND_ARCHIVE_ID"
                return None
            c.archive_id = msg.get_int("relevant_id")
            self.step = "DONE"
            return c
        return None
