"""The archive conductor (archive.md §1.1, §3): polls the control subscriptions, owns control
sessions, the catalog and recording subscriptions, creates recording and replay sessions and
closes them when the recorder/replayer hand them back."""

from __future__ import annotations

import os
import queue
import random
import shutil
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aeronpy.protocol import sbe
from aeronpy.archive.auth import DefaultAuthenticator
from aeronpy.archive.catalog import Catalog, CatalogEntry, checksum_function
from aeronpy.archive.channels import control_response_channel, strip_channel, subscription_key
from aeronpy.archive.codecs import (
    ARCHIVE_SCHEMA,
    SCHEMA_ID,
    BooleanType,
    ControlResponseCode,
    RecordingSignal,
    RecordingState,
    SourceLocation,
    T,
)
from aeronpy.archive.context import ArchiveContext
from aeronpy.archive.control_session import ControlSession, SessionState
from aeronpy.archive.counters import (
    CONTROL_SESSION_TYPE_ID,
    RECORDING_POSITION_TYPE_ID,
    recording_position_key,
    recording_position_label,
)
from aeronpy.archive.errors import ArchiveError, ErrorCode
from aeronpy.archive.recorder import Recorder, RecordingSession, RecordingWriter
from aeronpy.archive.replayer import Limit, Replayer, ReplaySession
from aeronpy.archive.segments import (
    list_segment_files,
    segment_file_base_position,
    segment_file_name,
)
from aeronpy.errors import AeronError, ConfigurationError, InvalidChannelError
from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
from aeronpy.protocol.data_header import HEADER_LENGTH
from aeronpy.uri import ChannelUri

__all__ = ["ArchiveConductor", "RecordingSubscription"]

INT64_MAX = (1 << 63) - 1
NULL_LENGTH = -1
REPLAY_ALL_AND_STOP = -2
MARK_FILE_UPDATE_INTERVAL_NS = 1_000_000_000


@dataclass(eq=False)
class RecordingSubscription:
    """A subscription the archive records every image of."""

    key: str
    registration_id: int
    channel: str  # as subscribed (may start aeron-spy:)
    original_channel: str
    stripped_channel: str
    stream_id: int
    control_session: ControlSession
    correlation_id: int
    auto_stop: bool
    extend_recording_id: int = -1
    subscription: Any = None
    ref_count: int = 1
    stopped: bool = False
    sessions: list[RecordingSession] = field(default_factory=list)


@dataclass(eq=False)
class PendingReplay:
    registration_id: int
    session: ControlSession
    correlation_id: int
    entry: CatalogEntry
    replay_position: int
    replay_limit: int
    limit: Limit
    buffer_length: int


