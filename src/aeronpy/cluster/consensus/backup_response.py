"""The consensus module's answer to a ClusterBackup's BackupQuery (cluster.md §2.6, §4.17):
the last TERM entry of ``recording.log``, the commit-pos counter id (the backup bounds its live
log replay by it), the leader's and this member's ids, the snapshot set at or before the queried
log position (or the lowest one) and the members string."""

from __future__ import annotations

from typing import Any

from aeronpy.cluster.client.context import PROTOCOL_SEMANTIC_VERSION
from aeronpy.cluster.codecs import CLUSTER_SCHEMA, EventCode, T
from aeronpy.cluster.members import members_string
from aeronpy.protocol import sbe

__all__ = ["backup_response"]

_NULL_I64 = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def _major(version: int) -> int:
    return (version >> 16) & 0xFF


def backup_response(agent: Any, query: sbe.Decoded) -> bytes | None:
    """The encoded BackupResponse for ``query``, or None when there is no log to back up yet;
    a SessionEvent AUTHENTICATION_REJECTED when the CM's ``authorisation_service`` (if any)
    refuses BackupQuery (template 77).

    A query whose protocol major version differs from this cluster's is a ValueError (the
    caller counts it as an invalid request)."""
    version = query.get_int("version")
    if _major(version) != _major(PROTOCOL_SEMANTIC_VERSION):
        raise ValueError(f"BackupQuery protocol version {version:#x} is not compatible with "
                         f"{PROTOCOL_SEMANTIC_VERSION:#x}")
    authorised = agent.ctx.authorisation_service
    if authorised is not None and not authorised(CLUSTER_SCHEMA.schema_id, T.BackupQuery.template_id, 0, b""):
        leader = agent.leader_member
        return sbe.encode(  # as Aeron: the backup resets and tries again after its cool-down
            T.SessionEvent, cluster_session_id=-1, correlation_id=query.get_int("correlation_id"),
            leadership_term_id=agent.leadership_term_id, leader_member_id=leader.id if leader is not None else -1,
            code=EventCode.AUTHENTICATION_REJECTED, version=PROTOCOL_SEMANTIC_VERSION,
            detail="Not authorised for BackupQuery")
    recording_log = agent.recording_log
    last = recording_log.find_last_term()
    if last is None:
        return None
    log_position = query.get_int("log_position")
    if log_position == _NULL_I64:
        log_position = _INT64_MAX
    snapshots = recording_log.find_snapshot_at_or_before_or_lowest(log_position, agent.ctx.service_count) or []
    leader = agent.leader_member
    return sbe.encode(
        T.BackupResponse,
        correlation_id=query.get_int("correlation_id"),
        log_recording_id=last.recording_id,
        log_leadership_term_id=last.leadership_term_id,
        log_term_base_log_position=last.term_base_log_position,
        last_leadership_term_id=last.leadership_term_id,
        last_term_base_log_position=last.term_base_log_position,
        commit_position_counter_id=agent.counters["commit"].id,
        leader_member_id=leader.id if leader is not None else -1,
        member_id=agent.member_id,
        snapshots=[{
            "recording_id": s.recording_id, "leadership_term_id": s.leadership_term_id,
            "term_base_log_position": s.term_base_log_position, "log_position": s.log_position,
            "timestamp": s.timestamp, "service_id": s.service_id,
        } for s in snapshots],
        cluster_members=members_string(agent.members),
    )
