"""The consensus module agent (Aeron's ``ConsensusModuleAgent``, cluster.md §4): one duty cycle
(:meth:`ConsensusModuleAgent.do_work`) over the consensus, ingress, log and service channels,
the election while one runs, client sessions, timers, service messages and the commit position.

Time: ``now_ns`` is cluster time in nanoseconds (the epoch clock in ms times 10^6, as Aeron's
``MillisecondClusterClock``); log timestamps are that time in ms.  Blocking waits (recording
counters, service acks) poll with a deadline, as Aeron's agent idles in place."""

from __future__ import annotations

import logging
import os
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aeronpy.client.results import ControlledPollAction
from aeronpy.cluster import counters as cc
from aeronpy.cluster.codecs import (
    NULL_POSITION,
    NULL_VALUE,
    SCHEMA_ID,
    SESSION_HEADER_LENGTH,
    ClusterAction,
    CloseReason,
    EventCode,
    major_version,
)
from aeronpy.cluster.consensus.channels import parse_channel, with_params
from aeronpy.cluster.consensus.cluster_session import ClusterSession, SessionState
from aeronpy.cluster.consensus.consensus_publisher import ConsensusPublisher
from aeronpy.cluster.consensus.context import SLOW_TICK_NS, ConsensusModuleContext
from aeronpy.cluster.consensus.egress_publisher import CLIENT_PROTOCOL_VERSION, EgressPublisher
from aeronpy.cluster.consensus.election import Election, ElectionRestart, ElectionState, LogReplication
from aeronpy.cluster.consensus.log_adapter import LogAdapter
from aeronpy.cluster.consensus.log_publisher import LogPublisher
from aeronpy.cluster.consensus.log_replay import ArchiveLogReplay
from aeronpy.cluster.consensus.message_adapter import MessageAdapter
from aeronpy.cluster.consensus.pending_service_messages import (
    PendingServiceMessageTracker,
    service_id_from_session_id,
)
from aeronpy.cluster.consensus.service_proxy import ServiceProxy
from aeronpy.cluster.consensus.timer_service import TimerService, new_timer_service
from aeronpy.cluster.counters import ConsensusModuleState, Role, ToggleState
from aeronpy.cluster.errors import ClusterError
from aeronpy.cluster.members import ClusterMember, find_member, ingress_endpoints, members_string, quorum_position
from aeronpy.concurrent.agent import AgentTerminationException
from aeronpy.protocol import sbe

__all__ = ["ConsensusModuleAgent", "ClusterTermination"]

log = logging.getLogger("aeronpy.cluster")

MS = 1_000_000
NULL_SESSION_ID = -(1 << 31)
MAX_I64 = (1 << 63) - 1
MARK_FILE_UPDATE_INTERVAL_NS = 1_000 * MS
AWAIT_TIMEOUT_S = 20.0
#: how often a refused catch-up replay is asked for again
CATCHUP_RETRY_INTERVAL_NS = 100_000_000
SERVICE_MESSAGE_LIMIT = 20
TIMER_POLL_LIMIT = 20
ARCHIVE_REC_POS_TYPE_ID = 100


class ClusterTermination(ClusterError, AgentTerminationException):
    """The module stopped (SHUTDOWN/ABORT done, or an unrecoverable failure); the runner exits."""


class _ServiceAck:
    __slots__ = ("ack_id", "log_position", "relevant_id")

    def __init__(self, ack_id: int, log_position: int, relevant_id: int) -> None:
        self.ack_id = ack_id
        self.log_position = log_position
        self.relevant_id = relevant_id


_INGRESS = ("SessionConnectRequest", "SessionCloseRequest", "SessionKeepAlive", "ChallengeResponse",
            "AdminRequest", "SessionMessageHeader")
_CONSENSUS = ("CanvassPosition", "RequestVote", "Vote", "NewLeadershipTerm", "AppendPosition", "CommitPosition",
              "CatchupPosition", "StopCatchup", "TerminationPosition", "TerminationAck", "HeartbeatRequest",
              "BackupQuery", "StandbySnapshot")
HEARTBEAT_RESPONSE_TIMEOUT_NS = 5_000 * MS
MAX_PENDING_HEARTBEAT_RESPONSES = 16
_CONTROL = ("SessionMessageHeader", "ScheduleTimer", "CancelTimer", "CloseSession", "ServiceAck",
            "ClusterMembersQuery")


def _epoch_ms() -> int:
    return time.time_ns() // MS


class _Handlers:
    """Bound ``on_<Template>`` methods for one adapter, forwarding to the agent."""

    def __init__(self, agent: ConsensusModuleAgent, prefix: str, names: tuple[str, ...]) -> None:
        for name in names:
            setattr(self, f"on_{name}", getattr(agent, f"_{prefix}_{name}"))