class ArchiveConductor:
    """The conductor agent; also dispatches every control request."""

    def __init__(
        self,
        ctx: ArchiveContext,
        aeron: Any,
        catalog: Catalog,
        recorder: Recorder,
        replayer: Replayer,
        archive_id: int,
        mark_file: Any,
        error_handler: Callable[[BaseException], None],
        nano_clock: Callable[[], int],
        epoch_clock: Callable[[], int],
    ) -> None:
        self.ctx = ctx
        self.aeron = aeron
        self.catalog = catalog
        self.recorder = recorder
        self.replayer = replayer
        self.archive_id = archive_id
        self.mark_file = mark_file
        self.error_handler = error_handler
        self.nano_clock = nano_clock
        self.epoch_clock = epoch_clock
        self.authenticator = ctx.authenticator or DefaultAuthenticator()
        self.record_checksum = checksum_function(ctx.record_checksum)
        self.replay_checksum = checksum_function(ctx.replay_checksum)
        self.invoker = aeron.conductor_agent_invoker
        self.next_session_id = random.randrange(0, 1 << 31)
        self.next_replay_id = 1
        self.sessions: dict[int, ControlSession] = {}
        self.subscriptions: dict[str, RecordingSubscription] = {}
        self.pending_subscriptions: list[RecordingSubscription] = []
        self.pending_images: list[tuple[RecordingSubscription, Any]] = []
        self.recording_sessions: dict[int, RecordingSession] = {}
        self.pending_replays: list[PendingReplay] = []
        self.replay_sessions: dict[int, ReplaySession] = {}
        self.control_subscriptions: list[Any] = []
        self._assembler = FragmentAssembler(self._on_fragment)
        self._mark_deadline_ns = 0
        self.counters: dict[str, Any] = {}
        self.events: Any = None
        self.replications: dict[int, Any] = {}
        self.replay_tokens: dict[int, tuple[ControlSession, int, int]] = {}  # token -> session, recording, deadline
        self._closed = False

    # -- agent -----------------------------------------------------------------------------

    def role_name(self) -> str:
        return "archive-conductor"

    def on_start(self) -> None:
        if self.control_subscriptions:
            return  # already started (launch calls it before the agent thread does)
        ctx = self.ctx
        if ctx.control_channel_enabled and ctx.control_channel:
            ch = ChannelUri.parse(ctx.control_channel)
            if "sparse" not in ch.params:
                ch = ch.with_param("sparse", "true" if ctx.control_term_buffer_sparse else "false")
            self.control_subscriptions.append(self.aeron.add_subscription(str(ch), ctx.control_stream_id))
        self.control_subscriptions.append(
            self.aeron.add_subscription(ctx.local_control_channel, ctx.local_control_stream_id)
        )
        if ctx.recording_events_enabled and ctx.recording_events_channel:
            # A concurrent publication: the recorder thread sends progress, the conductor start/stop.
            self.events = self.aeron.add_publication(ctx.recording_events_channel, ctx.recording_events_stream_id)

    def on_close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for r in list(self.replications.values()):
            r.abort()  # its thread stops waiting and closes its source client
        for s in list(self.sessions.values()):
            s.close()
        self.sessions.clear()

    def do_work(self) -> int:
        work = 0
        if self.invoker is not None:
            work += self.invoker.invoke()
        now_ns = self.nano_clock()
        now_ms = self.epoch_clock()
        for sub in self.control_subscriptions:
            work += sub.poll(self._assembler.on_fragment, 10)
        work += self._process_pending_subscriptions()
        work += self._process_pending_images()
        work += self._process_pending_replays(now_ns)
        for session in list(self.sessions.values()):
            try:
                work += session.do_work(now_ns, now_ms)
            except Exception as e:  # an authenticator or a session bug must not stop the archive
                self.error_handler(e)
                session.abort(f"session error: {e}")
            if session.is_done:
                self._close_session(session)
        work += self._drain_closed()
        for replication in list(self.replications.values()):
            while True:
                try:
                    request = replication.requests.get_nowait()
                except queue.Empty:
                    break
                try:
                    request()
                except Exception as e:
                    self.error_handler(e)
                work += 1
        if now_ns >= self._mark_deadline_ns:
            self._mark_deadline_ns = now_ns + MARK_FILE_UPDATE_INTERVAL_NS
            self.mark_file.update_activity_timestamp(now_ms)
        return work

    # -- control requests ------------------------------------------------------------------

    def _on_fragment(self, buffer: Any, offset: int, length: int, header: Any) -> None:
        data = buffer.get_bytes(offset, length)
        image = header.context
        image_id = int(getattr(image, "correlation_id", -1))
        try:
            decoded = sbe.decode(ARCHIVE_SCHEMA, data)
        except sbe.CodecError as e:
            self.error_handler(AeronError(f"invalid control request from image {image_id}: {e}"))
            return
        if decoded is None:
            return  # unknown template ids are ignored
        try:
            self._dispatch(decoded, image, image_id)
        except Exception as e:
            self.error_handler(e)

    def _dispatch(self, d: sbe.Decoded, image: Any, image_id: int) -> None:
        name = d.spec.name
        if name == "AuthConnectRequest":
            self._on_connect(d, image, image_id)
            return
        if name in _NOT_REQUESTS:
            return  # responses, events and catalog blocks are not requests: ignored like unknown ids
        cs_id = d.get_int("control_session_id")
        session = self.sessions.get(cs_id)
        if session is None:
            return  # unknown control session: dropped without a response
        if name == "ChallengeResponse":
            if session.state is SessionState.CHALLENGED:
                session.correlation_id = d.get_int("correlation_id")
                self.authenticator.on_challenge_response(cs_id, d.get_bytes("encoded_credentials"), self.epoch_clock())
            return
        if session.image_id != image_id:
            if name in ("ReplayRequest", "BoundedReplayRequest") and self._token_allows(session, d, image):
                pass  # a replay through a response channel, sent on its own publication with a token
            else:
                return  # requests only from the image that connected
        if name == "CloseSessionRequest":
            session.abort("session closed")
            return
        if not session.activate():
            return
        service = self.ctx.authorisation_service
        if service is not None and not service(SCHEMA_ID, d.spec.template_id, session.encoded_principal):
            if "correlation_id" in d.values:
                session.error(d.get_int("correlation_id"), ErrorCode.UNAUTHORISED_ACTION, "unauthorised action")
            return
        handler = _HANDLERS.get(name)
        if handler is None:
            if name != "KeepAliveRequest":
                session.error(d.get_int("correlation_id") if "correlation_id" in d.values else -1, ErrorCode.GENERIC,
                              f"request {name} is not supported by this archive")
            return
        corr = d.get_int("correlation_id")
        try:
            handler(self, session, corr, d)
        except InvalidChannelError as e:
            session.error(corr, ErrorCode.GENERIC, str(e))
        except AeronError as e:
            session.error(corr, ErrorCode.GENERIC, str(e))

    def _on_connect(self, d: sbe.Decoded, image: Any, image_id: int) -> None:
        ctx = self.ctx
        channel = d.get_str("response_channel")
        stream_id = d.get_int("response_stream_id")
        try:
            uri = ChannelUri.parse(channel)
        except InvalidChannelError as e:
            self.error_handler(AeronError(f"connect request with invalid response channel: {e}"))
            return
        try:
            response_channel = control_response_channel(
                uri, ctx.control_term_buffer_length, ctx.control_term_buffer_sparse, ctx.control_mtu_length,
                None if image is None else image.correlation_id,
            )
        except ConfigurationError as e:
            self.error_handler(AeronError(f"connect request with invalid response channel: {e}"))
            return
        try:
            reg = self.aeron.async_add_exclusive_publication(response_channel, stream_id)
        except AeronError as e:
            self.error_handler(e)
            return
        cs_id = self.next_session_id
        self.next_session_id += 1
        session = ControlSession(
            self, cs_id, d.get_int("correlation_id"), image_id, reg, d.get_int("version"),
            d.get_str("client_info"), self.nano_clock(),
        )
        self.sessions[cs_id] = session
        self._count("control_sessions", 1)
        try:
            label = (f"control-session: {d.get_str('client_info')} sourceIdentity="
                     f"{getattr(image, 'source_identity', '')} sessionId={getattr(image, 'session_id', 0)} "
                     f"- archiveId={self.archive_id}")
            session.counter_registration_id = self.aeron.conductor.async_add_counter(
                CONTROL_SESSION_TYPE_ID, label[:380], struct.pack("<qq", self.archive_id, cs_id))
        except AeronError as e:
            self.error_handler(e)
        self.authenticator.on_connect_request(cs_id, d.get_bytes("encoded_credentials"), self.epoch_clock())

    def _token_allows(self, session: ControlSession, d: sbe.Decoded, image: Any) -> bool:
        token = d.int_or("replay_token", -1)
        entry = self.replay_tokens.get(token)
        if entry is None or entry[0] is not session or entry[1] != d.get_int("recording_id") or \
                self.nano_clock() > entry[2]:
            if token not in (-1, -(1 << 63)):
                session.error(d.get_int("correlation_id"), ErrorCode.GENERIC, "Unknown session or token timeout")
            return False
        del self.replay_tokens[token]
        channel = d.get_str("replay_channel")
        uri = ChannelUri.parse(channel)
        if uri.get("control-mode") == "response" and image is not None:
            d.values["replay_channel"] = str(uri.with_param("response-correlation-id", str(image.correlation_id)))
        return True

    def issue_replay_token(self, session: ControlSession, recording_id: int) -> int:
        now = self.nano_clock()
        for t, (_, _, deadline) in list(self.replay_tokens.items()):
            if now > deadline:
                del self.replay_tokens[t]
        while True:
            token = random.getrandbits(63)
            if token != -1 and token not in self.replay_tokens:
                break
        self.replay_tokens[token] = (session, recording_id, now + self.ctx.connect_timeout_ns)
        return token

    def _close_session(self, session: ControlSession) -> None:
        for t, entry in list(self.replay_tokens.items()):
            if entry[0] is session:
                del self.replay_tokens[t]
        self.sessions.pop(session.control_session_id, None)
        session.close()
        self._count("control_sessions", -1)
        reason = session.abort_reason or ""
        if reason and reason != "session closed" and "not connected" not in reason and "unavailable" not in reason:
            self.error_handler(AeronError(f"control session {session.control_session_id} aborted: {reason}"))

    def _count(self, name: str, delta: int) -> None:
        c = self.counters.get(name)
        if c is not None:
            c.get_and_add(delta)

    # -- recording -------------------------------------------------------------------------

    def _storage_ok(self) -> bool:
        try:
            return shutil.disk_usage(self.ctx.archive_dir).free > self.ctx.low_storage_space_threshold
        except OSError:
            return False

    def start_recording(self, session: ControlSession, corr: int, stream_id: int, location: int, auto_stop: bool,
                        channel: str, extend_recording_id: int = -1) -> None:
        if len(self.subscriptions) >= self.ctx.max_concurrent_recordings:
            session.error(corr, ErrorCode.MAX_RECORDINGS,
                          f"max concurrent recordings reached {self.ctx.max_concurrent_recordings}")
            return
        if not self._storage_ok():
            session.error(corr, ErrorCode.STORAGE_SPACE,
                          f"insufficient usable storage for new recording: threshold={self.ctx.low_storage_space_threshold}")
            return
        uri = ChannelUri.parse(channel)
        if uri.is_spy:
            uri = uri.without_prefix()
        key = subscription_key(stream_id, uri)
        if key in self.subscriptions:
            session.error(corr, ErrorCode.ACTIVE_SUBSCRIPTION,
                          f"recording exists for streamId={stream_id} channel={channel}")
            return
        stripped = strip_channel(uri)
        sub_channel = "aeron-spy:" + stripped if location == SourceLocation.LOCAL and uri.is_udp else stripped
        rs = RecordingSubscription(key, -1, sub_channel, channel, stripped, stream_id, session, corr, auto_stop,
                                   extend_recording_id)

        def on_available(image: Any) -> None:
            self.pending_images.append((rs, image))

        rs.registration_id = self.aeron.async_add_subscription(sub_channel, stream_id, on_available, None)
        self.pending_subscriptions.append(rs)
        self.subscriptions[key] = rs  # listed and stoppable while the driver adds it
        session.ok(corr, rs.registration_id)

    def _process_pending_subscriptions(self) -> int:
        work = 0
        for rs in list(self.pending_subscriptions):
            try:
                sub = self.aeron.get_subscription(rs.registration_id)
            except AeronError as e:
                self.pending_subscriptions.remove(rs)
                if self.subscriptions.get(rs.key) is rs:
                    del self.subscriptions[rs.key]
                rs.control_session.error(rs.correlation_id, ErrorCode.GENERIC, str(e))
                work += 1
                continue
            if sub is not None:
                rs.subscription = sub
                self.pending_subscriptions.remove(rs)
                if rs.stopped and rs.ref_count <= 0:
                    sub.close()
                    rs.subscription = None
                work += 1
        return work

    def _process_pending_images(self) -> int:
        if not self.pending_images:
            return 0
        images, self.pending_images = self.pending_images, []
        for rs, image in images:
            if rs.stopped:
                continue
            try:
                if rs.extend_recording_id >= 0:
                    self._extend_recording_session(rs, image)
                else:
                    self._new_recording_session(rs, image)
            except Exception as e:
                self.error_handler(e)
                rs.control_session.error(rs.correlation_id, ErrorCode.GENERIC, f"failed to start recording: {e}")
        return len(images)

    def _new_recording_session(self, rs: RecordingSubscription, image: Any) -> None:
        ctx = self.ctx
        term_length = int(image.term_buffer_length)
        segment_length = max(ctx.segment_file_length, term_length)
        join = int(image.join_position)
        recording_id = self.catalog.add_recording(
            join, self.epoch_clock(), int(image.initial_term_id), segment_length, term_length, int(image.mtu_length),
            int(image.session_id), rs.stream_id, rs.stripped_channel, rs.original_channel, str(image.source_identity),
        )
        self._start_session(rs, image, recording_id, join, join, segment_length, RecordingSignal.START)

    def _extend_recording_session(self, rs: RecordingSubscription, image: Any) -> None:
        e = self.catalog.get(rs.extend_recording_id)
        corr = rs.correlation_id
        session = rs.control_session
        if e is None:
            session.error(corr, ErrorCode.UNKNOWN_RECORDING, f"unknown recording id: {rs.extend_recording_id}")
            return
        if e.recording_id in self.recording_sessions:
            session.error(corr, ErrorCode.ACTIVE_RECORDING, f"cannot extend active recording {e.recording_id}")
            return
        join = int(image.join_position)
        mismatch = []
        if join != e.stop_position:
            mismatch.append(f"joinPosition={join} != stopPosition={e.stop_position}")
        if int(image.initial_term_id) != e.initial_term_id:
            mismatch.append(f"initialTermId={image.initial_term_id} != {e.initial_term_id}")
        if int(image.term_buffer_length) != e.term_buffer_length:
            mismatch.append(f"termBufferLength={image.term_buffer_length} != {e.term_buffer_length}")
        if int(image.mtu_length) != e.mtu_length:
            mismatch.append(f"mtuLength={image.mtu_length} != {e.mtu_length}")
        if mismatch:
            session.error(corr, ErrorCode.INVALID_EXTENSION, "cannot extend recording " + ", ".join(mismatch))
            if rs.auto_stop:
                self._remove_subscription(rs)
            return
        self.catalog.extend_recording(e.recording_id, session.control_session_id, corr, int(image.session_id))
        self._start_session(rs, image, e.recording_id, e.start_position, join, e.segment_file_length,
                            RecordingSignal.EXTEND)

    def _start_session(self, rs: RecordingSubscription, image: Any, recording_id: int, start: int, join: int,
                       segment_length: int, signal: RecordingSignal) -> None:
        ctx = self.ctx
        counter = self.aeron.add_counter(
            RECORDING_POSITION_TYPE_ID,
            recording_position_label(recording_id, int(image.session_id), rs.stream_id, rs.stripped_channel,
                                     self.archive_id),
            recording_position_key(recording_id, int(image.session_id), str(image.source_identity), self.archive_id),
        )
        writer = RecordingWriter(ctx.archive_dir, recording_id, start, join, int(image.term_buffer_length),
                                 segment_length, ctx.file_sync_level, self.record_checksum)
        session = RecordingSession(recording_id, image, writer, counter, ctx.file_io_max_length, rs,
                                   rs.correlation_id, rs.control_session)
        rs.ref_count += 1
        rs.sessions.append(session)
        self.recording_sessions[recording_id] = session
        self._count("recording_sessions", 1)
        rs.control_session.signal(rs.correlation_id, recording_id, rs.registration_id, join, signal)
        if self.events is not None:
            session.events = self.events
            self.events.offer(sbe.encode(
                T.RecordingStarted, recording_id=recording_id, start_position=join, session_id=int(image.session_id),
                stream_id=rs.stream_id, channel=rs.original_channel, source_identity=str(image.source_identity),
            ))
        self.recorder.added.put(session)

    def _remove_subscription(self, rs: RecordingSubscription) -> None:
        rs.stopped = True
        if self.subscriptions.get(rs.key) is rs:
            del self.subscriptions[rs.key]
        self._release(rs)

    def _release(self, rs: RecordingSubscription) -> None:
        rs.ref_count -= 1
        if rs.ref_count <= 0 and rs.subscription is not None:
            rs.subscription.close()
            rs.subscription = None

    def stop_recording_subscription(self, rs: RecordingSubscription) -> None:
        for s in rs.sessions:
            s.abort()
        self._remove_subscription(rs)

    def _drain_closed(self) -> int:
        work = 0
        while True:
            try:
                rec = self.recorder.closed.get_nowait()
            except queue.Empty:
                break
            work += 1
            self._on_recording_closed(rec)
        while True:
            try:
                rep = self.replayer.closed.get_nowait()
            except queue.Empty:
                break
            work += 1
            self.replay_sessions.pop(rep.replay_session_id, None)
            self._count("replay_sessions", -1)
            if rep.error is not None:
                rep.control_session.error(rep.correlation_id, rep.error_code, rep.error)
        return work

    def _on_recording_closed(self, rec: RecordingSession) -> None:
        self.recording_sessions.pop(rec.recording_id, None)
        self._count("recording_sessions", -1)
        if self.catalog.has_recording(rec.recording_id):
            self.catalog.recording_stopped(rec.recording_id, rec.recorded_position, self.epoch_clock())
        try:
            rec.position_counter.close()
        except Exception:
            pass
        rs: RecordingSubscription = rec.subscription
        replication = self.replications.get(rec.correlation_id)
        if replication is not None and replication.dst_recording_id == rec.recording_id:
            replication.recorded_position = rec.recorded_position
            replication.recording_closed.set()
        if rec in rs.sessions:
            rs.sessions.remove(rec)
        if rec.error is not None:
            rs.control_session.error(rec.correlation_id, rec.error_code, rec.error)
        rs.control_session.signal(rec.correlation_id, rec.recording_id, rs.registration_id, rec.recorded_position,
                                  RecordingSignal.STOP)
        if self.events is not None:
            self.events.offer(sbe.encode(T.RecordingStopped, recording_id=rec.recording_id,
                                         start_position=rec.join_position, stop_position=rec.recorded_position))
        if rs.auto_stop and not rs.stopped:
            self._remove_subscription(rs)
        self._release(rs)

    # -- replay ----------------------------------------------------------------------------

    def start_replay(self, session: ControlSession, corr: int, recording_id: int, position: int, length: int,
                     replay_stream_id: int, file_io_max_length: int, channel: str, limit_counter_id: int = -1) -> None:
        ctx = self.ctx
        if len(self.replay_sessions) + len(self.pending_replays) >= ctx.max_concurrent_replays:
            session.error(corr, ErrorCode.MAX_REPLAYS, f"max concurrent replays reached {ctx.max_concurrent_replays}")
            return
        e = self.catalog.get(recording_id)
        if e is None:
            session.error(corr, ErrorCode.UNKNOWN_RECORDING, f"unknown recording id: {recording_id}")
            return
        active = self.recording_sessions.get(recording_id)
        limit: Limit
        if limit_counter_id >= 0:
            reader = self.aeron.counters_reader
            try:
                reader.get_counter_value(limit_counter_id)
            except Exception:
                session.error(corr, ErrorCode.GENERIC, f"unable to create replay limit counter id= {limit_counter_id}")
                return

            def limit() -> tuple[int, bool]:
                return int(reader.get_counter_value(limit_counter_id)), reader.get_counter_state(limit_counter_id) != 1

            limit_position = limit()[0]
        elif active is not None:
            rec = active

            def limit() -> tuple[int, bool]:
                return rec.recorded_position, rec.done

            limit_position = active.recorded_position
        else:
            stop = e.stop_position

            def limit() -> tuple[int, bool]:
                return stop, True

            limit_position = -1
        replay_position = e.start_position if position == -1 else position
        if position != -1:
            if position & 31:
                session.error(corr, ErrorCode.GENERIC, f"requested replay start position={position} is not a multiple of "
                              "FRAME_ALIGNMENT (32)")
                return
            if position < e.start_position:
                session.error(corr, ErrorCode.INVALID_POSITION,
                              f"requested replay start position={position} is less than recording start position="
                              f"{e.start_position} for recording {recording_id}")
                return
            if active is None and limit_counter_id < 0 and position >= e.stop_position:
                session.error(corr, ErrorCode.INVALID_POSITION,
                              f"requested replay start position={position} must be less than highest recorded "
                              f"position={e.stop_position} for recording {recording_id}")
                return
        buffer_length = ctx.file_io_max_length
        if file_io_max_length > 0:
            if file_io_max_length < e.mtu_length:
                session.error(corr, ErrorCode.GENERIC, f"fileIoMaxLength={file_io_max_length} < mtuLength={e.mtu_length}")
                return
            buffer_length = min(buffer_length, file_io_max_length)
        if limit_position >= 0 and replay_position > limit_position:
            session.error(corr, ErrorCode.INVALID_POSITION,
                          f"requested replay start position={replay_position} must be less than the limit position="
                          f"{limit_position} for recording {recording_id}")
            return
        following = active is not None or limit_counter_id >= 0
        if length == NULL_LENGTH or length == INT64_MAX:
            replay_limit = INT64_MAX if following else e.stop_position
        elif length == REPLAY_ALL_AND_STOP:
            replay_limit = limit_position if following else e.stop_position
            if replay_limit <= replay_position:
                session.error(corr, ErrorCode.EMPTY_RECORDING, f"no data to replay for recording {recording_id}")
                return
        elif length > 0:
            end = replay_position + length if length <= INT64_MAX - replay_position else INT64_MAX
            replay_limit = end if following else min(end, e.stop_position)
        else:
            session.error(corr, ErrorCode.GENERIC, f"replay length must be positive: {length}")
            return
        uri = ChannelUri.parse(channel)
        params = dict(ChannelUri.parse(strip_channel(uri)).params)
        bits = e.term_buffer_length.bit_length() - 1
        term_id = _i32(e.initial_term_id + (replay_position >> bits))
        params["init-term-id"] = str(e.initial_term_id)
        params["term-id"] = str(term_id)
        params["term-offset"] = str(replay_position & (e.term_buffer_length - 1))
        params["term-length"] = str(e.term_buffer_length)
        params["mtu"] = str(e.mtu_length)
        for k in ("eos", "sparse"):
            if k in uri.params:
                params[k] = uri.params[k]
        params["linger"] = uri.params.get("linger", f"{ctx.replay_linger_timeout_ns}ns")
        pub_channel = str(ChannelUri("", uri.media, params))
        reg = self.aeron.async_add_exclusive_publication(pub_channel, replay_stream_id)
        self.pending_replays.append(PendingReplay(reg, session, corr, e, replay_position, replay_limit, limit,
                                                  buffer_length))

    def _process_pending_replays(self, now_ns: int) -> int:
        work = 0
        for p in list(self.pending_replays):
            try:
                pub = self.aeron.get_exclusive_publication(p.registration_id)
            except AeronError as ex:
                self.pending_replays.remove(p)
                p.session.error(p.correlation_id, ErrorCode.GENERIC, f"failed to create replay publication: {ex}")
                work += 1
                continue
            if pub is None:
                continue
            self.pending_replays.remove(p)
            work += 1
            e = p.entry
            error = self._check_replay_position(e, p.replay_position)
            if error is not None:
                pub.revoke()
                p.session.error(p.correlation_id, ErrorCode.INVALID_POSITION, error)
                continue
            replay_session_id = (self.next_replay_id << 32) | (int(pub.session_id) & 0xFFFFFFFF)
            self.next_replay_id += 1
            rs = ReplaySession(
                replay_session_id, p.correlation_id, p.session, pub, self.ctx.archive_dir, e.recording_id,
                e.start_position, p.replay_position, p.replay_limit, p.limit, e.term_buffer_length,
                e.segment_file_length, p.buffer_length, now_ns + self.ctx.connect_timeout_ns, self.nano_clock,
                self.replay_checksum,
            )
            self.replay_sessions[replay_session_id] = rs
            self._count("replay_sessions", 1)
            p.session.ok(p.correlation_id, replay_session_id)
            self.replayer.added.put(rs)
        return work

    def _check_replay_position(self, e: CatalogEntry, position: int) -> str | None:
        if position == e.start_position or position == e.stop_position:
            return None
        base = segment_file_base_position(e.start_position, position, e.term_buffer_length, e.segment_file_length)
        path = os.path.join(self.ctx.archive_dir, segment_file_name(e.recording_id, base))
        try:
            with open(path, "rb") as f:
                f.seek(position - base)
                hdr = f.read(HEADER_LENGTH)
        except OSError:
            return None  # the recording may not have written it yet; the replayer will wait or fail
        if len(hdr) < HEADER_LENGTH or not any(hdr):
            return None
        term_offset = int.from_bytes(hdr[8:12], "little", signed=True)
        if term_offset != position & (e.term_buffer_length - 1):
            return f"requested replay start position={position} does not point to a valid frame"
        return None

    # -- replication -----------------------------------------------------------------------

    def replicate(self, session: ControlSession, corr: int, d: sbe.Decoded) -> None:
        from aeronpy.archive.replication import ReplicationSession

        v = d.values
        dst = d.get_int("dst_recording_id")
        live_destination = str(v.get("live_destination") or "")
        channel_tag = d.int_or("channel_tag_id", -1)
        subscription_tag = d.int_or("subscription_tag_id", -1)
        channel_tag = -1 if channel_tag == _NULL64 else channel_tag
        subscription_tag = -1 if subscription_tag == _NULL64 else subscription_tag
        replication_channel = str(v.get("replication_channel") or "") or (self.ctx.replication_channel or "")
        if not replication_channel:
            session.error(corr, ErrorCode.GENERIC, "no replication channel: set aeron.archive.replication.channel")
            return
        replication_uri = ChannelUri.parse(replication_channel)
        if replication_uri.get("control-mode") == "response":
            if live_destination:
                session.error(corr, ErrorCode.GENERIC, "response channels can't be used with live destinations")
                return
            if channel_tag != -1 or subscription_tag != -1:
                session.error(corr, ErrorCode.GENERIC, "response channels can't be used with tagged replication")
                return
        if live_destination:
            ChannelUri.parse(live_destination)
        if (live_destination or channel_tag != -1 or subscription_tag != -1) and not replication_uri.is_udp:
            session.error(corr, ErrorCode.GENERIC,
                          f"tagged or live merge replication needs a UDP replication channel: {replication_channel}")
            return
        if dst != -1:
            if not self.catalog.has_recording(dst):
                session.error(corr, ErrorCode.UNKNOWN_RECORDING, f"unknown destination recording id {dst}")
                return
            if dst in self.recording_sessions:
                session.error(corr, ErrorCode.ACTIVE_RECORDING, f"cannot replicate to active recording {dst}")
                return
        src_channel = d.get_str("src_control_channel")
        ChannelUri.parse(src_channel)
        response = str(v.get("src_response_channel") or "") or self._replication_response_channel(src_channel)
        stop = d.int_or("stop_position", -1)
        rsid = d.int_or("replication_session_id", -1)
        file_io = d.int_or("file_io_max_length", -1)
        replication_id = self.next_session_id
        self.next_session_id += 1
        r = ReplicationSession(
            self, session, replication_id, d.get_int("src_recording_id"), dst, -1 if stop == _NULL64 else stop,
            src_channel, d.get_int("src_control_stream_id"), response, replication_channel,
            -1 if rsid == -(1 << 31) else rsid, bytes(v.get("encoded_credentials", b"") or b""),  # type: ignore[arg-type]
            channel_tag, subscription_tag, live_destination, -1 if file_io in (0, -(1 << 31)) else file_io,
        )
        self.replications[replication_id] = r
        session.ok(corr, replication_id)
        r.start()

    def _replication_response_channel(self, src_channel: str) -> str:
        """Where the source archive answers, as Aeron's archive client context: this archive's
        own control channel host with port 0 (it must be reachable from the source); without a
        UDP control channel, IPC for an IPC source, else the source's host (one machine)."""
        ctx = self.ctx
        if ctx.control_channel_enabled and ctx.control_channel:
            endpoint = ChannelUri.parse(ctx.control_channel).get("endpoint") or ""
            if ":" in endpoint:
                return f"aeron:udp?endpoint={endpoint.rsplit(':', 1)[0]}:0"
        src = ChannelUri.parse(src_channel)
        if src.is_udp and src.get("endpoint"):
            return f"aeron:udp?endpoint={(src.get('endpoint') or 'localhost:0').rsplit(':', 1)[0]}:0"
        return "aeron:ipc"

    def replication_destination(self, r: Any, d: Any) -> tuple[int, int]:
        """Conductor side: create (or check) the destination entry; returns (dstId, dstStop)."""
        if r.dst_recording_id == -1:
            dst = self.catalog.add_recording(
                d.start_position, d.start_timestamp, d.initial_term_id, d.segment_file_length, d.term_buffer_length,
                d.mtu_length, d.session_id, d.stream_id, d.stripped_channel, d.original_channel, d.source_identity,
                stop_position=d.start_position, stop_timestamp=d.start_timestamp,
            )
            r.session.signal(r.replication_id, dst, -1, d.start_position, RecordingSignal.REPLICATE)
            return dst, d.start_position
        e = self.catalog.entry(r.dst_recording_id)
        if e.start_position == e.stop_position:  # empty: takes every parameter of the source
            self.catalog.replace_recording(
                e.recording_id, start_position=d.start_position, stop_position=d.start_position,
                start_timestamp=d.start_timestamp, stop_timestamp=d.start_timestamp, initial_term_id=d.initial_term_id,
                segment_file_length=d.segment_file_length, term_buffer_length=d.term_buffer_length,
                mtu_length=d.mtu_length, session_id=d.session_id, stream_id=d.stream_id,
                stripped_channel=d.stripped_channel, original_channel=d.original_channel,
                source_identity=d.source_identity,
            )
            return e.recording_id, d.start_position
        if (e.initial_term_id, e.term_buffer_length, e.mtu_length, e.stream_id) != (
                d.initial_term_id, d.term_buffer_length, d.mtu_length, d.stream_id):
            raise ArchiveError(f"destination recording {e.recording_id} does not match source {d.recording_id}",
                                ErrorCode.INVALID_EXTENSION)
        return e.recording_id, e.stop_position

    def replication_extend(self, r: Any, dst: int, channel: str, stream_id: int) -> RecordingSubscription:
        """Conductor side: the extend-recording subscription the replay will arrive on."""
        before = set(self.subscriptions.values())
        self.start_recording(r.session, r.replication_id, stream_id, SourceLocation.REMOTE, True, channel, dst)
        added = [rs for rs in self.subscriptions.values() if rs not in before]
        if not added:
            raise ArchiveError("failed to add the replication subscription", ErrorCode.GENERIC)
        return added[0]

    # -- maintenance -----------------------------------------------------------------------

    def truncate(self, session: ControlSession, corr: int, recording_id: int, position: int, purge: bool) -> None:
        e = self.catalog.get(recording_id)
        if e is None:
            session.error(corr, ErrorCode.UNKNOWN_RECORDING, f"unknown recording id: {recording_id}")
            return
        if recording_id in self.recording_sessions or e.is_active:
            session.error(corr, ErrorCode.ACTIVE_RECORDING, f"cannot truncate/purge active recording {recording_id}")
            return
        if purge and any(r.recording_id == recording_id for r in self.replay_sessions.values()):
            session.error(corr, ErrorCode.ACTIVE_RECORDING, f"cannot purge recording {recording_id} with active replays")
            return
        if purge:
            position = e.start_position
        elif position < e.start_position or position > e.stop_position or position & 31:
            session.error(corr, ErrorCode.INVALID_POSITION,
                          f"invalid truncate position {position}: start={e.start_position} stop={e.stop_position}")
            return
        for r in self.replay_sessions.values():
            if r.recording_id == recording_id:
                r.abort()
        archive_dir = self.ctx.archive_dir
        bases = list_segment_files(archive_dir, recording_id)
        to_delete: list[str] = []
        if position == e.start_position:
            to_delete = [segment_file_name(recording_id, b) for b in bases]
        else:
            seg = e.segment_file_length
            base = segment_file_base_position(e.start_position, position, e.term_buffer_length, seg)
            offset = position - base
            path = os.path.join(archive_dir, segment_file_name(recording_id, base))
            if offset > 0 and position != e.stop_position and os.path.exists(path):
                with open(path, "r+b") as f:
                    f.seek(offset)
                    hdr = f.read(HEADER_LENGTH)
                    if len(hdr) < HEADER_LENGTH or int.from_bytes(hdr[8:12], "little", signed=True) != (
                        position & (e.term_buffer_length - 1)
                    ):
                        session.error(corr, ErrorCode.GENERIC,
                                      f"invalid truncate position {position}: position not aligned to a data header")
                        return
                    f.truncate(offset)
                    f.truncate(seg)
            elif offset == 0:
                to_delete.append(segment_file_name(recording_id, base))
            to_delete += [segment_file_name(recording_id, b) for b in bases if b > base]
        if purge:
            self.catalog.change_state(recording_id, RecordingState.DELETED)
        else:
            self.catalog.update_stop_position(recording_id, position)
        session.ok(corr, len(to_delete))
        for name in to_delete:
            try:
                os.remove(os.path.join(archive_dir, name))
            except FileNotFoundError:
                pass
            except OSError as ex:
                session.error(corr, ErrorCode.GENERIC, f"unable to delete segment file {name}: {ex}")
        session.signal(corr, recording_id, -1, -1, RecordingSignal.DELETE)

    def _segment_start_error(self, e: CatalogEntry, new_start: int) -> str | None:
        seg, tl = e.segment_file_length, e.term_buffer_length
        first = segment_file_base_position(e.start_position, e.start_position, tl, seg)
        if segment_file_base_position(e.start_position, new_start, tl, seg) != new_start:
            return f"invalid segment start: newStartPosition={new_start}"
        if new_start < first + seg:
            return f"invalid detach: newStartPosition={new_start} lower than first segment end {first + seg}"
        active = self.recording_sessions.get(e.recording_id)
        end = active.recorded_position if active is not None else e.stop_position
        if new_start > segment_file_base_position(e.start_position, max(end, e.start_position), tl, seg):
            return f"invalid detach: in use, newStartPosition={new_start} stopPosition={end}"
        for r in self.replay_sessions.values():
            if r.recording_id == e.recording_id and r.position < new_start:
                return f"invalid detach: replay in progress, replay position={r.position}"
        return None

    def detach_segments(self, session: ControlSession, corr: int, recording_id: int, new_start: int,
                        delete: bool) -> None:
        e = self.catalog.get(recording_id)
        if e is None:
            session.error(corr, ErrorCode.UNKNOWN_RECORDING, f"unknown recording id: {recording_id}")
            return
        problem = self._segment_start_error(e, new_start)
        if problem is not None:
            session.error(corr, ErrorCode.GENERIC, problem)
            return
        self.catalog.update_start_position(recording_id, new_start)
        if delete:
            self._delete_below(session, corr, recording_id, new_start)
        else:
            session.ok(corr, 0)

    def delete_detached_segments(self, session: ControlSession, corr: int, recording_id: int) -> None:
        e = self.catalog.get(recording_id)
        if e is None:
            session.error(corr, ErrorCode.UNKNOWN_RECORDING, f"unknown recording id: {recording_id}")
            return
        base = segment_file_base_position(e.start_position, e.start_position, e.term_buffer_length,
                                          e.segment_file_length)
        self._delete_below(session, corr, recording_id, base)

    def _delete_below(self, session: ControlSession, corr: int, recording_id: int, base: int) -> None:
        names = [segment_file_name(recording_id, b) for b in list_segment_files(self.ctx.archive_dir, recording_id)
                 if b < base]
        session.ok(corr, len(names))
        for name in names:
            try:
                os.remove(os.path.join(self.ctx.archive_dir, name))
            except FileNotFoundError:
                pass
            except OSError as ex:
                session.error(corr, ErrorCode.GENERIC, f"unable to delete segment file {name}: {ex}")
        session.signal(corr, recording_id, -1, -1, RecordingSignal.DELETE)

    def attach_segments(self, session: ControlSession, corr: int, recording_id: int) -> None:
        e = self.catalog.get(recording_id)
        if e is None:
            session.error(corr, ErrorCode.UNKNOWN_RECORDING, f"unknown recording id: {recording_id}")
            return
        seg, tl = e.segment_file_length, e.term_buffer_length
        bits = tl.bit_length() - 1
        start = e.start_position
        pos = segment_file_base_position(start, start, tl, seg) - seg
        attached = 0
        while pos >= 0:
            path = os.path.join(self.ctx.archive_dir, segment_file_name(recording_id, pos))
            if not os.path.exists(path):
                break
            if os.path.getsize(path) != seg:
                session.error(corr, ErrorCode.GENERIC, f"segment file {path} has the wrong length")
                return
            with open(path, "rb") as f:
                term = f.read(tl)
            offset = 0
            while offset + HEADER_LENGTH <= len(term) and int.from_bytes(term[offset : offset + 4], "little",
                                                                         signed=True) == 0:
                offset += 32
            if offset + HEADER_LENGTH > len(term):
                break
            term_id = int.from_bytes(term[offset + 20 : offset + 24], "little", signed=True)
            stream_id = int.from_bytes(term[offset + 16 : offset + 20], "little", signed=True)
            if term_id != _i32(e.initial_term_id + (pos >> bits)) or stream_id != e.stream_id:
                session.error(corr, ErrorCode.GENERIC, f"segment file {path} does not belong to recording "
                              f"{recording_id}: termId={term_id} streamId={stream_id}")
                return
            attached += 1
            start = pos + offset
            if offset != 0:
                break
            pos -= seg
        if attached:
            self.catalog.update_start_position(recording_id, start)
        session.ok(corr, attached)

    def migrate_segments(self, session: ControlSession, corr: int, src_id: int, dst_id: int) -> None:
        src, dst = self.catalog.get(src_id), self.catalog.get(dst_id)
        for rid, e in ((src_id, src), (dst_id, dst)):
            if e is None:
                session.error(corr, ErrorCode.UNKNOWN_RECORDING, f"unknown recording id: {rid}")
                return
        assert src is not None and dst is not None
        if src_id in self.recording_sessions or src.is_active or dst_id in self.recording_sessions or dst.is_active:
            session.error(corr, ErrorCode.ACTIVE_RECORDING, "cannot migrate segments of an active recording")
            return
        for name in ("segment_file_length", "term_buffer_length", "initial_term_id", "stream_id", "mtu_length"):
            if getattr(src, name) != getattr(dst, name):
                session.error(corr, ErrorCode.GENERIC, f"invalid migrate: {name} differs: src={getattr(src, name)} "
                              f"dst={getattr(dst, name)}")
                return
        tl, seg = src.term_buffer_length, src.segment_file_length
        if src.stop_position == dst.start_position:
            seam, prepend = src.stop_position, True
        elif src.start_position == dst.stop_position:
            seam, prepend = src.start_position, False
        else:
            session.error(corr, ErrorCode.GENERIC, f"invalid migrate: recordings {src_id} and {dst_id} are not "
                          "contiguous")
            return
        for e in (src, dst):
            if segment_file_base_position(e.start_position, seam, tl, seg) != seam:
                session.error(corr, ErrorCode.GENERIC, f"invalid migrate: position {seam} is not segment aligned "
                              f"in recording {e.recording_id}")
                return
        adir = self.ctx.archive_dir
        bases = list_segment_files(adir, src_id)
        needed = []
        if src.stop_position > src.start_position:
            first = segment_file_base_position(src.start_position, src.start_position, tl, seg)
            last = segment_file_base_position(src.start_position, src.stop_position - 1, tl, seg)
            needed = list(range(first, last + 1, seg))
        missing = [b for b in needed if b not in bases]
        if missing:
            session.error(corr, ErrorCode.GENERIC, f"invalid migrate: segment {segment_file_name(src_id, missing[0])} "
                          "is missing")
            return
        taken = [b for b in needed if os.path.exists(os.path.join(adir, segment_file_name(dst_id, b)))]
        if taken:
            session.error(corr, ErrorCode.GENERIC, f"invalid migrate: {segment_file_name(dst_id, taken[0])} exists")
            return
        for b in bases:
            if b not in needed:  # e.g. an empty segment exactly at the source's stop position
                os.remove(os.path.join(adir, segment_file_name(src_id, b)))
        for b in needed:
            os.rename(os.path.join(adir, segment_file_name(src_id, b)), os.path.join(adir, segment_file_name(dst_id, b)))
        if prepend:
            self.catalog.update_start_position(dst_id, src.start_position)
        else:
            self.catalog.update_stop_position(dst_id, src.stop_position)
        self.catalog.update_stop_position(src_id, src.start_position)
        session.ok(corr, len(needed))
        session.signal(corr, src_id, -1, -1, RecordingSignal.DELETE)

    # -- listings --------------------------------------------------------------------------

    def descriptor_message(self, session: ControlSession, corr: int, recording_id: int) -> bytes:
        body = self.catalog.descriptor_bytes(recording_id)
        head = sbe.HEADER.pack(T.RecordingDescriptor.block_length, T.RecordingDescriptor.template_id, SCHEMA_ID,
                               T.RecordingDescriptor.version)
        return (head + session.control_session_id.to_bytes(8, "little", signed=True)
                + corr.to_bytes(8, "little", signed=True) + body[16:])

    def listing(self, session: ControlSession, corr: int, from_id: int, count: int,
                match: Callable[[CatalogEntry], bool] | None) -> Iterator[bytes]:
        sent = 0
        next_id = max(from_id, 0)
        for rid in self.catalog.recording_ids():
            if rid < from_id:
                continue
            next_id = rid + 1
            e = self.catalog.get(rid)
            if e is None or (match is not None and not match(e)):
                continue
            yield self.descriptor_message(session, corr, rid)
            sent += 1
            if sent >= count:
                return
        yield session._response(corr, next_id, ControlResponseCode.RECORDING_UNKNOWN, "")


