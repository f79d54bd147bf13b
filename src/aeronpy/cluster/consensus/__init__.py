"""The consensus module (Aeron's ``ConsensusModule``): Raft elections, the replicated log,
client sessions, timers and snapshots of one cluster member (cluster.md §4)."""

from __future__ import annotations

from aeronpy.cluster.consensus.context import ConsensusModuleContext

__all__ = ["ConsensusModuleContext"]
