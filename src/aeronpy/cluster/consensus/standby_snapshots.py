"""StandbySnapshot notifications (template 81, cluster.md §4.17): a standby announces snapshots it
took of this cluster in its own archive.  With ``aeron.cluster.accept.standby.snapshots=true``
(and the authorisation service allowing template 81) the consensus module queues the entries;
once the commit position reaches their log position (plus the optional
``aeron.cluster.standby.snapshot.notification.processing.delay``) it appends them to
``recording.log`` as STANDBY_SNAPSHOT entries, each with the standby's archive endpoint, and
bumps the "Cluster standby snapshots received" counter (type 232).  Otherwise the standby gets a
SessionEvent on its response channel: ERROR "Not configured to accept StandbySnapshot" or
AUTHENTICATION_REJECTED "Not authorised for StandbySnapshot" (Aeron's texts)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from aeronpy.cluster.recording_log import MAX_ENDPOINT_LENGTH

__all__ = ["StandbySnapshotEntry", "StandbySnapshotNotifications", "STANDBY_SNAPSHOT_TEMPLATE_ID",
           "NOT_ACCEPTED", "NOT_AUTHORISED"]

STANDBY_SNAPSHOT_TEMPLATE_ID = 81
NOT_ACCEPTED = "Not configured to accept StandbySnapshot"
NOT_AUTHORISED = "Not authorised for StandbySnapshot"


@dataclass(frozen=True)
class StandbySnapshotEntry:
    """One snapshot of a StandbySnapshot's ``snapshots`` group."""

    recording_id: int
    leadership_term_id: int
    term_base_log_position: int
    log_position: int
    timestamp: int
    service_id: int
    archive_endpoint: str

    @classmethod
    def from_group(cls, row: dict[str, Any]) -> StandbySnapshotEntry:
        """An entry from a decoded group row; ValueError naming what is wrong."""
        endpoint = row.get("archive_endpoint") or ""
        if not endpoint or len(endpoint) > MAX_ENDPOINT_LENGTH or not endpoint.isascii():
            raise ValueError(f"archive_endpoint={endpoint[:64]!r}: must be 1..{MAX_ENDPOINT_LENGTH} ASCII characters")
        service_id = int(row["service_id"])
        if service_id < -1:
            raise ValueError(f"service_id={service_id}: must be >= -1")
        return cls(int(row["recording_id"]), int(row["leadership_term_id"]), int(row["term_base_log_position"]),
                   int(row["log_position"]), int(row["timestamp"]), service_id, endpoint)


class StandbySnapshotNotifications:
    """Accepted notifications waiting for their log position to be committed (and the delay)."""

    def __init__(self, recording_log: Any, delay_ns: int, file_sync_level: int = 0) -> None:
        self.recording_log = recording_log
        self.delay_ns = delay_ns
        self.file_sync_level = file_sync_level
        self.pending: list[list[StandbySnapshotEntry]] = []
        self.delayed: deque[tuple[int, list[StandbySnapshotEntry]]] = deque()
        self.appended = 0

    def add(self, entries: list[StandbySnapshotEntry]) -> None:
        if entries:
            self.pending.append(entries)

    def process(self, commit_position: int, now_ns: int) -> int:
        """Append what is committed (and due); returns the notifications appended or delayed."""
        work = 0
        for entries in list(self.pending):
            if entries[0].log_position > commit_position:
                continue
            self.pending.remove(entries)
            if self.delay_ns > 0:
                self.delayed.append((now_ns + self.delay_ns, entries))
            else:
                self._append(entries)
            work += 1
        while self.delayed and now_ns >= self.delayed[0][0]:
            self._append(self.delayed.popleft()[1])
            work += 1
        return work

    def _append(self, entries: list[StandbySnapshotEntry]) -> None:
        for e in entries:
            self.recording_log.append_standby_snapshot(
                e.recording_id, e.leadership_term_id, e.term_base_log_position, e.log_position, e.timestamp,
                e.service_id, e.archive_endpoint)
        self.recording_log.force()
        self.appended += 1