_NULL64 = -(1 << 63)


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


# -- request handlers (one per template) --------------------------------------------------

Handler = Callable[[ArchiveConductor, ControlSession, int, sbe.Decoded], None]


def _require_entry(c: ArchiveConductor, s: ControlSession, corr: int, recording_id: int) -> CatalogEntry | None:
    e = c.catalog.get(recording_id)
    if e is None:
        s.error(corr, ErrorCode.UNKNOWN_RECORDING, f"unknown recording id: {recording_id}")
    return e


def _archive_id(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    s.ok(corr, c.archive_id)


def _start_recording(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    auto = d.values.get("auto_stop", BooleanType.FALSE) == BooleanType.TRUE
    c.start_recording(s, corr, d.get_int("stream_id"), d.get_int("source_location"), auto, d.get_str("channel"))


def _extend_recording(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    rid = d.get_int("recording_id")
    entry = _require_entry(c, s, corr, rid)
    if entry is None:
        return
    if entry.stream_id != d.get_int("stream_id"):
        s.error(corr, ErrorCode.UNKNOWN_RECORDING, f"cannot extend recording {rid} with streamId={d.get_int('stream_id')}"
                f" for existing streamId={entry.stream_id}")
        return
    if rid in c.recording_sessions:
        s.error(corr, ErrorCode.ACTIVE_RECORDING, f"cannot extend active recording {rid}")
        return
    auto = d.values.get("auto_stop", BooleanType.FALSE) == BooleanType.TRUE
    c.start_recording(s, corr, d.get_int("stream_id"), d.get_int("source_location"), auto, d.get_str("channel"), rid)


def _stop_recording(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    uri = ChannelUri.parse(d.get_str("channel"))
    if uri.is_spy:
        uri = uri.without_prefix()
    rs = c.subscriptions.get(subscription_key(d.get_int("stream_id"), uri))
    if rs is None:
        s.error(corr, ErrorCode.UNKNOWN_SUBSCRIPTION, f"no recording found for streamId={d.get_int('stream_id')} "
                f"channel={d.get_str('channel')}")
        return
    c.stop_recording_subscription(rs)
    s.ok(corr, 0)


def _stop_recording_subscription(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    sid = d.get_int("subscription_id")
    for rs in list(c.subscriptions.values()):
        if rs.registration_id == sid:
            c.stop_recording_subscription(rs)
            s.ok(corr, 0)
            return
    s.error(corr, ErrorCode.UNKNOWN_SUBSCRIPTION, f"no recording subscription found for subscriptionId={sid}")


def _stop_recording_by_identity(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    rid = d.get_int("recording_id")
    if _require_entry(c, s, corr, rid) is None:
        return
    rec = c.recording_sessions.get(rid)
    if rec is None:
        s.ok(corr, 0)
        return
    rec.abort()
    rs: RecordingSubscription = rec.subscription
    removed = 0
    if not rs.stopped:
        c._remove_subscription(rs)
        removed = 1
    s.ok(corr, removed)


def _list_recordings(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    if s.listing is not None:
        s.error(corr, ErrorCode.ACTIVE_LISTING, "active listing already in progress")
        return
    count = d.get_int("record_count")
    if count <= 0:
        return
    s.listing = c.listing(s, corr, d.get_int("from_recording_id"), count, None)


def _list_recordings_for_uri(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    if s.listing is not None:
        s.error(corr, ErrorCode.ACTIVE_LISTING, "active listing already in progress")
        return
    count = d.get_int("record_count")
    if count <= 0:
        return
    stream_id = d.get_int("stream_id")
    fragment = d.get_str("channel")
    s.listing = c.listing(s, corr, d.get_int("from_recording_id"), count,
                          lambda e: e.stream_id == stream_id and fragment in e.original_channel)


def _list_recording(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    if s.listing is not None:
        s.error(corr, ErrorCode.ACTIVE_LISTING, "active listing already in progress")
        return
    rid = d.get_int("recording_id")
    if c.catalog.has_recording(rid):
        s.send(c.descriptor_message(s, corr, rid))
    else:
        s.recording_unknown(corr, rid)


def _list_recording_subscriptions(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    if s.listing is not None:
        s.error(corr, ErrorCode.ACTIVE_LISTING, "active listing already in progress")
        return
    index, count = d.get_int("pseudo_index"), d.get_int("subscription_count")
    subs = list(c.subscriptions.values())
    if index < 0 or index >= len(subs) or count <= 0:
        s.subscription_unknown(corr)
        return
    apply = d.get_int("apply_stream_id") == BooleanType.TRUE
    stream_id, fragment = d.get_int("stream_id"), d.get_str("channel")
    sent = 0
    for rs in subs[index:]:
        if (not apply or rs.stream_id == stream_id) and fragment in rs.channel:
            s.send(sbe.encode(T.RecordingSubscriptionDescriptor, control_session_id=s.control_session_id,
                              correlation_id=corr, subscription_id=rs.registration_id, stream_id=rs.stream_id,
                              stripped_channel=rs.channel))
            sent += 1
            if sent >= count:
                return
    s.subscription_unknown(corr)


def _position(kind: str) -> Handler:
    def handle(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
        rid = d.get_int("recording_id")
        e = _require_entry(c, s, corr, rid)
        if e is None:
            return
        active = c.recording_sessions.get(rid)
        if kind == "start":
            s.ok(corr, e.start_position)
        elif kind == "stop":
            s.ok(corr, -1 if active is not None else e.stop_position)
        elif kind == "recording":
            s.ok(corr, active.recorded_position if active is not None else -1)
        else:
            s.ok(corr, active.recorded_position if active is not None else e.stop_position)

    return handle


def _find_last_matching(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    min_id = d.get_int("min_recording_id")
    if min_id < 0:
        s.error(corr, ErrorCode.UNKNOWN_RECORDING, f"minRecordingId={min_id} < 0")
        return
    session_id, stream_id, fragment = d.get_int("session_id"), d.get_int("stream_id"), d.get_str("channel")
    for rid in reversed(c.catalog.recording_ids()):
        if rid < min_id:
            break
        e = c.catalog.get(rid)
        if e is not None and e.session_id == session_id and e.stream_id == stream_id and fragment in e.original_channel:
            s.ok(corr, rid)
            return
    s.ok(corr, -1)


def _replay(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    c.start_replay(s, corr, d.get_int("recording_id"), d.get_int("position"), d.get_int("length"),
                   d.get_int("replay_stream_id"), d.get_int("file_io_max_length"), d.get_str("replay_channel"),
                   d.get_int("limit_counter_id") if "limit_counter_id" in d.values else -1)


def _stop_replay(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    r = c.replay_sessions.get(d.get_int("replay_session_id"))
    if r is not None:
        r.abort()
    s.ok(corr, 0)


def _stop_all_replays(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    rid = d.get_int("recording_id")
    for r in c.replay_sessions.values():
        if rid == -1 or r.recording_id == rid:
            r.abort()
    s.ok(corr, 0)


def _truncate(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    c.truncate(s, corr, d.get_int("recording_id"), d.get_int("position"), purge=False)


def _purge(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    c.truncate(s, corr, d.get_int("recording_id"), -1, purge=True)


def _update_channel(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    if s.listing is not None:
        s.error(corr, ErrorCode.ACTIVE_LISTING, "active listing already in progress")
        return
    rid = d.get_int("recording_id")
    if not c.catalog.has_recording(rid):
        s.recording_unknown(corr, rid)
        return
    channel = d.get_str("channel")
    c.catalog.replace_channels(rid, channel, strip_channel(ChannelUri.parse(channel)))
    s.ok(corr, 0)


def _detach(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    c.detach_segments(s, corr, d.get_int("recording_id"), d.get_int("new_start_position"), delete=False)


def _purge_segments(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    c.detach_segments(s, corr, d.get_int("recording_id"), d.get_int("new_start_position"), delete=True)


def _delete_detached(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    c.delete_detached_segments(s, corr, d.get_int("recording_id"))


def _attach(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    c.attach_segments(s, corr, d.get_int("recording_id"))


def _migrate(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    c.migrate_segments(s, corr, d.get_int("src_recording_id"), d.get_int("dst_recording_id"))


def _replay_token(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    rid = d.get_int("recording_id")
    if _require_entry(c, s, corr, rid) is not None:
        s.ok(corr, c.issue_replay_token(s, rid))


def _replicate(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    c.replicate(s, corr, d)


def _stop_replication(c: ArchiveConductor, s: ControlSession, corr: int, d: sbe.Decoded) -> None:
    r = c.replications.get(d.get_int("replication_id"))
    if r is None:
        s.error(corr, ErrorCode.UNKNOWN_REPLICATION, f"unknown replication id {d.get_int('replication_id')}")
        return
    r.abort()
    s.ok(corr, 0)


_NOT_REQUESTS = frozenset({
    "ControlResponse", "CatalogHeader", "RecordingDescriptorHeader", "RecordingDescriptor",
    "RecordingSubscriptionDescriptor", "RecordingSignalEvent", "Challenge", "RecordingStarted",
    "RecordingProgress", "RecordingStopped", "Ping",
})

_HANDLERS: dict[str, Handler] = {
    "ArchiveIdRequest": _archive_id,
    "StartRecordingRequest": _start_recording,
    "StartRecordingRequest2": _start_recording,
    "ExtendRecordingRequest": _extend_recording,
    "ExtendRecordingRequest2": _extend_recording,
    "StopRecordingRequest": _stop_recording,
    "StopRecordingSubscriptionRequest": _stop_recording_subscription,
    "StopRecordingByIdentityRequest": _stop_recording_by_identity,
    "ListRecordingsRequest": _list_recordings,
    "ListRecordingsForUriRequest": _list_recordings_for_uri,
    "ListRecordingRequest": _list_recording,
    "ListRecordingSubscriptionsRequest": _list_recording_subscriptions,
    "StartPositionRequest": _position("start"),
    "StopPositionRequest": _position("stop"),
    "RecordingPositionRequest": _position("recording"),
    "MaxRecordedPositionRequest": _position("max"),
    "FindLastMatchingRecordingRequest": _find_last_matching,
    "ReplayRequest": _replay,
    "BoundedReplayRequest": _replay,
    "StopReplayRequest": _stop_replay,
    "StopAllReplaysRequest": _stop_all_replays,
    "TruncateRecordingRequest": _truncate,
    "PurgeRecordingRequest": _purge,
    "UpdateChannelRequest": _update_channel,
    "DetachSegmentsRequest": _detach,
    "PurgeSegmentsRequest": _purge_segments,
    "DeleteDetachedSegmentsRequest": _delete_detached,
    "AttachSegmentsRequest": _attach,
    "ReplicateRequest": _replicate,
    "TaggedReplicateRequest": _replicate,
    "ReplicateRequest2": _replicate,
    "StopReplicationRequest": _stop_replication,
    "ReplayTokenRequest": _replay_token,
    "MigrateSegmentsRequest": _migrate,
}

