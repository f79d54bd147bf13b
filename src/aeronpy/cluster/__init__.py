"""Aeron Cluster: Raft-replicated state machines (consensus module, service container, client).

Facts: ``shared/spec/cluster.md``.  ``codecs`` declares every message of the cluster schemas
as data (on the shared engine :mod:`aeronpy.protocol.sbe`); ``counters`` holds the counter
type ids and keys a member allocates and a service or tool looks up.
"""

from __future__ import annotations

__all__: list[str] = []
