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
