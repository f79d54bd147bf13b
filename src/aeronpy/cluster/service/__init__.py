"""The clustered service container (cluster.md §5): host a replicated ``ClusteredService``
next to a consensus module that shares its media driver.

* :class:`ClusteredService` — the callbacks to implement;
* :class:`Cluster` / :class:`ClientSession` — what a service sees and sends to;
* :class:`ServiceContainerContext` — settings by Aeron property name (§6.2);
* :class:`ClusteredServiceContainer` — runs one service: ``start()`` (own thread) or ``.agent``
  (for a composite runner), ``close()``.
"""

from __future__ import annotations

from aeronpy.cluster.service.client_session import MOCKED_OFFER, ClientSession
from aeronpy.cluster.service.cluster import Cluster, ClusterIdleStrategy
from aeronpy.cluster.service.clustered_service import ClusteredService
from aeronpy.cluster.service.container import ClusteredServiceContainer
from aeronpy.cluster.service.context import ServiceContainerContext
from aeronpy.cluster.service.errors import ClusterError, ClusterTerminationException
from aeronpy.cluster.service.snapshot_loader import read_snapshot_blob, read_snapshot_message
from aeronpy.cluster.service.snapshot_taker import SnapshotTaker

__all__ = [
    "MOCKED_OFFER",
    "ClientSession",
    "Cluster",
    "ClusterError",
    "ClusterIdleStrategy",
    "ClusterTerminationException",
    "ClusteredService",
    "ClusteredServiceContainer",
    "ServiceContainerContext",
    "SnapshotTaker",
    "read_snapshot_blob",
    "read_snapshot_message",
]
