"""CM -> service containers on the control channel (stream 104, cluster.md §2.5, §4.9)."""

from __future__ import annotations

from typing import Any

from aeronpy.cluster.codecs import T
from aeronpy.cluster.consensus.consensus_publisher import offer_with_retries
from aeronpy.cluster.counters import Role
from aeronpy.cluster.errors import ClusterError
from aeronpy.protocol import sbe

__all__ = ["ServiceProxy"]


class ServiceProxy:
    """JoinLog, ServiceTerminationPosition, RequestServiceAck and members responses."""

    def __init__(self, publication: Any) -> None:
        self.publication = publication

    def _send(self, spec: sbe.MessageSpec, **values: Any) -> bool:
        return offer_with_retries(self.publication, sbe.encode(spec, values), attempts=100)

    def join_log(self, log_position: int, max_log_position: int, member_id: int, log_session_id: int,
                 log_stream_id: int, is_startup: bool, role: Role, log_channel: str) -> None:
        if not self._send(T.JoinLog, log_position=log_position, max_log_position=max_log_position,
                          member_id=member_id, log_session_id=log_session_id, log_stream_id=log_stream_id,
                          is_startup=1 if is_startup else 0, role=int(role), is_standby=0,
                          log_channel=log_channel):
            raise ClusterError("failed to send JoinLog to the services")

    def termination_position(self, log_position: int, ack_required: bool = True) -> bool:
        return self._send(T.ServiceTerminationPosition, log_position=log_position,
                          ack_required=1 if ack_required else 0)

    def request_service_ack(self, log_position: int) -> bool:
        return self._send(T.RequestServiceAck, log_position=log_position)

    def cluster_members_response(self, correlation_id: int, leader_member_id: int, active_members: str) -> bool:
        return self._send(T.ClusterMembersResponse, correlation_id=correlation_id,
                          leader_member_id=leader_member_id, active_members=active_members, passive_followers="")

    def cluster_members_extended_response(self, correlation_id: int, now_ns: int, leader_member_id: int,
                                          member_id: int, active: list[dict[str, Any]]) -> bool:
        return self._send(T.ClusterMembersExtendedResponse, correlation_id=correlation_id, current_time_ns=now_ns,
                          leader_member_id=leader_member_id, member_id=member_id, active_members=active,
                          passive_members=[])