def snapshots_to_replicate(recording_log: Any, service_count: int) -> list[tuple[str, int, list[Any]]]:
    """``(archive endpoint, log position, entries)`` of the standby snapshot sets newer than the
    member's own snapshots, highest position first, then by endpoint (as Aeron's
    ``StandbySnapshotReplicator``): an entry no newer than the member's latest snapshot of its
    service is dropped, an endpoint left with nothing is skipped."""
    found = []
    for endpoint, entries in recording_log.latest_standby_snapshots(service_count).items():
        newer = []
        for e in entries:
            own = recording_log.latest_snapshot(e.service_id)
            if own is None or e.log_position > own.log_position:
                newer.append(e)
        if newer:
            found.append((endpoint, newer[0].log_position, newer))
    found.sort(key=lambda t: (-t[1], t[0]))
    return found


class StandbySnapshotReplicator:
    """Replicates the newest standby snapshot set into the local archive (at start-up, and on
    the REPLICATE_STANDBY_SNAPSHOT node control toggle) and appends it to recording.log as a
    regular SNAPSHOT set, so recovery uses it; tries the next endpoint when one fails."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.candidates = snapshots_to_replicate(agent.recording_log, agent.ctx.service_count)
        self.errors_by_endpoint: dict[str, str] = {}
        self.is_complete = not self.candidates
        self._current: tuple[str, int, list[Any]] | None = None
        self._queue: list[Any] = []
        self._replication_id = -1
        self._done_ids: list[int] = []
        self._dst_recording_id = -1
        self._ended = False
        self._deadline_ns = 0

    def _start_next_recording(self) -> None:
        assert self._current is not None
        ctx = self.agent.ctx
        from aeronpy.cluster.consensus.channels import with_params

        entry = self._queue[len(self._done_ids)]
        src = with_params(ctx.leader_archive_control_channel, endpoint=self._current[0])
        self._dst_recording_id, self._ended = -1, False
        self._replication_id = int(self.agent.archive.replicate(
            entry.recording_id, -1, ctx.archive_control_stream_id, src, replication_channel=ctx.replication_channel))

    def on_signal(self, signal: Any) -> None:
        if self._current is None or signal.correlation_id != self._replication_id:
            return
        if signal.recording_id != -1:
            self._dst_recording_id = int(signal.recording_id)
        if signal.signal.name in ("REPLICATE_END", "SYNC"):
            self._ended = True

    def _fail(self, reason: str) -> None:
        assert self._current is not None
        self.errors_by_endpoint[self._current[0]] = reason
        try:
            self.agent.archive.stop_replication(self._replication_id)
        except Exception:  # noqa: BLE001 - it may have ended
            pass
        self._current = None

    def poll(self, now_ns: int) -> int:
        """One step; raises ClusterError when every candidate failed."""
        from aeronpy.cluster.errors import ClusterError

        if self.is_complete:
            return 0
        if self._current is None:
            if not self.candidates:
                self.is_complete = True
                raise ClusterError(f"failed to replicate any standby snapshots, errors: {self.errors_by_endpoint}")
            self._current = self.candidates.pop(0)
            self._queue, self._done_ids = list(self._current[2]), []
            self._deadline_ns = now_ns + self.agent.ctx.replication_progress_timeout_ns * max(1, len(self._queue))
            try:
                self._start_next_recording()
            except Exception as e:  # noqa: BLE001 - an unreachable archive: the next endpoint
                self._fail(str(e))
            return 1
        if now_ns > self._deadline_ns:
            self._fail("replication timed out")
            return 1
        if not (self._ended and self._dst_recording_id != -1):
            return 0
        self._done_ids.append(self._dst_recording_id)
        if len(self._done_ids) < len(self._queue):
            try:
                self._start_next_recording()
            except Exception as e:  # noqa: BLE001
                self._fail(str(e))
            return 1
        log = self.agent.recording_log
        for entry, dst in zip(self._queue, self._done_ids):
            log.append_snapshot(dst, entry.leadership_term_id, entry.term_base_log_position, entry.log_position,
                                entry.timestamp, entry.service_id)
        log.force()
        self.agent.counters["snapshots"].increment()
        self._current = None
        self.is_complete = True
        return 1
