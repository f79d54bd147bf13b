"""``ClusterBackupAgent``: backs up a running cluster into its own archive and ``recording.log``
(cluster.md §4.17, after Aeron's ClusterBackupAgent).

States: BACKUP_QUERY (ask a member, in turn, with BackupQuery) → SNAPSHOT_RETRIEVE (replicate
the snapshots it lacks from that member's archive) → LIVE_LOG_RECORD (record the catch-up
channel in the own archive) → LIVE_LOG_REPLAY (bounded replay of the member's log recording,
limited by its commit-pos counter, to the catch-up endpoint) → UPDATE_RECORDING_LOG (TERM and
SNAPSHOT entries for what is now local) → BACKING_UP (follow the live log; query again every
``aeron.cluster.backup.interval``); any failure → RESET_BACKUP (cool down, query again).

Like the consensus module, the agent blocks in place (bounded by the archive client's message
timeout) for archive requests; it runs on its own thread."""

from __future__ import annotations

import random
from enum import IntEnum
from typing import Any

from aeronpy.cluster.backup.context import ClusterBackupContext, ReplayStart
from aeronpy.cluster.backup.events import ClusterBackupEventsListener
from aeronpy.cluster.client.context import PROTOCOL_SEMANTIC_VERSION
from aeronpy.cluster.codecs import CLUSTER_SCHEMA, T, EventCode
from aeronpy.cluster.consensus.channels import with_params
from aeronpy.cluster.errors import ClusterError
from aeronpy.cluster.members import ClusterMember, find_member, parse_members
from aeronpy.cluster.recording_log import CONSENSUS_MODULE_SERVICE_ID, RecordingLog, Snapshot
from aeronpy.protocol import sbe

__all__ = ["ClusterBackupAgent", "ClusterBackupState", "BACKUP_STATE_TYPE_ID", "LIVE_LOG_POSITION_TYPE_ID",
           "QUERY_DEADLINE_TYPE_ID", "BACKUP_ERROR_COUNT_TYPE_ID", "SNAPSHOT_RETRIEVE_COUNT_TYPE_ID"]

BACKUP_STATE_TYPE_ID = 208
LIVE_LOG_POSITION_TYPE_ID = 209
QUERY_DEADLINE_TYPE_ID = 210
BACKUP_ERROR_COUNT_TYPE_ID = 211
SNAPSHOT_RETRIEVE_COUNT_TYPE_ID = 240

NULL_VALUE = -1
NULL_POSITION = -1
MS = 1_000_000
SLOW_TICK_INTERVAL_MS = 10
MARK_FILE_UPDATE_INTERVAL_MS = 1000
FRAGMENT_LIMIT = 10
_RECORDING_POSITION_TYPE_ID = 100


class ClusterBackupState(IntEnum):
    """The backup's states, with Aeron's codes (the state counter holds them)."""

    BACKUP_QUERY = 0
    SNAPSHOT_RETRIEVE = 1
    LIVE_LOG_RECORD = 2
    LIVE_LOG_REPLAY = 3
    UPDATE_RECORDING_LOG = 4
    BACKING_UP = 5
    RESET_BACKUP = 6
    CLOSED = 7