class ConsensusModuleAgent:
    """The consensus module of one member; construct, then :meth:`on_start`, then ``do_work``."""

    def __init__(self, ctx: ConsensusModuleContext) -> None:
        self.ctx = ctx
        self.epoch_clock: Callable[[], int] = ctx.epoch_clock or _epoch_ms
        self.members: list[ClusterMember] = ctx.members
        me = find_member(self.members, ctx.member_id)
        assert me is not None
        self.this_member = me
        self.member_id = ctx.member_id
        self.state = ConsensusModuleState.INIT
        self.role = Role.FOLLOWER
        self.leadership_term_id = NULL_VALUE
        self.leader_member: ClusterMember | None = None
        self.election: Election | None = None
        self.aeron: Any = None
        self.archive: Any = None
        self._owns_aeron = False
        self.recording_log: Any = None
        self.node_state: Any = None
        self.mark_file: Any = None
        self.consensus_publisher = ConsensusPublisher()
        self.egress_publisher = EgressPublisher()
        self.service_proxy: ServiceProxy | None = None
        self.log_publisher: LogPublisher | None = None
        self.log_adapter = LogAdapter(self, ctx.log_fragment_limit)
        self.follower_subscription: Any = None
        self.live_log_destination: str | None = None
        self.catchup_log_destination: str | None = None
        #: catch-up replays the archive refused (e.g. the previous replay to that endpoint, with
        #: the log's session id, is still lingering in the driver): follower id -> (channel,
        #: position, retry-until ns, next attempt ns); retried on the slow tick
        self.pending_catchups: dict[int, tuple[str, int, int, int]] = {}
        self.consensus_adapter: MessageAdapter | None = None
        self.ingress_adapter: MessageAdapter | None = None
        self.ipc_ingress_adapter: MessageAdapter | None = None
        self.control_adapter: MessageAdapter | None = None
        self.log_recording_id = NULL_VALUE
        self.log_subscription_id = NULL_VALUE
        self.append_position_counter_id = -1
        self.log_recording_stop_position = 0
        self.log_channel_tag = NULL_VALUE
        self.local_log_channel = ""
        self.notified_commit_position = 0
        self.last_append_position = 0
        self.time_of_last_append_position_send_ns = 0
        self._last_leader_update_ns = 0
        self.time_of_last_commit_send_ns = 0
        self.slow_tick_deadline_ns = 0
        self.mark_file_deadline_ns = 0
        self.termination_position = NULL_POSITION
        self.termination_leadership_term_id = NULL_VALUE
        self.termination_deadline_ns = 0
        self.is_terminating = False
        self.service_ack_id = 0
        self.expected_ack_position = 0
        self.service_ack_queues: list[deque[_ServiceAck]] = [deque() for _ in range(ctx.service_count)]
        self.service_client_ids = [NULL_VALUE] * ctx.service_count
        self.sessions: dict[int, ClusterSession] = {}
        self.pending_sessions: list[ClusterSession] = []
        self.rejected_sessions: list[ClusterSession] = []
        self.redirect_sessions: list[ClusterSession] = []
        self.next_session_id = 1
        self.next_committed_session_id = 1
        self.timer_service: TimerService = new_timer_service(
            ctx.timer_service_supplier, ctx.wheel_tick_resolution_ms, ctx.ticks_per_wheel, self.epoch_clock())
        self.uncommitted_timers: deque[tuple[int, int, int]] = deque()  # (position, correlation id, deadline)
        self.uncommitted_closed_sessions: deque[tuple[int, ClusterSession]] = deque()
        self.uncommitted_state: deque[tuple[int, ConsensusModuleState]] = deque()
        self.trackers = [PendingServiceMessageTracker(i) for i in range(ctx.service_count)]
        self.counters: dict[str, Any] = {}
        self.is_node_startup = True
        self.recovery_plan: Any = None
        self.closing = False
        #: HeartbeatResponses waiting for their publication: (publication, message, deadline ns).
        self.heartbeat_responses: list[tuple[Any, bytes, int]] = []
        #: The last election states entered (diagnostics and tests).
        self.election_history: list[ElectionState] = []
        #: The consensus module extension (cluster/consensus/extension.py), if configured.
        self.extension: Any = ctx.consensus_module_extension
        if self.extension is None and ctx.extension:
            from aeronpy.cluster.consensus.extension import load_extension

            self.extension = load_extension(ctx.extension)
        self.extension_leader_subscription: Any = None
        #: Replication of standby snapshots (start-up, REPLICATE_STANDBY_SNAPSHOT toggle).
        self.standby_replicator: Any = None

    # -- start / close ---------------------------------------------------------------------

    def role_name(self) -> str:
        return self.ctx.agent_role_name or f"consensus-module-{self.ctx.cluster_id}-{self.member_id}"

    def on_start(self) -> None:
        ctx = self.ctx
        from aeronpy.cluster.mark_file import FILE_NAME as MARK_FILE_NAME, ClusterMarkFile
        from aeronpy.cluster.node_state import NodeStateFile
        from aeronpy.cluster.recording_log import RecordingLog
        from aeronpy.cluster.codecs import ClusterComponentType

        os.makedirs(ctx.cluster_dir, exist_ok=True)
        self.mark_file = ClusterMarkFile.create(
            ctx.effective_mark_file_dir, MARK_FILE_NAME, ClusterComponentType.CONSENSUS_MODULE, ctx.cluster_id,
            ctx.member_id, -1, ctx.error_buffer_length, link_dir=ctx.cluster_dir, epoch_clock=self.epoch_clock,
            archive_stream_id=ctx.archive_control_stream_id, service_stream_id=ctx.service_stream_id,
            consensus_module_stream_id=ctx.consensus_module_stream_id, ingress_stream_id=ctx.ingress_stream_id,
            aeron_directory=ctx.aeron_dir, control_channel=ctx.control_channel,
            ingress_channel=ctx.ingress_channel or "", service_name="", authenticator=ctx.authenticator_supplier,
            services_cluster_dir=ctx.effective_services_dir,
        )
        self.recording_log = RecordingLog(ctx.cluster_dir, create=True, file_sync_level=ctx.file_sync_level)
        from aeronpy.cluster.consensus.standby_snapshots import StandbySnapshotNotifications

        self.standby_snapshots = StandbySnapshotNotifications(self.recording_log,
                                                              ctx.standby_snapshot_notification_delay_ns)
        self.node_state = NodeStateFile(ctx.cluster_dir, create=True, file_sync_level=ctx.file_sync_level)
        if ctx.aeron is not None:
            self.aeron = ctx.aeron
        else:
            from aeronpy.client.aeron import Aeron
            from aeronpy.client.context import Context

            self.aeron = Aeron.connect(Context.from_properties(
                env={}, aeron_dir=ctx.aeron_dir, client_name=self.role_name(),
                unavailable_image_handler=self._on_unavailable_ingress_image))
            self._owns_aeron = True
        self._allocate_counters()
        control = ctx.control_channel
        self.service_proxy = ServiceProxy(self.aeron.add_publication(control, ctx.service_stream_id))
        self.control_adapter = MessageAdapter(
            self.aeron.add_subscription(control, ctx.consensus_module_stream_id),
            _Handlers(self, "control", _CONTROL), _CONTROL, self._on_invalid_request)
        self._connect_archive()
        last_term_recording = self.recording_log.find_last_term_recording_id()
        if last_term_recording != NULL_VALUE:
            try:
                self.archive.stop_recording_by_identity(last_term_recording)
            except Exception:  # noqa: BLE001 - not recording is fine
                pass
        self._replicate_standby_snapshots_for_startup()
        plan = self.recording_log.create_recovery_plan(self.archive.list_recording, ctx.service_count)
        self.recovery_plan = plan
        if plan.log is not None:
            self.log_recording_id = plan.log.recording_id
        self._allocate_recovery_state(plan)
        snapshot_position = 0
        if plan.snapshots:
            from aeronpy.cluster.consensus.snapshot import load_consensus_module_snapshot

            cm = plan.snapshots[0]
            load_consensus_module_snapshot(self, cm.recording_id, self._extension_on_start)
            snapshot_position = cm.log_position
            self.leadership_term_id = cm.leadership_term_id
        elif self.extension is not None:
            self._extension_on_start(None)
        self.counters["commit"].set(snapshot_position)
        self.expected_ack_position = snapshot_position
        self._await_service_acks(snapshot_position)
        self._connect_consensus()
        now_ns = self._now_ns()
        self._last_leader_update_ns = now_ns
        self.election = self._new_election(now_ns, is_node_startup=True, log_position=snapshot_position,
                                           leadership_term_id=plan.last_leadership_term_id,
                                           term_base=plan.last_term_base_log_position,
                                           append_position=plan.appended_log_position)
        self._set_state(ConsensusModuleState.ACTIVE)
        self.mark_file.signal_ready()

    def _allocate_counters(self) -> None:
        cid = self.ctx.cluster_id
        key = cc.cluster_key(cid)
        reader = self.aeron.counters_reader
        if cc.find_counter(reader, cc.CONSENSUS_MODULE_STATE_TYPE_ID, cid) >= 0:
            raise ClusterError(f"a consensus module with clusterId={cid} already runs on this driver")

        def add(name: str, type_id: int, label: str) -> None:
            self.counters[name] = self.aeron.add_counter(type_id, cc.cluster_label(label, cid), key)

        add("state", cc.CONSENSUS_MODULE_STATE_TYPE_ID, "Consensus Module state")
        add("role", cc.NODE_ROLE_TYPE_ID, "Cluster node role")
        add("toggle", cc.CONTROL_TOGGLE_TYPE_ID, "Cluster control toggle")
        add("commit", cc.COMMIT_POSITION_TYPE_ID, "Cluster commit-pos:")
        add("snapshots", cc.SNAPSHOT_COUNTER_TYPE_ID, "Cluster snapshot count")
        add("election_state", cc.ELECTION_STATE_TYPE_ID, "Cluster election state")
        add("errors", cc.CONSENSUS_MODULE_ERROR_COUNT_TYPE_ID, "Cluster errors")
        add("timed_out", cc.CLIENT_TIMEOUT_COUNT_TYPE_ID, "Cluster timed out client count")
        add("invalid", cc.INVALID_REQUEST_COUNT_TYPE_ID, "Cluster invalid request count")
        add("elections", cc.ELECTION_COUNT_TYPE_ID, "Cluster election count")
        add("term", cc.LEADERSHIP_TERM_ID_TYPE_ID, "Cluster leadership term id")
        add("node_control", cc.NODE_CONTROL_TOGGLE_TYPE_ID, "Cluster node control toggle")
        add("standby_snapshots", cc.STANDBY_SNAPSHOT_COUNTER_TYPE_ID, "Cluster standby snapshots received")
        self.counters["toggle"].set(ToggleState.INACTIVE)
        self.counters["node_control"].set(cc.NodeControlToggle.NEUTRAL)
        self.counters["term"].set(NULL_VALUE)

    def _allocate_recovery_state(self, plan: Any) -> None:
        if plan.snapshots:
            s0 = plan.snapshots[0]
            ids = [NULL_VALUE] * self.ctx.service_count
            for s in plan.snapshots[1:]:
                if 0 <= s.service_id < self.ctx.service_count:
                    ids[s.service_id] = s.recording_id
            state = cc.RecoveryState(s0.leadership_term_id, s0.log_position, s0.timestamp, self.ctx.cluster_id,
                                     tuple(ids))
        else:
            state = cc.RecoveryState(NULL_VALUE, 0, 0, self.ctx.cluster_id,
                                     tuple([NULL_VALUE] * self.ctx.service_count))
        self.counters["recovery"] = self.aeron.add_counter(cc.RECOVERY_STATE_TYPE_ID, state.label(), state.key())

    def _connect_archive(self) -> None:
        from aeronpy.archive.client import AeronArchive, AeronArchiveContext

        ctx = self.ctx
        self.archive = AeronArchive.connect(AeronArchiveContext(
            aeron_dir=ctx.aeron_dir, aeron=self.aeron, control_channel=ctx.archive_control_channel,
            control_stream_id=ctx.archive_control_stream_id, control_response_channel="aeron:ipc",
            control_response_stream_id=ctx.archive_response_stream_id,
            client_name=f"cm-archive-ctrl-cluster-{ctx.cluster_id}-member-{ctx.member_id}",
        ))

    def _connect_consensus(self) -> None:
        ctx = self.ctx
        channel = with_params(ctx.consensus_channel, endpoint=self.this_member.consensus_endpoint)
        self.consensus_adapter = MessageAdapter(
            self.aeron.add_subscription(channel, ctx.consensus_stream_id),
            _Handlers(self, "consensus", _CONSENSUS), _CONSENSUS, self._on_invalid_request)
        for m in self.members:
            if m is not self.this_member:
                m.publication = self.aeron.add_exclusive_publication(
                    with_params(ctx.consensus_channel, endpoint=m.consensus_endpoint), ctx.consensus_stream_id)

    def _new_election(self, now_ns: int, *, is_node_startup: bool, log_position: int, leadership_term_id: int,
                      term_base: int, append_position: int, graceful_closed_leader_id: int = NULL_VALUE) -> Election:
        ctx = self.ctx
        self.counters["elections"].increment()
        election = Election(
            is_node_startup=is_node_startup, leadership_term_id=leadership_term_id,
            term_base_log_position=term_base, log_position=log_position, append_position=append_position,
            members=self.members, this_member=self.this_member, agent=self, sender=self.consensus_publisher,
            now_ns=now_ns, election_timeout_ns=ctx.election_timeout_ns,
            election_status_interval_ns=ctx.election_status_interval_ns,
            leader_heartbeat_interval_ns=ctx.leader_heartbeat_interval_ns,
            leader_heartbeat_timeout_ns=ctx.leader_heartbeat_timeout_ns,
            startup_canvass_timeout_ns=ctx.startup_canvass_timeout_ns, app_version=ctx.app_version,
            appointed_leader_id=ctx.appointed_leader_id, graceful_closed_leader_id=graceful_closed_leader_id,
            on_state_change=self._on_election_state,
        )
        self.counters["election_state"].set(ElectionState.INIT)
        return election

    def _on_election_state(self, old: ElectionState, new: ElectionState, reason: str) -> None:
        self.counters["election_state"].set(int(new))
        self.election_history.append(new)
        del self.election_history[:-200]
        log.debug("member %d election %s -> %s %s", self.member_id, old.name, new.name, reason)

    def on_close(self) -> None:
        for closer in (self._close_extension, self._close_sessions, self._close_adapters, self._close_archive,
                       self._close_counters, self._close_files, self._close_aeron):
            try:
                closer()
            except Exception as e:  # noqa: BLE001 - close everything we can
                log.debug("close: %s", e)

    def _close_sessions(self) -> None:
        for s in list(self.sessions.values()) + self.pending_sessions + self.rejected_sessions + \
                self.redirect_sessions:
            s.close()
        self.sessions.clear()

    def _close_adapters(self) -> None:
        if self.election is not None:
            self.election.close()
        for a in (self.consensus_adapter, self.ingress_adapter, self.ipc_ingress_adapter, self.control_adapter):
            if a is not None:
                a.close()
        if self.log_publisher is not None:
            self.log_publisher.close()
        self.close_follower_subscription()
        for m in self.members:
            if m.publication is not None:
                try:
                    m.publication.close()  # type: ignore[attr-defined]
                except Exception:  # noqa: BLE001
                    pass
                m.publication = None

    def _close_archive(self) -> None:
        if self.archive is not None:
            if self.log_subscription_id != NULL_VALUE:
                try:
                    self.archive.stop_recording_subscription(self.log_subscription_id)
                except Exception:  # noqa: BLE001
                    pass
            self.archive.close()

    def _close_counters(self) -> None:
        if not self._owns_aeron:
            for c in self.counters.values():
                c.close()

    def _close_files(self) -> None:
        if self.mark_file is not None:
            self.mark_file.signal_terminated()
            self.mark_file.close()
        if self.recording_log is not None:
            self.recording_log.close()
        if self.node_state is not None:
            self.node_state.close()

    def _close_aeron(self) -> None:
        if self._owns_aeron and self.aeron is not None:
            self.aeron.close()

    # -- clocks, state, errors -------------------------------------------------------------

    def _now_ns(self) -> int:
        return self.epoch_clock() * MS

    @property
    def cm_state(self) -> ConsensusModuleState:
        return self.state

    def _set_state(self, state: ConsensusModuleState) -> None:
        self.state = state
        self.counters["state"].set(int(state))

    def set_role(self, role: Role) -> None:
        if role != self.role:
            self.role = role
            self.counters["role"].set(int(role))

    def current_role(self) -> Role:
        return self.role

    def _on_error(self, error: BaseException) -> None:
        if "errors" in self.counters:
            self.counters["errors"].increment()
        if self.mark_file is not None:
            try:
                self.mark_file.error_log.record(0, f"{type(error).__name__}: {error}", location=self.role_name())
            except Exception:  # noqa: BLE001
                pass
        if self.ctx.error_handler is not None:
            self.ctx.error_handler(error)
        else:
            log.warning("member %d: %s", self.member_id, error)

    def _on_invalid_request(self, reason: str) -> None:
        self.counters["invalid"].increment()
        self._on_error(ClusterError(f"invalid request: {reason}"))

    def commit_position(self) -> int:
        return int(self.counters["commit"].get())

    # -- duty cycle ------------------------------------------------------------------------

    def do_work(self) -> int:
        now_ns = self._now_ns()
        work = 0
        if now_ns >= self.slow_tick_deadline_ns:
            self.slow_tick_deadline_ns = now_ns + SLOW_TICK_NS
            work += self._slow_tick(now_ns)
        if self.consensus_adapter is not None:
            work += self.consensus_adapter.poll(10)
        if self.election is not None:
            try:
                work += self.election.do_work(now_ns)
            except ClusterTermination:
                raise
            except Exception as e:  # noqa: BLE001 - any failure in an election restarts it
                self._on_error(e)
                if self.election is not None:
                    self.election.handle_error(now_ns, str(e))
        elif self.state in (ConsensusModuleState.ACTIVE, ConsensusModuleState.SUSPENDED,
                            ConsensusModuleState.SNAPSHOT, ConsensusModuleState.TERMINATING):
            work += self._consensus_work(now_ns)
        if self.control_adapter is not None:
            work += self.control_adapter.poll(25)
        if self.extension is not None:
            work += self.extension.do_work(now_ns)
        return work

    def _slow_tick(self, now_ns: int) -> int:
        work = 0
        if now_ns >= self.mark_file_deadline_ns:
            self.mark_file_deadline_ns = now_ns + MARK_FILE_UPDATE_INTERVAL_NS
            self.mark_file.update_activity_timestamp(now_ns // MS)
        work += self._poll_archive_signals()
        work += self._check_node_control_toggle()
        work += self._send_heartbeat_responses(now_ns)
        work += self._process_redirect_sessions()
        work += self._process_rejected_sessions(now_ns)
        work += self._retry_pending_catchups(now_ns)
        if self.election is None:
            if self.role == Role.LEADER:
                work += self._check_control_toggle(now_ns)
                if self.state == ConsensusModuleState.ACTIVE:
                    work += self._process_pending_sessions(now_ns)
                    work += self._check_sessions(now_ns)
                if self.election is None and self.termination_position == NULL_POSITION and \
                        not self._has_active_quorum(now_ns):
                    self.enter_election("inactive follower quorum", now_ns)
                    work += 1
                if self.termination_position != NULL_POSITION and self.state == ConsensusModuleState.TERMINATING:
                    work += self._check_termination(now_ns)
            elif self.state in (ConsensusModuleState.ACTIVE, ConsensusModuleState.SUSPENDED) and \
                    self.termination_position == NULL_POSITION and \
                    now_ns >= self._last_leader_update_ns + self.ctx.leader_heartbeat_timeout_ns:
                self.enter_election("leader heartbeat timeout", now_ns)
                work += 1
        work += self._process_standby_snapshots(now_ns)
        if self.extension is not None:
            work += self.extension.slow_tick_work(now_ns)
        return work

    def _poll_archive_signals(self) -> int:
        if self.archive is None:
            return 0
        try:
            signals = self.archive.poll_for_recording_signals()
        except Exception as e:  # noqa: BLE001 - archive gone: the member cannot go on
            raise ClusterTermination(f"archive unavailable: {e}") from e
        for s in signals:
            if self.standby_replicator is not None:
                self.standby_replicator.on_signal(s)
            if self.election is not None and self.election.log_replication is not None:
                on_signal = getattr(self.election.log_replication, "on_signal", None)
                if on_signal is not None:
                    on_signal(s)
            elif s.recording_id == self.log_recording_id and s.signal.name == "STOP" and \
                    self.election is None and self.state == ConsensusModuleState.ACTIVE and \
                    self.role == Role.LEADER and self.log_subscription_id != NULL_VALUE:
                self.log_subscription_id = NULL_VALUE
                self.enter_election("log recording stopped unexpectedly", self._now_ns())
        return len(signals)

    def _check_node_control_toggle(self) -> int:
        """VALIDATE_RECORDING_LOG (counter 233): check every valid entry's recording is in the
        archive, invalidate snapshot entries whose recording is gone, then back to NEUTRAL."""
        toggle = self.counters["node_control"]
        if toggle.get() == cc.NodeControlToggle.REPLICATE_STANDBY_SNAPSHOT:
            return self._poll_standby_replication(toggle)
        if toggle.get() != cc.NodeControlToggle.VALIDATE_RECORDING_LOG:
            return 0
        from aeronpy.cluster.recording_log import EntryType

        for index, entry in enumerate(list(self.recording_log.entries)):
            if not entry.is_valid or entry.recording_id == NULL_VALUE:
                continue
            try:
                missing = self.archive.list_recording(entry.recording_id) is None
            except Exception as e:  # noqa: BLE001 - archive trouble: report, keep the entry
                self._on_error(e)
                continue
            if missing:
                self._on_error(ClusterError(f"recording.log entry refers to a recording the archive does not "
                                            f"have: {entry}"))
                if entry.entry_type != EntryType.TERM:
                    self.recording_log.invalidate_entry(index)
        toggle.set(cc.NodeControlToggle.NEUTRAL)
        return 1

    def _consensus_work(self, now_ns: int) -> int:
        work = self.extension.consensus_work(now_ns) if self.extension is not None else 0
        now_ms = now_ns // MS
        if self.role == Role.LEADER:
            if self.state == ConsensusModuleState.ACTIVE:
                work += self.timer_service.poll(now_ms, lambda cid, dl: self._on_timer_expiry(cid, dl, now_ms),
                                                TIMER_POLL_LIMIT)
                for tracker in self.trackers:
                    work += tracker.poll(self._append_service_message, SERVICE_MESSAGE_LIMIT)
                work += self._poll_ingress()
            work += self._update_leader_position(now_ns)
            if self.state == ConsensusModuleState.SNAPSHOT and self.ctx.service_count == 0 and \
                    self._snapshot_pending_position != NULL_POSITION and \
                    self.commit_position() >= self._snapshot_pending_position:
                self._check_snapshot_acks()  # no services to ack: snapshot once the action is committed
                work += 1
        else:
            if self.state == ConsensusModuleState.TERMINATING:
                self._follower_terminating(now_ns)
                return 1
            if self.state in (ConsensusModuleState.ACTIVE, ConsensusModuleState.SUSPENDED):
                if self.termination_position != NULL_POSITION and \
                        self.log_adapter.position >= self.termination_position:
                    self._follower_terminating(now_ns)
                    return 1
                limit = min(self.notified_commit_position, self._recorded_position())
                work += self.log_adapter.poll(limit)
                self.counters["commit"].propose_max(self.log_adapter.position)
                work += self._poll_ingress()
                if self.election is None and self.log_adapter.is_end_of_stream() and \
                        self.log_adapter.position >= self._recorded_position():
                    self.enter_election("the leader ended the log (graceful exit)", now_ns, graceful_leader_exit=True)
                    return 1
                if self.log_adapter.is_image_closed() and self.election is None:
                    # as Aeron: an image that went away after its end of stream was a graceful exit
                    eos = self.log_adapter.is_end_of_stream()
                    self.enter_election("log image closed", now_ns, graceful_leader_exit=eos)
                    return 1
            work += self._update_follower_position(now_ns, 0)
        return work

    def _poll_ingress(self) -> int:
        work = 0
        if self.ingress_adapter is not None:
            work += self.ingress_adapter.poll(self.ctx.ingress_fragment_limit)
        if self.ipc_ingress_adapter is not None:
            work += self.ipc_ingress_adapter.poll(self.ctx.ingress_fragment_limit)
        return work

    def _recorded_position(self) -> int:
        if self.append_position_counter_id >= 0:
            return int(self.aeron.counters_reader.get_counter_value(self.append_position_counter_id))
        return self.log_recording_stop_position

    # -- leader position -------------------------------------------------------------------

    def quorum_position_bounded(self, append_position: int, now_ns: int) -> int:
        return min(quorum_position(self.members, now_ns, self.ctx.leader_heartbeat_timeout_ns), append_position)

    def _update_leader_position(self, now_ns: int) -> int:
        append = self._recorded_position()
        return self.update_leader_position(now_ns, append, self.quorum_position_bounded(append, now_ns))

    def update_leader_position(self, now_ns: int, append_position: int, quorum_position: int) -> int:
        self.this_member.log_position = append_position
        self.this_member.time_of_last_append_position_ns = now_ns
        commit = self.commit_position()
        if quorum_position > commit or now_ns >= self.time_of_last_commit_send_ns + \
                self.ctx.leader_heartbeat_interval_ns:
            self.publish_commit_position(max(commit, quorum_position), self.leadership_term_id)
            self.time_of_last_commit_send_ns = now_ns
            if quorum_position > commit:
                self.counters["commit"].set(quorum_position)
                self._sweep_uncommitted(quorum_position)
            return 1
        return 0

    def publish_commit_position(self, position: int, leadership_term_id: int) -> None:
        for m in self.members:
            if m is not self.this_member:
                self.consensus_publisher.commit_position(m, leadership_term_id, position, self.member_id)

    def _has_active_quorum(self, now_ns: int) -> bool:
        timeout = self.ctx.leader_heartbeat_timeout_ns
        active = sum(1 for m in self.members if m is self.this_member or (
            m.time_of_last_append_position_ns != NULL_VALUE and m.time_of_last_append_position_ns + timeout > now_ns))
        return active >= len(self.members) // 2 + 1

    def _sweep_uncommitted(self, commit: int) -> None:
        while self.uncommitted_timers and self.uncommitted_timers[0][0] <= commit:
            self.uncommitted_timers.popleft()
        while self.uncommitted_closed_sessions and self.uncommitted_closed_sessions[0][0] <= commit:
            self.uncommitted_closed_sessions.popleft()
        while self.uncommitted_state and self.uncommitted_state[0][0] <= commit:
            self.uncommitted_state.popleft()
        for tracker in self.trackers:
            tracker.sweep_leader_messages(commit)
        self.next_committed_session_id = max(
            [self.next_committed_session_id] + [s.id + 1 for s in self.sessions.values()
                                                 if 0 <= s.opened_log_position <= commit])

    # -- follower position -----------------------------------------------------------------

    def _update_follower_position(self, now_ns: int, flags: int) -> int:
        leader = self.leader_member
        if leader is None:
            return 0
        position = self._recorded_position()
        if position > self.last_append_position or \
                now_ns >= self.time_of_last_append_position_send_ns + self.ctx.leader_heartbeat_interval_ns:
            if self.consensus_publisher.append_position(leader, self.leadership_term_id, position, self.member_id,
                                                        flags):
                self.last_append_position = position
                self.time_of_last_append_position_send_ns = now_ns
                return 1
        return 0

    # -- elections -------------------------------------------------------------------------

    def enter_election(self, reason: str, now_ns: int, graceful_leader_exit: bool = False) -> None:
        """Start an election; ``graceful_leader_exit``: the leader ended its log (EOS), so the
        election need not wait for it (Aeron's gracefulClosedLeaderId)."""
        if self.election is not None:
            return
        log.info("member %d enters an election: %s", self.member_id, reason)
        graceful_id = self.leader_member.id if graceful_leader_exit and self.leader_member is not None else NULL_VALUE
        self.counters["toggle"].set(ToggleState.INACTIVE)
        self.election = self._new_election(
            now_ns, is_node_startup=False, log_position=self.commit_position(),
            leadership_term_id=self.leadership_term_id, term_base=self._term_base(self.leadership_term_id),
            append_position=self._recorded_position(), graceful_closed_leader_id=graceful_id)

    def _term_base(self, term: int) -> int:
        entry = self.recording_log.find_term_entry(term) if term != NULL_VALUE else None
        return int(entry.term_base_log_position) if entry is not None else 0

    def candidate_term_id(self) -> int:
        return int(self.node_state.candidate_term_id)

    def propose_max_candidate_term_id(self, candidate_term_id: int, log_position: int) -> int:
        return int(self.node_state.propose_max_candidate_term_id(candidate_term_id, log_position, self.epoch_clock()))

    def time_of_last_leader_update_ns(self) -> int:
        return self._last_leader_update_ns

    def find_term_entry(self, leadership_term_id: int) -> Any:
        return self.recording_log.find_term_entry(leadership_term_id)

    def prepare_for_new_leadership(self, log_position: int, now_ns: int) -> int:
        """Leave the old term: drop publications and subscriptions, stop the log recording and
        roll back what was not committed (cluster.md §4.2 INIT, §4.8)."""
        self.set_role(Role.FOLLOWER)
        self.counters["toggle"].set(ToggleState.INACTIVE)
        self._extension_prepare_for_new_leadership()
        for a in (self.ingress_adapter, self.ipc_ingress_adapter):
            if a is not None:
                a.close()
        self.ingress_adapter = self.ipc_ingress_adapter = None
        if self.log_publisher is not None:
            self.log_publisher.close()
            self.log_publisher = None
        sub = self.follower_subscription
        if sub is not None:
            for destination in (self.catchup_log_destination, self.live_log_destination):
                if destination is not None:
                    try:  # frees the socket even while the services still hold the endpoint
                        sub.remove_destination(destination)
                    except Exception as e:  # noqa: BLE001
                        self._on_error(e)
            self.catchup_log_destination = self.live_log_destination = None
        self.close_follower_subscription()
        self.log_adapter.disconnect()
        self.leader_member = None
        append = NULL_POSITION
        if self.log_subscription_id != NULL_VALUE:
            try:
                self.archive.stop_recording_subscription(self.log_subscription_id)
            except Exception:  # noqa: BLE001 - it may have stopped by itself
                pass
            self.log_subscription_id = NULL_VALUE
        if self.log_recording_id != NULL_VALUE:
            append = self._await_recording_stopped()
            self.log_recording_stop_position = append
        self.append_position_counter_id = -1
        commit = self.commit_position()
        self._rollback_uncommitted(commit)
        for s in list(self.sessions.values()):
            if s.opened_log_position > commit:
                del self.sessions[s.id]
                s.close()
            else:
                s.disconnect()
        for s in self.pending_sessions + self.redirect_sessions + self.rejected_sessions:
            s.close()
        self.pending_sessions.clear()
        self.redirect_sessions.clear()
        self.rejected_sessions.clear()
        self._stop_all_catchups()
        return append

    def _await_recording_stopped(self) -> int:
        deadline = time.monotonic() + AWAIT_TIMEOUT_S
        while True:
            if self.archive.find_recording_position_counter(self.log_recording_id) < 0:
                break
            if time.monotonic() > deadline:
                raise ClusterError(f"log recording {self.log_recording_id} did not stop")
            time.sleep(0.001)
        return int(self.archive.get_stop_position(self.log_recording_id))

    def _rollback_uncommitted(self, commit: int) -> None:
        while self.uncommitted_timers:
            position, cid, deadline = self.uncommitted_timers.pop()
            if position > commit:
                self.timer_service.schedule(cid, deadline)
        while self.uncommitted_closed_sessions:
            position, session = self.uncommitted_closed_sessions.pop()
            if position > commit:
                session.state = SessionState.CLOSING
                self.sessions[session.id] = session
        restored = None
        while self.uncommitted_state:
            position, previous = self.uncommitted_state.pop()
            if position > commit:
                restored = previous
        if restored is not None:
            self._set_state(restored)
        for tracker in self.trackers:
            tracker.restore_uncommitted()
        self.next_session_id = self.next_committed_session_id

    def add_log_publication(self, append_position: int) -> int:
        ctx = self.ctx
        uri = parse_channel(ctx.log_channel)
        self.log_channel_tag = self.aeron.next_correlation_id()
        params: dict[str, Any] = {"alias": "log", "tags": f"{self.log_channel_tag},{self.aeron.next_correlation_id()}"}
        if uri.is_udp:
            if "endpoint" not in uri.params:
                params["control-mode"] = "manual"
                if ctx.log_control_enable:
                    params["control"] = f"{self.this_member.host('log_endpoint')}:0"
            params["ssc"] = "true" if len(self.members) == 1 else "false"
        plan_log = self.recovery_plan.log if self.recovery_plan is not None else None
        if self.log_recording_id != NULL_VALUE:
            extent = self.archive.list_recording(self.log_recording_id)
            if extent is None:
                raise ClusterError(f"log recording {self.log_recording_id} is not in the archive")
            term_length = extent.term_buffer_length
            bits = term_length.bit_length() - 1
            params["init-term-id"] = extent.initial_term_id
            params["term-id"] = extent.initial_term_id + (append_position >> bits)
            params["term-offset"] = append_position & (term_length - 1)
            params["term-length"] = term_length
            params["mtu"] = extent.mtu_length
        elif plan_log is None:
            params["init-term-id"] = 0
            params["term-id"] = 0
            params["term-offset"] = 0
        values = dict(uri.params)
        values.update({k: str(v) for k, v in params.items()})
        from aeronpy.uri import ChannelUri

        channel = str(ChannelUri(uri.prefix, uri.media, values))
        publication = self.aeron.add_exclusive_publication(channel, ctx.log_stream_id)
        self.log_publisher = LogPublisher(publication)
        if uri.is_udp and "endpoint" not in uri.params:
            for m in self.members:
                if m is not self.this_member:
                    self.log_publisher.add_destination(f"aeron:udp?endpoint={m.log_endpoint}")
        return int(publication.session_id)

    def join_log_as_leader(self, leadership_term_id: int, log_position: int, log_session_id: int,
                           is_startup: bool) -> None:
        is_ipc = self.ctx.log_channel.startswith("aeron:ipc")
        channel = f"{'aeron:ipc' if is_ipc else 'aeron:udp'}?tags={self.log_channel_tag}|session-id={log_session_id}|alias=log"
        self._set_leadership_term_id(leadership_term_id)
        self._start_log_recording(channel, local=True)
        self._await_append_position_counter(log_session_id)
        self.local_log_channel = channel if is_ipc else "aeron-spy:" + channel
        self.await_services_ready(self.local_log_channel, self.ctx.log_stream_id, log_session_id, log_position,
                                  MAX_I64, is_startup, Role.LEADER)
        self._connect_extension_leader_subscription(log_position)

    def _set_leadership_term_id(self, term: int) -> None:
        self.leadership_term_id = term
        self.counters["term"].set(term)

    def _start_log_recording(self, channel: str, local: bool) -> None:
        from aeronpy.archive.codecs import SourceLocation

        source = SourceLocation.LOCAL if local else SourceLocation.REMOTE
        if self.log_recording_id == NULL_VALUE:
            self.log_subscription_id = self.archive.start_recording(channel, self.ctx.log_stream_id, source, True)
        else:
            self.log_subscription_id = self.archive.extend_recording(self.log_recording_id, channel,
                                                                     self.ctx.log_stream_id, source, True)

    def _find_rec_pos_by_session(self, session_id: int) -> int:
        from aeronpy.archive.counters import decode_recording_position_key

        reader = self.aeron.counters_reader
        found = [-1]
        archive_id = self.archive.archive_id

        def visit(counter_id: int, type_id: int, key: bytes, label: str) -> None:
            if found[0] < 0 and type_id == ARCHIVE_REC_POS_TYPE_ID and len(key) >= 16:
                _, sid, _, aid = decode_recording_position_key(key)
                if sid == session_id and (archive_id == NULL_VALUE or aid in (NULL_VALUE, archive_id)):
                    found[0] = counter_id

        reader.for_each(visit)
        return found[0]

    def _await_append_position_counter(self, log_session_id: int) -> None:
        deadline = time.monotonic() + AWAIT_TIMEOUT_S
        while True:
            counter_id = self._find_rec_pos_by_session(log_session_id)
            if counter_id >= 0:
                key = self.aeron.counters_reader.get_counter_key(counter_id)
                self.log_recording_id = struct.unpack_from("<q", key, 0)[0]
                self.append_position_counter_id = counter_id
                return
            if time.monotonic() > deadline or self.closing:
                raise ClusterError(f"no recording of the log (session {log_session_id}) started")
            self.archive.poll_for_recording_signals()
            time.sleep(0.0005)

    def await_services_ready(self, channel: str, stream_id: int, log_session_id: int, log_position: int,
                             max_log_position: int, is_startup: bool, role: Role) -> None:
        if self.ctx.service_count == 0:
            return
        assert self.service_proxy is not None
        self.service_proxy.join_log(log_position, max_log_position, self.member_id, log_session_id, stream_id,
                                    is_startup, role, channel)
        self.expected_ack_position = log_position
        self._await_service_acks(log_position)

    def _await_service_acks(self, log_position: int) -> list[_ServiceAck]:
        if self.ctx.service_count == 0:
            return []
        deadline = time.monotonic() + AWAIT_TIMEOUT_S * 3
        while not self._has_reached(log_position):
            assert self.control_adapter is not None
            if self.control_adapter.poll(25) == 0:
                if time.monotonic() > deadline:
                    raise ClusterError(f"services did not acknowledge position {log_position} "
                                       f"(ack id {self.service_ack_id})")
                time.sleep(0.0005)
            if self.aeron.is_closed or self.closing:
                raise ClusterTermination("closed while awaiting the services")
        acks = [q.popleft() for q in self.service_ack_queues]
        self.service_ack_id += 1
        return acks

    def _has_reached(self, log_position: int) -> bool:
        for q in self.service_ack_queues:
            if not q:
                return False
            ack = q[0]
            if ack.ack_id != self.service_ack_id or ack.log_position != log_position:
                raise ClusterError(
                    f"ack out of sequence: expected ackId={self.service_ack_id} logPosition={log_position}, "
                    f"got ackId={ack.ack_id} logPosition={ack.log_position}")
        return True

    def replay_log_poll(self, adapter: LogAdapter, stop_position: int) -> int:
        work = 0
        if self.state in (ConsensusModuleState.ACTIVE, ConsensusModuleState.SUSPENDED):
            work += adapter.poll(stop_position)
            position = adapter.position
            if self.counters["commit"].propose_max(position):
                work += 1
            elif adapter.is_image_closed() and position < stop_position:
                raise ElectionRestart(f"unexpected image close while replaying the log at {position}")
        assert self.control_adapter is not None
        work += self.control_adapter.poll(25)
        return work

    def new_log_replay(self, from_position: int, to_position: int) -> ArchiveLogReplay:
        return ArchiveLogReplay(self, self.archive, self.aeron, self.log_adapter, self.log_recording_id,
                                from_position, to_position, self.ctx.replay_channel, self.ctx.replay_stream_id)

    def new_log_replication(self, leader: ClusterMember, leader_recording_id: int, stop_position: int,
                            now_ns: int) -> LogReplication:
        from aeronpy.cluster.consensus.log_replication import ArchiveLogReplication

        return ArchiveLogReplication(self, leader, leader_recording_id, stop_position)

    def append_new_leadership_term_event(self, now_ns: int) -> bool:
        assert self.log_publisher is not None and self.election is not None
        return self.log_publisher.append_new_leadership_term_event(
            self.leadership_term_id, now_ns // MS, self.election.log_position, self.member_id,
            self.log_publisher.session_id, self.ctx.app_version) > 0

    def ensure_recording_log_coherent(self, leadership_term_id: int, term_base_log_position: int,
                                      log_position: int, now_ns: int) -> None:
        if self.log_recording_id == NULL_VALUE:
            return
        election = self.election
        initial_term = election.initial_log_leadership_term_id if election else leadership_term_id
        initial_base = election.initial_term_base_log_position if election else 0
        self.recording_log.ensure_coherent(
            self.log_recording_id, initial_term, initial_base, leadership_term_id,
            term_base_log_position if term_base_log_position != NULL_VALUE else initial_base, log_position,
            now_ns, now_ns // MS, self.ctx.file_sync_level)

    def truncate_log_entry(self, leadership_term_id: int, position: int) -> None:
        if self.log_recording_id != NULL_VALUE:
            self.archive.truncate_recording(self.log_recording_id, position)
        if self.recording_log.find_term_entry(leadership_term_id) is not None:
            self.recording_log.commit_log_position(leadership_term_id, position)
        self.log_recording_stop_position = position

    def election_complete(self, election: Election, now_ns: int) -> None:
        self._set_leadership_term_id(election.leadership_term_id)
        self.leader_member = election.leader_member
        self.is_node_startup = False
        if self.role == Role.LEADER:
            self.time_of_last_commit_send_ns = 0
            self.counters["toggle"].set(ToggleState.NEUTRAL)
            self._connect_ingress(leader=True)
            endpoints = ingress_endpoints(self.members)
            for s in list(self.sessions.values()):
                if election.is_leader_startup:
                    s.state = SessionState.CLOSING
                    s.close_reason = CloseReason.TIMEOUT
                else:
                    s.time_of_last_activity_ns = now_ns
                    try:
                        s.connect(self.aeron)
                    except Exception as e:  # noqa: BLE001
                        self._on_error(e)
                    s.has_new_leader_event_pending = True
            self._new_leader_endpoints = endpoints
        else:
            self._last_leader_update_ns = now_ns
            self.time_of_last_append_position_send_ns = 0
            self.notified_commit_position = max(self.notified_commit_position, election.notified_commit_position)
            self._connect_ingress(leader=False)
        self.election = None
        self.counters["election_state"].set(ElectionState.CLOSED)
        if self.extension is not None:
            self.extension.on_election_complete(self._extension_control_state(self.role == Role.LEADER))

    def _connect_ingress(self, leader: bool) -> None:
        ctx = self.ctx
        assert ctx.ingress_channel is not None
        uri = parse_channel(ctx.ingress_channel)
        is_multicast = uri.is_udp and "endpoint" in uri.params and _is_multicast(uri.params["endpoint"])
        if uri.is_udp and not (is_multicast and not leader):
            channel = ctx.ingress_channel
            if "endpoint" not in uri.params:
                channel = with_params(channel, endpoint=self.this_member.ingress_endpoint)
            channel = with_params(channel, rejoin="false", reliable="true")
            self.ingress_adapter = MessageAdapter(
                self.aeron.add_subscription(channel, ctx.ingress_stream_id),
                _Handlers(self, "ingress", _INGRESS), _INGRESS, self._on_invalid_request, controlled=True,
                on_other_schema=self._on_ingress_extension_message)
        if leader and (ctx.ingress_ipc_allowed or uri.is_ipc):
            self.ipc_ingress_adapter = MessageAdapter(
                self.aeron.add_subscription("aeron:ipc", ctx.ingress_stream_id),
                _Handlers(self, "ingress", _INGRESS), _INGRESS, self._on_invalid_request, controlled=True,
                on_other_schema=self._on_ingress_extension_message)

    # -- follower log subscription (election hooks) ----------------------------------------

    def follower_subscribe(self, log_session_id: int) -> None:
        uri = parse_channel(self.ctx.log_channel)
        tags = f"{self.aeron.next_correlation_id()},{self.aeron.next_correlation_id()}"
        channel = f"aeron:udp?tags={tags}|control-mode=manual|session-id={log_session_id}|group=true|rejoin=false"
        for p in ("so-rcvbuf", "rcv-wnd"):
            if p in uri.params:
                channel += f"|{p}={uri.params[p]}"
        channel += "|alias=log-cm"
        self.follower_subscription = self.aeron.add_subscription(channel, self.ctx.log_stream_id)

    def has_follower_subscription(self) -> bool:
        return self.follower_subscription is not None

    def close_follower_subscription(self) -> None:
        """Close the follower log subscription and wait (bounded) for the driver to release
        its sockets, so the next term can bind the same log endpoint."""
        sub, self.follower_subscription = self.follower_subscription, None
        self.live_log_destination = self.catchup_log_destination = None
        if sub is None:
            return
        try:
            sub.close()
        except Exception:  # noqa: BLE001
            pass

    def add_catchup_log_destination(self) -> None:
        destination = f"aeron:udp?endpoint={self.this_member.catchup_endpoint}"
        self.follower_subscription.add_destination(destination)
        self.catchup_log_destination = destination

    def add_live_log_destination(self) -> None:
        uri = parse_channel(self.ctx.log_channel)
        if uri.is_udp and "endpoint" not in uri.params:
            destination = f"aeron:udp?endpoint={self.this_member.log_endpoint}"
        else:
            destination = self.ctx.log_channel
        self.follower_subscription.add_destination(destination)
        self.live_log_destination = destination

    def resolved_catchup_endpoint(self) -> str | None:
        endpoint = self.this_member.catchup_endpoint
        if not endpoint.endswith(":0"):
            return endpoint
        sub = self.follower_subscription
        if sub is None:
            return None
        from aeronpy.concurrent.counters import LOCAL_SOCKADDR_TYPE_ID

        status_id = getattr(sub, "channel_status_id", -1)
        live_port = self.this_member.log_endpoint.rsplit(":", 1)[1]
        ports: list[str] = []

        def visit(counter_id: int, type_id: int, key: bytes, label: str) -> None:
            if type_id == LOCAL_SOCKADDR_TYPE_ID and len(key) >= 8:
                sid, n = struct.unpack_from("<ii", key)
                if sid == status_id and 0 < n <= len(key) - 8:
                    port = key[8:8 + n].decode("ascii", "replace").rsplit(":", 1)[-1]
                    if port not in ("0", live_port):
                        ports.append(port)

        self.aeron.counters_reader.for_each(visit)
        return endpoint[:-1] + ports[0] if ports else None

    def follower_image_join_position(self, log_session_id: int) -> int | None:
        if self.follower_subscription is None:
            return None
        image = self.follower_subscription.image_by_session_id(log_session_id)
        return None if image is None else int(image.join_position)

    def try_join_log_as_follower(self, log_session_id: int, is_startup: bool, now_ns: int) -> bool:
        sub = self.follower_subscription
        image = sub.image_by_session_id(log_session_id)
        if image is None:
            return False
        if self.log_subscription_id == NULL_VALUE:
            self._start_log_recording(sub.channel, local=False)
        counter_id = self._find_rec_pos_by_session(log_session_id)
        if counter_id < 0:
            self.archive.poll_for_recording_signals()
            return False
        key = self.aeron.counters_reader.get_counter_key(counter_id)
        self.log_recording_id = struct.unpack_from("<q", key, 0)[0]
        self.append_position_counter_id = counter_id
        self.log_adapter.set_image(image)
        self.last_append_position = int(image.join_position)
        self.await_services_ready(sub.channel, self.ctx.log_stream_id, log_session_id, int(image.join_position),
                                  MAX_I64, is_startup, Role.FOLLOWER)
        return True

    def catchup_initiated(self, now_ns: int) -> None:
        self.time_of_last_append_position_send_ns = now_ns

    def catchup_poll(self, limit_position: int, now_ns: int) -> int:
        work = 0
        if self.state in (ConsensusModuleState.ACTIVE, ConsensusModuleState.SUSPENDED):
            fragments = self.log_adapter.poll(min(self._recorded_position(), limit_position))
            self.counters["commit"].propose_max(self.log_adapter.position)
            work += fragments
            if fragments == 0 and self.log_adapter.is_image_closed():
                raise ElectionRestart("log image closed during catch-up")
        if self.election is not None and self.election.leader_member is not None:
            self.leader_member = self.election.leader_member
            self.leadership_term_id = self.election.leadership_term_id
        work += self._update_follower_position(now_ns, 1)
        return work

    def is_catchup_near_live(self, position: int) -> bool:
        image = self.log_adapter.image
        if image is None:
            return False
        window = min(image.term_buffer_length >> 2, 32 * 1024 * 1024)
        return bool(int(self.log_adapter.position) >= position - window)

    def has_catchup_log_destination(self) -> bool:
        return self.catchup_log_destination is not None

    def has_live_log_destination(self) -> bool:
        return self.live_log_destination is not None

    def stop_all_catchups(self) -> None:
        self._stop_all_catchups()

    def _stop_all_catchups(self) -> None:
        self.pending_catchups.clear()
        for m in self.members:
            if m.catchup_replay_session_id != NULL_VALUE:
                try:
                    self.archive.stop_replay(m.catchup_replay_session_id)
                except Exception:  # noqa: BLE001
                    pass
                m.catchup_replay_session_id = NULL_VALUE
                m.catchup_replay_correlation_id = NULL_VALUE

    def track_catchup_completion(self, follower: ClusterMember, leadership_term_id: int, flags: int) -> None:
        if follower.catchup_replay_session_id == NULL_VALUE or self.log_publisher is None:
            return
        if follower.log_position >= self.log_publisher.position:
            try:
                self.archive.stop_replay(follower.catchup_replay_session_id)
            except Exception:  # noqa: BLE001
                pass
            follower.catchup_replay_session_id = NULL_VALUE
            self.consensus_publisher.stop_catchup(follower, leadership_term_id, follower.id)

    # -- consensus messages ----------------------------------------------------------------

    def _consensus_CanvassPosition(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        now_ns = self._now_ns()
        if self.election is not None:
            self.election.on_canvass_position(d.get_int("log_leadership_term_id"), d.get_int("log_position"),
                                              d.get_int("leadership_term_id"), d.get_int("follower_member_id"),
                                              now_ns)
            return
        follower = find_member(self.members, d.get_int("follower_member_id"))
        if follower is None or follower is self.this_member or self.role != Role.LEADER or \
                self.log_publisher is None:
            return
        log_term = d.get_int("log_leadership_term_id")
        if log_term > self.leadership_term_id:
            return
        follower.leadership_term_id = log_term
        follower.log_position = d.get_int("log_position")
        follower.time_of_last_append_position_ns = now_ns
        self._stop_catchup_of(follower)
        term_base = self._term_base(self.leadership_term_id)
        nxt, nbase, nlog = NULL_VALUE, NULL_POSITION, NULL_POSITION
        if log_term < self.leadership_term_id:
            entry = self.recording_log.find_term_entry(log_term + 1)
            nxt = entry.leadership_term_id if entry is not None else self.leadership_term_id
            nbase = entry.term_base_log_position if entry is not None else term_base
            nlog = entry.log_position if entry is not None else NULL_POSITION
        self.consensus_publisher.new_leadership_term(
            follower, log_leadership_term_id=log_term, next_leadership_term_id=nxt,
            next_term_base_log_position=nbase, next_log_position=nlog,
            leadership_term_id=self.leadership_term_id, term_base_log_position=term_base,
            log_position=self.log_publisher.position, commit_position=self.commit_position(),
            leader_recording_id=self.log_recording_id, timestamp=now_ns // MS, leader_member_id=self.member_id,
            log_session_id=self.log_publisher.session_id, app_version=self.ctx.app_version, is_startup=0)

    def _stop_catchup_of(self, follower: ClusterMember) -> None:
        self.pending_catchups.pop(follower.id, None)
        if follower.catchup_replay_session_id != NULL_VALUE:
            try:
                self.archive.stop_replay(follower.catchup_replay_session_id)
            except Exception:  # noqa: BLE001
                pass
            follower.catchup_replay_session_id = NULL_VALUE

    def _consensus_RequestVote(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        now_ns = self._now_ns()
        candidate_term = d.get_int("candidate_term_id")
        if self.election is None and candidate_term > self.leadership_term_id:
            self.enter_election("vote requested for a newer term", now_ns)
        if self.election is not None:
            self.election.on_request_vote(d.get_int("log_leadership_term_id"), d.get_int("log_position"),
                                          candidate_term, d.get_int("candidate_member_id"), now_ns)
        else:
            candidate = find_member(self.members, d.get_int("candidate_member_id"))
            if candidate is not None:
                self.consensus_publisher.place_vote(candidate, candidate_term, self.leadership_term_id,
                                                    self._recorded_position(), candidate.id, self.member_id, False)

    def _consensus_Vote(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        if self.election is not None:
            self.election.on_vote(d.get_int("candidate_term_id"), d.get_int("log_leadership_term_id"),
                                  d.get_int("log_position"), d.get_int("candidate_member_id"),
                                  d.get_int("follower_member_id"), d.get_int("vote") == 1, self._now_ns())

    def _consensus_NewLeadershipTerm(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        now_ns = self._now_ns()
        app_version = d.get_int("app_version")
        if app_version not in (0, sbe.PRIMITIVES["int32"][1]) and major_version(app_version) != \
                major_version(self.ctx.app_version):
            self._on_error(ClusterError(f"incompatible app version {app_version} from member "
                                        f"{d.get_int('leader_member_id')}"))
            return
        term = d.get_int("leadership_term_id")
        if self.election is None:
            if term > self.leadership_term_id:
                self.enter_election("new leadership term seen", now_ns)
            elif term == self.leadership_term_id and self.leader_member is not None and \
                    d.get_int("leader_member_id") == self.leader_member.id:
                self._last_leader_update_ns = now_ns
                self.notified_commit_position = max(self.notified_commit_position, d.int_or("commit_position", 0))
                return
        if self.election is not None:
            commit = d.get_int("commit_position")
            if commit == sbe.PRIMITIVES["int64"][1]:
                commit = 0
            self.election.on_new_leadership_term(
                log_leadership_term_id=d.get_int("log_leadership_term_id"),
                next_leadership_term_id=d.get_int("next_leadership_term_id"),
                next_term_base_log_position=d.get_int("next_term_base_log_position"),
                next_log_position=d.get_int("next_log_position"), leadership_term_id=term,
                term_base_log_position=d.get_int("term_base_log_position"), log_position=d.get_int("log_position"),
                commit_position=commit, leader_recording_id=d.get_int("leader_recording_id"),
                leader_member_id=d.get_int("leader_member_id"), log_session_id=d.get_int("log_session_id"),
                is_startup=d.get_int("is_startup") == 1, now_ns=now_ns)

    def _consensus_AppendPosition(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        now_ns = self._now_ns()
        term, position, follower_id = d.get_int("leadership_term_id"), d.get_int("log_position"), \
            d.get_int("follower_member_id")
        flags = d.get_int("flags")
        flags = 0 if flags == 0xFF else flags
        if self.election is not None:
            self.election.on_append_position(term, position, follower_id, flags, now_ns)
            return
        if term <= self.leadership_term_id and self.role == Role.LEADER:
            follower = find_member(self.members, follower_id)
            if follower is not None and follower is not self.this_member:
                follower.leadership_term_id = term
                follower.log_position = position
                follower.time_of_last_append_position_ns = now_ns
                self.track_catchup_completion(follower, term, flags)

    def _consensus_CommitPosition(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        now_ns = self._now_ns()
        term, position, leader_id = d.get_int("leadership_term_id"), d.get_int("log_position"), \
            d.get_int("leader_member_id")
        if self.election is not None:
            self.election.on_commit_position(term, position, leader_id, now_ns)
            return
        if term == self.leadership_term_id and self.leader_member is not None and \
                leader_id == self.leader_member.id and self.role == Role.FOLLOWER:
            self.notified_commit_position = max(self.notified_commit_position, position)
            self._last_leader_update_ns = now_ns
        elif term > self.leadership_term_id:
            self.enter_election("commit position of a newer term", now_ns)

    def _consensus_CatchupPosition(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        follower = find_member(self.members, d.get_int("follower_member_id"))
        if follower is None or self.role != Role.LEADER or self.log_publisher is None:
            return
        if d.get_int("leadership_term_id") > self.leadership_term_id:
            return
        if follower.catchup_replay_session_id != NULL_VALUE:
            return
        endpoint = d.get_str("catchup_endpoint")
        channel = with_params(self.ctx.follower_catchup_channel, endpoint=endpoint,
                              session_id=self.log_publisher.session_id, linger="0", eos="false",
                              alias=f"catchup-followerId-{follower.id}")
        position = d.get_int("log_position")
        if self._start_catchup_replay(follower, channel, position, report=True):
            self.pending_catchups.pop(follower.id, None)
        else:
            now_ns = self._now_ns()
            self.pending_catchups[follower.id] = (channel, position, now_ns + self.ctx.leader_heartbeat_timeout_ns,
                                                  now_ns + CATCHUP_RETRY_INTERVAL_NS)

    def _start_catchup_replay(self, follower: ClusterMember, channel: str, position: int, report: bool) -> bool:
        try:
            follower.catchup_replay_session_id = self.archive.start_replay(
                self.log_recording_id, channel, self.ctx.log_stream_id, position, -1)
            return True
        except Exception as e:  # noqa: BLE001 - refused: retried while the follower waits for it
            if report:
                self._on_error(e)
            return False

    def _retry_pending_catchups(self, now_ns: int) -> int:
        """Retry refused catch-up replays until they start, the follower asks again (a new
        CanvassPosition drops the request) or the leader heartbeat timeout passes (the follower
        has given up by then and will send a new CatchupPosition)."""
        work = 0
        for follower_id, (channel, position, deadline, next_ns) in list(self.pending_catchups.items()):
            follower = find_member(self.members, follower_id)
            if follower is None or follower.catchup_replay_session_id != NULL_VALUE or now_ns > deadline or \
                    self.role != Role.LEADER or self.log_publisher is None:
                del self.pending_catchups[follower_id]
                continue
            if now_ns < next_ns:
                continue
            if self._start_catchup_replay(follower, channel, position, report=False):
                del self.pending_catchups[follower_id]
            else:
                self.pending_catchups[follower_id] = (channel, position, deadline, now_ns + CATCHUP_RETRY_INTERVAL_NS)
            work += 1
        return work

    def _consensus_StopCatchup(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        if d.get_int("follower_member_id") == self.member_id and self.catchup_log_destination is not None \
                and self.follower_subscription is not None:
            try:
                self.follower_subscription.remove_destination(self.catchup_log_destination)
            except Exception as e:  # noqa: BLE001
                self._on_error(e)
            self.catchup_log_destination = None

    def _consensus_TerminationPosition(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        if self.role == Role.FOLLOWER and d.get_int("leadership_term_id") == self.leadership_term_id:
            self.termination_position = d.get_int("log_position")
            self.termination_leadership_term_id = d.get_int("leadership_term_id")

    def _consensus_HeartbeatRequest(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        """A liveness probe (standby / backup, cluster.md §2.6): answered on its response channel."""
        channel = d.get_str("response_channel")
        if len(self.heartbeat_responses) >= MAX_PENDING_HEARTBEAT_RESPONSES:
            self._on_invalid_request("too many HeartbeatRequests awaiting a response")
            return
        try:
            parse_channel(channel)
            publication = self.aeron.add_publication(channel, d.get_int("response_stream_id"))
        except Exception as e:  # noqa: BLE001 - a bad response channel is an invalid request
            self._on_invalid_request(f"HeartbeatRequest with response channel {channel!r}: {e}")
            return
        from aeronpy.cluster.codecs import T

        message = sbe.encode(T.HeartbeatResponse, correlation_id=d.get_int("correlation_id"))
        self.heartbeat_responses.append((publication, message, self._now_ns() + HEARTBEAT_RESPONSE_TIMEOUT_NS))

    def _consensus_BackupQuery(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        """A ClusterBackup asks for the log and snapshots (cluster.md §4.17): answered outside
        elections in ACTIVE/SUSPENDED/SNAPSHOT, on its response channel, with BackupResponse."""
        from aeronpy.cluster.consensus.backup_response import backup_response

        if self.election is not None or self.state not in (
                ConsensusModuleState.ACTIVE, ConsensusModuleState.SUSPENDED, ConsensusModuleState.SNAPSHOT):
            return
        if len(self.heartbeat_responses) >= MAX_PENDING_HEARTBEAT_RESPONSES:
            self._on_invalid_request("too many BackupQuery/HeartbeatRequests awaiting a response")
            return
        channel = d.get_str("response_channel")
        try:
            message = backup_response(self, d)
            if message is None:  # no log recorded yet: nothing to back up (Java answers nothing)
                return
            parse_channel(channel)
            publication = self.aeron.add_publication(channel, d.get_int("response_stream_id"))
        except Exception as e:  # noqa: BLE001 - a bad query is an invalid request
            self._on_invalid_request(f"BackupQuery with response channel {channel!r}: {e}")
            return
        self.heartbeat_responses.append((publication, message, self._now_ns() + HEARTBEAT_RESPONSE_TIMEOUT_NS))

    def _consensus_StandbySnapshot(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        """A standby's snapshots (cluster.md §4.17): queued until committed, or refused."""
        from aeronpy.cluster.consensus import standby_snapshots as ss

        detail, code = "", EventCode.OK
        if not self.ctx.accept_standby_snapshots:
            detail, code = ss.NOT_ACCEPTED, EventCode.ERROR
        elif self.ctx.authorisation_service is not None and not self.ctx.authorisation_service(
                SCHEMA_ID, ss.STANDBY_SNAPSHOT_TEMPLATE_ID, 0, d.get_bytes("encoded_credentials")):
            detail, code = ss.NOT_AUTHORISED, EventCode.AUTHENTICATION_REJECTED
        if code == EventCode.OK:
            try:
                entries = [ss.StandbySnapshotEntry.from_group(row) for row in d.get_group("snapshots")]
            except (ValueError, KeyError, TypeError) as e:
                self._on_invalid_request(f"StandbySnapshot: {e}")
                return
            self.standby_snapshots.add(entries)
            return
        self._on_error(ClusterError(f"StandbySnapshot refused: {detail}"))
        if len(self.heartbeat_responses) >= MAX_PENDING_HEARTBEAT_RESPONSES:
            return
        channel = d.get_str("response_channel")
        try:
            parse_channel(channel)
            publication = self.aeron.add_publication(channel, d.get_int("response_stream_id"))
        except Exception as e:  # noqa: BLE001 - a bad response channel is an invalid request
            self._on_invalid_request(f"StandbySnapshot with response channel {channel!r}: {e}")
            return
        from aeronpy.cluster.codecs import T

        leader = self.leader_member.id if self.leader_member is not None else NULL_VALUE
        message = sbe.encode(T.SessionEvent, cluster_session_id=NULL_VALUE, correlation_id=d.get_int("correlation_id"),
                             leadership_term_id=self.leadership_term_id, leader_member_id=leader, code=code,
                             version=CLIENT_PROTOCOL_VERSION, leader_heartbeat_timeout_ns=0, detail=detail)
        self.heartbeat_responses.append((publication, message, self._now_ns() + HEARTBEAT_RESPONSE_TIMEOUT_NS))

    def _replicate_standby_snapshots_for_startup(self) -> None:
        """Standby snapshots newer than the member's own are fetched before the recovery plan
        is made, so recovery starts from them (as Aeron); a failure is reported, not fatal."""
        from aeronpy.cluster.consensus.standby_snapshots import StandbySnapshotReplicator

        replicator = StandbySnapshotReplicator(self)
        if replicator.is_complete:
            return
        self.standby_replicator = replicator
        try:
            while not replicator.is_complete:
                for s in self.archive.poll_for_recording_signals():
                    replicator.on_signal(s)
                if replicator.poll(self._now_ns()) == 0:
                    time.sleep(0.001)
                if self.closing:
                    raise ClusterTermination("closed while replicating standby snapshots")
        except ClusterError as e:
            if isinstance(e, ClusterTermination):
                raise
            self._on_error(e)
        finally:
            self.standby_replicator = None

    def _poll_standby_replication(self, toggle: Any) -> int:
        """REPLICATE_STANDBY_SNAPSHOT (node control toggle 2): replicate in the duty cycle, then NEUTRAL."""
        from aeronpy.cluster.consensus.standby_snapshots import StandbySnapshotReplicator

        if self.standby_replicator is None:
            self.standby_replicator = StandbySnapshotReplicator(self)
        try:
            work = int(self.standby_replicator.poll(self._now_ns()))
        except ClusterError as e:
            self._on_error(e)
            work = 1
        if self.standby_replicator.is_complete:
            self.standby_replicator = None
            toggle.set(cc.NodeControlToggle.NEUTRAL)
        return work

    def _process_standby_snapshots(self, now_ns: int) -> int:
        before = self.standby_snapshots.appended
        try:
            work = self.standby_snapshots.process(self.commit_position(), now_ns)
        except ClusterError as e:  # e.g. an entry the recording log refuses: drop it, report
            self.standby_snapshots.pending.clear()
            self._on_error(e)
            return 1
        for _ in range(self.standby_snapshots.appended - before):
            self.counters["standby_snapshots"].increment()
        return work

    def _send_heartbeat_responses(self, now_ns: int) -> int:
        work = 0
        for entry in list(self.heartbeat_responses):
            publication, message, deadline = entry
            sent = bool(publication.is_connected) and publication.offer(message) > 0
            if sent or now_ns > deadline:
                self.heartbeat_responses.remove(entry)
                try:
                    publication.close()
                except Exception:  # noqa: BLE001
                    pass
                work += 1
        return work

    def _consensus_TerminationAck(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        member = find_member(self.members, d.get_int("member_id"))
        if member is not None and self.role == Role.LEADER and d.get_int("log_position") >= self.termination_position:
            member.has_terminated = True

    # -- ingress ---------------------------------------------------------------------------

    def _ingress_SessionConnectRequest(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        now_ns = self._now_ns()
        channel = d.get_str("response_channel")
        stream = d.get_int("response_stream_id")
        try:
            channel = self._refine_response_channel(channel)
        except Exception as e:  # noqa: BLE001 - a bad response channel is an invalid request
            self._on_invalid_request(f"SessionConnectRequest with response channel {channel!r}: {e}")
            return
        if self.role != Role.LEADER:
            session = ClusterSession(NULL_VALUE, stream, channel, correlation_id=d.get_int("correlation_id"))
        else:
            session = ClusterSession(self.next_session_id, stream, channel, correlation_id=d.get_int("correlation_id"))
            self.next_session_id += 1
        session.time_of_last_activity_ns = now_ns
        try:
            session.connect(self.aeron)
        except Exception as e:  # noqa: BLE001
            self._on_invalid_request(f"cannot add egress publication {channel!r}: {e}")
            return
        if self.role != Role.LEADER:
            self.redirect_sessions.append(session)
            return
        version = d.get_int("version")
        if version == 0 or major_version(version) != 0:
            session.event_code = EventCode.ERROR
            session.event_detail = f"invalid client version {version >> 16}.{(version >> 8) & 0xFF}.{version & 0xFF}" \
                if version else "invalid client version 0.0.0"
            session.state = SessionState.REJECTED
            self.rejected_sessions.append(session)
        elif len(self.pending_sessions) + len(self.sessions) >= self.ctx.max_sessions:
            session.event_code = EventCode.ERROR
            session.event_detail = "concurrent session limit"
            session.state = SessionState.REJECTED
            self.rejected_sessions.append(session)
        else:
            session.state = SessionState.CONNECTING
            authenticator = self.ctx.authenticator
            if authenticator is not None:
                self._authenticate(session, authenticator.on_connect_request, session.id,
                                   d.get_bytes("encoded_credentials"), now_ns // MS)
            self.pending_sessions.append(session)

    def _authenticate(self, session: ClusterSession, callback: Any, *args: Any) -> None:
        """Call the user's authenticator: whatever it raises is counted and rejects the session
        (a faulty authenticator must not stop the consensus module)."""
        try:
            callback(*args)
        except Exception as e:  # noqa: BLE001
            self._on_error(ClusterError(f"authenticator {type(e).__name__}: {e} (session {session.id})"))
            _SessionProxy(self, session).reject()

    def _refine_response_channel(self, channel: str) -> str:
        uri = parse_channel(channel)
        egress = self.ctx.egress_channel
        if egress:
            template = parse_channel(egress)
            if uri.is_ipc and not self.ctx.ingress_ipc_allowed:
                return egress
            values = dict(uri.params)
            values.update(template.params)
            from aeronpy.uri import ChannelUri

            return str(ChannelUri(uri.prefix, uri.media, values))
        return channel

    def _ingress_SessionCloseRequest(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        session = self.sessions.get(d.get_int("cluster_session_id"))
        if session is None or self.role != Role.LEADER or session.state != SessionState.OPEN:
            return
        session.state = SessionState.CLOSING
        session.close_reason = CloseReason.CLIENT_ACTION
        session.disconnect()
        self._append_session_close(session, self._now_ns())

    def _ingress_SessionKeepAlive(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        session = self.sessions.get(d.get_int("cluster_session_id"))
        if session is not None and self.role == Role.LEADER and session.state == SessionState.OPEN and \
                d.get_int("leadership_term_id") == self.leadership_term_id:
            session.time_of_last_activity_ns = self._now_ns()
            session.ingress_image_correlation_id = getattr(header.context, "correlation_id", -1) \
                if header is not None else -1

    def _ingress_ChallengeResponse(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        authenticator = self.ctx.authenticator
        for session in self.pending_sessions:
            if session.id == d.get_int("cluster_session_id") and session.state == SessionState.CHALLENGED:
                session.correlation_id = d.get_int("correlation_id")
                if authenticator is not None:
                    self._authenticate(session, authenticator.on_challenge_response, session.id,
                                       d.get_bytes("encoded_credentials"), self._now_ns() // MS)

    def _ingress_AdminRequest(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        session = self.sessions.get(d.get_int("cluster_session_id"))
        if session is None or self.role != Role.LEADER or session.state != SessionState.OPEN or \
                d.get_int("leadership_term_id") != self.leadership_term_id:
            return
        from aeronpy.cluster.codecs import AdminResponseCode

        corr, rtype = d.get_int("correlation_id"), d.get_int("request_type")
        allowed = self.ctx.authorisation_service is not None and \
            self.ctx.authorisation_service(111, 26, rtype, session.encoded_principal)
        if not allowed:
            self.egress_publisher.send_admin_response(
                session, corr, rtype, AdminResponseCode.UNAUTHORISED_ACCESS,
                "Execution of the SNAPSHOT request was not authorised")
            return
        toggle = self.counters["toggle"]
        if toggle.get() == ToggleState.NEUTRAL:
            toggle.set(ToggleState.SNAPSHOT)
            self.egress_publisher.send_admin_response(session, corr, rtype, AdminResponseCode.OK, "")
        else:
            self.egress_publisher.send_admin_response(
                session, corr, rtype, AdminResponseCode.ERROR,
                f"Unable to execute SNAPSHOT: control toggle is {ToggleState(int(toggle.get())).name}")

    def _ingress_SessionMessageHeader(self, d: sbe.Decoded, data: bytes, header: Any) -> Any:
        if self.role != Role.LEADER or self.state != ConsensusModuleState.ACTIVE or self.log_publisher is None:
            return
        if d.get_int("leadership_term_id") != self.leadership_term_id:
            return
        session = self.sessions.get(d.get_int("cluster_session_id"))
        if session is None:
            self._on_invalid_request(f"session message for unknown session {d.get_int('cluster_session_id')}")
            return
        if session.state != SessionState.OPEN:
            return
        now_ns = self._now_ns()
        if self.log_publisher.append_message(self.leadership_term_id, session.id, now_ns // MS,
                                             bytearray(data)) > 0:
            session.time_of_last_activity_ns = now_ns
            return None
        return ControlledPollAction.ABORT  # the log is back-pressured: ingress waits (and so does the client)

    def _on_unavailable_ingress_image(self, image: Any) -> None:
        """An ingress image went away: sessions bound to it time out at once (§3.3)."""
        cid = getattr(image, "correlation_id", None)
        if cid is None:
            return
        for s in self.sessions.values():
            if s.ingress_image_correlation_id == cid and s.state == SessionState.OPEN:
                s.time_of_last_activity_ns = -(1 << 62)

    # -- sessions --------------------------------------------------------------------------

    def _process_pending_sessions(self, now_ns: int) -> int:
        work = 0
        timeout = self.ctx.session_timeout_ns
        for session in list(self.pending_sessions):
            if session.state == SessionState.INVALID or now_ns > session.time_of_last_activity_ns + timeout:
                self.pending_sessions.remove(session)
                session.close()
                continue
            # As Aeron: a CONNECTED session is asked again every cycle until the authenticator
            # decides (a challenge its egress refused, e.g. before the publication's limit moves,
            # is tried again), and a CHALLENGED one only while its egress is connected.
            if (session.state == SessionState.CONNECTING or session.state == SessionState.CONNECTED) and \
                    session.is_egress_connected():
                session.state = SessionState.CONNECTED
                authenticator = self.ctx.authenticator
                if authenticator is None:
                    session.state = SessionState.AUTHENTICATED
                else:
                    self._authenticate(session, authenticator.on_connected_session, _SessionProxy(self, session),
                                       now_ns // MS)
            if session.state == SessionState.CHALLENGED and self.ctx.authenticator is not None and \
                    session.is_egress_connected():
                self._authenticate(session, self.ctx.authenticator.on_challenged_session,
                                   _SessionProxy(self, session), now_ns // MS)
            if session.state == SessionState.REJECTED:
                self.pending_sessions.remove(session)
                self.rejected_sessions.append(session)
                continue
            if session.state == SessionState.AUTHENTICATED and self.log_publisher is not None:
                position = self.log_publisher.append_session_open(session, self.leadership_term_id, now_ns // MS)
                if position > 0:
                    self.pending_sessions.remove(session)
                    session.state = SessionState.OPEN
                    session.opened_log_position = position
                    session.time_of_last_activity_ns = now_ns
                    session.has_open_event_pending = True
                    self.sessions[session.id] = session
                    self._add_session_counter(session)
                    work += 1
                    if self.extension is not None:
                        self.extension.on_session_opened(session.id)
        for session in self.sessions.values():
            if session.has_open_event_pending:
                if self.egress_publisher.send_event(session, self.leadership_term_id, self.member_id, EventCode.OK,
                                                    "", self.ctx.leader_heartbeat_timeout_ns):
                    session.has_open_event_pending = False
            if session.has_new_leader_event_pending and session.is_egress_connected():
                if self.egress_publisher.new_leader(session, self.leadership_term_id, self.member_id,
                                                    ingress_endpoints(self.members)):
                    session.has_new_leader_event_pending = False
        return work

    def _add_session_counter(self, session: ClusterSession) -> None:
        try:
            key = struct.pack("<iq", self.ctx.cluster_id, session.id)
            label = cc.cluster_label(f"cluster-session: {session.id}", self.ctx.cluster_id)
            session.counter = self.aeron.add_counter(cc.CLUSTER_SESSION_TYPE_ID, label, key)
            session.counter.set(session.id)
        except Exception as e:  # noqa: BLE001 - counters are informational
            self._on_error(e)

    def _process_rejected_sessions(self, now_ns: int) -> int:
        work = 0
        for session in list(self.rejected_sessions):
            sent = False
            if session.is_egress_connected():
                sent = self.egress_publisher.send_event(session, self.leadership_term_id, self.member_id,
                                                        EventCode(session.event_code), session.event_detail,
                                                        self.ctx.leader_heartbeat_timeout_ns)
            if sent or now_ns > session.time_of_last_activity_ns + self.ctx.session_timeout_ns:
                self.rejected_sessions.remove(session)
                session.close()
                work += 1
        return work

    def _process_redirect_sessions(self) -> int:
        work = 0
        now_ns = self._now_ns()
        leader = self.leader_member.id if self.leader_member is not None else NULL_VALUE
        for session in list(self.redirect_sessions):
            sent = False
            if session.is_egress_connected():
                sent = self.egress_publisher.send_event(session, self.leadership_term_id, leader, EventCode.REDIRECT,
                                                        ingress_endpoints(self.members),
                                                        self.ctx.leader_heartbeat_timeout_ns)
            if sent or now_ns > session.time_of_last_activity_ns + self.ctx.session_timeout_ns:
                self.redirect_sessions.remove(session)
                session.close()
                work += 1
        return work

    def _check_sessions(self, now_ns: int) -> int:
        work = 0
        timeout = self.ctx.session_timeout_ns
        for session in list(self.sessions.values()):
            if session.state == SessionState.OPEN and now_ns > session.time_of_last_activity_ns + timeout:
                session.state = SessionState.CLOSING
                session.close_reason = CloseReason.TIMEOUT
                self.egress_publisher.send_event(session, self.leadership_term_id, self.member_id, EventCode.CLOSED,
                                                 "TIMEOUT", self.ctx.leader_heartbeat_timeout_ns)
                self.counters["timed_out"].increment()
                work += 1
            if session.state == SessionState.CLOSING and session.id in self.sessions:
                if self._append_session_close(session, now_ns):
                    work += 1
        return work

    def _append_session_close(self, session: ClusterSession, now_ns: int) -> bool:
        assert self.log_publisher is not None
        reason = session.close_reason if session.close_reason is not None else CloseReason.CLIENT_ACTION
        position = self.log_publisher.append_session_close(session.id, self.leadership_term_id, now_ns // MS, reason)
        if position <= 0:
            return False
        self.sessions.pop(session.id, None)
        session.disconnect()
        if session.counter is not None:
            session.counter.close()
            session.counter = None
        self.uncommitted_closed_sessions.append((position, session))
        if self.extension is not None:
            self.extension.on_session_closed(session.id, CloseReason(reason))
        return True

    # -- timers and service messages -------------------------------------------------------

    def _on_timer_expiry(self, correlation_id: int, deadline: int, now_ms: int) -> bool:
        assert self.log_publisher is not None
        position = self.log_publisher.append_timer(correlation_id, self.leadership_term_id, now_ms)
        if position > 0:
            self.uncommitted_timers.append((position, correlation_id, deadline))
            return True
        return False

    def _append_service_message(self, message: bytearray) -> int:
        assert self.log_publisher is not None
        cluster_session_id = struct.unpack_from("<q", message, 16)[0]
        return self.log_publisher.append_message(self.leadership_term_id, cluster_session_id,
                                                 self._now_ns() // MS, message)

    # -- control (from services) -----------------------------------------------------------

    def _control_SessionMessageHeader(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        service_id = d.get_int("cluster_session_id")
        if not 0 <= service_id < len(self.trackers):
            self._on_invalid_request(f"service message from unknown service id {service_id}")
            return
        self.trackers[service_id].enqueue(data)

    def _control_ScheduleTimer(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        self.timer_service.on_schedule_timer(d.get_int("correlation_id"), d.get_int("deadline"))

    def _control_CancelTimer(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        self.timer_service.cancel(d.get_int("correlation_id"))

    def _control_CloseSession(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        session = self.sessions.get(d.get_int("cluster_session_id"))
        if session is None:
            return
        session.close_reason = CloseReason.SERVICE_ACTION
        if self.role == Role.LEADER and self.state == ConsensusModuleState.ACTIVE and session.state == SessionState.OPEN:
            session.state = SessionState.CLOSING
            self.egress_publisher.send_event(session, self.leadership_term_id, self.member_id, EventCode.CLOSED,
                                             "SERVICE_ACTION", self.ctx.leader_heartbeat_timeout_ns)
            self._append_session_close(session, self._now_ns())
        else:
            session.state = SessionState.CLOSING

    def _control_ServiceAck(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        service_id = d.get_int("service_id")
        if not 0 <= service_id < len(self.service_ack_queues):
            self._on_invalid_request(f"ServiceAck from unknown service id {service_id}")
            return
        ack_id = d.get_int("ack_id")
        if ack_id == 0:
            if self.service_client_ids[service_id] != NULL_VALUE:
                self._on_invalid_request(f"initial ack already received from service {service_id}")
                return
            self.service_client_ids[service_id] = d.get_int("relevant_id")
        self.service_ack_queues[service_id].append(_ServiceAck(ack_id, d.get_int("log_position"),
                                                               d.get_int("relevant_id")))
        if self.state == ConsensusModuleState.SNAPSHOT and self._snapshot_pending_position != NULL_POSITION:
            try:
                if self._has_reached(self._snapshot_pending_position):
                    self._on_services_snapshot_acked()
            except ClusterError as e:
                self._on_error(e)
        elif self.state == ConsensusModuleState.TERMINATING and self.termination_position != NULL_POSITION:
            try:
                if self._has_reached(self.termination_position):
                    acks = [q.popleft() for q in self.service_ack_queues]
                    self.service_ack_id += 1
                    del acks
                    self._services_terminated = True
            except ClusterError as e:
                self._on_error(e)

    def _control_ClusterMembersQuery(self, d: sbe.Decoded, data: bytes, header: Any) -> None:
        assert self.service_proxy is not None
        leader = self.leader_member.id if self.leader_member is not None else NULL_VALUE
        if d.get_int("extended") == 1:
            active = [dict(leadership_term_id=m.leadership_term_id, log_position=m.log_position,
                           time_of_last_append_ns=m.time_of_last_append_position_ns, member_id=m.id,
                           ingress_endpoint=m.ingress_endpoint, consensus_endpoint=m.consensus_endpoint,
                           log_endpoint=m.log_endpoint, catchup_endpoint=m.catchup_endpoint,
                           archive_endpoint=m.archive_endpoint) for m in self.members]
            self.service_proxy.cluster_members_extended_response(d.get_int("correlation_id"), self._now_ns(),
                                                                 leader, self.member_id, active)
        else:
            self.service_proxy.cluster_members_response(d.get_int("correlation_id"), leader,
                                                        members_string(self.members))

    # -- the log, as a follower or in a replay --------------------------------------------

    def on_log_message(self, d: sbe.Decoded, data: bytes, position: int) -> bool:
        name = d.spec.name
        if name == "SessionMessageHeader":
            sid = d.get_int("cluster_session_id")
            session = self.sessions.get(sid)
            if session is not None:
                session.time_of_last_activity_ns = self._now_ns()
            elif sid < 0:
                service_id = service_id_from_session_id(sid)
                if service_id < len(self.trackers):
                    self.trackers[service_id].sweep_follower_messages(sid)
        elif name == "TimerEvent":
            self.timer_service.on_timer_event(d.get_int("correlation_id"))
        elif name == "SessionOpenEvent":
            sid = d.get_int("cluster_session_id")
            session = ClusterSession(sid, d.get_int("response_stream_id"), d.get_str("response_channel"),
                                     correlation_id=d.get_int("correlation_id"), state=SessionState.OPEN,
                                     opened_log_position=position, time_of_last_activity_ns=self._now_ns(),
                                     encoded_principal=d.get_bytes("encoded_principal"))
            self.sessions[sid] = session
            self.next_session_id = max(self.next_session_id, sid + 1)
            self.next_committed_session_id = max(self.next_committed_session_id, sid + 1)
            if self.extension is not None:
                self.extension.on_session_opened(sid)
        elif name == "SessionCloseEvent":
            session = self.sessions.pop(d.get_int("cluster_session_id"), None)
            if session is not None:
                session.close()
                if self.extension is not None:
                    self.extension.on_session_closed(session.id, CloseReason(d.get_int("close_reason")))
        elif name == "ClusterActionRequest":
            return self._on_replay_cluster_action(d, position)
        elif name == "NewLeadershipTermEvent":
            term = d.get_int("leadership_term_id")
            if self.election is not None:
                self.election.on_replay_new_leadership_term_event(
                    term, d.get_int("log_position"), d.get_int("term_base_log_position"),
                    d.get_int("timestamp") * MS)
            if self.role == Role.FOLLOWER and self.election is None and term > self.leadership_term_id:
                self._set_leadership_term_id(term)
            if self.extension is not None:
                from aeronpy.cluster.consensus.extension import ConsensusControlState

                self.extension.on_new_leadership_term(ConsensusControlState(None, None, self.log_recording_id, term))
        return True

    def _on_replay_cluster_action(self, d: sbe.Decoded, position: int) -> bool:
        action = d.get_int("action")
        flags = d.get_int("flags")
        flags = 0 if flags == sbe.PRIMITIVES["int32"][1] else flags
        if action == ClusterAction.SUSPEND:
            self._set_state(ConsensusModuleState.SUSPENDED)
        elif action == ClusterAction.RESUME:
            self._set_state(ConsensusModuleState.ACTIVE)
        elif action == ClusterAction.SNAPSHOT and flags == 0:
            self._set_state(ConsensusModuleState.SNAPSHOT)
            self._snapshot_pending_position = d.get_int("log_position")
            self._snapshot_timestamp = d.get_int("timestamp")
            self._snapshot_term = d.get_int("leadership_term_id")
            self._check_snapshot_acks()
            return False
        return True

    # -- control toggle, snapshots, termination --------------------------------------------

    _snapshot_pending_position = NULL_POSITION
    _snapshot_timestamp = 0
    _snapshot_term = NULL_VALUE
    _services_terminated = False

    def _check_control_toggle(self, now_ns: int) -> int:
        toggle = self.counters["toggle"]
        value = int(toggle.get())
        if self.log_publisher is None:
            return 0
        now_ms = now_ns // MS
        if value == ToggleState.SUSPEND and self.state == ConsensusModuleState.ACTIVE:
            position = self.log_publisher.append_cluster_action(self.leadership_term_id, now_ms, ClusterAction.SUSPEND)
            if position > 0:
                self.uncommitted_state.append((position, self.state))
                self._set_state(ConsensusModuleState.SUSPENDED)
                return 1
        elif value == ToggleState.RESUME and self.state == ConsensusModuleState.SUSPENDED:
            position = self.log_publisher.append_cluster_action(self.leadership_term_id, now_ms, ClusterAction.RESUME)
            if position > 0:
                self.uncommitted_state.append((position, self.state))
                self._set_state(ConsensusModuleState.ACTIVE)
                toggle.set(ToggleState.NEUTRAL)
                return 1
        elif value in (ToggleState.SNAPSHOT, ToggleState.SHUTDOWN) and self.state == ConsensusModuleState.ACTIVE:
            position = self.log_publisher.append_cluster_action(self.leadership_term_id, now_ms,
                                                                ClusterAction.SNAPSHOT)
            if position > 0:
                self.uncommitted_state.append((position, self.state))
                self._set_state(ConsensusModuleState.SNAPSHOT)
                self._snapshot_pending_position = position
                self._snapshot_timestamp = now_ms
                self._snapshot_term = self.leadership_term_id
                if value == ToggleState.SHUTDOWN:
                    self._begin_termination(position, now_ns)
                return 1
        elif value == ToggleState.ABORT and self.state == ConsensusModuleState.ACTIVE:
            position = self.log_publisher.position
            self._begin_termination(position, now_ns)
            self._set_state(ConsensusModuleState.TERMINATING)
            assert self.service_proxy is not None
            self.service_proxy.termination_position(position, True)
            return 1
        return 0

    def _begin_termination(self, position: int, now_ns: int) -> None:
        self.termination_position = position
        self.termination_deadline_ns = now_ns + self.ctx.termination_timeout_ns
        for m in self.members:
            m.has_terminated = m is self.this_member
            if m is not self.this_member:
                self.consensus_publisher.termination_position(m, self.leadership_term_id, position)

    def _check_snapshot_acks(self) -> None:
        if self.ctx.service_count == 0:
            self._on_services_snapshot_acked()
            return
        try:
            if self._has_reached(self._snapshot_pending_position):
                self._on_services_snapshot_acked()
        except ClusterError as e:
            self._on_error(e)

    def _on_services_snapshot_acked(self) -> None:
        from aeronpy.cluster.consensus.snapshot import take_consensus_module_snapshot

        acks = [q.popleft() for q in self.service_ack_queues]
        self.service_ack_id += 1
        position = self._snapshot_pending_position
        self._snapshot_pending_position = NULL_POSITION
        term = self._snapshot_term
        if all(a.relevant_id != NULL_VALUE for a in acks):
            try:
                recording_id = take_consensus_module_snapshot(self, position, term)
                term_base = self._term_base(term)
                for service_id in range(len(acks) - 1, -1, -1):
                    self.recording_log.append_snapshot(acks[service_id].relevant_id, term, term_base, position,
                                                       self._snapshot_timestamp, service_id)
                self.recording_log.append_snapshot(recording_id, term, term_base, position,
                                                   self._snapshot_timestamp, -1)
                self.recording_log.force()
                self.counters["snapshots"].increment()
            except Exception as e:  # noqa: BLE001 - a failed snapshot leaves the cluster running
                self._on_error(e)
        for s in self.sessions.values():
            s.time_of_last_activity_ns = self._now_ns()
        if self.termination_position != NULL_POSITION and self.role == Role.LEADER:
            self._set_state(ConsensusModuleState.TERMINATING)
            assert self.service_proxy is not None
            self.service_proxy.termination_position(self.termination_position, True)
        else:
            self._set_state(ConsensusModuleState.ACTIVE)
            if self.role == Role.LEADER:
                self.counters["toggle"].set(ToggleState.NEUTRAL)

    def _check_termination(self, now_ns: int) -> int:
        followers_done = all(m.has_terminated for m in self.members)
        if (self._services_terminated or self.ctx.service_count == 0) and \
                (followers_done or now_ns >= self.termination_deadline_ns):
            self.recording_log.commit_log_position(self.leadership_term_id, self.termination_position) \
                if self.recording_log.find_term_entry(self.leadership_term_id) is not None else None
            self._terminate()
        return 0

    def _follower_terminating(self, now_ns: int) -> None:
        if self.state != ConsensusModuleState.TERMINATING:
            self._set_state(ConsensusModuleState.TERMINATING)
            assert self.service_proxy is not None
            self.service_proxy.termination_position(self.termination_position, True)
        if self._services_terminated or self.ctx.service_count == 0:
            if self.leader_member is not None:
                self.consensus_publisher.termination_ack(self.leader_member, self.leadership_term_id,
                                                         self.termination_position, self.member_id)
            if self.recording_log.find_term_entry(self.leadership_term_id) is not None:
                self.recording_log.commit_log_position(self.leadership_term_id, self.termination_position)
            self._terminate()

    def _terminate(self) -> None:
        self._set_state(ConsensusModuleState.CLOSED)
        hook = self.ctx.termination_hook
        if hook is not None:
            hook()
        raise ClusterTermination("cluster terminated")


    # -- the consensus module extension (cluster/consensus/extension.py) -------------------

    def _extension_on_start(self, snapshot_image: Any | None) -> None:
        from aeronpy.cluster.consensus.extension import ConsensusModuleControl

        if self.extension is not None:
            self.extension.on_start(ConsensusModuleControl(self), snapshot_image)

    def _extension_control_state(self, is_leader: bool) -> Any:
        from aeronpy.cluster.consensus.extension import ConsensusControlState

        publication = self.log_publisher.publication if is_leader and self.log_publisher is not None else None
        return ConsensusControlState(publication, self.extension_leader_subscription if is_leader else None,
                                     self.log_recording_id, self.leadership_term_id)

    def _connect_extension_leader_subscription(self, log_position: int) -> None:
        """The leader's extension reads its own log through a spy from ``log_position``."""
        if self.extension is None:
            return
        subscription = self.aeron.add_subscription(self.local_log_channel, self.ctx.log_stream_id)
        deadline = time.monotonic() + AWAIT_TIMEOUT_S
        while subscription.image_count == 0:
            if time.monotonic() > deadline:
                subscription.close()
                raise ClusterError("the extension's leader log subscription did not connect")
            time.sleep(0.0005)
        join_position = int(subscription.image_at_index(0).join_position)
        if join_position != log_position:
            subscription.close()
            raise ClusterError(f"extension subscription joinPosition ({join_position}) does not match "
                               f"logPosition ({log_position})")
        self.extension_leader_subscription = subscription

    def _extension_prepare_for_new_leadership(self) -> None:
        if self.extension is None:
            return
        self.extension.on_prepare_for_new_leadership()
        subscription, self.extension_leader_subscription = self.extension_leader_subscription, None
        if subscription is not None:
            subscription.close()

    def _on_ingress_extension_message(self, acting_block_length: int, template_id: int, schema_id: int,
                                      acting_version: int, buffer: Any, offset: int, length: int,
                                      header: Any) -> Any:
        if self.extension is None:
            self._on_invalid_request(f"expected schemaId={SCHEMA_ID}, actual={schema_id}")
            return None
        return self.extension.on_ingress_extension_message(
            acting_block_length, template_id, schema_id, acting_version, buffer, offset, length, header)

    def on_log_extension_message(self, acting_block_length: int, template_id: int, schema_id: int,
                                 acting_version: int, buffer: Any, offset: int, length: int, header: Any) -> Any:
        """A log message of another schema (LogAdapter): to the extension, else fatal, as Aeron."""
        if self.extension is None:
            raise ClusterError(f"expected schemaId={SCHEMA_ID}, actual={schema_id} in the log")
        return self.extension.on_log_extension_message(
            acting_block_length, template_id, schema_id, acting_version, buffer, offset + 8, length - 8, header)

    def close_session_by_extension(self, cluster_session_id: int) -> None:
        """``ConsensusModuleControl.close_cluster_session``: as a service's CloseSession."""
        from aeronpy.cluster.codecs import CLUSTER_SCHEMA, T

        message = sbe.encode(T.CloseSession, cluster_session_id=cluster_session_id)
        decoded = sbe.decode(CLUSTER_SCHEMA, message)
        assert decoded is not None
        self._control_CloseSession(decoded, message, None)

    def _close_extension(self) -> None:
        extension = self.extension
        if extension is None:
            return
        subscription, self.extension_leader_subscription = self.extension_leader_subscription, None
        try:
            extension.close()
        except Exception as e:  # noqa: BLE001 - closing goes on
            self._on_error(e)
        if subscription is not None:
            try:
                subscription.close()
            except Exception:  # noqa: BLE001
                pass


class _SessionProxy:
    """What an authenticator may do with a pending session (Aeron's ``SessionProxy``; the same
    protocol as the archive's, :class:`aeronpy.archive.auth.SessionProxy`, so one authenticator
    serves both)."""

    def __init__(self, agent: ConsensusModuleAgent, session: ClusterSession) -> None:
        self.agent = agent
        self.session = session

    def session_id(self) -> int:
        return self.session.id

    def challenge(self, encoded_challenge: bytes) -> bool:
        if self.agent.egress_publisher.send_challenge(self.session, encoded_challenge):
            self.session.state = SessionState.CHALLENGED
            return True
        return False

    def authenticate(self, encoded_principal: bytes = b"") -> bool:
        self.session.encoded_principal = bytes(encoded_principal or b"")
        self.session.state = SessionState.AUTHENTICATED
        return True

    def reject(self) -> None:
        self.session.state = SessionState.REJECTED
        self.session.event_code = EventCode.AUTHENTICATION_REJECTED
        self.session.event_detail = "session failed authentication"  # Aeron's text


def _is_multicast(endpoint: str) -> bool:
    host = endpoint.rpartition(":")[0].strip("[]")
    try:
        import ipaddress

        return ipaddress.ip_address(host).is_multicast
    except ValueError:
        return False


_ = SESSION_HEADER_LENGTH
