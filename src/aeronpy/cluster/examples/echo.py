"""``EchoService``: sends every session message back to its session (cluster.md §8's
``TestService``), retrying back-pressure with the cluster's idle strategy.

Deterministic state: how many messages it applied and a running hash of them (``state_hash``,
a chained 64-bit BLAKE2b of session id and payload), which is what it snapshots; equal on every member
that applied the same log."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

from aeronpy.client import results
from aeronpy.cluster.service.client_session import ClientSession
from aeronpy.cluster.service.clustered_service import ClusteredService
from aeronpy.cluster.service.cluster import Cluster
from aeronpy.cluster.service.snapshot_loader import read_snapshot_message
from aeronpy.cluster.service.snapshot_taker import SnapshotTaker

__all__ = ["EchoService", "chain_hash", "INITIAL_HASH"]

INITIAL_HASH = 0
_ID = struct.Struct("<Qq")
_STATE = struct.Struct("<4sqQ")
_MAGIC = b"ECHO"
#: Give up echoing one message after this many back-pressured attempts (the client is gone).
MAX_ECHO_ATTEMPTS = 10_000


def chain_hash(previous: int, session_id: int, payload: bytes) -> int:
    """The next state hash after applying ``payload`` from ``session_id`` (-1: a service message)."""
    h = hashlib.blake2b(_ID.pack(previous, session_id), digest_size=8)
    h.update(payload)
    return int.from_bytes(h.digest(), "little")


class EchoService(ClusteredService):
    """Echo every session message; count and hash what was applied."""

    def __init__(self) -> None:
        self.cluster: Cluster | None = None
        self.message_count = 0
        self.state_hash = INITIAL_HASH
        self.dropped = 0

    def on_start(self, cluster: Cluster, snapshot_image: Any | None) -> None:
        self.cluster = cluster
        if snapshot_image is not None:
            data = read_snapshot_message(snapshot_image, cluster.idle_strategy)
            magic, count, digest = _STATE.unpack(data)
            if magic != _MAGIC:
                raise ValueError(f"not an echo service snapshot: {magic!r}")
            self.message_count, self.state_hash = count, digest

    def on_session_message(self, session: ClientSession | None, timestamp: int, buffer: Any, offset: int,
                           length: int, header: Any) -> None:
        payload = buffer.get_bytes(offset, length)
        self.message_count += 1
        self.state_hash = chain_hash(self.state_hash, -1 if session is None else session.id, payload)
        if session is None or self.cluster is None:
            return
        if session.offer(payload) > 0:
            return
        idle = self.cluster.idle_strategy
        idle.reset()
        for _ in range(MAX_ECHO_ATTEMPTS):
            result = session.offer(payload)
            if result > 0 or result in (results.NOT_CONNECTED, results.CLOSED, results.MAX_POSITION_EXCEEDED):
                return
            idle.idle()
        self.dropped += 1

    def on_take_snapshot(self, snapshot_publication: Any) -> None:
        SnapshotTaker(snapshot_publication, _idle_of(self.cluster)).offer(
            _STATE.pack(_MAGIC, self.message_count, self.state_hash))


def _idle_of(cluster: Cluster | None) -> Any:
    if cluster is None:
        raise RuntimeError("service not started")
    return cluster.idle_strategy
