"""Messages services offer into the log (``Cluster.offer``, cluster.md §4.11).

Each member's tracker gives each queued message the next service session id
``(serviceId << 56) | 0x8000_0000_0000_0000 | seq`` (negative); the leader appends them, and every
member drops queued messages once the log shows their id was appended."""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable

__all__ = ["PendingServiceMessageTracker", "service_id_from_session_id", "service_session_id"]

_SIGN = 1 << 63
_HEADER = struct.Struct("<qqq")  # leadershipTermId, clusterSessionId, timestamp at offset 8
MAX_I64 = (1 << 63) - 1


def _to_i64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v & _SIGN else v


def service_session_id(service_id: int, seq: int) -> int:
    return _to_i64((service_id << 56) | _SIGN | seq)


def service_id_from_session_id(cluster_session_id: int) -> int:
    return (cluster_session_id >> 56) & 0x7F


class PendingServiceMessageTracker:
    """One service's queue of messages waiting to be appended to the log."""

    def __init__(self, service_id: int) -> None:
        self.service_id = service_id
        self.next_service_session_id = service_session_id(service_id, 1)
        self.log_service_session_id = service_session_id(service_id, 0)
        self.pending: deque[bytearray] = deque()  # whole messages (session header + payload)

    def enqueue(self, message: bytes) -> None:
        """Queue a message from the service; its header gets the next service session id."""
        buf = bytearray(message)
        struct.pack_into("<qq", buf, 16, self.next_service_session_id, MAX_I64)
        self.next_service_session_id += 1
        self.pending.append(buf)

    def poll(self, append: Callable[[bytearray], int], limit: int = 20) -> int:
        """Leader: append queued messages after the last appended one (they stay queued, with
        their append position in the timestamp field, until committed)."""
        count = 0
        for buf in self.pending:
            if count >= limit:
                break
            sid = struct.unpack_from("<q", buf, 16)[0]
            if sid <= self.log_service_session_id:
                continue
            position = append(buf)
            if position <= 0:
                break
            self.log_service_session_id = sid
            struct.pack_into("<q", buf, 24, position)
            count += 1
        return count

    def sweep_leader_messages(self, commit_position: int) -> None:
        """Drop appended messages at or below the commit position."""
        while self.pending:
            buf = self.pending[0]
            position = struct.unpack_from("<q", buf, 24)[0]
            if position == MAX_I64 or position > commit_position:
                break
            self.pending.popleft()

    def sweep_follower_messages(self, cluster_session_id: int) -> None:
        """A service message seen in the log: everything up to its id was appended."""
        self.log_service_session_id = max(self.log_service_session_id, cluster_session_id)
        while self.pending and struct.unpack_from("<q", self.pending[0], 16)[0] <= cluster_session_id:
            self.pending.popleft()

    def restore_uncommitted(self) -> None:
        """After losing leadership: appended but uncommitted messages are to be appended again."""
        for buf in self.pending:
            sid = struct.unpack_from("<q", buf, 16)[0]
            if struct.unpack_from("<q", buf, 24)[0] != MAX_I64:
                struct.pack_into("<q", buf, 24, MAX_I64)
                self.log_service_session_id = min(self.log_service_session_id, sid - 1)

    def load(self, next_service_session_id: int, log_service_session_id: int) -> None:
        self.next_service_session_id = next_service_session_id
        self.log_service_session_id = log_service_session_id
