"""CM -> clients on each session's egress publication (cluster.md §3): SessionEvent,
NewLeaderEvent, Challenge and AdminResponse, each with up to 3 offer attempts."""

from __future__ import annotations

from aeronpy.cluster.codecs import T, EventCode, semantic_version
from aeronpy.cluster.consensus.cluster_session import ClusterSession
from aeronpy.cluster.consensus.consensus_publisher import offer_with_retries
from aeronpy.protocol import sbe

__all__ = ["EgressPublisher", "CLIENT_PROTOCOL_VERSION"]

#: Client <-> CM protocol semantic version 0.3.0.
CLIENT_PROTOCOL_VERSION = semantic_version(0, 3, 0)


class EgressPublisher:
    def send_event(self, session: ClusterSession, leadership_term_id: int, leader_member_id: int,
                   code: EventCode, detail: str, leader_heartbeat_timeout_ns: int) -> bool:
        return offer_with_retries(session.publication, sbe.encode(
            T.SessionEvent, cluster_session_id=session.id, correlation_id=session.correlation_id,
            leadership_term_id=leadership_term_id, leader_member_id=leader_member_id, code=code,
            version=CLIENT_PROTOCOL_VERSION, leader_heartbeat_timeout_ns=leader_heartbeat_timeout_ns,
            detail=detail))

    def new_leader(self, session: ClusterSession, leadership_term_id: int, leader_member_id: int,
                   ingress_endpoints: str) -> bool:
        return offer_with_retries(session.publication, sbe.encode(
            T.NewLeaderEvent, leadership_term_id=leadership_term_id, cluster_session_id=session.id,
            leader_member_id=leader_member_id, ingress_endpoints=ingress_endpoints))

    def send_challenge(self, session: ClusterSession, encoded_challenge: bytes) -> bool:
        return offer_with_retries(session.publication, sbe.encode(
            T.Challenge, correlation_id=session.correlation_id, cluster_session_id=session.id,
            encoded_challenge=encoded_challenge))

    def send_admin_response(self, session: ClusterSession, correlation_id: int, request_type: int,
                            response_code: int, message: str) -> bool:
        return offer_with_retries(session.publication, sbe.encode(
            T.AdminResponse, cluster_session_id=session.id, correlation_id=correlation_id,
            request_type=request_type, response_code=response_code, message=message, payload=b""))