class _SnapshotReplication:
    """Replicates snapshot recordings one after another into the backup's archive."""

    def __init__(self, archive: Any, src_control_stream_id: int, src_control_channel: str,
                 replication_channel: str, snapshots: list[Snapshot]) -> None:
        self.archive = archive
        self.src_control_stream_id = src_control_stream_id
        self.src_control_channel = src_control_channel
        self.replication_channel = replication_channel
        self.pending = list(snapshots)
        self.retrieved: list[Snapshot] = []
        self._current: Snapshot | None = None
        self._replication_id = NULL_VALUE
        self._recording_id = NULL_VALUE
        self._ended = False

    def poll(self) -> int:
        if self._current is None:
            if not self.pending:
                return 0
            self._current = self.pending.pop(0)
            self._recording_id = NULL_VALUE
            self._ended = False
            self._replication_id = self.archive.replicate(
                self._current.recording_id, NULL_VALUE, self.src_control_stream_id, self.src_control_channel,
                replication_channel=self.replication_channel)
            return 1
        if self._ended and self._recording_id != NULL_VALUE:
            s = self._current
            self.retrieved.append(Snapshot(self._recording_id, s.leadership_term_id, s.term_base_log_position,
                                           s.log_position, s.timestamp, s.service_id))
            self._current = None
            return 1
        return 0

    def on_signal(self, signal: Any) -> None:
        if self._current is None or signal.correlation_id != self._replication_id:
            return
        if signal.recording_id != NULL_VALUE:
            self._recording_id = signal.recording_id
        name = signal.signal.name
        if name in ("REPLICATE_END", "SYNC"):
            self._ended = True
        elif name == "DELETE":
            raise ClusterError(f"snapshot recording {self._recording_id} deleted while being retrieved")

    @property
    def is_complete(self) -> bool:
        return self._current is None and not self.pending

    def close(self) -> None:
        if self._current is not None and not self._ended:
            try:
                self.archive.stop_replication(self._replication_id)
            except Exception:  # noqa: BLE001 - ended already
                pass


