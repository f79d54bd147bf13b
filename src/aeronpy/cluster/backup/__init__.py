"""ClusterBackup (cluster.md §4.17): a non-voting copy of a cluster's snapshots and live log."""

from aeronpy.cluster.backup.agent import ClusterBackupAgent, ClusterBackupState
from aeronpy.cluster.backup.cluster_backup import ClusterBackup
from aeronpy.cluster.backup.context import ClusterBackupContext, ReplayStart, SourceType
from aeronpy.cluster.backup.events import ClusterBackupEventsListener

__all__ = ["ClusterBackup", "ClusterBackupAgent", "ClusterBackupContext", "ClusterBackupEventsListener",
           "ClusterBackupState", "ReplayStart", "SourceType"]
