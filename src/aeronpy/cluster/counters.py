"""Counters of a cluster member (cluster.md §1.5): type ids, keys, labels and lookups.

Most cluster counters are keyed by the cluster id (an i32 at the start of the key), so a
service container or tool finds them by type id and cluster id in the driver's counters."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from aeronpy.concurrent.counters import CountersReader

__all__ = [
    "CONSENSUS_MODULE_STATE_TYPE_ID",
    "NODE_ROLE_TYPE_ID",
    "CONTROL_TOGGLE_TYPE_ID",
    "COMMIT_POSITION_TYPE_ID",
    "RECOVERY_STATE_TYPE_ID",
    "SNAPSHOT_COUNTER_TYPE_ID",
    "ELECTION_STATE_TYPE_ID",
    "CONSENSUS_MODULE_ERROR_COUNT_TYPE_ID",
    "CLIENT_TIMEOUT_COUNT_TYPE_ID",
    "INVALID_REQUEST_COUNT_TYPE_ID",
    "CLUSTERED_SERVICE_ERROR_COUNT_TYPE_ID",
    "MAX_CYCLE_TIME_TYPE_ID",
    "CYCLE_TIME_THRESHOLD_EXCEEDED_TYPE_ID",
    "CLUSTERED_SERVICE_MAX_CYCLE_TIME_TYPE_ID",
    "CLUSTERED_SERVICE_CYCLE_TIME_THRESHOLD_EXCEEDED_TYPE_ID",
    "NODE_CONTROL_TOGGLE_TYPE_ID",
    "TOTAL_MAX_SNAPSHOT_DURATION_TYPE_ID",
    "TOTAL_SNAPSHOT_DURATION_THRESHOLD_EXCEEDED_TYPE_ID",
    "CLUSTERED_SERVICE_MAX_SNAPSHOT_DURATION_TYPE_ID",
    "CLUSTERED_SERVICE_SNAPSHOT_DURATION_THRESHOLD_EXCEEDED_TYPE_ID",
    "ELECTION_COUNT_TYPE_ID",
    "LEADERSHIP_TERM_ID_TYPE_ID",
    "CLUSTER_SESSION_TYPE_ID",
    "ConsensusModuleState",
    "Role",
    "ToggleState",
    "NodeControlToggle",
    "RecoveryState",
    "cluster_key",
    "service_key",
    "cluster_label",
    "service_label",
    "find_counter",
    "find_recovery_state",
]

CONSENSUS_MODULE_STATE_TYPE_ID = 200
NODE_ROLE_TYPE_ID = 201
CONTROL_TOGGLE_TYPE_ID = 202
COMMIT_POSITION_TYPE_ID = 203
RECOVERY_STATE_TYPE_ID = 204
SNAPSHOT_COUNTER_TYPE_ID = 205
ELECTION_STATE_TYPE_ID = 207
CONSENSUS_MODULE_ERROR_COUNT_TYPE_ID = 212
CLIENT_TIMEOUT_COUNT_TYPE_ID = 213
INVALID_REQUEST_COUNT_TYPE_ID = 214
CLUSTERED_SERVICE_ERROR_COUNT_TYPE_ID = 215
MAX_CYCLE_TIME_TYPE_ID = 216
CYCLE_TIME_THRESHOLD_EXCEEDED_TYPE_ID = 217
CLUSTERED_SERVICE_MAX_CYCLE_TIME_TYPE_ID = 218
CLUSTERED_SERVICE_CYCLE_TIME_THRESHOLD_EXCEEDED_TYPE_ID = 219
STANDBY_SNAPSHOT_COUNTER_TYPE_ID = 232
NODE_CONTROL_TOGGLE_TYPE_ID = 233
TOTAL_MAX_SNAPSHOT_DURATION_TYPE_ID = 234
TOTAL_SNAPSHOT_DURATION_THRESHOLD_EXCEEDED_TYPE_ID = 235
CLUSTERED_SERVICE_MAX_SNAPSHOT_DURATION_TYPE_ID = 236
CLUSTERED_SERVICE_SNAPSHOT_DURATION_THRESHOLD_EXCEEDED_TYPE_ID = 237
ELECTION_COUNT_TYPE_ID = 238
LEADERSHIP_TERM_ID_TYPE_ID = 239
CLUSTER_SESSION_TYPE_ID = 241


class ConsensusModuleState(IntEnum):
    """Value of counter 200."""

    INIT = 0
    ACTIVE = 1
    SUSPENDED = 2
    SNAPSHOT = 3
    QUITTING = 4
    TERMINATING = 5
    CLOSED = 6


class Role(IntEnum):
    """Value of counter 201 and ``JoinLog.role``."""

    FOLLOWER = 0
    CANDIDATE = 1
    LEADER = 2


class ToggleState(IntEnum):
    """Value of the cluster control toggle, counter 202 (cluster.md §7)."""

    INACTIVE = 0
    NEUTRAL = 1
    SUSPEND = 2
    RESUME = 3
    SNAPSHOT = 4
    SHUTDOWN = 5
    ABORT = 6
    STANDBY_SNAPSHOT = 7


class NodeControlToggle(IntEnum):
    """Value of the node control toggle, counter 233."""

    INACTIVE = 0
    NEUTRAL = 1
    REPLICATE_STANDBY_SNAPSHOT = 2
    VALIDATE_RECORDING_LOG = 3


def cluster_key(cluster_id: int) -> bytes:
    return struct.pack("<i", cluster_id)


def service_key(cluster_id: int, service_id: int) -> bytes:
    return struct.pack("<ii", cluster_id, service_id)


def cluster_label(name: str, cluster_id: int) -> str:
    return f"{name} - clusterId={cluster_id}"


def service_label(name: str, cluster_id: int, service_id: int) -> str:
    return f"{name} - clusterId={cluster_id} serviceId={service_id}"


def find_counter(reader: CountersReader, type_id: int, cluster_id: int, service_id: int | None = None) -> int:
    """Id of the allocated counter of ``type_id`` for ``cluster_id`` (and ``service_id``), or -1."""
    found = -1

    def visit(counter_id: int, tid: int, key: bytes, label: str) -> None:
        nonlocal found
        if found >= 0 or tid != type_id or len(key) < 4:
            return
        if struct.unpack_from("<i", key, 0)[0] != cluster_id:
            return
        if service_id is not None and (len(key) < 8 or struct.unpack_from("<i", key, 4)[0] != service_id):
            return
        found = counter_id

    reader.for_each(visit)
    return found


_RECOVERY_HEAD = struct.Struct("<qqqii")


@dataclass(frozen=True)
class RecoveryState:
    """Key of counter 204: what a restarting member recovered from (cluster.md §1.5, §4.13)."""

    leadership_term_id: int
    log_position: int
    timestamp: int
    cluster_id: int
    snapshot_recording_ids: tuple[int, ...]  # per service id

    def key(self) -> bytes:
        head = _RECOVERY_HEAD.pack(
            self.leadership_term_id, self.log_position, self.timestamp, self.cluster_id,
            len(self.snapshot_recording_ids),
        )
        return head + b"".join(struct.pack("<q", r) for r in self.snapshot_recording_ids)

    def label(self) -> str:
        return (
            f"Cluster recovery: leadershipTermId={self.leadership_term_id} "
            f"logPosition={self.log_position} clusterId={self.cluster_id}"
        )

    @classmethod
    def from_key(cls, key: bytes) -> RecoveryState:
        if len(key) < _RECOVERY_HEAD.size:
            raise ValueError(f"recovery state key of {len(key)} bytes is too short")
        term, pos, ts, cid, count = _RECOVERY_HEAD.unpack_from(key, 0)
        count = max(0, min(count, (len(key) - _RECOVERY_HEAD.size) // 8))
        ids = struct.unpack_from(f"<{count}q", key, _RECOVERY_HEAD.size) if count else ()
        return cls(term, pos, ts, cid, tuple(ids))


def find_recovery_state(reader: CountersReader, cluster_id: int) -> int:
    """Id of the RecoveryState counter of ``cluster_id`` (its key holds the cluster id after
    the three i64 fields, not first), or -1."""
    found = -1
    offset = _RECOVERY_HEAD.size - 8  # clusterId i32 follows leadershipTermId, logPosition, timestamp

    def visit(counter_id: int, tid: int, key: bytes, label: str) -> None:
        nonlocal found
        if found < 0 and tid == RECOVERY_STATE_TYPE_ID and len(key) >= offset + 4:
            if struct.unpack_from("<i", key, offset)[0] == cluster_id:
                found = counter_id

    reader.for_each(visit)
    return found