class ClusterBackupAgent:
    """The backup's duty cycle.  ``aeron`` is a connected client of the backup's own driver;
    ``counters``: state, live_log_position, next_query_deadline, snapshots_retrieved."""

    def __init__(self, ctx: ClusterBackupContext, aeron: Any, mark_file: Any, counters: dict[str, Any],
                 epoch_clock: Any, error_handler: Any) -> None:
        self.ctx = ctx
        self.aeron = aeron
        self.mark_file = mark_file
        self.counters = counters
        self.epoch_clock = epoch_clock
        self.error_handler = error_handler
        self.events: ClusterBackupEventsListener = ctx.events_listener or ClusterBackupEventsListener()
        self.state = ClusterBackupState.BACKUP_QUERY
        self.recording_log: RecordingLog | None = None
        self.backup_archive: Any = None
        self.cluster_archive: Any = None
        self.consensus_subscription: Any = None
        self.publication: Any = None
        self._endpoint_index = -1
        self._excluded: set[str] = set()
        self.cluster_members: list[ClusterMember] = []
        self.log_supplier_member: ClusterMember | None = None
        self.leader_log_entry: tuple[int, int, int] | None = None
        self.leader_last_term_entry: tuple[int, int, int] | None = None
        self.snapshots_to_retrieve: list[Snapshot] = []
        self.snapshots_retrieved: list[Snapshot] = []
        self.snapshot_replication: _SnapshotReplication | None = None
        self.cluster_log_recording_id = NULL_VALUE
        self.leader_commit_position_counter_id = NULL_VALUE
        self.live_log_recording_subscription_id = NULL_VALUE
        self.live_log_recording_session_id = NULL_VALUE
        self.live_log_replay_session_id = NULL_VALUE
        self.live_log_recording_counter_id = NULL_VALUE
        self.live_log_recording_id = NULL_VALUE
        self.replay_channel = ""
        self.recording_channel = ""
        self.correlation_id = NULL_VALUE
        self.slow_tick_deadline_ms = 0
        self.mark_file_deadline_ms = 0
        self.time_of_last_backup_query_ms = 0
        self.time_of_last_progress_ms = 0
        self.cool_down_deadline_ms = NULL_VALUE
        self.closed = False

    def role_name(self) -> str:
        return f"cluster-backup-{self.ctx.cluster_id}"

    # -- lifecycle -----------------------------------------------------------------------------

    def on_start(self) -> None:
        from aeronpy.archive.client import AeronArchive, AeronArchiveContext

        ctx = self.ctx
        self.recording_log = RecordingLog(ctx.cluster_dir, create=True, file_sync_level=ctx.file_sync_level)
        self.backup_archive = AeronArchive.connect(AeronArchiveContext(
            aeron_dir=ctx.aeron_dir, aeron=self.aeron, control_channel=ctx.archive_control_channel,
            control_stream_id=ctx.archive_control_stream_id, control_response_channel="aeron:ipc",
            control_response_stream_id=ctx.archive_response_stream_id,
            client_name=f"cluster-backup-{ctx.cluster_id}-archive"))
        self.consensus_subscription = self.aeron.add_subscription(ctx.consensus_channel, ctx.consensus_stream_id)
        now_ms = self.epoch_clock()
        self.time_of_last_progress_ms = now_ms
        self._set_state(ClusterBackupState.BACKUP_QUERY, now_ms)

    def on_close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._reset()
        for resource in (self.consensus_subscription, self.backup_archive, self.recording_log):
            try:
                if resource is not None:
                    resource.close()
            except Exception as e:  # noqa: BLE001 - close the rest
                self.error_handler(e)
        self._set_state(ClusterBackupState.CLOSED, self.epoch_clock())

    # -- duty cycle ----------------------------------------------------------------------------

    def do_work(self) -> int:
        now_ms = self.epoch_clock()
        work = 0
        try:
            if now_ms > self.slow_tick_deadline_ms:
                self.slow_tick_deadline_ms = now_ms + SLOW_TICK_INTERVAL_MS
                work += self._slow_tick(now_ms)
            work += self.consensus_subscription.poll(self._on_fragment, FRAGMENT_LIMIT)
            state = self.state
            if state == ClusterBackupState.BACKUP_QUERY:
                work += self._backup_query(now_ms)
            elif state == ClusterBackupState.SNAPSHOT_RETRIEVE:
                work += self._snapshot_retrieve(now_ms)
            elif state == ClusterBackupState.LIVE_LOG_RECORD:
                work += self._live_log_record(now_ms)
            elif state == ClusterBackupState.LIVE_LOG_REPLAY:
                work += self._live_log_replay(now_ms)
            elif state == ClusterBackupState.UPDATE_RECORDING_LOG:
                work += self._update_recording_log(now_ms)
            elif state == ClusterBackupState.BACKING_UP:
                work += self._backing_up(now_ms)
            elif state == ClusterBackupState.RESET_BACKUP:
                work += self._reset_backup(now_ms)
            if self.live_log_recording_counter_id == NULL_VALUE and \
                    now_ms > self.time_of_last_progress_ms + self.ctx.backup_progress_timeout_ns // MS and \
                    self.state != ClusterBackupState.RESET_BACKUP:
                self.events.on_possible_failure(ClusterError("progress has stalled"))
                self._set_state(ClusterBackupState.RESET_BACKUP, now_ms)
        except Exception as e:
            self.events.on_possible_failure(e)
            self._set_state(ClusterBackupState.RESET_BACKUP, now_ms)
            raise
        return int(work)

    def _slow_tick(self, now_ms: int) -> int:
        if now_ms >= self.mark_file_deadline_ms:
            self.mark_file_deadline_ms = now_ms + MARK_FILE_UPDATE_INTERVAL_MS
            self.mark_file.update_activity_timestamp(now_ms)
        work = 0
        for signal in self.backup_archive.poll_for_recording_signals():
            work += 1
            if self.snapshot_replication is not None:
                self.snapshot_replication.on_signal(signal)
        return work

    # -- messages from the cluster -------------------------------------------------------------

    def _on_fragment(self, buffer: Any, offset: int, length: int, header: Any) -> None:
        data = buffer.get_bytes(offset, length)
        try:
            d = sbe.decode(CLUSTER_SCHEMA, data)
        except sbe.CodecError as e:
            self.error_handler(ClusterError(f"malformed message on the backup's consensus channel: {e}"))
            return
        if d is None:
            return
        name = d.spec.name
        if name == "BackupResponse":
            self._on_backup_response(d)
        elif name == "SessionEvent" and d.get_int("correlation_id") == self.correlation_id:
            code = d.get_int("code")
            if code in (EventCode.ERROR, EventCode.AUTHENTICATION_REJECTED):
                raise ClusterError(f"{EventCode(code).name}: {d.get_str('detail')}")
            if code == EventCode.REDIRECT:
                self._exclude_current()
                self._set_state(ClusterBackupState.RESET_BACKUP, self.epoch_clock())

    def _on_backup_response(self, d: sbe.Decoded) -> None:
        now_ms = self.epoch_clock()
        member_id = d.get_int("member_id")
        leader_member_id = d.get_int("leader_member_id")
        if member_id in (NULL_VALUE, sbe.PRIMITIVES["int32"][1]):
            self.error_handler(ClusterError("BackupResponse without a memberId: retrying for a compatible node"))
            self._set_state(ClusterBackupState.RESET_BACKUP, now_ms)
            return
        if not self.ctx.source_type.is_acceptable(leader_member_id, member_id):
            self._exclude_current()
            self._set_state(ClusterBackupState.RESET_BACKUP, now_ms)
            return
        if self.log_supplier_member is not None and self.log_supplier_member.id != member_id:
            self._set_state(ClusterBackupState.RESET_BACKUP, now_ms)
            return
        if self.state != ClusterBackupState.BACKUP_QUERY or d.get_int("correlation_id") != self.correlation_id:
            return
        assert self.recording_log is not None
        for s in d.get_group("snapshots"):
            local = self.recording_log.latest_snapshot(s["service_id"])
            if local is not None and local.log_position == s["log_position"]:
                continue
            self.snapshots_to_retrieve.append(Snapshot(
                s["recording_id"], s["leadership_term_id"], s["term_base_log_position"], s["log_position"],
                s["timestamp"], s["service_id"]))
        log_recording_id = d.get_int("log_recording_id")
        if self.log_supplier_member is None or member_id != self.log_supplier_member.id or \
                log_recording_id != self.cluster_log_recording_id:
            self.cluster_log_recording_id = log_recording_id
            self.leader_log_entry = (log_recording_id, d.get_int("log_leadership_term_id"),
                                     d.get_int("log_term_base_log_position"))
        last_term = self.recording_log.find_last_term()
        last_leadership_term_id = d.get_int("last_leadership_term_id")
        if last_term is None or last_leadership_term_id != last_term.leadership_term_id:
            self.leader_last_term_entry = (log_recording_id, last_leadership_term_id,
                                           d.get_int("last_term_base_log_position"))
        self.time_of_last_backup_query_ms = 0
        self.correlation_id = NULL_VALUE
        self.leader_commit_position_counter_id = d.get_int("commit_position_counter_id")
        self.cluster_members = parse_members(d.get_str("cluster_members"), "BackupResponse.clusterMembers")
        supplier = find_member(self.cluster_members, member_id)
        if supplier is None:
            raise ClusterError(f"member {member_id} is not in {d.get_str('cluster_members')}")
        self.log_supplier_member = supplier
        self.events.on_backup_response(self.cluster_members, supplier, list(self.snapshots_to_retrieve))
        if self.cluster_archive is None:
            self.cluster_archive = self._connect_cluster_archive(supplier)
        self.time_of_last_progress_ms = now_ms
        self._set_state(ClusterBackupState.SNAPSHOT_RETRIEVE if self.snapshots_to_retrieve
                        else ClusterBackupState.LIVE_LOG_RECORD, now_ms)

    def _cluster_archive_channel(self, member: ClusterMember) -> str:
        return with_params(self.ctx.cluster_archive_control_channel, endpoint=member.archive_endpoint)

    def _connect_cluster_archive(self, member: ClusterMember) -> Any:
        from aeronpy.archive.client import AeronArchive, AeronArchiveContext

        ctx = self.ctx
        return AeronArchive.connect(AeronArchiveContext(
            aeron_dir=ctx.aeron_dir, aeron=self.aeron, control_channel=self._cluster_archive_channel(member),
            control_stream_id=ctx.cluster_archive_control_stream_id,
            control_response_channel=ctx.cluster_archive_response_channel,
            control_response_stream_id=ctx.archive_response_stream_id + 1,
            client_name=f"cluster-backup-{ctx.cluster_id}-member-{member.id}"))

    # -- states --------------------------------------------------------------------------------

    def _next_publication(self) -> None:
        self._close_publication()
        endpoints = [e for e in self.ctx.consensus_endpoints if e not in self._excluded] or \
            self.ctx.consensus_endpoints
        self._excluded.intersection_update(endpoints)
        self._endpoint_index = (self._endpoint_index + 1) % len(endpoints)
        self._endpoint = endpoints[self._endpoint_index]
        self.publication = self.aeron.add_exclusive_publication(
            f"aeron:udp?endpoint={self._endpoint}", self.ctx.consensus_stream_id)

    def _exclude_current(self) -> None:
        if self.publication is not None:
            self._excluded.add(self._endpoint)
            self._close_publication()

    def _close_publication(self) -> None:
        if self.publication is not None:
            try:
                self.publication.close()
            except Exception:  # noqa: BLE001
                pass
            self.publication = None

    def _backup_query(self, now_ms: int) -> int:
        if self.publication is None or now_ms > self.time_of_last_backup_query_ms + \
                self.ctx.backup_response_timeout_ns // MS:
            self._next_publication()
            self.correlation_id = NULL_VALUE
            self.time_of_last_backup_query_ms = now_ms
            return 1
        if self.correlation_id == NULL_VALUE and self.publication.is_connected:
            correlation_id = self.aeron.next_correlation_id()
            message = sbe.encode(
                T.BackupQuery, correlation_id=correlation_id, response_stream_id=self.ctx.consensus_stream_id,
                version=PROTOCOL_SEMANTIC_VERSION, log_position=(1 << 63) - 1,
                response_channel=self.ctx.consensus_channel, encoded_credentials=b"")
            if self.publication.offer(message) > 0:
                self.time_of_last_backup_query_ms = now_ms
                self.correlation_id = correlation_id
                return 1
        return 0

    def _snapshot_retrieve(self, now_ms: int) -> int:
        work = 0
        assert self.log_supplier_member is not None
        if self.snapshot_replication is None:
            host = self.ctx.catchup_endpoint.rsplit(":", 1)[0]
            self.snapshot_replication = _SnapshotReplication(
                self.backup_archive, self.ctx.cluster_archive_control_stream_id,
                self._cluster_archive_channel(self.log_supplier_member),
                with_params(self.ctx.catchup_channel, endpoint=f"{host}:0"), self.snapshots_to_retrieve)
            work += 1
        work += self.snapshot_replication.poll()
        work += self._slow_tick(now_ms)
        self.time_of_last_progress_ms = now_ms
        if self.snapshot_replication.is_complete:
            self.snapshots_retrieved.extend(self.snapshot_replication.retrieved)
            self.snapshot_replication = None
            self._set_state(ClusterBackupState.LIVE_LOG_RECORD, now_ms)
            work += 1
        return work

    def _live_log_record(self, now_ms: int) -> int:
        from aeronpy.archive.codecs import SourceLocation

        if self.live_log_recording_subscription_id == NULL_VALUE:
            if self.live_log_recording_session_id == NULL_VALUE:
                self.live_log_recording_session_id = random.randint(-(1 << 31), (1 << 31) - 1)
            channel = with_params(self.ctx.catchup_channel, endpoint=self.ctx.catchup_endpoint,
                                  session_id=self.live_log_recording_session_id)
            self.replay_channel = self.recording_channel = channel
            assert self.recording_log is not None
            last = self.recording_log.find_last_term()
            if last is None:
                sub_id = self.backup_archive.start_recording(channel, self.ctx.log_stream_id,
                                                             SourceLocation.REMOTE, auto_stop=True)
            else:
                sub_id = self.backup_archive.extend_recording(last.recording_id, channel, self.ctx.log_stream_id,
                                                              SourceLocation.REMOTE, auto_stop=True)
            self.live_log_recording_subscription_id = sub_id
        self.time_of_last_progress_ms = now_ms
        self._set_state(ClusterBackupState.LIVE_LOG_REPLAY, now_ms)
        return 1

    def _replay_start_position(self) -> int:
        assert self.recording_log is not None
        last = self.recording_log.find_last_term()
        if last is not None:
            return int(self.backup_archive.get_stop_position(last.recording_id))
        if self.ctx.initial_replay_start is ReplayStart.BEGINNING:
            return NULL_POSITION
        position = NULL_POSITION
        for s in self.snapshots_retrieved:
            if s.service_id == CONSENSUS_MODULE_SERVICE_ID and s.log_position > position:
                position = s.log_position
        return position

    def _live_log_replay(self, now_ms: int) -> int:
        if self.live_log_recording_id != NULL_VALUE:
            self.time_of_last_progress_ms = now_ms
            self._set_state(ClusterBackupState.UPDATE_RECORDING_LOG, now_ms)
            return 1
        if self.cluster_archive is None:
            assert self.log_supplier_member is not None
            self.cluster_archive = self._connect_cluster_archive(self.log_supplier_member)
            return 1
        if self.live_log_replay_session_id == NULL_VALUE:
            from aeronpy.archive.client import REPLAY_ALL_AND_FOLLOW

            self.live_log_replay_session_id = int(self.cluster_archive.start_bounded_replay(
                self.cluster_log_recording_id, self.leader_commit_position_counter_id, self.replay_channel,
                self.ctx.log_stream_id, position=self._replay_start_position(), length=REPLAY_ALL_AND_FOLLOW))
            self.time_of_last_progress_ms = now_ms
            return 1
        counter_id = self._find_recording_counter(self.live_log_replay_session_id & 0xFFFFFFFF)
        if counter_id == NULL_VALUE:
            return 0
        from aeronpy.archive.counters import decode_recording_position_key

        reader = self.aeron.counters_reader
        self.live_log_recording_counter_id = counter_id
        self.counters["live_log_position"].set(reader.get_counter_value(counter_id))
        self.live_log_recording_id = decode_recording_position_key(reader.get_counter_key(counter_id))[0]
        self.time_of_last_backup_query_ms = now_ms
        self.time_of_last_progress_ms = now_ms
        self._set_state(ClusterBackupState.UPDATE_RECORDING_LOG, now_ms)
        return 1

    def _find_recording_counter(self, session_id: int) -> int:
        from aeronpy.archive.counters import decode_recording_position_key

        if session_id & 0x80000000:
            session_id -= 1 << 32
        found = [NULL_VALUE]
        archive_id = getattr(self.backup_archive, "archive_id", -1)

        def visit(counter_id: int, type_id: int, key: bytes, label: str) -> None:
            if type_id == _RECORDING_POSITION_TYPE_ID and found[0] == NULL_VALUE:
                _, sid, _, aid = decode_recording_position_key(key)
                if sid == session_id and (archive_id == -1 or aid == archive_id):
                    found[0] = counter_id

        self.aeron.counters_reader.for_each(visit)
        return found[0]

    def _update_recording_log(self, now_ms: int) -> int:
        log = self.recording_log
        assert log is not None
        updated = False
        snapshot_term = self.snapshots_retrieved[0].leadership_term_id if self.snapshots_retrieved else NULL_VALUE
        try:
            entry = self.leader_log_entry
            if entry is not None and log.is_unknown(entry[1]) and entry[1] <= snapshot_term:
                log.append_term(self.live_log_recording_id, entry[1], entry[2], NULL_VALUE)
                updated = True
                self.leader_log_entry = None
            for s in reversed(self.snapshots_retrieved):
                log.append_snapshot(s.recording_id, s.leadership_term_id, s.term_base_log_position, s.log_position,
                                    s.timestamp, s.service_id)
                updated = True
            entry = self.leader_last_term_entry
            if entry is not None and log.is_unknown(entry[1]):
                log.append_term(self.live_log_recording_id, entry[1], entry[2], NULL_VALUE)
                updated = True
                self.leader_last_term_entry = None
        except Exception as e:
            from aeronpy.concurrent.agent import AgentTerminationException

            self.error_handler(e)
            raise AgentTerminationException(f"failed to update the recording log: {e}") from e
        if updated:
            log.force(2)
            if self.snapshots_retrieved:
                self.counters["snapshots_retrieved"].increment()
            self.events.on_updated_recording_log(log, list(self.snapshots_retrieved))
        self.snapshots_retrieved.clear()
        self.snapshots_to_retrieve.clear()
        self.time_of_last_progress_ms = now_ms
        self.counters["next_query_deadline"].set(now_ms + self.ctx.backup_interval_ns // MS)
        self._set_state(ClusterBackupState.BACKING_UP, now_ms)
        return 1

    def _backing_up(self, now_ms: int) -> int:
        work = 0
        if now_ms > self.counters["next_query_deadline"].get():
            self.time_of_last_backup_query_ms = now_ms
            self.time_of_last_progress_ms = now_ms
            self._set_state(ClusterBackupState.BACKUP_QUERY, now_ms)
            work += 1
        counter_id = self.live_log_recording_counter_id
        if counter_id != NULL_VALUE:
            reader = self.aeron.counters_reader
            if reader.get_counter_type_id(counter_id) != _RECORDING_POSITION_TYPE_ID or \
                    reader.get_counter_state(counter_id) != 1:
                self.events.on_possible_failure(ClusterError("log recording counter unexpectedly unavailable"))
                self._set_state(ClusterBackupState.RESET_BACKUP, now_ms)
                return work + 1
            position = reader.get_counter_value(counter_id)
            if self.counters["live_log_position"].propose_max(position):
                self.events.on_live_log_progress(self.live_log_recording_id, counter_id, position)
                work += 1
        return work

    def _reset_backup(self, now_ms: int) -> int:
        self.time_of_last_progress_ms = now_ms
        if self.cool_down_deadline_ms == NULL_VALUE:
            self.cool_down_deadline_ms = now_ms + self.ctx.cool_down_interval_ns // MS
            self._reset()
            return 1
        if now_ms > self.cool_down_deadline_ms:
            self.cool_down_deadline_ms = NULL_VALUE
            self._set_state(ClusterBackupState.BACKUP_QUERY, now_ms)
            return 1
        return 0

    def _reset(self) -> None:
        self.cluster_members = []
        self.log_supplier_member = None
        self.leader_log_entry = None
        self.leader_last_term_entry = None
        self.live_log_recording_counter_id = NULL_VALUE
        self.live_log_recording_id = NULL_VALUE
        self.live_log_recording_session_id = NULL_VALUE
        self.snapshots_to_retrieve.clear()
        self.snapshots_retrieved.clear()
        if self.snapshot_replication is not None:
            self.snapshot_replication.close()
            self.snapshot_replication = None
        if self.live_log_replay_session_id != NULL_VALUE:
            publication = getattr(self.cluster_archive, "publication", None)
            if self.cluster_archive is not None and (publication is None or publication.is_connected):
                # (a member that went away cannot be asked: that would block for its message timeout)
                try:
                    self.cluster_archive.stop_replay(self.live_log_replay_session_id)
                except Exception as e:  # noqa: BLE001 - the member may be gone
                    self.error_handler(ClusterError(f"failed to stop the log replay: {e}"))
            self.live_log_replay_session_id = NULL_VALUE
        if self.live_log_recording_subscription_id != NULL_VALUE:
            try:
                self.backup_archive.stop_recording_subscription(self.live_log_recording_subscription_id)
            except Exception as e:  # noqa: BLE001 - stopped already (auto-stop)
                self.error_handler(ClusterError(f"failed to stop the log recording: {e}"))
            self.live_log_recording_subscription_id = NULL_VALUE
        self._close_publication()
        if self.cluster_archive is not None:
            try:
                self.cluster_archive.close()
            except Exception:  # noqa: BLE001
                pass
            self.cluster_archive = None

    def _set_state(self, new_state: ClusterBackupState, now_ms: int) -> None:
        if new_state == ClusterBackupState.BACKUP_QUERY:
            self.events.on_backup_query()
        counter = self.counters.get("state")
        if counter is not None and not getattr(counter, "is_closed", False):
            try:
                counter.set(int(new_state))
            except Exception:  # noqa: BLE001 - counters gone at close
                pass
        self.state = new_state
        self.correlation_id = NULL_VALUE
