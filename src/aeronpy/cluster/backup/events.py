"""``ClusterBackupEventsListener``: what a ClusterBackup reports as it works (Aeron's
ClusterBackupEventsListener); every callback does nothing by default."""

from __future__ import annotations

from typing import Any

__all__ = ["ClusterBackupEventsListener"]


class ClusterBackupEventsListener:
    """Override the callbacks you need; they run on the backup's agent thread."""

    def on_backup_query(self) -> None:
        """A BackupQuery is about to be sent."""

    def on_possible_failure(self, error: BaseException) -> None:
        """Something failed; the backup resets and queries again after its cool-down."""

    def on_backup_response(self, cluster_members: list[Any], log_source_member: Any, snapshots: list[Any]) -> None:
        """A BackupResponse arrived: the members, the member supplying the log, the snapshots to fetch."""

    def on_updated_recording_log(self, recording_log: Any, snapshots_retrieved: list[Any]) -> None:
        """``recording.log`` now holds new TERM and/or SNAPSHOT entries."""

    def on_live_log_progress(self, recording_id: int, recording_pos_id: int, position: int) -> None:
        """The local live log recording advanced to ``position``."""
