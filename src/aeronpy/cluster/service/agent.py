"""``ClusteredServiceAgent``: the container's duty cycle (cluster.md §5.4).

Start-up: wait for the commit-pos (203) and RecoveryState (204) counters of the cluster id, load
the snapshot the RecoveryState names (or none), run ``on_start`` and ack (ackId 0, relevantId =
the Aeron client id).  Then every cycle: at most once a millisecond invoke the client, poll the
service stream (JoinLog, ServiceTerminationPosition, RequestServiceAck), refresh the mark file,
stop when the commit-pos counter goes; poll the log image bounded by commit-pos; background work.

Every ack carries the next ``ackId`` (0, 1, 2 …) and the relevantId of §4.9."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aeronpy.archive.errors import ArchiveError, ErrorCode
from aeronpy.cluster.codecs import NULL_VALUE, CloseReason, ClusterAction, ClusterTimeUnit
from aeronpy.cluster.counters import COMMIT_POSITION_TYPE_ID, Role, RecoveryState, find_counter, find_recovery_state
from aeronpy.cluster.service.client_session import ClientSession
from aeronpy.cluster.service.clustered_service import ClusteredService
from aeronpy.cluster.service.cluster import Cluster, ClusterIdleStrategy
from aeronpy.cluster.service.consensus_module_proxy import ConsensusModuleNotConnectedError, ConsensusModuleProxy
from aeronpy.cluster.service.context import SNAPSHOT_TYPE_ID, ServiceContainerContext
from aeronpy.cluster.service.errors import ClusterError, ClusterTerminationException
from aeronpy.cluster.service.log_adapter import (
    CLUSTER_ACTION_FLAGS_DEFAULT,
    CLUSTER_ACTION_FLAGS_STANDBY_SNAPSHOT,
    BoundedLogAdapter,
)
from aeronpy.cluster.service.service_adapter import JoinLog, ServiceAdapter
from aeronpy.cluster.service.snapshot_loader import ServiceSnapshotLoader, replay_subscription
from aeronpy.cluster.service.snapshot_taker import ServiceSnapshotTaker, record_snapshot
from aeronpy.concurrent.agent import AgentTerminationException
from aeronpy.concurrent.clock import epoch_ms, nano_time
from aeronpy.concurrent.counters import RECORD_ALLOCATED
from aeronpy.concurrent.idle_strategy import idle_strategy_from_name
from aeronpy.uri import ChannelUri

__all__ = ["ClusteredServiceAgent"]

_LOG = logging.getLogger("aeronpy.cluster.service")
ONE_MILLISECOND_NS = 1_000_000
#: How long an ack waits for the control publication to connect before giving up.
ACK_CONNECT_TIMEOUT_NS = 10_000_000_000
MARK_FILE_UPDATE_INTERVAL_MS = 1_000
NULL_POSITION = -1


class ClusteredServiceAgent:
    """One service's agent; run it with an AgentRunner (the container does) or a composite."""

    def __init__(
        self,
        ctx: ServiceContainerContext,
        service: Any,
        aeron: Any,
        *,
        mark_file: Any = None,
        error_handler: Callable[[BaseException], None] | None = None,
        counters: dict[str, Any] | None = None,
    ) -> None:
        self.ctx = ctx
        self.service = service
        self.aeron = aeron
        self.mark_file = mark_file
        self._error_handler = error_handler or (lambda e: _LOG.error("clustered service error: %s", e, exc_info=e))
        self._counters = counters or {}
        self.epoch_clock = ctx.epoch_clock or epoch_ms
        self.nano_clock = ctx.nano_clock or nano_time
        self.service_id = ctx.service_id
        self.subscription_alias = f"log-sc-{ctx.service_id}"
        self.proxy = ConsensusModuleProxy(aeron.add_publication(ctx.control_channel, ctx.consensus_module_stream_id))
        self.service_adapter = ServiceAdapter(aeron.add_subscription(ctx.control_channel, ctx.service_stream_id), self)
        self.log_adapter = BoundedLogAdapter(self, ctx.log_fragment_limit)
        self.idle_strategy = ClusterIdleStrategy(idle_strategy_from_name(ctx.idle_strategy), self._do_idle_work)
        self.cluster = Cluster(ctx, aeron, self.proxy, self.idle_strategy, self.handle_error)
        self.ack_id = 0
        self.termination_position = NULL_POSITION
        self.termination_ack_required = True
        self.requested_ack_position = NULL_POSITION
        self.active_log_event: JoinLog | None = None
        self.standby_snapshot_flags = CLUSTER_ACTION_FLAGS_DEFAULT
        self.commit_position_id = -1
        self._commit_registration_id = 0
        self.is_started = False
        self.is_service_active = False
        self.is_abort = False
        self.close_requested = False
        self.is_closed = False
        #: Duty cycles run so far (for tests and tools watching the agent make progress).
        self.duty_cycles = 0
        self._last_slow_tick_ns = -(1 << 62)
        self._mark_file_deadline_ms = 0
        self._last_cycle_ns = 0
        self._invoker = getattr(aeron, "conductor_agent_invoker", None)
        self._max_cycle_ns = 0
        reader = aeron.counters_reader
        self._counter_values = reader.values_buffer
        self._commit_offset = 0
        #: False when the service keeps the default no-op ``do_background_work`` (skipped).
        self._has_background_work = getattr(type(service), "do_background_work", None) is not \
            ClusteredService.do_background_work

    # -- Agent -------------------------------------------------------------------------------

    def role_name(self) -> str:
        return self.ctx.resolved_service_name

    def on_start(self) -> None:
        self._last_cycle_ns = self.nano_clock()

    def do_work(self) -> int:
        now_ns = self.nano_clock()
        self.duty_cycles += 1
        try:
            if self.is_abort or self.aeron.is_closed:
                self.is_abort = True
                raise AgentTerminationException("unexpected Aeron close")
            self._track_cycle(now_ns)
            if not self.is_started:
                return self._try_start(now_ns)
            work = 0
            ticked = self._check_for_clock_tick(now_ns)
            if ticked:
                work += self._poll_service_adapter()
            log = self.log_adapter
            if log.image is not None:
                polled = log.poll(self._commit_position_value())
                work += polled
                # an image ends at max_log_position, EOS or close; checked once per slow tick
                if polled == 0 and ticked and log.is_done():
                    self._close_log()
            if self._has_background_work:
                work += self._invoke_background_work(now_ns)
            return work
        except AgentTerminationException:
            if not self.close_requested:  # the cluster (or a failure) ended it, not close()
                self._run_termination_hook()
            raise

    def on_close(self) -> None:
        """Stop: ``on_terminate`` if the service is active (not after an abort), release the log,
        control streams and egress, mark the mark file terminated.  Idempotent."""
        if self.is_closed:
            return
        self.is_closed = True
        if not self.is_abort:
            if self.is_service_active:
                self.is_service_active = False
                try:
                    self.cluster.run_lifecycle("onTerminate", self.service.on_terminate, self.cluster)
                except Exception as e:
                    self.handle_error(e)
            self._quietly(self.log_adapter.close)
            if not self.aeron.is_closed:
                self._quietly(self.service_adapter.close)
                self._quietly(self.proxy.close)
                self._disconnect_egress()
        if self.mark_file is not None:
            self._quietly(self.mark_file.signal_terminated)

    # -- errors ------------------------------------------------------------------------------

    def handle_error(self, error: BaseException) -> None:
        counter = self._counters.get("errors")
        if counter is not None:
            try:
                counter.increment()
            except Exception:
                pass
        self._error_handler(error)

    def _quietly(self, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as e:
            self.handle_error(e)

    # -- start-up ----------------------------------------------------------------------------

    def _try_start(self, now_ns: int) -> int:
        """Poll for the cluster's counters; once both exist, recover and ack (blocking)."""
        self._check_for_clock_tick(now_ns)
        counters = self.aeron.counters_reader
        if self.commit_position_id < 0:
            cid = find_counter(counters, COMMIT_POSITION_TYPE_ID, self.ctx.cluster_id)
            if cid < 0:
                return 0
            self.commit_position_id = cid
            self._commit_registration_id = counters.get_counter_registration_id(cid)
            self._commit_offset = counters.counter_offset(cid)
        recovery_id = find_recovery_state(counters, self.ctx.cluster_id)
        if recovery_id < 0:
            return 0
        self._recover_state(RecoveryState.from_key(counters.get_counter_key(recovery_id)))
        self.is_started = True
        self.is_service_active = True
        return 1

    def _recover_state(self, state: RecoveryState) -> None:
        cluster = self.cluster
        cluster.log_position = state.log_position
        cluster.time = state.timestamp
        cluster.leadership_term_id = state.leadership_term_id
        error: Exception | None = None
        snapshot_recording_id = NULL_VALUE
        try:
            if state.leadership_term_id != NULL_VALUE:
                if not 0 <= self.service_id < len(state.snapshot_recording_ids):
                    raise ClusterError(
                        f"invalid serviceId {self.service_id} for count of {len(state.snapshot_recording_ids)}")
                snapshot_recording_id = state.snapshot_recording_ids[self.service_id]
                self._load_snapshot(snapshot_recording_id)
            else:
                cluster.run_lifecycle("onStart", self.service.on_start, cluster, None)
        except Exception as e:
            error = e
        relevant_id = self.aeron.client_id if error is None else NULL_VALUE
        self._ack(cluster.log_position, relevant_id)
        if error is not None:
            raise AgentTerminationException(
                f"failed to start service={self.service_id} leadershipTermId={state.leadership_term_id} "
                f"logPosition={state.log_position} clusterTime={state.timestamp} "
                f"snapshotRecordingId={snapshot_recording_id}: {error}") from error

    def _ack(self, log_position: int, relevant_id: int) -> None:
        """Send the next ack, retrying back-pressure; a control publication not (yet) connected
        is retried for up to :data:`ACK_CONNECT_TIMEOUT_NS` (the consensus module may be
        subscribing right now)."""
        ack_id = self.ack_id
        self.ack_id += 1
        self.idle_strategy.reset()
        deadline = self.nano_clock() + ACK_CONNECT_TIMEOUT_NS
        while True:
            try:
                if self.proxy.ack(log_position, self.cluster.time, ack_id, relevant_id, self.service_id):
                    return
            except ConsensusModuleNotConnectedError:
                if self.nano_clock() > deadline:
                    raise
            self.idle_strategy.idle()

    # -- archive access ----------------------------------------------------------------------

    def _connect_archive(self) -> tuple[Any, list[BaseException]]:
        from aeronpy.archive.client import AeronArchive

        errors: list[BaseException] = []
        archive_ctx = self.ctx.new_archive_context(self.aeron)
        archive_ctx.error_handler = errors.append
        return AeronArchive.connect(archive_ctx), errors

    def _load_snapshot(self, recording_id: int) -> None:
        archive, errors = self._connect_archive()
        try:
            subscription, session_id = replay_subscription(
                self.aeron, archive, recording_id, self.ctx.replay_channel, self.ctx.replay_stream_id)
            try:
                image = self._await_image(session_id, subscription)
                loader = ServiceSnapshotLoader(image, SNAPSHOT_TYPE_ID, self._load_session)
                self.idle_strategy.reset()
                while True:
                    fragments = loader.poll()
                    if loader.is_done:
                        break
                    if fragments == 0:
                        archive.poll_for_recording_signals()
                        if errors:
                            raise errors[0]
                        if image.is_closed or image.is_end_of_stream:
                            raise ClusterError(f"snapshot ended unexpectedly: recording {recording_id}")
                    self.idle_strategy.idle(fragments)
                if not self.ctx.app_version_validator(self.ctx.app_version, loader.app_version):
                    raise ClusterError(
                        f"incompatible app version: {_version(self.ctx.app_version)} "
                        f"snapshot={_version(loader.app_version)}")
                self.cluster.time_unit = loader.time_unit
                self.cluster.run_lifecycle("onStart", self.service.on_start, self.cluster, image)
            finally:
                subscription.close()
        finally:
            archive.close()

    def _load_session(self, session_id: int, response_stream_id: int, response_channel: str,
                      encoded_principal: bytes) -> None:
        self.cluster.add_session(ClientSession(
            session_id, response_stream_id, response_channel, encoded_principal, self.cluster))

    def _take_snapshot(self, log_position: int, leadership_term_id: int) -> int:
        archive, errors = self._connect_archive()

        def check_errors() -> None:
            if errors:
                raise errors[0]

        def write(publication: Any) -> None:
            taker = ServiceSnapshotTaker(publication, self.idle_strategy)
            unit, version = self.cluster.time_unit, self.ctx.app_version
            taker.mark_begin(SNAPSHOT_TYPE_ID, log_position, leadership_term_id, 0, unit, version)
            for session in self.cluster.client_sessions:
                taker.snapshot_session(session)
            taker.mark_end(SNAPSHOT_TYPE_ID, log_position, leadership_term_id, 0, unit, version)
            self._check_for_clock_tick(self.nano_clock())
            archive.poll_for_recording_signals()
            check_errors()
            self.service.on_take_snapshot(publication)

        try:
            return record_snapshot(self.aeron, archive, self.ctx.snapshot_channel, self.ctx.snapshot_stream_id,
                                   write, self.idle_strategy, check_errors)
        except ArchiveError as e:
            if e.error_code == ErrorCode.STORAGE_SPACE:
                raise AgentTerminationException(str(e)) from e
            raise
        finally:
            archive.close()

    # -- the slow tick and the service stream ------------------------------------------------

    def _check_for_clock_tick(self, now_ns: int) -> bool:
        if self.is_abort or self.aeron.is_closed:
            self.is_abort = True
            raise AgentTerminationException("unexpected Aeron close")
        if now_ns - self._last_slow_tick_ns <= ONE_MILLISECOND_NS:
            return False
        self._last_slow_tick_ns = now_ns
        if self._invoker is not None:
            self._invoker.invoke()
            if self.aeron.is_closed:
                self.is_abort = True
                raise AgentTerminationException("unexpected Aeron close")
        if self.commit_position_id >= 0 and not self._commit_position_alive():
            if self.mark_file is not None:
                self.mark_file.error_log.record_text(0, "WARN - commit-pos counter unexpectedly closed, terminating")
            raise ClusterTerminationException(True, "commit-pos counter unexpectedly closed, terminating")
        now_ms = self.epoch_clock()
        if now_ms >= self._mark_file_deadline_ms:
            self._mark_file_deadline_ms = now_ms + MARK_FILE_UPDATE_INTERVAL_MS
            if self.mark_file is not None:
                self.mark_file.update_activity_timestamp(now_ms)
        return True

    def _commit_position_alive(self) -> bool:
        counters = self.aeron.counters_reader
        cid = self.commit_position_id
        return bool(counters.get_counter_state(cid) == RECORD_ALLOCATED
                    and counters.get_counter_registration_id(cid) == self._commit_registration_id
                    and counters.get_counter_type_id(cid) == COMMIT_POSITION_TYPE_ID)

    def _poll_service_adapter(self) -> int:
        work = self.service_adapter.poll()
        if self.active_log_event is not None and self.log_adapter.image is None:
            event, self.active_log_event = self.active_log_event, None
            self._join_active_log(event)
        log_position = self.cluster.log_position
        if self.termination_position != NULL_POSITION and log_position >= self.termination_position:
            if log_position > self.termination_position:
                self.handle_error(ClusterError(
                    f"service terminate: logPosition={log_position} > terminationPosition={self.termination_position}"))
            self._terminate(log_position == self.termination_position, self.termination_ack_required)
        if self.requested_ack_position != NULL_POSITION and log_position >= self.requested_ack_position:
            if log_position > self.requested_ack_position:
                self.handle_error(ClusterError(
                    f"invalid ack request: logPosition={log_position} > requestedAckPosition={self.requested_ack_position}"))
            self._ack(log_position, NULL_VALUE)
            self.requested_ack_position = NULL_POSITION
        return work

    def _do_idle_work(self) -> None:
        if self.close_requested:
            raise AgentTerminationException("container closing")
        now_ns = self.nano_clock()
        self._check_for_clock_tick(now_ns)
        if self.is_service_active and self._has_background_work:
            self._invoke_background_work(now_ns)

    def _invoke_background_work(self, now_ns: int) -> int:
        cluster = self.cluster
        previous, cluster.lifecycle = cluster.lifecycle, "doBackgroundWork"
        try:
            return int(self.service.do_background_work(now_ns))
        finally:
            cluster.lifecycle = previous

    def _commit_position_value(self) -> int:
        return int(self._counter_values.get_int64_volatile(self._commit_offset))

    def _track_cycle(self, now_ns: int) -> None:
        """Cycle time (between duty cycles, idling included) into counters 218/219, as Aeron's
        duty-cycle stall tracker; the max counter is written only when it grows."""
        elapsed = now_ns - self._last_cycle_ns
        self._last_cycle_ns = now_ns
        if elapsed > self._max_cycle_ns:
            self._max_cycle_ns = elapsed
            max_cycle = self._counters.get("max_cycle_time")
            if max_cycle is not None:
                max_cycle.propose_max(elapsed)
        if elapsed > self.ctx.cycle_threshold_ns:
            exceeded = self._counters.get("cycle_time_exceeded")
            if exceeded is not None:
                exceeded.increment()

    # -- service stream callbacks (ServiceAdapterListener) -----------------------------------

    def on_join_log(self, join_log: JoinLog) -> None:
        _LOG.debug("service %d: %s (at %d)", self.service_id, join_log, self.cluster.log_position)
        self.log_adapter.max_log_position = join_log.log_position
        self.active_log_event = join_log

    def on_service_termination_position(self, log_position: int, ack_required: bool) -> None:
        self.termination_position = log_position
        self.termination_ack_required = ack_required

    def on_request_service_ack(self, log_position: int) -> None:
        self.requested_ack_position = log_position

    # -- log ---------------------------------------------------------------------------------

    def _join_active_log(self, event: JoinLog) -> None:
        cluster = self.cluster
        if event.role != Role.LEADER:
            self._disconnect_egress()
        self.standby_snapshot_flags = (
            CLUSTER_ACTION_FLAGS_STANDBY_SNAPSHOT if event.is_standby else CLUSTER_ACTION_FLAGS_DEFAULT)
        channel = str(ChannelUri.parse(event.log_channel).with_param("alias", self.subscription_alias))
        subscription: Any = self.aeron.add_subscription(channel, event.log_stream_id)
        try:
            image = self._await_image(event.log_session_id, subscription)
            if image.join_position != cluster.log_position:
                raise ClusterError(
                    "Cluster log must be contiguous for joining image: "
                    f"expectedPosition={cluster.log_position} joinPosition={image.join_position}")
            if event.log_position != cluster.log_position:
                raise ClusterError(
                    "Cluster log must be contiguous for active log event: "
                    f"expectedPosition={cluster.log_position} eventPosition={event.log_position}")
            self.log_adapter.image = image
            self.log_adapter.max_log_position = event.max_log_position
            subscription = None
            self._ack(event.log_position, NULL_VALUE)
        finally:
            if subscription is not None:
                subscription.close()
        cluster.member_id = event.member_id
        if self.mark_file is not None:
            self.mark_file.set_int("member_id", event.member_id)
        if event.role == Role.LEADER:
            for session in cluster.client_sessions:
                if self.ctx.is_responding_service and not event.is_startup:
                    session.connect(self.aeron)
                session.reset_closing()
        self._set_role(event.role)

    def _await_image(self, session_id: int, subscription: Any) -> Any:
        self.idle_strategy.reset()
        while True:
            image = subscription.image_by_session_id(session_id)
            if image is not None:
                return image
            self.idle_strategy.idle()

    def _close_log(self) -> None:
        image = self.log_adapter.image
        _LOG.debug("service %d: log image done at %d (max %d, eos %s, closed %s)", self.service_id, image.position,
                   self.log_adapter.max_log_position, image.is_end_of_stream, image.is_closed)
        self.cluster.log_position = max(int(image.position), self.cluster.log_position)
        self._quietly(self.log_adapter.close)
        self._disconnect_egress()
        self._set_role(Role.FOLLOWER)

    def _disconnect_egress(self) -> None:
        for session in self.cluster.client_sessions:
            session.disconnect()

    def _set_role(self, role: Role) -> None:
        if role != self.cluster.role:
            self.cluster.role = role
            self.cluster.run_lifecycle("onRoleChange", self.service.on_role_change, role)

    def _terminate(self, is_expected: bool, ack_required: bool) -> None:
        self.is_service_active = False
        try:
            self.cluster.run_lifecycle("onTerminate", self.service.on_terminate, self.cluster)
        except Exception as e:
            self.handle_error(e)
        if ack_required:
            try:
                ack_id = self.ack_id
                self.ack_id += 1
                for attempt in range(5):
                    if self.proxy.ack(self.cluster.log_position, self.cluster.time, ack_id, NULL_VALUE,
                                      self.service_id):
                        break
                    if attempt < 4:
                        self.idle_strategy.idle()
            except Exception as e:
                self.handle_error(e)
        self.termination_position = NULL_POSITION
        raise ClusterTerminationException(is_expected)

    def _run_termination_hook(self) -> None:
        hook = self.ctx.termination_hook
        if hook is not None:
            try:
                hook()
            except Exception as e:
                self.handle_error(e)

    # -- log callbacks (LogListener) ---------------------------------------------------------

    def on_session_message(self, log_position: int, cluster_session_id: int, timestamp: int,
                           buffer: Any, offset: int, length: int, header: Any) -> None:
        cluster = self.cluster
        cluster.log_position = log_position
        cluster.time = timestamp
        self.service.on_session_message(
            cluster.get_client_session(cluster_session_id), timestamp, buffer, offset, length, header)

    def on_timer_event(self, log_position: int, correlation_id: int, timestamp: int) -> None:
        self.cluster.log_position = log_position
        self.cluster.time = timestamp
        self.service.on_timer_event(correlation_id, timestamp)

    def on_session_open(self, leadership_term_id: int, log_position: int, cluster_session_id: int, timestamp: int,
                        response_stream_id: int, response_channel: str, encoded_principal: bytes) -> None:
        cluster = self.cluster
        cluster.log_position = log_position
        cluster.time = timestamp
        if cluster.has_session(cluster_session_id):
            raise ClusterError(f"clashing open clusterSessionId={cluster_session_id} "
                               f"leadershipTermId={leadership_term_id} logPosition={log_position}")
        session = ClientSession(cluster_session_id, response_stream_id, response_channel, encoded_principal, cluster)
        if cluster.role == Role.LEADER and self.ctx.is_responding_service:
            session.connect(self.aeron)
        cluster.add_session(session)
        self.service.on_session_open(session, timestamp)

    def on_session_close(self, leadership_term_id: int, log_position: int, cluster_session_id: int,
                         timestamp: int, close_reason: CloseReason) -> None:
        cluster = self.cluster
        cluster.log_position = log_position
        cluster.time = timestamp
        session = cluster.remove_session(cluster_session_id)
        if session is None:
            self.handle_error(ClusterError(
                f"unknown session close: clusterSessionId={cluster_session_id} closeReason={close_reason.name} "
                f"leadershipTermId={leadership_term_id} logPosition={log_position}"))
            return
        session.disconnect()
        self.service.on_session_close(session, timestamp, close_reason)

    def on_service_action(self, leadership_term_id: int, log_position: int, timestamp: int,
                          action: ClusterAction, flags: int) -> None:
        self.cluster.log_position = log_position
        self.cluster.time = timestamp
        if action != ClusterAction.SNAPSHOT or not self._should_snapshot(flags):
            return
        recording_id = NULL_VALUE
        error: Exception | None = None
        started = self.nano_clock()
        try:
            recording_id = self._take_snapshot(log_position, leadership_term_id)
        except Exception as e:
            error = e
        finally:
            self._track_snapshot(self.nano_clock() - started)
        self._ack(log_position, recording_id)
        if error is not None:
            raise error

    def _should_snapshot(self, flags: int) -> bool:
        return flags == CLUSTER_ACTION_FLAGS_DEFAULT or (flags & self.standby_snapshot_flags) != 0

    def _track_snapshot(self, duration_ns: int) -> None:
        longest = self._counters.get("max_snapshot_duration")
        if longest is not None:
            longest.propose_max(duration_ns)
            if duration_ns > self.ctx.snapshot_duration_threshold_ns:
                exceeded = self._counters.get("snapshot_duration_exceeded")
                if exceeded is not None:
                    exceeded.increment()

    def on_new_leadership_term_event(self, leadership_term_id: int, log_position: int, timestamp: int,
                                     term_base_log_position: int, leader_member_id: int, log_session_id: int,
                                     time_unit: ClusterTimeUnit, app_version: int) -> None:
        if not self.ctx.app_version_validator(self.ctx.app_version, app_version):
            self.handle_error(ClusterError(
                f"incompatible version: {_version(self.ctx.app_version)} log={_version(app_version)}"))
            raise AgentTerminationException("incompatible app version")
        cluster = self.cluster
        cluster.leadership_term_id = leadership_term_id
        cluster.log_position = log_position
        cluster.time = timestamp
        cluster.time_unit = time_unit
        self.service.on_new_leadership_term_event(
            leadership_term_id, log_position, timestamp, term_base_log_position, leader_member_id, log_session_id,
            time_unit, app_version)


def _version(v: int) -> str:
    return f"{(v >> 16) & 0xFF}.{(v >> 8) & 0xFF}.{v & 0xFF}"
