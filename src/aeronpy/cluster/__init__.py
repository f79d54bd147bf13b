"""Aeron Cluster: Raft-replicated state machines (consensus module, service container, client).

Facts: ``shared/spec/cluster.md``.  ``codecs`` declares every message of the cluster schemas
as data (on the shared engine :mod:`aeronpy.protocol.sbe`); ``counters`` holds the counter
type ids and keys a member allocates and a service or tool looks up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aeronpy.cluster.client import AeronCluster, ClusterClientContext

__all__: list[str] = ["AeronCluster", "ClusterClientContext"]

_CLIENT_NAMES = frozenset({"AeronCluster", "ClusterClientContext"})


def __getattr__(name: str) -> Any:
    # The client's entry points, loaded on first use (the codecs stay light to import).
    if name in _CLIENT_NAMES:
        from aeronpy.cluster import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
