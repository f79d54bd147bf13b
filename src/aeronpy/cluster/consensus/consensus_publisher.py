"""Consensus messages to other members (stream 108, cluster.md §2.6): one method per template,
each encoding with the schema tables and offering to the member's exclusive publication."""

from __future__ import annotations

from typing import Any

from aeronpy.cluster.codecs import T, semantic_version
from aeronpy.cluster.members import ClusterMember
from aeronpy.protocol import sbe

__all__ = ["ConsensusPublisher", "PROTOCOL_VERSION", "offer_with_retries"]

#: CM <-> CM protocol semantic version (1.0.0), sent in CanvassPosition and RequestVote.
PROTOCOL_VERSION = semantic_version(1, 0, 0)
SEND_ATTEMPTS = 3


def offer_with_retries(publication: Any, message: bytes, attempts: int = SEND_ATTEMPTS) -> bool:
    """Offer ``message`` up to ``attempts`` times; False when the publication is absent or refuses."""
    if publication is None:
        return False
    for _ in range(attempts):
        try:
            if publication.offer(message) > 0:
                return True
        except Exception:  # noqa: BLE001 - a closed publication is a failed send
            return False
    return False


class ConsensusPublisher:
    """Implements the election's ``ConsensusSender`` and the CM's other consensus sends."""

    def _send(self, member: ClusterMember, spec: sbe.MessageSpec, **values: Any) -> bool:
        return offer_with_retries(member.publication, sbe.encode(spec, values))

    def canvass_position(self, member: ClusterMember, log_leadership_term_id: int, log_position: int,
                         leadership_term_id: int, follower_member_id: int) -> bool:
        return self._send(member, T.CanvassPosition, log_leadership_term_id=log_leadership_term_id,
                          log_position=log_position, leadership_term_id=leadership_term_id,
                          follower_member_id=follower_member_id, protocol_version=PROTOCOL_VERSION)

    def request_vote(self, member: ClusterMember, log_leadership_term_id: int, log_position: int,
                     candidate_term_id: int, candidate_member_id: int) -> bool:
        return self._send(member, T.RequestVote, log_leadership_term_id=log_leadership_term_id,
                          log_position=log_position, candidate_term_id=candidate_term_id,
                          candidate_member_id=candidate_member_id, protocol_version=PROTOCOL_VERSION)

    def place_vote(self, member: ClusterMember, candidate_term_id: int, log_leadership_term_id: int,
                   log_position: int, candidate_member_id: int, follower_member_id: int, vote: bool) -> bool:
        return self._send(member, T.Vote, candidate_term_id=candidate_term_id,
                          log_leadership_term_id=log_leadership_term_id, log_position=log_position,
                          candidate_member_id=candidate_member_id, follower_member_id=follower_member_id,
                          vote=1 if vote else 0)

    def new_leadership_term(self, member: ClusterMember, **fields: int) -> bool:
        return self._send(member, T.NewLeadershipTerm, **fields)

    def append_position(self, member: ClusterMember, leadership_term_id: int, log_position: int,
                        follower_member_id: int, flags: int) -> bool:
        return self._send(member, T.AppendPosition, leadership_term_id=leadership_term_id,
                          log_position=log_position, follower_member_id=follower_member_id, flags=flags)

    def catchup_position(self, member: ClusterMember, leadership_term_id: int, log_position: int,
                         follower_member_id: int, catchup_endpoint: str) -> bool:
        return self._send(member, T.CatchupPosition, leadership_term_id=leadership_term_id,
                          log_position=log_position, follower_member_id=follower_member_id,
                          catchup_endpoint=catchup_endpoint)

    def commit_position(self, member: ClusterMember, leadership_term_id: int, log_position: int,
                        leader_member_id: int) -> bool:
        return self._send(member, T.CommitPosition, leadership_term_id=leadership_term_id,
                          log_position=log_position, leader_member_id=leader_member_id)

    def stop_catchup(self, member: ClusterMember, leadership_term_id: int, follower_member_id: int) -> bool:
        return self._send(member, T.StopCatchup, leadership_term_id=leadership_term_id,
                          follower_member_id=follower_member_id)

    def termination_position(self, member: ClusterMember, leadership_term_id: int, log_position: int) -> bool:
        return self._send(member, T.TerminationPosition, leadership_term_id=leadership_term_id,
                          log_position=log_position)

    def termination_ack(self, member: ClusterMember, leadership_term_id: int, log_position: int,
                        member_id: int) -> bool:
        return self._send(member, T.TerminationAck, leadership_term_id=leadership_term_id,
                          log_position=log_position, member_id=member_id)
